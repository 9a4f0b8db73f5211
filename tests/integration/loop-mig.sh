#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# tests/integration/loop-mig.sh (a soak, not run by `run`): vm1 moved back
# and forth between n1 and n2 with `clusterctl migrate --wait`, counting
# successes, failures and a source that stopped. LOOP_N (24) migrations;
# LOOP_SYNC=0: the next one at once, without waiting for the other node to
# see the VM; ASK=dst: asked on the target (as test-migrate does);
# LOOP_SLEEP seconds between; MIG_SETTINGS as for the sandbox (transport,
# streams); SB_LIBVIRT_DEBUG=1 for libvirtd debug logs. Ends with
# "RESULT ok=N failed=N lost=N".
. "$(dirname "$0")/lib.sh"
it_require_libvirt
sb_up --nodes 2 --libvirt
sb guest-start n1 vm1 --mem 256 --dirty-mb 64 --dirty-rate 100 || sb_fail "guest-start failed"
sb_guest_wait_tick n1 vm1 3 60 >/dev/null || sb_fail "no tick"
it_wait_json n2 vms '[.vms[] | select(.name == "vm1") | .node]' '["n1"]' 20 || sb_fail "n2 does not see vm1"
ok=0 bad=0 lost=0 src=n1 dst=n2
for i in $(seq "${LOOP_N:-20}"); do
	sleep "${LOOP_SLEEP:-0}"
	t0=$(date +%s.%N)
	out=$(it_ctl "$([ "${ASK:-src}" = dst ] && echo $dst || echo $src)" migrate vm1 $dst --wait 2>&1); rc=$?
	t1=$(date +%s.%N)
	s1=$(sb virsh $src domstate vm1 2>/dev/null | head -n1); s2=$(sb virsh $dst domstate vm1 2>/dev/null | head -n1)
	echo "iter $i $src->$dst rc=$rc $(printf '%.1f' "$(echo "$t1-$t0" | bc)")s src=$s1 dst=$s2 :: $(echo "$out" | tr '\n' ' ' | cut -c1-300)"
	if [ $rc = 0 ]; then ok=$((ok+1)); tmp=$src; src=$dst; dst=$tmp
	else
		bad=$((bad+1))
		if [ "$s2" = running ] && [ "$s1" != running ]; then
			echo "  vm1 moved all the same (the failure was reported, not real)"; tmp=$src; src=$dst; dst=$tmp
		elif [ "$s1" != running ]; then
			lost=$((lost+1)); echo "LOST vm1 at iter $i ($src->$dst)"; break
		fi
	fi
	[ "${LOOP_SYNC:-1}" = 1 ] && { it_wait_json $dst vms "[.vms[] | select(.name == \"vm1\") | .node]" "[\"$src\"]" 20 >/dev/null || echo "  $dst does not see vm1 on $src"; }
done
echo "RESULT ok=$ok failed=$bad lost=$lost"
