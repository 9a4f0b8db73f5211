#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# migration.links = [ "migration", "management" ] with 2 multifd streams: both
# daemons listen on both networks, n1's engine spreads QEMU's 3 connections
# over n2's two addresses (channel i on link i % 2), both bridges carry tens
# of MiB, and `clusterctl migrations --json` shows the counters live and at
# the end (2 links, 3 channels, tcp unframed), all on a migration.mcopy_port
# other than the default. (Leaving a DOWN link out is
# not tested here: a link DOWN makes the target DEGRADED, which takes no VMs;
# drain_migration_links is pure and small.)
. "$(dirname "$0")/lib.sh"
it_require_libvirt

# (60 MB/s: the copy lasts a few seconds, long enough for live reports)
export MIG_SETTINGS='transport = "mcopy"; streams = 2; links = [ "migration", "management" ]; bandwidth_mbps = 480; mcopy_port = 49411;'
sb_up --nodes 2 --libvirt
grep -q 'links = \[ "migration", "management" \]' "$SANDBOX_DIR/n1/clusterd.conf" || sb_fail "the sandbox did not take MIG_SETTINGS"
for n in n1 n2; do
	for net in migration management; do
		sb_wait_log $n "mcopy: listening on 10\\.99\\.[23]\\.[0-9]+ port 49411 for incoming migrations \\(3 channel\\(s\\) each, network $net\\)" 10 ||
			sb_fail "$n's engine does not listen on its $net address"
	done
done
sb guest-start n1 vm1 --mem 256 --dirty-mb 64 --dirty-rate 100 || sb_fail "guest-start failed"
read -r _ boot _ _ < <(sb_guest_wait_tick n1 vm1 3 60) || sb_fail "the guest did not start ticking"
it_wait_json n2 vms '[.vms[] | select(.name == "vm1") | .node]' '["n1"]' 20 || sb_fail "n2 does not see vm1 on n1"

net_bytes() { # rx + tx of NODE's interface on NET
	local rx tx
	read -r rx tx < <(sb net-bytes "$1" "$2") || sb_fail "no counters for $1/$2"
	echo $((rx + tx))
}

# ---- part 1: one migration over both links ----
mark1=$(sb_count_log n1 '.')
mig0=$(net_bytes n2 migration) mgmt0=$(net_bytes n2 management)
it_ctl n1 migrate vm1 n2 --wait >"$SANDBOX_DIR/migrate1.out" 2>&1 &
ctl=$!
it_copy_watch n1 vm1 0 120 >"$SANDBOX_DIR/copy1.samples"
live=$?
wait $ctl || sb_fail "clusterctl migrate vm1 n2 --wait failed: $(cat "$SANDBOX_DIR/migrate1.out")"
mig_mib=$((($(net_bytes n2 migration) - mig0) >> 20)) mgmt_mib=$((($(net_bytes n2 management) - mgmt0) >> 20))
sed 's/^/  /' "$SANDBOX_DIR/migrate1.out"
echo "  n2's bridges during the migration: migration $mig_mib MiB, management $mgmt_mib MiB"
echo "  counters seen live: $(grep -c '^running [1-9]' "$SANDBOX_DIR/copy1.samples") sample(s), last: $(tail -n 1 "$SANDBOX_DIR/copy1.samples")"
[ $live = 0 ] || sb_fail "no copy bytes while the migration ran: $(tr '\n' ';' <"$SANDBOX_DIR/copy1.samples")"
[ "$mig_mib" -ge 32 ] || sb_fail "only $mig_mib MiB on the migration network"
[ "$mgmt_mib" -ge 32 ] || sb_fail "only $mgmt_mib MiB on the management network: the second link carried nothing"
sb_wait_log n1 'migration of vm1: mcopy to 10\.99\.2\.2:49411, 10\.99\.3\.2:49411' 1 "$mark1" ||
	sb_fail "n1 did not aim its engine at both of n2's addresses"
sb_wait_log n1 'migration of vm1 to n2: done \(mcopy: 3 channel\(s\), [0-9.]+ MB carried, backend tcp unframed, over 2 links\)' 5 "$mark1" ||
	sb_fail "n1 does not say it carried over 2 links"
copy=$(it_json n2 migrations '[.migrations[] | select(.vm == "vm1")][0] | [.transport, .copy.bytes > 100000000, .copy.channels, .copy.links, .copy.streams_per_channel, .copy.backend, .copy.state]')
[ "$copy" = '["mcopy",true,3,2,1,"tcp unframed","done"]' ] || sb_fail "migrations --json after the migration: $copy"
it_ctl n2 migrations | sed 's/^/  /'
read -r tick b errs bad < <(sb_guest_wait_tick n2 vm1 3 30) || sb_fail "vm1 does not tick on n2"
[ "$b" = "$boot" ] && [ "$errs" = 0 ] && [ "$bad" = 0 ] || sb_fail "vm1 on n2: boot $b (was $boot) errs=$errs static_bad=$bad"
echo "vm1 moved n1 -> n2 over two links (TICK $tick, errs=0)"

