#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Lanes (docs/SCALING.md): with WGC_LANES=N the daemon runs N event-loop threads, each owning
# the peers whose public key hashes to it. For each N in ${LANES_COUNTS:-2 4}:
#   - 100 peers (tests/netns/many_peers.py, one process in ns B: a libwgc endpoint and a UDP
#     socket per peer) on one wgc interface in ns A. Half send first (their initiations are
#     admitted by lane 0 and handed to the owner); A reaches the other half first (TUN packets
#     read by any lane, handed to the owner, which initiates). Every reply must come back to the
#     peer it belongs to, and wg show must list each peer with a handshake;
#   - while that traffic runs, 10 peers are removed and added again with new allowed IPs (each
#     `wg set` stops every lane); the other 90 keep working, the 10 work at their new addresses;
#   - wgc <-> wgc: ${LANES_TEST_MB:-1024} MiB each way over TCP with SHA-256, and the UDP order check;
#   - wgc <-> wireguard-go both ways, lanes on the wgc side: ping and 64 MiB each way.
# A daemon that supports lanes logs "N lanes" and counts the packets one lane hands to another
# (wgc_lane_handoffs); LANES_EXPECT_LOG=0 skips those two checks, for a daemon that ignores
# WGC_LANES and runs one lane: every other check must pass on it too.
#
#   ┌───────────── ns A ─────────────┐          ┌───────────── ns B ─────────────┐
#   │ IF_A  10.200.0.1/24 (wgc, N    │          │ many_peers.py: peer i is        │
#   │       lanes), echo server :7007│  tunnel  │   10.201.(i/250).(i%250+1)      │
#   │   routes 10.201/16, 10.202/16  │◀════════▶│   (10.202.… once moved), its    │
#   │   (100 peers, one /32 each)    │  x 100   │   own endpoint and UDP port     │
#   │ veth0 10.250.0.1/24     :51001 ├──────────┤ :52000+i   10.250.0.2/24 veth0  │
#   └────────────────────────────────┘   veth   └────────────────────────────────┘
# The pair scenarios use setup_pair's topology (tunnel.sh's diagram).
. "$(dirname "$0")/lib.sh"
require_env
need_wireguard_go

MANY="python3 $ROOT/tests/netns/many_peers.py"
PEERS=100
PEER_PORT_BASE=52000
MOVED_FIRST=$((PEERS / 2 - 5)) # 10 peers: five that send first, five that A reaches first
MOVED="$MOVED_FIRST-$((MOVED_FIRST + 9))"
MB=${LANES_TEST_MB:-1024}
INTEROP_MB=64
EXPECT_LOG=${LANES_EXPECT_LOG:-1}

# lanes_logged LABEL IFACE: when EXPECT_LOG=1, checks that IFACE's daemon runs $N lanes.
lanes_logged() {
	[ "$EXPECT_LOG" = 1 ] || return 0
	check "$1: $N lanes" grep -q "$N lanes" "$TMP/$2.log"
}

# handoffs_counted: prints A's hand-over counters; when EXPECT_LOG=1, checks that lanes handed
# packets to each other (with 100 peers spread over the lanes, initiations admitted by lane 0 and
# TUN packets read by a lane that does not own the peer must have been).
handoffs_counted() {
	local handoffs
	handoffs=$(counter A "$IF_A" wgc_lane_handoffs)
	echo "A: lane hand-offs $handoffs, dropped $(counter A "$IF_A" wgc_lane_handoffs_dropped)," \
		"handshakes dropped $(counter A "$IF_A" wgc_handshakes_dropped)"
	[ "$EXPECT_LOG" = 1 ] || return 0
	check "$LABEL: lanes handed packets over (wgc_lane_handoffs)" [ "$handoffs" -gt 0 ]
}

# setup_many: wgc in ns A with PEERS peers (keys in $TMP/peers), ns B with only its veth.
setup_many() {
	setup_underlay
	start_daemon "$NS_A" wgc "$IF_A" || return 1
	(umask 077 && wg genkey >"$TMP/a.key")
	PUB_A=$(wg pubkey <"$TMP/a.key")
	printf '[Interface]\nPrivateKey = %s\nListenPort = %d\n\n' "$(cat "$TMP/a.key")" $PORT_A \
		>"$TMP/many.conf"
	$MANY config $PEERS "$TMP/peers" 10.250.0.2 $PEER_PORT_BASE >>"$TMP/many.conf" || return 1
	A wg setconf "$IF_A" "$TMP/many.conf" || return 1
	A ip addr add 10.200.0.1/24 dev "$IF_A"
	A ip link set "$IF_A" up
	A ip route add 10.201.0.0/16 dev "$IF_A"
	A ip route add 10.202.0.0/16 dev "$IF_A"
}

# traffic_start [RUN-OPTIONS...]: in the background, the echo server in A, the peers in B and
# (once B's sockets are bound) the sender in A; traffic_wait collects them.
traffic_start() {
	rm -f "$TMP"/ready.* "$TMP"/stop.*
	A $MANY echo 10.200.0.1 7007 --ready "$TMP/ready.echo" --stop "$TMP/stop.echo" \
		>"$TMP/echo.out" &
	ECHO_JOB=$!
	# An echo request before the server is bound would come back as an ICMP error.
	wait_until 20 [ -e "$TMP/ready.echo" ]
	B $MANY run "$TMP/peers" "$PUB_A" 10.250.0.1:$PORT_A $PEER_PORT_BASE \
		--ready "$TMP/ready.run" --stop "$TMP/stop.run" "$@" >"$TMP/run.out" &
	RUN_JOB=$!
	wait_until 20 [ -e "$TMP/ready.run" ]
	A $MANY reach "$@" >"$TMP/reach.out" &
	REACH_JOB=$!
}

# traffic_wait: waits for the sender in A, then lets the peers and the echo server end; prints
# their summaries and sets RUN_RC (the peers in B) and REACH_RC (the sender in A).
traffic_wait() {
	wait $REACH_JOB
	REACH_RC=$?
	touch "$TMP/stop.run"
	wait $RUN_JOB
	RUN_RC=$?
	touch "$TMP/stop.echo"
	wait $ECHO_JOB
	cat "$TMP/run.out" "$TMP/reach.out" "$TMP/echo.out"
}

# traffic_checks WHAT: the two checks on what traffic_wait collected.
traffic_checks() {
	check "$LABEL: $1: peers in B got their own echoes and A's datagrams" [ "$RUN_RC" -eq 0 ]
	check "$LABEL: $1: A reached its peers and got their echoes" [ "$REACH_RC" -eq 0 ]
}

handshakes_ok() {
	local n
	n=$(A wg show "$IF_A" latest-handshakes | awk '$2 > 0' | wc -l)
	echo "peers with a handshake: $n of $PEERS"
	[ "$n" -eq $PEERS ]
}

peer_pub() { wg pubkey <"$TMP/peers/$1.key"; }
moved_addr() { echo "10.202.$(($1 / 250)).$(($1 % 250 + 1))"; }

# move_peers: removes each of the MOVED peers and adds it again at its 10.202 address.
move_peers() {
	local i pub
	for i in $(seq "$MOVED_FIRST" $((MOVED_FIRST + 9))); do
		pub=$(peer_pub "$i")
		A wg set "$IF_A" peer "$pub" remove || return 1
		A wg set "$IF_A" peer "$pub" endpoint 10.250.0.2:$((PEER_PORT_BASE + i)) \
			allowed-ips "$(moved_addr "$i")/32" || return 1
	done
}

moved_allowed_ips_ok() {
	local i
	for i in $(seq "$MOVED_FIRST" $((MOVED_FIRST + 9))); do
		[ "$(wg_field A "$IF_A" allowed-ips "$(peer_pub "$i")")" = "$(moved_addr "$i")/32" ] ||
			return 1
	done
}

for N in ${LANES_COUNTS:-2 4}; do
	export WGC_LANES=$N

	# Test: 100 peers, half sending first, half reached first
	setup_many || { fail "setup $PEERS peers (WGC_LANES=$N)"; teardown_pair; continue; }
	LABEL="wgc with $PEERS peers (WGC_LANES=$N)"
	say "$LABEL: every peer answers, both ways"
	lanes_logged "$LABEL" "$IF_A"
	traffic_start
	traffic_wait
	traffic_checks "$PEERS peers"
	check "$LABEL: wg show lists $PEERS peers" [ "$(A wg show "$IF_A" peers | wc -l)" -eq $PEERS ]
	check "$LABEL: wg show: every peer has a latest handshake" handshakes_ok
	handoffs_counted

	# Test: peers removed and added again while traffic runs
	say "$LABEL: remove and re-add peers $MOVED under traffic"
	# The peers of a new run are new endpoints: a fresh configuration drops the old sessions.
	A wg setconf "$IF_A" "$TMP/many.conf"
	traffic_start --count 100 --min 25 --loose "$MOVED"
	sleep 2
	check "$LABEL: peers $MOVED removed and re-added with new allowed IPs" move_peers
	check "$LABEL: the traffic was still running after the moves" kill -0 "$REACH_JOB"
	traffic_wait
	traffic_checks "the $((PEERS - 10)) others, under wg set"
	check "$LABEL: wg show: moved peers have their new allowed IPs" moved_allowed_ips_ok
	check "$LABEL: wg show lists $PEERS peers after the moves" \
		[ "$(A wg show "$IF_A" peers | wc -l)" -eq $PEERS ]
	traffic_start --peers "$MOVED" --net 202
	traffic_wait
	traffic_checks "moved peers at their new addresses"
	teardown_pair

	# Test: wgc <-> wgc, TCP hashed both ways and UDP order
	setup_pair wgc wgc || { fail "setup wgc wgc (WGC_LANES=$N)"; teardown_pair; continue; }
	LABEL="wgc->wgc (WGC_LANES=$N)"
	say "$LABEL: $MB MiB each way, UDP order"
	lanes_logged "$LABEL: A" "$IF_A"
	lanes_logged "$LABEL: B" "$IF_B"
	check "$LABEL: first ping (handshake)" ping_ok A 10.200.0.2 5
	check "$LABEL: $MB MiB A->B, SHA-256 matches" transfer_ok A B 10.200.0.2 "$MB"
	check "$LABEL: $MB MiB B->A, SHA-256 matches" transfer_ok B A 10.200.0.1 "$MB"
	check "$LABEL: 20000 datagrams arrive in order" udp_order_ok A B 10.200.0.2
	teardown_pair

	# Test: interop with wireguard-go, lanes on the wgc side
	for pair in "wgc wggo" "wggo wgc"; do
		setup_pair $pair || { fail "setup $pair (WGC_LANES=$N)"; teardown_pair; continue; }
		LABEL="$LABEL (WGC_LANES=$N)"
		say "$LABEL: ping and $INTEROP_MB MiB each way"
		if [ "$IMPL_A" = wgc ]; then lanes_logged "$LABEL" "$IF_A"; else lanes_logged "$LABEL" "$IF_B"; fi
		check "$LABEL: ping (handshake)" ping_ok A 10.200.0.2 5
		check "$LABEL: ping B->A" ping_ok B 10.200.0.1 3
		check "$LABEL: $INTEROP_MB MiB A->B, SHA-256 matches" \
			transfer_ok A B 10.200.0.2 $INTEROP_MB
		check "$LABEL: $INTEROP_MB MiB B->A, SHA-256 matches" \
			transfer_ok B A 10.200.0.1 $INTEROP_MB
		teardown_pair
	done
done
finish
