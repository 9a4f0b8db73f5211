#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The sandbox's fence agents on their own (tests/sandbox/fence_sandbox*), run
# the way clusterd runs them: inside node n1's namespaces, the path from n1's
# clusterd.conf (FENCE_AGENT=fence_sandbox), key=value lines on stdin, none of
# the test's environment. off of n3 kills every process of n3 at once —
# corosync, clusterd, libvirtd and its guest's QEMU, each checked gone by PID —
# and n1's corosync sees n3 leave; status says off (2); bad plug, missing plug
# and unknown action fail (1) with a message; the fail agent fails, the hang
# agent hangs until killed; on brings n3 back (quorate with 3), reboot of n2
# replaces all its processes. The split-brain checker runs throughout.
# shellcheck disable=SC2015 # 'A && B || sb_fail' is intended
. "$(dirname "$0")/lib.sh"
it_require_libvirt

# fencing.mode none: this tests the agent itself; clusterd must not fence on its own
# while the test powers nodes off and on (test-evacuate-agent covers that)
FENCE_MODE=none FENCE_AGENT=fence_sandbox FENCE_SETTINGS="agent_timeout_s = 20;" sb_up --nodes 3 --libvirt
conf=$SANDBOX_DIR/n1/clusterd.conf
agent=$(sed -n 's/^ *agent = "\(.*\)";.*/\1/p' "$conf")
grep -q 'mode = "none";' "$conf" || sb_fail "n1's clusterd.conf has no mode \"none\": $(grep -A3 '^fencing' "$conf")"
[ "$agent" = "$SANDBOX_DIR/fence/fence_sandbox" ] || sb_fail "n1's clusterd.conf: agent '$agent'"
echo "n1's clusterd.conf: fencing mode \"agent\", agent $agent"

sb guest-start n3 g3 --mem 128 --dirty-mb 16 --dirty-rate 20 || sb_fail "guest-start g3 on n3 failed"
sb_guest_wait_tick n3 g3 2 90 >/dev/null || sb_fail "g3 does not tick on n3"
it_splitbrain_start

# run_agent AGENT KEY=VALUE...: the agent inside n1, as clusterd runs it (stdin
# parameters, no SANDBOX_DIR in its environment); sets RC, OUT (stdout+stderr), MS
run_agent() {
	local a=$1 t0
	shift
	t0=$EPOCHREALTIME
	OUT=$(printf '%s\n' "$@" | timeout "${AGENT_TIMEOUT:-30}" "$SB_TOOL" exec n1 env -u SANDBOX_DIR -u SANDBOX_ID "$a" 2>&1)
	RC=$?
	MS=$(sb_ms_between "$t0" "$EPOCHREALTIME")
}
expect() { # WANT-RC WHAT
	[ "$RC" = "$1" ] || sb_fail "$2: exit $RC, want $1 (output: $OUT)"
	echo "  $2: exit $RC in $MS ms${OUT:+: $(head -c 300 <<<"$OUT" | paste -sd'|' -)}"
}

echo "-- fence_sandbox: metadata, list, monitor, status"
run_agent "$agent" action=metadata
expect 0 "metadata" >/dev/null
grep -q '<resource-agent name="fence_sandbox"' <<<"$OUT" && grep -q '<action name="off"' <<<"$OUT" ||
	sb_fail "metadata is not a fence-agents description: $OUT"
echo "  metadata: $(grep -c . <<<"$OUT") lines of XML, actions: $(grep -o 'action name="[a-z-]*"' <<<"$OUT" | cut -d'"' -f2 | paste -sd, -)"
run_agent "$agent" action=list
expect 0 "list"
[ "$(paste -sd' ' - <<<"$OUT")" = "n1 n2 n3" ] || sb_fail "list: '$OUT', want n1 n2 n3"
run_agent "$agent" action=monitor
expect 0 "monitor"
run_agent "$agent" action=status plug=n3
expect 0 "status n3 (on)"
# the agent itself, told the sandbox by its parameter instead of the wrapper
run_agent "$SB_LIB_DIR/fence_sandbox" action=status port=n3 "sandbox_dir=$SANDBOX_DIR"
expect 0 "status port=n3 sandbox_dir=… (the agent, no wrapper)"

echo "-- fence_sandbox: bad requests"
run_agent "$agent" action=off plug=n9
expect 1 "off plug=n9"
grep -q "no such plug 'n9'" <<<"$OUT" || sb_fail "bad plug: no message saying so: $OUT"
run_agent "$agent" action=off
expect 1 "off without a plug"
run_agent "$agent" action=explode plug=n3
expect 1 "action=explode"
grep -q "unknown action" <<<"$OUT" || sb_fail "unknown action: no message saying so: $OUT"
run_agent "$SB_LIB_DIR/fence_sandbox" action=status plug=n3
expect 1 "status without any sandbox (no wrapper, no sandbox_dir)"
# command-line options, like real agents
OUT=$(sb exec n1 "$agent" -o status -n n3 2>&1)
RC=$? MS=-
expect 0 "-o status -n n3"
alive_of() { # PID...: prints those still alive (not zombies)
	local p st
	for p in "$@"; do
		st=$(cat "/proc/$p/stat" 2>/dev/null) || continue
		st=${st##*) }
		[ "${st%% *}" = Z ] || printf '%s ' "$p"
	done
}

echo "-- fence_sandbox: off n3 (from n1)"
declare -A svc
for s in corosync libvirtd clusterd; do svc[$s]=$(sb pid n3 "$s") || sb_fail "n3: $s not running before off"; done
qemu=$(cat "$SANDBOX_DIR/n3/run/libvirt/qemu/g3.pid" 2>/dev/null)
[ -n "$qemu" ] && [ -n "$(alive_of "$qemu")" ] || sb_fail "no QEMU pid for g3 on n3 ($qemu)"
before=$(sb node-pids n3 | paste -sd' ' -)
[[ " $before " == *" $qemu "* ]] || sb_fail "node-pids n3 ($before) lacks g3's QEMU $qemu"
echo "  n3 before: corosync=${svc[corosync]} libvirtd=${svc[libvirtd]} clusterd=${svc[clusterd]} qemu(g3)=$qemu; all: $before"
mark_ev=$(wc -l <"$SANDBOX_DIR/events.log")
run_agent "$agent" action=off plug=n3 ip=10.99.3.3 username=admin password=secret
expect 0 "off plug=n3"
# shellcheck disable=SC2086 # word lists on purpose
left=$(alive_of $before)
[ -z "$left" ] || sb_fail "after off, still alive: $left (ps: $(ps -o pid=,comm= -p "${left// /,}" 2>/dev/null | paste -sd';' -))"
[ -z "$(sb node-pids n3)" ] || sb_fail "after off, node-pids n3 lists: $(sb node-pids n3 | paste -sd' ' -)"
echo "  every process of n3 is gone: $before"
tail -n "+$((mark_ev + 1))" "$SANDBOX_DIR/events.log" | grep -q " kill n3 " || sb_fail "no 'kill n3' in events.log"
t_off=$(sb_event_ts '^kill n3 ') || sb_fail "no kill event"
sb wait-quorate --timeout 10 --nodes 2 n1 n2 || sb_fail "n1/n2 not quorate with 2 members after n3 was fenced"
echo "  n1's corosync: quorate with 2 members, $(sb_ms_between "$t_off" "$EPOCHREALTIME") ms after the kill (upper bound)"
sb quorumtool n1 -l 2>/dev/null | grep -qw n3 && sb_fail "n1's corosync still lists n3: $(sb quorumtool n1 -l)"
for n in n1 n2; do
	[ -z "$(sb virsh "$n" list --name 2>/dev/null | grep -x g3)" ] || sb_fail "g3 runs on $n"
done
run_agent "$agent" action=status plug=n3
expect 2 "status n3 (off)"
grep -q "Status: OFF" <<<"$OUT" || sb_fail "status does not say OFF: $OUT"
run_agent "$agent" action=off plug=n3
expect 0 "off plug=n3 again (already off)"

echo "-- the fault agents"
run_agent "$SANDBOX_DIR/fence/fence_sandbox_fail" action=off plug=n2 password=secret
expect 1 "fence_sandbox_fail off n2"
grep -q "failing on purpose" <<<"$OUT" || sb_fail "the fail agent said nothing: $OUT"
grep -q secret <<<"$OUT" && sb_fail "the fail agent printed the password: $OUT"
sb pid n2 clusterd >/dev/null || sb_fail "the fail agent harmed n2"
AGENT_TIMEOUT=3 run_agent "$SANDBOX_DIR/fence/fence_sandbox_hang" action=off plug=n2
expect 124 "fence_sandbox_hang off n2 (killed by timeout 3)"
[ "$MS" -ge 2900 ] || sb_fail "the hang agent returned after $MS ms"
sb pid n2 clusterd >/dev/null || sb_fail "the hang agent harmed n2"
for p in $(sb node-pids n1); do
	[ "$(cat "/proc/$p/comm" 2>/dev/null)" != sleep ] || sb_fail "the hang agent's sleep (pid $p) outlived its timeout"
done
echo "  the hang agent ended with its timeout, nothing of it left in n1"

echo "-- fence_sandbox: on n3, reboot n2"
AGENT_TIMEOUT=120 run_agent "$agent" action=on plug=n3
expect 0 "on plug=n3"
sb wait-quorate --timeout 20 n1 n2 n3 || sb_fail "n3 did not rejoin after on"
for s in corosync libvirtd clusterd; do
	p=$(sb pid n3 "$s") || sb_fail "n3: $s not running after on"
	[ "$p" != "${svc[$s]}" ] || sb_fail "n3: $s has its old pid $p"
done
run_agent "$agent" action=status plug=n3
expect 0 "status n3 (on again)"
sb virsh n3 list --name | grep -qx g3 && sb_fail "g3 came back on n3 by itself"
n2_before=$(sb node-pids n2 | paste -sd' ' -)
AGENT_TIMEOUT=120 run_agent "$agent" action=reboot plug=n2
expect 0 "reboot plug=n2"
# shellcheck disable=SC2086
[ -z "$(alive_of $n2_before)" ] || sb_fail "reboot left old n2 processes: $(alive_of $n2_before)"
sb wait-quorate --timeout 20 n1 n2 n3 || sb_fail "n2 did not rejoin after reboot"
echo "  n2 rebooted: old processes ($n2_before) gone, new: $(sb node-pids n2 | paste -sd' ' -); quorate with 3"

it_splitbrain_stop
echo "fence_sandbox: off killed every process of n3 (QEMU too) from n1, status off, on/reboot bring nodes back; fail and hang agents behave"
sb_down
