#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Host checks of the timerring tools that need no module (`make -C tools
# check`, after the build): timerringctl's help and error messages, the
# examples skipping without the device, the man pages (timerringctl.8 and
# doc/man: formatting, .so links, a page for every library function, every
# ioctl, errno and constant of the uapi header in timerring.4), and
# checkpatch on the tools' C sources when a kernel tree is given. Prints TAP, then
# "N passed, N failed" as the last line; exits non-zero on a failure.
#
# usage: check-tools.sh [-k KDIR]	(checkpatch: KDIR/../src/scripts)
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
kdir=
while getopts "k:" opt; do
	case $opt in
	k) kdir=$OPTARG ;;
	*) echo "usage: $0 [-k KDIR]" >&2; exit 2 ;;
	esac
done

ctl=$here/timerringctl/timerringctl
n=0
pass=0
fail=0
skip=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

result() {	# STATUS(0 ok, 77 skip, else fail) DESCRIPTION
	n=$((n + 1))
	case $1 in
	0) echo "ok $n - $2"; pass=$((pass + 1)) ;;
	77) echo "ok $n - $2 # SKIP"; skip=$((skip + 1)) ;;
	*) echo "not ok $n - $2"; fail=$((fail + 1)) ;;
	esac
}

# run NAME WANT_RC GREP_PATTERN CMD...: CMD exits WANT_RC and its output
# (stdout + stderr) matches GREP_PATTERN (extended regexp).
run() {
	local name=$1 want=$2 pat=$3 rc=0
	shift 3
	"$@" >"$tmp/out" 2>&1 || rc=$?
	if [ "$rc" = "$want" ] && grep -Eq -- "$pat" "$tmp/out"; then
		result 0 "$name"
	else
		sed 's/^/# /' "$tmp/out"
		echo "# exit status $rc, wanted $want, output matching /$pat/"
		result 1 "$name"
	fi
}

static_bin() {
	! readelf -l "$1" 2>/dev/null | grep -q 'Requesting program interpreter'
}

echo "TAP version 13"
for b in $(make -s --no-print-directory -C "$here" list-vm-tests) $(make -s --no-print-directory -C "$here" list-vm-bins); do
	case $b in
	*.sh) [ -x "$b" ]; result $? "$(basename "$b") is executable" ;;
	*) [ -x "$b" ] && static_bin "$b"; result $? "$(basename "$b") is built and static" ;;
	esac
done

run "timerringctl --help" 0 'usage: timerringctl .*COMMAND' "$ctl" --help
run "timerringctl --version" 0 '^timerringctl [0-9]' "$ctl" --version
run "timerringctl without a command is a usage error" 2 'usage:' "$ctl"
run "timerringctl rejects an unknown command" 2 "unknown command 'frob'" "$ctl" frob
run "timerringctl trace rejects a bad subcommand" 2 "unknown subcommand" "$ctl" trace sideways
run "timerringctl top -n rejects 0" 2 "positive count" "$ctl" top -n 0

if [ -e /dev/timerring ]; then
	result 77 "status explains a missing module (the module is loaded here)"
	result 77 "status --json reports loaded=false"
	result 77 "hello skips without the module"
	result 77 "udp_test skips without the module"
	result 77 "udp_uring_test skips without the module"
else
	run "status explains a missing module" 1 'module is not loaded' "$ctl" status
	run "status --json reports loaded=false" 1 '"loaded":false' "$ctl" --json status
	run "hello skips without the module" 4 '^1\.\.0 # SKIP' "$here/examples/hello"
	run "udp_test skips without the module" 4 '^1\.\.0 # SKIP' "$here/examples/udp_test"
	run "udp_uring_test skips without the module" 4 '^1\.\.0 # SKIP' "$here/examples/udp_uring_test"
fi

# Errors about debugfs and tracefs: whichever applies on this host, the
# message must say what to do, and the exit status must be 1.
run "hist explains why it cannot read debugfs" 1 \
	'not mounted|permission denied|not loaded|Permission|mount|root' "$ctl" hist
run "trace show explains why it cannot use tracefs" 1 \
	'not mounted|permission denied|not loaded|root|mount' "$ctl" trace show

# The parsers, on a fake debugfs/sysfs/tracefs tree (TIMERRINGCTL_SYSROOT).
fake=$tmp/root
mkdir -p "$fake"/sys/kernel/debug/timerring "$fake"/sys/module/timerring/parameters \
	"$fake"/sys/kernel/tracing/events/timerring/timerring_expire
cat >"$fake"/sys/kernel/debug/timerring/stats <<'EOF_STATS'
instances_open 2
instances_closed 5
armed_now 1234
armed_total 100000
modified_total 5000
cancelled_total 80000
expired_total 18766
overflowed_total 0
overflow_now 0
dropped_total 0
batches 900
ops_failed 3
cascades 77
wakeups 4000
mem_bytes 3145728
chunks 12
sq_ops_total 5000
sq_failed_total 7
sq_enter_total 3
sq_pass_total 450
impl scalar
drain_impl avx2
lateness_us_log2 0 0 0 5 20 300 9000 8000 1200 200 40 1 0 0 0 0 0 0 0 0 0 0 0 0
EOF_STATS
printf 'scalar_ps 1200\nbreak_even 16\n' >"$fake"/sys/kernel/debug/timerring/simd_calibration
echo 16777216 >"$fake"/sys/module/timerring/parameters/max_timers
echo 0 >"$fake"/sys/kernel/tracing/events/timerring/enable
echo 0 >"$fake"/sys/kernel/tracing/events/timerring/timerring_expire/enable
echo 0 >"$fake"/sys/kernel/tracing/tracing_on
cat >"$fake"/sys/kernel/tracing/trace <<'EOF_TRACE'
# tracer: nop
          <idle>-0       [001] ..s1.   100.000001: timerring_expire: inst=3 id=7 user_data=0x7 late_ns=12000
     hello-120     [000] .....   100.000002: timerring_op: inst=3 op=arm id=1 tick=5 user_data=0x1 res=1
     other-12      [000] .....   100.000003: sched_switch: prev_comm=x
EOF_TRACE
export TIMERRINGCTL_SYSROOT=$fake
run "hist draws the buckets" 0 '64us\.\.128us +9000 +47\.96 +49\.69 \|#{50}$' "$ctl" hist
run "hist --json is valid JSON" 0 '^ok 18766$' sh -c \
	"'$ctl' --json hist | python3 -c 'import json,sys; d=json.load(sys.stdin); print(\"ok\", sum(b[\"count\"] for b in d[\"buckets\"]))'"
run "top --json -n 2 prints two JSON objects" 0 '^2 1234$' sh -c \
	"'$ctl' --json top -n 2 -d 0.1 | python3 -c 'import json,sys; l=[json.loads(x) for x in sys.stdin]; print(len(l), l[-1][\"armed_now\"])'"
run "top -n 1 shows the counters" 0 'armed now +1234' "$ctl" top -n 1 -d 0.1
run "top -n 1 shows the submission ring's counters" 0 'sq doorbells/s +[0-9.]+ +3$' "$ctl" top -n 1 -d 0.1
run "top --json has the submission ring's rates" 0 '^ok$' sh -c \
	"'$ctl' --json top -n 1 -d 0.1 | python3 -c 'import json,sys; d=json.load(sys.stdin); print(\"ok\" if all(d[\"sq_%s_total_per_s\" % k] == 0 for k in (\"ops\", \"failed\", \"enter\", \"pass\")) else d)'"
run "trace show N keeps the last N timerring records" 0 '^ +hello-120 .*op=arm' "$ctl" trace show 1
run "trace show skips other events" 0 '^clean$' sh -c "'$ctl' trace show 10 | grep -q sched_switch || echo clean"
ev=$fake/sys/kernel/tracing/events/timerring
run "trace on EVENT enables one event and tracing" 0 '^1 0 1$' sh -c \
	"'$ctl' trace on expire >/dev/null && echo \$(cat '$ev'/timerring_expire/enable) \
	\$(cat '$ev'/enable) \$(cat '$fake'/sys/kernel/tracing/tracing_on)"
run "trace off disables the events" 0 '^0$' sh -c \
	"'$ctl' trace off >/dev/null && cat '$fake'/sys/kernel/tracing/events/timerring/enable"
unset TIMERRINGCTL_SYSROOT

if command -v groff >/dev/null; then
	groff -man -ww -z "$here/timerringctl/timerringctl.8" >"$tmp/groff" 2>&1
	rc=$?
	[ -s "$tmp/groff" ] && { sed 's/^/# /' "$tmp/groff"; rc=1; }
	result $rc "timerringctl.8 formats without warnings"
else
	result 77 "timerringctl.8 formats without warnings (no groff)"
fi

# The man pages of doc/man: timerring(4), libtimerring(3) and a page or a
# .so link for every function of the library.
man=$here/../doc/man
uapi=$here/../uapi/linux/timerring.h
pages=$(find "$man" -maxdepth 1 -type f -name '*.[1-9]' | LC_ALL=C sort)
links=
for f in $pages; do
	if grep -q '^\.so ' "$f"; then links="$links $f"; continue; fi
	b=$(basename "$f")
	name=${b%.*} sec=${b##*.}
	if ! command -v groff >/dev/null; then
		result 77 "$b formats without warnings (no groff)"
		continue
	fi
	groff -man -ww -z "$f" >"$tmp/groff" 2>&1
	rc=$?
	# .TH names the page as its file does: NAME (upper case) SECTION.
	if ! grep -Eq "^\.TH \"?${name^^}\"? $sec " "$f"; then
		echo "# $b: .TH does not say ${name^^} $sec" >>"$tmp/groff"
	fi
	grep -q '^\.SH NAME' "$f" || echo "# $b: no NAME section" >>"$tmp/groff"
	[ -s "$tmp/groff" ] && { sed 's/^/# /' "$tmp/groff"; rc=1; }
	result $rc "$b formats without warnings"
done

# A link is one line, ".so manN/TARGET.N", TARGET is a page here, and the
# NAME section of TARGET names the link (so that whatis finds it).
rc=0
mkdir -p "$tmp/manroot"
for s in 3 4 8; do ln -s "$man" "$tmp/manroot/man$s"; done
for f in $links; do
	b=$(basename "$f")
	tgt=$(sed -n 's|^\.so man[1-9]/\(.*\)$|\1|p' "$f")
	if [ "$(wc -l <"$f")" != 1 ] || [ -z "$tgt" ] || [ ! -f "$man/$tgt" ]; then
		echo "# $b: not a single '.so manN/PAGE' line to a page in doc/man"
		rc=1
		continue
	fi
	if ! sed -n '/^\.SH NAME/,/^\.SH/p' "$man/$tgt" | grep -qw -- "${b%.*}"; then
		echo "# $b: the NAME section of $tgt does not name ${b%.*}"
		rc=1
	fi
	command -v groff >/dev/null || continue
	(cd "$tmp/manroot" && groff -man -ww -z "man${b##*.}/$b") >"$tmp/groff" 2>&1
	if [ $? != 0 ] || [ -s "$tmp/groff" ]; then
		sed 's/^/# /' "$tmp/groff"
		rc=1
	fi
done
result $rc "the $(echo $links | wc -w) .so links of doc/man resolve and are named by their pages"

# The public API of the library's headers: every function (and function-
# like macro) has a page named after it, every other macro is in a
# section 3 page.
api() {	# HEADER: "f NAME" for each function, "m NAME" for each other macro
	python3 - "$1" <<'EOF_API'
import re, sys
src = open(sys.argv[1]).read()
src = re.sub(r'/\*.*?\*/', ' ', src, flags=re.S)
src = re.sub(r'//[^\n]*', '', src)
seen = set()
for line in src.splitlines():
    m = re.match(r'\s*#\s*define\s+(\w+)(\()?', line)
    if m:
        kind, name = ('f' if m.group(2) else 'm'), m.group(1)
    elif line[:1].isspace() or line.startswith('#'):
        continue
    else:
        m = re.search(r'\b(timerring_\w+)\s*\(', line)
        if not m:
            continue
        kind, name = 'f', m.group(1)
    if not name.startswith('_') and name not in seen:
        seen.add(name)
        print(kind, name)
EOF_API
}
for h in timerring.h timerring_liburing.h; do
	rc=0 nf=0
	while read -r kind name; do
		if [ "$kind" = f ]; then
			nf=$((nf + 1))
			[ -f "$man/$name.3" ] && continue
			echo "# $name() has no page $name.3"
		else
			grep -qw -- "$name" "$man"/*.3 && continue
			echo "# macro $name is in no section 3 page"
		fi
		rc=1
	done < <(api "$here/lib/$h")
	[ "$nf" -gt 0 ] || { echo "# no function found in $h"; rc=1; }
	result $rc "every function and macro of $h is documented in doc/man"
done

# timerring(4) names every ioctl, every errno and every other TIMERRING_*
# constant that the uapi header names.
errnos=$(sed -n 's/^#define[[:space:]]\{1,\}\(E[A-Z0-9]\{1,\}\)[[:space:]].*/\1/p' \
	/usr/include/asm-generic/errno-base.h /usr/include/asm-generic/errno.h 2>/dev/null)
[ -n "$errnos" ] || errnos="EPERM ENOENT EINTR EBADF ENOMEM EACCES EFAULT EBUSY EEXIST
	ENODEV EINVAL ENOSPC ERANGE ENOTTY E2BIG ETIME EAGAIN EOPNOTSUPP"
words=$(grep -oE '\b[A-Z][A-Z0-9_]*[A-Z0-9]\b' "$uapi" | LC_ALL=C sort -u)
for what in ioctl errno constant; do
	rc=0 cnt=0
	for w in $words; do
		case $what in
		ioctl) [[ $w == TIMERRING_IOC_* ]] || continue ;;
		errno) grep -qx -- "$w" <<<"$errnos" || continue ;;
		constant) [[ $w == TIMERRING_* && $w != TIMERRING_IOC_* ]] || continue ;;
		esac
		cnt=$((cnt + 1))
		grep -qw -- "$w" "$man/timerring.4" && continue
		echo "# $w is not in timerring.4"
		rc=1
	done
	[ "$cnt" -gt 0 ] || { echo "# no $what name found in the uapi header"; rc=1; }
	result $rc "timerring.4 names every $what of the uapi header ($cnt)"
done

# The syzkaller description names every ioctl, struct and constant of the
# uapi header.
run "tools/fuzz/timerring.txt covers the uapi header" 0 '^# .* covers [0-9]+ ioctls' \
	"$here/fuzz/check-syz.sh" "$uapi" "$here/fuzz/timerring.txt"

cp=${kdir:+$kdir/../src/scripts/checkpatch.pl}
if [ -n "$cp" ] && [ -x "$cp" ]; then
	# Userspace code: the kernel-only rules do not apply.
	"$cp" --no-tree --terse --show-types --ignore \
		NEW_TYPEDEFS,SPDX_LICENSE_TAG,PREFER_KERNEL_TYPES,SPLIT_STRING,FILE_PATH_CHANGES,AVOID_EXTERNS,LONG_LINE_STRING,VOLATILE,EMBEDDED_FUNCTION_NAME,PREFER_DEFINED_ATTRIBUTE_MACRO \
		-f "$here"/timerringctl/*.c "$here"/examples/*.[ch] \
		"$here"/fuzz/*.c \
		"$here"/../selftests/timerring/trace_test.c >"$tmp/cp" 2>&1
	if grep -Eq ': (ERROR|WARNING):' "$tmp/cp"; then
		sed 's/^/# /' "$tmp/cp"
		result 1 "checkpatch on the tools"
	else
		result 0 "checkpatch on the tools"
	fi
else
	result 77 "checkpatch on the tools (no KDIR)"
fi

echo "1..$n"
if [ "$skip" -gt 0 ]; then
	echo "$pass passed, $fail failed, $skip skipped"
else
	echo "$pass passed, $fail failed"
fi
[ "$fail" = 0 ]
