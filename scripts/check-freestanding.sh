#!/usr/bin/env bash
# The freestanding wall (DESIGN.md 1, STYLE.md 1): core/ and crypto/ include only the C headers a
# freestanding target has plus <string.h>, and every file compiles with -ffreestanding. The named
# exceptions are the Linux build's AEAD backends: <sodium.h> in crypto/, and OpenSSL's headers,
# <pthread.h> (its per-thread context is freed by a thread-exit hook) and <dlfcn.h> (libcrypto is
# opened at run time) in crypto/openssl.c only.
# RESULT picks another results file name, SKIP files not to compile, separated by spaces (the
# cross build has no libsodium or OpenSSL, so it skips crypto/sodium.c and crypto/openssl.c).
set -u
cc=${1:-cc}
status=0
allowed='^(stdint|stddef|stdbool|string|limits)\.h$'
for f in base/*.h core/*.[ch] crypto/*.[ch] crypto/portable/*.[ch]; do
	for h in $(sed -n 's/^#include <\([^>]*\)>.*/\1/p' "$f"); do
		if ! [[ $h =~ $allowed ]] && ! { [[ $f == crypto/* ]] && [ "$h" = sodium.h ]; } &&
			! { [ "$f" = crypto/openssl.c ] && [[ $h =~ ^(openssl/[a-z_]+|pthread|dlfcn)\.h$ ]]; }; then
			echo "freestanding: $f includes <$h>"; status=1
		fi
	done
done
for f in core/*.c crypto/*.c crypto/portable/*.c; do
	[[ " ${SKIP:-} " == *" $f "* ]] && continue
	if ! $cc -std=c11 -ffreestanding -fsyntax-only -Iinclude -I. "$f"; then
		echo "freestanding: $f does not compile with -ffreestanding"; status=1
	fi
done
[ $status -eq 0 ] && echo "freestanding: core/ and crypto/ OK"
mkdir -p build/results
if [ $status -eq 0 ]; then echo "1 0" > build/results/${RESULT:-freestanding}.txt; else echo "0 1" > build/results/${RESULT:-freestanding}.txt; fi
exit $status
