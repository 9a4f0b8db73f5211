# shellcheck shell=bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# tests/integration/lib.sh: what every integration test starts with — the
# sandbox helpers, the environment check (skip 77 with the reason) and the
# teardown trap — plus small assertions over the daemons' logs.
. "$(dirname "${BASH_SOURCE[0]}")/../sandbox/lib.sh"

sb_require_env
[ -x "${CLUSTERD:-}" ] || sb_fail "clusterd binary not found (CLUSTERD=${CLUSTERD:-unset}): build first"
trap sb_down EXIT

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
