#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# ICMP errors for packets no peer can carry, as the kernel's WireGuard sends them: a packet read
# from the TUN device with no allowed-IPs route, or for a peer with no endpoint, is answered at
# once with host unreachable (IPv4) or address unreachable (ICMPv6), rate-limited, never about an
# ICMP error. wgc alone: the errors never cross the wire.
#
#   ┌────────────────────────── ns C ──────────────────────────┐
#   │ IF_C (wgc) 10.200.0.1/24, fd00:200::1/64                  │
#   │   peer P1: allowed 10.200.0.2/32, endpoint 10.250.0.9:9   │
#   │   peer P2: allowed 10.200.0.3/32, no endpoint             │
#   │   10.200.0.77, fd00:200::77: no peer                      │
#   └───────────────────────────────────────────────────────────┘
. "$(dirname "$0")/lib.sh"
require_env

NS_C=wgcC-$ID
IF_C=wc${ID}i
add_ns "$NS_C"
start_daemon "$NS_C" wgc "$IF_C" || { fail "start wgc"; finish; exit; }
wg genkey >"$TMP/c.key"
PUB_1=$(wg genkey | wg pubkey)
PUB_2=$(wg genkey | wg pubkey)
C wg set "$IF_C" private-key "$TMP/c.key" \
	peer "$PUB_1" endpoint 10.250.0.9:9 allowed-ips 10.200.0.2/32 \
	peer "$PUB_2" allowed-ips 10.200.0.3/32,fd00:200::3/128
C ip addr add 10.200.0.1/24 dev "$IF_C"
C ip addr add fd00:200::1/64 dev "$IF_C" nodad
C ip link set "$IF_C" up
icmp_sent() { counter C "$IF_C" wgc_icmp_sent; }

# Test: ping to an address no peer owns, and to a peer without endpoint
say "wgc: ICMP unreachable for unroutable packets"
out=$(C ping -n -c 1 -W 2 10.200.0.77 2>&1)
echo "$out"
check "ping 10.200.0.77 (no peer): Destination Host Unreachable" \
	grep -q "Destination Host Unreachable" <<<"$out"
out=$(C ping -6 -n -c 1 -W 2 fd00:200::77 2>&1)
echo "$out"
check "ping fd00:200::77 (no peer): Destination unreachable: Address unreachable" \
	grep -qi "Destination unreachable: Address unreachable" <<<"$out"
out=$(C ping -n -c 1 -W 2 10.200.0.3 2>&1)
echo "$out"
check "ping 10.200.0.3 (a peer without endpoint): Destination Host Unreachable" \
	grep -q "Destination Host Unreachable" <<<"$out"
out=$(C ping -6 -n -c 1 -W 2 fd00:200::3 2>&1)
check "ping fd00:200::3 (a peer without endpoint): Address unreachable" \
	grep -qi "Address unreachable" <<<"$out"

# Test: TCP connect fails at once with EHOSTUNREACH instead of timing out
read -r result ms < <(C $TOOLS connect-time 10.200.0.77 80)
echo "connect 10.200.0.77:80: $result after $ms ms"
check "connect() to an unroutable address: EHOSTUNREACH" [ "$result" = EHOSTUNREACH ]
check "... within 100 ms" [ "$ms" -lt 100 ]
read -r result ms < <(C $TOOLS connect-time fd00:200::77 80)
echo "connect [fd00:200::77]:80: $result after $ms ms"
check "connect() over IPv6: EHOSTUNREACH within 100 ms" \
	bash -c "[ $result = EHOSTUNREACH ] && [ $ms -lt 100 ]"

# Test: a peer with an endpoint but no session stages; no ICMP for it
before=$(icmp_sent)
C ping -n -c 1 -W 1 10.200.0.2 >/dev/null 2>&1
check "a peer with an endpoint gets a handshake, not an ICMP error" [ "$(icmp_sent)" = "$before" ]

# Test: never an error about an ICMP error
before=$(icmp_sent)
C $TOOLS icmp-error 10.200.0.77
sleep 0.2
check "an ICMP error to an unroutable address is not answered" [ "$(icmp_sent)" = "$before" ]

# Test: a flood of unroutable packets gets at most the configured rate of errors
sleep 0.1 # the bucket refills (50 at 1000/s)
before=$(icmp_sent)
before_rl=$(counter C "$IF_C" wgc_icmp_rate_limited)
read -r sent secs < <(C $TOOLS udp-burst 10.200.0.77 9 20000)
sleep 0.3
errors=$(( $(icmp_sent) - before ))
limited=$(( $(counter C "$IF_C" wgc_icmp_rate_limited) - before_rl ))
bound=$(python3 -c "print(int(50 + 1000 * ($secs + 0.3)) + 1)")
echo "$sent datagrams in $secs s: $errors ICMP errors, $limited held back (bound $bound)"
check "the flood produced at most burst + 1000/s errors" [ "$errors" -le "$bound" ]
check "... and the rest was held back by the limiter" [ "$limited" -gt 0 ]
check "... never more than one error per packet" [ "$errors" -le "$sent" ]
check "wgc is still running" kill -0 "${DAEMON_PID[$IF_C]}"
check "SIGTERM: exit status 0" stop_daemon "$IF_C"
finish
