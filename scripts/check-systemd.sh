#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make check-systemd: the units as make install writes them (ExecStart pointing at the built
# wgc here) pass `systemd-analyze verify`, wgc@.service keeps its sandboxing (offline
# `systemd-analyze security` exposure at most 3.5), and the wg-quick drop-in loads on top of the
# stock wg-quick@.service when wireguard-tools provides it. Readiness itself is tested in
# tests/netns/notify.sh. Records "PASSED FAILED" in build/results/systemd.txt.
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
. scripts/checks.sh
D=$(mktemp -d /tmp/wgc-systemd.XXXXXX)
trap 'rm -rf "$D"' EXIT
if ! command -v systemd-analyze >/dev/null; then
	echo "SKIP: systemd-analyze is missing (Debian package systemd)"
	[ "${CI:-}" = true ] && FAILED=1
else
	make -s --no-print-directory install-systemd DESTDIR="$D" SBINDIR="$ROOT/build" \
		SYSTEMDUNITDIR=/units
	units=$D/units
	# --man=no: the pages are not installed here (the package test verifies with them).
	check "systemd-analyze verify wgc@wg0.service" \
		systemd-analyze verify --man=no "$units/wgc@wg0.service"
	check "wgc@.service: Type=notify running wgc -f %i" \
		grep -qx "ExecStart=$ROOT/build/wgc -f %i" "$units/wgc@.service"
	check "wgc@.service: exposure at most 3.5" \
		sh -c "systemd-analyze security --offline=yes --threshold=35 '$units/wgc@wg0.service' \
			>'$D/security.txt' 2>&1"
	tail -1 "$D/security.txt"
	if [ -f /lib/systemd/system/wg-quick@.service ]; then
		cp /lib/systemd/system/wg-quick@.service "$units/"
		check "wg-quick@wg0.service with the wgc drop-in verifies" \
			env SYSTEMD_UNIT_PATH="$units:" systemd-analyze verify --man=no \
			"$units/wg-quick@wg0.service"
	fi
	check "the drop-in sets WG_QUICK_USERSPACE_IMPLEMENTATION to wgc" \
		grep -qx "Environment=WG_QUICK_USERSPACE_IMPLEMENTATION=$ROOT/build/wgc" \
		"$units/wg-quick@.service.d/wgc.conf"
fi
mkdir -p build/results
echo "$PASSED $FAILED" >build/results/systemd.txt
echo "systemd: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
