#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The daemon facing untrusted input and a hostile local client: verbose logging that senders
# cannot flood, UAPI memory bounded per client and in total (while the largest real configuration
# still fits), and a prompt exit that leaves nothing behind. wgc alone, in one namespace.
#
#   ┌──────────────────── ns C ─────────────────────┐
#   │ IF_C (wgc, LOG_LEVEL=verbose)  UDP :51820      │
#   │ lo 127.0.0.1 ── tools.py: junk datagrams, UAPI │
#   │                 clients that never finish      │
#   └────────────────────────────────────────────────┘
. "$(dirname "$0")/lib.sh"
require_env

NS_C=wgcC-$ID
IF_C=wc${ID}h
add_ns "$NS_C"
start_daemon "$NS_C" wgc "$IF_C" || { fail "start wgc"; finish; exit; }
PID_C=${DAEMON_PID[$IF_C]}
LOG_C=$TMP/$IF_C.log
wg genkey >"$TMP/c.key"
C wg set "$IF_C" private-key "$TMP/c.key" listen-port 51820

# Test: a flood of unauthenticated handshake messages cannot flood the verbose log
say "wgc: verbose log lines about received messages are rate-limited"
before=$(grep -c "Dropped handshake initiation" "$LOG_C")
C $TOOLS junk-initiations 127.0.0.1 51820 5000
sleep 1.2
C $TOOLS junk-initiations 127.0.0.1 51820 10
sleep 0.2
lines=$(( $(grep -c "Dropped handshake initiation" "$LOG_C") - before ))
echo "log lines for 5010 junk initiations: $lines"
check "5010 junk initiations make at most 40 log lines" [ "$lines" -le 40 ]
check "... but some are logged" [ "$lines" -ge 1 ]
check "... and what was held back is said" grep -q "lines about received messages suppressed" "$LOG_C"

# Test: the largest real configuration fits: one peer with 130,000 allowed IPs
say "wgc: one peer with 130,000 allowed IPs"
PUB_X=$(wg genkey | wg pubkey)
KEY_X=$(echo "$PUB_X" | base64 -d | od -An -tx1 | tr -d ' \n')
reply=$(C $TOOLS many-allowed-ips "$IF_C" "$KEY_X" 130000)
check "130,000 allowed IPs in one request: errno=0" [ "$reply" = "errno=0" ]
check "wg show lists them all" \
	[ "$(C wg show "$IF_C" allowed-ips | awk -v k="$PUB_X" '$1 == k { print NF - 1 }')" = 130000 ]

# Test: clients that never finish their request cannot grow the daemon without bound
say "wgc: UAPI memory is bounded in total"
rss_before=$(awk '/^VmRSS/ { print $2 }' "/proc/$PID_C/status")
read -r enomem emsgsize closed peak < <(C $TOOLS uapi-hog "$IF_C" "$PID_C" 4 60)
echo "4 clients x 60 MiB unterminated: $enomem ENOMEM, $emsgsize EMSGSIZE, $closed closed;" \
	"RSS $rss_before KiB before, peak $peak KiB"
check "some clients are refused with errno=-12 (ENOMEM)" [ "$enomem" -ge 1 ]
check "the daemon's RSS stays under 256 MiB" [ "$peak" -lt 262144 ]
check "wgc still answers get" bash -c "ip netns exec $NS_C wg show $IF_C | grep -q 'listening port: 51820'"
rss_after=$(awk '/^VmRSS/ { print $2 }' "/proc/$PID_C/status")
echo "RSS after: $rss_after KiB"
check "the memory is given back (RSS < 64 MiB)" [ "$rss_after" -lt 65536 ]

# Test: SIGTERM ends the daemon promptly and leaves nothing behind
say "wgc: prompt exit on SIGTERM"
t0=$(date +%s%N)
check "SIGTERM: exit status 0" stop_daemon "$IF_C"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "exit took $ms ms"
check "SIGTERM: the daemon is gone within 1 s" [ "$ms" -lt 1000 ]
check "SIGTERM: socket file removed" [ ! -e "/var/run/wireguard/$IF_C.sock" ]
finish
