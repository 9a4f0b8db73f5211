#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Partition 1 | 2,3: the single node is not quorate and declares nobody
# FAILED; the pair is quorate and shows n1 FAILED; heal: all ONLINE again
# with one coordinator. Quorum agrees with corosync-quorumtool throughout.
. "$(dirname "$0")/lib.sh"
sb_require_cmd jq corosync corosync-quorumtool

sb_up --nodes 3 --profile fast
for n in n1 n2 n3; do it_wait_json $n nodes .coordinator 1 20 || sb_fail "$n not settled"; done

sb partition 1 2,3
it_wait_json n1 quorum .quorate false 15 || sb_fail "n1 alone is still quorate"
it_quorum_agrees n1
for n in n2 n3; do
	it_wait_json $n nodes '.nodes[] | select(.name == "n1") | .state' '"failed"' 15 ||
		sb_fail "$n does not show n1 failed"
	it_wait_json $n nodes .coordinator 2 5 || sb_fail "$n: coordinator is not n2"
	it_quorum_agrees $n
done
states=$(it_json n1 nodes '[.nodes[].state] | join(",")')
[[ $states != *failed* ]] || sb_fail "the minority declared a node failed: $states"
[ "$(it_json n1 nodes .coordinator)" = null ] || sb_fail "the minority has a coordinator"
echo "partitioned: n1 sees $states, not quorate; n2/n3 quorate with n1 failed"

sb heal
for n in n1 n2 n3; do
	it_wait_json $n nodes '[.nodes[].state] | join(",")' '"online,online,online"' 30 ||
		sb_fail "$n not all online after heal"
	it_wait_json $n nodes .coordinator 1 5 || sb_fail "$n: coordinator is not n1 after heal"
	it_quorum_agrees $n
done
echo "healed: all online, coordinator n1 everywhere"
