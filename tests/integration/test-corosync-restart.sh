#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# corosync stops under a running clusterd: it keeps running and
# heartbeating, says corosync is not connected and judges nobody; corosync
# back: it reconnects by itself and the state is whole again.
. "$(dirname "$0")/lib.sh"
sb_require_cmd jq corosync corosync-quorumtool

sb_up --nodes 3 --profile fast
it_wait_json n2 nodes '[.nodes[].state] | join(",")' '"online,online,online"' 20 || sb_fail "not settled"
pid=$(sb pid n2 clusterd)
mark=$(sb_log_lines n2)
sb stop n2 corosync
it_wait_json n2 quorum .corosync '"not connected"' 15 || sb_fail "n2 did not notice corosync is gone"
sb_wait_log n2 'corosync: not connected' 5 "$mark" || sb_fail "no 'not connected' log line"
states=$(it_json n2 nodes '[.nodes[].state] | join(",")')
[ "$states" = '"unknown,unknown,unknown"' ] || sb_fail "n2 judges nodes without corosync: $states"
[ "$(sb pid n2 clusterd)" = "$pid" ] || sb_fail "clusterd on n2 restarted or died"
it_ctl n2 --json links | jq -e '.links | length > 0' >/dev/null || sb_fail "n2 stopped heartbeating"
sb start n2 corosync
it_wait_json n2 quorum .corosync '"connected"' 30 || sb_fail "n2 did not reconnect"
for n in n1 n2 n3; do
	it_wait_json $n nodes '[.nodes[].state] | join(",")' '"online,online,online"' 30 ||
		sb_fail "$n: state not whole after corosync restart"
	it_quorum_agrees $n
done
sb_wait_log n2 'corosync: connected' 1 "$mark" || sb_fail "no reconnect log line"
echo "corosync restarted under clusterd: not connected -> reconnected, all online"
