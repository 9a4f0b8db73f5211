#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# clusterctl drain, end to end with real corosync, libvirt and QEMU: three
# guests that dirty memory run on n1 of three nodes; `drain n1 --wait`
# (asked on n3) moves every one live to n2/n3 — never more than
# migration.max_concurrent (1 here) at once, none left on n1, each guest's
# counter continues with the same boot id and zero memory errors — and n1
# ends DRAINED on every node. A drained node takes no VMs (migrate to it
# is refused); undrain makes it ONLINE with the VMs staying where they are.
# Bad requests get clear errors and exit codes.
. "$(dirname "$0")/lib.sh"
it_require_libvirt

MIG_SETTINGS="max_concurrent = 1;" sb_up --nodes 3 --libvirt
declare -A boot last
for g in a b c; do
	sb guest-start n1 "vm$g" --mem 128 --dirty-mb 32 --dirty-rate 40 || sb_fail "guest-start vm$g failed"
done
for g in a b c; do
	read -r _ boot[$g] _ _ < <(sb_guest_wait_tick n1 "vm$g" 2 90) || sb_fail "vm$g did not start ticking"
done
it_wait_json n3 vms '[.vms[] | select(.node == "n1")] | length' 3 20 || sb_fail "n3 does not list 3 VMs on n1"

it_expect_fail n3 1 "no node named 'n9'" drain n9
it_expect_fail n3 1 "is not draining" drain --abort n2
it_expect_fail n3 2 "usage" drain
it_expect_fail n3 2 "usage" undrain n1 n2
it_expect_fail n3 2 "go with migrate and drain" undrain n1 --wait
it_expect_fail n3 2 "goes with drain" migrate vma n2 --abort

for g in a b c; do read -r last[$g] _ < <(sb_guest_tick n1 "vm$g"); done
mark2=$(sb_log_lines n2) mark3=$(sb_log_lines n3)
# follow the migrations table while the drain runs: never more than 1 at once
(
	max=0
	while :; do
		r=$(it_json n2 migrations '[.migrations[] | select(.state == "running" or .state == "requested")] | length')
		[ "${r:-0}" -gt "$max" ] && max=$r && echo "$max" >"$SANDBOX_DIR/drain-max"
		sleep 0.1
	done
) &
watcher=$!
out=$(it_ctl n3 drain n1 --wait --timeout 300 2>&1)
rc=$?
kill "$watcher" 2>/dev/null
wait "$watcher" 2>/dev/null
echo "$out" | sed 's/^/  | /'
[ $rc = 0 ] || sb_fail "drain n1 --wait exited $rc"
grep -q "node n1: drained" <<<"$out" || sb_fail "drain --wait did not say n1 is drained"
grep -q "running" <<<"$out" || sb_fail "drain --wait streamed no progress"
max=$(cat "$SANDBOX_DIR/drain-max" 2>/dev/null || echo 0)
echo "  at most $max migration(s) at once (max_concurrent 1)"
[ "$max" -le 1 ] || sb_fail "$max migrations ran at once with max_concurrent 1"

[ -z "$(sb virsh n1 list --name 2>/dev/null | grep .)" ] || sb_fail "VMs left on n1: $(sb virsh n1 list --name)"
for g in a b c; do
	node=$(it_json n1 vms ".vms[] | select(.name == \"vm$g\") | .node" | tr -d '"')
	case $node in n2 | n3) ;; *) sb_fail "vm$g is on '$node', not n2/n3" ;; esac
	[ "$(sb virsh "$node" domstate "vm$g" 2>/dev/null | head -n 1)" = running ] || sb_fail "vm$g not running on $node"
	read -r tick b errs bad < <(sb_guest_wait_tick "$node" "vm$g" $((last[$g] + 2)) 60) ||
		sb_fail "vm$g does not tick on $node"
	[ "$b" = "${boot[$g]}" ] || sb_fail "vm$g restarted on $node (boot $b, was ${boot[$g]})"
	[ "$errs" = 0 ] && [ "$bad" = 0 ] || sb_fail "vm$g on $node: errs=$errs static_bad=$bad"
	echo "  vm$g: n1 -> $node live (TICK ${last[$g]} -> $tick, same boot, errs=0)"
done
for n in n1 n2 n3; do
	it_wait_json $n nodes '.nodes[] | select(.name == "n1") | .admin' '"drained"' 10 ||
		sb_fail "$n does not show n1 drained"
done
# both survivors got VMs (spread), by the coordinator's plan
[ "$(it_json n1 vms '[.vms[] | .node] | unique | length')" = 2 ] || sb_fail "the VMs were not spread over n2 and n3"

# a drained node takes nothing; drain again is a no-op
it_expect_fail n2 1 "n1 takes no VMs now: drained" migrate vma n1
out=$(it_ctl n2 drain n1 2>&1) || sb_fail "drain of a drained node failed: $out"
grep -q "already" <<<"$out" || sb_fail "drain of a drained node did not say already: $out"
it_ctl n1 nodes | sed 's/^/  | /'
it_ctl n1 nodes | grep -q "online, drained" || sb_fail "clusterctl nodes does not show n1 online, drained"

# undrain: ONLINE, nothing moves back
out=$(it_ctl n2 undrain n1 2>&1) || sb_fail "undrain failed: $out"
for n in n1 n2 n3; do
	it_wait_json $n nodes '.nodes[] | select(.name == "n1") | [.state, .admin]' '["online","none"]' 10 ||
		sb_fail "$n does not show n1 online after undrain"
done
sleep 2
[ -z "$(sb virsh n1 list --name 2>/dev/null | grep .)" ] || sb_fail "VMs moved back to n1 after undrain"
out=$(it_ctl n2 migrate vma n1 --wait 2>&1) || sb_fail "n1 does not take a VM after undrain: $out"
echo "drain n1: 3 VMs moved live one at a time, n1 drained everywhere; undrain: online, takes VMs again"
sb_down
