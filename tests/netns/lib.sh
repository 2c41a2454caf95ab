# SPDX-License-Identifier: MIT
# Shared helpers for the netns tests (sourced): namespaces, daemons (wgc or wireguard-go), the
# per-namespace command helpers A/B/C that echo each command before running it, checks and the
# pass/fail counters, and the cleanup that always runs. Configuration is done with ip and wg only.

set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
WGC=${WGC:-$ROOT/build/wgc}
WGGO=${WGGO:-/usr/bin/wireguard-go}
TOOLS="python3 $ROOT/tests/netns/tools.py"
ID=$$ # keeps names unique when several runs share a host
TMP=$(mktemp -d "/tmp/wgc-netns-$ID.XXXXXX")
PASSED=0
FAILED=0
SEQ=0
NAMESPACES=()
declare -A DAEMON_PID=()

# ---- reporting ----

say() { echo; echo "# $*"; }
# pass, fail and check NAME COMMAND... (counting into PASSED/FAILED): the scripts/check-*.sh ones.
# shellcheck source=scripts/checks.sh
. "$ROOT/scripts/checks.sh"
# Prints the totals line and records them for tests/netns/run.sh.
finish() {
	echo
	echo "$(basename "$0" .sh)${WGC_NO_OFFLOAD:+ (WGC_NO_OFFLOAD=$WGC_NO_OFFLOAD)}: $PASSED passed, $FAILED failed"
	if [ -n "${NETNS_RESULTS:-}" ]; then echo "$PASSED $FAILED" >>"$NETNS_RESULTS"; fi
	[ "$FAILED" -eq 0 ]
}

# ---- namespaces and the command helpers ----

in_ns() {
	local ns=$1
	shift
	echo "+ [$ns] $*" >&2
	ip netns exec "$ns" "$@"
}
A() { in_ns "$NS_A" "$@"; }
B() { in_ns "$NS_B" "$@"; }
C() { in_ns "$NS_C" "$@"; }

add_ns() {
	echo "+ ip netns add $1" >&2
	ip netns add "$1"
	NAMESPACES+=("$1")
	ip netns exec "$1" ip link set lo up
	# Names resolve from a hosts file of our own, and DNS goes to a closed loopback port, so
	# nothing in a test ever asks a real resolver.
	mkdir -p "/etc/netns/$1"
	echo "nameserver 127.0.0.1" >"/etc/netns/$1/resolv.conf"
	printf '127.0.0.1 localhost\n::1 localhost\n' >"/etc/netns/$1/hosts"
}

del_ns() {
	ip netns del "$1" 2>/dev/null
	rm -rf "/etc/netns/$1"
}

# ---- daemons ----

# wait_socket IFACE: waits up to 5 s for the UAPI socket.
wait_socket() {
	local i
	for i in $(seq 50); do
		[ -S "/var/run/wireguard/$1.sock" ] && return 0
		sleep 0.1
	done
	echo "no UAPI socket for $1" >&2
	return 1
}

# start_daemon NS IMPL IFACE: runs wgc or wireguard-go in the foreground, in the background of
# this shell (so the trap can stop it by pid), logging to $TMP/IFACE.log.
start_daemon() {
	local ns=$1 impl=$2 iface=$3
	local log=$TMP/$iface.log
	case $impl in
	wgc)
		echo "+ [$ns] LOG_LEVEL=verbose $WGC -f $iface &" >&2
		LOG_LEVEL=verbose ip netns exec "$ns" "$WGC" -f "$iface" >>"$log" 2>&1 &
		;;
	wggo)
		echo "+ [$ns] LOG_LEVEL=verbose wireguard-go -f $iface &" >&2
		ip netns exec "$ns" env LOG_LEVEL=verbose \
			WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1 "$WGGO" -f "$iface" >>"$log" 2>&1 &
		;;
	esac
	DAEMON_PID[$iface]=$!
	wait_socket "$iface"
}

# stop_daemon IFACE: SIGTERM, then waits; returns the daemon's exit status.
stop_daemon() {
	local pid=${DAEMON_PID[$1]:-}
	local rc
	[ -n "$pid" ] || return 0
	echo "+ kill -TERM $pid ($1)" >&2
	kill -TERM "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	rc=$?
	unset "DAEMON_PID[$1]"
	return $rc
}

# forget_daemon IFACE: reaps a daemon that exited on its own; returns its exit status.
forget_daemon() {
	local pid=${DAEMON_PID[$1]:-}
	local rc i
	[ -n "$pid" ] || return 0
	for i in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "daemon $pid ($1) is still running" >&2
		return 1
	fi
	wait "$pid" 2>/dev/null
	rc=$?
	unset "DAEMON_PID[$1]"
	return $rc
}

cleanup() {
	local iface ns
	for iface in "${!DAEMON_PID[@]}"; do
		kill -TERM "${DAEMON_PID[$iface]}" 2>/dev/null
	done
	for iface in "${!DAEMON_PID[@]}"; do
		wait "${DAEMON_PID[$iface]}" 2>/dev/null
	done
	for ns in "${NAMESPACES[@]}"; do
		del_ns "$ns"
	done
	if [ "$FAILED" -gt 0 ] && ls "$TMP"/*.log >/dev/null 2>&1; then
		for f in "$TMP"/*.log; do
			echo "---- last lines of $(basename "$f")"
			tail -n 15 "$f"
		done
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- preconditions ----

# Prints SKIP loudly and exits: a pass outside CI, a failure in CI (CI=true).
skip_all() {
	echo "SKIP: $(basename "$0" .sh): $*"
	if [ "${CI:-}" = true ]; then
		FAILED=$((FAILED + 1))
		echo "SKIP counts as a failure under CI=true"
	fi
	finish
	exit
}

require_env() {
	[ "$(id -u)" -eq 0 ] || skip_all "needs root"
	[ -c /dev/net/tun ] || skip_all "needs /dev/net/tun"
	[ -x "$WGC" ] || skip_all "$WGC is not built (make daemon)"
	command -v wg >/dev/null || skip_all "needs wg (wireguard-tools)"
	command -v python3 >/dev/null || skip_all "needs python3"
	ip netns add "wgc-probe-$ID" 2>/dev/null || skip_all "cannot create network namespaces"
	ip netns del "wgc-probe-$ID"
}

need_wireguard_go() {
	[ -x "$WGGO" ] || skip_all "needs wireguard-go ($WGGO)"
}

# ---- a pair of peers ----
#
# setup_pair IMPL_A IMPL_B builds the two-namespace topology drawn in each script: A and B joined
# by a veth (underlay 10.250.0.0/24, fd00:250::/64), the WireGuard interfaces IF_A and IF_B
# (tunnel 10.200.0.0/24, fd00:200::/64), keys in $TMP, each side the other's peer.

PORT_A=51001
PORT_B=51002

# setup_underlay: the namespaces NS_A and NS_B and the veth between them, and the names IF_A and
# IF_B the WireGuard interfaces will have (setup_pair, and scripts that build their own ends).
setup_underlay() {
	SEQ=$((SEQ + 1))
	NS_A=wgcA-$ID-$SEQ
	NS_B=wgcB-$ID-$SEQ
	IF_A=wa${ID}n$SEQ
	IF_B=wb${ID}n$SEQ
	add_ns "$NS_A"
	add_ns "$NS_B"
	echo "+ ip link add veth0 netns $NS_A type veth peer name veth0 netns $NS_B" >&2
	ip link add veth0 netns "$NS_A" type veth peer name veth0 netns "$NS_B"
	A ip addr add 10.250.0.1/24 dev veth0
	A ip addr add fd00:250::1/64 dev veth0 nodad
	A ip link set veth0 up
	B ip addr add 10.250.0.2/24 dev veth0
	B ip addr add fd00:250::2/64 dev veth0 nodad
	B ip link set veth0 up
}

setup_pair() {
	IMPL_A=$1
	IMPL_B=$2
	setup_underlay
	start_daemon "$NS_A" "$IMPL_A" "$IF_A" || return 1
	start_daemon "$NS_B" "$IMPL_B" "$IF_B" || return 1
	wg genkey >"$TMP/a.key"
	wg genkey >"$TMP/b.key"
	PUB_A=$(wg pubkey <"$TMP/a.key")
	PUB_B=$(wg pubkey <"$TMP/b.key")
	A wg set "$IF_A" private-key "$TMP/a.key" listen-port $PORT_A peer "$PUB_B" \
		endpoint 10.250.0.2:$PORT_B allowed-ips 10.200.0.2/32,fd00:200::2/128
	B wg set "$IF_B" private-key "$TMP/b.key" listen-port $PORT_B peer "$PUB_A" \
		endpoint 10.250.0.1:$PORT_A allowed-ips 10.200.0.1/32,fd00:200::1/128
	A ip addr add 10.200.0.1/24 dev "$IF_A"
	A ip addr add fd00:200::1/64 dev "$IF_A" nodad
	A ip link set "$IF_A" up
	B ip addr add 10.200.0.2/24 dev "$IF_B"
	B ip addr add fd00:200::2/64 dev "$IF_B" nodad
	B ip link set "$IF_B" up
	LABEL="$IMPL_A->$IMPL_B"
}

# sanitizer_clean IFACE: a sanitizer build's report (a data race, a leak, undefined behaviour) in
# a daemon's log fails the scenario (make tsan-lanes runs the daemon under ThreadSanitizer).
sanitizer_clean() {
	local log=$TMP/$1.log
	local pattern='WARNING: ThreadSanitizer|ERROR: [A-Za-z]*Sanitizer|runtime error:|CHECK failed'
	if [ -f "$log" ] && grep -q -E "$pattern" "$log"; then
		fail "$1: sanitizer report in the daemon's log"
		grep -m 3 -A 20 -E "$pattern" "$log"
	fi
}

teardown_pair() {
	stop_daemon "$IF_A"
	stop_daemon "$IF_B"
	sanitizer_clean "$IF_A"
	sanitizer_clean "$IF_B"
	del_ns "$NS_A"
	del_ns "$NS_B"
}

# The pairs every scenario runs on; A initiates, so each implementation initiates towards the other.
PAIRS=("wgc wgc" "wgc wggo" "wggo wgc")

# ---- probes ----

# ping_ok NSFN ADDR TRIES [PING-ARGS...]: true once one echo comes back (1 s per try).
ping_ok() {
	local ns=$1 addr=$2 tries=$3
	local i
	shift 3
	for i in $(seq "$tries"); do
		$ns ping -n -q -c 1 -W 1 "$@" "$addr" >/dev/null 2>&1 && return 0
	done
	return 1
}

# ping_fails NSFN ADDR [PING-ARGS...]: true when three echoes in 3 s all go unanswered.
ping_fails() {
	local ns=$1 addr=$2
	shift 2
	! $ns ping -n -q -c 3 -i 0.5 -W 1 "$@" "$addr" >/dev/null 2>&1
}

# wg_field NSFN IFACE FIELD PEER: one column of `wg show IFACE FIELD` for PEER.
wg_field() {
	$1 wg show "$2" "$3" | awk -v k="$4" '$1 == k { print $2 }'
}

latest_handshake() { wg_field "$1" "$2" latest-handshakes "$3"; }
rx_bytes() { wg_field "$1" "$2" transfer "$3"; }
tx_bytes() { $1 wg show "$2" transfer | awk -v k="$3" '$1 == k { print $3 }'; }
endpoint_of() { wg_field "$1" "$2" endpoints "$3"; }

# uapi_get NSFN IFACE: the raw get reply (with our extra wgc_* counters).
uapi_get() { printf 'get=1\n\n' | $1 $TOOLS uapi "$2"; }
# counter NSFN IFACE NAME: a wgc_* counter from the raw get reply (0 when absent).
counter() {
	uapi_get "$1" "$2" | awk -F= -v k="$3" '$1 == k { v = $2 } END { print v + 0 }'
}

# transfer_ok FROM TO ADDR MB: MB MiB of random data over TCP from namespace FROM to a sink at
# ADDR in namespace TO (NSFNs); true when every byte arrived and the SHA-256 of both ends matches.
transfer_ok() {
	local from=$1 to=$2 addr=$3 mb=$4
	local sent got start sink
	start=$(date +%s)
	$to $TOOLS sink "$addr" 5001 >"$TMP/sink.out" &
	sink=$!
	sent=$($from $TOOLS source "$addr" 5001 "$mb")
	wait $sink
	got=$(cat "$TMP/sink.out")
	echo "sent: $sent"
	echo "got:  $got ($(($(date +%s) - start)) s)"
	[ -n "$sent" ] && [ "$sent" = "$got" ] && [ "${sent%% *}" = $((mb << 20)) ]
}

# udp_order_ok FROM TO ADDR: 20000 numbered 1200-byte datagrams from namespace FROM to ADDR in
# namespace TO in one burst; at least 1000 arrive and none out of order.
udp_order_ok() {
	local from=$1 to=$2 addr=$3
	local result sink
	$to $TOOLS udp-sink "$addr" 5002 >"$TMP/udp.out" &
	sink=$!
	sleep 0.3
	$from $TOOLS udp-source "$addr" 5002 20000 1200
	wait $sink
	result=$(cat "$TMP/udp.out")
	echo "udp sink: $result"
	# "<received> <out_of_order>": none overtakes an earlier one. Loss is allowed (a busy
	# machine's sink drops many of a 20,000 burst; seen: 5,778 received): enough must arrive for
	# the order check to mean something, which is not a speed assertion.
	[ -n "$result" ] && [ "${result%% *}" -ge 1000 ] && [ "${result##* }" -eq 0 ]
}

# wait_until SECONDS COMMAND...: polls every 0.2 s.
wait_until() {
	local deadline=$(($(date +%s) + $1))
	shift
	while ! "$@"; do
		[ "$(date +%s)" -ge "$deadline" ] && return 1
		sleep 0.2
	done
}
