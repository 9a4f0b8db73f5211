#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# clusterctl migrate with migration.transport = "mcopy" and 4 multifd
# streams: QEMU -> unix socket -> n1's engine -> TCP on the migration network
# -> n2's permanent listener -> unix socket -> QEMU. The guest moves live
# (same boot id, next TICK, zero memory errors), the bytes cross the
# migration network, both daemons log the mcopy path with 5 channels (main +
# 4 multifd), and no socket is left behind. Then the target's engine dies
# mid-stream (n2's clusterd, which hosts it, is killed): the migration fails
# with the engine's reason (or n2's failure, whichever the source learns
# first), the VM runs on at its source untouched, nothing runs on n2, and
# n2's restarted daemon removes the stale socket. The engines' streams use
# migration.congestion = "reno" (not this host's default): the daemons say
# so, and the streams seen while it runs (ss) use it.
. "$(dirname "$0")/lib.sh"
it_require_libvirt

export MIG_SETTINGS='transport = "mcopy"; streams = 4; congestion = "reno";'
sb_up --nodes 2 --libvirt
grep -q 'transport = "mcopy"' "$SANDBOX_DIR/n1/clusterd.conf" || sb_fail "the sandbox did not take MIG_SETTINGS"
for n in n1 n2; do
	sb_wait_log $n 'mcopy: listening on 10\.99\.2\.[0-9]+ port 49300 for incoming migrations \(5 channel' 10 ||
		sb_fail "$n's engine does not listen on its migration address"
	sb_wait_log $n 'mcopy: backend tcp for every migration, not probing for RDMA: .*return path' 1 ||
		sb_fail "$n does not say which backend it uses and why"
	sb_wait_log $n 'mcopy: the engines. streams use TCP congestion control reno \(migration\.congestion\)' 1 ||
		sb_fail "$n does not say that its streams use reno"
done
sb guest-start n1 vm1 --mem 256 --dirty-mb 64 --dirty-rate 100 || sb_fail "guest-start failed"
read -r _ boot _ _ < <(sb_guest_wait_tick n1 vm1 3 60) || sb_fail "the guest did not start ticking"
it_wait_json n2 vms '[.vms[] | select(.name == "vm1") | .node]' '["n1"]' 20 || sb_fail "n2 does not see vm1 on n1"

net_total() { # byte counters of every node's interface on a network, summed
	local n rx tx sum=0
	for n in $(sb_nodes); do
		read -r rx tx < <(sb net-bytes "$n" "$1") || sb_fail "no counters for $n/$1"
		sum=$((sum + rx + tx))
	done
	echo $sum
}

# ---- part 1: a live migration through the engines ----
mark1=$(sb_count_log n1 '.') mark2=$(sb_count_log n2 '.')
gmark=$(sb_guest_lines n2 vm1)
read -r last_src _ < <(sb_guest_tick n1 vm1)
mig0=$(net_total migration) mgmt0=$(net_total management)
# the source's streams to the target's engine, as ss sees them while it runs
rm -f "$SANDBOX_DIR/ss1.done"
(while [ ! -e "$SANDBOX_DIR/ss1.done" ]; do
	sb exec n1 ss -tinH state established '( dport = :49300 )' 2>/dev/null
	sleep 0.02
done) >"$SANDBOX_DIR/ss1.samples" &
ssp=$!
it_ctl n1 migrate vm1 n2 --wait >"$SANDBOX_DIR/migrate1.out" 2>&1 &
ctl=$!
# the engine's counters, live, on the node that is neither asked nor the source's
it_copy_watch n2 vm1 0 120 >"$SANDBOX_DIR/copy1.samples"
live=$?
wait $ctl || sb_fail "clusterctl migrate vm1 n2 --wait failed: $(cat "$SANDBOX_DIR/migrate1.out")"
touch "$SANDBOX_DIR/ss1.done"
wait $ssp
# every congestion control named in those samples is reno (bbr is this host's default)
ccs=$(grep -oE '(^| )(reno|cubic|bbr|bbr2|bbr3|dctcp|htcp|vegas|westwood|bic|highspeed|hybla|illinois|lp|nv|scalable|veno|yeah|cdg)( |$)' \
	"$SANDBOX_DIR/ss1.samples" | tr -d ' ' | sort | uniq -c | tr -s ' ' | tr '\n' ';')
echo "  congestion control of n1's streams to n2:49300 while it ran (samples):$ccs"
[ -n "$ccs" ] || sb_fail "ss saw no stream from n1 to n2:49300 while the migration ran"
[[ $ccs =~ ^\ ?[0-9]+\ reno\;$ ]] || sb_fail "n1's streams do not all use reno: $ccs"
out=$(cat "$SANDBOX_DIR/migrate1.out")
echo "  copy counters seen on n2 while it ran: $(grep -c '^running [1-9]' "$SANDBOX_DIR/copy1.samples") sample(s), last: $(tail -n 1 "$SANDBOX_DIR/copy1.samples")"
# (a migration here can end within the first second, before a live report:
# test-migrate-links requires one; here only the end is required)
[ $live = 0 ] || echo "  (no live sample: the migration ended before a report with bytes)"
copy=$(it_json n2 migrations '[.migrations[] | select(.vm == "vm1")][0] | [.transport, .copy.bytes > 100000000, .copy.channels, .copy.links, .copy.backend, .copy.state, .copy.mb_s > 0]')
[ "$copy" = '["mcopy",true,5,1,"tcp unframed","done",true]' ] || sb_fail "n2's migrations --json after the migration: $copy"
it_ctl n2 migrations | sed 's/^/  /'
it_ctl n2 migrations | grep -Eq 'vm1 .* [0-9.]+ MB, [0-9.]+ MB/s, 5 ch, tcp unframed' || sb_fail "clusterctl migrations shows no CARRIED column for vm1"
mig_mib=$((($(net_total migration) - mig0) >> 20)) mgmt_mib=$((($(net_total management) - mgmt0) >> 20))
echo "$out" | sed 's/^/  /'
echo "  bytes during the migration: migration network $mig_mib MiB, management network $mgmt_mib MiB"
[ "$mig_mib" -ge 128 ] || sb_fail "only $mig_mib MiB crossed the migration network"
[ "$mgmt_mib" -le 8 ] || sb_fail "$mgmt_mib MiB crossed the management network: the stream went the wrong way"
grep -q 'succeeded' <<<"$out" || sb_fail "--wait did not report success: $out"

# the mcopy path, on both sides
sb_wait_log n1 'migration of vm1 to n2 over unix:///run/clusterd/migrate/mig-[0-9a-f]+\.sock .*mcopy to the target.s engine, 5 QEMU connection' 1 "$mark1" ||
	sb_fail "n1 did not start the migration through mcopy"
sb_wait_log n1 'migration of vm1: mcopy: QEMU connected, carrying to 10\.99\.2\.2:49300' 1 "$mark1" ||
	sb_fail "n1's engine never carried QEMU's stream"
sb_wait_log n2 'migration of vm1: mcopy: receiving from 10\.99\.2\.1:[0-9]+, 5 channel' 1 "$mark2" ||
	sb_fail "n2's engine never received"
sb_wait_log n2 'migration of vm1: mcopy: received [0-9]+ bytes on 5 channel' 5 "$mark2" || sb_fail "n2's engine did not finish"
sb_wait_log n1 'migration of vm1 to n2: done \(mcopy: 5 channel\(s\), [0-9.]+ MB carried, backend tcp unframed' 5 "$mark1" ||
	sb_fail "n1 does not say what mcopy carried"
for n in n1 n2; do sb_grep_log $n 'mcopy' "$(eval echo \$mark${n#n})" | sed "s/^/  $n: /"; done

[ "$(sb virsh n2 domstate vm1 2>/dev/null | head -n 1)" = running ] || sb_fail "vm1 is not running on n2"
! sb virsh n1 list --name 2>/dev/null | grep -qx vm1 || sb_fail "vm1 still runs on n1"
read -r tick b errs bad < <(sb_guest_wait_tick n2 vm1 $((last_src + 3)) 30 "$gmark") || sb_fail "vm1 does not tick on n2"
[ "$b" = "$boot" ] || sb_fail "vm1 on n2 has boot id $b, not $boot: it restarted instead of moving"
[ "$errs" = 0 ] && [ "$bad" = 0 ] || sb_fail "vm1 on n2: errs=$errs static_bad=$bad: memory lost in migration"
for n in n1 n2; do
	left=$(sb exec $n find /run/clusterd/migrate -name 'mig-*' 2>/dev/null)
	[ -z "$left" ] || sb_fail "$n: sockets left behind: $left"
done
echo "vm1 moved n1 -> n2 live through mcopy (boot $boot, TICK $tick, errs=0 static_bad=0), no socket left"

# ---- part 1b: back at once, asked twice on the target at once ----
# The request reaches the cluster table only when corosync delivers it back:
# --wait must not call it gone meanwhile (it did, 0.1 s in, and callers then
# tore the sandbox down, destroying the source VM mid-start), and a second
# request for the same VM meanwhile must be refused, not run a second job.
mark2=$(sb_count_log n2 '.')
it_ctl n1 migrate vm1 n1 --wait >"$SANDBOX_DIR/back1.out" 2>&1 &
c1=$!
it_ctl n1 migrate vm1 n1 --wait >"$SANDBOX_DIR/back2.out" 2>&1 &
c2=$!
wait $c1; r1=$?
wait $c2; r2=$?
sed 's/^/  1: /' "$SANDBOX_DIR/back1.out"; sed 's/^/  2: /' "$SANDBOX_DIR/back2.out"
[ $((r1 + r2)) = 1 ] || sb_fail "two requests at once: exits $r1 and $r2, want one 0 and one 1"
grep -q 'already being migrated' "$SANDBOX_DIR/back$([ $r1 = 1 ] && echo 1 || echo 2).out" ||
	sb_fail "the second request was not refused as 'already being migrated'"
it_assert_no n2 'another migration job is already running|not started: migration' "$mark2" "a second job ran on vm1"
[ "$(sb virsh n1 domstate vm1 2>/dev/null | head -n 1)" = running ] || sb_fail "vm1 is not running on n1"
echo "vm1 back on n1; the second request at once was refused"

# ---- part 2: the target's engine dies mid-stream ----
sb guest-start n1 vm2 --mem 512 --dirty-mb 256 --dirty-rate 0 || sb_fail "guest-start vm2 failed"
read -r _ boot2 _ _ < <(sb_guest_wait_tick n1 vm2 3 60) || sb_fail "vm2 did not start ticking"
it_wait_json n2 vms '[.vms[] | select(.name == "vm2") | .node]' '["n1"]' 20 || sb_fail "n2 does not see vm2 on n1"
mark1=$(sb_count_log n1 '.') mark2=$(sb_count_log n2 '.')
it_ctl n1 migrate vm2 n2 --wait >"$SANDBOX_DIR/migrate2.out" 2>&1 &
ctl=$!
sb_wait_log n2 'migration of vm2: mcopy: receiving from' 30 "$mark2" || sb_fail "n2 never received vm2's stream"
sleep 0.5 # data flows: the point is "mid-stream"
sb kill n2 clusterd || sb_fail "could not kill n2's clusterd"
echo "  killed n2's clusterd (and the engine it hosts) mid-stream"
for _ in $(seq 600); do kill -0 $ctl 2>/dev/null || break; sleep 0.1; done
kill -0 $ctl 2>/dev/null && { kill $ctl; sb_fail "clusterctl migrate --wait still waits 60 s later"; }
wait $ctl
rc=$?
out=$(cat "$SANDBOX_DIR/migrate2.out")
echo "$out" | sed 's/^/  /'
[ $rc = 1 ] || sb_fail "clusterctl migrate --wait: exit $rc, want 1 (failed)"
# killing n2's clusterd ends its engine and its CPG membership at once: the
# source learns it from the engine's broken stream or from n2 failing,
# whichever comes first; either way the failure must say which
grep -Eq 'mcopy: channel [0-9]*: .*target|the target node failed' <<<"$out" ||
	sb_fail "the failure does not give the engine's reason or the target's failure: $out"
sb_grep_log n1 'vm2.*(mcopy|failed)' "$mark1" | sed 's/^/  n1: /'

if [ "$(sb virsh n1 domstate vm2 2>/dev/null | head -n 1)" != running ]; then
	tail -n 5 "$SANDBOX_DIR/n1/log/libvirt/qemu/vm2.log" "$SANDBOX_DIR/n1/log/libvirt/vm2.serial" >&2
	sb_fail "vm2 is not running on its source"
fi
gmark=$(sb_guest_lines n1 vm2)
read -r tick b errs bad < <(sb_guest_wait_tick n1 vm2 $(($(sb_guest_tick n1 vm2 | cut -d' ' -f1) + 2)) 30 "$gmark") ||
	sb_fail "vm2 stopped ticking on n1"
[ "$b" = "$boot2" ] || sb_fail "vm2 restarted (boot $b, was $boot2)"
[ "$errs" = 0 ] && [ "$bad" = 0 ] || sb_fail "vm2 on n1: errs=$errs static_bad=$bad"
sb start n2 clusterd || sb_fail "could not restart n2's clusterd"
sb_wait_log n2 'mcopy: listening on' 10 "$mark2" || sb_fail "n2's restarted daemon does not listen"
for _ in $(seq 100); do sb virsh n2 list --name 2>/dev/null | grep -qx vm2 || break; sleep 0.1; done
! sb virsh n2 list --name 2>/dev/null | grep -qx vm2 || sb_fail "vm2 runs on n2 too"
# (a restarted daemon learns running migrations, not finished ones: ask n1)
it_wait_json n1 migrations '[.migrations[] | select(.vm == "vm2") | .state] | last' '"failed"' 20 ||
	sb_fail "n1's table does not say failed"
for n in n1 n2; do
	left=$(sb exec $n find /run/clusterd/migrate -name 'mig-*' 2>/dev/null)
	[ -z "$left" ] || sb_fail "$n: sockets left behind: $left"
done
echo "target's engine killed mid-stream: failed with a reason (the engine's or the target's failure), vm2 still on n1 (boot $boot2, TICK $tick, errs=0)"
