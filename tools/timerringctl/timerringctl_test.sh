#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# timerringctl against the loaded module (run in the VM, as root, with
# debugfs and tracefs mounted): status, hist, top and trace, with the
# hello example (next to this script) as the workload. TAP; exit 1 on a
# failure, 4 (skip) without the module or the programs.
here=$(cd "$(dirname "$0")" && pwd)
ctl=$(command -v timerringctl 2>/dev/null) || ctl=$here/timerringctl
[ -x "$ctl" ] || ctl=$here/../timerringctl/timerringctl
hello=$here/hello
[ -x "$hello" ] || hello=$here/../examples/hello
tmp=${TMPDIR:-/tmp}/timerringctl_test.$$
n=0
fail=0

if [ ! -x "$ctl" ] || [ ! -x "$hello" ]; then
	echo "1..0 # SKIP no timerringctl or hello next to $0"
	exit 4
fi
if [ ! -e /dev/timerring ]; then
	echo "1..0 # SKIP no /dev/timerring (module not loaded)"
	exit 4
fi
mkdir -p "$tmp" || exit 1
trap 'rm -rf "$tmp"' EXIT

t() {	# STATUS DESCRIPTION [FILE to show on failure]
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		[ -n "$3" ] && sed 's/^/# /' "$3"
		fail=$((fail + 1))
	fi
}

"$ctl" status >"$tmp/status" 2>&1
t $? "status exits 0" "$tmp/status"
grep -Eq '^timerring module .+ \(API 1\)$' "$tmp/status"
t $? "status shows the module version and API" "$tmp/status"
grep -Eq 'batch implementation +(scalar|avx2|avx512)' "$tmp/status"
t $? "status shows the batch implementation" "$tmp/status"
grep -Eq '^  instances_open +[0-9]+' "$tmp/status" &&
	grep -Eq '^  max_timers +[0-9]+' "$tmp/status"
t $? "status shows the global stats and the module parameters" "$tmp/status"
sed 's/^/# /' "$tmp/status"
# Every counter of the stats file (the sq_* ones too, where the module
# reports them) is in status.
stats=/sys/kernel/debug/timerring/stats
# (A debugfs file's size is 0: count the keys read instead.)
rc=0 keys=0
while read -r key val; do
	[ "$key" = lateness_us_log2 ] && continue
	keys=$((keys + 1))
	grep -Eq "^  $key +" "$tmp/status" || { echo "# $key missing"; rc=1; }
done <"$stats"
[ "$keys" -gt 0 ] || rc=1
t $rc "status shows every counter of $stats" "$stats"

"$ctl" --json status >"$tmp/json" 2>&1 &&
	grep -q '"loaded":true,' "$tmp/json" &&
	grep -q '"api_version":1,' "$tmp/json" &&
	grep -Eq '"stats":\{"instances_open":[0-9]+' "$tmp/json"
t $? "status --json" "$tmp/json"

"$ctl" trace clear >"$tmp/trace" 2>&1 && "$ctl" trace on >>"$tmp/trace" 2>&1
t $? "trace on" "$tmp/trace"
"$hello" >"$tmp/hello" 2>&1
t $? "hello passes while traced" "$tmp/hello"
"$ctl" trace off >"$tmp/trace" 2>&1
t $? "trace off" "$tmp/trace"
"$ctl" trace show 1000 >"$tmp/show" 2>&1
for ev in setup submit op expire wakeup teardown; do
	grep -q " timerring_$ev: inst=" "$tmp/show"
	t $? "trace show has a timerring_$ev record" "$tmp/show"
done
[ "$(grep -c ' timerring_expire: ' "$tmp/show")" -ge 4 ]
t $? "trace show has the 4 expirations of hello" "$tmp/show"
"$ctl" trace show 3 | grep -c ' timerring_' >"$tmp/count"
[ "$(cat "$tmp/count")" = 3 ]
t $? "trace show 3 prints 3 records" "$tmp/count"
# after the records of hello were read: trace on clears the buffer
ev=/sys/kernel/tracing/events/timerring
[ -d "$ev" ] || ev=/sys/kernel/debug/tracing/events/timerring
"$ctl" trace on sq >"$tmp/trace_sq" 2>&1 &&
	[ "$(cat "$ev/timerring_sq/enable")" = 1 ] &&
	"$ctl" trace off >>"$tmp/trace_sq" 2>&1 &&
	[ "$(cat "$ev/timerring_sq/enable")" = 0 ]
t $? "trace on sq enables the submission ring's event" "$tmp/trace_sq"

"$ctl" hist >"$tmp/hist" 2>&1 &&
	grep -Eq '^expiration lateness, all instances \([1-9][0-9]* expirations\)' "$tmp/hist" &&
	grep -Eq '\|#+$' "$tmp/hist"
t $? "hist draws a bar chart after hello" "$tmp/hist"
sed 's/^/# /' "$tmp/hist"
"$ctl" --json hist >"$tmp/hjson" 2>&1 &&
	grep -Eq '^\{"unit":"us","total":[1-9][0-9]*,"buckets":\[' "$tmp/hjson"
t $? "hist --json" "$tmp/hjson"

# top while hello runs: its expirations show in the rates.
"$hello" >/dev/null 2>&1 &
pid=$!
"$ctl" --json top -n 1 -d 2 >"$tmp/top" 2>&1
t $? "top --json -n 1 exits 0" "$tmp/top"
wait $pid
grep -Eq '"expired_total_per_s":[1-9]' "$tmp/top" &&
	grep -Eq '"armed_now":[0-9]+' "$tmp/top"
t $? "top --json shows the expirations of a running program" "$tmp/top"
rc=0
for k in sq_ops_total sq_failed_total sq_enter_total sq_pass_total; do
	if grep -q "^$k " "$stats"; then
		grep -Eq "\"${k}_per_s\":[0-9]" "$tmp/top" || rc=1
	else
		grep -q "\"${k}_per_s\":null" "$tmp/top" || rc=1
	fi
done
t $rc "top --json has the submission ring's rates (null where the stats have none)" "$tmp/top"
sed 's/^/# /' "$tmp/top"
"$ctl" top -n 1 -d 0.2 >"$tmp/top" 2>&1 &&
	grep -Eq 'expirations/s +[0-9.]+ +[1-9]' "$tmp/top"
t $? "top shows rates and totals" "$tmp/top"

echo "1..$n"
[ "$fail" = 0 ]
