#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The full timerring test run behind `make check`: every leg runs (a
# failing leg does not stop the others), each is recorded in
# out/check/legs.tsv, and parse-results.py sums them up. The last line
# printed is "N passed, N failed"; the exit status is non-zero if anything
# failed.
#
# usage: check.sh [LEG...]      (default: all)
# LEG is a leg name below or a group: static, build, vm. Environment:
#   OUT              output dir (default out)
#   VM_TIMEOUT       hard timeout of one VM run, seconds (default 1500)
#   TEST_TIMEOUT     per test program timeout in the guest (default 300)
#   VM_APPEND        extra guest kernel command line (e.g. trfilter=foo*)
#   V=1              show the output of every leg as it runs
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$repo"
out=${OUT:-out}
mkdir -p "$out"
out=$(cd "$out" && pwd)
cdir=$out/check
bdir=$out/build
legs=$cdir/legs.tsv
stock=(6.1 6.12)

# ---------------------------------------------------------------------------
# The legs. Each runs in its own bash process with set -e in force.

# deps.sh against stand-ins of dpkg-query, apt-get and id (fresh machine,
# complete, partial, not root): installs nothing.
leg_deps_test() { "$here/deps-test.sh"; }

leg_deps() { "$here/deps.sh"; }

leg_kernel() {
	local k
	k=$("$here/test-kernel.sh")
	echo "$k" | tee "$cdir/kdir"
	[ -f "$k/arch/x86/boot/bzImage" ]
}

leg_stock_kernels() { "$here/stock-kernels.sh"; }

# The KCSAN kernel (tools/vm/kconfig-kcsan.fragment), cached like the
# test kernel; built after the other VM legs have run.
leg_kernel_kcsan() {
	local k
	k=$("$here/test-kernel.sh" kcsan)
	echo "$k" | tee "$cdir/kdir-kcsan"
	[ -f "$k/arch/x86/boot/bzImage" ]
}

# kdir [VARIANT]: the KDIR of the test kernel (or of its VARIANT).
kdir() {
	local v=${1:-} k
	k=$(cat "$cdir/kdir${v:+-$v}" 2>/dev/null || true)
	if [ -z "$k" ] && [ ! -f "$cdir/kernel${v:+-$v}.log" ]; then
		# The kernel leg was not selected: use (or build) the cached one.
		k=$("$here/test-kernel.sh" $v) && echo "$k" >"$cdir/kdir${v:+-$v}"
	fi
	[ -n "$k" ] || { echo "no test kernel${v:+ $v} (the kernel${v:+-$v} leg failed)" >&2; return 1; }
	echo "$k"
}

leg_checkpatch() {
	local k files
	k=$(kdir)
	local cp=(perl "$k/../src/scripts/checkpatch.pl" --strict --no-tree --terse
		--show-types)
	shopt -s nullglob
	files=()
	for f in module/*.[ch] module/tests/*.[ch]; do
		[ "$f" = module/trace.h ] || files+=("$f")
	done
	uapi=(uapi/linux/*.h)
	[ ${#files[@]} -gt 0 ] || { echo "no module sources to check"; return 1; }
	echo "checkpatch: ${files[*]} module/trace.h ${uapi[*]}"
	# --terse prints one line per finding; any finding fails. uapi
	# headers cannot use BIT() (it is not uapi), hence no BIT_MACRO there.
	# The TRACE_EVENT() idiom of trace.h opens lines with "TP_x(" and
	# aligns its arguments by macro, as every include/trace/events/*.h
	# does: only those two checks are off for it.
	{
		"${cp[@]}" -f "${files[@]}" || true
		"${cp[@]}" --ignore OPEN_ENDED_LINE,PARENTHESIS_ALIGNMENT \
			-f module/trace.h || true
		[ ${#uapi[@]} = 0 ] || "${cp[@]}" --ignore BIT_MACRO -f "${uapi[@]}" || true
	} | tee "$cdir/checkpatch.out"
	! grep -E ': (ERROR|WARNING|CHECK):' "$cdir/checkpatch.out" >/dev/null
}

leg_sparse() {
	# C=2: sparse on every file, whether it was rebuilt or not.
	"$here/build-module.sh" -w -o "$bdir/sparse" -k "$(kdir)" C=2
}

leg_build_test() { "$here/build-module.sh" -w -o "$bdir/test" -k "$(kdir)"; }
leg_build_kcsan() { "$here/build-module.sh" -w -o "$bdir/kcsan" -k "$(kdir kcsan)"; }

build_stock() {
	"$here/build-module.sh" -w -o "$bdir/deb$1" -k "$("$here/stock-kernels.sh" kdir "$1")"
}
leg_build_deb6_1() { build_stock 6.1; }
leg_build_deb6_12() { build_stock 6.12; }

leg_dkms() {
	local kver
	kver=$("$here/stock-kernels.sh" kver 6.12)
	"$here/dkms-build.sh" "$kver" "$out/dkms"
}

leg_selftests() {
	[ -f selftests/Makefile ] || { echo "no selftests/Makefile yet"; return 77; }
	make -C selftests KDIR="$(kdir)"
}

# The pure core natively: unit tests, the model test, the SIMD kernels
# against the reference (under ASan/UBSan) and a short fuzz run.
leg_harness() {
	local log=$cdir/harness.tap rc=0 p f
	make -s --no-print-directory -C tools/harness check >"$log" 2>&1 || rc=1
	cat "$log"
	p=$(grep -Eac '^ok [0-9]+' "$log" || true)
	f=$(grep -Eac '^not ok [0-9]+' "$log" || true)
	# A failure outside any TAP line (a build error) still counts.
	[ "$rc" = 0 ] || [ "$f" -gt 0 ] || f=1
	echo "$p passed, $f failed"
	[ "$f" = 0 ]
}

leg_tools() {
	[ -f tools/Makefile ] || { echo "no tools/Makefile yet"; return 77; }
	# The showcase of `make run` is built (not run) here too.
	if [ -f tools/demo/Makefile ]; then make -C tools/demo; fi
	make -C tools KDIR="$(kdir)" check
}

# The Debian packages (tools/vm/deb-check.sh): make deb into $out/deb,
# lintian, their contents, timerring-dkms's maintainer scripts in a
# throwaway root, hello.c against the library as the packages install it,
# and a DKMS build of the packaged sources against the 6.12 headers.
leg_deb() { "$here/deb-check.sh" "$out"; }

# vm_leg NAME KERNEL_IMAGE MODULE_DIR [KUNIT]
vm_leg() {
	local name=$1 image=$2 mdir=$3 kunit=${4:-} dir=$cdir/vm-$1 mods=()
	mkdir -p "$dir"
	[ -f "$mdir/timerring.ko" ] && mods+=("$mdir/timerring.ko")
	[ -n "$kunit" ] && [ -f "$mdir/timerring_kunit.ko" ] &&
		mods+=("$mdir/timerring_kunit.ko")
	"$here/mkinitramfs.sh" -o "$dir/initramfs.cpio.gz" "${mods[@]}"
	"$here/run-vm.sh" -k "$image" -i "$dir/initramfs.cpio.gz" -m check \
		-o "$dir" -T "${VM_TIMEOUT:-1500}" \
		-a "trtimeout=${TEST_TIMEOUT:-300} ${VM_APPEND:-}"
}

leg_vm_test() {
	vm_leg test "$(kdir)/arch/x86/boot/bzImage" "$bdir/test" kunit
}
leg_vm_deb6_1() { vm_leg deb6.1 "$("$here/stock-kernels.sh" vmlinuz 6.1)" "$bdir/deb6.1"; }
leg_vm_deb6_12() { vm_leg deb6.12 "$("$here/stock-kernels.sh" vmlinuz 6.12)" "$bdir/deb6.12"; }

# The KCSAN kernel runs the threaded tests and the latency tracer only
# (KCSAN_TESTS, trfilter globs; timerring-fuzz: tools/fuzz, whose threads
# phase is 30 % of its trfuzz= seconds). panic_on_warn=0: a KCSAN report
# is a warning, and every report of the run is wanted, not the first;
# parse-results.py fails the leg on any "BUG: KCSAN" line. KCSAN_APPEND
# tunes the sampling (e.g. kcsan.skip_watch=1000 kcsan.udelay_task=200:
# 4x the watchpoints, 2.5x their window; the leg then takes 181 s instead
# of 119 s, and softirq_test cannot arm its herd in time). softirq_test is
# not in the list: its 400000 timers take 8-17 s to arm under KCSAN, past
# the herd's due time; it runs in the other VM legs.
KCSAN_TESTS=${KCSAN_TESTS:-race_test,poll_stress_test,hotplug_test,latency_test,sq_ring_test,shards_test,timerring-fuzz*}
KCSAN_APPEND=${KCSAN_APPEND:-}
leg_vm_kcsan() {
	VM_APPEND="trfilter=$KCSAN_TESTS trfuzz=40 panic_on_warn=0 $KCSAN_APPEND ${VM_APPEND:-}" \
		vm_leg kcsan "$(kdir kcsan)/arch/x86/boot/bzImage" "$bdir/kcsan"
}

if [ "${1:-}" = --leg ]; then
	cdir=$2
	"leg_$3"
	exit
fi

# ---------------------------------------------------------------------------
all_legs=(deps-test deps kernel stock-kernels checkpatch sparse build-test
	build-deb6.1 build-deb6.12 dkms selftests harness tools deb vm-test
	vm-deb6.1 vm-deb6.12 kernel-kcsan build-kcsan vm-kcsan)
declare -A group=(
	[static]="deps-test checkpatch sparse harness"
	[build]="build-test build-deb6.1 build-deb6.12 dkms deb"
	[vm]="build-test build-deb6.1 build-deb6.12 selftests tools vm-test vm-deb6.1 vm-deb6.12 kernel-kcsan build-kcsan vm-kcsan"
)
want=" "
for a in "${@:-all}"; do
	if [ "$a" = all ]; then
		want+="${all_legs[*]} "
	elif [ -n "${group[$a]:-}" ]; then
		want+="deps kernel stock-kernels ${group[$a]} "
	else
		want+="$a "
	fi
done

rm -rf "$cdir"
mkdir -p "$cdir"
: >"$legs"
t0=$(date +%s)

run_leg() {
	local name=$1 fn=${1//[-.]/_} kind=step path log start rc=0
	case " $want " in *" $name "*) ;; *) return 0 ;; esac
	case $name in
	vm-*) kind=vm; path=$cdir/$name; log=$path/leg.log; mkdir -p "$path" ;;
	*) path=$cdir/$name.log; log=$path ;;
	esac
	start=$(date +%s)
	case $name in
	kernel|kernel-*|vm-*) printf 'check: %-14s started (%s)\n' "$name" "$(date -u +%H:%M:%S)" ;;
	esac
	if [ "${V:-0}" = 1 ]; then
		set +e
		bash "$0" --leg "$cdir" "$fn" 2>&1 | tee "$log"
		rc=${PIPESTATUS[0]}
		set -e
	else
		bash "$0" --leg "$cdir" "$fn" >"$log" 2>&1 || rc=$?
	fi
	local secs=$(( $(date +%s) - start ))
	printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$kind" "$rc" "$path" "$secs" >>"$legs"
	case $rc in
	0) printf 'check: %-14s ok      %4ss\n' "$name" "$secs" ;;
	77) printf 'check: %-14s skipped %4ss  (%s)\n' "$name" "$secs" "$(tail -n1 "$log")" ;;
	*) printf 'check: %-14s FAILED  %4ss  (%s)\n' "$name" "$secs" "$log" ;;
	esac
}

for l in "${all_legs[@]}"; do
	run_leg "$l"
done

echo "check: all legs done in $(( $(date +%s) - t0 ))s; results in $cdir"
exec python3 "$here/parse-results.py" --legs "$legs"
