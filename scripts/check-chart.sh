#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make check-chart: bench/chart.py still turns every committed tunnel benchmark report into a PNG
# (as make bench-tunnel does with latest.md), written to a temporary directory. The flood
# benchmark's reports (*-flood.md, make bench-flood) are tables of another shape, not charted. Records
# "PASSED FAILED" in build/results/chart.txt.
set -u
cd "$(dirname "$0")/.."
T=$(mktemp -d /tmp/wgc-chart.XXXXXX)
trap 'rm -rf "$T"' EXIT
passed=0
failed=0
for r in bench/results/*.md; do
	[[ $r == *-flood.md ]] && continue
	if python3 bench/chart.py "$r" "$T/chart.png" && [ "$(head -c 8 "$T/chart.png" | od -An -tx1 |
		tr -d ' ')" = 89504e470d0a1a0a ]; then
		echo "PASS: chart of $r"
		passed=$((passed + 1))
	else
		echo "FAIL: chart of $r"
		failed=$((failed + 1))
	fi
done
mkdir -p build/results
echo "$passed $failed" >build/results/chart.txt
echo "chart: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
