#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Fetch Debian's stock kernel images that match the installed header
# packages, without installing them: apt-get download + dpkg -x into
# $TIMERRING_CACHE/stock/<kver>/.
#
#   stock-kernels.sh                 one line per kernel: NAME KVER VMLINUZ KDIR
#   stock-kernels.sh vmlinuz NAME    path of the image of NAME (6.1 or 6.12)
#   stock-kernels.sh kdir NAME       its headers dir (/usr/src/linux-headers-KVER)
#   stock-kernels.sh kver NAME       its uname -r
#
# NAME is the major.minor of the kernel. The kernel versions are derived
# from the dependencies of the installed header metapackages.
set -euo pipefail

cache=${TIMERRING_CACHE:-/var/cache/timerring}/stock

# metapackage -> the versioned linux-headers-<kver> it depends on
kver_of() {
	dpkg-query -W -f='${Depends}' "$1" 2>/dev/null |
		grep -o 'linux-headers-[^ ,]*-amd64' | head -n1 |
		sed 's/^linux-headers-//'
}

declare -A meta=([6.1]=linux-headers-amd64 [6.12]=linux-headers-6.12-amd64)
names=(6.1 6.12)

fetch() {
	local name=$1 kver img dir ver tmp
	kver=$(kver_of "${meta[$name]}")
	if [ -z "$kver" ]; then
		echo "stock-kernels: ${meta[$name]} not installed (run tools/vm/deps.sh)" >&2
		return 1
	fi
	img=linux-image-$kver
	dir=$cache/$kver
	if [ ! -f "$dir/.done" ]; then
		# Same version as the headers when the archive still has it.
		ver=$(dpkg-query -W -f='${Version}' "linux-headers-$kver")
		echo "stock-kernels: fetching $img ($ver)" >&2
		rm -rf "$dir"
		mkdir -p "$dir"
		tmp=$(mktemp -d)
		# apt-get download drops privileges to _apt: let it write.
		chmod 777 "$tmp"
		if ! (cd "$tmp" && apt-get download -q "$img=$ver" >&2); then
			echo "stock-kernels: $img=$ver not in the lists, trying update" >&2
			apt-get update -qq >&2 || true
			(cd "$tmp" && { apt-get download -q "$img=$ver" ||
				apt-get download -q "$img"; } >&2)
		fi
		dpkg -x "$tmp"/*.deb "$dir/root"
		rm -rf "$tmp"
		touch "$dir/.done"
	fi
	[ -f "$dir/root/boot/vmlinuz-$kver" ] ||
		{ echo "stock-kernels: no vmlinuz in $img" >&2; return 1; }
	[ -d "/usr/src/linux-headers-$kver" ] ||
		{ echo "stock-kernels: /usr/src/linux-headers-$kver missing" >&2; return 1; }
	printf '%s %s %s %s\n' "$name" "$kver" \
		"$dir/root/boot/vmlinuz-$kver" "/usr/src/linux-headers-$kver"
}

case "${1:-}" in
"")
	for n in "${names[@]}"; do fetch "$n"; done ;;
vmlinuz|kdir|kver)
	[ -n "${2:-}" ] && [ -n "${meta[$2]:-}" ] ||
		{ echo "usage: $0 $1 {${names[*]}}" >&2; exit 2; }
	line=$(fetch "$2")
	set -- "$1" $line
	case "$1" in
	vmlinuz) echo "$4" ;;
	kdir) echo "$5" ;;
	kver) echo "$3" ;;
	esac ;;
*)
	echo "usage: $0 [vmlinuz|kdir|kver NAME]" >&2; exit 2 ;;
esac
