#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Runs inside the timerring VM as the "showcase" of run-vm.sh -m run (the
# guest's run mode executes the first program of /opt/timerring/bin).
# Installed there as /opt/timerring/bin/timerring-bench-vm by
# tools/bench/vm-bench.sh, with the benchmark at
# /opt/timerring/bench/timerring-bench and its arguments in
# /opt/timerring/bench/args.
#
# Output (stdout, copied to the results port): the benchmark's JSON
# between "##### BENCH-JSON-BEGIN" and "##### BENCH-JSON-END", then the
# kernel's complaints (soft lockups, hung tasks, RCU stalls, warnings)
# between "##### BENCH-DMESG-BEGIN" and "##### BENCH-DMESG-END".
d=/opt/timerring/bench
args=$(cat $d/args 2>/dev/null)

# timerfd needs one fd per timer: lift the system limits (root may raise
# RLIMIT_NOFILE up to fs.nr_open; the benchmark raises its own limit).
echo 2097152 >/proc/sys/fs/nr_open 2>/dev/null
echo 4194304 >/proc/sys/fs/file-max 2>/dev/null
echo 4194304 >/proc/sys/fs/epoll/max_user_watches 2>/dev/null
# Quiet console: printk of the kernel would slow the TCG guest down.
echo 1 >/proc/sys/kernel/printk 2>/dev/null

echo "# bench: kernel $(uname -r), $(nproc) cpus, $(grep MemTotal /proc/meminfo)"
echo "# bench: nr_open $(cat /proc/sys/fs/nr_open), args: $args"
[ -c /dev/timerring ] || echo "# bench: WARNING: no /dev/timerring, timerring will be skipped"
start=$(date +%s)
# Progress (stderr, lines starting with #) goes out live; the JSON to a
# file. No pipe here: busybox sed would hold the progress back.
# shellcheck disable=SC2086
$d/timerring-bench $args --label "QEMU TCG guest" --json /tmp/bench.json 2>&1
rc=$?
echo "# bench: exit status $rc after $(( $(date +%s) - start ))s"
if [ -s /tmp/bench.json ]; then
	echo "##### BENCH-JSON-BEGIN"
	cat /tmp/bench.json
	echo "##### BENCH-JSON-END"
fi
[ -r /sys/kernel/debug/timerring/stats ] && sed 's/^/# debugfs: /' /sys/kernel/debug/timerring/stats
echo "##### BENCH-DMESG-BEGIN"
dmesg | grep -E 'soft lockup|blocked for more than|rcu.*stall|WARNING:|BUG:|Oops|timerring' | head -50
echo "##### BENCH-DMESG-END"
exit $rc
