#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The split-brain checker (it_splitbrain_start/stop, tests/integration/lib.sh)
# and the guests' lease (tests/guest/dirty.c), shown to catch what they are
# for, and to stay quiet otherwise:
#  - the same guest started on n1 and on n2 at once: the checker records the
#    name running on two nodes, and BOTH instances print LEASE CONFLICT;
#  - a guest destroyed on n1 and started again on n2 (a restart after its
#    instance died, as an evacuation does): its stale lease is taken over,
#    no conflict;
#  - a guest live-migrated n1 -> n2 under the checker: same boot id, no
#    violation, no lease conflict; the checker's poll period is printed.
. "$(dirname "$0")/lib.sh"
it_require_libvirt

sb_up --nodes 3 --libvirt

# wait_conflicts NODE NAME MIN TIMEOUT_S: the guest's lease_conflicts >= MIN
wait_conflicts() {
	local c deadline=$((SECONDS + $4))
	while :; do
		c=$(sb_guest_lease_conflicts "$1" "$2") && [ "$c" -ge "$3" ] && return 0
		[ $SECONDS -ge $deadline ] && break
		sleep 0.2
	done
	echo "$1: guest $2: lease_conflicts=${c:-none}, want >= $3; console tail:" >&2
	tail -n 6 "$(sb_guest_serial "$1" "$2")" | sed 's/^/  | /' >&2
	return 1
}

echo "-- the same guest on two nodes at once"
it_splitbrain_start
sb guest-start n1 dup --dirty-mb 16 --dirty-rate 20 || sb_fail "guest-start dup on n1 failed"
read -r _ boot1 _ _ < <(sb_guest_wait_tick n1 dup 2 90) || sb_fail "dup does not tick on n1"
[ "$(sb_guest_lease_conflicts n1 dup)" = 0 ] || sb_fail "dup on n1 alone: lease_conflicts=$(sb_guest_lease_conflicts n1 dup), want 0"
sb guest-start n2 dup --dirty-mb 16 --dirty-rate 20 || sb_fail "guest-start dup on n2 failed"
read -r _ boot2 _ _ < <(sb_guest_wait_tick n2 dup 1 90) || sb_fail "dup does not tick on n2"
wait_conflicts n1 dup 1 15 || sb_fail "dup on n1 did not notice its twin"
wait_conflicts n2 dup 1 15 || sb_fail "dup on n2 did not notice its twin"
for n in n1 n2; do
	echo "  $n: $(grep -a -m1 'LEASE CONFLICT' "$(sb_guest_serial $n dup)" | tr -d '\r')"
done
grep -aq "LEASE CONFLICT held by boot=$boot2" "$(sb_guest_serial n1 dup)" || sb_fail "n1's dup does not name n2's boot $boot2"
grep -aq "LEASE CONFLICT held by boot=$boot1" "$(sb_guest_serial n2 dup)" || sb_fail "n2's dup does not name n1's boot $boot1"
it_splitbrain_stop --expect
[ "$IT_SB_VIOLATIONS" -gt 0 ] || sb_fail "the checker did not see dup running on n1 and n2"
[ "$IT_SB_LEASE_CONFLICTS" = 2 ] || sb_fail "the checker saw LEASE CONFLICT on $IT_SB_LEASE_CONFLICTS consoles, want 2"
grep -q 'vm=dup nodes=n1,n2$' "$SANDBOX_DIR/splitbrain.log" || sb_fail "splitbrain.log does not name dup on n1,n2"
echo "  checker: $IT_SB_VIOLATIONS rounds with dup on n1,n2, first: $(head -n 1 "$SANDBOX_DIR/splitbrain.log")"
sb virsh n2 destroy dup >/dev/null || sb_fail "destroy dup on n2 failed"
sb virsh n1 destroy dup >/dev/null || sb_fail "destroy dup on n1 failed"

echo "-- a guest restarted elsewhere after its instance died: no conflict"
it_splitbrain_start
sb guest-start n1 rs --dirty-mb 16 --dirty-rate 20 || sb_fail "guest-start rs on n1 failed"
read -r _ rboot1 _ _ < <(sb_guest_wait_tick n1 rs 2 90) || sb_fail "rs does not tick on n1"
qemu=$(cat "$SANDBOX_DIR/n1/run/libvirt/qemu/rs.pid") || sb_fail "no QEMU pid file for rs on n1"
kill -KILL "$qemu" # the instance dies as in a node crash: no shutdown
sb guest-start n2 rs --dirty-mb 16 --dirty-rate 20 || sb_fail "guest-start rs on n2 failed"
read -r _ rboot2 _ _ < <(sb_guest_wait_tick n2 rs 4 90) || sb_fail "rs does not tick on n2"
[ "$rboot2" != "$rboot1" ] || sb_fail "rs on n2 has the boot id of the dead instance"
c=$(sb_guest_lease_conflicts n2 rs)
[ "$c" = 0 ] || sb_fail "rs restarted on n2 reports $c lease conflict(s) with its dead predecessor"
grep -aq "LEASE found boot=$rboot1" "$(sb_guest_serial n2 rs)" || sb_fail "rs on n2 did not find the stale lease of boot $rboot1"
echo "  n2: $(grep -a -m1 'LEASE found' "$(sb_guest_serial n2 rs)" | tr -d '\r'); lease_conflicts=$c"
it_splitbrain_stop
sb virsh n2 destroy rs >/dev/null || sb_fail "destroy rs on n2 failed"

echo "-- a live migration under the checker: nothing reported"
sb guest-start n1 mig --dirty-mb 16 --dirty-rate 20 || sb_fail "guest-start mig on n1 failed"
read -r t0 mboot _ _ < <(sb_guest_wait_tick n1 mig 2 90) || sb_fail "mig does not tick on n1"
it_splitbrain_start
sleep 1
sb guest-migrate n1 mig n2 | sed 's/^/  | /'
[ "${PIPESTATUS[0]}" = 0 ] || sb_fail "guest-migrate mig n1 -> n2 failed"
read -r t1 b errs bad < <(sb_guest_wait_tick n2 mig $((t0 + 3)) 60) || sb_fail "mig does not tick on n2"
[ "$b" = "$mboot" ] || sb_fail "mig restarted instead of migrating (boot $b, was $mboot)"
[ "$errs" = 0 ] && [ "$bad" = 0 ] || sb_fail "mig on n2: errs=$errs static_bad=$bad"
c=$(sb_guest_lease_conflicts n2 mig)
[ "$c" = 0 ] || sb_fail "mig after a live migration: lease_conflicts=$c"
echo "  mig: n1 -> n2 live (TICK $t0 -> $t1, same boot $b, lease_conflicts=0)"
it_splitbrain_stop
echo "split-brain checker: catches a guest on two nodes (both guests report the lease conflict); quiet for a restart after death and for a live migration"
sb_down
