#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# One link of one node down: that link DOWN and the node DEGRADED on the
# others, its other links staying UP; link back: UP again after the rise
# hysteresis; then every link down: node DOWN; heal: UP.
. "$(dirname "$0")/lib.sh"

sb_up --nodes 3 --profile fast
it_wait_all_up

m1=$(sb_log_lines n1) m3=$(sb_log_lines n3)
sb link-down n2 cluster
sb_wait_log n1 'node n2: up -> degraded \(down: cluster; up: management migration\)' 10 "$m1" ||
	sb_fail "n1 did not see n2 degraded with only its cluster link down"
sb_wait_log n3 'node n2: up -> degraded' 10 "$m3" || sb_fail "n3 did not see n2 degraded"
it_assert_no n1 'link n2/(management|migration): [a-z]+ -> down' "$m1" "n2's other links went down"
it_assert_no n1 'link n3/' "$m1" "n3's links changed state"

m1=$(sb_log_lines n1)
sb link-up n2 cluster
sb_wait_log n1 'link n2/cluster: down -> up' 10 "$m1" || sb_fail "n2/cluster did not come back up"
sb_wait_log n1 'node n2: degraded -> up' 10 "$m1" || sb_fail "n2 did not return to up"

m1=$(sb_log_lines n1)
for net in management cluster migration; do sb link-down n2 $net; done
sb_wait_log n1 'node n2: [a-z]+ -> down' 10 "$m1" || sb_fail "n2 with every link down is not down"
m1=$(sb_log_lines n1)
sb heal n2
sb_wait_log n1 'node n2: [a-z]+ -> up' 10 "$m1" || sb_fail "n2 not up after heal"
echo "link down: DEGRADED; link up: UP; all down: DOWN; heal: UP"
