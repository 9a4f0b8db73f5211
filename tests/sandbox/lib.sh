# shellcheck shell=bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# tests/sandbox/lib.sh: helpers for test scripts that use the sandbox.
#
#   . "$top_srcdir/tests/sandbox/lib.sh"
#   sb_require_env                  # root, netns, veth, bridge, iptables; else exit 77
#   trap sb_down EXIT
#   sb_up --nodes 3 --profile fast
#   sb_wait_log n1 'link n2/cluster: [a-z]+ -> up' 5 || sb_fail "n1 never saw n2 up"
#   mark=$(sb_log_lines n2)
#   sb kill n1
#   sb_wait_log n2 'link n1/cluster: up -> down' 5 "$mark" || sb_fail "no DOWN"
#
# Waits are deadline-based: never a bare sleep to wait for something.
# REGEX arguments are extended regular expressions (grep -E).
# NODE arguments are "nI" or "I". Exit codes: 0 pass, 1 fail, 77 skip.
# With `up --libvirt`: sb guest-start/guest-migrate/virsh, and sb_guest_* below
# read the verification guests' consoles (TICK lines, tests/guest/dirty.c).

SB_LIB_DIR=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")
SB_TOOL=${SB_TOOL:-$SB_LIB_DIR/sandbox}
SANDBOX_DIR=${SANDBOX_DIR:-/tmp/clusterd-sandbox}
SANDBOX_ID=${SANDBOX_ID:-sb}
export SANDBOX_DIR SANDBOX_ID
SB_UP_DONE=${SB_UP_DONE:-0}

# Run the sourcing script again under tests/tools/sb-reaper (once): the
# sandbox's orphans (its daemons once `sandbox up` has exited, the QEMUs that
# libvirtd daemonizes) are then reaped by an ancestor the moment they die,
# instead of by PID 1, which on some machines reaps seconds late — libvirt
# waits for a stopped QEMU to be reaped, so every migration and destroy
# would carry that delay. Not built: go on without (SB_NO_REAPER=1: never).
if [ -z "${SB_REAPER:-}" ] && [ "${SB_NO_REAPER:-0}" != 1 ] && [ "${BASH_SOURCE[-1]}" = "$0" ]; then
	for SB_REAPER in ${top_builddir:+"$top_builddir"} "$SB_LIB_DIR/../.." "$SB_LIB_DIR/../../build" \
		"$SB_LIB_DIR/../../build-tests"; do
		SB_REAPER=$SB_REAPER/tests/tools/sb-reaper
		[ -x "$SB_REAPER" ] && export SB_REAPER && exec "$SB_REAPER" "$BASH" "$0" "$@"
	done
	SB_REAPER=none
	export SB_REAPER
fi

# the sandbox tool: sb status, sb kill n2, sb drop n1 cluster 20, ...
sb() { "$SB_TOOL" "$@"; }

sb_skip() {
	echo "SKIP: $*"
	exit 77
}

sb_fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# ---------------------------------------------------------------- setup

# Skip (77) with the reason unless this can build a sandbox: root, ip netns,
# veth and bridge inside a namespace, iptables with the statistic match,
# unshare -m. Uses a scratch namespace "<id>-chk" that it removes again.
sb_require_env() {
	local ns="$SANDBOX_ID-chk" c why=
	[ "$(id -u)" = 0 ] || sb_skip "the sandbox needs root (network namespaces, iptables)"
	for c in ip iptables unshare setsid mount awk; do
		command -v "$c" >/dev/null 2>&1 || sb_skip "the sandbox needs '$c'"
	done
	ip netns del "$ns" 2>/dev/null || true
	if ! ip netns add "$ns" 2>/dev/null; then
		sb_skip "cannot create a network namespace (ip netns add failed)"
	fi
	if ! ip -n "$ns" link set lo up 2>/dev/null; then
		why="cannot configure a network namespace"
	elif ! ip -n "$ns" link add sbchk0 type veth peer name sbchk1 2>/dev/null; then
		why="cannot create veth pairs (veth module?)"
	elif ! ip -n "$ns" link add sbchkbr type bridge 2>/dev/null; then
		why="cannot create bridges (bridge module?)"
	elif ! ip netns exec "$ns" iptables -w 10 -A OUTPUT -m statistic --mode random \
		--probability 0.5 -j ACCEPT 2>/dev/null; then
		why="iptables (with -m statistic) does not work in a network namespace"
	elif ! ip netns exec "$ns" unshare -m --propagation private true 2>/dev/null; then
		why="cannot create a mount namespace (unshare -m)"
	fi
	ip netns del "$ns" 2>/dev/null || true
	[ -z "$why" ] || sb_skip "$why"
}

# skip unless every named command exists
sb_require_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || sb_skip "needs '$c'"
	done
}

# up, failing the test if it cannot; sb_down (trap it on EXIT) undoes it.
sb_up() {
	[ ! -f "$SANDBOX_DIR/state" ] ||
		sb_fail "a sandbox already exists in $SANDBOX_DIR (not ours: not touching it)"
	SB_UP_DONE=1
	sb up "$@" || sb_fail "sandbox up $* failed"
}

# Down, if sb_up ran. For `trap sb_down EXIT`: keeps the configs and logs
# when the script is exiting with a failure (status other than 0 and 77).
sb_down() {
	local rc=$?
	[ "$SB_UP_DONE" = 1 ] || return "$rc"
	SB_UP_DONE=0
	if [ "$rc" != 0 ] && [ "$rc" != 77 ]; then
		SANDBOX_KEEP=1 sb down
		echo "sandbox logs kept in $SANDBOX_DIR (remove with: rm -rf $SANDBOX_DIR)" >&2
	else
		sb down
	fi
	return "$rc"
}

# node names of the running sandbox: n1 n2 ...
sb_nodes() {
	local n i
	n=$(sed -n 's/^nodes=//p' "$SANDBOX_DIR/state" 2>/dev/null)
	for ((i = 1; i <= ${n:-0}; i++)); do printf 'n%s\n' "$i"; done
}

sb_node_dir() { echo "$SANDBOX_DIR/n${1#n}"; }

# path of a node's service log (default clusterd)
sb_log_file() { echo "$SANDBOX_DIR/n${1#n}/log/${2:-clusterd}.log"; }

sb_pid() { sb pid "$@"; }

# ---------------------------------------------------------------- time

# now, as seconds.microseconds since the epoch (same clock as the log stamps)
sb_now() { echo "$EPOCHREALTIME"; }

# "2024-05-01T12:00:03.250000Z" (or a whole log line starting with one)
# -> "1714564803.250000". Pure bash (no fork), for benchmarks.
sb_log_ts_to_epoch() {
	local ts=${1%% *} y mo d h mi s us era yoe doy doe days
	if [[ ! $ts =~ ^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(\.([0-9]{1,9}))?Z$ ]]; then
		echo "sb_log_ts_to_epoch: not a UTC timestamp: '$ts'" >&2
		return 1
	fi
	y=$((10#${BASH_REMATCH[1]})) mo=$((10#${BASH_REMATCH[2]})) d=$((10#${BASH_REMATCH[3]}))
	h=$((10#${BASH_REMATCH[4]})) mi=$((10#${BASH_REMATCH[5]})) s=$((10#${BASH_REMATCH[6]}))
	us=${BASH_REMATCH[8]}000000
	us=${us:0:6}
	# days from civil (H. Hinnant), valid for years >= 0
	((mo <= 2)) && ((y -= 1))
	era=$((y / 400))
	yoe=$((y - era * 400))
	doy=$(((153 * (mo > 2 ? mo - 3 : mo + 9) + 2) / 5 + d - 1))
	doe=$((yoe * 365 + yoe / 4 - yoe / 100 + doy))
	days=$((era * 146097 + doe - 719468))
	echo "$((days * 86400 + h * 3600 + mi * 60 + s)).$us"
}

# whole milliseconds from epoch A to epoch B (both "seconds.micro"; may be negative)
sb_ms_between() {
	local a b
	a=$(_sb_us "$1") && b=$(_sb_us "$2") || return 1
	echo $(((b - a) / 1000))
}

# "seconds[.fraction]" -> microseconds
_sb_us() {
	local v=$1 int frac=
	[[ $v =~ ^[0-9]+(\.[0-9]*)?$ ]] || {
		echo "not a time in seconds: '$v'" >&2
		return 1
	}
	int=${v%%.*}
	[[ $v == *.* ]] && frac=${v#*.}
	frac=${frac}000000
	echo $((10#$int * 1000000 + 10#${frac:0:6}))
}

# ---------------------------------------------------------------- logs

# number of lines in the node's log now: a mark for the FROM arguments below
sb_log_lines() {
	local f
	f=$(sb_log_file "$1" "${2:-clusterd}")
	if [ -f "$f" ]; then wc -l <"$f"; else echo 0; fi
}

# lines of the node's clusterd log after line FROM (default 0: all)
_sb_log_from() { # NODE FROM
	local f
	f=$(sb_log_file "$1")
	[ -f "$f" ] || return 0
	tail -n "+$((${2:-0} + 1))" "$f"
}

# sb_wait_log NODE REGEX TIMEOUT_S [FROM]: 0 as soon as a line matching REGEX
# is in the node's clusterd log (after line FROM, from sb_log_lines); polls
# every 50 ms; on timeout prints the log's tail and returns 1.
sb_wait_log() {
	local node=$1 re=$2 t=$3 from=${4:-0} deadline tus
	tus=$(_sb_us "$t") || return 2
	deadline=$(($(_sb_us "$EPOCHREALTIME") + tus))
	while :; do
		# (no pipe: under pipefail, grep -q exiting first would fail it)
		grep -Eq -- "$re" < <(_sb_log_from "$node" "$from") && return 0
		[ "$(_sb_us "$EPOCHREALTIME")" -ge "$deadline" ] && break
		sleep 0.05
	done
	echo "sb_wait_log: no line matching '$re' in $node's log within ${t}s; its tail:" >&2
	tail -n 25 "$(sb_log_file "$node")" 2>/dev/null | sed 's/^/  | /' >&2
	return 1
}

# print the number of lines matching REGEX in the node's log (after line FROM)
sb_count_log() {
	local n
	n=$(grep -Ec -- "$2" < <(_sb_log_from "$1" "${3:-0}"))
	echo "${n:-0}"
}

# print the first line matching REGEX (after line FROM); 1 if none
sb_grep_log() {
	grep -E -m1 -- "$2" < <(_sb_log_from "$1" "${3:-0}")
}

# print the time (epoch seconds.micro) of the first line matching REGEX
sb_log_first_ts() {
	local line
	line=$(sb_grep_log "$@") || return 1
	sb_log_ts_to_epoch "$line"
}

# ---------------------------------------------------------------- events

# The sandbox appends "ISO-TIME EPOCH WHAT..." to $SANDBOX_DIR/events.log for
# each start, stop, kill, link-down/up, drop and heal (EPOCH taken right after
# the action). Print the EPOCH of the last event matching REGEX (e.g.
# '^kill n1 ', an awk ERE); 1 if none.
sb_event_ts() {
	[ -f "$SANDBOX_DIR/events.log" ] || return 1
	SB_RE=$1 awk '{ t = $2; w = $0; sub(/^[^ ]+ [^ ]+ /, "", w); if (w ~ ENVIRON["SB_RE"]) e = t }
		END { if (e == "") exit 1; print e }' "$SANDBOX_DIR/events.log"
}

# ---------------------------------------------------------------- guests (up --libvirt)

# the guest's console file on NODE (<node dir>/log/libvirt/NAME.serial)
sb_guest_serial() { echo "$SANDBOX_DIR/n${1#n}/log/libvirt/$2.serial"; }

# sb_guest_tick NODE NAME [FROM]: "TICK BOOT ERRS STATIC_BAD" of the guest's
# last TICK line on NODE's console (after line FROM); 1 if there is none
sb_guest_tick() {
	local f
	f=$(sb_guest_serial "$1" "$2")
	[ -f "$f" ] || return 1
	# a line QEMU is still writing lacks fields: only complete ones count
	tail -n "+$((${3:-0} + 1))" "$f" | awk '{ sub(/\r$/, "") } /^TICK [0-9]+ / { b = e = s = ""
			for (k = 3; k <= NF; k++) { split($k, kv, "="); if (kv[1] == "boot") b = kv[2]
				else if (kv[1] == "errs") e = kv[2]; else if (kv[1] == "static_bad") s = kv[2] }
			if (length(b) == 16 && e != "" && s != "") { n = $2; lb = b; le = e; ls = s } }
		END { if (n == "") exit 1; print n, lb, le, ls }'
}

# sb_guest_wait_tick NODE NAME MIN TIMEOUT_S [FROM]: wait until the guest's
# console on NODE shows TICK >= MIN (after line FROM); prints the
# sb_guest_tick line; on timeout says what it saw and returns 1
sb_guest_wait_tick() {
	local node=$1 name=$2 min=$3 t=$4 from=${5:-0} deadline got
	deadline=$(($(_sb_us "$EPOCHREALTIME") + $(_sb_us "$t")))
	while :; do
		got=$(sb_guest_tick "$node" "$name" "$from") && [ "${got%% *}" -ge "$min" ] && {
			echo "$got"
			return 0
		}
		[ "$(_sb_us "$EPOCHREALTIME")" -ge "$deadline" ] && break
		sleep 0.1
	done
	echo "sb_guest_wait_tick: $node: guest $name not at TICK $min within ${t}s (last: ${got:-none}); console tail:" >&2
	tail -n 5 "$(sb_guest_serial "$node" "$name")" 2>/dev/null | sed 's/^/  | /' >&2
	return 1
}

# lines in the guest's console file on NODE now: a mark for FROM above
sb_guest_lines() {
	local f
	f=$(sb_guest_serial "$1" "$2")
	if [ -f "$f" ]; then wc -l <"$f"; else echo 0; fi
}

# sb_guest_lease_conflicts NODE NAME: lease_conflicts= of the guest's last
# complete TICK line on NODE (-1: the guest has no lease); 1 if no TICK has it.
# The guest prints "LEASE CONFLICT held by boot=..." on its console each time
# it finds its lease (<sandbox>/shared/NAME.lease) written by another instance.
sb_guest_lease_conflicts() {
	local f
	f=$(sb_guest_serial "$1" "$2")
	[ -f "$f" ] || return 1
	# (a last line QEMU is still writing may end in a cut number: not counted)
	if [ "$(tail -c 1 "$f" | od -An -c | tr -d ' ')" = '\n' ]; then cat "$f"; else sed '$d' "$f"; fi |
		awk '{ sub(/\r$/, "") } /^TICK [0-9]+ / { for (k = 3; k <= NF; k++) if ($k ~ /^lease_conflicts=-?[0-9]+$/) c = substr($k, 17) }
		END { if (c == "") exit 1; print c }'
}
