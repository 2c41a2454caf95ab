#!/usr/bin/env bash
# Handshake-flood benchmark: how a daemon holds up while someone floods it with initiations.
#
#   netns A (iperf3 -c, daemon)  ----veth----+
#   netns L (legit peer, daemon) ----veth----+---- netns B (iperf3 -s, daemon under test)
#   netns C (wgc-flood, 64 src)  ----veth----+
#
# The same implementation X (wgc, or wireguard-go) runs in A, L and B, configured with `wg`
# only. The attacker in C (build/tools/wgc-flood) sends initiations to B's UDP port from SOURCES
# local addresses: with a valid mac1 (it knows B's public key) or a wrong one, at each RATES
# step (per second; "max" = as fast as it can on this machine, sharing its cores). Per step:
#   - TCP goodput A -> B through the tunnel (iperf3, DURATION s), as a share of the no-flood run;
#   - a legitimate new handshake: L forgets its session (peer removed and re-added) and pings B;
#     the time to the first reply (up to 15 s; "—" if none);
#   - what came back to the flood sources, by type: cookie replies, and anything else (must be 0);
#   - B's peak RSS growth (VmHWM now minus VmRSS before the first flood step).
# Implementations are interleaved per run (wgc, wireguard-go, wgc, ...); figures are medians over
# RUNS. Environment: RUNS (1), DURATION (5), RATES ("1000 5000 20000 100000 max"), MODES
# ("valid bad"), SOURCES (64), WGC (build/wgc), WGGO (wireguard-go on PATH), IMPLS ("wgc
# wireguard-go"), RESULTS_DIR (bench/results). Output: the table on stdout and in
# RESULTS_DIR/YYYY-MM-DD-HHMM-flood.md. Needs root, ip, wg, iperf3, jq, ping.

set -u
export LC_ALL=C

ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-1}
DURATION=${DURATION:-5}
RATES=${RATES:-"1000 5000 20000 100000 max"}
MODES=${MODES:-"valid bad"}
SOURCES=${SOURCES:-64}
WGC=${WGC:-$ROOT/build/wgc}
WGGO=${WGGO:-$(command -v wireguard-go || echo /usr/bin/wireguard-go)}
IMPLS=${IMPLS:-"wgc wireguard-go"}
FLOOD=${FLOOD:-$ROOT/build/tools/wgc-flood}
RESULTS_DIR=${RESULTS_DIR:-$ROOT/bench/results}
HS_MAX=15

ID=$$
NSA=wgfA-$ID NSB=wgfB-$ID NSC=wgfC-$ID NSL=wgfL-$ID
WA=wfa$ID WB=wfb$ID WL=wfl$ID
PORT=51820
TA=10.232.0.1 TB=10.232.0.2 TL=10.232.0.3
SOCKDIR=/var/run/wireguard
TMP=$(mktemp -d /tmp/wgc-flood.XXXXXX)
DATA=$TMP/data
T0=$(date +%s)
PIDS=()
SRV=

log() { printf '[%4ds] %s\n' $(($(date +%s) - T0)) "$*" >&2; }
running() { [ -e "/proc/$1" ] && ! grep -q '^[0-9]* (.*) Z' "/proc/$1/stat" 2>/dev/null; }
kill_pid() {
	local p=$1 i
	running "$p" || { wait "$p" 2>/dev/null; return 0; }
	kill -TERM "$p" 2>/dev/null
	for i in $(seq 30); do running "$p" || break; sleep 0.1; done
	running "$p" && kill -KILL "$p" 2>/dev/null
	wait "$p" 2>/dev/null
	return 0
}
cleanup() {
	local p ns
	for p in "${PIDS[@]}" $SRV; do kill_pid "$p"; done
	for ns in $NSA $NSB $NSC $NSL; do
		for p in $(ip netns pids "$ns" 2>/dev/null); do kill_pid "$p"; done
		ip netns del "$ns" 2>/dev/null
	done
	rm -f "$SOCKDIR/$WA.sock" "$SOCKDIR/$WB.sock" "$SOCKDIR/$WL.sock"
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

[ "$(id -u)" = 0 ] || { echo "flood.sh: must run as root" >&2; exit 1; }
for c in ip wg iperf3 jq ping timeout; do
	command -v $c >/dev/null || { echo "flood.sh: $c not found" >&2; exit 1; }
done
[ -x "$FLOOD" ] || { echo "flood.sh: $FLOOD missing (make tools)" >&2; exit 1; }
bin_of() { if [ "$1" = wgc ]; then echo "$WGC"; else echo "$WGGO"; fi; }
for impl in $IMPLS; do
	[ -x "$(bin_of $impl)" ] || { echo "flood.sh: $impl binary $(bin_of $impl) missing" >&2; exit 1; }
done

in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

setup_net() {
	local ns
	for ns in $NSA $NSB $NSC $NSL; do ip netns add $ns && ip -n $ns link set lo up || return 1; done
	ip link add fa$ID netns $NSA type veth peer name fba$ID netns $NSB || return 1
	ip link add fl$ID netns $NSL type veth peer name fbl$ID netns $NSB || return 1
	ip link add fc$ID netns $NSC type veth peer name fbc$ID netns $NSB || return 1
	ip -n $NSA addr add 10.231.1.1/24 dev fa$ID && ip -n $NSB addr add 10.231.1.2/24 dev fba$ID &&
		ip -n $NSL addr add 10.231.3.1/24 dev fl$ID && ip -n $NSB addr add 10.231.3.2/24 dev fbl$ID &&
		ip -n $NSB addr add 10.231.2.2/24 dev fbc$ID || return 1
	local i
	for i in $(seq 0 $((SOURCES - 1))); do
		ip -n $NSC addr add 10.231.2.$((10 + i))/24 dev fc$ID || return 1
	done
	for l in "$NSA fa$ID" "$NSB fba$ID" "$NSL fl$ID" "$NSB fbl$ID" "$NSC fc$ID" "$NSB fbc$ID"; do
		set -- $l
		ip -n $1 link set $2 up || return 1
	done
	for i in $(seq 30); do
		in_ns $NSC ping -c 1 -W 1 -q 10.231.2.2 >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# start_daemon IMPL NS IFACE: PID in DAEMON_PID
start_daemon() {
	local i
	rm -f "$SOCKDIR/$3.sock"
	ip netns exec $2 "$(bin_of $1)" -f $3 >"$TMP/$1-$3.log" 2>&1 &
	DAEMON_PID=$!
	PIDS+=($DAEMON_PID)
	for i in $(seq 50); do [ -S "$SOCKDIR/$3.sock" ] && return 0; sleep 0.1; done
	log "$1: no UAPI socket for $3"
	return 1
}

start_impl() {
	umask 077
	wg genkey >"$TMP/ka"; wg genkey >"$TMP/kb"; wg genkey >"$TMP/kl"
	KA=$(wg pubkey <"$TMP/ka"); KB=$(wg pubkey <"$TMP/kb"); KL=$(wg pubkey <"$TMP/kl")
	start_daemon $1 $NSA $WA && PID_A=$DAEMON_PID || return 1
	start_daemon $1 $NSB $WB && PID_B=$DAEMON_PID || return 1
	start_daemon $1 $NSL $WL && PID_L=$DAEMON_PID || return 1
	in_ns $NSA wg set $WA private-key "$TMP/ka" listen-port $PORT \
		peer $KB endpoint 10.231.1.2:$PORT allowed-ips $TB/32 || return 1
	in_ns $NSB wg set $WB private-key "$TMP/kb" listen-port $PORT \
		peer $KA allowed-ips $TA/32 peer $KL allowed-ips $TL/32 || return 1
	in_ns $NSL wg set $WL private-key "$TMP/kl" listen-port $PORT \
		peer $KB endpoint 10.231.3.2:$PORT allowed-ips $TB/32 || return 1
	ip -n $NSA addr add $TA/24 dev $WA && ip -n $NSB addr add $TB/24 dev $WB &&
		ip -n $NSL addr add $TL/24 dev $WL || return 1
	local ns_if
	for ns_if in "$NSA $WA" "$NSB $WB" "$NSL $WL"; do
		set -- $ns_if
		ip -n $1 link set $2 mtu 1420 up || return 1
	done
	in_ns $NSA ping -c 1 -w 10 -i 0.2 -q $TB >/dev/null 2>&1 || { log "no ping A->B"; return 1; }
	in_ns $NSB iperf3 -s -p 5201 >"$TMP/iperf3-s.log" 2>&1 &
	SRV=$!
	sleep 0.5
}

stop_impl() {
	local p
	kill_pid "$SRV"; SRV=
	for p in "${PIDS[@]}"; do kill_pid "$p"; done
	PIDS=()
	rm -f "$SOCKDIR/$WA.sock" "$SOCKDIR/$WB.sock" "$SOCKDIR/$WL.sock"
	sleep 0.5
	ip -n $NSA link del $WA 2>/dev/null; ip -n $NSB link del $WB 2>/dev/null
	ip -n $NSL link del $WL 2>/dev/null
	return 0
}

goodput() {  # Mbit/s received, A -> B
	timeout -k 2 $((DURATION + 15)) ip netns exec $NSA iperf3 -c $TB -p 5201 -t $DURATION \
		--connect-timeout 3000 -J >"$TMP/iperf.json" 2>/dev/null
	jq -r '(.end.sum_received.bits_per_second // 0) / 1e6' "$TMP/iperf.json" 2>/dev/null || echo 0
}

handshake_time() {  # seconds from L forgetting its session to the first reply from B
	local t0 t1
	in_ns $NSL wg set $WL peer $KB remove
	in_ns $NSL wg set $WL peer $KB endpoint 10.231.3.2:$PORT allowed-ips $TB/32
	t0=$(date +%s%N)
	if in_ns $NSL ping -c 1 -w $HS_MAX -i 0.2 -q $TB >/dev/null 2>&1; then
		t1=$(date +%s%N)
		awk -v a=$t0 -v b=$t1 'BEGIN {printf "%.2f", (b - a) / 1e9}'
	else
		echo nan
	fi
}

counters() {  # wgc's own counters on B (UAPI get), one line
	printf 'get=1\n\n' | timeout 5 ip netns exec $NSB python3 "$ROOT/tests/netns/tools.py" uapi $WB |
		grep '^wgc_' | tr '\n' ' '
}

rss_kib() { awk -v k=$2 '$1 == k":" {print $2}' /proc/$1/status 2>/dev/null || echo 0; }

record() { echo "$IMPL $RUN $1 $2 ${3:-nan}" >>"$DATA"; }  # record STEP METRIC VALUE

run_impl() {
	local mode rate step out gp hs base rss0
	start_impl $IMPL || { log "$IMPL: setup failed"; stop_impl; return 1; }
	base=$(goodput)
	record none goodput $base
	local hs0; hs0=$(handshake_time); log "no flood: handshake $hs0 s"; record none handshake $hs0
	rss0=$(rss_kib $PID_B VmRSS)
	log "$IMPL run $RUN: no flood: $base Mbit/s"
	for mode in $MODES; do
		for rate in $RATES; do
			step=$mode-$rate
			local args=(--to 10.231.2.2:$PORT --key $KB --src 10.231.2.10 --sources $SOURCES
				--rate $rate --seconds 120)
			[ $mode = bad ] && args+=(--bad-mac1)
			ip netns exec $NSC "$FLOOD" "${args[@]}" >"$TMP/flood.out" 2>&1 &
			local fpid=$!
			sleep 1
			gp=$(goodput)
			hs=$(handshake_time)
			kill -TERM $fpid 2>/dev/null
			wait $fpid 2>/dev/null
			out=$(cat "$TMP/flood.out")
			record $step goodput $gp
			record $step share $(awk -v g=$gp -v b=$base 'BEGIN {printf "%.3f", (b > 0 ? g / b : 0)}')
			record $step handshake $hs
			record $step rate $(echo "$out" | awk '{print $6}')
			record $step cookies $(echo "$out" | awk '{print $8}')
			record $step others $(echo "$out" | awk '{print $10}')
			record $step rss_growth_kib $(($(rss_kib $PID_B VmHWM) - rss0))
			running $PID_B || { log "$IMPL: B died during $step"; record $step died 1; }
			[ "$IMPL" = wgc ] && [ -n "${VERBOSE:-}" ] && log "B: $(counters)"
			log "$IMPL run $RUN: $step: flood $(echo "$out" | awk '{print $6}')/s, $gp Mbit/s, handshake $hs s, replies: $(echo "$out" | awk '{print $8" cookie, "$10" other"}')"
		done
	done
	[ "$IMPL" = wgc ] && counters >"$TMP/counters-$RUN"
	stop_impl
}

median() {  # median IMPL STEP METRIC
	awk -v i=$1 -v s=$2 -v m=$3 '$1 == i && $3 == s && $4 == m && $5 != "nan" {print $5}' "$DATA" |
		sort -g | awk '{v[NR] = $1} END {if (NR == 0) print "nan"; else print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}
fmt() { if [ "$2" = nan ] || [ -z "$2" ]; then echo "—"; else printf "$1" "$2"; fi; }

setup_net || { log "network setup failed"; exit 1; }
: >"$DATA"
for RUN in $(seq $RUNS); do
	for IMPL in $IMPLS; do run_impl || exit 1; done
done

mkdir -p "$RESULTS_DIR"
OUT="$RESULTS_DIR/$(date -u +%Y-%m-%d-%H%M)-flood.md"
{
	echo "# Handshake flood, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores ($(uname -r))"
	echo
	echo "$SOURCES spoofed sources; attacker, iperf3 and all daemons share the machine; RUNS=$RUNS,"
	echo "DURATION=$DURATION s. Medians over the runs. wireguard-go: $("$WGGO" --version 2>/dev/null | head -1)."
	echo
	echo "| impl | flood | sent/s | TCP Mbit/s | share of no flood | new handshake s | cookie replies | other replies | RSS growth KiB |"
	echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
	for IMPL in $IMPLS; do
		echo "| $IMPL | none | — | $(fmt %.0f $(median $IMPL none goodput)) | 1.00 | $(fmt %.1f $(median $IMPL none handshake)) | — | — | — |"
		for mode in $MODES; do
			for rate in $RATES; do
				s=$mode-$rate
				echo "| $IMPL | $([ $mode = valid ] && echo "valid mac1" || echo "bad mac1") $rate/s | $(fmt %.0f $(median $IMPL $s rate)) | $(fmt %.0f $(median $IMPL $s goodput)) | $(fmt %.2f $(median $IMPL $s share)) | $(fmt %.1f $(median $IMPL $s handshake)) | $(fmt %.0f $(median $IMPL $s cookies)) | $(fmt %.0f $(median $IMPL $s others)) | $(fmt %.0f $(median $IMPL $s rss_growth_kib)) |"
			done
		done
	done
	if [ -s "$TMP/counters-$RUNS" ]; then
		echo
		echo "wgc's counters on B after the last run (UAPI get):"
		echo
		tr ' ' '\n' <"$TMP/counters-$RUNS" | grep . | sed 's/^/    /' 
	fi
} | tee "$OUT"
cp "$OUT" "$RESULTS_DIR/latest-flood.md"
