#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A migration whose target dies under it: the target's libvirtd is killed
# while clusterctl migrate runs. The migration fails with a reason, the VM
# keeps running on its source, untouched (same boot id, ticking, zero
# memory errors), nothing runs on the target, and the table says failed on
# every node. A failed migration never loses the VM.
. "$(dirname "$0")/lib.sh"
it_require_libvirt

sb_up --nodes 2 --libvirt
# a guest that keeps dirtying memory fast: the migration takes a while
sb guest-start n1 vm1 --mem 512 --dirty-mb 256 --dirty-rate 0 || sb_fail "guest-start failed"
read -r _ boot _ _ < <(sb_guest_wait_tick n1 vm1 3 60) || sb_fail "the guest did not start ticking"
it_wait_json n2 vms '[.vms[] | select(.name == "vm1") | .node]' '["n1"]' 20 || sb_fail "n2 does not see vm1 on n1"

it_ctl n1 migrate vm1 n2 --wait >"$SANDBOX_DIR/migrate.out" 2>&1 &
ctl=$!
it_wait_json n1 migrations '[.migrations[] | select(.vm == "vm1") | .state] | last' '"running"' 20 ||
	sb_fail "the migration never ran"
sb kill n2 libvirtd || sb_fail "could not kill n2's libvirtd"
wait $ctl
rc=$?
out=$(cat "$SANDBOX_DIR/migrate.out")
echo "$out" | sed 's/^/  /'
[ $rc = 1 ] || sb_fail "clusterctl migrate --wait: exit $rc, want 1 (failed)"
grep -q 'migration failed' <<<"$out" || sb_fail "no failure reason: $out"

[ "$(sb virsh n1 domstate vm1 2>/dev/null | head -n 1)" = running ] || sb_fail "vm1 is not running on its source"
mark=$(sb_guest_lines n1 vm1)
read -r tick b errs bad < <(sb_guest_wait_tick n1 vm1 $(($(sb_guest_tick n1 vm1 | cut -d' ' -f1) + 2)) 30) ||
	sb_fail "vm1 stopped ticking on n1"
[ "$b" = "$boot" ] || sb_fail "vm1 restarted (boot $b, was $boot)"
[ "$errs" = 0 ] && [ "$bad" = 0 ] || sb_fail "vm1 on n1: errs=$errs static_bad=$bad"
sb start n2 libvirtd || sb_fail "could not restart n2's libvirtd"
! sb virsh n2 list --name 2>/dev/null | grep -qx vm1 || sb_fail "vm1 runs on n2 too"
for n in n1 n2; do
	it_wait_json $n migrations '[.migrations[] | select(.vm == "vm1") | .state] | last' '"failed"' 10 ||
		sb_fail "$n's table does not say failed"
done
echo "target's libvirtd killed mid-migration: failed cleanly, vm1 still on n1 (boot $boot, TICK $tick, errs=0)"
