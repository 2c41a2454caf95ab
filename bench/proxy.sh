#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make bench-proxy: wgc-proxy's figures in one run (root; figures, not asserts), against the wgc
# daemon's TUN path measured side by side: both topologies are up at once and every run measures
# the TUN path and then the proxy, RUNS times (default 3); the table shows medians and the ratio
# of the medians.
#
#   TUN path:  ns B (iperf3 -c, curl) -- wgc <-> wgc -- ns A (iperf3 -s, http.server)
#   proxy:     ns P (iperf3 -c, curl, wgc-proxy as nobody) -- wgc daemon -- ns S (servers)
#
# Goodput of 1 and 8 TCP flows (iperf3, DURATION s) through a forwarded port (TCPClientTunnel)
# up and down; curl of one MB MiB file, and of 8 files of MB/8 MiB at once, through SOCKS5
# against the same curls over the TUN path; the UDP datagram rate (iperf3 -u, 1200-byte
# datagrams, as fast as it goes) through a UDPClientTunnel; the SOCKS5 connection setup rate
# (4 clients, one echoed byte per connection); the proxy's RSS idle, its peak with 500 SOCKS5
# connections open, and after the transfers.
. "$(dirname "$0")/../tests/netns/lib.sh"
require_env

PROXY=${WGC_PROXY:-$ROOT/build/wgc-proxy}
PTOOLS="python3 $ROOT/tests/netns/proxy_tools.py"
MB=${MB:-200}
RUNS=${RUNS:-3}
DURATION=${DURATION:-5}
[ -x "$PROXY" ] || skip_all "$PROXY is not built (make proxy)"
command -v iperf3 >/dev/null || skip_all "needs iperf3"

chmod 711 "$TMP"
mkdir -p "$TMP/www"
head -c $((MB << 20)) /dev/zero >"$TMP/www/blob"
head -c $((MB << 17)) /dev/zero >"$TMP/www/blob8"

rss_kib() { awk "/^$2/ { print \$2 }" "/proc/$1/status"; }
# median V...: the middle value (the lower middle of an even count).
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
ratio() { echo "scale=2; $1 / $2" | bc -l; }

# iperf_gbps NS ADDR PORT [ARGS]: one iperf3 run from NS; prints the receiver's Gbit/s.
iperf_gbps() {
	local ns=$1 addr=$2 port=$3
	shift 3
	ip netns exec "$ns" iperf3 -c "$addr" -p "$port" -t "$DURATION" -J "$@" |
		python3 -c 'import json,sys; print("%.3f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e9))'
}
# curl_gbps NS N CURL_ARGS... URL: N curls at once in NS (of blob, or of blob8 when N > 1);
# prints the total Gbit/s.
curl_gbps() {
	local ns=$1 n=$2 t0 t1 pids="" i file=blob size=$MB
	shift 2
	[ "$n" -gt 1 ] && file=blob8 && size=$((MB * n / 8))
	t0=$(date +%s.%N)
	for i in $(seq "$n"); do
		ip netns exec "$ns" curl -s "$@/$file" -o /dev/null &
		pids="$pids $!"
	done
	wait $pids
	t1=$(date +%s.%N)
	echo "scale=3; $size * 8 * 1.048576 / 1000 / ($t1 - $t0)" | bc -l
}
# udp_kpps NS ADDR PORT: iperf3 -u as fast as it goes; prints thousands of datagrams per second
# that arrived.
udp_kpps() {
	ip netns exec "$1" iperf3 -u -c "$2" -p "$3" -b 0 -l 1200 -t "$DURATION" -J |
		python3 -c 'import json,sys; s = json.load(sys.stdin)["end"]["sum"]; print("%.1f" % ((s["packets"] - s["lost_packets"]) / s["seconds"] / 1e3))'
}

# ---- the TUN path: wgc <-> wgc ----
setup_pair wgc wgc
TUN_S=$NS_A
TUN_C=$NS_B
ping_ok B 10.200.0.1 10 >/dev/null
ip netns exec "$TUN_S" iperf3 -s -p 9000 >/dev/null 2>&1 &
PIDS="$!"
ip netns exec "$TUN_S" iperf3 -s -p 5201 >/dev/null 2>&1 &
PIDS="$PIDS $!"
ip netns exec "$TUN_S" python3 -m http.server --bind 10.200.0.1 --directory "$TMP/www" 8000 \
	>/dev/null 2>&1 &
PIDS="$PIDS $!"

# ---- the proxy path: the wgc daemon in S, wgc-proxy as nobody in P ----
SEQ=$((SEQ + 1))
NS_S=wgcS-$ID-$SEQ
NS_P=wgcP-$ID-$SEQ
IF_S=ws${ID}n$SEQ
add_ns "$NS_S"
add_ns "$NS_P"
S() { in_ns "$NS_S" "$@"; }
P() { in_ns "$NS_P" "$@"; }
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
[TCPClientTunnel]
BindAddress = 127.0.0.1:5201
Target = 10.200.0.1:5201
[UDPClientTunnel]
BindAddress = 127.0.0.1:5201
Target = 10.200.0.1:5201
EOF
chown nobody:nogroup "$TMP/proxy.conf"
for port in 9000 5201; do
	ip netns exec "$NS_S" iperf3 -s -p $port >/dev/null 2>&1 &
	PIDS="$PIDS $!"
done
ip netns exec "$NS_S" python3 -m http.server --bind 10.200.0.1 --directory "$TMP/www" 8000 \
	>/dev/null 2>&1 &
PIDS="$PIDS $!"
ip netns exec "$NS_S" $PTOOLS tcp-echo-server 10.200.0.1 9400 >/dev/null 2>&1 &
PIDS="$PIDS $!"
ip netns exec "$NS_P" setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all \
	"$PROXY" -c "$TMP/proxy.conf" >"$TMP/proxy.log" 2>&1 &
PROXY_PID=$!
wait_until 10 P curl -s --max-time 2 --socks5 127.0.0.1:1080 -o /dev/null http://10.200.0.1:8000/
sleep 1
rss_idle=$(rss_kib "$PROXY_PID" VmRSS)
say "500 SOCKS5 connections at once"
P $PTOOLS socks-many 127.0.0.1 1080 10.200.0.1 9400 500
rss_500=$(rss_kib "$PROXY_PID" VmHWM)

declare -A R=()
# add KEY VALUE: appends a run's figure.
add() { R[$1]="${R[$1]:-} $2"; }
for run in $(seq "$RUNS"); do
	say "run $run of $RUNS: one flow, then 8, TUN path and proxy in turn"
	add tun_up "$(iperf_gbps "$TUN_C" 10.200.0.1 9000)"
	add px_up "$(iperf_gbps "$NS_P" 127.0.0.1 2222)"
	add tun_down "$(iperf_gbps "$TUN_C" 10.200.0.1 9000 -R)"
	add px_down "$(iperf_gbps "$NS_P" 127.0.0.1 2222 -R)"
	add tun_up8 "$(iperf_gbps "$TUN_C" 10.200.0.1 9000 -P 8)"
	add px_up8 "$(iperf_gbps "$NS_P" 127.0.0.1 2222 -P 8)"
	add tun_down8 "$(iperf_gbps "$TUN_C" 10.200.0.1 9000 -P 8 -R)"
	add px_down8 "$(iperf_gbps "$NS_P" 127.0.0.1 2222 -P 8 -R)"
	add tun_curl "$(curl_gbps "$TUN_C" 1 http://10.200.0.1:8000)"
	add px_socks "$(curl_gbps "$NS_P" 1 --socks5 127.0.0.1:1080 http://10.200.0.1:8000)"
	add tun_curl8 "$(curl_gbps "$TUN_C" 8 http://10.200.0.1:8000)"
	add px_socks8 "$(curl_gbps "$NS_P" 8 --socks5 127.0.0.1:1080 http://10.200.0.1:8000)"
done
say "UDP datagram rate, connection setup rate"
tun_udp=$(udp_kpps "$TUN_C" 10.200.0.1 5201)
px_udp=$(udp_kpps "$NS_P" 127.0.0.1 5201)
setup=$(P $PTOOLS socks-rate 127.0.0.1 1080 10.200.0.1 9400 5 4)
rss_after=$(rss_kib "$PROXY_PID" VmRSS)
kill $PIDS "$PROXY_PID" 2>/dev/null
wait $PIDS "$PROXY_PID" 2>/dev/null

row() { # row LABEL TUN_KEY PROXY_KEY
	local t p
	t=$(median ${R[$2]})
	p=$(median ${R[$3]})
	printf "| %s | %s | %s | %s | %s |\n" "$1" "$t" "$p" "$(ratio "$p" "$t")" "${R[$3]# }"
}
echo
echo "wgc-proxy against the wgc TUN path, medians of $RUNS runs side by side ($(date -u +%F))"
echo
echo "| transfer | TUN Gbit/s | proxy Gbit/s | ratio | proxy runs |"
echo "|---|---:|---:|---:|---|"
row "1 flow up, iperf3 via TCPClientTunnel" tun_up px_up
row "1 flow down (-R), via TCPClientTunnel" tun_down px_down
row "8 flows up (-P 8), via TCPClientTunnel" tun_up8 px_up8
row "8 flows down (-P 8 -R), via TCPClientTunnel" tun_down8 px_down8
row "curl of $MB MiB, via SOCKS5" tun_curl px_socks
row "8 curls of $((MB / 8)) MiB at once, via SOCKS5" tun_curl8 px_socks8
echo
echo "UDP, 1200-byte datagrams delivered: TUN ${tun_udp} k/s, proxy UDPClientTunnel ${px_udp} k/s"
echo "SOCKS5 connection setup (4 clients, one echoed byte each): ${setup% *} per second (${setup#* } failed)"
echo "proxy RSS: idle $rss_idle KiB, peak with 500 connections $rss_500 KiB, after the transfers $rss_after KiB"
finish
