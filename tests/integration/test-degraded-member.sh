#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# One link down on n2 (the cluster network): n2 is DEGRADED on every node,
# naming the network, and stays a member; the others stay ONLINE; link back:
# ONLINE everywhere. `links` shows the DOWN pairs.
. "$(dirname "$0")/lib.sh"
sb_require_cmd jq corosync

sb_up --nodes 3 --profile fast
it_wait_json n1 nodes '[.nodes[].state] | join(",")' '"online,online,online"' 20 || sb_fail "not settled"
sb link-down n2 migration
for n in n1 n2 n3; do
	it_wait_json $n nodes '.nodes[] | select(.name == "n2") | [.state, .member, .degraded_networks]' \
		'["degraded",true,["migration"]]' 15 || sb_fail "$n does not show n2 degraded on migration"
	it_wait_json $n nodes '[.nodes[] | select(.name != "n2") | .state] | join(",")' '"online,online"' 5 ||
		sb_fail "$n: n1/n3 not online"
done
for n in n1 n2 n3; do it_quorum_agrees $n; done
down=$(it_json n1 status '[.links_down[] | "\(.from)>\(.to)/\(.network)"] | sort | join(" ")')
echo "links down seen from n1: $down"
[[ $down == *'n1>n2/migration'* ]] || sb_fail "links_down misses n1>n2/migration: $down"
sb link-up n2 migration
for n in n1 n2 n3; do
	it_wait_json $n nodes '[.nodes[].state] | join(",")' '"online,online,online"' 15 ||
		sb_fail "$n: n2 not back online"
done
echo "n2 degraded on migration everywhere, still a member; link back: online"
