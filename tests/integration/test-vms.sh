#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The VM inventory end to end, with real libvirt and QEMU: a guest started on
# n1 appears in `clusterctl vms` on every node as running on n1 (each node's
# clusterd-virt helper reads its libvirtd, the list travels through
# corosync); live-migrated to n2 it shows on n2 and never on both at once;
# destroyed, it is gone everywhere. Nodes report their libvirt as connected.
. "$(dirname "$0")/lib.sh"
it_require_libvirt

sb_up --nodes 2 --libvirt
for n in n1 n2; do
	it_wait_json $n vms '.nodes_without_inventory' '[]' 30 || sb_fail "$n: some node has no inventory"
done
sb guest-start n1 vm1 --mem 128 --dirty-mb 32 --dirty-rate 50 || sb_fail "guest-start failed"
for n in n1 n2; do
	it_wait_json $n vms '[.vms[] | select(.name == "vm1") | [.node, .state]]' '[["n1","running"]]' 20 ||
		sb_fail "$n does not list vm1 running on n1"
done
it_ctl n2 vms | sed 's/^/  /'
sb_guest_wait_tick n1 vm1 2 60 >/dev/null || sb_fail "the guest did not start ticking"

# migrate, and watch n2's view while it happens: never on two nodes
sb guest-migrate n1 vm1 n2 >/dev/null &
mig=$!
twice=0
while kill -0 $mig 2>/dev/null; do
	t=$(it_json n2 vms '.running_twice | length' 2>/dev/null)
	[ "${t:-0}" = 0 ] || twice=$((twice + 1))
	sleep 0.1
done
wait $mig || sb_fail "the migration failed"
for n in n1 n2; do
	it_wait_json $n vms '[.vms[] | select(.name == "vm1") | [.node, .state]]' '[["n2","running"]]' 20 ||
		sb_fail "$n does not list vm1 running on n2 after the migration"
	it_wait_json $n vms '.running_twice' '[]' 5 || sb_fail "$n still reports vm1 on two nodes"
done
echo "during the migration n2 polled running_twice non-empty $twice times"
# each node's list is its own libvirt's, a few ms apart; a poll that caught
# the switch-over between two lists is tolerated once, not a standing state
[ "$twice" -le 1 ] || sb_fail "vm1 was listed running on two nodes in $twice polls during the migration"
sb virsh n2 destroy vm1 >/dev/null || sb_fail "destroy failed"
for n in n1 n2; do
	it_wait_json $n vms '[.vms[] | select(.name == "vm1")] | length' 0 20 || sb_fail "$n still lists vm1"
done
echo "vm1: listed on n1, migrated and listed on n2 only, destroyed and gone, on both nodes"
