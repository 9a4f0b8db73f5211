#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# kill -9 one node's clusterd: both others report its links and the node DOWN,
# no sooner than the threshold allows; restarted (a new incarnation), it is UP
# everywhere again and it sees the others UP.
. "$(dirname "$0")/lib.sh"

sb_up --nodes 3 --profile fast
it_wait_all_up

m1=$(sb_log_lines n1) m2=$(sb_log_lines n2)
sb kill n3
for n in n1 n2; do
	from=$([ $n = n1 ] && echo "$m1" || echo "$m2")
	sb_wait_log $n 'node n3: [a-z]+ -> down' 10 "$from" || sb_fail "$n did not see n3 down"
	for net in management cluster migration; do
		line=$(sb_grep_log $n "link n3/$net: [a-z]+ -> down" "$from") || sb_fail "$n: no DOWN for n3/$net"
		silent=$(sed -n 's/.*silent \([0-9]*\) ms.*/\1/p' <<<"$line")
		# fast profile: 100 ms x 5, declared at 5 x 100 + 50 ms of silence
		[ "$silent" -ge 550 ] || sb_fail "$n declared n3/$net down after only $silent ms: $line"
	done
	# the node went down in one step: never a transient 'degraded'
	it_assert_no $n 'node n3: [a-z]+ -> degraded' "$from" "$n reported n3 degraded while it died"
	it_assert_no $n 'node n[12]: [a-z]+ -> (down|degraded)' "$from" "$n lost a live node"
done

m1=$(sb_log_lines n1) m2=$(sb_log_lines n2)
sb start n3
sb_wait_log n1 'node n3: down -> up' 10 "$m1" || sb_fail "n1 did not see n3 come back"
sb_wait_log n2 'node n3: down -> up' 10 "$m2" || sb_fail "n2 did not see n3 come back"
sb_wait_log n3 'node n1: [a-z]+ -> up' 10 || sb_fail "restarted n3 does not see n1"
sb_wait_log n3 'node n2: [a-z]+ -> up' 10 || sb_fail "restarted n3 does not see n2"
echo "n3 killed: DOWN on n1 and n2; restarted: UP everywhere"
