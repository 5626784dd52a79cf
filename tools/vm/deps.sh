#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Install the Debian packages the timerring build and test bench need.
# Idempotent: prints nothing and touches no package list when everything
# is already installed; runs apt-get update only when something is missing.
set -euo pipefail

# The 6.1 stock headers come through the linux-headers-amd64 metapackage,
# the 6.12 ones through linux-headers-6.12-amd64 (bookworm's 6.12 kernel).
# `make deb` builds with debhelper and dh-dkms (bookworm has dh_dkms in a
# package of its own, not in dkms); the deb leg runs lintian and pkgconf.
pkgs=(
	qemu-system-x86 busybox-static cpio linux-source-6.12
	build-essential bc bison flex libelf-dev libssl-dev dwarves
	liburing-dev sparse dkms ccache
	linux-headers-amd64 linux-headers-6.12-amd64
	gnuplot-nox clang llvm libclang-rt-14-dev
	kmod python3 rsync xz-utils groff-base
	debhelper dh-dkms lintian pkgconf
)

# dpkg-query -W exits 1 when any name is not installed (or not known at
# all, as on a fresh machine): that is the answer, not an error.
status=$(dpkg-query -W -f='${db:Status-Status}:${Package} ' "${pkgs[@]}" \
	2>/dev/null || true)
installed=" $(printf '%s' "$status" | tr ' ' '\n' |
	sed -n 's/^installed://p' | tr '\n' ' ')"
missing=()
for p in "${pkgs[@]}"; do
	case "$installed" in
	*" $p "*) ;;
	*) missing+=("$p") ;;
	esac
done

[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}" >&2
if [ "$(id -u)" != 0 ]; then
	echo "deps: not root; run: sudo apt-get install ${missing[*]}" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
