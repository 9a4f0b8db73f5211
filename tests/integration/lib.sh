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
