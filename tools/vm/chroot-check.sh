#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Prove the fresh-machine route of the README: a minimal Debian 12
# (debootstrap --variant=minbase bookworm) with only git and make added,
# a clone of the repo, and `make check` in it as root, timed. The chroot
# gets the host's apt sources and resolv.conf, so apt works as on the
# host; /proc, /sys, /dev and /dev/pts are mounted in a private mount
# namespace (nothing propagates to the host, and they go away with it).
# The clone has what is committed, not the work tree's changes.
#
# usage: chroot-check.sh [-d DIR] [-r REPO] [-l LOG] [--keep]
#   -d DIR    chroot directory (default /var/tmp/timerring-chroot); must not
#             exist, or be one this script made (then it is made afresh)
#   -r REPO   repo to clone (default: the one this script is in)
#   -l LOG    output of make check (default DIR.log)
#   --keep    keep DIR afterwards (default: removed)
# Environment: MIRROR, the debootstrap mirror (default deb.debian.org).
# Needs root, network access to the mirror and several GB in DIR. Exits
# with the status of make check; its last lines give the elapsed seconds.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
mark=.timerring-chroot
mirror=${MIRROR:-http://deb.debian.org/debian}
chroot_path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# The part inside the private mount namespace: mounts, git and make,
# the clone, make check. Run as: chroot-check.sh --inside DIR REPO LOG
mounts=()
mnt() { mount "$@" || return; mounts+=("${*: -1}"); }
# Unmount in reverse order (the namespace would drop them anyway).
unmount_all() {
	local i
	for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
		umount -R "${mounts[i]}" 2>/dev/null || umount -R -l "${mounts[i]}" || true
	done
}
in_chroot() {
	chroot "$dir" /usr/bin/env -i HOME=/root PATH="$chroot_path" \
		TERM="${TERM:-dumb}" LANG=C.UTF-8 "$@"
}

inside() {
	local repo=$1 log=$2 secs start rc=0
	trap unmount_all EXIT
	# Fresh proc and sysfs; where a container forbids that, the host's.
	mnt -t proc proc "$dir/proc" || mnt --rbind /proc "$dir/proc"
	mnt -t sysfs sysfs "$dir/sys" || mnt --rbind /sys "$dir/sys"
	# /dev with what is mounted below it: /dev/pts, /dev/shm.
	mnt --rbind /dev "$dir/dev"

	# Without their Recommends: what make check needs beyond git and make
	# must come from deps.sh.
	echo "chroot-check: installing git and make in $dir"
	in_chroot apt-get update -qq
	in_chroot env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends git make
	echo "chroot-check: cloning $repo to $dir/src"
	git clone -q "$repo" "$dir/src"
	echo "chroot-check: $(git -C "$dir/src" log -1 --format='%h %s')"

	echo "chroot-check: make check in the chroot, output also in $log"
	start=$(date +%s)
	set +e
	{ time in_chroot bash -c 'cd /src && make check'; } 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	set -e
	secs=$(( $(date +%s) - start ))
	echo "chroot-check: make check exited $rc after ${secs}s" | tee -a "$log"
	return "$rc"
}

if [ "${1:-}" = --inside ]; then
	dir=$2
	inside "$3" "$4"
	exit
fi

dir=/var/tmp/timerring-chroot repo=$(cd "$here/../.." && pwd) log='' keep=0
while [ $# -gt 0 ]; do
	case $1 in
	-d) dir=${2:?-d needs a directory}; shift ;;
	-r) repo=${2:?-r needs a repo}; shift ;;
	-l) log=${2:?-l needs a file}; shift ;;
	--keep) keep=1 ;;
	-h|--help) sed -n '3,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "chroot-check: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
	shift
done
[ "$(id -u)" = 0 ] || { echo "chroot-check: needs root" >&2; exit 1; }
dir=$(realpath -m "$dir")
[ "$dir" != / ] || { echo "chroot-check: refusing DIR /" >&2; exit 2; }
log=${log:-$dir.log}
# A local repo is cloned by absolute path: the clone runs from elsewhere.
[ ! -d "$repo" ] || repo=$(cd "$repo" && pwd)
if [ -d "$repo" ] && [ -n "$(git -C "$repo" status --porcelain 2>/dev/null)" ]; then
	echo "chroot-check: note: $repo has uncommitted changes; the clone has HEAD" >&2
fi

# mounted_under DIR: is anything mounted at or below DIR?
mounted_under() {
	awk -v d="$1" '$2 == d || index($2, d "/") == 1 { f = 1 } END { exit !f }' \
		/proc/self/mounts
}
remove_dir() {
	if mounted_under "$dir"; then
		echo "chroot-check: something is still mounted under $dir: not removed" >&2
		return 1
	fi
	rm -rf --one-file-system "$dir"
}

if [ -e "$dir" ]; then
	if [ ! -e "$dir/$mark" ] && [ -n "$(ls -A "$dir")" ]; then
		echo "chroot-check: $dir exists and is not from chroot-check.sh" >&2
		exit 1
	fi
	remove_dir
fi

if ! command -v debootstrap >/dev/null; then
	echo "chroot-check: installing debootstrap on the host"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -qq debootstrap ||
		{ apt-get update -qq && apt-get install -y -qq debootstrap; }
fi

mkdir -p "$dir"
touch "$dir/$mark"
finish() {
	local rc=$?
	if [ "$keep" = 1 ]; then
		echo "chroot-check: kept $dir"
	else
		remove_dir || rc=1
	fi
	exit "$rc"
}
trap finish EXIT

# The host's apt sources, active ones only; https ones need certificates
# in the chroot before its first apt-get.
srcs=()
for s in /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
	/etc/apt/sources.list.d/*.sources; do
	[ ! -f "$s" ] || srcs+=("$s")
done
include=()
if [ ${#srcs[@]} -gt 0 ] && grep -qs 'https://' "${srcs[@]}"; then
	include=(--include=ca-certificates)
fi

echo "chroot-check: debootstrap bookworm into $dir ($mirror)"
t0=$(date +%s)
debootstrap --variant=minbase "${include[@]}" bookworm "$dir" "$mirror" \
	>"$dir.debootstrap.log" 2>&1 ||
	{ tail -n 20 "$dir.debootstrap.log" >&2; exit 1; }
echo "chroot-check: debootstrap took $(( $(date +%s) - t0 ))s"

# apt as on the host: its sources replace debootstrap's sources.list,
# with the keys they name (Signed-By) and apt's own key files. No service
# starts from package scripts.
if [ ${#srcs[@]} -gt 0 ]; then
	rm -f "$dir/etc/apt/sources.list"
	keys=$(sed -n 's/^Signed-By:[[:space:]]*\(\/[^[:space:]]*\).*/\1/p;
		s/.*signed-by=\(\/[^] ]*\).*/\1/p' "${srcs[@]}" | sort -u)
	for s in "${srcs[@]}" $keys /etc/apt/trusted.gpg /etc/apt/trusted.gpg.d \
		/etc/apt/keyrings; do
		[ -e "$s" ] || continue
		mkdir -p "$dir$(dirname "$s")"
		cp -rL "$s" "$dir$(dirname "$s")/"
	done
fi
cp -L /etc/resolv.conf "$dir/etc/resolv.conf"
printf '#!/bin/sh\nexit 101\n' >"$dir/usr/sbin/policy-rc.d"
chmod 755 "$dir/usr/sbin/policy-rc.d"

unshare --mount --propagation private -- bash "$0" --inside "$dir" "$repo" "$log"
