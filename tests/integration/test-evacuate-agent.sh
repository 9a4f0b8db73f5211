#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Evacuation with a fence agent (the sandbox's own, speaking the
# fence-agents protocol), real corosync, libvirt and QEMU:
#  1. fence_sandbox: n3 is killed; the coordinator runs the agent
#     (action=off plug=n3), records n3 fenced by it and restarts n3's HA
#     guest at once — long before the self-fence wait (10 s) would end. The
#     coordinator usually runs the agent before corosync has formed the new
#     membership (it sees n3 dead by heartbeat and by corosync's knet links);
#     the restart still waits for that membership; meanwhile the guest's
#     copy is started paused on the survivor it will go to, and the restart
#     order resumes it there (nothing paused is left behind).
#  2. an agent that always fails, allow_self_fence_fallback = false: tried
#     twice (plus at most one early attempt), nothing restarted, `clusterctl evacuation` says why; an
#     administrator's `clusterctl fence n3 --confirm` then lets it restart.
#  3. an agent that hangs: killed at agent_timeout_s, tried twice (+ early), then the
#     self-fence wait (fallback allowed) and the restart.
# The split-brain checker watches every scenario.
. "$(dirname "$0")/lib.sh"
it_require_libvirt

scenario() { # AGENT FENCE_SETTINGS
	FENCE_AGENT=$1 FENCE_SETTINGS=$2 sb_up --nodes 3 --libvirt
	sb guest-start n3 vma --mem 128 --dirty-mb 16 --dirty-rate 10 || sb_fail "guest-start vma failed"
	read -r _ boot _ _ < <(sb_guest_wait_tick n3 vma 2 90) || sb_fail "vma did not start"
	it_wait_json n1 vms '[.vms[] | select(.name == "vma") | .node]' '["n3"]' 20 || sb_fail "n1 does not list vma on n3"
	it_ctl n1 ha add vma >/dev/null || sb_fail "ha add vma failed"
	it_wait_json n2 vms '[.vms[] | select(.ha)] | length' 1 10 || sb_fail "vma is not HA on n2"
	it_splitbrain_start
	mark=$(sb_log_lines n1)
	t0=$EPOCHREALTIME
	sb kill n3 >/dev/null || sb_fail "cannot kill n3"
}

restarted_within() { # TIMEOUT_S: vma running on n1/n2; prints ms since the kill
	it_wait_json n1 vms '[.vms[] | select(.name == "vma" and .state == "running") | .node] | map(select(. == "n1" or . == "n2")) | length' 1 "$1" ||
		return 1
	awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%d", (b - a) * 1000 }'
}

finish() {
	it_qemu_census
	it_splitbrain_stop
	sb_down
	SB_UP_DONE=0
}

echo "-- 1. fence_sandbox"
scenario fence_sandbox "agent_timeout_s = 10;"
ms=$(restarted_within 30) || sb_fail "vma was not restarted: $(it_ctl n1 evacuation 2>&1)"
tail -n "+$((mark + 1))" "$(sb_log_file n1)" | grep -E "fence:|evacuation: (restarting|n3)" | sed 's/^/  n1: /'
echo "  kill -9 of n3 -> vma running on a survivor: $ms ms (the self-fence wait alone would be 10000 ms)"
[ "$ms" -lt 10000 ] || sb_fail "took $ms ms: the agent did not shorten the wait"
# fenced early or not, nothing restarts before corosync's membership is
# without n3 (n1 logs n3 failed before it asks for the restart)
lines=$(tail -n "+$((mark + 1))" "$(sb_log_file n1)")
l_failed=$(grep -n 'cluster: node n3: .* -> failed' <<<"$lines" | head -n 1 | cut -d: -f1)
l_restart=$(grep -n 'evacuation: restarting vma' <<<"$lines" | head -n 1 | cut -d: -f1)
[ -n "$l_failed" ] && [ -n "$l_restart" ] && [ "$l_failed" -lt "$l_restart" ] ||
	sb_fail "vma's restart was asked (log line ${l_restart:-none}) before n3 was failed (line ${l_failed:-none})"
it_json n1 nodes '.nodes[] | select(.name == "n3") | .fenced' | grep -q "fence agent" || sb_fail "n3 is not recorded as fenced by the agent"
node=$(it_json n1 vms '.vms[] | select(.name == "vma") | .node' | tr -d '"')
if grep -q 'evacuation: n3: seen dead .*fence agent running early' <<<"$lines"; then
	echo "  the agent ran early (before corosync's new membership); the restart waited for it"
	# its copy was started paused on a survivor meanwhile, and the restart
	# order went there and resumed it
	prep=$(sed -n 's/.*evacuation: preparing vma on \(n[0-9]\).*/\1/p' <<<"$lines" | head -n 1)
	[ -n "$prep" ] || sb_fail "n3 was fenced early but vma was not prepared on a survivor"
	[ "$prep" = "$node" ] || sb_fail "vma was prepared on $prep but restarted on $node"
	sb_wait_log "$node" 'evacuation: vma started here \(.*its prepared copy resumed\)' 10 >/dev/null ||
		sb_fail "$node did not resume vma's prepared copy"
	echo "  vma was prepared paused on $prep while corosync re-formed; the restart resumed it"
else
	echo "  the agent ran once corosync had formed the new membership (not seen dead early)"
fi
for n in n1 n2; do
	paused=$(sb virsh "$n" list --state-paused --name 2>/dev/null | tr -d '\n')
	[ -z "$paused" ] || sb_fail "$n still holds a paused domain: $paused"
done
read -r _ b errs bad < <(sb_guest_wait_tick "$node" vma 2 60) || sb_fail "vma does not tick on $node"
[ "$b" != "$boot" ] && [ "$errs" = 0 ] && [ "$bad" = 0 ] || sb_fail "vma on $node: boot $b (was $boot), errs=$errs static_bad=$bad"
finish

echo "-- 2. an agent that fails, no fallback; then an administrator confirms"
scenario fence_sandbox_fail "allow_self_fence_fallback = false; self_fence_ms = 2000; isolation_grace_ms = 500;"
sb_wait_log n1 'fence: agent failed for n3' 30 "$mark" >/dev/null || sb_fail "the agent was not run (or did not fail)"
sleep 6 # two attempts, and well past detection + self_fence_ms + margin
# twice once corosync agreed, plus the early attempt when the coordinator saw
# n3 dead first (heartbeat and corosync's links; at most once, not counted)
early=$(tail -n "+$((mark + 1))" "$(sb_log_file n1)" | grep -c 'evacuation: n3: seen dead .*fence agent running early')
[ "$early" -le 1 ] || sb_fail "the early fence attempt was made $early times"
[ "$(tail -n "+$((mark + 1))" "$(sb_log_file n1)" | grep -c 'fence: running .* plug=n3')" = $((2 + early)) ] ||
	sb_fail "the agent was not tried exactly twice (+$early early)"
out=$(it_ctl n1 evacuation 2>&1)
echo "  evacuation: $out"
grep -q "allow_self_fence_fallback is off" <<<"$out" || sb_fail "evacuation does not say why nothing is restarted"
[ "$(it_json n1 vms '[.vms[] | select(.name == "vma" and .state == "running")] | length')" = 0 ] ||
	sb_fail "vma was restarted without a fence"
out=$(it_ctl n2 fence n3 2>&1)
[ $? = 2 ] || sb_fail "fence without --confirm should be a usage error: $out"
out=$(it_ctl n2 fence n1 --confirm 2>&1) && sb_fail "fencing a member was accepted: $out"
echo "  refused as it should: $out"
it_ctl n2 fence n3 --confirm || sb_fail "fence n3 --confirm failed"
ms=$(restarted_within 30) || sb_fail "vma was not restarted after the confirmation"
it_json n1 nodes '.nodes[] | select(.name == "n3") | .fenced' | grep -q "admin" || sb_fail "n3 is not recorded as fenced by the admin"
echo "  after the confirmation vma runs on a survivor"
finish

echo "-- 3. an agent that hangs: timeout, retry, then the self-fence fallback"
scenario fence_sandbox_hang "agent_timeout_s = 2; self_fence_ms = 2000; isolation_grace_ms = 500;"
ms=$(restarted_within 60) || sb_fail "vma was not restarted: $(it_ctl n1 evacuation 2>&1)"
tail -n "+$((mark + 1))" "$(sb_log_file n1)" | grep -E "fence:|evacuation: (restarting|n3)" | sed 's/^/  n1: /'
early=$(tail -n "+$((mark + 1))" "$(sb_log_file n1)" | grep -c 'evacuation: n3: seen dead .*fence agent running early')
[ "$early" -le 1 ] || sb_fail "the early fence attempt was made $early times"
[ "$(tail -n "+$((mark + 1))" "$(sb_log_file n1)" | grep -c 'fence: agent failed for n3: timed out after 2 s')" = $((2 + early)) ] ||
	sb_fail "the hanging agent was not timed out twice (+$early early)"
it_json n1 nodes '.nodes[] | select(.name == "n3") | .fenced' | grep -q "self-fence wait" || sb_fail "n3 is not recorded as fenced by the self-fence wait"
echo "  hanging agent: killed at its timeout twice, then the self-fence wait; vma restarted after $ms ms"
finish
echo "fence agent: fast restart; failing agent without fallback: nothing until confirmed; hanging agent: fallback"
