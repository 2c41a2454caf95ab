#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Peer configuration that changes what the tunnel accepts: preshared keys (matching, and a
# mismatch that must fail), allowed-IPs enforcement in both directions, peer removal, and
# `wg syncconf` keeping the session of a peer it does not change.
# Runs on each pair: wgc->wgc, wgc->wireguard-go, wireguard-go->wgc (A initiates).
#
#   ┌──────────── ns A ────────────┐          ┌──────────── ns B ────────────┐
#   │ IF_A  10.200.0.1/24          │          │ IF_B  10.200.0.2/24          │
#   │       10.200.0.77/32 (extra) │  tunnel  │       10.200.0.88/32 (extra) │
#   │       fd00:200::1/64         │◀════════▶│       fd00:200::2/64         │
#   │ veth0 10.250.0.1/24   :51001 ├──────────┤ :51002  10.250.0.2/24 veth0  │
#   └──────────────────────────────┘   veth   └──────────────────────────────┘
. "$(dirname "$0")/lib.sh"
require_env
need_wireguard_go

is_wgc() { [ "$1" = wgc ]; }

for pair in "${PAIRS[@]}"; do
	# Test: preshared keys (a mismatch fails, the same key on both sides works)
	setup_pair $pair || { fail "setup $pair"; continue; }
	say "$LABEL: preshared keys"
	wg genpsk >"$TMP/psk1"
	wg genpsk >"$TMP/psk2"
	A wg set "$IF_A" peer "$PUB_B" preshared-key "$TMP/psk1"
	B wg set "$IF_B" peer "$PUB_A" preshared-key "$TMP/psk2"
	check "$LABEL: mismatched preshared keys: no tunnel" ping_fails A 10.200.0.2
	check "$LABEL: mismatched preshared keys: no handshake" \
		[ "$(latest_handshake A "$IF_A" "$PUB_B")" = 0 ]
	B wg set "$IF_B" peer "$PUB_A" preshared-key "$TMP/psk1"
	# A retries its initiation every 5 s
	check "$LABEL: matching preshared keys: tunnel up" ping_ok A 10.200.0.2 12
	check "$LABEL: preshared key shown by wg" \
		[ "$(wg_field A "$IF_A" preshared-keys "$PUB_B")" = "$(cat "$TMP/psk1")" ]

	# Test: allowed-IPs enforcement, both ways
	say "$LABEL: allowed IPs"
	A ip addr add 10.200.0.77/32 dev "$IF_A"
	B ip addr add 10.200.0.88/32 dev "$IF_B"
	# A may send from .77 (B's whole /24 is routed to the tunnel) but B does not allow it from A.
	check "$LABEL: B drops A's packets from a source outside A's allowed IPs" \
		ping_fails A 10.200.0.2 -I 10.200.0.77
	if is_wgc "$IMPL_B"; then
		check "$LABEL: B (wgc) counted source_not_allowed" \
			[ "$(counter B "$IF_B" wgc_drop_source_not_allowed)" -ge 3 ]
	fi
	check "$LABEL: A drops B's packets from a source outside B's allowed IPs" \
		ping_fails B 10.200.0.1 -I 10.200.0.88
	if is_wgc "$IMPL_A"; then
		check "$LABEL: A (wgc) counted source_not_allowed" \
			[ "$(counter A "$IF_A" wgc_drop_source_not_allowed)" -ge 3 ]
	fi
	check "$LABEL: A drops packets to an address no peer owns" ping_fails A 10.200.0.99
	if is_wgc "$IMPL_A"; then
		check "$LABEL: A (wgc) counted no_route" [ "$(counter A "$IF_A" wgc_drop_no_route)" -ge 3 ]
	fi
	B wg set "$IF_B" peer "$PUB_A" allowed-ips 10.200.0.1/32,10.200.0.77/32,fd00:200::1/128
	check "$LABEL: once allowed, A's extra source gets through" ping_ok A 10.200.0.2 3 -I 10.200.0.77
	check "$LABEL: wg shows the new allowed IPs" \
		bash -c "ip netns exec $NS_B wg show $IF_B allowed-ips | grep -q '10.200.0.77/32'"

	# Test: peer removal
	say "$LABEL: peer removal"
	A wg set "$IF_A" peer "$PUB_B" remove
	check "$LABEL: removed peer is gone from wg show" [ -z "$(A wg show "$IF_A" peers)" ]
	check "$LABEL: no traffic to a removed peer" ping_fails A 10.200.0.2
	check "$LABEL: no traffic from a removed peer" ping_fails B 10.200.0.1
	teardown_pair

	# Test: wg syncconf keeps the session of an unchanged peer
	setup_pair $pair || { fail "setup $pair"; continue; }
	say "$LABEL: wg syncconf"
	PUB_C=$(wg genkey | wg pubkey)
	PUB_D=$(wg genkey | wg pubkey)
	A wg set "$IF_A" peer "$PUB_C" allowed-ips 10.200.0.3/32 endpoint 10.250.0.3:51003
	check "$LABEL: tunnel up before syncconf" ping_ok A 10.200.0.2 5
	hs=$(latest_handshake A "$IF_A" "$PUB_B")
	A wg showconf "$IF_A" | awk -v c="$PUB_C" '
		/^\[Peer\]/ { if (block != "" && !skip) printf "%s", block; block = ""; skip = 0 }
		$1 == "PublicKey" && $3 == c { skip = 1 }
		{ block = block $0 "\n" }
		END { if (!skip) printf "%s", block }' >"$TMP/sync.conf"
	printf '\n[Peer]\nPublicKey = %s\nAllowedIPs = 10.200.0.4/32\n' "$PUB_D" >>"$TMP/sync.conf"
	cat "$TMP/sync.conf" | sed 's/^PrivateKey = .*/PrivateKey = (hidden)/'
	sleep 1.1 # a re-handshake would now show a different second
	A wg syncconf "$IF_A" "$TMP/sync.conf"
	check "$LABEL: syncconf removed C and added D" \
		[ "$(A wg show "$IF_A" peers | sort | tr '\n' ' ')" = "$(printf '%s\n' "$PUB_B" "$PUB_D" | sort | tr '\n' ' ')" ]
	check "$LABEL: ping after syncconf" A ping -n -q -c 2 -i 0.2 -W 1 10.200.0.2
	check "$LABEL: B's session survived syncconf (same handshake)" \
		[ "$(latest_handshake A "$IF_A" "$PUB_B")" = "$hs" ]
	teardown_pair
done
finish
