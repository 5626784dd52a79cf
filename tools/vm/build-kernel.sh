#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the timerring test kernel from Debian's linux-source-6.12, merged
# from tinyconfig and tools/vm/kconfig.fragment. The result is cached
# outside the tree, keyed by the fragment, this script and the source
# package version, so a warm machine never rebuilds it.
#
# Prints the kernel build directory (usable as KDIR for M= builds) on stdout.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${TIMERRING_CACHE:-/var/cache/timerring}
src_tar=/usr/src/linux-source-6.12.tar.xz
srcver=$(dpkg-query -W -f='${Version}' linux-source-6.12)
key=$( (cat "$here/kconfig.fragment" "$here/build-kernel.sh"; echo "$srcver") |
	sha256sum | cut -c1-16)
out=$cache/kernel-$key

if [ -f "$out/.done" ]; then
	echo "$out/build"
	exit 0
fi

echo "build-kernel: building test kernel $key (linux-source $srcver)" >&2
rm -rf "$out"
mkdir -p "$out"
tar -C "$out" -xf "$src_tar"
mv "$out"/linux-source-6.12 "$out/src"
mkdir -p "$out/build"
cd "$out/src"
make O="$out/build" tinyconfig >&2
./scripts/kconfig/merge_config.sh -m -O "$out/build" \
	"$out/build/.config" "$here/kconfig.fragment" >&2
make O="$out/build" olddefconfig >&2

# Every option of the fragment must have survived olddefconfig.
missing=0
while read -r line; do
	case "$line" in
	CONFIG_*=*)
		if ! grep -qx "$line" "$out/build/.config"; then
			echo "build-kernel: $line did not stick" >&2
			missing=1
		fi ;;
	"# CONFIG_"*" is not set")
		if ! grep -qx "$line" "$out/build/.config"; then
			echo "build-kernel: $line did not stick" >&2
			missing=1
		fi ;;
	esac
done < "$here/kconfig.fragment"
[ "$missing" = 0 ] || { echo "build-kernel: config fragment rejected" >&2; exit 1; }

cc=gcc
command -v ccache >/dev/null && cc="ccache gcc"
make O="$out/build" CC="$cc" -j"$(nproc)" bzImage modules >&2
make O="$out/build" CC="$cc" -j"$(nproc)" modules_prepare >&2
touch "$out/.done"
echo "$out/build"
