#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A handshake flood against wgc: an attacker who knows wgc's public key (valid mac1) sends
# initiations from 16 spoofed sources at 100,000 a second (far above the 1/8-full mark, so the
# daemon is under load throughout; at the attacker's full rate this machine's kernel drops
# datagrams at the socket before wgc sees them, a real initiation among them now and then, so a
# handshake can take a second retry: that rate is `make bench-flood`'s). wgc must stay usable: a new handshake
# from a real peer (wgc, and Debian's wireguard-go, which must follow wgc's cookie reply) completes
# within 10 s, the tunnel carries pings during the flood, the flood sources get nothing but
# cookie replies and no more than their per-source budget, bad-mac1 floods get no reply at all,
# and the flooded daemon's memory does not grow by more than 1 MiB. Figures under load are for
# `make bench-flood`; here only bounds that hold on any machine.
#
#   ┌── ns A ──────────────┐        ┌── ns B ─────────────────────┐        ┌── ns C ──────────┐
#   │ IF_A (wgc|wggo)       │ veth0  │ IF_B (wgc), under the flood │ veth1  │ wgc-flood        │
#   │ 10.250.0.1            │────────│ 10.250.0.2    10.251.0.2    │────────│ 10.251.0.10..25  │
#   └───────────────────────┘        └─────────────────────────────┘        └──────────────────┘
. "$(dirname "$0")/lib.sh"
require_env
FLOOD=$ROOT/build/tools/wgc-flood
[ -x "$FLOOD" ] || skip_all "$FLOOD is not built (make tools)"
SOURCES=16
SECS=8

rss_kib() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/status"; }

# flood_scenario IMPL_A
flood_scenario() {
	setup_pair "$1" wgc || { fail "$1->wgc: setup"; return; }
	NS_C=wgcC-$ID-$SEQ
	add_ns "$NS_C"
	ip link add veth1 netns "$NS_B" type veth peer name veth1 netns "$NS_C"
	B ip addr add 10.251.0.2/24 dev veth1
	B ip link set veth1 up
	for i in $(seq 0 $((SOURCES - 1))); do C ip addr add 10.251.0.$((10 + i))/24 dev veth1; done
	C ip link set veth1 up
	C ping -c 1 -W 2 -q 10.251.0.2 >/dev/null
	local pid_b=${DAEMON_PID[$IF_B]}
	local rss0 out sent cookies others t0 t1 secs
	rss0=$(rss_kib "$pid_b" VmRSS)

	say "$LABEL: a valid-mac1 flood at 100,000/s from $SOURCES sources"
	C "$FLOOD" --to 10.251.0.2:$PORT_B --key "$PUB_B" --src 10.251.0.10 --sources $SOURCES \
		--rate 100000 --seconds $SECS >"$TMP/flood.out" 2>>"$TMP/flood.log" &
	local fpid=$!
	sleep 1
	t0=$(date +%s%N)
	A ping -n -c 1 -w 12 -i 0.2 -q 10.200.0.2 >/dev/null
	local rc=$?
	t1=$(date +%s%N)
	secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", (b - a) / 1e9}')
	echo "first handshake of $1 with the flooded wgc: $secs s"
	check "$LABEL: the handshake completes under the flood" [ $rc -eq 0 ]
	check "$LABEL: ... in less than 10 s ($secs s)" awk -v s="$secs" 'BEGIN {exit !(s < 10)}'
	check "$LABEL: the tunnel carries pings during the flood" \
		A ping -n -c 5 -i 0.2 -W 2 -q 10.200.0.2
	check "$LABEL: the flood is still running (the measurement was under it)" kill -0 $fpid
	wait $fpid
	out=$(cat "$TMP/flood.out")
	echo "wgc-flood: $out"
	read -r _ sent _ _ _ _ _ cookies _ others <<<"$out"
	local bound=$((SOURCES * (5 + 20 * (SECS + 1))))
	check "$LABEL: the flood ran (sent $sent)" [ "${sent:-0}" -gt 10000 ]
	check "$LABEL: nothing but cookie replies went to the flood sources (others: $others)" \
		[ "${others:-1}" -eq 0 ]
	check "$LABEL: cookie replies within the per-source budget ($cookies <= $bound)" \
		[ "${cookies:-999999}" -le $bound ]
	check "$LABEL: some cookie replies were sent (the budget is not zero)" [ "${cookies:-0}" -gt 0 ]
	check "$LABEL: flood messages over the budget died unanswered" \
		[ "$(counter B "$IF_B" wgc_drop_cookie_limited)" -gt 0 ]
	local growth=$(($(rss_kib "$pid_b" VmHWM) - rss0))
	echo "wgc RSS growth under the flood: $growth KiB"
	check "$LABEL: the flooded daemon grew by at most 1 MiB ($growth KiB)" [ $growth -le 1024 ]

	say "$LABEL: a bad-mac1 flood gets no reply at all"
	local bad_before
	bad_before=$(counter B "$IF_B" wgc_drop_bad_mac1)
	out=$(C "$FLOOD" --to 10.251.0.2:$PORT_B --key "$PUB_B" --src 10.251.0.10 \
		--sources $SOURCES --rate max --seconds 2 --bad-mac1 2>>"$TMP/flood.log")
	echo "wgc-flood --bad-mac1: $out"
	read -r _ sent _ _ _ _ _ cookies _ others <<<"$out"
	check "$LABEL: no reply to bad mac1 ($cookies cookies, $others other)" \
		[ "$((cookies + others))" -eq 0 ]
	check "$LABEL: bad-mac1 messages counted" \
		[ "$(counter B "$IF_B" wgc_drop_bad_mac1)" -gt "$bad_before" ]
	check "$LABEL: the tunnel still works" A ping -n -c 2 -i 0.2 -W 2 -q 10.200.0.2
	check "$LABEL: wgc is still running" kill -0 "$pid_b"
	teardown_pair
}

flood_scenario wgc
if [ -x "$WGGO" ]; then
	flood_scenario wggo
else
	need_wireguard_go
fi
finish
