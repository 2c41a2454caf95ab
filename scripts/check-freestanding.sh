#!/usr/bin/env bash
# The freestanding wall (DESIGN.md 1, STYLE.md 1): core/ and crypto/ include only the C headers a
# freestanding target has plus <string.h> (crypto's libsodium backend is the one named exception),
# and every file compiles with -ffreestanding.
# RESULT picks another results file name, SKIP a file not to compile (the cross build has no
# libsodium, so it skips crypto/sodium.c).
set -u
cc=${1:-cc}
status=0
allowed='^(stdint|stddef|stdbool|string|limits)\.h$'
for f in base/*.h core/*.[ch] crypto/*.[ch] crypto/portable/*.[ch]; do
	for h in $(sed -n 's/^#include <\([^>]*\)>.*/\1/p' "$f"); do
		if ! [[ $h =~ $allowed ]] && ! { [[ $f == crypto/* ]] && [ "$h" = sodium.h ]; }; then
			echo "freestanding: $f includes <$h>"; status=1
		fi
	done
done
for f in core/*.c crypto/*.c crypto/portable/*.c; do
	[ "$f" = "${SKIP:-}" ] && continue
	if ! $cc -std=c11 -ffreestanding -fsyntax-only -Iinclude -I. "$f"; then
		echo "freestanding: $f does not compile with -ffreestanding"; status=1
	fi
done
[ $status -eq 0 ] && echo "freestanding: core/ and crypto/ OK"
mkdir -p build/results
if [ $status -eq 0 ]; then echo "1 0" > build/results/${RESULT:-freestanding}.txt; else echo "0 1" > build/results/${RESULT:-freestanding}.txt; fi
exit $status
