#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Where a tunnel daemon's time goes: two daemons in two network namespaces joined by veth (as
# bench/tunnel.sh), one iperf3 TCP flow through them for DURATION seconds, `perf record` of each
# daemon's threads (cpu-clock: this machine's perf has no hardware counters), then each daemon's
# samples summed by what they are doing:
#
#   aead      ChaCha20-Poly1305 (libsodium, OpenSSL, the portable backend)
#   copy      copies between user and kernel (copy_user_*, *copy_to/from_iter*) and memcpy/memmove
#   csum      checksums (csum_*, the daemon's own L4 checksums)
#   syscall   the rest of the kernel: syscalls, the network stack, softirq, scheduling
#   wgc       the daemon's own code (wgc, or wireguard-go's Go code and runtime)
#   other     libc and anything else
#
# Usage: bench/profile.sh [IMPL]   IMPL = wgc (default) or a wireguard-go binary's path.
# Environment: DURATION (s, default 8), OFFLOADS=on|off (veth offloads, default on), REVERSE=1
# (iperf3 -R), TOP=N (also list the N hottest symbols per daemon), OUT=DIR (keep perf.data there).
# Needs root, ip, wg, iperf3, ethtool, perf. Figures, not asserts.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
IMPL=${1:-wgc}
DURATION=${DURATION:-8}
OFFLOADS=${OFFLOADS:-on}
REVERSE=${REVERSE:-0}
TOP=${TOP:-0}
BIN=$ROOT/build/wgc
[ "$IMPL" = wgc ] || BIN=$IMPL
[ -x "$BIN" ] || { echo "profile.sh: $BIN is not an executable (make all first)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "profile.sh: must run as root (network namespaces)" >&2; exit 1; }
for c in ip wg iperf3 ethtool perf; do
	command -v "$c" >/dev/null || { echo "profile.sh: $c not found" >&2; exit 1; }
done

NSA=wgpA-$$; NSB=wgpB-$$; VA=wpvA$$; VB=wpvB$$; WA=wptA$$; WB=wptB$$
UA=10.215.0.1; UB=10.215.0.2; TA=10.216.0.1; TB=10.216.0.2; PORT=51820
TMP=$(mktemp -d /tmp/wgc-profile.XXXXXX)
OUT=${OUT:-$TMP}
PIDS=
cleanup() {
	local p
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	for p in $(ip netns pids "$NSA" 2>/dev/null) $(ip netns pids "$NSB" 2>/dev/null); do
		kill "$p" 2>/dev/null
	done
	sleep 0.3
	ip netns del "$NSA" 2>/dev/null; ip netns del "$NSB" 2>/dev/null
	rm -f "/var/run/wireguard/$WA.sock" "/var/run/wireguard/$WB.sock"
	[ "$OUT" = "$TMP" ] && rm -rf "$TMP"
}
trap cleanup EXIT
fail() { echo "profile.sh: $*" >&2; exit 1; }

ip netns add "$NSA" && ip netns add "$NSB" || fail "netns"
ip link add "$VA" netns "$NSA" type veth peer name "$VB" netns "$NSB" || fail "veth"
ip -n "$NSA" addr add $UA/24 dev "$VA"; ip -n "$NSB" addr add $UB/24 dev "$VB"
for n in "$NSA:$VA" "$NSB:$VB"; do
	ip -n "${n%%:*}" link set lo up; ip -n "${n%%:*}" link set "${n#*:}" up
	[ "$OFFLOADS" = off ] && ip netns exec "${n%%:*}" ethtool -K "${n#*:}" gro off gso off tso off
done
ip netns exec "$NSA" "$BIN" -f "$WA" >"$TMP/A.log" 2>&1 & PA=$!
ip netns exec "$NSB" "$BIN" -f "$WB" >"$TMP/B.log" 2>&1 & PB=$!
PIDS="$PA $PB"
for _ in $(seq 50); do
	[ -S "/var/run/wireguard/$WA.sock" ] && [ -S "/var/run/wireguard/$WB.sock" ] && break
	sleep 0.1
done
umask 077
wg genkey >"$TMP/ka"; wg genkey >"$TMP/kb"
ka=$(wg pubkey <"$TMP/ka"); kb=$(wg pubkey <"$TMP/kb")
ip netns exec "$NSA" wg set "$WA" private-key "$TMP/ka" listen-port $PORT \
	peer "$kb" endpoint $UB:$PORT allowed-ips $TB/32 || fail "wg set A"
ip netns exec "$NSB" wg set "$WB" private-key "$TMP/kb" listen-port $PORT \
	peer "$ka" endpoint $UA:$PORT allowed-ips $TA/32 || fail "wg set B"
for n in "$NSA:$WA:$TA" "$NSB:$WB:$TB"; do
	IFS=: read -r ns dev addr <<<"$n"
	ip -n "$ns" link set "$dev" mtu 1420; ip -n "$ns" addr add "$addr/24" dev "$dev"
	ip -n "$ns" link set "$dev" up
done
ip netns exec "$NSA" ping -c 3 -i 0.3 -W 1 -q $TB >/dev/null || fail "no ping through the tunnel"
ip netns exec "$NSB" iperf3 -s -1 -p 5201 >/dev/null 2>&1 & PIDS="$PIDS $!"
sleep 0.5
rflag=; [ "$REVERSE" = 1 ] && rflag=-R
ip netns exec "$NSA" iperf3 -c $TB -p 5201 -t $((DURATION + 2)) $rflag -J >"$TMP/iperf.json" 2>/dev/null &
IPERF=$!
sleep 1  # past slow start
perf record -q -e cpu-clock -F 2000 ${CALLGRAPH:--g} -p "$PA" -o "$OUT/A.data" -- sleep "$DURATION" >/dev/null 2>&1 &
RA=$!
perf record -q -e cpu-clock -F 2000 ${CALLGRAPH:--g} -p "$PB" -o "$OUT/B.data" -- sleep "$DURATION" >/dev/null 2>&1 &
RB=$!
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
CA0=$(cpu_ticks "$PA"); CB0=$(cpu_ticks "$PB"); ALL0=$(awk '/^cpu / {print $2+$3+$4+$7+$8}' /proc/stat)
wait $RA $RB
CA1=$(cpu_ticks "$PA"); CB1=$(cpu_ticks "$PB"); ALL1=$(awk '/^cpu / {print $2+$3+$4+$7+$8}' /proc/stat)
wait $IPERF
gbit=$(python3 -c 'import json,sys; print("%.2f" % (json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"]/1e9))' \
	"$TMP/iperf.json" 2>/dev/null || echo "?")

summarize() {  # summarize DATA: a line of category shares
	perf report -i "$1" --no-children --sort dso,sym --stdio -q -g none 2>/dev/null | awk '
		$1 ~ /%$/ {
			p = $1; sub(/%/, "", p); dso = $2; sym = $0; sub(/^ *[0-9.]+% +[^ ]+ +\[[^]]*\] +/, "", sym)
			if (dso ~ /libcrypto|libsodium/ || sym ~ /chacha|poly1305|ChaCha|Poly1305|_seal$|_open$/) c = "aead"
			else if (sym ~ /copy_user|copy_to_iter|copy_from_iter|memcpy|memmove|rep_movs/) c = "copy"
			else if (sym ~ /csum|checksum|sum_partial/) c = "csum"
			else if (dso ~ /kernel/) c = "syscall"
			else if (dso ~ /^(wgc|wireguard|wggo)/ || dso == BIN) c = "wgc"
			else c = "other"
			s[c] += p; t += p
		}
		END {
			n = split("aead copy csum syscall wgc other", o, " ")
			for (i = 1; i <= n; i++) printf "%s %4.1f%%  ", o[i], (t ? 100 * s[o[i]] / t : 0)
			printf "\n"
		}' BIN="$(basename "$BIN")"
}
hz=$(getconf CLK_TCK)
echo "profile: $IMPL, TCP 1 flow${rflag:+ reverse}, offloads $OFFLOADS, ${DURATION}s: $gbit Gbit/s;" \
	"CPU % of one core: A $(((CA1 - CA0) * 100 / hz / DURATION)), B $(((CB1 - CB0) * 100 / hz / DURATION))," \
	"machine busy $(((ALL1 - ALL0) * 100 / hz / DURATION)) of $(($(nproc) * 100))"
for side in A B; do
	role=receiver
	{ [ $side = A ] && [ "$REVERSE" != 1 ]; } || { [ $side = B ] && [ "$REVERSE" = 1 ]; } && role=sender
	printf '  %s (%s): %s\n' "$side" "$role" "$(summarize "$OUT/$side.data")"
	if [ "$TOP" -gt 0 ]; then
		perf report -i "$OUT/$side.data" --no-children --sort dso,sym --stdio -q -g none 2>/dev/null |
			grep '%' | head -n "$TOP" | sed 's/^/      /'
	fi
done
