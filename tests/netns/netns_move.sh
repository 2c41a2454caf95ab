#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Moving the interface to another network namespace, as containers get a WireGuard interface:
# both daemons (and their UDP sockets) stay in ns0, where they were started; their interfaces are
# moved into ns1 and ns2 with `ip link set ... netns` and configured there. The peers talk through
# ns0's loopback. Pairs: wgc->wgc, wgc->wireguard-go, wireguard-go->wgc (A initiates).
#
#   ┌──── ns1 ─────────────┐     ┌──────────────── ns0 ────────────────┐     ┌──── ns2 ─────────────┐
#   │ IF_A 10.200.0.1/24   │     │ daemon A  udp 127.0.0.1/::1 :51001  │     │ IF_B 10.200.0.2/24   │
#   │      fd00:200::1/64  │◀─fd─┤ daemon B  udp 127.0.0.1/::1 :51002  ├─fd─▶│      fd00:200::2/64  │
#   └──────────────────────┘     │ lo: the underlay                    │     └──────────────────────┘
#                                └─────────────────────────────────────┘
. "$(dirname "$0")/lib.sh"
require_env
need_wireguard_go

N0() { in_ns "$NS0" "$@"; }
N1() { in_ns "$NS1" "$@"; }
N2() { in_ns "$NS2" "$@"; }

SEQ=0
for pair in "${PAIRS[@]}"; do
	read -r IMPL_A IMPL_B <<<"$pair"
	LABEL="$IMPL_A->$IMPL_B (moved)"
	SEQ=$((SEQ + 1))
	NS0=wgm0-$ID-$SEQ NS1=wgm1-$ID-$SEQ NS2=wgm2-$ID-$SEQ
	IF_A=ma${ID}n$SEQ IF_B=mb${ID}n$SEQ
	add_ns "$NS0"
	add_ns "$NS1"
	add_ns "$NS2"
	start_daemon "$NS0" "$IMPL_A" "$IF_A" || { fail "$LABEL: start A"; continue; }
	start_daemon "$NS0" "$IMPL_B" "$IF_B" || { fail "$LABEL: start B"; continue; }
	wg genkey >"$TMP/a.key"
	wg genkey >"$TMP/b.key"
	PUB_A=$(wg pubkey <"$TMP/a.key")
	PUB_B=$(wg pubkey <"$TMP/b.key")
	N0 wg set "$IF_A" private-key "$TMP/a.key" listen-port $PORT_A peer "$PUB_B" \
		endpoint 127.0.0.1:$PORT_B allowed-ips 10.200.0.2/32,fd00:200::2/128
	N0 wg set "$IF_B" private-key "$TMP/b.key" listen-port $PORT_B peer "$PUB_A" \
		endpoint 127.0.0.1:$PORT_A allowed-ips 10.200.0.1/32,fd00:200::1/128

	# Test: the move itself; the daemons stay and keep serving
	say "$LABEL: interfaces moved out of the daemons' namespace"
	N0 ip link set "$IF_A" netns "$NS1"
	N0 ip link set "$IF_B" netns "$NS2"
	sleep 0.5
	check "$LABEL: daemon A still runs after the move" kill -0 "${DAEMON_PID[$IF_A]}"
	check "$LABEL: daemon B still runs after the move" kill -0 "${DAEMON_PID[$IF_B]}"
	check "$LABEL: the UAPI socket still answers (wg show)" \
		bash -c "wg show $IF_A listen-port | grep -qx $PORT_A"
	N1 ip addr add 10.200.0.1/24 dev "$IF_A"
	N1 ip addr add fd00:200::1/64 dev "$IF_A" nodad
	N1 ip link set "$IF_A" up
	N2 ip addr add 10.200.0.2/24 dev "$IF_B"
	N2 ip addr add fd00:200::2/64 dev "$IF_B" nodad
	N2 ip link set "$IF_B" up
	check "$LABEL: ping ns1 -> ns2 over IPv4" ping_ok N1 10.200.0.2 5
	check "$LABEL: ping ns2 -> ns1 over IPv6" ping_ok N2 fd00:200::1 5

	# Test: bulk TCP each way through the moved interfaces
	check "$LABEL: 1 GiB TCP ns1 -> ns2, hashes equal" transfer_ok N1 N2 10.200.0.2 1024
	check "$LABEL: 1 GiB TCP ns2 -> ns1 over IPv6, hashes equal" transfer_ok N2 N1 fd00:200::1 1024

	# Test: MTU changes made in the new namespace are followed
	N1 ip link set "$IF_A" mtu 1500
	N2 ip link set "$IF_B" mtu 1500
	sleep 0.3
	if [ "$IMPL_A" = wgc ]; then
		check "$LABEL: after mtu 1500 in ns1, a 1472-byte DF ping goes through" \
			ping_ok N1 10.200.0.2 3 -M do -s 1444
	else
		# wireguard-go reads a moved interface's MTU from its own namespace (it cannot).
		ping_ok N1 10.200.0.2 3 -M do -s 1444 && echo "(wireguard-go followed the MTU too)" ||
			echo "(wireguard-go did not follow the MTU change of the moved interface)"
	fi
	if [ "$IMPL_B" = wgc ]; then
		check "$LABEL: ... and from ns2 (wgc B follows it too)" ping_ok N2 10.200.0.1 3 -M do -s 1444
	fi
	N1 ip link set "$IF_A" mtu 1380
	sleep 0.3
	check "$LABEL: after mtu 1380 the tunnel still carries a full-size ping" \
		ping_ok N1 10.200.0.2 3 -M do -s 1352

	# Test: roaming between the loopback's IPv4 and IPv6 addresses
	N0 wg set "$IF_A" peer "$PUB_B" endpoint "[::1]:$PORT_B"
	check "$LABEL: A reaches B over the IPv6 loopback" ping_ok N1 10.200.0.2 3
	check "$LABEL: B roamed to A's IPv6 address" \
		[ "$(wg show "$IF_B" endpoints | awk -v k="$PUB_A" '$1 == k { print $2 }')" = "[::1]:$PORT_A" ]

	# Test: deleting the interface inside its new namespace ends its daemon
	N1 ip link del "$IF_A"
	check "$LABEL: deleting the interface in ns1 ends daemon A" forget_daemon "$IF_A"
	check "$LABEL: ... and removes its socket file" wait_until 3 test ! -e "/var/run/wireguard/$IF_A.sock"
	N2 ip link del "$IF_B"
	check "$LABEL: deleting the interface in ns2 ends daemon B" forget_daemon "$IF_B"
	del_ns "$NS1"
	del_ns "$NS2"
	del_ns "$NS0"
done
finish
