#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# clusterctl migrate, end to end with real corosync, libvirt and QEMU: asked
# on n2, a guest running on n1 is live-migrated by n1's clusterd to n2 over
# the migration network; --wait follows it to "succeeded"; the guest goes on
# (same boot id, the next TICK, zero memory errors); `migrations` and `vms`
# agree on every node. Bad requests get clear errors and exit codes; then it
# goes back to n1.
. "$(dirname "$0")/lib.sh"
it_require_libvirt

sb_up --nodes 2 --libvirt
sb guest-start n1 vm1 --mem 128 --dirty-mb 32 --dirty-rate 50 || sb_fail "guest-start failed"
read -r _ boot _ _ < <(sb_guest_wait_tick n1 vm1 3 60) || sb_fail "the guest did not start ticking"
it_wait_json n2 vms '[.vms[] | select(.name == "vm1") | .node]' '["n1"]' 20 || sb_fail "n2 does not see vm1 on n1"

# bad requests: clear messages, exit 1, nothing moves
expect_fail() { # NODE WANT-TEXT ARGS...
	local node=$1 want=$2 out rc
	shift 2
	out=$(it_ctl "$node" "$@" 2>&1)
	rc=$?
	[ $rc = 1 ] || sb_fail "clusterctl $*: exit $rc, want 1 ($out)"
	grep -q -- "$want" <<<"$out" || sb_fail "clusterctl $*: '$out' does not say '$want'"
	echo "  refused as it should: clusterctl $*: $out"
}
expect_fail n2 "no VM named 'nope'" migrate nope n2
expect_fail n2 "no node named 'n9'" migrate vm1 n9
expect_fail n2 "already runs on n1" migrate vm1 n1
out=$(it_ctl n2 migrate vm1 2>&1)
[ $? = 2 ] || sb_fail "clusterctl migrate with one argument should be a usage error: $out"

# byte counters of every node's interface on a network, summed
net_total() {
	local n rx tx sum=0
	for n in $(sb_nodes); do
		read -r rx tx < <(sb net-bytes "$n" "$1") || sb_fail "no counters for $n/$1"
		sum=$((sum + rx + tx))
	done
	echo $sum
}

mark=$(sb_guest_lines n2 vm1)
read -r last_src _ < <(sb_guest_tick n1 vm1)
mig0=$(net_total migration) mgmt0=$(net_total management)
out=$(it_ctl n2 migrate vm1 n2 --wait 2>&1) || sb_fail "clusterctl migrate vm1 n2 --wait failed: $out"
mig_mib=$((($(net_total migration) - mig0) >> 20)) mgmt_mib=$((($(net_total management) - mgmt0) >> 20))
echo "  bytes during the migration: migration network $mig_mib MiB, management network $mgmt_mib MiB"
# the guest's RAM (128 MiB, less zero pages QEMU skips) crosses the migration
# network; the management network carries only libvirt's control and heartbeats
[ "$mig_mib" -ge 64 ] || sb_fail "only $mig_mib MiB crossed the migration network"
[ "$mgmt_mib" -le 8 ] || sb_fail "$mgmt_mib MiB crossed the management network: the stream went the wrong way"
echo "$out" | sed 's/^/  /'
grep -q 'succeeded' <<<"$out" || sb_fail "--wait did not report success: $out"

[ "$(sb virsh n2 domstate vm1 2>/dev/null | head -n 1)" = running ] || sb_fail "vm1 is not running on n2"
! sb virsh n1 list --name 2>/dev/null | grep -qx vm1 || sb_fail "vm1 still runs on n1"
read -r tick b errs bad < <(sb_guest_wait_tick n2 vm1 $((last_src + 3)) 30 "$mark") || sb_fail "vm1 does not tick on n2"
[ "$b" = "$boot" ] || sb_fail "vm1 on n2 has boot id $b, not $boot: it restarted instead of moving"
[ "$errs" = 0 ] && [ "$bad" = 0 ] || sb_fail "vm1 on n2: errs=$errs static_bad=$bad: memory lost in migration"
for n in n1 n2; do
	it_wait_json $n migrations '[.migrations[] | select(.vm == "vm1") | [.source, .target, .state]] | last' \
		'["n1","n2","succeeded"]' 10 || sb_fail "$n's migrations table disagrees"
	it_wait_json $n vms '[.vms[] | select(.name == "vm1") | [.node, .state]]' '[["n2","running"]]' 20 ||
		sb_fail "$n does not list vm1 running on n2"
done
echo "vm1 moved n1 -> n2 live (boot $boot, TICK $tick, errs=0), asked from n2"

out=$(it_ctl n1 migrate vm1 n1 --wait 2>&1) || sb_fail "migrating back failed: $out"
it_wait_json n1 vms '[.vms[] | select(.name == "vm1") | [.node, .state]]' '[["n1","running"]]' 20 ||
	sb_fail "vm1 is not back on n1"
it_ctl n1 migrations | sed 's/^/  /'
echo "and back to n1"
