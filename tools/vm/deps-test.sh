#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Host-side test of deps.sh: runs it with stand-ins for dpkg-query,
# apt-get and id first on PATH, on a fresh machine (nothing installed),
# a complete one, a partial one and as a non-root user. Nothing is
# installed and no package list is touched. Prints TAP, then
# "N passed, N failed"; exits non-zero if anything failed.
#
# usage: deps-test.sh [DEPS_SH]     (default: deps.sh next to this script)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
deps=${1:-$here/deps.sh}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/deps-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/bin"

# dpkg-query -W [-f FORMAT] NAME...: like the real one, prints FORMAT for
# every name in the status database ($DEPS_TEST_DB, "NAME STATUS" lines;
# STATUS installed, config-files or not-installed), in database order,
# and for a name it does not know says so on stderr and exits 1.
cat >"$tmp/bin/dpkg-query" <<'EOF'
#!/bin/bash
set -euo pipefail
fmt='${Package}\t${Version}\n' show=0 names=()
while [ $# -gt 0 ]; do
	case $1 in
	-W|--show) show=1 ;;
	-f|--showformat) fmt=$2; shift ;;
	-f=*) fmt=${1#-f=} ;;	# dpkg takes -f=FORMAT as -f FORMAT
	-f*) fmt=${1#-f} ;;
	--showformat=*) fmt=${1#--showformat=} ;;
	-*) echo "dpkg-query stand-in: unexpected option $1" >&2; exit 2 ;;
	*) names+=("$1") ;;
	esac
	shift
done
[ "$show" = 1 ] || { echo "dpkg-query stand-in: only -W" >&2; exit 2; }
rc=0
for n in "${names[@]}"; do
	awk -v n="$n" '$1 == n { f = 1 } END { exit !f }' "$DEPS_TEST_DB" ||
		{ echo "dpkg-query: no packages found matching $n" >&2; rc=1; }
done
while read -r p st; do
	for n in "${names[@]}"; do
		[ "$n" = "$p" ] || continue
		out=${fmt//'${db:Status-Status}'/$st}
		out=${out//'${Package}'/$p}
		out=${out//'${Version}'/1.0}
		printf '%b' "$out"
	done
done < <(sort "$DEPS_TEST_DB")
exit $rc
EOF

# apt-get: records its arguments, one call a line; "install" marks the
# names installed, as the real one would.
cat >"$tmp/bin/apt-get" <<'EOF'
#!/bin/bash
set -euo pipefail
echo "$*" >>"$DEPS_TEST_LOG"
if [ "${1:-}" = install ]; then
	for a in "$@"; do
		case $a in install|-*) ;; *)
			awk -v n="$a" '$1 != n' "$DEPS_TEST_DB" >"$DEPS_TEST_DB.new"
			echo "$a installed" >>"$DEPS_TEST_DB.new"
			mv "$DEPS_TEST_DB.new" "$DEPS_TEST_DB" ;;
		esac
	done
fi
EOF

# id -u prints $DEPS_TEST_UID; anything else goes to the real id.
cat >"$tmp/bin/id" <<'EOF'
#!/bin/bash
if [ "$*" = -u ]; then echo "$DEPS_TEST_UID"; exit 0; fi
exec /usr/bin/id "$@"
EOF
chmod +x "$tmp/bin/"*

# The package list of deps.sh, read from its pkgs=( ... ) array.
mapfile -t pkgs < <(sed -n '/^pkgs=(/,/^)/p' "$deps" | sed 's/#.*//;s/^pkgs=(//;s/)//' |
	tr -s ' \t' '\n' | sed '/^$/d')

n=0 pass=0 fail=0
check() {	# check DESCRIPTION COMMAND...
	local d=$1
	shift
	n=$((n + 1))
	if "$@"; then
		echo "ok $n - $d"
		pass=$((pass + 1))
	else
		echo "not ok $n - $d"
		fail=$((fail + 1))
		sed 's/^/# /' "$tmp/out" "$tmp/err" "$DEPS_TEST_LOG"
	fi
}

export DEPS_TEST_DB=$tmp/db DEPS_TEST_LOG=$tmp/apt.log DEPS_TEST_UID=0

# setup INSTALLED...: a status database with these names installed.
setup() {
	: >"$DEPS_TEST_DB"
	: >"$DEPS_TEST_LOG"
	local p
	for p in "$@"; do echo "$p installed" >>"$DEPS_TEST_DB"; done
}

run_deps() {
	rc=0
	PATH="$tmp/bin:$PATH" "$deps" >"$tmp/out" 2>"$tmp/err" </dev/null || rc=$?
}

is() { [ "$1" = "$2" ]; }
silent() { [ ! -s "$tmp/out" ] && [ ! -s "$tmp/err" ]; }
no_apt() { [ ! -s "$DEPS_TEST_LOG" ]; }
quiet_ok() { [ "$rc" = 0 ] && silent && no_apt; }
# apt_calls MISSING...: exactly "update", then "install" of these names.
apt_calls() {
	local want="install -y -qq --no-install-recommends $*"
	[ "$(wc -l <"$DEPS_TEST_LOG")" = 2 ] &&
		[ "$(sed -n 1p "$DEPS_TEST_LOG")" = "update -qq" ] &&
		[ "$(sed -n 2p "$DEPS_TEST_LOG")" = "$want" ]
}
# names_in FILE NAME...: every name is a word (blank separated) of FILE.
names_in() {
	local f=$1 p
	shift
	for p in "$@"; do
		tr -s ' \t' '\n' <"$f" | grep -qxF -- "$p" || return 1
	done
}

echo "TAP version 13"
echo "1..13"

check "deps.sh lists packages (${#pkgs[@]})" is "$([ ${#pkgs[@]} -ge 10 ] && echo y)" y

# (a) A fresh machine: dpkg-query knows none of the names.
setup
run_deps
check "fresh machine: exit 0" is "$rc" 0
check "fresh machine: apt-get update, then install of every package" apt_calls "${pkgs[@]}"
check "fresh machine: says what it installs" names_in "$tmp/err" "${pkgs[@]}"
: >"$DEPS_TEST_LOG"
run_deps
check "fresh machine, second run: exit 0, silent, no apt-get" quiet_ok

# (b) Everything installed.
setup "${pkgs[@]}"
run_deps
check "all installed: exit 0" is "$rc" 0
check "all installed: prints nothing" silent
check "all installed: apt-get not called" no_apt

# (c) Some missing: one unknown, one with config files left, one known
# but not installed; the rest installed.
last=$((${#pkgs[@]} - 1))
mid=$((${#pkgs[@]} / 2))
missing=("${pkgs[0]}" "${pkgs[$mid]}" "${pkgs[$last]}")
setup "${pkgs[@]:1:mid-1}" "${pkgs[@]:mid+1:last-mid-1}"
echo "${pkgs[$mid]} config-files" >>"$DEPS_TEST_DB"
echo "${pkgs[$last]} not-installed" >>"$DEPS_TEST_DB"
run_deps
check "some missing: exit 0" is "$rc" 0
check "some missing: installs exactly ${missing[*]}" apt_calls "${missing[@]}"

# (d) Not root, some missing: a message naming them, no apt-get.
setup "${pkgs[@]:1:mid-1}" "${pkgs[@]:mid+1:last-mid-1}"
DEPS_TEST_UID=1000
run_deps
DEPS_TEST_UID=0
check "not root: exit non-zero" is "$([ "$rc" != 0 ] && echo y)" y
check "not root: the message names ${missing[*]}" names_in "$tmp/err" "${missing[@]}"
check "not root: apt-get not called" no_apt

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
