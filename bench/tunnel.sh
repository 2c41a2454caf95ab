#!/usr/bin/env bash
# Tunnel benchmark: wgc (build/wgc) against wireguard-go on the same two network namespaces.
#
#   netns wgbA-<pid>                                      netns wgbB-<pid>
#  +---------------------------------+                  +---------------------------------+
#  | iperf3 -c, ping                 |                  | iperf3 -s                       |
#  |          |                      |                  |          ^                      |
#  |  wbtA<pid> 10.214.0.1/24  (TUN) |                  |  wbtB<pid> 10.214.0.2/24  (TUN) |
#  |          |                      |                  |          |                      |
#  |  [ X -f wbtA<pid> ] udp :51820  |                  |  [ X -f wbtB<pid> ] udp :51820  |
#  |          |                      |                  |          |                      |
#  |  wbvA<pid> 10.213.0.1/24 (veth) |==================|  wbvB<pid> 10.213.0.2/24 (veth) |
#  +---------------------------------+   veth pair      +---------------------------------+
#
#  X = wgc (build/wgc) or wireguard-go, the same on both sides, configured only with `wg` and `ip`.
#  "A->B" is iperf3 client (A) to server (B); "B->A" is the same with iperf3 -R.
#
# For each veth offload mode (default offloads, then GRO/GSO/TSO off) and each run r = 1..RUNS, it
# starts wgc, measures everything, stops it, then does the same with wireguard-go (interleaved: wgc,
# wireguard-go, wgc, wireguard-go, ...). Each figure is the median over the runs; the ratio is
# wgc/wireguard-go. The verdict is taken on the offloads-off run.
#
# Measured per run (all through the tunnel, A -> B unless said):
#   1. TCP goodput, 1 and 4 flows, both directions (iperf3 -t DURATION, received rate).
#   2. CPU seconds per GB at a fixed offered load (TCP, iperf3 -b CPU_RATE): busy jiffies of the whole
#      machine from /proc/stat (user+nice+system+irq+softirq+steal) over bytes received. Other work on
#      the host lands in that figure too, so also: the daemons plus iperf3 at both ends (utime+stime from
#      /proc/PID/stat and iperf3's getrusage; with tick accounting a process's stime includes the softirq
#      that ran in its context), the daemons alone, and the whole machine minus the host's background
#      busy rate sampled in the second before and the second after the test.
#   3. UDP goodput, 1392-byte datagrams (iperf3 -u -l 1392; iperf3 3.12 sends without GSO), at < 1% loss:
#      geometric bisection of the offered rate between UDP_LO and UDP_HI, UDP_STEPS steps of STEP_SECS.
#   4. 64-byte UDP datagrams (iperf3 -u -l 64, i.e. 92-byte IP packets in the tunnel): received packet rate
#      at < 0.1% loss, same search between PPS_LO and PPS_HI packets/s, PPS_STEPS steps.
#   5. Ping RTT: idle (20 pings at 0.05 s, median), p99 while a TCP flow runs (ping every 0.02 s), and the
#      underlay veth idle RTT for reference.
#   6. Peak RSS: VmHWM of the two daemons at the end of the run (after all the load above), in MiB.
#
# Environment: RUNS (3), DURATION (5 s), QUICK=1 (RUNS=1 DURATION=2, short coarse searches),
#   STEP_SECS (2), UDP_STEPS/PPS_STEPS (6), CPU_RATE (100M: both must sustain it), OFFLOADS ("on off"), MAX_SECONDS (3600,
#   no new run starts after that), WGC (build/wgc), WGGO (wireguard-go), RESULTS_DIR (bench/results),
#   TCP_CC (iperf3 -C for the TCP tests; unset: the host's default, named in the report: wgc's AQM
#   acts through the sender's congestion control, which CUBIC heeds and BBR hardly does).
# Output: the table on stdout, progress on stderr, bench/results/YYYY-MM-DD-HHMM.md and latest.md.
# Needs root, ip, wg, iperf3, ethtool, ping, jq. Exit status: 0 when the wireguard-go runs worked
# (even if build/wgc is missing, which is said loudly); 1 if a daemon failed to start or set-up failed.

set -u
export LC_ALL=C

ROOT=$(cd "$(dirname "$0")/.." && pwd)
QUICK=${QUICK:-0}
if [ "$QUICK" = 1 ]; then
	RUNS=${RUNS:-1}; DURATION=${DURATION:-2}; STEP_SECS=${STEP_SECS:-1}
	UDP_STEPS=${UDP_STEPS:-3}; PPS_STEPS=${PPS_STEPS:-3}
else
	RUNS=${RUNS:-3}; DURATION=${DURATION:-5}; STEP_SECS=${STEP_SECS:-2}
	UDP_STEPS=${UDP_STEPS:-6}; PPS_STEPS=${PPS_STEPS:-6}
fi
CPU_RATE=${CPU_RATE:-100M}
UDP_LO=${UDP_LO:-50000000}; UDP_HI=${UDP_HI:-5000000000}  # bit/s offered, 1392-byte payloads
PPS_LO=${PPS_LO:-5000}; PPS_HI=${PPS_HI:-2000000}          # packets/s offered, 64-byte payloads
OFFLOADS=${OFFLOADS:-on off}
MAX_SECONDS=${MAX_SECONDS:-3600}
WGC=${WGC:-$ROOT/build/wgc}
WGGO=${WGGO:-$(command -v wireguard-go || echo /usr/bin/wireguard-go)}
RESULTS_DIR=${RESULTS_DIR:-$ROOT/bench/results}

for v in RUNS DURATION STEP_SECS UDP_STEPS PPS_STEPS MAX_SECONDS; do
	case ${!v} in '' | *[!0-9]*) echo "tunnel.sh: $v must be a positive integer" >&2; exit 2 ;; esac
	[ "${!v}" -ge 1 ] || { echo "tunnel.sh: $v must be >= 1" >&2; exit 2; }
done

NSA=wgbA-$$; NSB=wgbB-$$
VA=wbvA$$; VB=wbvB$$          # veth ends (<= 15 characters)
WA=wbtA$$; WB=wbtB$$          # tunnel interfaces; their UAPI sockets are global, hence the pid
UA=10.213.0.1; UB=10.213.0.2  # underlay (veth)
TA=10.214.0.1; TB=10.214.0.2  # tunnel
PORT=51820
SOCKDIR=/var/run/wireguard
T0=$(date +%s)
TMP=$(mktemp -d /tmp/wgc-bench.XXXXXX)
DATA=$TMP/data                # lines: mode impl run metric value
PID_A=; PID_B=; SRV=          # the two daemons and the iperf3 server of the current run
LOADPID=                      # the background TCP load of the latency test
STATUS=0

log() { printf '[%4ds] %s\n' $(($(date +%s) - T0)) "$*" >&2; }
elapsed() { echo $(($(date +%s) - T0)); }

running() { [ -e "/proc/$1" ] && ! grep -q '^[0-9]* (.*) Z' "/proc/$1/stat" 2>/dev/null; }
kill_pid() {  # kill_pid PID: TERM, up to 3 s grace, then KILL
	local p=$1 i
	running "$p" || { wait "$p" 2>/dev/null; return 0; }
	kill -TERM "$p" 2>/dev/null
	for i in $(seq 30); do running "$p" || break; sleep 0.1; done
	running "$p" && kill -KILL "$p" 2>/dev/null
	wait "$p" 2>/dev/null
	return 0
}

CLEANED=0
cleanup() {
	[ "$CLEANED" = 1 ] && return
	CLEANED=1
	local p ns
	for p in $PID_A $PID_B $SRV $LOADPID; do kill_pid "$p"; done  # still-running ones only
	for ns in "$NSA" "$NSB"; do  # anything else left inside our own namespaces was started by us
		for p in $(ip netns pids "$ns" 2>/dev/null); do kill_pid "$p"; done
		ip netns del "$ns" 2>/dev/null
	done
	rm -f "$SOCKDIR/$WA.sock" "$SOCKDIR/$WB.sock"
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'log "interrupted, cleaning up"; cleanup; exit 130' INT
trap 'log "terminated, cleaning up"; cleanup; exit 143' TERM HUP

need() { command -v "$1" >/dev/null || { echo "tunnel.sh: $1 not found" >&2; exit 1; }; }
[ "$(id -u)" = 0 ] || { echo "tunnel.sh: must run as root (network namespaces)" >&2; exit 1; }
for c in ip wg iperf3 ethtool ping jq timeout; do need "$c"; done
[ -x "$WGGO" ] || { echo "tunnel.sh: wireguard-go not found ($WGGO)" >&2; exit 1; }

IMPLS="wgc wireguard-go"
HAVE_WGC=1
if [ ! -x "$WGC" ]; then
	HAVE_WGC=0
	IMPLS="wireguard-go"
	cat >&2 <<EOF

!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
!!  $WGC does not exist: running wireguard-go ONLY.
!!  THE COMPARISON wgc/wireguard-go IS MISSING. Build the daemon (make all) first.
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!

EOF
fi
bin_of() { if [ "$1" = wgc ]; then echo "$WGC"; else echo "$WGGO"; fi; }

# In-namespace helpers (shell functions: never background them, $! would be a subshell).
ina() { ip netns exec "$NSA" "$@"; }
inb() { ip netns exec "$NSB" "$@"; }
tmo() { local s=$1; shift; timeout --foreground -k 2 "$s" "$@"; }

# ---- network ----

setup_net() {
	ip netns add "$NSA" && ip netns add "$NSB" || return 1
	ip link add "$VA" netns "$NSA" type veth peer name "$VB" netns "$NSB" || return 1
	ip -n "$NSA" addr add $UA/24 dev "$VA" && ip -n "$NSB" addr add $UB/24 dev "$VB" || return 1
	ip -n "$NSA" link set lo up && ip -n "$NSB" link set lo up || return 1
	ip -n "$NSA" link set "$VA" up && ip -n "$NSB" link set "$VB" up || return 1
	local i
	for i in $(seq 30); do  # veth carrier
		ina ping -c 1 -W 1 -q $UB >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

set_offloads() {  # on = veth defaults as created; off = gro/gso/tso off on both ends
	if [ "$1" = off ]; then
		ina ethtool -K "$VA" gro off gso off tso off && inb ethtool -K "$VB" gro off gso off tso off
	else
		ina ethtool -K "$VA" gso on tso on && inb ethtool -K "$VB" gso on tso on &&
			ina ethtool -K "$VA" gro "$GRO_DEFAULT" && inb ethtool -K "$VB" gro "$GRO_DEFAULT"
	fi
}

offload_state() {  # one line: gro/gso/tso of veth end A
	ina ethtool -k "$VA" | awk -F': ' '
		/^generic-receive-offload/ {g=$2} /^generic-segmentation-offload/ {s=$2}
		/^tcp-segmentation-offload/ {t=$2}
		END {printf "gro %s, gso %s, tso %s", g, s, t}'
}

# ---- daemons ----

start_impl() {  # start_impl IMPL: daemons in both namespaces, keys, addresses, handshake
	local bin i ka kb
	bin=$(bin_of "$1")
	rm -f "$SOCKDIR/$WA.sock" "$SOCKDIR/$WB.sock"
	ip netns exec "$NSA" "$bin" -f "$WA" >"$TMP/$1-A.log" 2>&1 &
	PID_A=$!
	ip netns exec "$NSB" "$bin" -f "$WB" >"$TMP/$1-B.log" 2>&1 &
	PID_B=$!
	for i in $(seq 50); do
		[ -S "$SOCKDIR/$WA.sock" ] && [ -S "$SOCKDIR/$WB.sock" ] && break
		sleep 0.1
	done
	[ -S "$SOCKDIR/$WA.sock" ] && [ -S "$SOCKDIR/$WB.sock" ] || { log "$1: no UAPI socket after 5 s"; return 1; }
	alive || { log "$1: a daemon exited (or forked away from -f)"; return 1; }
	umask 077
	wg genkey >"$TMP/ka"; wg genkey >"$TMP/kb"
	ka=$(wg pubkey <"$TMP/ka"); kb=$(wg pubkey <"$TMP/kb")
	tmo 10 ip netns exec "$NSA" wg set "$WA" private-key "$TMP/ka" listen-port $PORT \
		peer "$kb" endpoint $UB:$PORT allowed-ips $TB/32 || return 1
	tmo 10 ip netns exec "$NSB" wg set "$WB" private-key "$TMP/kb" listen-port $PORT \
		peer "$ka" endpoint $UA:$PORT allowed-ips $TA/32 || return 1
	ip -n "$NSA" link set "$WA" mtu 1420 && ip -n "$NSB" link set "$WB" mtu 1420 || return 1
	ip -n "$NSA" addr add $TA/24 dev "$WA" && ip -n "$NSB" addr add $TB/24 dev "$WB" || return 1
	ip -n "$NSA" link set "$WA" up && ip -n "$NSB" link set "$WB" up || return 1
	for i in $(seq 10); do  # first packets trigger the handshake
		ina ping -c 1 -W 1 -q $TB >/dev/null 2>&1 && return 0
	done
	log "$1: no ping through the tunnel after 10 tries"
	return 1
}

stop_impl() {
	[ -n "$PID_A" ] && kill_pid "$PID_A"
	[ -n "$PID_B" ] && kill_pid "$PID_B"
	PID_A=; PID_B=
	rm -f "$SOCKDIR/$WA.sock" "$SOCKDIR/$WB.sock"
	local i
	for i in $(seq 30); do  # the next daemon needs the interface names free
		ip -n "$NSA" link show "$WA" >/dev/null 2>&1 || ip -n "$NSB" link show "$WB" >/dev/null 2>&1 || return 0
		sleep 0.1
	done
	ip -n "$NSA" link del "$WA" 2>/dev/null
	ip -n "$NSB" link del "$WB" 2>/dev/null
	return 0
}

alive() { running "$PID_A" && running "$PID_B"; }

start_server() {
	local i
	ip netns exec "$NSB" iperf3 -s -p 5201 --idle-timeout 60 >"$TMP/iperf3-s.log" 2>&1 &
	SRV=$!
	for i in $(seq 30); do
		inb ss -ltn 2>/dev/null | grep -q ':5201 ' && return 0
		sleep 0.1
	done
	return 1
}
stop_server() { [ -n "$SRV" ] && kill_pid "$SRV"; SRV=; }

# iperf JSON [args...]: client in A towards B's tunnel address; JSON in the named file. A failed or
# hung test restarts the server so that the next one starts clean.
iperf() {
	local out=$1 t=$DURATION a prev=
	shift
	for a in "$@"; do
		[ "$prev" = -t ] && t=$a
		prev=$a
	done
	if ! tmo $((t + 15)) ip netns exec "$NSA" iperf3 -c $TB -p 5201 --connect-timeout 3000 -J "$@" >"$out" 2>/dev/null ||
		[ "$(jq -r '.error // empty' "$out" 2>/dev/null)" != "" ]; then
		stop_server; start_server
		return 1
	fi
}

# ---- accounting ----

busy_jiffies() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9; exit}' /proc/stat; }
proc_jiffies() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
daemon_jiffies() { echo $(($(proc_jiffies "$PID_A") + $(proc_jiffies "$PID_B"))); }
HZ=$(getconf CLK_TCK)
rate_bps() { awk -v r="$1" 'BEGIN {m = 1; u = toupper(substr(r, length(r)))
	if (u == "K") m = 1e3; else if (u == "M") m = 1e6; else if (u == "G") m = 1e9
	if (m > 1) r = substr(r, 1, length(r) - 1); printf "%.0f", r * m}'; }
calc() { awk "BEGIN {printf \"%.6g\", $*}"; }

record() { echo "$MODE $IMPL $RUN $1 $2" >>"$DATA"; }

measure_tcp() {  # measure_tcp METRIC ARGS...: received Gbit/s
	local m=$1 f=$TMP/tcp.json
	shift
	if iperf "$f" -t "$DURATION" ${TCP_CC:+-C "$TCP_CC"} "$@"; then
		record "$m" "$(calc "$(jq '.end.sum_received.bits_per_second' "$f")" / 1e9)"
	else
		record "$m" nan
	fi
}

measure_cpu() {  # CPU seconds per GB at CPU_RATE: whole machine, our processes, the daemons alone
	local f=$TMP/cpu.json b0 b1 d0 d1 t0 t1 bg0 bg1 bytes gb it
	b0=$(busy_jiffies); sleep 1; b1=$(busy_jiffies)  # what the rest of the host burns meanwhile
	bg0=$(calc "($b1 - $b0) / $HZ")
	b0=$(busy_jiffies); d0=$(daemon_jiffies); t0=$(date +%s.%N)
	if iperf "$f" -t "$DURATION" -b "$CPU_RATE" ${TCP_CC:+-C "$TCP_CC"}; then
		b1=$(busy_jiffies); d1=$(daemon_jiffies); t1=$(date +%s.%N)
		bytes=$(jq '.end.sum_received.bytes' "$f")
		gb=$(calc "$bytes / 1e9")
		# iperf3's own CPU (getrusage, both ends) as a percentage of the test's wall time
		it=$(jq '.end.cpu_utilization_percent as $c | ($c.host_total + $c.remote_total) / 100 * .end.sum_received.seconds' "$f")
		sleep 1
		bg1=$(calc "($(busy_jiffies) - $b1) / $HZ")
		record cpu_bg "$(calc "($bg0 + $bg1) / 2")"
		record cpu_gb "$(calc "($b1 - $b0) / $HZ / $gb")"
		record cpu_gb_net "$(calc "(($b1 - $b0) / $HZ - ($bg0 + $bg1) / 2 * ($t1 - $t0)) / $gb")"
		record cpu_gb_p "$(calc "(($d1 - $d0) / $HZ + $it) / $gb")"
		record cpu_gb_d "$(calc "($d1 - $d0) / $HZ / $gb")"
		record cpu_rate "$(calc "$(jq '.end.sum_received.bits_per_second' "$f")" / 1e9)"
		if jq -e --argjson want "$(rate_bps "$CPU_RATE")" '.end.sum_received.bits_per_second < 0.95 * $want' \
			"$f" >/dev/null; then
			echo "$MODE $IMPL $RUN: the CPU test reached only $(calc "$(jq '.end.sum_received.bits_per_second' "$f")" / 1e6) of $CPU_RATE bit/s (lower CPU_RATE)" >>"$TMP/failures"
		fi
	else
		for m in cpu_bg cpu_gb cpu_gb_net cpu_gb_p cpu_gb_d cpu_rate; do record $m nan; done
	fi
}

# udp_step LEN BPS: one UDP test; prints "received_bit/s received_pkt/s loss_percent sent_bit/s"
udp_step() {
	local f=$TMP/udp.json
	iperf "$f" -u -l "$1" -b "$2" -t "$STEP_SECS" -w 2M || return 1
	jq -r '.end | "\(.sum_received.bits_per_second) \((.sum_received.packets - .sum_received.lost_packets) / .sum_received.seconds) \(.sum_received.lost_percent) \(.sum_sent.bits_per_second)"' "$f"
}

# search METRIC LEN LO HI STEPS MAXLOSS UNIT: geometric bisection on the offered rate (bit/s of
# payload); records the received rate of the best passing step (Gbit/s or kpps), nan if none passed.
search() {
	local m=$1 len=$2 lo=$3 hi=$4 steps=$5 maxloss=$6 unit=$7 best=nan i mid r
	for i in $(seq "$steps") lo; do
		if [ "$i" = lo ]; then  # nothing passed: try the floor once
			[ "$best" = nan ] || break
			mid=$lo
		else
			mid=$(calc "sqrt($lo * $hi)")
		fi
		r=$(udp_step "$len" "$(printf '%.0f' "$mid")") || r="0 0 100 0"
		set -- $r
		echo "$MODE $IMPL run $RUN $m: offered $(calc "$mid / 1e6") Mbit/s, sent $(calc "$4 / 1e6") -> received $(calc "$1 / 1e6") Mbit/s, $(calc "$2 / 1e3") kpps, loss $3 %" >>"$TMP/search.log"
		if awk "BEGIN {exit !($3 < $maxloss)}"; then
			if [ "$unit" = kpps ]; then best=$(calc "$2 / 1e3"); else best=$(calc "$1 / 1e9"); fi
			lo=$mid
			if awk "BEGIN {exit !($4 < 0.9 * $mid)}"; then  # iperf3 could not send faster: the sender bounds it
				echo "$MODE $IMPL $RUN: $m is bounded by the iperf3 sender (sent $(calc "$4 / 1e6") of $(calc "$mid / 1e6") Mbit/s offered)" >>"$TMP/failures"
			fi
		else
			hi=$mid
		fi
		sleep 0.3  # let queues drain after an overload
	done
	record "$m" "$best"
}

# pings FILE ARGS...: ping from A; RTT samples in ms, one per line
pings() {
	local f=$1
	shift
	ina ping -n "$@" 2>/dev/null | sed -n 's/.* time=\([0-9.]*\) ms.*/\1/p' >"$f"
}
median_file() { sort -g "$1" | awk '{v[NR] = $1} END {if (NR == 0) print "nan"; else print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
p99_file() { sort -g "$1" | awk '{v[NR] = $1} END {if (NR == 0) print "nan"; else {i = int(0.99 * NR); if (i < 0.99 * NR) i++; print v[i]}}'; }

measure_latency() {
	local n sent
	pings "$TMP/rtt" -c 20 -i 0.05 -w 10 $UB
	record rtt_veth "$(median_file "$TMP/rtt")"
	pings "$TMP/rtt" -c 20 -i 0.05 -w 10 $TB
	record rtt_idle "$(median_file "$TMP/rtt")"
	# under load: one TCP flow A->B for DURATION+1 s; ping from 0.5 s after it starts, for DURATION s
	sent=$((DURATION * 50))
	tmo $((DURATION + 16)) ip netns exec "$NSA" iperf3 -c $TB -p 5201 --connect-timeout 3000 -t $((DURATION + 1)) \
		${TCP_CC:+-C "$TCP_CC"} >/dev/null 2>&1 &
	LOADPID=$!
	sleep 0.5
	pings "$TMP/rtt" -c $sent -i 0.02 -w $((DURATION + 5)) $TB
	wait "$LOADPID" 2>/dev/null || { stop_server; start_server; }
	LOADPID=
	n=$(wc -l <"$TMP/rtt")
	record rtt_p99 "$(p99_file "$TMP/rtt")"
	record ping_loss "$(calc "100 * ($sent - $n) / $sent")"
}

measure_rss() {  # VmHWM of both daemons, MiB
	local a b
	a=$(awk '/^VmHWM:/ {print $2}' "/proc/$PID_A/status" 2>/dev/null)
	b=$(awk '/^VmHWM:/ {print $2}' "/proc/$PID_B/status" 2>/dev/null)
	if [ -n "$a" ] && [ -n "$b" ]; then record rss "$(calc "($a + $b) / 1024")"; else record rss nan; fi
}

run_set() {  # run_set: every measurement for IMPL in MODE, run RUN
	log "$MODE offloads, run $RUN/$RUNS, $IMPL: starting"
	if ! start_impl "$IMPL"; then
		log "!! $IMPL failed to start (log: $(tail -n 3 "$TMP/$IMPL-A.log" 2>/dev/null | tr '\n' ' '))"
		echo "$MODE $IMPL $RUN: failed to start: $(tail -n 3 "$TMP/$IMPL-A.log" 2>/dev/null | tr '\n' ' ')" >>"$TMP/failures"
		stop_impl
		STATUS=1
		return
	fi
	start_server || { log "iperf3 server did not start"; STATUS=1; stop_impl; return; }
	measure_tcp tcp1_fwd
	measure_tcp tcp1_rev -R
	measure_tcp tcp4_fwd -P 4
	measure_tcp tcp4_rev -P 4 -R
	measure_cpu
	search udp1392 1392 "$UDP_LO" "$UDP_HI" "$UDP_STEPS" 1 gbit
	search pps64 64 "$((PPS_LO * 64 * 8))" "$((PPS_HI * 64 * 8))" "$PPS_STEPS" 0.1 kpps
	measure_latency
	measure_rss
	if ! alive; then
		log "!! $IMPL: a daemon died during the run"
		echo "$MODE $IMPL $RUN: a daemon died during the run" >>"$TMP/failures"
		STATUS=1
	fi
	stop_server
	stop_impl
	log "$MODE offloads, run $RUN/$RUNS, $IMPL: done ($(awk -v m="$MODE" -v i="$IMPL" -v r="$RUN" \
		'$1 == m && $2 == i && $3 == r {printf "%s=%s ", $4, $5}' "$DATA"))"
}

# ---- report ----

# metric|label|better (higher/lower/info)|target ratio ("" = none)|printf format
METRICS='tcp1_fwd|TCP goodput, 1 flow, A→B (Gbit/s)|higher|1.5|%.2f
tcp1_rev|TCP goodput, 1 flow, B→A (-R) (Gbit/s)|higher|1.5|%.2f
tcp4_fwd|TCP goodput, 4 flows, A→B (Gbit/s)|higher|1.5|%.2f
tcp4_rev|TCP goodput, 4 flows, B→A (-R) (Gbit/s)|higher|1.5|%.2f
cpu_gb|CPU s/GB at CPU_RATE TCP, whole machine incl. softirq|lower|0.6|%.2f
cpu_gb_net|CPU s/GB at CPU_RATE TCP, whole machine minus the host background|lower|0.6|%.2f
cpu_gb_p|CPU s/GB at CPU_RATE TCP, daemons + iperf3 both ends (their softirq)|lower||%.2f
cpu_gb_d|CPU s/GB at CPU_RATE TCP, the two daemons only|lower||%.2f
cpu_rate|  (rate achieved in the CPU test, Gbit/s)|info||%.3f
cpu_bg|  (background: host busy CPU-s per s in the 1 s before and after)|info||%.2f
udp1392|UDP goodput, 1392 B datagrams, < 1% loss (Gbit/s)|higher|2|%.3f
pps64|UDP 64 B datagrams, < 0.1% loss (kpps)|higher|2|%.1f
rtt_idle|Ping RTT through the tunnel, idle, median (ms)|lower||%.3f
rtt_p99|Ping RTT under 1-flow TCP load, p99 (ms)|lower|0.5|%.3f
ping_loss|  (pings lost under load, %)|info||%.1f
rss|Peak RSS, both daemons, VmHWM (MiB)|lower|0.5|%.1f
rtt_veth|Underlay veth RTT, idle, median (ms), reference|info||%.3f'

median_of() {  # median_of MODE IMPL METRIC
	awk -v m="$1" -v i="$2" -v k="$3" '$1 == m && $2 == i && $4 == k && $5 != "nan" {print $5}' "$DATA" |
		sort -g | awk '{v[NR] = $1} END {if (NR == 0) print "nan"; else print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}
runs_of() {  # runs_of MODE IMPL METRIC FMT: per-run values
	awk -v m="$1" -v i="$2" -v k="$3" -v f="$4" '$1 == m && $2 == i && $4 == k {
		s = s (s == "" ? "" : " ") ($5 == "nan" ? "fail" : sprintf(f, $5))} END {print (s == "" ? "—" : s)}' "$DATA"
}
fmt() { if [ "$2" = nan ]; then echo "—"; else printf "$1" "$2"; fi; }

table() {  # table MODE
	local mode=$1 key label better target f g w r cell verdict wins=0 losses=0 total=0
	echo "| Metric | wgc | wireguard-go | wgc / wireguard-go | better | target | met |"
	echo "|---|---:|---:|---:|---|---:|---|"
	while IFS='|' read -r key label better target f; do
		label=${label//CPU_RATE/$CPU_RATE}
		g=$(median_of "$mode" wireguard-go "$key")
		w=nan
		[ "$HAVE_WGC" = 1 ] && w=$(median_of "$mode" wgc "$key")
		r=nan
		if [ "$w" != nan ] && [ "$g" != nan ] && awk "BEGIN {exit !($g > 0)}"; then r=$(calc "$w / $g"); fi
		cell=$(fmt "%.2f×" "$r")
		verdict=""
		if [ "$r" != nan ] && [ "$better" != info ]; then
			total=$((total + 1))
			# within 2% counts as a tie
			if { [ "$better" = higher ] && awk "BEGIN {exit !($r > 1.02)}"; } ||
				{ [ "$better" = lower ] && awk "BEGIN {exit !($r < 0.98)}"; }; then wins=$((wins + 1)); fi
			if { [ "$better" = higher ] && awk "BEGIN {exit !($r < 0.98)}"; } ||
				{ [ "$better" = lower ] && awk "BEGIN {exit !($r > 1.02)}"; }; then losses=$((losses + 1)); fi
			if [ -n "$target" ]; then
				if { [ "$better" = higher ] && awk "BEGIN {exit !($r >= $target)}"; } ||
					{ [ "$better" = lower ] && awk "BEGIN {exit !($r <= $target)}"; }; then
					verdict=yes
				else
					verdict=NO
				fi
			fi
		fi
		local tg=""
		if [ -n "$target" ]; then
			if [ "$better" = higher ]; then tg="≥ ${target}×"; else tg="≤ ${target}×"; fi
		fi
		[ "$better" = info ] && better=""
		echo "| $label | $(fmt "$f" "$w") | $(fmt "$f" "$g") | $cell | $better | $tg | $verdict |"
	done <<<"$METRICS"
	echo
	if [ "$total" -gt 0 ]; then
		echo "Of $total ranked figures in this mode, wgc is better than wireguard-go on $wins, worse on $losses," \
			"within 2% on $((total - wins - losses))."
	else
		echo "**No wgc/wireguard-go comparison in this mode** (wgc missing or failed)."
	fi
}

runs_table() {  # runs_table MODE: every run's value, to judge the spread
	local mode=$1 key label better target f
	echo "| Metric | wgc, runs 1..$RUNS | wireguard-go, runs 1..$RUNS |"
	echo "|---|---|---|"
	while IFS='|' read -r key label better target f; do
		label=${label//CPU_RATE/$CPU_RATE}
		echo "| $label | $(runs_of "$mode" wgc "$key" "$f") | $(runs_of "$mode" wireguard-go "$key" "$f") |"
	done <<<"$METRICS"
}

report() {
	local mode cpu cores wgcver cc
	cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
	cores=$(nproc)
	if [ "$HAVE_WGC" = 1 ]; then
		wgcver="$WGC (git $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)$(git -C "$ROOT" diff --quiet HEAD -- 2>/dev/null || echo ', dirty tree'))"
	else
		wgcver="**MISSING ($WGC does not exist): wireguard-go only, no comparison**"
	fi
	echo "# Tunnel benchmark: wgc vs wireguard-go"
	echo
	echo "- Date: $(date '+%Y-%m-%d %H:%M %Z')"
	echo "- Kernel: $(uname -r); CPU: $cpu; cores: $cores; load average at start: $LOAD0"
	echo "- wgc: $wgcver"
	echo "- wireguard-go: $WGGO ($("$WGGO" --version 2>/dev/null | head -n 1 | awk '{print $2}')); $(iperf3 --version | head -n 1 | cut -d' ' -f1-2)"
	echo "- RUNS=$RUNS DURATION=${DURATION}s QUICK=$QUICK; searches: UDP_STEPS=$UDP_STEPS, PPS_STEPS=$PPS_STEPS of STEP_SECS=${STEP_SECS}s; CPU_RATE=$CPU_RATE"
	echo "- Order: interleaved ($(echo $IMPLS | sed 's/ /, /g'), ... per run); each figure is the median over the runs; ratio = wgc / wireguard-go"
	cc="$(ina sysctl -n net.ipv4.tcp_congestion_control 2>/dev/null), the host default"
	echo "- TCP congestion control: ${TCP_CC:-$cc}"
	echo "- Topology: two network namespaces joined by a veth pair (MTU 1500), tunnel MTU 1420, one peer each side, IPv4"
	echo "- Run time: $(elapsed) s$TRUNCATED"
	if [ -s "$TMP/failures" ]; then
		echo "- **Failures and warnings:**"
		sed 's/^/  - /' "$TMP/failures"
	fi
	for mode in $OFFLOADS; do
		echo
		if [ "$mode" = off ]; then
			echo "## veth offloads off (GRO/GSO/TSO off) — the ranking run"
		else
			echo "## veth default offloads"
		fi
		echo
		echo "veth state: ${STATE[$mode]:-not run}"
		echo
		table "$mode"
	done
	echo
	echo "## Per-run values"
	for mode in $OFFLOADS; do
		echo
		echo "### offloads $mode"
		echo
		runs_table "$mode"
	done
	if [ "$HAVE_WGC" = 0 ]; then
		echo
		echo "**THE wgc/wireguard-go COMPARISON IS MISSING: $WGC does not exist.**"
	fi
	echo
	echo "<details><summary>Search steps (offered → received, loss)</summary>"
	echo
	echo '```'
	cat "$TMP/search.log" 2>/dev/null
	echo '```'
	echo
	echo "</details>"
}

# ---- main ----

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
TRUNCATED=
declare -A STATE
per_set=$((5 * DURATION + 2 + (UDP_STEPS + PPS_STEPS) * (STEP_SECS + 1) + DURATION + 8))
nimpl=$(echo $IMPLS | wc -w)
nmode=$(echo $OFFLOADS | wc -w)
log "tunnel benchmark: $(echo $IMPLS), offloads '$OFFLOADS', RUNS=$RUNS DURATION=$DURATION; expected ~$((per_set * nimpl * RUNS * nmode)) s (bounded by MAX_SECONDS=$MAX_SECONDS)"
setup_net || { log "network set-up failed"; exit 1; }
GRO_DEFAULT=$(ina ethtool -k "$VA" | awk -F': ' '/^generic-receive-offload/ {print $2}' | cut -d' ' -f1)
: >"$DATA"
for MODE in $OFFLOADS; do
	case $MODE in on | off) ;; *) log "OFFLOADS: unknown mode $MODE"; exit 2 ;; esac
	set_offloads "$MODE" || { log "ethtool failed"; exit 1; }
	STATE[$MODE]=$(offload_state)
	log "veth offloads $MODE: ${STATE[$MODE]}"
	for RUN in $(seq "$RUNS"); do
		if [ "$(elapsed)" -ge "$MAX_SECONDS" ]; then
			TRUNCATED=" (stopped early: MAX_SECONDS=$MAX_SECONDS reached before $MODE run $RUN)"
			log "MAX_SECONDS reached, no more runs"
			break
		fi
		for IMPL in $IMPLS; do run_set; done
	done
done

stamp=$(date +%Y-%m-%d-%H%M)
mkdir -p "$RESULTS_DIR"
report >"$TMP/report.md"
cp "$TMP/report.md" "$RESULTS_DIR/$stamp.md" && cp "$TMP/report.md" "$RESULTS_DIR/latest.md"
cat "$TMP/report.md"
echo
echo "Written: $RESULTS_DIR/$stamp.md (and latest.md); total run time $(elapsed) s."
if [ "$HAVE_WGC" = 0 ]; then
	echo
	echo "!! wgc ($WGC) does not exist: wireguard-go only, THE COMPARISON IS MISSING."
fi
exit $STATUS
