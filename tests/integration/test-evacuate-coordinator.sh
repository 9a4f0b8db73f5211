#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The coordinator fails during an evacuation, real corosync, libvirt and
# QEMU, five nodes: n5 runs two HA guests and is killed; during the
# self-fence wait the coordinator n1 is killed too. n2 becomes coordinator
# (3 of 5: still quorate), finishes the evacuation from the replicated
# state (n5's departure, the registry) and restarts both guests — each
# exactly once (split-brain checker, QEMU census, the guests' leases).
. "$(dirname "$0")/lib.sh"
it_require_libvirt

FENCE_SETTINGS="self_fence_ms = 4000; isolation_grace_ms = 1000;" sb_up --nodes 5 --libvirt
for g in vma vmb; do
	sb guest-start n5 $g --mem 128 --dirty-mb 16 --dirty-rate 10 || sb_fail "guest-start $g failed"
done
for g in vma vmb; do sb_guest_wait_tick n5 $g 2 120 >/dev/null || sb_fail "$g did not start"; done
it_wait_json n2 vms '[.vms[] | select(.node == "n5")] | length' 2 30 || sb_fail "n2 does not list the guests"
for g in vma vmb; do it_ctl n3 ha add $g >/dev/null || sb_fail "ha add $g failed"; done
it_wait_json n2 vms '[.vms[] | select(.ha)] | length' 2 10 || sb_fail "not both HA on n2"
[ "$(it_json n2 nodes '.coordinator')" = 1 ] || sb_fail "n1 is not the coordinator"
it_splitbrain_start
m1=$(sb_log_lines n1) m2=$(sb_log_lines n2)
sb kill n5 >/dev/null || sb_fail "cannot kill n5"
sb_wait_log n1 'evacuation: n5: self-fence wait' 30 "$m1" >/dev/null || sb_fail "n1 did not start the evacuation"
sleep 1
sb kill n1 >/dev/null || sb_fail "cannot kill n1"
it_wait_json n2 nodes '.coordinator' 2 30 || sb_fail "n2 did not become coordinator"
it_wait_json n2 vms '[.vms[] | select(.ha and .state == "running")] | length' 2 90 ||
	sb_fail "the new coordinator did not finish the evacuation: $(it_ctl n2 evacuation 2>&1)"
tail -n "+$((m2 + 1))" "$(sb_log_file n2)" | grep -E "coordinator|fence:|evacuation: (restarting|n5)" | sed 's/^/  n2: /'
! tail -n "+$((m1 + 1))" "$(sb_log_file n1)" | grep -q "evacuation: restarting" || sb_fail "n1 restarted something before it died"
for g in vma vmb; do
	c=0
	for n in n2 n3 n4; do sb virsh $n list --name 2>/dev/null | grep -qx $g && c=$((c + 1)); done
	[ $c = 1 ] || sb_fail "$g runs on $c nodes"
	[ "$(tail -n "+$((m2 + 1))" "$(sb_log_file n2)" | grep -c "evacuation: restarting $g ")" = 1 ] ||
		sb_fail "$g was asked to restart other than once"
done
sleep 3 # anything started twice would show now
it_qemu_census
it_splitbrain_stop
echo "coordinator killed mid-evacuation: n2 took over and restarted each HA guest once"
sb_down
