#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Run TAP-printing programs and merge their cases into one TAP stream:
# cases are renumbered, each program's plan and summary are dropped, a
# program that exits non-zero without a failing case (crash, sanitizer
# report, timeout) counts as a failing case of its own. Ends with the plan
# and "# N passed, N failed"; exits non-zero if anything failed.
#
#	tap-run.sh 'name:command args' ...

n=0
fail=0
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
echo "TAP version 13"
for spec in "$@"; do
	name=${spec%%:*}
	cmd=${spec#*:}
	sh -c "$cmd" >"$tmp" 2>&1
	rc=$?
	out=$(awk -v n="$n" '
		/^ok [0-9]+/ { n++; sub(/^ok [0-9]+/, "ok " n); print; next }
		/^not ok [0-9]+/ { n++; f++; sub(/^not ok [0-9]+/, "not ok " n);
				   print; next }
		/^TAP version/ || /^1\.\.[0-9]+$/ { next }
		/^# [0-9]+ passed, [0-9]+ failed$/ { next }
		/^#/ { print; next }
		{ print "# " $0 }
		END { printf "@@ %d %d\n", n, f }' "$tmp")
	echo "$out" | sed '/^@@ /d'
	stats=$(echo "$out" | sed -n 's/^@@ //p')
	newn=${stats% *}
	newf=${stats#* }
	if [ "$rc" -eq 0 ] && [ "$newn" -eq "$n" ]; then
		newn=$((newn + 1))
		echo "ok $newn - $name"
	elif [ "$rc" -ne 0 ] && [ "$newf" -eq 0 ]; then
		newn=$((newn + 1))
		newf=1
		echo "not ok $newn - $name exited with status $rc"
	fi
	n=$newn
	fail=$((fail + newf))
done
echo "1..$n"
echo "# $((n - fail)) passed, $fail failed"
[ "$fail" -eq 0 ]
