#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Check the Debian packages (leg `deb` of `make check`): `make deb`,
# lintian on the .changes, the contents of each .deb, the maintainer
# scripts of timerring-dkms, hello.c built with pkg-config against the
# library as the packages install it, and a DKMS build of the packaged
# module sources against the 6.12 headers.
#
# Nothing is installed on this machine. The packages go into throwaway
# roots under OUT/deb-check: unpacked with dpkg -x for the library, and
# installed, removed and purged with `dpkg --root` for timerring-dkms,
# whose maintainer scripts then run chrooted there, with stand-ins for
# addgroup, getent, dkms and DKMS's common.postinst (busybox sh runs
# them). The DKMS build uses a private tree (dkms-build.sh). Prints TAP,
# then "N passed, N failed"; exits non-zero if anything failed.
#
# usage: deb-check.sh [OUT]     (default: $OUT, else out; packages in OUT/deb)
#
# shellcheck disable=SC2015,SC2016
# (SC2015: "a && b || die" fails on either; SC2016: the stand-ins' bodies
# are expanded by the throwaway root's sh, not here.)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$repo"
out=${1:-${OUT:-out}}
mkdir -p "$out"
out=$(cd "$out" && pwd)
debs=$out/deb
work=$out/deb-check
rm -rf "$work"
mkdir -p "$work"

ver=$(cat VERSION)
libver=$(sed -n 's/^LIB_VERSION[[:space:]]*:=[[:space:]]*//p' tools/lib/Makefile)
soname=$(sed -n 's/^SONAME[[:space:]]*:=[[:space:]]*//p' tools/lib/Makefile |
	sed "s/\$(LIB_MAJOR)/$(sed -n 's/^LIB_MAJOR[[:space:]]*:=[[:space:]]*//p' tools/lib/Makefile)/")
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
changes=$debs/timerring_${ver}_$arch.changes
deb_dkms=$debs/timerring-dkms_${ver}_all.deb
deb_lib=$debs/libtimerring1_${ver}_$arch.deb
deb_dev=$debs/libtimerring-dev_${ver}_$arch.deb
deb_tools=$debs/timerring-tools_${ver}_$arch.deb
shopt -s nullglob
man3=(doc/man/*.3)
man4=(doc/man/*.4)
shopt -u nullglob

n=0 pass=0 fail=0 skip=0
log=$work/t.out
# t DESCRIPTION COMMAND...: one test; COMMAND's output is shown on failure,
# exit status 77 is a skip. COMMAND runs in a subshell of its own with
# set -e in force (in "cmd || rc=$?" bash would ignore it in COMMAND), so
# its first failing step fails the test.
t() {
	local d=$1 rc=0
	shift
	n=$((n + 1))
	"$@" >"$log" 2>&1 &
	wait $! || rc=$?
	if [ "$rc" = 0 ]; then
		echo "ok $n - $d"
		pass=$((pass + 1))
	elif [ "$rc" = 77 ]; then
		echo "ok $n - $d # SKIP $(tail -n1 "$log")"
		skip=$((skip + 1))
	else
		echo "not ok $n - $d"
		tail -n 40 "$log" | sed 's/^/# /'
		fail=$((fail + 1))
	fi
}
say() { printf '%s\n' "$*"; }
# die MESSAGE: fail the test. It exits the test's subshell rather than
# returning: in a helper called as "a && b" bash ignores set -e, so a
# "return 1" would not stop, e.g., a loop over the expected paths.
die() { say "$*"; exit 1; }

echo "TAP version 13"

# --- the build --------------------------------------------------------
make_deb() {
	make --no-print-directory deb OUT="$out" DEB_OUT="$debs" >"$work/make-deb.log" 2>&1 ||
		{ tail -n 30 "$work/make-deb.log"; return 1; }
}
t "make deb (log: $work/make-deb.log)" make_deb

# The .changes names the source and the four packages, all at VERSION.
changes_ok() {
	local f p want=("timerring_$ver.dsc" "timerring_$ver.tar.xz"
		"${deb_dkms##*/}" "${deb_lib##*/}" "${deb_dev##*/}" "${deb_tools##*/}")
	[ -f "$changes" ] || die "no $changes"
	for f in "${want[@]}"; do
		grep -q " $f\$" "$changes" || die "$f is not in ${changes##*/}"
		[ -f "$debs/$f" ] || die "$f is missing"
	done
	for p in "$deb_dkms" "$deb_lib" "$deb_dev" "$deb_tools"; do
		[ "$(dpkg-deb -f "$p" Version)" = "$ver" ] ||
			die "${p##*/}: version $(dpkg-deb -f "$p" Version), VERSION $ver"
	done
}
t "${changes##*/}: source and the 4 packages, version $ver" changes_ok

# --- lintian ----------------------------------------------------------
lintian_ok() {
	local rc=0
	lintian --fail-on error,warning --show-overrides "$changes" \
		>"$work/lintian.log" 2>&1 || rc=$?
	[ "$rc" = 0 ] || { grep -v 'root privileges' "$work/lintian.log"; return 1; }
}
t "lintian ${changes##*/}: no error, no warning" lintian_ok
# What lintian still says (info, overridden tags), for the log.
[ ! -f "$work/lintian.log" ] ||
	grep -v 'root privileges' "$work/lintian.log" | sed 's/^/# lintian: /' || true

# Every override has a comment (its justification) right above it.
overrides_ok() {
	local f
	for f in debian/*lintian-overrides debian/source/lintian-overrides; do
		[ -f "$f" ] || continue
		awk -v f="$f" '/^#/ { c = 1; next } /^[[:space:]]*$/ { c = 0; next }
			!c { print f ":" NR ": override without a comment: " $0; bad = 1 }
			END { exit bad }' "$f" || return 1
	done
}
t "every lintian override has a justification comment" overrides_ok

# --- contents ---------------------------------------------------------
# has DEB PATH...: dpkg -c of DEB lists every PATH (files and symlinks).
has() {
	local deb=$1 p
	shift
	[ -f "$deb" ] || die "no $deb"
	dpkg-deb -c "$deb" | awk '{ print $6 }' | sed 's,^\./,,;s,/$,,' >"$work/list"
	for p in "$@"; do
		grep -qxF -- "$p" "$work/list" || die "${deb##*/} lacks $p"
	done
}
# lacks DEB REGEX: no path of DEB matches REGEX (extended).
lacks() {
	local hit
	hit=$(dpkg-deb -c "$1" | awk '{ print $6 }' | sed 's,^\./,,' | grep -E -- "$2" || true)
	[ -z "$hit" ] || die "${1##*/} has $hit"
}

src=usr/src/timerring-$ver
dkms_paths=("$src/dkms.conf" "$src/Kbuild" "$src/VERSION"
	usr/lib/udev/rules.d/60-timerring.rules)
while IFS= read -r f; do dkms_paths+=("$src/$f"); done < <(
	find module uapi -type f -name '*.[ch]' | sort)
for f in "${man4[@]}"; do dkms_paths+=("usr/share/man/man4/${f##*/}.gz"); done
dkms_contents() {
	has "$deb_dkms" "${dkms_paths[@]}" &&
		lacks "$deb_dkms" "^$src/tools/|\\.(o|ko|cmd)\$|post-install"
}
t "timerring-dkms: $src (Kbuild, VERSION, dkms.conf, module/, uapi/), the udev rule${man4:+, ${man4[*]##*/}}; no POST_INSTALL script" dkms_contents

lib_contents() {
	has "$deb_lib" "usr/lib/$ma/$soname" "usr/lib/$ma/libtimerring.so.$libver" &&
		lacks "$deb_lib" '\.(a|h|pc)$|libtimerring\.so$'
}
t "libtimerring1: $soname, libtimerring.so.$libver" lib_contents

dev_paths=(usr/include/timerring.h usr/include/timerring_liburing.h
	usr/include/linux/timerring.h "usr/lib/$ma/libtimerring.a"
	"usr/lib/$ma/libtimerring.so" "usr/lib/$ma/pkgconfig/libtimerring.pc"
	usr/share/doc/libtimerring-dev/examples/hello.c)
for f in "${man3[@]}"; do dev_paths+=("usr/share/man/man3/${f##*/}.gz"); done
dev_contents() {
	has "$deb_dev" "${dev_paths[@]}" && lacks "$deb_dev" '\.so\.'
}
t "libtimerring-dev: headers, uapi header, .a, .so, .pc, examples, ${#man3[@]} section-3 pages" dev_contents

tools_contents() {
	has "$deb_tools" usr/sbin/timerringctl usr/share/man/man8/timerringctl.8.gz
}
t "timerring-tools: timerringctl, timerringctl(8)" tools_contents

deps_ok() {
	local d
	d=$(dpkg-deb -f "$deb_dev" Depends)
	grep -q "libtimerring1 (= $ver)" <<<"$d" || die "libtimerring-dev Depends: $d"
	d=$(dpkg-deb -f "$deb_tools" Depends)
	grep -q "libtimerring1 (>= $libver)" <<<"$d" || die "timerring-tools Depends: $d"
	d=$(dpkg-deb -f "$deb_dkms" Depends)
	grep -q 'dkms' <<<"$d" && grep -q 'adduser' <<<"$d" || die "timerring-dkms Depends: $d"
}
t "dependencies: dev on libtimerring1 (= $ver), tools on libtimerring1 (shlibs), dkms on dkms and adduser" deps_ok

# The packaged dkms.conf is the tree's without POST_INSTALL: the package
# ships the udev rule and makes the group itself (debian/README.source).
dkms_conf_ok() {
	local d=$work/dkms-root
	rm -rf "$d"
	dpkg-deb -x "$deb_dkms" "$d"
	! grep -n 'POST_INSTALL=' "$d/$src/dkms.conf" || die "POST_INSTALL in the packaged dkms.conf"
	diff -u <(grep -v -e '^#' -e '^POST_INSTALL=' dkms.conf) \
		<(grep -v '^#' "$d/$src/dkms.conf") || die "dkms.conf differs from the tree's"
	cmp tools/udev/60-timerring.rules "$d/usr/lib/udev/rules.d/60-timerring.rules"
}
t "packaged dkms.conf: the tree's without POST_INSTALL; the rule is the tree's" dkms_conf_ok

# --- maintainer scripts of timerring-dkms, in a throwaway root ---------
# The root has busybox (its sh runs the scripts) and stand-ins that log
# their calls to /calls and keep the group in the root's /etc/group.
root=$work/dpkg-root
standin() {	# standin PATH BODY
	printf '#!/bin/sh\n%s\n' "$2" >"$root$1"
	chmod 755 "$root$1"
}
mkroot() {
	rm -rf "$root"
	mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,usr/lib/dkms,etc,tmp,dev}
	# The scripts write to /dev/null (a plain file where mknod may not).
	mknod -m 666 "$root/dev/null" c 1 3 2>/dev/null || : >"$root/dev/null"
	mkdir -p "$root"/var/lib/dpkg/{info,updates,triggers} "$root/var/log"
	: >"$root/var/lib/dpkg/status"
	: >"$root/var/lib/dpkg/available"
	: >"$root/etc/group"
	: >"$root/calls"
	cp /bin/busybox "$root/bin/busybox"
	local a
	for a in sh cat echo grep rm mkdir test [; do ln -s busybox "$root/bin/$a"; done
	standin /usr/bin/getent '[ "$1" = group ] && grep -q "^$2:" /etc/group && grep "^$2:" /etc/group'
	standin /usr/sbin/addgroup 'echo "addgroup $*" >>/calls
for a; do g=$a; done
echo "$g:x:999:" >>/etc/group'
	standin /usr/sbin/dkms 'echo "dkms $*" >>/calls
[ "$1" != status ] || echo "timerring/'"$ver"': added"'
	standin /usr/lib/dkms/common.postinst 'echo "common.postinst $*" >>/calls'
}
dpkg_root() {
	PATH=/usr/sbin:/usr/bin:/sbin:/bin dpkg --root="$root" --force-depends \
		--force-unsafe-io "$@"
}
can_chroot() {
	[ "$(id -u)" = 0 ] || { echo "not root: dpkg --root cannot chroot"; return 77; }
	[ -x /bin/busybox ] || { echo "no /bin/busybox (busybox-static)"; return 77; }
}
called() { grep -qxF -- "$1" "$root/calls" || die "not called: $1 (calls: $(tr '\n' ';' <"$root/calls"))"; }
line_of() { grep -nxF -- "$1" "$root/calls" | head -n1 | cut -d: -f1; }

postinst_install() {
	can_chroot || return
	mkroot
	dpkg_root -i "$deb_dkms"
	called "addgroup --system --quiet timerring"
	called "common.postinst timerring $ver /usr/share/timerring-dkms "
	[ "$(line_of "addgroup --system --quiet timerring")" -lt \
		"$(line_of "common.postinst timerring $ver /usr/share/timerring-dkms ")" ] ||
		die "the group is made after the DKMS install"
	grep -qx 'timerring:x:999:' "$root/etc/group" || die "no group"
	cmp tools/udev/60-timerring.rules "$root/usr/lib/udev/rules.d/60-timerring.rules"
	[ -f "$root/$src/dkms.conf" ] || die "no $src/dkms.conf"
}
t "dpkg --root -i timerring-dkms: rule installed, group made (addgroup --system) before DKMS's postinst" postinst_install

postinst_again() {
	can_chroot || return
	: >"$root/calls"
	dpkg_root -i "$deb_dkms"
	called "dkms status -m timerring -v $ver"
	called "dkms remove -m timerring -v $ver --all"
	called "common.postinst timerring $ver /usr/share/timerring-dkms  $ver"
	! grep -q '^addgroup' "$root/calls" || die "addgroup called with the group there"
	[ "$(grep -c '^timerring:' "$root/etc/group")" = 1 ] ||
		die "$(grep -c '^timerring:' "$root/etc/group") timerring groups, not one"
}
t "reinstall: prerm removes the DKMS build, postinst rebuilds it, the group is not made again" postinst_again

remove_ok() {
	can_chroot || return
	: >"$root/calls"
	dpkg_root -r timerring-dkms
	called "dkms remove -m timerring -v $ver --all"
	[ ! -e "$root/usr/lib/udev/rules.d/60-timerring.rules" ] || die "rule left after remove"
	[ ! -e "$root/$src" ] || die "$src left after remove"
	grep -q '^timerring:' "$root/etc/group" || die "no group after remove"
	dpkg_root -P timerring-dkms
	grep -q '^timerring:' "$root/etc/group" || die "no group after purge"
	! dpkg-query --admindir="$root/var/lib/dpkg" -W -f='${db:Status-Status}\n' \
		timerring-dkms 2>/dev/null | grep -qvx not-installed || die "still there after purge"
}
t "remove: dkms remove, rule and sources gone; purge: the group stays" remove_ok

# --- the library as installed from the packages -----------------------
sysroot=$work/root
pc() {
	PKG_CONFIG_SYSROOT_DIR=$sysroot PKG_CONFIG_LIBDIR=$sysroot/usr/lib/$ma/pkgconfig \
		pkg-config "$@" libtimerring
}
unpack_ok() {
	rm -rf "$sysroot"
	local p
	for p in "$deb_lib" "$deb_dev" "$deb_tools"; do dpkg-deb -x "$p" "$sysroot"; done
	cmp uapi/linux/timerring.h "$sysroot/usr/include/linux/timerring.h"
	cmp tools/lib/timerring.h "$sysroot/usr/include/timerring.h"
	[ "$(pc --modversion)" = "$libver" ] || die "pkg-config --modversion: $(pc --modversion)"
	local flags
	flags=$(pc --cflags --libs)
	echo "pkg-config: $flags"
	grep -qF -- "-I$sysroot/usr/include" <<<"$flags" &&
		grep -qF -- "-L$sysroot/usr/lib/$ma" <<<"$flags" || die "flags not into the root: $flags"
}
t "dpkg -x lib, dev, tools into a root; pkg-config (sysroot) finds libtimerring $libver there" unpack_ok

hello=$work/hello
hello_build() {
	local c=$sysroot/usr/share/doc/libtimerring-dev/examples/hello.c
	# shellcheck disable=SC2046
	gcc -M $(pc --cflags) "$c" >"$work/hello.d"
	grep -qF "$sysroot/usr/include/timerring.h" "$work/hello.d" &&
		grep -qF "$sysroot/usr/include/linux/timerring.h" "$work/hello.d" ||
		die "hello.c did not use the packaged headers: $(cat "$work/hello.d")"
	# shellcheck disable=SC2046
	gcc -Wall -Wextra -Werror -O2 -o "$hello" "$c" $(pc --cflags --libs)
	readelf -d "$hello" | grep -qF "(NEEDED)             Shared library: [$soname]" ||
		die "hello does not need $soname"
}
t "hello.c (libtimerring-dev's example) compiles and links: pkg-config --cflags --libs, packaged headers, needs $soname" hello_build

hello_run() {
	local rc=0 env=(env "LD_LIBRARY_PATH=$sysroot/usr/lib/$ma")
	"${env[@]}" ldd "$hello" | grep -F "$soname => $sysroot/usr/lib/$ma/$soname" ||
		die "$soname not from the root: $("${env[@]}" ldd "$hello")"
	"${env[@]}" "$hello" || rc=$?
	# No /dev/timerring on this machine (the module is never loaded here).
	[ "$rc" = 4 ] || [ "$rc" = 0 ] || die "hello exited $rc"
}
t "hello runs with the root's $soname (skips: no /dev/timerring here)" hello_run

static_ok() {
	local c=$sysroot/usr/share/doc/libtimerring-dev/examples/hello.c
	# shellcheck disable=SC2046
	gcc -O2 -static -o "$work/hello-static" "$c" $(pc --static --cflags --libs)
	! readelf -d "$work/hello-static" | grep -q NEEDED || die "not static"
}
t "hello links statically against the packaged libtimerring.a" static_ok

ctl_ok() {
	local env=(env "LD_LIBRARY_PATH=$sysroot/usr/lib/$ma") ctl=$sysroot/usr/sbin/timerringctl
	"${env[@]}" ldd "$ctl" | grep -F "$soname => $sysroot/usr/lib/$ma/$soname" ||
		die "timerringctl: $soname not from the root"
	"${env[@]}" "$ctl" --help | grep -q 'usage: timerringctl'
	"${env[@]}" "$ctl" --version | grep -q "^timerringctl [0-9]"
}
t "timerringctl (timerring-tools) runs with the root's $soname: --help, --version" ctl_ok

# --- DKMS build of the packaged sources --------------------------------
dkms_ok() {
	local kver d=$work/dkms-src
	kver=$("$here/stock-kernels.sh" kver 6.12)
	rm -rf "$d"
	dpkg-deb -x "$deb_dkms" "$d"
	"$here/dkms-build.sh" "$kver" "$work/dkms" "$d/$src" >"$work/dkms.log" 2>&1 ||
		{ tail -n 30 "$work/dkms.log"; return 1; }
	tail -n 1 "$work/dkms.log"
}
t "dkms build of timerring-dkms's $src against the 6.12 headers (private tree)" dkms_ok

echo "1..$n"
if [ "$skip" -gt 0 ]; then
	echo "$pass passed, $fail failed, $skip skipped"
else
	echo "$pass passed, $fail failed"
fi
[ "$fail" = 0 ]
