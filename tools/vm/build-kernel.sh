#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the timerring test kernel from Debian's linux-source-6.12, merged
# from tinyconfig and tools/vm/kconfig.fragment. The result is cached
# outside the tree, keyed by the fragments, this script and the source
# package version, so a warm machine never rebuilds it.
#
# usage: build-kernel.sh [VARIANT]
#   no VARIANT: the test kernel, in $cache/kernel-<key>;
#   VARIANT (e.g. kcsan): tools/vm/kconfig-VARIANT.fragment is merged after
#   kconfig.fragment, a line of it replacing the one of the same option,
#   into $cache/kernel-VARIANT-<key>.
#
# Prints the kernel build directory (usable as KDIR for M= builds) on stdout.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${TIMERRING_CACHE:-/var/cache/timerring}
src_tar=/usr/src/linux-source-6.12.tar.xz
variant=${1:-}
frags=("$here/kconfig.fragment")
if [ -n "$variant" ]; then
	frags+=("$here/kconfig-$variant.fragment")
	[ -f "${frags[1]}" ] || { echo "build-kernel: no ${frags[1]}" >&2; exit 2; }
fi
srcver=$(dpkg-query -W -f='${Version}' linux-source-6.12)
key=$( (cat "${frags[@]}" "$here/build-kernel.sh"; echo "$srcver") |
	sha256sum | cut -c1-16)
out=$cache/kernel-${variant:+$variant-}$key

if [ -f "$out/.done" ]; then
	echo "$out/build"
	exit 0
fi

echo "build-kernel: building test kernel ${variant:+$variant }$key (linux-source $srcver)" >&2
rm -rf "$out"
mkdir -p "$out"
# The fragments as one: the last line of each option wins, in the order
# the options first appear.
frag=$out/kconfig.fragment
awk '{ o = $0
	if (match($0, /^CONFIG_[A-Za-z0-9_]+=/)) o = substr($0, 1, RLENGTH - 1)
	else if (match($0, /^# CONFIG_[A-Za-z0-9_]+ is not set/))
		o = substr($0, 3, RLENGTH - 13)
	else next
	if (!(o in v)) order[n++] = o
	v[o] = $0 }
	END { for (i = 0; i < n; i++) print v[order[i]] }' "${frags[@]}" >"$frag"
tar -C "$out" -xf "$src_tar"
mv "$out"/linux-source-6.12 "$out/src"
mkdir -p "$out/build"
cd "$out/src"
make O="$out/build" tinyconfig >&2
./scripts/kconfig/merge_config.sh -m -O "$out/build" \
	"$out/build/.config" "$frag" >&2
make O="$out/build" olddefconfig >&2

# Every option of the fragment must have survived olddefconfig. An option
# "not set" may also be absent: one whose dependencies are off (KASAN_INLINE
# without KASAN) is not written at all.
missing=0
while read -r line; do
	case "$line" in
	CONFIG_*=*)
		if ! grep -qx "$line" "$out/build/.config"; then
			echo "build-kernel: $line did not stick" >&2
			missing=1
		fi ;;
	"# CONFIG_"*" is not set")
		opt=${line#\# }
		opt=${opt%% *}
		if grep -q "^$opt=" "$out/build/.config"; then
			echo "build-kernel: $line did not stick" >&2
			missing=1
		fi ;;
	esac
done < "$frag"
[ "$missing" = 0 ] || { echo "build-kernel: config fragment rejected" >&2; exit 1; }

cc=gcc
command -v ccache >/dev/null && cc="ccache gcc"
make O="$out/build" CC="$cc" -j"$(nproc)" bzImage modules >&2
make O="$out/build" CC="$cc" -j"$(nproc)" modules_prepare >&2
touch "$out/.done"
echo "$out/build"
