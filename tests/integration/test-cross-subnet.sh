#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# With the last node's cluster address in another subnet behind a router, its
# cluster links are classified cross-subnet and use the cross-subnet
# threshold (fast profile: 100 ms x 10, vs 100 ms x 5 same-subnet), while
# the other networks and node pairs stay same-subnet.
. "$(dirname "$0")/lib.sh"

sb_up --nodes 3 --profile fast --cross-subnet
it_wait_all_up

sb_grep_log n1 'heartbeat: link n3/cluster: .*cross-subnet, every 100 ms, down after 10 missed' >/dev/null ||
	sb_fail "n1 does not classify n3/cluster as cross-subnet with threshold 10"
sb_grep_log n1 'heartbeat: link n2/cluster: .*same-subnet, every 100 ms, down after 5 missed' >/dev/null ||
	sb_fail "n1 does not classify n2/cluster as same-subnet with threshold 5"
sb_grep_log n1 'heartbeat: link n3/migration: .*same-subnet' >/dev/null ||
	sb_fail "n3/migration should be same-subnet"
sb_grep_log n3 'heartbeat: link n1/cluster: .*cross-subnet' >/dev/null ||
	sb_fail "n3 does not see n1/cluster as cross-subnet"

m1=$(sb_log_lines n1)
sb link-down n3 cluster
sb_wait_log n1 'link n3/cluster: [a-z]+ -> down' 10 "$m1" || sb_fail "n3/cluster never went down"
line=$(sb_grep_log n1 'link n3/cluster: [a-z]+ -> down' "$m1")
grep -q 'cross-subnet, threshold 10 x 100 ms' <<<"$line" || sb_fail "wrong threshold used: $line"
silent=$(sed -n 's/.*silent \([0-9]*\) ms.*/\1/p' <<<"$line")
[ "$silent" -ge 1050 ] || sb_fail "cross-subnet link declared down after $silent ms < 10 x 100 + 50"
echo "cross-subnet link down after $silent ms of silence (threshold 10 x 100 ms)"
