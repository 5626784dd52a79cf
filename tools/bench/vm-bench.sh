#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run timerring-bench inside the timerring test VM (QEMU TCG) with the
# module loaded, and extract its JSON. Reuses tools/vm/build-module.sh,
# tools/vm/mkinitramfs.sh and tools/vm/run-vm.sh (run mode: the guest runs
# the only program of /opt/timerring/bin, here tools/bench/guest-bench.sh).
#
# usage: vm-bench.sh [-k deb6.12|deb6.1|test] [-o DIR] [-T SECONDS] [-- BENCH ARGS...]
#   -k   guest kernel (default deb6.12: Debian's stock kernel, no debug
#        options that would skew the comparison)
#   -o   output dir (default out/vm-bench): bench.json, results.log,
#        console.log, dmesg.txt
#   -T   hard timeout of the VM (default 2400)
# BENCH ARGS replace the default sizing (see BENCH_VM_ARGS below).
# Exits non-zero if the VM or the benchmark did not finish.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
vm=$repo/tools/vm
kern=deb6.12
dir=$repo/out/vm-bench
tmo=2400
while getopts "k:o:T:h" opt; do
	case $opt in
	k) kern=$OPTARG ;;
	o) dir=$OPTARG ;;
	T) tmo=$OPTARG ;;
	*) sed -n '/^# usage/,/^# Exits/p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))

# Sized for QEMU TCG (3-50x slower than the host, unequally per system):
# 1M timers for all three systems. The whole run took 6.5 min on the
# 2-vCPU dev host with moderate load, 11 min with heavy load and 25 min
# with four QEMUs sharing its two cores; "--tfd-max 262144" roughly halves
# it (timerfd creates and closes one fd per timer). Absolute times are
# meaningless under TCG; only the ratios of one run count.
default_args=${BENCH_VM_ARGS:-"--live 1048576 --sample 16 --conn-sample 2 --spread-s 10 --conn-s 3"}
args=${*:-$default_args}

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
case "$kern" in
test)	kdir=$("$vm/test-kernel.sh"); img=$kdir/arch/x86/boot/bzImage ;;
deb6.1|deb6.12)
	kdir=$("$vm/stock-kernels.sh" kdir "${kern#deb}")
	img=$("$vm/stock-kernels.sh" vmlinuz "${kern#deb}") ;;
*)	echo "vm-bench: unknown kernel $kern (test, deb6.1, deb6.12)" >&2; exit 2 ;;
esac

echo "vm-bench: building the module for $kern" >&2
"$vm/build-module.sh" -o "$dir/build" -k "$kdir" >"$dir/build.log" 2>&1 ||
	{ cat "$dir/build.log" >&2; exit 1; }
make -s -C "$here" timerring-bench >&2

printf '%s\n' "$args" >"$dir/args"
"$vm/mkinitramfs.sh" -o "$dir/initramfs.cpio.gz" -S \
	-x "$here/guest-bench.sh:/opt/timerring/bin/timerring-bench-vm" \
	-x "$here/timerring-bench:/opt/timerring/bench/timerring-bench" \
	-x "$dir/args:/opt/timerring/bench/args" \
	"$dir/build/timerring.ko"

echo "vm-bench: booting $kern ($(basename "$img")), args: $args" >&2
rc=0
"$vm/run-vm.sh" -k "$img" -i "$dir/initramfs.cpio.gz" -m run -o "$dir" \
	-T "$tmo" -a "trtimeout=$((tmo - 60))" || rc=$?

log=$dir/results.log
sed -n '/^##### BENCH-JSON-BEGIN/,/^##### BENCH-JSON-END/p' "$log" 2>/dev/null |
	sed '1d;$d' | tr -d '\r' >"$dir/bench.json.tmp" || true
sed -n '/^##### BENCH-DMESG-BEGIN/,/^##### BENCH-DMESG-END/p' "$log" 2>/dev/null |
	sed '1d;$d' | tr -d '\r' >"$dir/dmesg.txt" || true
if [ ! -s "$dir/bench.json.tmp" ]; then
	echo "vm-bench: no benchmark JSON in $log (VM rc $rc); see $dir/console.log" >&2
	tail -n 30 "$log" >&2 2>/dev/null || true
	exit 1
fi
# Where the guest ran: the host (the guest only sees QEMU's CPU model).
python3 - "$dir/bench.json.tmp" "$dir/bench.json" "$kern" "$(basename "$img")" <<'PY'
import json, platform, subprocess, sys
src, dst, kern, img = sys.argv[1:5]
d = json.load(open(src))
model = "unknown"
try:
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
except OSError:
    pass
try:
    qemu = subprocess.run(["qemu-system-x86_64", "--version"], capture_output=True,
                          text=True).stdout.splitlines()[0]
except Exception:
    qemu = "unknown"
d["host"] = {"machine": model, "kernel": platform.release(),
             "cpus": __import__("os").cpu_count(), "qemu": qemu + " (TCG)",
             "guest_kernel": kern + " " + img}
json.dump(d, open(dst, "w"), indent=1)
PY
rm -f "$dir/bench.json.tmp"
grep -q '^##### TIMERRING-DONE' "$log" || echo "vm-bench: warning: no end marker in $log" >&2
echo "vm-bench: $dir/bench.json" >&2
