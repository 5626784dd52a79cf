#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the timerring modules out of tree in a private copy of the module
# sources, so that builds against different kernels do not clobber each
# other (or the .ko files at the repo root).
#
# usage: build-module.sh -o DIR -k KDIR [-w] [MAKE ARGS...]
#   -o DIR    build directory: Kbuild, module/, uapi/ (and VERSION) are
#             copied there and the .ko files land in it
#   -k KDIR   kernel build tree (or a linux-headers dir)
#   -w        any "warning:" or "error:" in the build output fails the build
# Extra arguments go to make, e.g. C=2 for sparse or a single target
# (timerring.ko). W=1 is always passed.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
dir=
kdir=
strict=0
while getopts "o:k:w" opt; do
	case $opt in
	o) dir=$OPTARG ;;
	k) kdir=$OPTARG ;;
	w) strict=1 ;;
	*) sed -n '/^# usage/,/^# (timerring/p' "$0" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ -n "$dir" ] && [ -n "$kdir" ] || { echo "build-module: need -o DIR -k KDIR" >&2; exit 2; }
[ -f "$kdir/Makefile" ] || { echo "build-module: $kdir is not a kernel build tree" >&2; exit 1; }
[ -f "$repo/Kbuild" ] || { echo "build-module: no Kbuild at $repo (module not written yet?)" >&2; exit 1; }

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
src=(Kbuild module uapi)
[ -f "$repo/VERSION" ] && src+=(VERSION)
# --delete keeps the copy exact; build products are not in the source.
(cd "$repo" && rsync -a --delete \
	--exclude='*.o' --exclude='*.ko' --exclude='.*.cmd' --exclude='*.mod*' \
	"${src[@]}" "$dir/")

# The compiler the kernel was built with (Debian's headers name it
# gcc-12 or x86_64-linux-gnu-gcc-12): another name for the same gcc makes
# kbuild warn that the compiler differs.
args=()
goal=modules
cc_set=0
for a in "$@"; do
	case "$a" in
	CC=*) cc_set=1; args+=("$a") ;;
	*=*) args+=("$a") ;;
	*) goal=$a ;;
	esac
done
if [ $cc_set = 0 ] && [ -f "$kdir/include/config/auto.conf" ]; then
	cc=$(sed -n 's/^CONFIG_CC_VERSION_TEXT="\{0,1\}\([^ ]*\) .*/\1/p' \
		"$kdir/include/config/auto.conf")
	[ -n "$cc" ] && command -v "$cc" >/dev/null && args+=("CC=$cc")
fi

log=$dir/build.log
echo "build-module: make -C $kdir M=$dir W=1 ${args[*]} $goal" >&2
set +e
make -C "$kdir" M="$dir" W=1 -j"$(nproc)" "${args[@]}" "$goal" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
if [ "$rc" != 0 ]; then
	echo "build-module: make failed ($rc)" >&2
	exit 1
fi
if [ "$strict" = 1 ] && grep -E '(warning|error):' "$log" >/dev/null; then
	echo "build-module: $(grep -cE '(warning|error):' "$log") warning(s) in $log:" >&2
	grep -E '(warning|error):' "$log" >&2
	exit 1
fi
ls "$dir"/*.ko >/dev/null 2>&1 || { echo "build-module: no .ko built" >&2; exit 1; }
