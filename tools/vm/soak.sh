#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The soak run behind `make soak` (not part of `make check`): the debug
# test kernel (KASAN, lockdep, ODEBUG, kmemleak) booted in mode soak
# (tools/vm/guest/guest.sh), which runs race_test, poll_stress_test and
# hotplug_test (the offline/online loop of cpu1) and the fuzzer
# tools/fuzz/timerring-fuzz (where it is built: its threads phase too) each
# in a loop, all at once, for SECONDS, together with every program given
# in SOAK_PROGS
# (copied to /opt/timerring/soak/ in the guest: e.g. a fuzzer's threaded
# mode); then diffs /proc/slabinfo, checks that the module holds no
# instance and no charged byte, and scans kmemleak.
#
# usage: soak.sh [DURATION]     (seconds, or Ns, Nm, Nh; default 600)
# Environment: OUT (default out; the run goes to $OUT/soak), SOAK_KERNEL
# (test, the default, or Debian's stock deb6.1 or deb6.12), SOAK_PROGS
# (space separated programs), VM_APPEND (extra guest command line, e.g.
# trsoakprogs=race_test,hotplug_test).
# The last line is the verdict: "soak: PASS ..." or "soak: FAIL ...";
# the exit status is non-zero on FAIL.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$repo"
secs=${1:-600}
case $secs in
*[0-9]s) secs=${secs%s} ;;
*[0-9]m) secs=$(( ${secs%m} * 60 )) ;;
*[0-9]h) secs=$(( ${secs%h} * 3600 )) ;;
esac
case $secs in '' | *[!0-9]*) echo "soak: DURATION is seconds (or Ns, Nm, Nh)" >&2; exit 2 ;; esac
out=${OUT:-out}/soak
mkdir -p "$out"
out=$(cd "$out" && pwd)

case ${SOAK_KERNEL:-test} in
test) k=$("$here/test-kernel.sh"); img=$k/arch/x86/boot/bzImage ;;
deb6.1 | deb6.12)
	v=${SOAK_KERNEL#deb}
	k=$("$here/stock-kernels.sh" kdir "$v")
	img=$("$here/stock-kernels.sh" vmlinuz "$v") ;;
*) echo "soak: SOAK_KERNEL is test, deb6.1 or deb6.12" >&2; exit 2 ;;
esac
"$here/build-module.sh" -o "$out/build" -k "$k" >"$out/build.log" 2>&1 ||
	{ tail -n 20 "$out/build.log"; echo "soak: FAIL (module build)"; exit 1; }
{ make -s -C selftests KDIR="$k" && make -s -C tools; } >"$out/programs.log" 2>&1 ||
	{ tail -n 20 "$out/programs.log"; echo "soak: FAIL (test programs build)"; exit 1; }
extra=()
for p in ${SOAK_PROGS:-}; do
	extra+=(-x "$p:/opt/timerring/soak/$(basename "$p")")
done
"$here/mkinitramfs.sh" -o "$out/initramfs.cpio.gz" "${extra[@]}" \
	"$out/build/timerring.ko"

echo "soak: $secs s in the VM, log in $out (started $(date -u +%H:%M:%S))"
rc=0
"$here/run-vm.sh" -k "$img" -i "$out/initramfs.cpio.gz" \
	-m soak -o "$out" -T $((secs + 1200)) \
	-a "trsoak=$secs trtimeout=${TEST_TIMEOUT:-300} ${VM_APPEND:-}" || rc=$?

prc=0
python3 "$here/parse-results.py" --vm "$out" --name soak --status "$rc" \
	>"$out/summary.txt" || prc=$?
cat "$out/summary.txt"
sum=$(sed -n 's/^# soak: //p' "$out/results.log" 2>/dev/null | tail -n 1)
tot=$(tail -n 1 "$out/summary.txt")
if [ "$prc" = 0 ] && [ "$rc" = 0 ] && [ -n "$sum" ]; then
	echo "soak: PASS ($sum; $tot)"
	exit 0
fi
failed=$(grep -E '^  FAIL ' "$out/summary.txt" | sed 's/^  FAIL soak: //; s/  (.*//' |
	head -n 5 | paste -sd, - || true)
echo "soak: FAIL (${sum:-the run did not finish}; $tot; failed: ${failed:-VM exit $rc})"
exit 1
