#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A drain whose target dies under it, end to end with real corosync, libvirt
# and QEMU: two guests that dirty memory run on n1 of three nodes, drained
# one at a time (max_concurrent 1, bandwidth-limited so a migration takes a
# few seconds). While the first migration runs, its target T's libvirtd is
# killed. That migration fails with libvirt's reason; the VM keeps running
# on n1, untouched (same boot id, ticking, zero memory errors); the drain
# reports the failure and retries the VM on the other node U (T, its
# libvirt not connected, takes no VMs), so both guests end on U, each
# exactly once, counters continued; n1 ends DRAINED on every node. With T's
# libvirtd back, nothing of either guest runs on T.
. "$(dirname "$0")/lib.sh"
it_require_libvirt

MIG_SETTINGS="max_concurrent = 1; bandwidth_mbps = 320;" sb_up --nodes 3 --libvirt
guests=(vma vmb)
declare -A boot last
for g in "${guests[@]}"; do
	sb guest-start n1 "$g" --mem 256 --dirty-mb 128 --dirty-rate 20 || sb_fail "guest-start $g failed"
done
for g in "${guests[@]}"; do
	read -r _ boot["$g"] _ _ < <(sb_guest_wait_tick n1 "$g" 2 90) || sb_fail "$g did not start ticking"
done
it_wait_json n3 vms '[.vms[] | select(.node == "n1")] | length' 2 20 || sb_fail "n3 does not list 2 VMs on n1"
for g in "${guests[@]}"; do read -r last["$g"] _ < <(sb_guest_tick n1 "$g"); done

# where each guest runs, by asking every node's libvirt: "vma=n2 vmb=n1,n3"
placement() {
	local g n where
	for g in "${guests[@]}"; do
		where=
		for n in $(sb_nodes); do
			sb virsh "$n" list --name 2>/dev/null | grep -qx "$g" && where=${where:+$where,}$n
		done
		printf '%s=%s ' "$g" "${where:-none}"
	done
	echo
}
echo "before: $(placement)"

it_ctl n3 drain n1 --wait --timeout 170 >"$SANDBOX_DIR/drain.out" 2>&1 &
ctl=$!
q='[.migrations[] | select(.source == "n1" and .state == "running" and .processed_mib >= 16)][0]'
it_wait_json n2 migrations "$q | .state" '"running"' 60 || sb_fail "no migration of the drain got going"
first=$(it_json n2 migrations "$q")
id=$(jq -r .id <<<"$first") vm=$(jq -r .vm <<<"$first") T=$(jq -r .target <<<"$first")
case $T in n2) U=n3 ;; n3) U=n2 ;; *) sb_fail "the first migration goes to '$T'" ;; esac
other=vma
[ "$vm" = vma ] && other=vmb
echo "  running: $vm n1 -> $T ($(jq -r .processed_mib <<<"$first") MiB sent); killing $T's libvirtd"
markT=$(sb_log_lines "$T")
sb kill "$T" libvirtd || sb_fail "could not kill $T's libvirtd"
# T's clusterd says so, and the cluster hears it: T takes no VMs now
sb_wait_log "$T" "libvirt: not connected" 20 "$markT" || sb_fail "$T's clusterd did not notice its libvirtd is gone"

it_wait_json "$U" migrations ".migrations[] | select(.id == \"$id\") | .state" '"failed"' 60 ||
	sb_fail "the migration of $vm to $T did not fail after $T's libvirtd was killed"
reason=$(it_json "$U" migrations ".migrations[] | select(.id == \"$id\") | .reason" | tr -d '"')
echo "  $vm n1 -> $T: failed: $reason"
[ -n "$reason" ] && [ "$reason" != null ] || sb_fail "the failed migration has no reason"
case $reason in *"drain was"*) sb_fail "failed for the wrong reason: $reason" ;; esac
# right then: the VM still runs on n1, untouched
[ "$(sb virsh n1 domstate "$vm" 2>/dev/null | head -n 1)" = running ] || sb_fail "$vm is not running on n1 after the failure"
read -r tick b errs bad < <(sb_guest_wait_tick n1 "$vm" $(($(sb_guest_tick n1 "$vm" | cut -d' ' -f1) + 1)) 30) ||
	sb_fail "$vm stopped ticking on n1 after the failure"
[ "$b" = "${boot[$vm]}" ] || sb_fail "$vm restarted on n1 (boot $b, was ${boot[$vm]})"
[ "$errs" = 0 ] && [ "$bad" = 0 ] || sb_fail "$vm on n1: errs=$errs static_bad=$bad"
echo "  $vm still runs on n1: TICK $tick, same boot, errs=0 static_bad=0"
it_wait_json n2 nodes "[.nodes[] | select(.name == \"n1\") | .admin]" '["draining"]' 5 ||
	sb_fail "n1 is not draining any more after the failure"

# the drain retries it on U and moves the other one there too; n1 drained
wait $ctl
rc=$?
out=$(cat "$SANDBOX_DIR/drain.out")
echo "$out" | sed 's/^/  | /'
[ $rc = 0 ] || sb_fail "drain n1 --wait exited $rc"
# drained means nothing is still leaving n1, in the same node's table
left=$(it_json n3 migrations '[.migrations[] | select(.source == "n1" and .state != "succeeded" and .state != "failed")]')
[ "$left" = "[]" ] || sb_fail "n1 drained while migrations off it still go on: $left"
grep -q "node n1: drained" <<<"$out" || sb_fail "drain --wait did not say n1 is drained"
grep -qE "$vm -> $T: failed( [0-9]+%)?: " <<<"$out" && grep -qF "$reason" <<<"$out" || sb_fail "drain --wait did not report the failure of $vm -> $T"
migs=$(it_json n2 migrations '[.migrations[] | select(.source == "n1")]')
jq -r '.[] | "  | \(.vm) \(.source) -> \(.target): \(.state)\(if .reason then ": " + .reason else "" end)"' <<<"$migs"
[ "$(jq -r "[.[] | select(.vm == \"$vm\") | \"\(.target) \(.state)\"] | join(\", \")" <<<"$migs")" = "$T failed, $U succeeded" ] ||
	sb_fail "$vm: want one failed attempt to $T then one success to $U"
[ "$(jq -r "[.[] | select(.vm == \"$other\") | \"\(.target) \(.state)\"] | join(\", \")" <<<"$migs")" = "$U succeeded" ] ||
	sb_fail "$other: want one migration, to $U, succeeded"
for n in n1 n2 n3; do
	it_wait_json $n nodes '.nodes[] | select(.name == "n1") | [.state, .admin]' '["online","drained"]' 10 ||
		sb_fail "$n does not show n1 online, drained"
done
echo "  n1 online, drained on n1, n2 and n3"

# T's libvirtd back: nothing of ours there; each guest once, on U, untouched
markT=$(sb_log_lines "$T")
sb start "$T" libvirtd || sb_fail "could not restart $T's libvirtd"
sb_wait_log "$T" "libvirt: connected" 60 "$markT" || sb_fail "$T's clusterd did not reconnect to libvirt"
p=$(placement)
echo "after: $p"
[ "$p" = "vma=$U vmb=$U " ] || sb_fail "want both guests on $U only: $p"
for g in "${guests[@]}"; do
	[ "$(it_json n1 vms "[.vms[] | select(.name == \"$g\") | .node]")" = "[\"$U\"]" ] ||
		sb_fail "clusterd does not list $g on $U only: $(it_json n1 vms "[.vms[] | select(.name == \"$g\")]")"
	read -r tick b errs bad < <(sb_guest_wait_tick "$U" "$g" $((last[$g] + 2)) 60) || sb_fail "$g does not tick on $U"
	[ "$b" = "${boot[$g]}" ] || sb_fail "$g restarted on $U (boot $b, was ${boot[$g]})"
	[ "$errs" = 0 ] && [ "$bad" = 0 ] || sb_fail "$g on $U: errs=$errs static_bad=$bad"
	echo "  $g: n1 -> $U live (TICK ${last[$g]} -> $tick, same boot, errs=0 static_bad=0)"
done
[ "$(it_json n1 vms '.running_twice | length')" = 0 ] || sb_fail "clusterd reports VMs running twice"
echo "target's libvirtd killed mid-drain: $vm failed to $T ($reason), stayed on n1, retried to $U; n1 drained"
sb_down
