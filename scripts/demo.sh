#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make demo: two network namespaces joined by a veth, a wgc daemon in each, configured with wg.
# Shows `wg show` on both sides, pings through the tunnel and runs a short iperf3, then cleans up.
# Needs root (namespaces, TUN). Traffic stays inside the two namespaces.
#
#   ┌──────── ns wgc-demo-a ────────┐         ┌──────── ns wgc-demo-b ────────┐
#   │ wgdemoa  10.77.0.1/24  (wgc)  │◀═══════▶│ wgdemob  10.77.0.2/24  (wgc)  │
#   │ veth0    10.76.0.1/24  :51820 ├─────────┤ :51820  10.76.0.2/24  veth0   │
#   └───────────────────────────────┘  veth   └───────────────────────────────┘
set -euo pipefail
cd "$(dirname "$0")/.."
WGC=${WGC:-$PWD/build/wgc} # WGC=/usr/sbin/wgc: the installed one (scripts/check-deb.sh)
NA=wgc-demo-a-$$
NB=wgc-demo-b-$$
TMP=$(mktemp -d)

if [ "$(id -u)" -ne 0 ]; then
	echo "demo: needs root (network namespaces and /dev/net/tun)" >&2
	exit 1
fi

cleanup() {
	ip -n "$NA" link del wgdemoa 2>/dev/null || true
	ip -n "$NB" link del wgdemob 2>/dev/null || true
	ip netns del "$NA" 2>/dev/null || true
	ip netns del "$NB" 2>/dev/null || true
	rm -rf "$TMP"
}
trap cleanup EXIT

run() {
	echo "\$ $*"
	"$@"
}
A() { echo "[a] \$ $*"; ip netns exec "$NA" "$@"; }
B() { echo "[b] \$ $*"; ip netns exec "$NB" "$@"; }

echo "== two namespaces joined by a veth"
run ip netns add "$NA"
run ip netns add "$NB"
run ip link add veth0 netns "$NA" type veth peer name veth0 netns "$NB"
A ip addr add 10.76.0.1/24 dev veth0
B ip addr add 10.76.0.2/24 dev veth0
A ip link set veth0 up
B ip link set veth0 up
A ip link set lo up
B ip link set lo up

echo
echo "== a wgc daemon in each ($WGC, $("$WGC" --version | head -1))"
A "$WGC" wgdemoa
B "$WGC" wgdemob
umask 077
wg genkey >"$TMP/a.key"
wg genkey >"$TMP/b.key"
A wg set wgdemoa private-key "$TMP/a.key" listen-port 51820 \
	peer "$(wg pubkey <"$TMP/b.key")" endpoint 10.76.0.2:51820 allowed-ips 10.77.0.2/32
B wg set wgdemob private-key "$TMP/b.key" listen-port 51820 \
	peer "$(wg pubkey <"$TMP/a.key")" endpoint 10.76.0.1:51820 allowed-ips 10.77.0.1/32
A ip addr add 10.77.0.1/24 dev wgdemoa
B ip addr add 10.77.0.2/24 dev wgdemob
A ip link set wgdemoa up
B ip link set wgdemob up

echo
echo "== ping through the tunnel (the first packet starts the handshake)"
A ping -c 3 -i 0.3 10.77.0.2

echo
echo "== wg show"
A wg show wgdemoa
echo
B wg show wgdemob

echo
echo "== iperf3, 3 seconds, a -> b"
B iperf3 -s -1 -D -B 10.77.0.2 >/dev/null
sleep 0.5
A iperf3 -c 10.77.0.2 -t 3 -f m | tail -n 4

echo
echo "== done; cleaning up"
