# shellcheck shell=bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# tests/integration/lib.sh: what every integration test starts with — the
# sandbox helpers, the environment check (skip 77 with the reason) and the
# teardown trap — plus small assertions over the daemons' logs.
. "$(dirname "${BASH_SOURCE[0]}")/../sandbox/lib.sh"

sb_require_env
[ -x "${CLUSTERD:-}" ] || sb_fail "clusterd binary not found (CLUSTERD=${CLUSTERD:-unset}): build first"
# at exit: the split-brain checker (if still running), then the sandbox
it_exit() {
	local rc=$?
	[ -z "${IT_SB_PID:-}" ] || it_splitbrain_kill
	(exit "$rc")
	sb_down
}
trap it_exit EXIT

# it_wait_all_up: every node sees every other node up (node health)
it_wait_all_up() {
	local timeout=${1:-20} a b
	for a in $(sb_nodes); do
		for b in $(sb_nodes); do
			[ "$a" = "$b" ] && continue
			sb_wait_log "$a" "node $b: [a-z]+ -> up" "$timeout" ||
				sb_fail "$a never saw $b up"
		done
	done
}

# it_assert_no NODE REGEX FROM WHAT: fail if the node logged REGEX after line FROM
it_assert_no() {
	local n
	n=$(sb_count_log "$1" "$2" "$3")
	[ "$n" = 0 ] || {
		sb_grep_log "$1" "$2" "$3" >&2
		sb_fail "$4 ($n lines matching '$2' in $1's log)"
	}
}

# ---- membership and quorum (corosync sandboxes) ----

: "${CLUSTERCTL:=${top_builddir:-.}/clusterd/clusterctl}"

# it_ctl NODE ARGS...: clusterctl inside the node (its /run, its socket)
it_ctl() {
	local node=$1
	shift
	sb exec "$node" "$CLUSTERCTL" "$@"
}

# it_json NODE CMD JQ: a value from `clusterctl --json CMD` on NODE
it_json() {
	it_ctl "$1" --json "$2" | jq -c "$3"
}

# it_wait_json NODE CMD JQ EXPECTED TIMEOUT: until the value equals EXPECTED
it_wait_json() {
	local node=$1 cmd=$2 q=$3 want=$4 t=$5 got deadline
	deadline=$(($(date +%s%N) / 1000000 + t * 1000))
	while :; do
		got=$(it_json "$node" "$cmd" "$q" 2>/dev/null)
		[ "$got" = "$want" ] && return 0
		[ $(($(date +%s%N) / 1000000)) -ge $deadline ] && break
		sleep 0.1
	done
	echo "it_wait_json: $node: clusterctl $cmd | jq '$q' is '$got', want '$want' (after ${t}s)" >&2
	return 1
}

# it_copy_watch NODE VM NTH SECONDS: samples NODE's `clusterctl --json
# migrations` for VM's NTH migration (0: its first in the table) every 0.2 s
# until it ends, printing "STATE BYTES COPY_STATE" per sample; 0 when one
# sample was running with copy bytes > 0 (counters live, not just at the end).
it_copy_watch() {
	local node=$1 vm=$2 nth=$3 t=$4 line deadline live=1
	deadline=$(($(date +%s) + t))
	while [ "$(date +%s)" -lt $deadline ]; do
		line=$(it_json "$node" migrations "[.migrations[] | select(.vm == \"$vm\")] | .[$nth] |
			\"\\(.state) \\(.copy.bytes // 0) \\(.copy.state // \"-\")\"" 2>/dev/null | tr -d '"')
		echo "$line"
		case $line in
		running\ [1-9]*) live=0 ;;
		succeeded\ * | failed\ *) break ;;
		esac
		sleep 0.2
	done
	return $live
}

# it_state NODE OF: the state NODE's clusterd gives node OF (e.g. n3)
it_state() {
	it_json "$1" nodes ".nodes[] | select(.name == \"$2\") | .state" | tr -d '"'
}

# it_quorum_agrees NODE: `clusterctl quorum --json` equals corosync-quorumtool -s
# on quorate, total votes, expected votes, quorum and member node ids. The two
# are read a moment apart, so during a transition it retries (10 s deadline).
it_quorum_agrees() {
	local node=$1 qt ours want got deadline=$((SECONDS + 10))
	while :; do
		qt=$(sb exec "$node" corosync-quorumtool -s 2>/dev/null)
		ours=$(it_ctl "$node" --json quorum 2>/dev/null)
		want=$(awk -F': *' '
			/^Quorate:/ { q = ($2 ~ /^Yes/) ? "true" : "false" }
			/^Total votes:/ { t = $2 + 0 } /^Expected votes:/ { e = $2 + 0 } /^Quorum:/ { n = $2 + 0 }
			END { print q, t, e, n }' <<<"$qt")
		want="$want $(awk '/^Membership information/ { m = 1; next } m && $1 ~ /^[0-9]+$/ { print $1 }' <<<"$qt" |
			sort -n | paste -sd, -)"
		got=$(jq -r '[.quorate, .total_votes, .expected_votes, .quorum,
			(.members | sort | map(tostring) | join(","))] | map(tostring) | join(" ")' <<<"$ours" 2>/dev/null)
		if [ -n "$got" ] && [ "$got" = "$want" ]; then
			echo "$node: clusterctl quorum agrees with corosync-quorumtool: $got"
			return 0
		fi
		[ $SECONDS -ge $deadline ] && break
		sleep 0.2
	done
	echo "$qt" >&2
	sb_fail "$node: clusterctl quorum says '$got', corosync-quorumtool says '$want'"
}

# it_require_libvirt: skip (77, saying why) unless libvirt, corosync and a
# QEMU >= 9 (bookworm-backports: 7.2 loses dirty pages of TCG guests) are here
it_require_libvirt() {
	local v
	sb_require_cmd jq libvirtd virsh qemu-system-x86_64 corosync
	v=$(qemu-system-x86_64 --version 2>/dev/null | sed -n 's/^QEMU emulator version \([0-9]*\).*/\1/p')
	[ "${v:-0}" -ge 9 ] ||
		sb_skip "QEMU >= 9 from bookworm-backports is not installed (have: ${v:-none}); run tests/deps.sh"
}

# it_qemu_census: every QEMU process in a node's network namespace must be a
# domain that node's libvirt lists as running: a QEMU libvirt does not know
# would be a VM the cluster cannot see (a split brain no domain list shows).
# Prints "node: guest pid" lines; fails the test on a stray QEMU.
it_qemu_census() {
	local n i p name listed bad=0
	for n in $(sb_nodes); do
		i=${n#n}
		listed=" $(sb virsh "$n" list --name 2>/dev/null | tr '\n' ' ') "
		for p in $(ip netns pids "$SANDBOX_ID-n$i" 2>/dev/null); do
			[[ $(cat "/proc/$p/comm" 2>/dev/null) == qemu* ]] || continue
			name=$(tr '\0' '\n' <"/proc/$p/cmdline" 2>/dev/null | sed -n 's/^guest=\([^,]*\).*/\1/p')
			echo "  $n: $name pid $p"
			if [[ $listed != *" $name "* ]]; then
				echo "  $n: QEMU pid $p ($name) runs but libvirt there lists only:$listed" >&2
				bad=1
			fi
		done
	done
	[ $bad = 0 ] || sb_fail "a QEMU runs that its node's libvirt does not list"
}

# ---- the split-brain checker (libvirt sandboxes) ----
#
#   it_splitbrain_start            # before the scenario
#   ... kill, fence, evacuate ...
#   it_splitbrain_stop             # fails the test if any VM ran twice
#
# A background poller asks every node's libvirtd, every 100 ms, which domains
# are running (virsh list --state-running --name); a name running on two nodes
# in the same round is a violation: "ISO-TIME EPOCH round=R vm=NAME nodes=nA,nB"
# in $SANDBOX_DIR/splitbrain.log. One long-lived interactive virsh per node,
# in the root namespace, on the node's libvirt unix socket (the file
# <node dir>/run/libvirt/libvirt-sock): no process per round, and nothing of
# the checker inside a node's namespaces (a node killed or fenced stays empty).
# A node whose libvirtd is down lists nothing (said once when it stops and once
# when it answers again); its virsh reconnects by itself, or is started again.
# it_splitbrain_stop also fails on any "LEASE CONFLICT" a guest printed on its
# console since it_splitbrain_start (the guests' own check, tests/guest/dirty.c).
# It prints the rounds polled and the measured period (about 100 ms on an idle
# 2-core machine; a libvirtd busy starting or migrating a domain holds its
# lock and makes a round late: rounds over 500 ms are listed, with each
# node's answer time, in splitbrain.d/slow). IT_SB_PERIOD sets the period.

IT_SB_PID='' IT_SB_PERIOD=${IT_SB_PERIOD:-0.1}

# the poller itself (run in the background by it_splitbrain_start)
_it_splitbrain_poll() {
	local dir=$SANDBOX_DIR/splitbrain.d log=$SANDBOX_DIR/splitbrain.log n i round=0 stop=0
	local -a vpid=() win=() rout=() down=() respawn=()
	local sleepfd fdw fdr line names t0 t1 tr tn dt max=0 total=0 slow=0 period_us k v ts took
	local -A seen=()
	n=$(sed -n 's/^nodes=//p' "$SANDBOX_DIR/state")
	period_us=$(_sb_us "$IT_SB_PERIOD")
	mkdir -p "$dir"
	mkfifo "$dir/sleep" && exec {sleepfd}<>"$dir/sleep"
	_spawn() { # NODE_IDX: (re)start node I's virsh on its fifos
		local i=$1
		if [ -n "${win[$i]:-}" ]; then
			fdw=${win[$i]} fdr=${rout[$i]}
			exec {fdw}>&- {fdr}<&-
		fi
		[ -n "${vpid[$i]:-}" ] && kill "${vpid[$i]}" 2>/dev/null && wait "${vpid[$i]}" 2>/dev/null
		rm -f "$dir/in.$i" "$dir/out.$i"
		mkfifo "$dir/in.$i" "$dir/out.$i"
		exec {fdw}<>"$dir/in.$i" {fdr}<>"$dir/out.$i"
		win[$i]=$fdw rout[$i]=$fdr
		LC_ALL=C stdbuf -oL -eL virsh -q -c "qemu:///system?socket=$SANDBOX_DIR/n$i/run/libvirt/libvirt-sock" \
			<"$dir/in.$i" >"$dir/out.$i" 2>&1 &
		vpid[$i]=$!
		respawn[$i]=$((${EPOCHREALTIME/./} + 2000000))
	}
	_down() { # NODE_IDX WHY
		[ "${down[$1]:-0}" = 1 ] && return 0
		down[$1]=1
		echo "splitbrain: n$1: $2: it lists nothing until its libvirtd answers again" >&2
	}
	_up() {
		[ "${down[$1]:-0}" = 1 ] || return 0
		down[$1]=0
		echo "splitbrain: n$1: libvirtd answers again" >&2
	}
	trap 'stop=1' TERM INT
	for ((i = 1; i <= n; i++)); do _spawn "$i"; done
	# (no fork in the loop: ${EPOCHREALTIME/./} is the time in microseconds)
	t0=${EPOCHREALTIME/./}
	while [ "$stop" = 0 ]; do
		tr=${EPOCHREALTIME/./}
		took=
		round=$((round + 1))
		seen=()
		for ((i = 1; i <= n; i++)); do
			if ! kill -0 "${vpid[$i]}" 2>/dev/null; then
				_down "$i" "its virsh exited"
				[ "$tr" -ge "${respawn[$i]}" ] && _spawn "$i"
				continue
			fi
			# (virsh's echo ends in no newline: the empty line ends it, after
			# virsh's prompt; prompt lines have spaces, no guest name has)
			printf 'list --state-running --name\necho @@END-%s@@\n\n' "$round" >&"${win[$i]}"
		done
		for ((i = 1; i <= n; i++)); do
			kill -0 "${vpid[$i]}" 2>/dev/null || continue
			tn=${EPOCHREALTIME/./}
			names='' k=ok
			while :; do
				if ! IFS= read -r -t 2 -u "${rout[$i]}" line; then
					[ "$stop" = 1 ] && break 2
					k=timeout
					break
				fi
				case $line in
				"@@END-$round@@"*) break ;;
				@@END-*) names='' k=ok ;; # the late end of an earlier round
				error:*) k=${line#error: } ;;
				*[!A-Za-z0-9_.-]* | '') ;; # blank, "Reconnected to the hypervisor"
				*) names="$names $line" ;;
				esac
			done
			took="$took n$i=$(((${EPOCHREALTIME/./} - tn) / 1000))ms"
			if [ "$k" = timeout ]; then
				_down "$i" "virsh does not answer within 2 s"
				continue
			elif [ "$k" != ok ]; then
				_down "$i" "virsh: $k"
				continue
			fi
			_up "$i"
			for v in $names; do seen[$v]="${seen[$v]:+${seen[$v]},}n$i"; done
		done
		for v in "${!seen[@]}"; do
			[[ ${seen[$v]} == *,* ]] || continue
			t1=$EPOCHREALTIME
			printf -v ts '%(%Y-%m-%dT%H:%M:%S)T.%sZ' "${t1%.*}" "${t1#*.}"
			echo "$ts $t1 round=$round vm=$v nodes=${seen[$v]}" >>"$log"
		done
		t1=${EPOCHREALTIME/./}
		dt=$((t1 - tr))
		total=$((total + dt))
		[ "$dt" -gt "$max" ] && max=$dt
		# a slow round (a libvirtd busy starting or migrating a domain holds
		# its lock): which node answered late, in splitbrain.d/slow
		if [ "$dt" -gt 500000 ]; then
			slow=$((slow + 1))
			echo "round=$round ${dt}us:$took" >>"$dir/slow"
		fi
		# the next round IT_SB_PERIOD after this one began (no fork to sleep)
		dt=$((tr + period_us - t1))
		if [ "$dt" -gt 0 ] && [ "$stop" = 0 ]; then
			printf -v v '%d.%06d' $((dt / 1000000)) $((dt % 1000000))
			read -r -t "$v" -u "$sleepfd" _
		fi
	done
	t1=${EPOCHREALTIME/./}
	echo "rounds=$round elapsed_us=$((t1 - t0)) work_us=$total max_round_us=$max slow_rounds=$slow" >"$dir/stats"
	for ((i = 1; i <= n; i++)); do
		fdw=${win[$i]} fdr=${rout[$i]}
		exec {fdw}>&- {fdr}<&-
		kill "${vpid[$i]}" 2>/dev/null
		wait "${vpid[$i]}" 2>/dev/null
	done
	exit 0
}

# "FILE COUNT" of LEASE CONFLICT lines in every guest console of the sandbox
_it_lease_conflicts() {
	local f
	for f in "$SANDBOX_DIR"/n*/log/libvirt/*.serial; do
		[ -f "$f" ] || continue
		echo "$f $(grep -ac 'LEASE CONFLICT' "$f")"
	done
}

# it_splitbrain_start: start the checker (one at a time per sandbox)
it_splitbrain_start() {
	[ -z "$IT_SB_PID" ] || sb_fail "it_splitbrain_start: the checker already runs (pid $IT_SB_PID)"
	command -v stdbuf >/dev/null || sb_skip "the split-brain checker needs stdbuf (coreutils)"
	rm -rf "$SANDBOX_DIR/splitbrain.d"
	: >"$SANDBOX_DIR/splitbrain.log"
	mkdir -p "$SANDBOX_DIR/splitbrain.d"
	_it_lease_conflicts >"$SANDBOX_DIR/splitbrain.d/leases.start"
	_it_splitbrain_poll &
	IT_SB_PID=$!
	echo "splitbrain: checker started (pid $IT_SB_PID, every ${IT_SB_PERIOD}s on $(sb_nodes | paste -sd' ' -))"
}

# end the poller (by its PID) and wait for it; its stats in splitbrain.d/stats
it_splitbrain_kill() {
	local p=$IT_SB_PID k
	[ -n "$p" ] || return 0
	IT_SB_PID=''
	kill -TERM "$p" 2>/dev/null
	for ((k = 0; k < 50; k++)); do
		kill -0 "$p" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null
	wait "$p" 2>/dev/null
	return 0
}

# it_splitbrain_stop [--expect]: stop the checker; print its rounds and the
# measured period; fail (sb_fail) if any VM ran on two nodes in one round or
# any guest printed LEASE CONFLICT since the start. --expect (for a test of the
# checker itself): print what it found, fail if it found NOTHING. Sets
# IT_SB_VIOLATIONS and IT_SB_LEASE_CONFLICTS (counts).
it_splitbrain_stop() {
	local expect=0 st kv rounds=0 el=0 work=0 mx=0 slow=0 f c c0 leases=''
	[ "${1:-}" = --expect ] && expect=1
	[ -n "$IT_SB_PID" ] || sb_fail "it_splitbrain_stop: the checker is not running"
	it_splitbrain_kill
	st=$(cat "$SANDBOX_DIR/splitbrain.d/stats" 2>/dev/null) || sb_fail "splitbrain: the checker left no stats (did it die?)"
	for kv in $st; do
		case ${kv%%=*} in
		rounds) rounds=${kv#*=} ;;
		elapsed_us) el=${kv#*=} ;;
		work_us) work=${kv#*=} ;;
		max_round_us) mx=${kv#*=} ;;
		slow_rounds) slow=${kv#*=} ;;
		esac
	done
	[ "${rounds:-0}" -gt 0 ] || sb_fail "splitbrain: the checker polled no round"
	echo "splitbrain: $rounds rounds in $((el / 1000)) ms: period $((el / rounds / 1000)) ms" \
		"(a round's work: mean $((work / rounds / 1000)) ms, max $((mx / 1000)) ms; $slow over 500 ms)"
	[ "${slow:-0}" = 0 ] || sed 's/^/  slow: /' "$SANDBOX_DIR/splitbrain.d/slow" | tail -n 5
	IT_SB_VIOLATIONS=$(grep -c . "$SANDBOX_DIR/splitbrain.log")
	while read -r f c; do
		c0=$(awk -v f="$f" '$1 == f { print $2 }' "$SANDBOX_DIR/splitbrain.d/leases.start")
		[ "$c" -gt "${c0:-0}" ] && leases="$leases ${f#"$SANDBOX_DIR"/}:$((c - ${c0:-0}))"
	done < <(_it_lease_conflicts)
	IT_SB_LEASE_CONFLICTS=$(wc -w <<<"$leases")
	if [ "$IT_SB_VIOLATIONS" -gt 0 ]; then
		echo "splitbrain: $IT_SB_VIOLATIONS round(s) with a VM running on two nodes:"
		sed 's/^/  | /' "$SANDBOX_DIR/splitbrain.log" | head -n 5
	fi
	[ -z "$leases" ] || echo "splitbrain: guests reporting LEASE CONFLICT (console:new lines):$leases"
	if [ "$expect" = 1 ]; then
		[ "$IT_SB_VIOLATIONS" -gt 0 ] || [ -n "$leases" ] || sb_fail "splitbrain: expected a violation, found none"
		return 0
	fi
	[ "$IT_SB_VIOLATIONS" = 0 ] || sb_fail "split brain: a VM ran on two nodes at once (see above, $SANDBOX_DIR/splitbrain.log)"
	[ -z "$leases" ] || sb_fail "split brain: a guest found its lease held by another instance:$leases"
	echo "splitbrain: no VM on two nodes, no lease conflict"
}

# it_expect_fail NODE EXIT WANT-TEXT ARGS...: clusterctl ARGS on NODE must
# exit EXIT and say WANT-TEXT (a bad request refused with a clear error)
it_expect_fail() {
	local node=$1 want_rc=$2 want=$3 out rc
	shift 3
	out=$(it_ctl "$node" "$@" 2>&1)
	rc=$?
	[ $rc = "$want_rc" ] || sb_fail "clusterctl $*: exit $rc, want $want_rc ($out)"
	grep -q -- "$want" <<<"$out" || sb_fail "clusterctl $*: '$out' does not say '$want'"
	echo "  refused as it should: clusterctl $*: $out"
}
