#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot a kernel + timerring initramfs in QEMU (TCG: this bench does not
# need KVM) with two NUMA nodes, and wait for it to power off.
#
# usage: run-vm.sh -k BZIMAGE -i INITRAMFS [-m check|run|shell|soak] [-o DIR]
#                  [-T SECONDS] [-a "EXTRA CMDLINE"]
#   -o DIR   console log -> DIR/console.log (ttyS0),
#            results     -> DIR/results.log (ttyS1)   (default: .)
#   -T       hard timeout of the whole VM run (default 1200 s)
#   -a       appended to the kernel command line, e.g. "trfilter=ring*"
# Exits with QEMU's status, 124 on timeout.
set -euo pipefail

kernel=
initrd=
mode=check
dir=.
tmo=${TIMERRING_VM_TIMEOUT:-1200}
extra=
while getopts "k:i:m:o:T:a:h" opt; do
	case $opt in
	k) kernel=$OPTARG ;;
	i) initrd=$OPTARG ;;
	m) mode=$OPTARG ;;
	o) dir=$OPTARG ;;
	T) tmo=$OPTARG ;;
	a) extra=$OPTARG ;;
	*) sed -n '/^# usage/,/^# Exits/p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
	esac
done
[ -f "$kernel" ] && [ -f "$initrd" ] ||
	{ echo "run-vm: need -k BZIMAGE and -i INITRAMFS" >&2; exit 2; }
case "$mode" in check|run|shell|soak) ;; *) echo "run-vm: bad mode $mode" >&2; exit 2 ;; esac
mkdir -p "$dir"
console=$dir/console.log
results=$dir/results.log
rm -f "$console" "$results"

# panic_on_warn + panic=-1 + -no-reboot: any WARN, oops or panic ends
# the VM at once, before the end marker of the results.
cmdline="console=ttyS0,115200 panic_on_warn=1 panic=-1 oops=panic"
cmdline+=" kmemleak=on loglevel=7 printk.devkmsg=on no_hash_pointers"
cmdline+=" trmode=$mode $extra"

# la57=off: with 5-level paging, an interrupt that lands in identify_cpu()
# while the boot CPU's feature bits are cleared makes pgtable_l5_enabled()
# false for a moment, and KASAN reports a wild-memory-access in the IRQ
# handler at boot (seen under TCG). sockets=2: two cores of one socket on
# two nodes make the kernel WARN at boot (topology_sane).
qemu=(qemu-system-x86_64 -accel tcg -cpu max,la57=off -smp 2,sockets=2,cores=1,threads=1 -m 2G
	-object memory-backend-ram,id=m0,size=1G -numa node,memdev=m0,cpus=0
	-object memory-backend-ram,id=m1,size=1G -numa node,memdev=m1,cpus=1
	-nodefaults -nographic -no-reboot
	-kernel "$kernel" -initrd "$initrd" -append "$cmdline")

if [ "$mode" = shell ]; then
	# Console on this terminal; Ctrl-A X quits QEMU.
	exec "${qemu[@]}" -serial mon:stdio -serial "file:$results"
fi

start=$(date +%s)
rc=0
timeout -k 10 "$tmo" "${qemu[@]}" -serial "file:$console" \
	-serial "file:$results" </dev/null || rc=$?
echo "run-vm: $mode run of $(basename "$kernel") took $(( $(date +%s) - start ))s (rc $rc)" >&2
[ $rc = 124 ] && echo "run-vm: TIMEOUT after ${tmo}s" >&2
exit $rc
