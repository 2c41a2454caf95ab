#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs every netns scenario script (tests/netns/*.sh except lib.sh and this one), prints their
# output, and records the totals as "PASSED FAILED" in build/results/netns.txt (or
# $NETNS_RESULT.txt) for scripts/summary.sh. A script that dies without reporting counts as one failure. Needs root.
# Run one script alone with: tests/netns/run.sh tunnel peers ...
# The scripts in OFFLOAD_BOTH (default: tunnel) run twice: with wgc's offloads (TUN TSO/GRO, UDP
# GSO/GRO; the default) and again with WGC_NO_OFFLOAD=1, the plain fallback path. Set
# OFFLOAD_BOTH="" to run each script once.
set -u
cd "$(dirname "$0")/../.."
mkdir -p build/results
results=$(mktemp)
export NETNS_RESULTS=$results
start=$(date +%s)
status=0
if [ $# -gt 0 ]; then
	scripts=()
	for name in "$@"; do scripts+=("tests/netns/$name.sh"); done
else
	scripts=()
	for s in tests/netns/*.sh; do
		case $(basename "$s") in lib.sh | run.sh) ;; *) scripts+=("$s") ;; esac
	done
fi
OFFLOAD_BOTH=${OFFLOAD_BOTH-tunnel}
# run_script SCRIPT [ENV=VALUE...]
run_script() {
	local s=$1 rc lines_before
	shift
	echo "======== $s${*:+ ($*)}"
	lines_before=$(wc -l <"$results")
	env "$@" bash "$s"
	rc=$?
	[ $rc -ne 0 ] && status=1
	if [ "$(wc -l <"$results")" -eq "$lines_before" ]; then
		echo "FAIL: $s${*:+ ($*)} exited $rc without reporting results"
		echo "0 1" >>"$results"
		status=1
	fi
}
for s in "${scripts[@]}"; do
	run_script "$s"
	for name in $OFFLOAD_BOTH; do
		[ "$(basename "$s" .sh)" = "$name" ] && run_script "$s" WGC_NO_OFFLOAD=1
	done
done
read -r passed failed < <(awk '{ p += $1; f += $2 } END { print p + 0, f + 0 }' "$results")
rm -f "$results"
echo "$passed $failed" >"build/results/${NETNS_RESULT:-netns}.txt"
echo "${NETNS_RESULT:-netns}: $passed passed, $failed failed ($(($(date +%s) - start)) s)"
[ "$failed" -eq 0 ] && exit $status
exit 1
