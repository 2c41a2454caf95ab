#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make bench-proxy: wgc-proxy's figures in one run (root; figures, not asserts). TCP goodput of
# one iperf3 flow through a forwarded port (TCPClientTunnel) up and down, and of curl through
# SOCKS5,
# against the same transfer through the wgc daemon's TUN path (wgc <-> wgc); 8 SOCKS5 flows at
# once; RSS of the proxy idle and after the transfers. Topology as tests/netns/proxy.sh: the
# proxy (as nobody) in ns P, the wgc daemon with the servers in ns S, joined by a veth.
. "$(dirname "$0")/../tests/netns/lib.sh"
require_env

PROXY=${WGC_PROXY:-$ROOT/build/wgc-proxy}
PTOOLS="python3 $ROOT/tests/netns/proxy_tools.py"
MB=${MB:-200}
[ -x "$PROXY" ] || skip_all "$PROXY is not built (make proxy)"

chmod 711 "$TMP"
S() { in_ns "$NS_S" "$@"; }
P() { in_ns "$NS_P" "$@"; }

# seconds_of CMD...: runs CMD, prints its wall time in seconds.
seconds_of() {
	local t0 t1
	t0=$(date +%s.%N)
	"$@" >/dev/null
	t1=$(date +%s.%N)
	echo "$t1 - $t0" | bc -l
}
rate() { echo "scale=3; $MB * 8 * 1.048576 / 1000 / $1" | bc -l; } # Gbit/s
rss_kib() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }

# iperf_gbps ADDR PORT [-R]: one 5 s iperf3 flow from ns P to the server in ns S (port 9000).
iperf_gbps() {
	P iperf3 -c "$1" -p "$2" -t "${DURATION:-5}" -J ${3:-} |
		python3 -c 'import json,sys; print("%.3f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e9))'
}
start_iperf() {
	ip netns exec "$NS_S" iperf3 -s -p 9000 >/dev/null 2>&1 &
	IPERF_PID=$!
	sleep 0.5
}

# ---- the TUN path: wgc <-> wgc (A plays S, B plays P) ----
setup_pair wgc wgc
NS_S=$NS_A
NS_P=$NS_B
ping_ok B 10.200.0.1 10 >/dev/null
say "TUN path (wgc daemon <-> wgc daemon), $MB MiB, one flow"
start_iperf
tun_up=$(iperf_gbps 10.200.0.1 9000)
tun_down=$(iperf_gbps 10.200.0.1 9000 -R)
kill "$IPERF_PID"
teardown_pair

# ---- the proxy path ----
SEQ=$((SEQ + 1))
NS_S=wgcS-$ID-$SEQ
NS_P=wgcP-$ID-$SEQ
IF_S=ws${ID}n$SEQ
add_ns "$NS_S"
add_ns "$NS_P"
ip link add veth0 netns "$NS_S" type veth peer name veth0 netns "$NS_P"
S ip addr add 10.250.0.1/24 dev veth0
S ip link set veth0 up
P ip addr add 10.250.0.2/24 dev veth0
P ip link set veth0 up
start_daemon "$NS_S" wgc "$IF_S"
wg genkey >"$TMP/s.key"
wg genkey >"$TMP/p.key"
S wg set "$IF_S" private-key "$TMP/s.key" listen-port 51001 peer "$(wg pubkey <"$TMP/p.key")" \
	allowed-ips 10.200.0.2/32
S ip addr add 10.200.0.1/24 dev "$IF_S"
S ip link set "$IF_S" up
mkdir -p "$TMP/www"
head -c $((MB << 20)) /dev/zero >"$TMP/www/blob"
cat >"$TMP/proxy.conf" <<EOF
[Interface]
PrivateKey = $(cat "$TMP/p.key")
Address = 10.200.0.2/32
[Peer]
PublicKey = $(wg pubkey <"$TMP/s.key")
Endpoint = 10.250.0.1:51001
AllowedIPs = 10.200.0.0/24
PersistentKeepalive = 25
[Socks5]
BindAddress = 127.0.0.1:1080
[TCPClientTunnel]
BindAddress = 127.0.0.1:2222
Target = 10.200.0.1:9000
EOF
chown nobody:nogroup "$TMP/proxy.conf"
ip netns exec "$NS_S" python3 -m http.server --bind 10.200.0.1 --directory "$TMP/www" 8000 \
	>/dev/null 2>&1 &
HTTP_PID=$!
ip netns exec "$NS_P" setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all \
	"$PROXY" -c "$TMP/proxy.conf" >"$TMP/proxy.log" 2>&1 &
PROXY_PID=$!
wait_until 10 P curl -s --max-time 2 --socks5 127.0.0.1:1080 -o /dev/null http://10.200.0.1:8000/
sleep 1
rss_idle=$(rss_kib "$PROXY_PID")
say "wgc-proxy, $MB MiB, one flow"
start_iperf
px_up=$(iperf_gbps 127.0.0.1 2222)
px_down=$(iperf_gbps 127.0.0.1 2222 -R)
kill "$IPERF_PID"
socks=$(seconds_of P curl -s --socks5 127.0.0.1:1080 -o /dev/null http://10.200.0.1:8000/blob)
t0=$(date +%s.%N)
for i in 1 2 3 4 5 6 7 8; do
	ip netns exec "$NS_P" curl -s --socks5 127.0.0.1:1080 -o /dev/null \
		http://10.200.0.1:8000/blob &
	pids="${pids:-} $!"
done
wait $pids
socks8=$(echo "$(date +%s.%N) - $t0" | bc -l)
rss_after=$(rss_kib "$PROXY_PID")
kill "$HTTP_PID" "$PROXY_PID"
wait "$HTTP_PID" "$PROXY_PID" 2>/dev/null

echo
echo "| path | Gbit/s | ratio to TUN |"
echo "|---|---:|---:|"
printf "| TUN wgc<->wgc, iperf3 up | %s | 1 |\n" "$tun_up"
printf "| TUN wgc<->wgc, iperf3 down (-R) | %s | 1 |\n" "$tun_down"
printf "| proxy TCPClientTunnel, iperf3 up | %s | %.2f |\n" "$px_up" \
	"$(echo "$px_up / $tun_up" | bc -l)"
printf "| proxy TCPClientTunnel, iperf3 down (-R) | %s | %.2f |\n" "$px_down" \
	"$(echo "$px_down / $tun_down" | bc -l)"
printf "| proxy SOCKS5, curl of $MB MiB, down | %s | %.2f |\n" "$(rate "$socks")" \
	"$(echo "$(rate "$socks") / $tun_down" | bc -l)"
printf "| proxy SOCKS5, 8 flows, down (total) | %s | |\n" "$(echo "scale=3; 8 * $(rate "$socks8")" | bc -l)"
echo
echo "proxy RSS: idle $rss_idle KiB, after the transfers $rss_after KiB"
finish
