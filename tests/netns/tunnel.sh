#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The tunnel itself: handshake, ping over IPv4 and IPv6 both ways, MTU-sized and fragmented ICMP,
# a 100 MiB TCP transfer each way (IPv4 A->B, IPv6 B->A) whose SHA-256 must match, persistent
# keepalive seen in the counters.
# Runs on each pair: wgc->wgc, wgc->wireguard-go, wireguard-go->wgc (A initiates).
#
#   ┌──────────── ns A ────────────┐          ┌──────────── ns B ────────────┐
#   │ IF_A  10.200.0.1/24          │          │ IF_B  10.200.0.2/24          │
#   │       fd00:200::1/64         │  tunnel  │       fd00:200::2/64         │
#   │       (wgc | wireguard-go)   │◀════════▶│       (wgc | wireguard-go)   │
#   │ veth0 10.250.0.1/24          │          │ veth0 10.250.0.2/24          │
#   │       fd00:250::1/64   :51001├──────────┤:51002 fd00:250::2/64        │
#   └──────────────────────────────┘   veth   └──────────────────────────────┘
. "$(dirname "$0")/lib.sh"
require_env
need_wireguard_go

keepalive_seen() {
	local before after
	before=$(rx_bytes B "$IF_B" "$PUB_A")
	sleep 3.5
	after=$(rx_bytes B "$IF_B" "$PUB_A")
	echo "B received from A: $before -> $after bytes"
	# at least two 32-byte keepalives, and nothing else was sent
	[ $((after - before)) -ge 64 ] && [ $((after - before)) -le 256 ]
}

for pair in "${PAIRS[@]}"; do
	setup_pair $pair || { fail "setup $pair"; continue; }

	# Test: handshake (A initiates with its first packet)
	say "$LABEL: handshake and ping"
	check "$LABEL: first IPv4 ping (starts the handshake)" ping_ok A 10.200.0.2 5
	check "$LABEL: A has a handshake" [ "$(latest_handshake A "$IF_A" "$PUB_B")" -gt 0 ]
	check "$LABEL: B has a handshake" [ "$(latest_handshake B "$IF_B" "$PUB_A")" -gt 0 ]

	# Test: ping v4 and v6 both ways
	check "$LABEL: ping IPv4 A->B" A ping -n -q -c 3 -i 0.2 -W 1 10.200.0.2
	check "$LABEL: ping IPv4 B->A" B ping -n -q -c 3 -i 0.2 -W 1 10.200.0.1
	check "$LABEL: ping IPv6 A->B" A ping -n -q -c 3 -i 0.2 -W 1 fd00:200::2
	check "$LABEL: ping IPv6 B->A" B ping -n -q -c 3 -i 0.2 -W 1 fd00:200::1

	# Test: MTU-sized and fragmented ICMP
	say "$LABEL: MTU-sized and fragmented ICMP"
	# 1420-byte IPv4 packets with DF (1392 + 8 + 20), and 1420-byte IPv6 packets (1372 + 8 + 40)
	check "$LABEL: MTU-sized IPv4 ping, DF set" A ping -n -q -c 3 -i 0.2 -W 1 -M do -s 1392 10.200.0.2
	check "$LABEL: MTU-sized IPv6 ping" B ping -n -q -c 3 -i 0.2 -W 1 -M do -s 1372 fd00:200::1
	check "$LABEL: one byte over the MTU is refused locally" \
		bash -c "! ip netns exec $NS_A ping -n -q -c 1 -W 1 -M do -s 1393 10.200.0.2 >/dev/null 2>&1"
	check "$LABEL: fragmented IPv4 ping (8000 bytes)" A ping -n -q -c 3 -i 0.2 -W 1 -s 8000 10.200.0.2
	check "$LABEL: fragmented IPv6 ping (8000 bytes)" B ping -n -q -c 3 -i 0.2 -W 1 -s 8000 fd00:200::1

	# Test: 100 MiB TCP transfer with a matching hash
	say "$LABEL: 100 MiB over TCP"
	check "$LABEL: 100 MiB A->B, SHA-256 matches" transfer_ok A B 10.200.0.2 100
	# The other direction over IPv6: B's TUN super-packets split by B, coalesced again by A.
	check "$LABEL: 100 MiB B->A over IPv6, SHA-256 matches" transfer_ok B A fd00:200::1 100

	# Test: persistent keepalive visible in counters
	say "$LABEL: persistent keepalive"
	A wg set "$IF_A" peer "$PUB_B" persistent-keepalive 1
	check "$LABEL: A reports persistent keepalive 1" \
		[ "$(wg_field A "$IF_A" persistent-keepalive "$PUB_B")" = 1 ]
	check "$LABEL: B receives keepalives from A" keepalive_seen
	A wg set "$IF_A" peer "$PUB_B" persistent-keepalive 0
	check "$LABEL: keepalive off again" [ "$(wg_field A "$IF_A" persistent-keepalive "$PUB_B")" = off ]

	teardown_pair
done
finish
