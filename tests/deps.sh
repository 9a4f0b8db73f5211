#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# tests/deps.sh: installs every Debian 12 package that building clusterd, its
# tests, the demo and the sandbox need, QEMU from bookworm-backports (7.2 loses
# dirty pages of TCG guests during live migration) and the guest kernel of the
# migration tests. Idempotent; silent when all are there. Keeps packaged
# corosync/libvirt services from running on their own where a service manager
# exists (the sandbox starts its own, per namespace).
set -euo pipefail

packages=(
	# build
	build-essential autoconf automake libtool pkg-config
	libconfig-dev libjson-c-dev libssl-dev libcmocka-dev
	libcpg-dev libquorum-dev libvotequorum-dev libcmap-dev libcorosync-common-dev
	libvirt-dev libibverbs-dev librdmacm-dev
	# fuzzing (libFuzzer ships in clang's runtime), formatting
	clang libclang-rt-14-dev clang-format
	# sandbox and tests
	corosync iproute2 iptables iputils-ping procps util-linux jq socat
	# libvirt in the sandbox (monolithic libvirtd in bookworm), guest initramfs
	libvirt-daemon-system libvirt-daemon-system-sysv libvirt-daemon-driver-qemu
	libvirt-clients cpio gzip
)
# from bookworm-backports: QEMU >= 9 (see QEMU_MIN_MAJOR)
bpo_packages=(qemu-system-x86 qemu-utils)
QEMU_MIN_MAJOR=9
BPO_LIST=/etc/apt/sources.list.d/clusterd-bookworm-backports.sources
# the guest kernel for the sandbox's QEMU guests (tests/guest/build.sh)
KERNEL_CACHE=${CLUSTERD_TESTS_CACHE:-/var/cache/clusterd-tests}/kernel

say() { echo "tests/deps.sh: $*"; }
die() {
	echo "tests/deps.sh: error: $*" >&2
	exit 1
}

if [ "$(id -u)" != 0 ]; then
	echo "tests/deps.sh: must run as root (it installs Debian packages)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive

installed() { [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" = "install ok installed" ]; }

# epoch-less upstream major version of an installed package ("1:10.0.2+ds-1~bpo12+1" -> 10)
pkg_major() {
	local v
	v=$(dpkg-query -W -f='${Version}' "$1" 2>/dev/null) || return 1
	v=${v#*:}
	echo "${v%%.*}"
}

updated=0
apt_update() {
	[ "$updated" = 1 ] && return 0
	apt-get update -qq || die "apt-get update failed"
	updated=1
}

# The Debian mirror the machine already uses for bookworm: first URI of a
# deb822 stanza or a one-line "deb" entry whose suites include "bookworm".
debian_mirror() {
	local f
	for f in /etc/apt/sources.list.d/*.sources; do
		{ [ -f "$f" ] && [ "$f" != "$BPO_LIST" ]; } || continue
		awk 'BEGIN { RS = ""; FS = "\n" }
			{
				u = ""; s = ""; t = ""; en = 1
				for (i = 1; i <= NF; i++) {
					if ($i ~ /^URIs:/) { u = $i; sub(/^URIs:[ \t]*/, "", u); split(u, a, /[ \t]+/); u = a[1] }
					if ($i ~ /^Suites:/) s = " " $i " "
					if ($i ~ /^Types:/) t = $i
					if ($i ~ /^Enabled:[ \t]*no/) en = 0
				}
				if (en && t ~ /deb( |$)/ && s ~ /[ \t]bookworm[ \t]/ && u != "") { print u; exit }
			}' "$f"
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		awk '$1 == "deb" {
				i = 2
				if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
				if ($(i + 1) == "bookworm") { print $i; exit }
			}' "$f"
	done
}

# 1. the bookworm-backports source, on the configured Debian mirror
if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
	mirror=$(debian_mirror | head -n 1)
	[ -n "$mirror" ] || die "no Debian bookworm source in /etc/apt/sources.list(.d): cannot add bookworm-backports"
	say "adding bookworm-backports from $mirror ($BPO_LIST)"
	cat >"$BPO_LIST" <<EOF
# added by clusterd tests/deps.sh: QEMU >= 9 for live-migration tests
Types: deb
URIs: $mirror
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
	updated=0
	apt_update
fi

# 2. packages from bookworm
missing=()
for p in "${packages[@]}"; do
	installed "$p" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	say "installing ${missing[*]}"
	apt_update
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
		die "apt-get install ${missing[*]} failed"
fi

# 3. QEMU from bookworm-backports
need_bpo=0
for p in "${bpo_packages[@]}"; do
	if ! installed "$p" || [ "$(pkg_major "$p")" -lt "$QEMU_MIN_MAJOR" ]; then need_bpo=1; fi
done
if [ "$need_bpo" = 1 ]; then
	say "installing ${bpo_packages[*]} from bookworm-backports"
	apt_update
	apt-get install -y -qq --no-install-recommends -t bookworm-backports "${bpo_packages[@]}" >/dev/null ||
		die "apt-get install -t bookworm-backports ${bpo_packages[*]} failed"
	[ "$(pkg_major qemu-system-x86)" -ge "$QEMU_MIN_MAJOR" ] ||
		die "qemu-system-x86 is $(dpkg-query -W -f='${Version}' qemu-system-x86), want >= $QEMU_MIN_MAJOR"
fi

# 4. the guest kernel: vmlinuz of the current bookworm cloud kernel package,
# extracted (not installed) into $KERNEL_CACHE; "vmlinuz" links to it. With it,
# the modules the guest loads for its lease disk (virtio-blk on PCI: the cloud
# kernel has them as modules), into $KERNEL_CACHE/modules-<version>/.
GUEST_MODULES=(virtio virtio_ring virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_blk)
kver=$(readlink "$KERNEL_CACHE/vmlinuz" 2>/dev/null) && kver=${kver#vmlinuz-}
if [ ! -e "$KERNEL_CACHE/vmlinuz" ] || [ ! -f "$KERNEL_CACHE/modules-$kver/virtio_blk.ko" ]; then
	apt_update
	# the ABI package the bookworm metapackage points at (candidate from bookworm,
	# not backports: the backports pin is lower)
	kpkg=$(apt-cache depends -t bookworm linux-image-cloud-amd64 2>/dev/null |
		awk '$1 ~ /Depends:/ && $2 ~ /^linux-image-[0-9].*-cloud-amd64$/ { print $2; exit }')
	[[ $kpkg =~ ^linux-image-[0-9][0-9.a-z+-]*-cloud-amd64$ ]] || die "cannot find bookworm's linux-image-*-cloud-amd64"
	say "extracting the guest kernel and its virtio modules from $kpkg into $KERNEL_CACHE"
	tmp=$(mktemp -d)
	chmod 755 "$tmp" # apt-get download fetches as _apt
	trap 'rm -rf "$tmp"' EXIT
	(cd "$tmp" && apt-get download -qq -t bookworm "$kpkg" >/dev/null) || die "apt-get download $kpkg failed"
	deb=$(ls "$tmp"/*.deb)
	dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" --wildcards './boot/vmlinuz-*' \
		'./lib/modules/*/kernel/drivers/virtio/*.ko' './lib/modules/*/kernel/drivers/block/virtio_blk.ko' ||
		die "no ./boot/vmlinuz-* or virtio modules in $deb"
	mkdir -p "$KERNEL_CACHE"
	k=$(ls "$tmp"/boot/vmlinuz-*)
	kver=${k##*/vmlinuz-}
	mkdir -p "$KERNEL_CACHE/modules-$kver"
	for m in "${GUEST_MODULES[@]}"; do
		f=$(find "$tmp/lib/modules" -name "$m.ko" | head -n 1)
		[ -n "$f" ] || die "no $m.ko in $deb"
		install -m 0644 "$f" "$KERNEL_CACHE/modules-$kver/$m.ko"
	done
	install -m 0644 "$k" "$KERNEL_CACHE/${k##*/}"
	ln -sfn "${k##*/}" "$KERNEL_CACHE/vmlinuz"
	rm -rf "$tmp"
	trap - EXIT
fi

# Packaged daemons must not run beside the sandbox's own instances.
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
	for svc in corosync.service libvirtd.service libvirtd.socket libvirtd-ro.socket \
		libvirtd-admin.socket virtlogd.service virtlogd.socket virtlockd.service \
		virtlockd.socket libvirt-guests.service; do
		if systemctl is-enabled --quiet "$svc" 2>/dev/null || systemctl is-active --quiet "$svc" 2>/dev/null; then
			systemctl disable --now "$svc" >/dev/null 2>&1 || true
		fi
	done
elif command -v update-rc.d >/dev/null; then
	# sysv-rc (libvirt-daemon-system-sysv): no start links, so no start at
	# boot; one that an install started (no policy-rc.d denying it) is stopped
	for svc in corosync libvirtd virtlogd virtlockd libvirt-guests; do
		[ -e "/etc/init.d/$svc" ] || continue
		if compgen -G "/etc/rc[2-5].d/S[0-9][0-9]$svc" >/dev/null; then
			update-rc.d "$svc" disable >/dev/null 2>&1 || true
		fi
		if [ "$svc" != libvirt-guests ] && "/etc/init.d/$svc" status >/dev/null 2>&1; then
			say "stopping the packaged $svc (the sandbox runs its own)"
			"/etc/init.d/$svc" stop >/dev/null 2>&1 || true
		fi
	done
fi
exit 0
