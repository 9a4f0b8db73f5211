#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# clusterctl drain --abort, end to end with real corosync, libvirt and QEMU:
# three guests that dirty memory run on n1 of three nodes, migrations are
# slowed (bandwidth limit) and one at a time (max_concurrent 1). A drain of
# n1 is aborted while its first migration runs. Then: n1 is back to admin
# "none" and online on every node; every migration of that drain ended —
# the ones that did not get to finish failed with "the drain was aborted"
# (one that completed just before the abort is accepted, if the VM is where
# it says); every guest runs exactly once in the cluster, still ticking
# with the same boot id and zero memory errors; and nothing moves any more.
# Aborting again is refused (not draining); drain --wait --timeout 1 says
# the drain goes on, and that drain is aborted too.
. "$(dirname "$0")/lib.sh"
it_require_libvirt

MIG_SETTINGS="max_concurrent = 1; bandwidth_mbps = 320;" sb_up --nodes 3 --libvirt
guests=(vma vmb vmc)
declare -A boot last
for g in "${guests[@]}"; do
	sb guest-start n1 "$g" --mem 256 --dirty-mb 128 --dirty-rate 20 || sb_fail "guest-start $g failed"
done
for g in "${guests[@]}"; do
	read -r _ boot["$g"] _ _ < <(sb_guest_wait_tick n1 "$g" 2 90) || sb_fail "$g did not start ticking"
done
it_wait_json n3 vms '[.vms[] | select(.node == "n1")] | length' 3 20 || sb_fail "n3 does not list 3 VMs on n1"
for g in "${guests[@]}"; do read -r last["$g"] _ < <(sb_guest_tick n1 "$g"); done

# where each guest runs, by asking every node's libvirt: "vma=n2 vmb=n1 ..."
# (a guest on two nodes shows as vma=n1,n2)
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


# every migration of drain $1 has ended, on every node; prints them
drain_migs() { it_json "$2" migrations "[.migrations[] | select(.drain == \"$1\")]"; }
wait_drain_ended() { # DRAIN-ID
	local n
	for n in $(sb_nodes); do
		it_wait_json "$n" migrations "[.migrations[] | select(.drain == \"$1\") |
			select(.state != \"succeeded\" and .state != \"failed\")] | length" 0 60 ||
			sb_fail "$n: migrations of drain $1 still going after the abort: $(drain_migs "$1" "$n")"
	done
}

# every guest exactly once in the cluster, ticking on, same boot, no errors
check_guests() {
	local g node tick b errs bad p
	p=$(placement)
	for g in "${guests[@]}"; do
		node=$(sed -n "s/.*\<$g=\([^ ]*\).*/\1/p" <<<"$p")
		case $node in n1 | n2 | n3) ;; *) sb_fail "$g runs on '$node' (want exactly one node): $p" ;; esac
		[ "$(it_json n2 vms "[.vms[] | select(.name == \"$g\") | .node]")" = "[\"$node\"]" ] ||
			sb_fail "clusterd does not list $g on $node only: $(it_json n2 vms "[.vms[] | select(.name == \"$g\")]")"
		read -r tick b errs bad < <(sb_guest_wait_tick "$node" "$g" $((last[$g] + 2)) 60) ||
			sb_fail "$g does not tick on $node"
		[ "$b" = "${boot[$g]}" ] || sb_fail "$g restarted on $node (boot $b, was ${boot[$g]})"
		[ "$errs" = 0 ] && [ "$bad" = 0 ] || sb_fail "$g on $node: errs=$errs static_bad=$bad"
		echo "  $g: runs on $node only (TICK ${last[$g]} -> $tick, same boot, errs=0 static_bad=0)"
		last[$g]=$tick
	done
	[ "$(it_json n2 vms '.running_twice | length')" = 0 ] || sb_fail "clusterd reports VMs running twice"
}

echo "before: $(placement)"
out=$(it_ctl n3 --json drain n1 2>&1) || sb_fail "drain n1 failed: $out"
drain=$(jq -r .drain <<<"$out")
[ -n "$drain" ] && [ "$drain" != null ] || sb_fail "drain n1 gave no drain id: $out"
echo "  drain n1 (asked on n3): $out"
it_wait_json n2 migrations "[.migrations[] | select(.drain == \"$drain\" and .state == \"running\")] | length" 1 30 ||
	sb_fail "no migration of the drain ever ran"
# well under way (data flowing), not just started
it_wait_json n2 migrations "[.migrations[] | select(.drain == \"$drain\" and .state == \"running\" and .processed_mib >= 16)] | length" 1 30 ||
	sb_fail "the running migration never got going"
running=$(it_json n2 migrations "[.migrations[] | select(.drain == \"$drain\" and .state == \"running\")][0]")
echo "  running: $(jq -r '"\(.vm) -> \(.target), \(.processed_mib) MiB sent, \(.percent // "?")%"' <<<"$running")"
mark1=$(sb_log_lines n1)
out=$(it_ctl n2 drain --abort n1 2>&1) || sb_fail "drain --abort n1 failed: $out"
echo "  drain --abort n1 (asked on n2): $out"
grep -q "node n1: none" <<<"$out" || sb_fail "drain --abort did not say n1 is back to none: $out"

for n in $(sb_nodes); do
	it_wait_json "$n" nodes '.nodes[] | select(.name == "n1") | [.state, .admin]' '["online","none"]' 10 ||
		sb_fail "$n does not show n1 online, admin none after the abort"
done
echo "  n1 online, admin none on n1, n2 and n3"
wait_drain_ended "$drain"
migs=$(drain_migs "$drain" n2)
jq -r '.[] | "  | \(.vm) \(.source) -> \(.target): \(.state)\(if .reason then ": " + .reason else "" end)"' <<<"$migs"
n_ok=$(jq '[.[] | select(.state == "succeeded")] | length' <<<"$migs")
bad=$(jq -c '[.[] | select(.state == "failed" and .reason != "the drain was aborted")]' <<<"$migs")
[ "$bad" = "[]" ] || sb_fail "failed migrations of the aborted drain without 'the drain was aborted': $bad"
[ "$n_ok" -le 1 ] || sb_fail "$n_ok migrations of the drain succeeded, though it was aborted during the first"
rv=$(jq -r .vm <<<"$running") rt=$(jq -r .target <<<"$running")
rs=$(jq -r ".[] | select(.vm == \"$rv\" and .target == \"$rt\") | .state" <<<"$migs")
case $rs in
failed) echo "  the running migration ($rv -> $rt) was aborted: $rv stays on n1" ;;
succeeded) echo "  the running migration ($rv -> $rt) completed just before the abort" ;;
*) sb_fail "the running migration $rv -> $rt ended '$rs'" ;;
esac
for n in n1 n3; do
	[ "$(drain_migs "$drain" $n | jq -c 'map([.id, .state, .reason])')" = "$(jq -c 'map([.id, .state, .reason])' <<<"$migs")" ] ||
		sb_fail "$n's table differs from n2's for the drain: $(drain_migs "$drain" $n)"
done
if line=$(grep -m1 "migration of $rv to $rt: aborting: the drain was aborted" < <(tail -n "+$((mark1 + 1))" "$(sb_log_file n1)")); then
	echo "  n1's log: ${line#* }"
elif [ "$rs" = failed ]; then
	sb_fail "n1 never aborted the running migration of $rv (its log says nothing)"
fi

# who runs where, per every libvirt, agrees with the drain's results
p=$(placement)
echo "after the abort: $p"
for g in "${guests[@]}"; do
	want=n1
	[ "$(jq -r ".[] | select(.vm == \"$g\" and .state == \"succeeded\") | .target" <<<"$migs")" != "" ] &&
		want=$(jq -r ".[] | select(.vm == \"$g\" and .state == \"succeeded\") | .target" <<<"$migs")
	grep -q "\<$g=$want " <<<"$p" || sb_fail "$g should run on $want only, by the table; libvirt says: $p"
done
check_guests

# the drain is really stopped: nothing new in the table, nothing moves
before=$(it_json n2 migrations '[.migrations[] | [.id, .state]]')
sleep 5
after=$(it_json n2 migrations '[.migrations[] | [.id, .state]]')
[ "$before" = "$after" ] || sb_fail "migrations changed after the abort: $before -> $after"
[ "$(placement)" = "$p" ] || sb_fail "VMs moved after the abort: $p -> $(placement)"
echo "  5 s later: no new migration, nothing moved"
# the coordinator (n1) ordered nothing once it had applied the abort
applied=$(grep -n "cluster: node n1: draining -> none" < <(tail -n "+$((mark1 + 1))" "$(sb_log_file n1)") | head -n 1 | cut -d: -f1)
[ -n "$applied" ] || sb_fail "n1's log does not show the abort applied (draining -> none)"
it_assert_no n1 "drain of n1: vm. -> " $((mark1 + applied)) "the coordinator (n1) ordered a drain migration after the abort"

it_expect_fail n3 1 "is not draining" drain --abort n1

# --wait --timeout 1: the drain goes on past the timeout; then abort it too
out=$(it_ctl n3 drain --wait n1 --timeout 1 2>&1)
rc=$?
echo "$out" | sed 's/^/  | /'
[ $rc = 1 ] || sb_fail "drain --wait n1 --timeout 1: exit $rc, want 1"
grep -q "not drained after 1 s; the drain goes on" <<<"$out" || sb_fail "drain --wait --timeout 1 did not say the drain goes on"
! grep -q "the drain was aborted" <<<"$out" || sb_fail "drain --wait follows the moves of the drain aborted before"
[ "$(it_json n1 nodes '.nodes[] | select(.name == "n1") | .admin')" = '"draining"' ] ||
	sb_fail "n1 is not draining after drain --wait timed out"
drain2=$(it_json n1 migrations "[.migrations[] | select(.drain != null and .drain != \"$drain\") | .drain] | unique | .[0] // empty" | tr -d '"')
out=$(it_ctl n1 drain --abort n1 2>&1) || sb_fail "second drain --abort n1 failed: $out"
echo "  drain --abort n1 (asked on n1): $out"
for n in $(sb_nodes); do
	it_wait_json "$n" nodes '.nodes[] | select(.name == "n1") | [.state, .admin]' '["online","none"]' 10 ||
		sb_fail "$n does not show n1 online, admin none after the second abort"
done
if [ -n "$drain2" ]; then
	wait_drain_ended "$drain2"
else # no migration was ordered yet: wait for every migration anyway
	it_wait_json n2 migrations '[.migrations[] | select(.state != "succeeded" and .state != "failed")] | length' 0 60 ||
		sb_fail "migrations still going after the second abort"
fi
it_json n2 migrations '.migrations[]' | jq -r '"  | \(.vm) \(.source) -> \(.target): \(.state)\(if .reason then ": " + .reason else "" end)"'
bad=$(it_json n2 migrations '[.migrations[] | select(.state == "failed" and .reason != "the drain was aborted")]')
[ "$bad" = "[]" ] || sb_fail "failed migrations without 'the drain was aborted': $bad"
# the table says where each guest is: the last succeeded migration's target, else n1
p=$(placement)
echo "after the second abort: $p"
for g in "${guests[@]}"; do
	want=$(it_json n2 migrations "[.migrations[] | select(.vm == \"$g\" and .state == \"succeeded\") | .target] | last // \"n1\"" | tr -d '"')
	grep -q "\<$g=$want " <<<"$p" || sb_fail "$g should run on $want only, by the table; libvirt says: $p"
done
check_guests
echo "drain of n1 aborted mid-migration: n1 online/none everywhere, each VM runs once, untouched; nothing moves after"
sb_down
