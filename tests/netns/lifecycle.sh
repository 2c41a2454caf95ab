#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Things that move or restart: roaming of A to a new IPv4 address, to IPv6, and to a new listen
# port; B restarting and the tunnel recovering. Then wgc on its own: daemon mode, exit on SIGTERM and
# on `ip link del`, fwmark, random listen port, hostname endpoints, idle CPU and memory, usage.
# Pair scenarios run on wgc->wgc, wgc->wireguard-go, wireguard-go->wgc (A initiates).
#
#   ┌──────────── ns A ────────────┐          ┌──────────── ns B ────────────┐
#   │ IF_A  10.200.0.1/24          │  tunnel  │ IF_B  10.200.0.2/24          │
#   │       fd00:200::1/64         │◀════════▶│       fd00:200::2/64         │
#   │ veth0 10.250.0.1/24 → .11    │          │ veth0 10.250.0.2/24          │
#   │       fd00:250::1/64  :51001 ├──────────┤ :51002  fd00:250::2/64       │
#   └──────────────────────────────┘   veth   └──────────────────────────────┘
#   (wgc alone: one namespace C with interface IF_C, no peer reachable)
. "$(dirname "$0")/lib.sh"
require_env
need_wireguard_go

endpoint_is() { [ "$(endpoint_of B "$IF_B" "$PUB_A")" = "$1" ]; }

restart_b() {
	stop_daemon "$IF_B"
	start_daemon "$NS_B" "$IMPL_B" "$IF_B" || return 1
	B wg set "$IF_B" private-key "$TMP/b.key" listen-port $PORT_B peer "$PUB_A" \
		endpoint 10.250.0.1:$PORT_A allowed-ips 10.200.0.1/32,fd00:200::1/128
	B ip addr add 10.200.0.2/24 dev "$IF_B"
	B ip link set "$IF_B" up
}

for pair in "${PAIRS[@]}"; do
	setup_pair $pair || { fail "setup $pair"; continue; }

	# Test: roaming of A to a new underlay address (IPv4), then to IPv6, then to a new port
	say "$LABEL: roaming"
	check "$LABEL: tunnel up" ping_ok A 10.200.0.2 5
	check "$LABEL: B sees A at its first address" endpoint_is 10.250.0.1:$PORT_A
	# (deleting first: removing a primary address also removes its secondaries)
	A ip addr del 10.250.0.1/24 dev veth0
	A ip addr add 10.250.0.11/24 dev veth0
	# wireguard-go keeps sending from the deleted address it remembered ("network is
	# unreachable") until its endpoint is set again; wgc picks the source per packet.
	if [ "$IMPL_A" = wggo ]; then A wg set "$IF_A" peer "$PUB_B" endpoint 10.250.0.2:$PORT_B; fi
	check "$LABEL: A reaches B from its new address" ping_ok A 10.200.0.2 3
	check "$LABEL: B roamed to A's new address" endpoint_is 10.250.0.11:$PORT_A
	check "$LABEL: B reaches A at its new address" B ping -n -q -c 2 -i 0.2 -W 1 10.200.0.1
	A wg set "$IF_A" peer "$PUB_B" endpoint "[fd00:250::2]:$PORT_B"
	check "$LABEL: A reaches B over IPv6" ping_ok A 10.200.0.2 3
	check "$LABEL: B roamed to A's IPv6 address" endpoint_is "[fd00:250::1]:$PORT_A"
	check "$LABEL: B reaches A over IPv6" B ping -n -q -c 2 -i 0.2 -W 1 fd00:200::1
	A wg set "$IF_A" listen-port 51011
	check "$LABEL: A's new listen port is in use" [ "$(A wg show "$IF_A" listen-port)" = 51011 ]
	check "$LABEL: A reaches B from its new port" ping_ok A 10.200.0.2 3
	check "$LABEL: B roamed to A's new port" endpoint_is "[fd00:250::1]:51011"

	# Test: restart of one side and recovery
	say "$LABEL: B restarts"
	A wg set "$IF_A" listen-port $PORT_A peer "$PUB_B" endpoint 10.250.0.2:$PORT_B
	A ip addr del 10.250.0.11/24 dev veth0
	A ip addr add 10.250.0.1/24 dev veth0
	check "$LABEL: tunnel up before the restart" ping_ok A 10.200.0.2 5
	check "$LABEL: B restarted" restart_b
	# A still holds the old session: it notices the silence (keepalive + rekey timeout, ~15 s)
	# and handshakes again on its own.
	check "$LABEL: A recovers the tunnel to the restarted B" ping_ok A 10.200.0.2 30
	check "$LABEL: B reaches A after the restart" B ping -n -q -c 2 -i 0.2 -W 1 10.200.0.1
	teardown_pair
done

# ---- wgc alone ----
SEQ=$((SEQ + 1))
NS_C=wgcC-$ID-$SEQ
IF_C=wc${ID}n$SEQ
add_ns "$NS_C"

# Test: daemon mode, and exit when the interface is deleted
say "wgc: daemon mode and exit on ip link del"
check "wgc --version exits 0" "$WGC" --version
check "wgc without an interface exits 2" bash -c "$WGC >/dev/null 2>&1; [ \$? = 2 ]"
check "wgc with an unknown flag exits 2" bash -c "$WGC --bogus x >/dev/null 2>&1; [ \$? = 2 ]"
check "wgc IFACE returns 0 once the interface is ready" C "$WGC" "$IF_C"
check "the UAPI socket exists when it returns" [ -S "/var/run/wireguard/$IF_C.sock" ]
check "the socket is mode 0600" [ "$(stat -c %a "/var/run/wireguard/$IF_C.sock")" = 600 ]
check "the socket directory is mode 0755" [ "$(stat -c %a /var/run/wireguard)" = 755 ]
check "the interface exists" C ip link show "$IF_C"
pid=$(C bash -c "ps -eo pid,args | awk '\$2 == \"$WGC\" && \$3 == \"$IF_C\" { print \$1 }'")
check "the daemon runs detached" [ -n "$pid" ]
C ip link del "$IF_C"
check "the daemon exits after ip link del" wait_until 5 bash -c "! kill -0 $pid 2>/dev/null"
check "its socket file is removed" [ ! -e "/var/run/wireguard/$IF_C.sock" ]

# Test: removing the socket file stops the daemon (as wireguard-go; some wg-quick versions do so)
say "wgc: exit when the socket file is removed"
check "wgc IFACE starts again" C "$WGC" "$IF_C"
pid=$(C bash -c "ps -eo pid,args | awk '\$2 == \"$WGC\" && \$3 == \"$IF_C\" { print \$1 }'")
rm -f "/var/run/wireguard/$IF_C.sock"
check "the daemon exits after its socket file is removed" \
	wait_until 5 bash -c "[ -n '$pid' ] && ! kill -0 '$pid' 2>/dev/null"
check "and takes its interface with it" \
	wait_until 5 bash -c "! ip netns exec $NS_C ip link show $IF_C >/dev/null 2>&1"

# Test: foreground run, settings, exit 0 on SIGTERM
say "wgc: fwmark, listen port, host-name endpoints, idle cost, SIGTERM"
start_daemon "$NS_C" wgc "$IF_C"
wg genkey >"$TMP/c.key"
C wg set "$IF_C" private-key "$TMP/c.key" fwmark 0x1234 listen-port 0
check "fwmark is set" [ "$(C wg show "$IF_C" fwmark)" = 0x1234 ]
check "the UDP sockets carry the mark" bash -c "ip netns exec $NS_C ss -uane | grep -q 'fwmark:0x1234'"
C wg set "$IF_C" fwmark 0
check "fwmark 0 clears it" [ "$(C wg show "$IF_C" fwmark)" = off ]
port=$(C wg show "$IF_C" listen-port)
check "listen-port 0 picks a random port" [ "$port" -gt 0 ]
# one socket per family and lane (WGC_LANES, docs/SCALING.md)
check "the port is bound for IPv4 and IPv6" \
	bash -c "ip netns exec $NS_C ss -uanH | grep -c ':$port ' | grep -qx $((2 * ${WGC_LANES:-1}))"
C wg set "$IF_C" listen-port 0
check "listen-port 0 again moves to another random port" \
	[ "$(C wg show "$IF_C" listen-port)" != "$port" ]
echo "10.250.9.9 peer-c.test" >>"/etc/netns/$NS_C/hosts"
PUB_X=$(wg genkey | wg pubkey)
KEY_X=$(echo "$PUB_X" | base64 -d | od -An -tx1 | tr -d ' \n')
reply=$(printf 'set=1\npublic_key=%s\nendpoint=peer-c.test:4242\n\n' "$KEY_X" | C $TOOLS uapi "$IF_C")
echo "reply to a host-name endpoint: $reply"
# As wireguard-go: UAPI endpoints are numeric (the wg tool resolves names before it sends), so a
# slow resolver can never stall the event loop.
check "a host-name endpoint in UAPI is refused with EINVAL" [ "$reply" = "errno=-22" ]
check "... and the request changed nothing" bash -c "! ip netns exec $NS_C wg show $IF_C peers | grep -q '$PUB_X'"
C wg set "$IF_C" peer "$PUB_X" endpoint peer-c.test:4242
check "wg resolves a host name itself and sends the address" \
	[ "$(endpoint_of C "$IF_C" "$PUB_X")" = 10.250.9.9:4242 ]
C wg set "$IF_C" peer "$PUB_X" persistent-keepalive 25 allowed-ips 10.201.0.0/16
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/${DAEMON_PID[$IF_C]}/stat"; }
before=$(cpu_ticks)
sleep 3
after=$(cpu_ticks)
echo "CPU ticks while idle for 3 s: $((after - before))"
check "idle CPU is ~0 (at most 2 ticks in 3 s)" [ $((after - before)) -le 2 ]
rss=$(awk '/^VmRSS/ { print $2 }' "/proc/${DAEMON_PID[$IF_C]}/status")
echo "idle RSS: $rss kB"
check "idle RSS is small (< 16 MiB)" [ "$rss" -lt 16384 ]
check "SIGTERM: exit status 0" stop_daemon "$IF_C"
check "SIGTERM: socket file removed" [ ! -e "/var/run/wireguard/$IF_C.sock" ]
check "SIGTERM: interface removed" bash -c "! ip netns exec $NS_C ip link show $IF_C >/dev/null 2>&1"
finish
