#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make check-man: the manual pages lint clean (mandoc -T lint at warning level, and man-db's
# groff rendering with its warnings on), every environment variable the daemon reads is in
# wgc(8)'s ENVIRONMENT, and `wgc --help` prints the synopsis with every option wgc(8) lists.
# Usage: check-man.sh WGC-BINARY. Records "PASSED FAILED" in build/results/man.txt.
set -u
cd "$(dirname "$0")/.."
wgc=${1:-build/wgc}
. scripts/checks.sh
for page in man/*.[0-9]; do
	check "$page: mandoc -T lint -W warning" mandoc -T lint -W warning "$page"
	out=$(MANWIDTH=80 man --warnings -E UTF-8 -l "$page" 2>&1 >/dev/null)
	check "$page: man -l renders without warnings" test -z "$out"
	[ -z "$out" ] || echo "$out"
done
for var in $(grep -ho 'getenv("[A-Z_]*")' daemon/*.c | sed 's/getenv("\(.*\)")/\1/' | sort -u) \
	NOTIFY_SOCKET; do
	check "wgc(8) documents $var" grep -qx "\.It Ev $var" man/wgc.8
done
help=$("$wgc" --help)
check "wgc --help exits 0" test $? -eq 0
check "wgc --help prints the usage line" grep -q "^Usage: .*INTERFACE-NAME" <<<"$help"
# Every option of the man page's synopsis and option list is in --help.
for opt in $(grep -E '^\.(It|Op|Nm) .*Fl ' man/wgc.8 | grep -o 'Fl [^ ]*' | sed 's/^Fl //; s/\\//g' |
	sort -u); do
	check "wgc --help names -$opt" grep -q -- "-$opt\b" <<<"$help"
done
"$wgc" >/dev/null 2>&1
check "wgc without an interface exits 2" test $? -eq 2
check "wgc without an interface prints the usage on stderr" \
	sh -c "'$wgc' 2>&1 >/dev/null | grep -q '^Usage: '"
mkdir -p build/results
echo "$PASSED $FAILED" >build/results/man.txt
echo "man: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
