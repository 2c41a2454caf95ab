#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# systemd readiness (Type=notify): wgc sends READY=1 to $NOTIFY_SOCKET once its interface and
# UAPI socket exist and the sandbox is on, from the process that stays, and STOPPING=1 when it
# shuts down. A small listener (notify_listener.py, SO_PASSCRED like systemd) stands in for
# systemd and notes, for each datagram, whether the socket file and the interface existed when
# it arrived. One namespace, no peer:
#
#   ┌──────────── ns C ─────────────────────────────────────────────┐
#   │ wgc IF_C  ── /var/run/wireguard/IF_C.sock                      │
#   │    └── READY=1 / STOPPING=1 ──▶ notify_listener.py ($TMP/...)  │
#   └────────────────────────────────────────────────────────────────┘
. "$(dirname "$0")/lib.sh"
require_env

NS_C=wgcN-$ID
add_ns "$NS_C"
LISTENER="python3 $ROOT/tests/netns/notify_listener.py"

# start_listener ADDRESS IFACE: the listener in the background; waits until it is bound.
start_listener() {
	NOTES=$TMP/notes-$2
	rm -f "$NOTES"
	echo "+ [$NS_C] notify_listener.py $1 $2 &" >&2
	ip netns exec "$NS_C" $LISTENER "$1" "$2" "$NOTES" 20 &
	LISTENER_PID=$!
	wait_until 5 grep -qs listening "$NOTES"
}

# Test: foreground (as wgc@.service runs it), path socket
say "wgc -f with NOTIFY_SOCKET as a path"
IF_C=wn${ID}a
start_listener "$TMP/notify.sock" "$IF_C"
echo "+ [$NS_C] NOTIFY_SOCKET=$TMP/notify.sock $WGC -f $IF_C &" >&2
ip netns exec "$NS_C" env NOTIFY_SOCKET="$TMP/notify.sock" LOG_LEVEL=verbose \
	"$WGC" -f "$IF_C" >>"$TMP/$IF_C.log" 2>&1 &
DAEMON_PID[$IF_C]=$!
check "READY=1 arrives" wait_until 5 grep -q 'READY=1' "$NOTES"
cat "$NOTES"
check "READY=1 comes from the daemon's pid" grep -q "^pid=${DAEMON_PID[$IF_C]} .*READY=1" "$NOTES"
check "the UAPI socket existed when READY=1 arrived" grep -q 'uapi=yes .*READY=1' "$NOTES"
check "the interface existed when READY=1 arrived" grep -q 'iface=yes .*READY=1' "$NOTES"
check "no MAINPID in the foreground" sh -c "! grep -q MAINPID '$NOTES'"
check "READY=1 was sent inside the sandbox (seccomp on)" \
	grep -q 'sandbox:.*seccomp' "$TMP/$IF_C.log"
check "the daemon serves wg after READY=1" C wg show "$IF_C" private-key
check "the daemon exits 0 on SIGTERM" stop_daemon "$IF_C"
check "STOPPING=1 arrives at shutdown" wait_until 5 grep -q STOPPING=1 "$NOTES"
wait "$LISTENER_PID" 2>/dev/null

# Test: foreground, abstract socket name (@...)
say "wgc -f with NOTIFY_SOCKET as an abstract name"
IF_C=wn${ID}b
start_listener "@wgc-notify-$ID" "$IF_C"
echo "+ [$NS_C] NOTIFY_SOCKET=@wgc-notify-$ID $WGC -f $IF_C &" >&2
ip netns exec "$NS_C" env NOTIFY_SOCKET="@wgc-notify-$ID" LOG_LEVEL=verbose \
	"$WGC" -f "$IF_C" >>"$TMP/$IF_C.log" 2>&1 &
DAEMON_PID[$IF_C]=$!
check "READY=1 arrives on the abstract socket" wait_until 5 grep -q 'READY=1' "$NOTES"
cat "$NOTES"
check "the UAPI socket existed when READY=1 arrived" grep -q 'uapi=yes .*READY=1' "$NOTES"
check "the daemon exits 0 on SIGTERM" stop_daemon "$IF_C"
check "STOPPING=1 arrives at shutdown" wait_until 5 grep -q STOPPING=1 "$NOTES"
wait "$LISTENER_PID" 2>/dev/null

# Test: detaching (no -f): READY=1 comes from the child that stays, with MAINPID
say "wgc detaching, with NOTIFY_SOCKET"
IF_C=wn${ID}c
start_listener "$TMP/notify.sock" "$IF_C"
check "wgc returns once set up" \
	ip netns exec "$NS_C" env NOTIFY_SOCKET="$TMP/notify.sock" "$WGC" "$IF_C"
check "READY=1 arrives" wait_until 5 grep -q 'READY=1' "$NOTES"
cat "$NOTES"
mainpid=$(sed -n 's/.*READY=1 MAINPID=\([0-9]*\).*/\1/p' "$NOTES")
check "READY=1 names MAINPID" test -n "$mainpid"
[ -n "$mainpid" ] && DAEMON_PID[$IF_C]=$mainpid
check "MAINPID is the sender and a running wgc" \
	sh -c "grep -q '^pid=$mainpid ' '$NOTES' && [ \"\$(cat /proc/$mainpid/comm)\" = wgc ]"
check "the UAPI socket existed when READY=1 arrived" grep -q 'uapi=yes .*READY=1' "$NOTES"
C ip link del "$IF_C"
check "STOPPING=1 arrives when the interface is deleted" wait_until 5 grep -q STOPPING=1 "$NOTES"
check "the daemon exits" wait_until 5 sh -c "! kill -0 $mainpid 2>/dev/null"
unset "DAEMON_PID[$IF_C]"
wait "$LISTENER_PID" 2>/dev/null

# Test: under wgc@.service's limits: bounding set CAP_NET_ADMIN CAP_NET_BIND_SERVICE,
# NoNewPrivileges, LimitMEMLOCK=infinity (what the unit relies on, without a service manager).
# Raising RLIMIT_MEMLOCK needs CAP_SYS_RESOURCE, which some hosts (containers, this CI) lack:
# there the daemon keeps CAP_IPC_LOCK instead, so the test lets it have that.
say "wgc -f with the capabilities and limits of wgc@.service"
IF_C=wn${ID}e
caps=+net_admin,+net_bind_service
want_eff=0000000000001400
limit=(prlimit --memlock=unlimited:unlimited)
if ! prlimit --memlock=unlimited:unlimited true 2>/dev/null; then
	echo "(cannot raise RLIMIT_MEMLOCK here: bounding set with CAP_IPC_LOCK as well)"
	caps=$caps,+ipc_lock
	want_eff=0000000000005400
	limit=()
fi
start_listener "$TMP/notify.sock" "$IF_C"
echo "+ [$NS_C] ${limit[*]} setpriv --bounding-set=-all,$caps ... $WGC -f $IF_C &" >&2
ip netns exec "$NS_C" env NOTIFY_SOCKET="$TMP/notify.sock" LOG_LEVEL=verbose \
	"${limit[@]}" setpriv --no-new-privs --inh-caps=-all --bounding-set=-all,$caps \
	"$WGC" -f "$IF_C" >>"$TMP/$IF_C.log" 2>&1 &
DAEMON_PID[$IF_C]=$!
check "READY=1 arrives" wait_until 5 grep -q 'READY=1' "$NOTES"
check "the key memory is locked" sh -c "! grep -q 'cannot lock' '$TMP/$IF_C.log'"
check "the daemon keeps only the capabilities it needs ($want_eff)" \
	test "$(awk '/^CapEff/ { print $2 }' "/proc/${DAEMON_PID[$IF_C]}/status")" = $want_eff
(umask 077 && wg genkey >"$TMP/e.key")
check "wg configures it" C wg set "$IF_C" private-key "$TMP/e.key" listen-port 51820
check "the daemon exits 0 on SIGTERM" stop_daemon "$IF_C"
wait "$LISTENER_PID" 2>/dev/null

# Test: a NOTIFY_SOCKET that is not a socket address: logged, the daemon still runs
say "wgc -f with a bad NOTIFY_SOCKET"
IF_C=wn${ID}d
ip netns exec "$NS_C" env NOTIFY_SOCKET=relative/path "$WGC" -f "$IF_C" >>"$TMP/$IF_C.log" 2>&1 &
DAEMON_PID[$IF_C]=$!
check "the daemon starts anyway" wait_socket "$IF_C"
check "the bad NOTIFY_SOCKET is logged" grep -q 'NOTIFY_SOCKET=relative/path' "$TMP/$IF_C.log"
check "the daemon exits 0 on SIGTERM" stop_daemon "$IF_C"

finish
