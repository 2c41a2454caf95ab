#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make check-python: the Python bindings' pytest suite (bindings/python/tests) on the built
# libwgc.so.0 and wgc, with Debian's python3 and python3-pytest. Records "PASSED FAILED" in
# build/results/python.txt.
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
mkdir -p build/results
out=$(mktemp)
PYTHONDONTWRITEBYTECODE=1 WGC_LIBRARY=$ROOT/build/libwgc.so.0 WGC=$ROOT/build/wgc \
	WGC_INCLUDE=$ROOT/include \
	/usr/bin/python3 -m pytest -v -p no:cacheprovider bindings/python/tests 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
last=$(tail -1 "$out")
rm -f "$out"
passed=$(grep -o '[0-9]* passed' <<<"$last" | grep -o '[0-9]*')
failed=$(($(grep -o '[0-9]* failed' <<<"$last" | grep -o '[0-9]*' || echo 0) + \
	$(grep -o '[0-9]* error' <<<"$last" | grep -o '[0-9]*' || echo 0)))
passed=${passed:-0}
[ "$rc" -ne 0 ] && [ "$failed" -eq 0 ] && failed=1
echo "$passed $failed" >build/results/python.txt
exit "$rc"
