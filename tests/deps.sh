#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# tests/deps.sh: installs every Debian 12 package that building clusterd, its
# tests, the demo and the sandbox need. Idempotent; silent when all are there.
# Keeps packaged corosync/libvirt services from running on their own where a
# service manager exists (the sandbox starts its own, per namespace).
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
)

if [ "$(id -u)" != 0 ]; then
	echo "tests/deps.sh: must run as root (it installs Debian packages)" >&2
	exit 1
fi

missing=()
for p in "${packages[@]}"; do
	s=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[ "$s" = "install ok installed" ] || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
	echo "tests/deps.sh: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Packaged daemons must not run beside the sandbox's own instances.
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
	for svc in corosync.service libvirtd.service; do
		if systemctl is-enabled --quiet "$svc" 2>/dev/null || systemctl is-active --quiet "$svc" 2>/dev/null; then
			systemctl disable --now "$svc" >/dev/null 2>&1 || true
		fi
	done
fi
exit 0
