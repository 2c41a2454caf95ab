# SPDX-License-Identifier: MIT
# Sourced by the scripts/check-*.sh checks: the pass/fail counters and `check NAME COMMAND...`,
# which runs the command and counts a pass or a failure. Each script records "$PASSED $FAILED".
PASSED=0
FAILED=0
pass() { PASSED=$((PASSED + 1)); echo "PASS: $*"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL: $*"; }
check() {
	local name=$1
	shift
	if "$@"; then pass "$name"; else fail "$name"; fi
}
