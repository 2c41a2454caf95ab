#!/usr/bin/env bash
# Proof of no hidden allocation: no object of core/ or crypto/ references an allocator.
# NM picks another nm (the cross build), RESULT another results file name.
# One allocation is known and allowed, and this check does not see it: crypto/openssl.o asks
# libcrypto for one cipher context per thread that seals or opens (EVP_CIPHER_CTX_new or the
# provider's newctx), once per thread and never per packet; crypto/crypto.h documents it. core/
# allocates nothing at all.
set -u
status=0
for o in "$@"; do
	bad=$(${NM:-nm} -u "$o" | awk '{print $2}' | grep -E '^(malloc|calloc|realloc|free|aligned_alloc|posix_memalign|reallocarray|strdup|mmap)$')
	if [ -n "$bad" ]; then echo "no-malloc: $o references: $bad"; status=1; fi
done
[ $status -eq 0 ] && echo "no-malloc: $# objects reference no allocator"
mkdir -p build/results
if [ $status -eq 0 ]; then echo "1 0" > build/results/${RESULT:-no-malloc}.txt; else echo "0 1" > build/results/${RESULT:-no-malloc}.txt; fi
exit $status
