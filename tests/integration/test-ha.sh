#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The HA registry, end to end: `ha add` asked on n2 for a guest running on
# n1 fetches its domain XML from n1's libvirt, multicasts it, and every node
# lists the VM as HA and keeps the XML in its state directory (a file that
# survives a restart). Bad requests get clear errors. `ha remove` is
# replicated too, and a node that was down while it happened learns it
# when it comes back (the coordinator re-sends the registry).
. "$(dirname "$0")/lib.sh"
it_require_libvirt

sb_up --nodes 3 --libvirt
sb guest-start n1 vm1 --mem 128 --dirty-mb 16 --dirty-rate 10 || sb_fail "guest-start failed"
sb_guest_wait_tick n1 vm1 1 60 >/dev/null || sb_fail "vm1 did not start"
it_wait_json n2 vms '[.vms[] | select(.name == "vm1") | .ha]' '[false]' 20 || sb_fail "n2 does not list vm1"
uuid=$(it_json n1 vms '.vms[] | select(.name == "vm1") | .uuid' | tr -d '"')
regfile() { echo "$SANDBOX_DIR/$1/lib/ha-registry"; }

it_expect_fail n2 1 "no VM named 'nope'" ha add nope
it_expect_fail n2 1 "no node named 'n9'" ha add vm1 --prefer n9
it_expect_fail n2 1 "both preferred and forbidden" ha add vm1 --prefer n3 --forbid n3
it_expect_fail n2 1 "is not HA" ha remove vm1
it_expect_fail n2 2 "usage" ha frob vm1
it_expect_fail n2 2 "go with ha add" ha remove vm1 --priority 3
it_expect_fail n2 2 "integer in -1000..1000" ha add vm1 --priority lots

out=$(it_ctl n2 ha add vm1 --priority 5 --prefer n3 --forbid n2 2>&1) || sb_fail "ha add vm1 failed: $out"
echo "  $out"
for n in n1 n2 n3; do
	it_wait_json $n vms '[.vms[] | select(.name == "vm1") | .ha]' '[true]' 10 || sb_fail "$n does not list vm1 as HA"
	f=$(regfile $n)
	[ -f "$f" ] || sb_fail "$n has no registry file $f"
	[ "$(stat -c %a "$f")" = 600 ] || sb_fail "$f is mode $(stat -c %a "$f"), not 600"
	jq -e --arg u "$uuid" '.vms[] | select(.uuid == $u) | .priority == 5 and .preferred == [3] and .forbidden == [2]
		and (.xml | contains("<domain") and contains($u))' "$f" >/dev/null ||
		sb_fail "$n's registry file lacks vm1's XML or settings: $(head -c 300 "$f")"
done
echo "  vm1 is HA on every node, its XML in each state directory"
it_ctl n1 vms | sed 's/^/  | /'

# a restart keeps it (from the file, before any peer says so)
mark=$(sb_log_lines n3)
sb stop n3 clusterd >/dev/null && sb start n3 clusterd >/dev/null || sb_fail "cannot restart n3's clusterd"
sb_wait_log n3 'ha: 1 HA VMs in' 30 "$mark" >/dev/null || sb_fail "n3 did not load its registry at start"

# removed while n3's clusterd is down: n3 learns it when it is back
sb stop n3 clusterd >/dev/null || sb_fail "cannot stop n3's clusterd"
out=$(it_ctl n2 ha remove vm1 2>&1) || sb_fail "ha remove failed: $out"
echo "  $out"
it_wait_json n1 vms '[.vms[] | select(.name == "vm1") | .ha]' '[false]' 10 || sb_fail "n1 still lists vm1 as HA"
jq -e --arg u "$uuid" '.vms[] | select(.uuid == $u) | .removed == true' "$(regfile n1)" >/dev/null ||
	sb_fail "n1's file does not record the removal"
jq -e --arg u "$uuid" '.vms[] | select(.uuid == $u) | .xml' "$(regfile n3)" >/dev/null ||
	sb_fail "n3's file should still hold vm1 (it was down)"
sb start n3 clusterd >/dev/null || sb_fail "cannot start n3's clusterd"
it_wait_json n3 vms '[.vms[] | select(.name == "vm1") | .ha]' '[false]' 30 || sb_fail "n3 never learnt the removal"
jq -e --arg u "$uuid" '.vms[] | select(.uuid == $u) | .removed == true' "$(regfile n3)" >/dev/null ||
	sb_fail "n3's file does not record the removal"
[ "$(sb virsh n1 domstate vm1 2>/dev/null | head -n 1)" = running ] || sb_fail "vm1 is not running any more"
echo "ha add/remove replicated and persisted; a node that missed the removal learnt it on return; vm1 untouched"
sb_down
