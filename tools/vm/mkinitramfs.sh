#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the gzip cpio initramfs of the timerring test VM from
# busybox-static, the guest scripts of tools/vm/guest/, the modules, the
# test programs and optional extra files.
#
# usage: mkinitramfs.sh -o OUT.cpio.gz [options] [MODULE.ko...]
#   -o FILE      output (required)
#   -s DIR       selftests dir: every path printed by
#                `make -s -C DIR list-tests` goes to /opt/timerring/tests/
#                (default: <repo>/selftests; a missing dir or target is
#                tolerated)
#   -S           no selftests
#   -u DIR       userspace tools dir: `make -s -C DIR list-vm-tests` go to
#                /opt/timerring/tests/, `list-vm-bins` to /opt/timerring/bin/
#                (default: <repo>/tools; missing targets are tolerated)
#   -U           no tools
#   -t FILE      add FILE to /opt/timerring/tests/ (repeatable)
#   -b FILE      add FILE to /opt/timerring/bin/ (showcase programs)
#   -x SRC:DST   add SRC as DST in the guest (repeatable)
# Modules (arguments) go to /lib/timerring/; the guest loads timerring.ko
# and, when present, timerring_kunit.ko.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=
selftests=$repo/selftests
toolsdir=$repo/tools
tests=()
bins=()
extras=()

usage() { sed -n '/^# usage/,/^# Modules/p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while getopts "o:s:Su:Ut:b:x:h" opt; do
	case $opt in
	o) out=$OPTARG ;;
	s) selftests=$OPTARG ;;
	S) selftests= ;;
	u) toolsdir=$OPTARG ;;
	U) toolsdir= ;;
	t) tests+=("$OPTARG") ;;
	b) bins+=("$OPTARG") ;;
	x) extras+=("$OPTARG") ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ -n "$out" ] || usage

# A program that needs an ELF interpreter cannot run in the guest.
dynamic() { readelf -l "$1" 2>/dev/null | grep -q 'Requesting program interpreter'; }

bb=/bin/busybox		# from busybox-static
[ -x "$bb" ] && ! dynamic "$bb" ||
	{ echo "mkinitramfs: $bb missing or not static (busybox-static)" >&2; exit 1; }

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
# mktemp -d makes it 0700: the guest's / must be searchable by the
# unprivileged users of the tests; /root stays private, /tmp is sticky.
chmod 755 "$root"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,etc,root} \
	"$root"/{lib/timerring,opt/timerring/tests,opt/timerring/bin,timerring}
chmod 700 "$root/root"
chmod 1777 "$root/tmp"
cp "$bb" "$root/bin/busybox"
for a in $("$bb" --list); do
	[ "$a" = busybox ] || ln -s busybox "$root/bin/$a"
done
install -m 755 "$here/guest/init" "$root/init"
install -m 755 "$here/guest/guest.sh" "$root/timerring/guest.sh"
# Users and groups of the tests: /dev/timerring belongs to group
# timerring (see guest.sh), and selftests/timerring/user_test runs as
# 65534 and 65533.
cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
trtest:x:65533:65533:timerring second test user:/nonexistent:/bin/false
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$root/etc/group" <<'EOF'
root:x:0:
timerring:x:990:
trtest:x:65533:
nogroup:x:65534:
EOF
# Device nodes the kernel needs before devtmpfs is mounted.
mknod -m 600 "$root/dev/console" c 5 1
mknod -m 666 "$root/dev/null" c 1 3

for m in "$@"; do
	[ -f "$m" ] || { echo "mkinitramfs: no module $m" >&2; exit 1; }
	install -m 644 "$m" "$root/lib/timerring/"
done

# list DIR TARGET: the paths `make -s -C DIR TARGET` prints, if it can.
list() {
	[ -n "$1" ] && [ -f "$1/Makefile" ] || return 0
	make -s -C "$1" "$2" 2>/dev/null ||
		echo "mkinitramfs: no '$2' target in $1" >&2
}
for t in $(list "$selftests" list-tests) $(list "$toolsdir" list-vm-tests); do
	tests+=("$t")
done
for b in $(list "$toolsdir" list-vm-bins); do
	bins+=("$b")
done

# A listed program that was not built is reported by the guest as a
# failure, and the rest still runs.
: >"$root/timerring/missing"
for t in "${tests[@]}" "${bins[@]}"; do
	if [ ! -f "$t" ]; then
		echo "mkinitramfs: warning: $t not built" >&2
		echo "$t" >>"$root/timerring/missing"
	elif dynamic "$t"; then
		echo "mkinitramfs: warning: $t is dynamically linked (the guest has no libc)" >&2
	fi
done
for t in "${tests[@]}"; do
	if [ -f "$t" ]; then install -m 755 "$t" "$root/opt/timerring/tests/"; fi
done
for b in "${bins[@]}"; do
	if [ -f "$b" ]; then install -m 755 "$b" "$root/opt/timerring/bin/"; fi
done
for x in "${extras[@]}"; do
	src=${x%%:*}
	dst=${x#*:}
	mkdir -p "$root/$(dirname "$dst")"
	cp -a "$src" "$root/$dst"
done

(cd "$root" && find . -print0 | LC_ALL=C sort -z |
	cpio --null -o -H newc --owner=0:0 --quiet) | gzip -1 >"$out.tmp"
mv "$out.tmp" "$out"
