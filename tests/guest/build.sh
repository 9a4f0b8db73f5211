#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# tests/guest/build.sh: builds the sandbox's verification guest: dirty.c as a
# static /init in a gzip'd cpio (newc) initramfs, next to the guest kernel
# that tests/deps.sh extracted. Rebuilds only when dirty.c or this script
# changed; prints the cache dir. Installs nothing (run tests/deps.sh first).
#
#   tests/guest/build.sh [CACHE_DIR]      (default $GUEST_DIR or
#                                          /var/cache/clusterd-tests/guest)
# Leaves CACHE_DIR/vmlinuz and CACHE_DIR/initrd.gz. Environment: GUEST_KERNEL
# (default /var/cache/clusterd-tests/kernel/vmlinuz), CC (default gcc).
# The kernel's virtio-blk modules (tests/deps.sh puts them in
# modules-<version>/ next to the kernel) go in the initramfs as /lib/modules/:
# /init loads them for the guest's lease disk. Without them the guest runs
# without a lease (it says so on its console; lease_conflicts=-1).
set -euo pipefail

here=$(dirname "$(readlink -f "$0")")
out=${1:-${GUEST_DIR:-/var/cache/clusterd-tests/guest}}
kernel=${GUEST_KERNEL:-/var/cache/clusterd-tests/kernel/vmlinuz}
cc=${CC:-gcc}

die() {
	echo "tests/guest/build.sh: error: $*" >&2
	exit 1
}

[ -r "$kernel" ] || die "no guest kernel at $kernel: run tests/deps.sh"
for c in "$cc" cpio gzip sha256sum; do
	command -v "$c" >/dev/null || die "'$c' not found: run tests/deps.sh"
done
mkdir -p "$out" || die "cannot create $out"

kreal=$(readlink -f "$kernel")
moddir=$(dirname "$kreal")/modules-${kreal##*/vmlinuz-}
mods=(virtio virtio_ring virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_blk)
for m in "${mods[@]}"; do
	[ -r "$moddir/$m.ko" ] || {
		echo "tests/guest/build.sh: warning: no $moddir/$m.ko (run tests/deps.sh): the guest will have no lease" >&2
		mods=()
		break
	}
done
# the stamp: what the initramfs was built from
modfiles=()
for m in ${mods[@]+"${mods[@]}"}; do modfiles+=("$moddir/$m.ko"); done
stamp=$(cat "$here/dirty.c" "$0" ${modfiles[@]+"${modfiles[@]}"} | sha256sum | cut -d' ' -f1)
if [ -f "$out/initrd.gz" ] && [ "$(cat "$out/stamp" 2>/dev/null)" = "$stamp" ] &&
	[ "$(readlink -f "$out/vmlinuz")" = "$kreal" ]; then
	echo "$out"
	exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
root=$tmp/root
# /dev and /proc are mounted by /init; /dev/console is for the kernel's
# first open before that.
mkdir -p "$root"/{dev,proc,mnt,lib/modules}
for f in ${modfiles[@]+"${modfiles[@]}"}; do
	cp "$f" "$root/lib/modules/" || die "cannot copy $f"
done
mknod -m 600 "$root/dev/console" c 5 1 2>/dev/null || true
"$cc" -static -O2 -Wall -Wextra -o "$root/init" "$here/dirty.c" || die "compiling dirty.c failed"
strip "$root/init" 2>/dev/null || true
(cd "$root" && find . -print0 | LC_ALL=C sort -z |
	cpio --null -o -H newc --quiet -R 0:0) | gzip -9n >"$tmp/initrd.gz" || die "packing the initramfs failed"
mv -f "$tmp/initrd.gz" "$out/initrd.gz"
ln -sfn "$kreal" "$out/vmlinuz"
echo "$stamp" >"$out/stamp"
echo "$out"
