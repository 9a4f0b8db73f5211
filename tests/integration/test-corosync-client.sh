#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# clusterd's corosync client (clusterd/corosync.c) seen through
# tests/tools/cs-probe in every node of a 3-node sandbox: it connects with the
# node's id, sees the CPG group, reports the quorum exactly as
# corosync-quorumtool -s does, carries messages to every member, says
# "disconnected" when its corosync stops and reconnects (with backoff) when it
# is back, and reports a partitioned node not quorate while the pair is.
. "$(dirname "$0")/lib.sh"

sb_require_cmd jq corosync corosync-quorumtool
PROBE=${top_builddir:-.}/tests/tools/cs-probe
[ -x "$PROBE" ] || sb_fail "cs-probe not built ($PROBE): make tests/tools/cs-probe"
PROBE=$(readlink -f "$PROBE")

probe_pids=()
cleanup() {
	local rc=$? p
	for p in "${probe_pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${probe_pids[@]}"; do wait "$p" 2>/dev/null; done
	(exit "$rc")
	sb_down
}
trap cleanup EXIT

sb_up --nodes 3 --profile fast
OUT=$SANDBOX_DIR/probe
mkdir -p "$OUT" || sb_fail "cannot create $OUT"

# probe_start NAME NODE ARGS...: cs-probe in the node, output in $OUT/NAME.{out,err}
probe_start() {
	local name=$1 node=$2
	shift 2
	"$SB_TOOL" exec "$node" "$PROBE" "$@" >"$OUT/$name.out" 2>"$OUT/$name.err" &
	probe_pids+=($!)
}

# probe_events NAME [FROM_LINE] JQ-SELECT: matching events (compact JSON),
# optionally only those after line FROM_LINE of its output
probe_events() {
	local name=$1 from=0
	[ $# = 3 ] && from=$2 && shift
	tail -n "+$((from + 1))" "$OUT/$name.out" 2>/dev/null | jq -c "select($2)" 2>/dev/null
}

# probe_wait NAME [FROM_LINE] JQ-SELECT TIMEOUT_S WHAT: wait (deadline) for a
# matching event; fails the test with the probe's output otherwise
probe_wait() {
	local name=$1 from=0 sel t what deadline
	[ $# = 5 ] && from=$2 && shift
	sel=$2 t=$3 what=$4
	deadline=$((${EPOCHREALTIME/./} + t * 1000000))
	while [ -z "$(probe_events "$name" "$from" "$sel")" ]; do
		if [ "${EPOCHREALTIME/./}" -ge "$deadline" ]; then
			echo "--- $name.out:" >&2
			tail -n 20 "$OUT/$name.out" >&2
			echo "--- $name.err:" >&2
			tail -n 20 "$OUT/$name.err" >&2
			sb_fail "$name: $what (no event '$sel' within ${t}s)"
		fi
		sleep 0.05
	done
}

probe_lines() { wc -l <"$OUT/$1.out"; }

# "quorate total expected quorum members ring" from corosync-quorumtool -s
qt_fields() {
	sb quorumtool "$1" 2>/dev/null | awk -F': *' '
		/^Quorate:/ { q = ($2 ~ /^Yes/) ? "true" : "false" }
		/^Ring ID:/ { r = $2 }
		/^Total votes:/ { t = $2 + 0 } /^Expected votes:/ { e = $2 + 0 } /^Quorum:/ { n = $2 + 0 }
		/^Membership information/ { m = 1; next }
		m && $0 ~ /^ *[0-9]+ / { split($0, f, " "); ids[++k] = f[1] + 0 }
		END {
			for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (ids[j] < ids[i]) { x = ids[i]; ids[i] = ids[j]; ids[j] = x }
			s = ""; for (i = 1; i <= k; i++) s = s (i > 1 ? "," : "") ids[i]
			print q, t, e, n, s, r
		}'
}

# the same fields from the probe's last quorum event
probe_quorum_fields() {
	probe_events "$1" '.event == "quorum"' | tail -n 1 |
		jq -r '[.quorate, .total_votes, .expected_votes, .quorum, (.members | map(tostring) | join(",")), .ring_id]
			| map(tostring) | join(" ")'
}

# the probe's last quorum event equals corosync-quorumtool -s in the same node
# (read a moment apart: retried until a 10 s deadline during transitions)
agree() { # NAME NODE
	local want got deadline=$((SECONDS + 10))
	while :; do
		want=$(qt_fields "$2")
		got=$(probe_quorum_fields "$1")
		[ -n "$got" ] && [ "$got" = "$want" ] && break
		[ $SECONDS -ge $deadline ] && sb_fail "$1: quorum event says '$got', corosync-quorumtool -s in $2 says '$want'"
		sleep 0.1
	done
	echo "$1 agrees with corosync-quorumtool -s in $2: $got"
}

# ---- connect, membership, quorum
probe_start p1 n1 -v -d 120
probe_start p2 n2 -d 120
probe_start p3 n3 -d 120
for i in 1 2 3; do
	probe_wait "p$i" ".event == \"connected\" and .local_id == $i" 5 "not connected as node $i"
done
for i in 1 2 3; do
	probe_wait "p$i" '.event == "membership" and .members == [1,2,3]' 5 "group membership never [1,2,3]"
	probe_wait "p$i" '.event == "quorum" and .quorate and .members == [1,2,3]' 5 "never quorate with 1,2,3"
done
echo "3 probes connected with their node ids, group membership [1,2,3], quorate"
for i in 1 2 3; do agree "p$i" "n$i"; done
grep -q . "$OUT/p2.err" && grep -q 'not connected' "$OUT/p2.err" && sb_fail "p2 logged a disconnection: $(cat "$OUT/p2.err")"

# ---- messages: a 4th member in n2 multicasts once it is in the group
text="hello from n2 $$"
probe_start s2 n2 -s "$text" -d 3
for p in p1 p2 p3; do
	probe_wait "$p" ".event == \"message\" and .from == 2 and .data == \"$text\"" 5 "did not get the message"
done
probe_wait s2 ".event == \"message\" and .from == 2 and .data == \"$text\"" 5 "sender did not get its own message"
echo "a message multicast from n2 reached every member (and the sender, in order)"

# ---- corosync stops in n1: disconnected, retries, reconnects
m1=$(probe_lines p1)
sb stop n1 corosync
probe_wait p1 "$m1" '.event == "disconnected"' 5 "no disconnected event after corosync stopped"
echo "p1: $(probe_events p1 "$m1" '.event == "disconnected"' | head -n 1)"
# the client keeps retrying (debug lines), but says "not connected" only once
deadline=$((SECONDS + 5))
until [ "$(grep -c 'still not connected' "$OUT/p1.err")" -ge 3 ]; do
	[ $SECONDS -ge $deadline ] && sb_fail "p1 does not retry: $(tail -n 5 "$OUT/p1.err")"
	sleep 0.05
done
m2=$(probe_lines p1)
sb start n1 corosync
probe_wait p1 "$m2" '.event == "connected" and .local_id == 1' 10 "did not reconnect after corosync started"
probe_wait p1 "$m2" '.event == "membership" and .members == [1,2,3]' 10 "membership after reconnect lacks a member"
probe_wait p1 "$m2" '.event == "quorum" and .quorate and .members == [1,2,3]' 10 "not quorate with 3 after reconnect"
[ "$(grep -c 'warn corosync: not connected (' "$OUT/p1.err")" = 1 ] ||
	sb_fail "p1 did not log 'not connected' exactly once: $(grep 'corosync: not connected (' "$OUT/p1.err")"
[ "$(probe_events p1 "$m1" '.event == "disconnected"' | wc -l)" = 1 ] || sb_fail "p1 reported disconnected more than once"
retries=$(grep -c 'still not connected' "$OUT/p1.err")
probe_events p2 '.event == "disconnected"' | grep -q . && sb_fail "p2 disconnected when n1's corosync stopped"
sb wait-quorate --timeout 10 n1 n2 n3 || sb_fail "corosync not quorate with 3 after restart"
for i in 1 2 3; do agree "p$i" "n$i"; done
echo "n1's corosync stopped: p1 disconnected once, retried $retries times, reconnected as node 1 with members 1,2,3"

# ---- partition 1 | 2,3
sb partition 1 2,3
sb wait-quorate --timeout 10 --not n1 || sb_fail "n1 alone still quorate"
sb wait-quorate --timeout 10 --nodes 2 n2 n3 || sb_fail "n2, n3 not quorate with 2 nodes"
probe_wait p1 '.event == "quorum" and (.quorate | not) and .members == [1]' 10 "partitioned n1 not reported inquorate"
for i in 2 3; do
	probe_wait "p$i" '.event == "quorum" and .quorate and .members == [2,3] and .total_votes == 2' 10 \
		"n$i not reported quorate with [2,3]"
	probe_wait "p$i" '.event == "membership" and .members == [2,3]' 10 "group membership never [2,3]"
done
for i in 1 2 3; do agree "p$i" "n$i"; done
echo "partition 1|2,3: p1 quorate=false, p2 and p3 quorate=true with members [2,3]"
m1=$(probe_lines p1)
sb heal
sb wait-quorate --timeout 10 n1 n2 n3 || sb_fail "not quorate with 3 after heal"
for i in 1 2 3; do
	probe_wait "p$i" '.event == "quorum" and .quorate and .members == [1,2,3]' 10 "not quorate with 3 after heal"
done
probe_wait p1 "$m1" '.event == "membership" and .members == [1,2,3]' 10 "p1's group not [1,2,3] after heal"
for i in 1 2 3; do agree "p$i" "n$i"; done
echo "heal: every probe quorate with [1,2,3] again"
