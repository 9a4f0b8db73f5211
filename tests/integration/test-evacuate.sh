#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Evacuation after a node dies, self-fencing mode, real corosync, libvirt
# and QEMU: n3 runs two HA guests (priorities 5 and 1) and one that is not
# HA. kill -9 of every process of n3 (corosync, clusterd, libvirtd, its
# QEMUs) → the survivors wait detection + self_fence_ms + margin, record n3
# as fenced, and restart the two HA guests on n1/n2 from the registry's XML:
# new boot ids (restarted, not migrated), zero memory errors; the non-HA
# guest is not restarted. The time from the kill is printed. n3 comes back
# ONLINE, no longer fenced, running nothing; every guest runs exactly once.
. "$(dirname "$0")/lib.sh"
it_require_libvirt

FENCE_SETTINGS="self_fence_ms = 3000; isolation_grace_ms = 1000;" sb_up --nodes 3 --libvirt
declare -A boot
for g in vma vmb vmc; do
	sb guest-start n3 $g --mem 128 --dirty-mb 16 --dirty-rate 10 || sb_fail "guest-start $g failed"
done
for g in vma vmb vmc; do
	read -r _ boot[$g] _ _ < <(sb_guest_wait_tick n3 $g 2 90) || sb_fail "$g did not start"
done
it_wait_json n1 vms '[.vms[] | select(.node == "n3")] | length' 3 20 || sb_fail "n1 does not list 3 VMs on n3"
it_ctl n1 ha add vma --priority 5 >/dev/null || sb_fail "ha add vma failed"
it_ctl n2 ha add vmb --priority 1 >/dev/null || sb_fail "ha add vmb failed"
it_wait_json n1 vms '[.vms[] | select(.ha)] | length' 2 10 || sb_fail "n1 does not list 2 HA VMs"
out=$(it_ctl n1 evacuation 2>&1)
grep -q "nothing to do" <<<"$out" || sb_fail "evacuation should have nothing to do: $out"
it_splitbrain_start

mark=$(sb_log_lines n1)
t0=$EPOCHREALTIME
sb kill n3 >/dev/null || sb_fail "cannot kill n3"
it_wait_json n1 nodes '.nodes[] | select(.name == "n3") | .state' '"failed"' 30 || sb_fail "n3 never failed"
out=$(it_ctl n1 evacuation 2>&1)
echo "  during the wait: $out"
grep -qE "n3: (self-fence wait|self-fence time passed|fenced)" <<<"$out" || sb_fail "evacuation does not say it waits for n3's self-fence: $out"
deadline=$((SECONDS + 90))
while :; do
	where=$(it_json n1 vms '[.vms[] | select(.ha and .state == "running") | .node] | sort | join(",")' | tr -d '"')
	[ "$(it_json n1 vms '[.vms[] | select(.ha and .state == "running" and (.node == "n1" or .node == "n2"))] | length')" = 2 ] && break
	[ $SECONDS -lt $deadline ] || sb_fail "the HA VMs were not restarted on n1/n2 (running on: '$where'): $(it_ctl n1 evacuation 2>&1)"
	sleep 0.1
done
t1=$EPOCHREALTIME
ms=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%d", (b - a) * 1000 }')
echo "  kill -9 of n3 -> both HA VMs running on survivors: $ms ms (self_fence_ms 3000)"
[ "$ms" -ge 3000 ] || sb_fail "restarted after $ms ms: before the self-fence time (3000 ms) could have passed"
it_json n1 nodes '.nodes[] | select(.name == "n3") | .fenced' | grep -q "self-fence wait" || sb_fail "n3 is not recorded as fenced by the self-fence wait"
tail -n "+$((mark + 1))" "$(sb_log_file n1)" | grep -E "fence:|evacuation:" | sed 's/^/  n1: /'
first=$(tail -n "+$((mark + 1))" "$(sb_log_file n1)" | grep -m1 -oE "evacuation: restarting vm[ab]" | awk '{ print $3 }')
[ "$first" = vma ] || sb_fail "vma (priority 5) was not restarted first (first: '$first')"
for g in vma vmb; do
	node=$(it_json n1 vms ".vms[] | select(.name == \"$g\") | .node" | tr -d '"')
	read -r tick b errs bad < <(sb_guest_wait_tick "$node" $g 2 60) || sb_fail "$g does not tick on $node"
	[ "$b" != "${boot[$g]}" ] || sb_fail "$g on $node has the old boot id: it was not restarted"
	[ "$errs" = 0 ] && [ "$bad" = 0 ] || sb_fail "$g on $node: errs=$errs static_bad=$bad"
	echo "  $g restarted on $node (new boot $b, TICK $tick, errs=0)"
done
[ "$(it_json n1 vms '[.vms[] | select(.name == "vmc")] | length')" = 0 ] || sb_fail "vmc (not HA) appears somewhere: $(it_ctl n1 vms)"

# n3 comes back: online, not fenced, running nothing
sb start n3 >/dev/null || sb_fail "n3 did not restart"
for n in n1 n2 n3; do
	it_wait_json $n nodes '.nodes[] | select(.name == "n3") | [.state, .fenced]' '["online",null]' 60 ||
		sb_fail "$n does not show n3 online and unfenced"
done
sleep 3
[ -z "$(sb virsh n3 list --name 2>/dev/null | grep .)" ] || sb_fail "n3 runs something after coming back: $(sb virsh n3 list --name)"
for g in vma vmb; do
	c=0
	for n in n1 n2 n3; do sb virsh $n list --name 2>/dev/null | grep -qx $g && c=$((c + 1)); done
	[ $c = 1 ] || sb_fail "$g runs on $c nodes"
done
it_qemu_census
it_splitbrain_stop
echo "n3 killed: its two HA VMs restarted on survivors after the self-fence wait, priority first; the other left alone; n3 back empty"
sb_down
