#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Live migration in the sandbox, without clusterd's help: a 128 MiB TCG guest
# writing 100 MiB/s over a 64 MiB buffer (tests/guest/dirty.c) goes n1 -> n2
# and back with libvirt (peer to peer). After each move it runs on the target
# only, its TICK lines continue with the same boot id, it found no lost page
# (errs=0) and no changed pattern (static_bad=0), the target received at least
# the guest's RAM over the migration network and the management network
# carried no more than a few MiB. Needs QEMU >= 9 (bookworm-backports):
# QEMU 7.2 loses dirty pages of TCG guests during live migration.
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "$0")/lib.sh"
sb_require_cmd libvirtd virsh qemu-system-x86_64 gcc cpio

MEM=128           # MiB of guest RAM
MGMT_MAX=$((4 << 20)) # bytes the management network may carry per migration

v=$(dpkg-query -W -f='${Version}' qemu-system-x86 2>/dev/null)
v=${v#*:}
if [ -z "$v" ] || ! [ "${v%%.*}" -ge 9 ] 2>/dev/null; then
	sb_skip "QEMU >= 9 from bookworm-backports is not installed (have: ${v:-none}); run tests/deps.sh (7.2 loses dirty pages of TCG guests)"
fi
[ -r /var/cache/clusterd-tests/kernel/vmlinuz ] || [ -n "${GUEST_KERNEL:-}" ] ||
	sb_skip "no guest kernel in /var/cache/clusterd-tests/kernel: run tests/deps.sh"

t0=$EPOCHREALTIME
sb_up --nodes 2 --libvirt
echo "sandbox up with libvirt: $(sb_ms_between "$t0" "$EPOCHREALTIME") ms"

sb guest-start n1 vm1 --mem "$MEM" --dirty-mb 48 --dirty-rate 100 || sb_fail "guest-start failed"
t0=$EPOCHREALTIME
read -r tick boot errs bad < <(sb_guest_wait_tick n1 vm1 3 60) || sb_fail "the guest did not reach TICK 3 on n1"
echo "guest on n1: TICK $tick after $(sb_ms_between "$t0" "$EPOCHREALTIME") ms, boot id $boot"

# bytes received + sent by every node on NET
net_total() {
	local n sum=0 rx tx
	for n in $(sb_nodes); do
		read -r rx tx < <(sb net-bytes "$n" "$1") || sb_fail "no counters for $n/$1"
		sum=$((sum + rx + tx))
	done
	echo "$sum"
}

# the guest's QEMU process inside NODE's namespace, if any
qemu_pids() {
	local p
	for p in $(ip netns pids "$SANDBOX_ID-$1" 2>/dev/null); do
		tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q -- "-name guest=$2," && echo "$p"
	done
	return 0
}

migrate() { # SRC DST
	local src=$1 dst=$2 mark_dst rx0 rx1 mgmt0 mgmt1 out data last_src first_dst t nticks list
	mark_dst=$(sb_guest_lines "$dst" vm1)
	# QEMU sends an all-zero page as a header only, so with zero pages the
	# stream may be smaller than the RAM; without zero-page detection every
	# page of RAM crosses at least once: the RAM size is a hard lower bound.
	sb virsh "$src" qemu-monitor-command vm1 \
		'{"execute":"migrate-set-parameters","arguments":{"zero-page-detection":"none"}}' >/dev/null ||
		sb_fail "cannot turn off zero-page detection on $src"
	read -r rx0 _ < <(sb net-bytes "$dst" migration)
	mgmt0=$(net_total management)
	t=$EPOCHREALTIME
	out=$(sb guest-migrate "$src" vm1 "$dst") || sb_fail "migration $src -> $dst failed: $out"
	echo "$src -> $dst: $(sb_ms_between "$t" "$EPOCHREALTIME") ms"
	printf '    %s\n' "${out//$'\n'/$'\n'    }"
	read -r rx1 _ < <(sb net-bytes "$dst" migration)
	mgmt1=$(net_total management)

	# where it runs
	[ "$(sb virsh "$dst" domstate vm1 2>/dev/null | head -n 1)" = running ] || sb_fail "vm1 is not running on $dst"
	list=$(sb virsh "$src" list --all --name 2>/dev/null) || sb_fail "virsh list on $src failed"
	! grep -qx vm1 <<<"$list" || sb_fail "vm1 is still on $src: $list"
	[ -z "$(qemu_pids "$src" vm1)" ] || sb_fail "a QEMU of vm1 still runs in $src: $(qemu_pids "$src" vm1)"
	[ -n "$(qemu_pids "$dst" vm1)" ] || sb_fail "no QEMU of vm1 in $dst's namespace"

	# it goes on: same boot, the next TICK after the source's last one, 3 more
	read -r last_src _ < <(sb_guest_tick "$src" vm1) || sb_fail "no TICK on $src"
	read -r tick b errs bad < <(sb_guest_wait_tick "$dst" vm1 $((last_src + 3)) 30 "$mark_dst") ||
		sb_fail "vm1 does not tick on $dst"
	[ "$b" = "$boot" ] || sb_fail "vm1 on $dst has boot id $b, not $boot: it restarted"
	first_dst=$(tail -n "+$((mark_dst + 1))" "$(sb_guest_serial "$dst" vm1)" | awk '/^TICK / { print $2; exit }')
	[ "$first_dst" = $((last_src + 1)) ] ||
		sb_fail "vm1's first TICK on $dst is $first_dst, its last on $src was $last_src"
	nticks=$(tail -n "+$((mark_dst + 1))" "$(sb_guest_serial "$dst" vm1)" |
		awk -v f="$first_dst" '/^TICK / { if ($2 != f + n) bad = 1; n++ } END { print bad ? -1 : n }')
	[ "$nticks" -gt 0 ] || sb_fail "vm1's TICK lines on $dst are not consecutive"
	if [ "$errs" != 0 ] || [ "$bad" != 0 ]; then
		sb_fail "vm1 on $dst: errs=$errs static_bad=$bad: memory lost or corrupted in migration"
	fi
	! grep -aq -e '^ERR' -e '^FATAL' -e 'Kernel panic' "$(sb_guest_serial "$dst" vm1)" ||
		sb_fail "vm1's console on $dst reports an error: $(grep -a -m1 -e '^ERR' -e '^FATAL' -e 'Kernel panic' "$(sb_guest_serial "$dst" vm1)")"

	# the stream went over the migration network, not the management one
	data=$(awk '/^Data processed:/ { v = $3; u = $4 } END {
			m = (u == "GiB") ? 1024 : (u == "KiB") ? 1 / 1024 : 1; printf "%d", v * m * 1048576 }' <<<"$out")
	[ $((rx1 - rx0)) -ge $((MEM << 20)) ] ||
		sb_fail "$dst received $(((rx1 - rx0) >> 20)) MiB on the migration network, less than the guest's $MEM MiB"
	[ -z "$data" ] || [ $((rx1 - rx0)) -ge "$data" ] ||
		sb_fail "$dst received $(((rx1 - rx0) >> 20)) MiB on the migration network, libvirt says it sent $((data >> 20)) MiB"
	[ $((mgmt1 - mgmt0)) -le "$MGMT_MAX" ] ||
		sb_fail "the management network carried $(((mgmt1 - mgmt0) >> 10)) KiB during the migration"
	echo "$src -> $dst: vm1 at TICK $tick on $dst (first there $first_dst, last on $src $last_src), boot $b, errs=0 static_bad=0;" \
		"migration network +$(((rx1 - rx0) >> 20)) MiB into $dst, management network +$(((mgmt1 - mgmt0) >> 10)) KiB (all nodes)"
}

migrate n1 n2
migrate n2 n1
echo "vm1 live-migrated n1 -> n2 -> n1 over the migration network: same boot, TICKs continuous, no lost page"
