#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Check the DKMS package: dkms add + build of timerring against the
# headers of kernel KVER, in a private DKMS and source tree under WORKDIR
# (so the host's /var/lib/dkms and /usr/src are left alone), then remove
# it again. Nothing is installed, and the package's POST_INSTALL (the
# udev rule and group) is not run.
#
# usage: dkms-build.sh KVER WORKDIR [SRCDIR]
#
# The package is a copy of this tree's files of `make dkms-install`, or,
# with SRCDIR, that source tree as it is (dkms.conf at its top): e.g.
# usr/src/timerring-<version> unpacked from the timerring-dkms .deb.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
kver=${1:?usage: dkms-build.sh KVER WORKDIR [SRCDIR]}
work=${2:?usage: dkms-build.sh KVER WORKDIR [SRCDIR]}
srcdir=${3:-}
if [ -n "$srcdir" ]; then
	[ -f "$srcdir/dkms.conf" ] || { echo "dkms-build: no $srcdir/dkms.conf" >&2; exit 1; }
	srcdir=$(cd "$srcdir" && pwd)
	pkg=$srcdir
else
	pkg=$repo
fi

ver=$(sed -n 's/^PACKAGE_VERSION="\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$pkg/dkms.conf")
if [ -f "$pkg/VERSION" ] && [ "$(cat "$pkg/VERSION")" != "$ver" ]; then
	echo "dkms-build: dkms.conf says $ver, VERSION says $(cat "$pkg/VERSION")" >&2
	exit 1
fi

rm -rf "$work"
mkdir -p "$work/src/timerring-$ver" "$work/tree"
work=$(cd "$work" && pwd)
# The files of `make dkms-install` (paths kept): the build files and the
# access rule of the POST_INSTALL script. dkms add and build never run
# POST_INSTALL (only dkms install does), so nothing reaches this host.
src=(dkms.conf Kbuild module uapi tools/dkms/post-install.sh
	tools/udev/60-timerring.rules)
[ -f "$repo/VERSION" ] && src+=(VERSION)
if [ -n "$srcdir" ]; then
	rsync -a "$srcdir/" "$work/src/timerring-$ver/"
else
	(cd "$repo" && rsync -aR --exclude='*.o' --exclude='*.ko' --exclude='.*.cmd' \
		--exclude='*.mod*' "${src[@]}" "$work/src/timerring-$ver/")
fi
post=$(sed -n 's/^POST_INSTALL="\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$pkg/dkms.conf")
if [ -n "$post" ] && [ ! -x "$work/src/timerring-$ver/$post" ]; then
	echo "dkms-build: POST_INSTALL $post is not an executable file of the package" >&2
	exit 1
fi

opts=(-m timerring -v "$ver" --sourcetree "$work/src" --dkmstree "$work/tree")
cleanup() { dkms remove "${opts[@]}" --all >/dev/null 2>&1 || true; }
trap cleanup EXIT

dkms add "${opts[@]}"
rc=0
dkms build "${opts[@]}" -k "$kver" || rc=$?
# dkms keeps make.log in build/ on failure, under <kver>/<arch>/log/ on success.
log=$(find "$work/tree/timerring/$ver" -name make.log | head -n1)
[ -n "$log" ] && cp "$log" "$work/make.log" && cat "$log"
[ $rc = 0 ] || { echo "dkms-build: dkms build failed ($rc)" >&2; exit 1; }
ko=$(find "$work/tree/timerring/$ver/$kver" -name 'timerring.ko*' | head -n1)
[ -n "$ko" ] || { echo "dkms-build: no timerring.ko built" >&2; exit 1; }
echo "dkms-build: built $(modinfo -F vermagic "$ko" 2>/dev/null | cut -d' ' -f1) module $ko"
if [ -n "$log" ] && grep -E '(warning|error):' "$log"; then
	echo "dkms-build: warnings in the DKMS build" >&2
	exit 1
fi
