#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The daemon facing untrusted input and a hostile local client: least privilege (capabilities,
# no_new_privs, seccomp on every thread, --user), keys out of reach (locked memory, a core taken
# by root holds no key, not dumpable by its own user), verbose logging that senders cannot flood,
# UAPI memory bounded per client and in total (while the largest real configuration still fits),
# and a prompt exit on every signal that leaves nothing behind. wgc alone, in one namespace.
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

status_of() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

# Test: the running daemon keeps only what it needs and its keys stay out of reach
say "wgc: least privilege and protected keys"
# NET_ADMIN + NET_BIND_SERVICE (0x1400), plus IPC_LOCK (0x4000) only where RLIMIT_MEMLOCK could
# not be lifted (then locking the UAPI buffers needs it).
if grep -q "^Max locked memory *unlimited" "/proc/$PID_C/limits"; then CAPS=0000000000001400; else CAPS=0000000000005400; fi
echo "expected capabilities: $CAPS ($(grep '^Max locked memory' "/proc/$PID_C/limits"))"
check "CapEff is NET_ADMIN + NET_BIND_SERVICE (+ IPC_LOCK if the memlock limit stayed)" \
	[ "$(status_of "$PID_C" CapEff)" = "$CAPS" ]
check "CapPrm is the same" [ "$(status_of "$PID_C" CapPrm)" = "$CAPS" ]
check "CapBnd is the same" [ "$(status_of "$PID_C" CapBnd)" = "$CAPS" ]
check "no 'cannot lock' complaint: keys in UAPI buffers are locked" \
	bash -c "! grep -q 'locking UAPI buffers in memory' $LOG_C"
check "NoNewPrivs: 1" [ "$(status_of "$PID_C" NoNewPrivs)" = 1 ]
check "Seccomp: 2 (filter)" [ "$(status_of "$PID_C" Seccomp)" = 2 ]
check "the crypto workers are filtered too (every thread Seccomp: 2)" \
	bash -c "for t in /proc/$PID_C/task/*; do grep -q '^Seccomp:[[:space:]]*2' \$t/status || exit 1; done"
check "memory holding keys is locked (VmLck > 0)" [ "$(status_of "$PID_C" VmLck)" -gt 0 ]
wg genpsk >"$TMP/c.psk"
PUB_P=$(wg genkey | wg pubkey)
C wg set "$IF_C" peer "$PUB_P" preshared-key "$TMP/c.psk" allowed-ips 10.99.0.0/16
C wg show "$IF_C" private-key >/dev/null # a get reply carries the private key once
rm -f "$TMP/gcore.$PID_C"
gcore -o "$TMP/gcore" "$PID_C" >"$TMP/gcore.log" 2>&1
if [ -s "$TMP/gcore.$PID_C" ]; then
	check "a core taken by root (CAP_SYS_PTRACE) holds neither the private key nor the PSK" \
		python3 -c "
import base64, sys
core = open('$TMP/gcore.$PID_C', 'rb').read()
for f in ('$TMP/c.key', '$TMP/c.psk'):
    k = base64.b64decode(open(f).read())
    if k in core or k.hex().encode() in core:
        sys.exit(f'{f} found in the core')
print(len(core), 'bytes of core, no key in them')"
else
	fail "gcore produced no core to inspect ($(tail -1 "$TMP/gcore.log"))"
fi
rm -f "$TMP/gcore.$PID_C"
check "wgc survived the core dump" kill -0 "$PID_C"

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

# Test: --user: the daemon runs unprivileged, still reconfigures, and cannot be traced
say "wgc: --user nobody"
IF_U=wu${ID}h
echo "+ [$NS_C] LOG_LEVEL=verbose $WGC -f --user nobody $IF_U &" >&2
LOG_LEVEL=verbose ip netns exec "$NS_C" "$WGC" -f --user nobody "$IF_U" >>"$TMP/$IF_U.log" 2>&1 &
DAEMON_PID[$IF_U]=$!
if wait_socket "$IF_U"; then
	PID_U=${DAEMON_PID[$IF_U]}
	check "--user: runs as nobody" [ "$(status_of "$PID_U" Uid)" = "$(id -u nobody)" ]
	check "--user: keeps NET_ADMIN + NET_BIND_SERVICE (+ IPC_LOCK as above)" [ "$(status_of "$PID_U" CapEff)" = "$CAPS" ]
	check "--user: wg set works (private key, a port below 1024, fwmark)" \
		C wg set "$IF_U" private-key "$TMP/c.key" listen-port 600 fwmark 0x77
	check "--user: the new port and mark are in use" \
		bash -c "ip netns exec $NS_C ss -uane | grep ':600 ' | grep -q fwmark:0x77"
	# A process that is not dumpable has its /proc files owned by root, whatever its uid.
	check "--user: not dumpable (its /proc/PID/status belongs to root, not nobody)" \
		[ "$(stat -c %U "/proc/$PID_U/status")" = root ]
	check "--user: gcore as the daemon's own user is refused (not dumpable)" \
		bash -c "! runuser -u nobody -- gcore -o $TMP/ucore $PID_U >/dev/null 2>&1 && ! ls $TMP/ucore.* >/dev/null 2>&1"
	check "--user: SIGTERM: exit status 0" stop_daemon "$IF_U"
	rm -f "/var/run/wireguard/$IF_U.sock" # nobody may not remove it: see the README
else
	fail "--user: wgc did not start"
	cat "$TMP/$IF_U.log"
fi

# Test: every way out wipes the keys and leaves no core file
say "wgc: exit on each signal"
for sig in INT HUP QUIT; do
	IF_S=ws${ID}${sig,,}
	echo "+ [$NS_C] $WGC -f $IF_S &  (then SIG$sig)" >&2
	(cd "$TMP" && exec ip netns exec "$NS_C" "$WGC" -f "$IF_S" >>"$TMP/$IF_S.log" 2>&1) &
	DAEMON_PID[$IF_S]=$!
	wait_socket "$IF_S" || { fail "SIG$sig: wgc did not start"; continue; }
	C wg set "$IF_S" private-key "$TMP/c.key"
	kill -"$sig" "${DAEMON_PID[$IF_S]}"
	wait "${DAEMON_PID[$IF_S]}"
	rc=$?
	unset "DAEMON_PID[$IF_S]"
	check "SIG$sig: exit status 0 (keys wiped by the normal teardown)" [ "$rc" = 0 ]
	check "SIG$sig: socket file removed" [ ! -e "/var/run/wireguard/$IF_S.sock" ]
	check "SIG$sig: no core file" bash -c "! ls $TMP/core* >/dev/null 2>&1"
done

# Test: SIGTERM ends the daemon promptly and leaves nothing behind
say "wgc: prompt exit on SIGTERM"
t0=$(date +%s%N)
check "SIGTERM: exit status 0" stop_daemon "$IF_C"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "exit took $ms ms"
check "SIGTERM: the daemon is gone within 1 s" [ "$ms" -lt 1000 ]
check "SIGTERM: socket file removed" [ ! -e "/var/run/wireguard/$IF_C.sock" ]
finish
