#!/usr/bin/env bash
# Adds up the results recorded by the check steps and prints the closing line CI reads.
set -u
passed=0; failed=0
for f in build/results/*.txt; do
	read -r p fl < "$f"
	printf '  %-20s %s passed, %s failed\n' "$(basename "$f" .txt)" "$p" "$fl"
	passed=$((passed + p)); failed=$((failed + fl))
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
