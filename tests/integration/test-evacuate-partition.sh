#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Self-fencing in a partition, real corosync, libvirt and QEMU: n1 runs two
# HA guests and is cut off from n2 and n3 (every network). n1 loses quorum
# and, after fencing.isolation_grace_ms, destroys its HA guests itself; the
# quorate pair restarts them only after detection + self_fence_ms + margin,
# i.e. after n1 has destroyed them (compared by log time stamps on this one
# machine). After the heal n1 rejoins, runs nothing, and each guest runs
# exactly once. A brief loss of quorum (under the grace) costs nothing.
. "$(dirname "$0")/lib.sh"
it_require_libvirt

FENCE_SETTINGS="self_fence_ms = 3000; isolation_grace_ms = 1000;" sb_up --nodes 3 --libvirt
declare -A boot
for g in vma vmb; do
	sb guest-start n1 $g --mem 128 --dirty-mb 16 --dirty-rate 10 || sb_fail "guest-start $g failed"
done
for g in vma vmb; do
	read -r _ boot[$g] _ _ < <(sb_guest_wait_tick n1 $g 2 90) || sb_fail "$g did not start"
done
it_wait_json n2 vms '[.vms[] | select(.node == "n1")] | length' 2 20 || sb_fail "n2 does not list 2 VMs on n1"
for g in vma vmb; do it_ctl n2 ha add $g >/dev/null || sb_fail "ha add $g failed"; done
it_wait_json n1 vms '[.vms[] | select(.ha)] | length' 2 10 || sb_fail "n1 does not list 2 HA VMs"
it_splitbrain_start

m1=$(sb_log_lines n1) m2=$(sb_log_lines n2)
sb partition 1 2,3 >/dev/null || sb_fail "partition failed"
sb_wait_log n1 'self-fence: quorum lost [0-9]+ ms ago: destroying HA VMs' 30 "$m1" >/dev/null ||
	sb_fail "n1 did not self-fence"
it_wait_json n2 vms '[.vms[] | select(.ha and .state == "running" and (.node == "n2" or .node == "n3"))] | length' 2 60 ||
	sb_fail "the pair did not restart the HA VMs: $(it_ctl n2 evacuation 2>&1)"
t_fence=$(sb_log_first_ts n1 'self-fence: quorum lost [0-9]+ ms ago: destroying HA VMs' "$m1")
sb_wait_log n1 'self-fence: HA VMs destroyed' 30 "$m1" >/dev/null || sb_fail "n1 never confirmed its HA VMs destroyed"
t_done=$(sb_log_first_ts n1 "self-fence: vm[ab]'s QEMU killed" "$m1")
t_last=$(tail -n "+$((m1 + 1))" "$(sb_log_file n1)" | grep "self-fence: vm[ab]'s QEMU killed" | tail -1 | awk '{ print $1 }')
t_restart=$(sb_log_first_ts n2 'evacuation: restarting vm' "$m2")
[ -n "$t_done" ] || sb_fail "n1 killed no QEMU"
[ "$(tail -n "+$((m1 + 1))" "$(sb_log_file n1)" | grep -c "self-fence: vm[ab]'s QEMU killed")" = 2 ] || sb_fail "n1 did not kill both QEMUs"
t_done=$(sb_log_ts_to_epoch "$t_last")
tail -n "+$((m1 + 1))" "$(sb_log_file n1)" | grep -E "quorum|self-fence" | sed 's/^/  n1: /'
tail -n "+$((m2 + 1))" "$(sb_log_file n2)" | grep -E "fence:|evacuation: (restarting|n1)" | sed 's/^/  n2: /'
gap=$(sb_ms_between "$t_done" "$t_restart")
echo "  n1 had killed its HA VMs' QEMUs $gap ms before the pair restarted the first one"
[ "$gap" -gt 0 ] || sb_fail "the pair restarted a VM ($t_restart) before n1 had destroyed it ($t_done)"
[ -z "$(sb virsh n1 list --name 2>/dev/null | grep .)" ] || sb_fail "n1 still runs: $(sb virsh n1 list --name)"
out=$(it_ctl n1 status 2>&1)
echo "$out" | grep -qi "not quorate" || sb_fail "n1's status does not say it is not quorate"
for g in vma vmb; do
	node=$(it_json n2 vms ".vms[] | select(.name == \"$g\") | .node" | tr -d '"')
	read -r _ b errs bad < <(sb_guest_wait_tick "$node" $g 2 60) || sb_fail "$g does not tick on $node"
	[ "$b" != "${boot[$g]}" ] || sb_fail "$g on $node has its old boot id"
	[ "$errs" = 0 ] && [ "$bad" = 0 ] || sb_fail "$g on $node: errs=$errs static_bad=$bad"
done

# heal: n1 rejoins, unfenced, running nothing; every guest once
sb heal >/dev/null || sb_fail "heal failed"
for n in n1 n2 n3; do
	it_wait_json $n nodes '.nodes[] | select(.name == "n1") | [.state, .fenced]' '["online",null]' 60 ||
		sb_fail "$n does not show n1 online, unfenced after the heal"
done
sleep 2
[ -z "$(sb virsh n1 list --name 2>/dev/null | grep .)" ] || sb_fail "n1 runs something after the heal"
for g in vma vmb; do
	c=0
	for n in n1 n2 n3; do sb virsh $n list --name 2>/dev/null | grep -qx $g && c=$((c + 1)); done
	[ $c = 1 ] || sb_fail "$g runs on $c nodes"
done
it_qemu_census

# a blip shorter than the isolation grace costs nothing
node=$(it_json n2 vms '.vms[] | select(.name == "vma") | .node' | tr -d '"')
read -r before b0 _ _ < <(sb_guest_tick "$node" vma)
m=$(sb_log_lines "$node")
sb link-down "$node" cluster >/dev/null
sb link-down "$node" management >/dev/null
sb link-down "$node" migration >/dev/null
sleep 0.3
sb heal >/dev/null
sleep 3
! tail -n "+$((m + 1))" "$(sb_log_file "$node")" | grep -q "self-fence: quorum lost" || sb_fail "a 0.3 s blip made $node self-fence"
read -r after b1 _ _ < <(sb_guest_wait_tick "$node" vma $((before + 1)) 30) || sb_fail "vma stopped ticking after a blip"
[ "$b1" = "$b0" ] || sb_fail "vma restarted after a blip"
it_qemu_census
it_splitbrain_stop
echo "partition: n1 self-fenced before the pair restarted its HA VMs; heal: every VM once; a blip cost nothing"
sb_down
