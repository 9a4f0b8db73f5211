#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Membership through real corosync: 3 nodes all ONLINE, quorate, one
# coordinator everywhere; kill -9 every process of n3 -> FAILED on the
# others, still quorate; back -> ONLINE; kill the coordinator -> the same new
# coordinator on both survivors. `clusterctl quorum --json` agrees with
# corosync-quorumtool at every step.
. "$(dirname "$0")/lib.sh"
sb_require_cmd jq corosync corosync-quorumtool

sb_up --nodes 3 --profile fast
for n in n1 n2 n3; do
	for m in n1 n2 n3; do
		it_wait_json $n nodes ".nodes[] | select(.name == \"$m\") | .state" '"online"' 20 ||
			sb_fail "$n does not show $m online"
	done
	it_wait_json $n nodes .coordinator 1 5 || sb_fail "$n: coordinator is not n1"
	it_wait_json $n quorum .quorate true 5 || sb_fail "$n not quorate"
	it_quorum_agrees $n
done

sb kill n3
for n in n1 n2; do
	it_wait_json $n nodes '.nodes[] | select(.name == "n3") | .state' '"failed"' 15 ||
		sb_fail "$n does not show n3 failed"
	it_wait_json $n quorum .quorate true 5 || sb_fail "$n lost quorum with 2 of 3"
	it_quorum_agrees $n
done
sb start n3
for n in n1 n2 n3; do
	it_wait_json $n nodes '.nodes[] | select(.name == "n3") | .state' '"online"' 30 ||
		sb_fail "$n does not show n3 back online"
	it_quorum_agrees $n
done

sb kill n1
for n in n2 n3; do
	it_wait_json $n nodes .coordinator 2 15 || sb_fail "$n: the coordinator did not move to n2"
	it_wait_json $n nodes '.nodes[] | select(.name == "n1") | .state' '"failed"' 5 ||
		sb_fail "$n does not show n1 failed"
	it_quorum_agrees $n
done
echo "3 ONLINE; n3 killed: FAILED, quorate; back: ONLINE; coordinator killed: n2 on both"
