#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The failure policy's other rules, real corosync, libvirt and QEMU:
#  1. two of three nodes fail: the survivor is not quorate — it restarts
#     nothing, says why, and self-fences its own HA guest;
#  2. degraded is not dead: n3's cluster link is cut (management and
#     migration links up) for longer than heartbeat.degraded_grace_s → n3 is
#     drained live (its HA guest keeps its boot id), nothing is restarted;
#  3. quarantine: n3 fails twice within fencing.quarantine_window_s → it is
#     quarantined, takes no VMs; `quarantine clear` → it takes VMs again.
. "$(dirname "$0")/lib.sh"
it_require_libvirt

echo "-- 1. two of three fail: no quorum, nothing restarted"
FENCE_SETTINGS="self_fence_ms = 2000; isolation_grace_ms = 500;" sb_up --nodes 3 --libvirt
sb guest-start n1 vmx --mem 128 --dirty-mb 16 --dirty-rate 10 || sb_fail "guest-start vmx failed"
sb guest-start n3 vmy --mem 128 --dirty-mb 16 --dirty-rate 10 || sb_fail "guest-start vmy failed"
sb_guest_wait_tick n1 vmx 2 90 >/dev/null && sb_guest_wait_tick n3 vmy 2 90 >/dev/null || sb_fail "guests did not start"
it_wait_json n1 vms '[.vms[]] | length' 2 20 || sb_fail "n1 does not list both guests"
it_ctl n1 ha add vmx >/dev/null && it_ctl n1 ha add vmy >/dev/null || sb_fail "ha add failed"
it_wait_json n1 vms '[.vms[] | select(.ha)] | length' 2 10 || sb_fail "not both HA"
it_splitbrain_start
m1=$(sb_log_lines n1)
sb kill n3 >/dev/null && sb kill n2 >/dev/null || sb_fail "cannot kill n2/n3"
sb_wait_log n1 'self-fence: vmx.s QEMU killed' 30 "$m1" >/dev/null || sb_fail "n1 (alone, not quorate) did not self-fence vmx"
sleep 5
[ -z "$(sb virsh n1 list --name 2>/dev/null | grep .)" ] || sb_fail "n1 runs something without quorum: $(sb virsh n1 list --name)"
! tail -n "+$((m1 + 1))" "$(sb_log_file n1)" | grep -q "evacuation: restarting" || sb_fail "n1 restarted something without quorum"
out=$(it_ctl n1 status 2>&1)
grep -qi "not quorate" <<<"$out" || sb_fail "status on n1 does not say it is not quorate"
out=$(it_ctl n1 ha remove vmx 2>&1)
[ $? = 4 ] || sb_fail "a change without quorum should exit 4: $out"
tail -n "+$((m1 + 1))" "$(sb_log_file n1)" | grep -E "quorum|self-fence" | sed 's/^/  n1: /'
it_qemu_census
it_splitbrain_stop
sb_down
SB_UP_DONE=0

echo "-- 2. degraded, not dead: drained live"
HB_SETTINGS="degraded_grace_s = 3;" sb_up --nodes 3 --libvirt
sb guest-start n3 vmd --mem 128 --dirty-mb 16 --dirty-rate 10 || sb_fail "guest-start vmd failed"
read -r _ boot _ _ < <(sb_guest_wait_tick n3 vmd 2 90) || sb_fail "vmd did not start"
it_wait_json n1 vms '[.vms[] | select(.name == "vmd") | .node]' '["n3"]' 20 || sb_fail "n1 does not list vmd"
it_ctl n1 ha add vmd >/dev/null || sb_fail "ha add vmd failed"
it_wait_json n2 vms '[.vms[] | select(.ha)] | length' 1 10 || sb_fail "vmd not HA on n2"
it_splitbrain_start
m1=$(sb_log_lines n1)
sb link-down n3 cluster >/dev/null || sb_fail "link-down failed"
it_wait_json n1 nodes '.nodes[] | select(.name == "n3") | .state' '"degraded"' 30 || sb_fail "n3 never degraded"
it_wait_json n1 nodes '.nodes[] | select(.name == "n3") | .admin' '"drained"' 90 ||
	sb_fail "n3 was not drained: $(it_ctl n1 nodes 2>&1)"
it_json n1 nodes '.nodes[] | select(.name == "n3") | .admin_reason // ""' | grep -q "degraded" ||
	grep -q "degraded for" "$(sb_log_file n1)" || sb_fail "the drain does not say degraded"
node=$(it_json n1 vms '.vms[] | select(.name == "vmd") | .node' | tr -d '"')
case $node in n1 | n2) ;; *) sb_fail "vmd is on '$node' after the drain" ;; esac
read -r _ b errs bad < <(sb_guest_wait_tick "$node" vmd 2 60) || sb_fail "vmd does not tick on $node"
[ "$b" = "$boot" ] || sb_fail "vmd was restarted (boot $b, was $boot), not moved live"
[ "$errs" = 0 ] && [ "$bad" = 0 ] || sb_fail "vmd errs=$errs static_bad=$bad"
! tail -n "+$((m1 + 1))" "$(sb_log_file n1)" | grep -qE "evacuation: restarting|fence: running|is fenced" || sb_fail "a degraded node was fenced or its VM restarted"
tail -n "+$((m1 + 1))" "$(sb_log_file n1)" | grep -E "degraded|drain" | head -5 | sed 's/^/  n1: /'
echo "  vmd moved live to $node (same boot id); n3 drained, never fenced"
sb link-up n3 cluster >/dev/null
it_qemu_census
it_splitbrain_stop
sb_down
SB_UP_DONE=0

echo "-- 3. quarantine"
FENCE_SETTINGS="self_fence_ms = 2000; isolation_grace_ms = 500; quarantine_failures = 2; quarantine_window_s = 600; quarantine_s = 600;" \
	sb_up --nodes 3 --libvirt
sb guest-start n1 vmq --mem 128 --dirty-mb 16 --dirty-rate 10 || sb_fail "guest-start vmq failed"
sb_guest_wait_tick n1 vmq 2 90 >/dev/null || sb_fail "vmq did not start"
for k in 1 2; do
	sb kill n3 >/dev/null || sb_fail "cannot kill n3"
	it_wait_json n1 nodes '.nodes[] | select(.name == "n3") | .state' '"failed"' 30 || sb_fail "n3 did not fail ($k)"
	sb start n3 >/dev/null || sb_fail "n3 did not restart ($k)"
	it_wait_json n1 nodes '.nodes[] | select(.name == "n3") | .state' '"online"' 60 || sb_fail "n3 not back ($k)"
done
it_wait_json n1 nodes '.nodes[] | select(.name == "n3") | .admin' '"quarantined"' 30 ||
	sb_fail "n3 was not quarantined after two failures: $(it_ctl n1 nodes 2>&1)"
it_ctl n1 nodes | sed 's/^/  | /'
out=$(it_ctl n2 migrate vmq n3 2>&1)
[ $? = 1 ] && grep -q "quarantined" <<<"$out" || sb_fail "a quarantined node took a VM: $out"
echo "  refused as it should: $out"
it_ctl n2 quarantine clear n3 || sb_fail "quarantine clear failed"
it_wait_json n1 nodes '.nodes[] | select(.name == "n3") | [.state, .admin]' '["online","none"]' 10 || sb_fail "n3 not back to none"
it_ctl n2 migrate vmq n3 --wait >/dev/null || sb_fail "n3 does not take a VM after the clear"
out=$(it_ctl n2 quarantine clear n3 2>&1)
[ $? = 1 ] && grep -q "not quarantined" <<<"$out" || sb_fail "clearing twice: $out"
echo "failure policy: no quorum -> nothing restarted, self-fenced; degraded -> drained live; flapping -> quarantined, cleared"
sb_down
