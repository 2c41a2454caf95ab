#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The ABI fence: the dynamic symbols a libwgc.so defines, as name@@version-node, must be exactly
# the committed list abi/libwgc.sym. Usage: check-abi.sh LIB [RESULT-NAME]; check-abi.sh --list LIB
# prints the list (make abi-update). A deliberate change regenerates the list in the same commit.
set -euo pipefail
cd "$(dirname "$0")/.."
list() {
	# Defined, global symbols only; the version node itself shows as an absolute symbol.
	nm -D --defined-only --with-symbol-versions "$1" | awk '$2 != "A" { print $3 }' | LC_ALL=C sort
}
if [ "$1" = --list ]; then
	list "$2"
	exit 0
fi
lib=$1
name=${2:-abi}
mkdir -p build/results
# debian/libwgc0.symbols lists the same symbols (dpkg-gensymbols holds the package to it).
symbols=$(sed -n 's/^ \(wgc_[a-z0-9_]*\)@\([A-Z0-9_.]*\) .*/\1@@\2/p' debian/libwgc0.symbols | LC_ALL=C sort)
if [ -f debian/libwgc0.symbols ] && [ "$symbols" != "$(cat abi/libwgc.sym)" ]; then
	echo "abi: debian/libwgc0.symbols does not list the symbols of abi/libwgc.sym:"
	diff -u abi/libwgc.sym <(echo "$symbols")
	echo "0 1" >"build/results/$name.txt"
	exit 1
fi
if diff -u abi/libwgc.sym <(list "$lib"); then
	echo "abi: $lib exports the $(wc -l <abi/libwgc.sym) symbols of abi/libwgc.sym"
	echo "1 0" >"build/results/$name.txt"
else
	echo "abi: $lib differs from abi/libwgc.sym (above: - committed, + built);" \
		"after a deliberate change run make abi-update"
	echo "0 1" >"build/results/$name.txt"
	exit 1
fi
