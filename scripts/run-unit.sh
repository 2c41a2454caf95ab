#!/usr/bin/env bash
# Runs cmocka test binaries, prints each one's output, and records pass/fail totals under
# build/results/<label>.txt for scripts/summary.sh. Exits non-zero if any test failed.
set -u
label=$1; shift
mkdir -p build/results
passed=0; failed=0; status=0
for t in "$@"; do
	out=$("$t" 2>&1); rc=$?
	echo "$out"
	p=$(echo "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | awk '{s+=$1} END {print s+0}')
	f=$(echo "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | awk '{s+=$1} END {print s+0}')
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi   # a crash counts as a failure
	passed=$((passed + p)); failed=$((failed + f))
	[ "$rc" -ne 0 ] && { echo "FAIL: $t exited $rc"; status=1; }
done
echo "$passed $failed" > "build/results/unit-$label.txt"
echo "unit ($label): $passed passed, $failed failed"
exit $status
