#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A migration that cannot finish in time: the guest dirties its memory
# faster than the capped bandwidth (8 Mbit/s, no auto-converge) can carry,
# with migration.timeout_s_per_gib = 2. clusterd aborts the job when the
# deadline passes (virDomainAbortJob from the migration's process): the
# migration fails saying why, the VM keeps running on its source, untouched,
# and nothing runs on the target.
. "$(dirname "$0")/lib.sh"
it_require_libvirt

MIG_SETTINGS="timeout_s_per_gib = 2; auto_converge = false; bandwidth_mbps = 8;" sb_up --nodes 2 --libvirt
sb guest-start n1 vm1 --mem 128 --dirty-mb 32 --dirty-rate 0 || sb_fail "guest-start failed"
read -r _ boot _ _ < <(sb_guest_wait_tick n1 vm1 3 60) || sb_fail "the guest did not start ticking"
it_wait_json n2 vms '[.vms[] | select(.name == "vm1") | .node]' '["n1"]' 20 || sb_fail "n2 does not see vm1 on n1"

out=$(it_ctl n2 migrate vm1 n2 --wait --timeout 60 2>&1)
rc=$?
echo "$out" | sed 's/^/  /'
[ $rc = 1 ] || sb_fail "the migration should have failed (exit $rc)"
grep -q 'not complete after [0-9]* s (2 s per GiB' <<<"$out" || sb_fail "the failure does not name the deadline: $out"
sb_wait_log n1 'aborting: not complete after' 5 || sb_fail "n1 did not log the abort"
[ "$(sb virsh n1 domstate vm1 2>/dev/null | head -n 1)" = running ] || sb_fail "vm1 is not running on its source"
! sb virsh n2 list --name 2>/dev/null | grep -qx vm1 || sb_fail "vm1 runs on n2 too"
read -r tick b errs bad < <(sb_guest_wait_tick n1 vm1 $(($(sb_guest_tick n1 vm1 | cut -d' ' -f1) + 2)) 30) ||
	sb_fail "vm1 stopped ticking on n1"
[ "$b" = "$boot" ] && [ "$errs" = 0 ] && [ "$bad" = 0 ] || sb_fail "vm1 on n1: boot $b (was $boot) errs=$errs bad=$bad"
echo "deadline passed: aborted, vm1 still on n1 (boot $boot, TICK $tick, errs=0)"
