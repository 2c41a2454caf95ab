#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The UAPI of wgc against raw requests: malformed, huge, binary, unterminated and slow requests
# get the right errno (or a closed connection) and leave `wg showconf` exactly as it was; a valid
# request with one bad line is not applied in part; thousands of peers in one request; the
# capacity limit; allowed_ip=-PREFIX, update_only and remove. wgc only (wireguard-go applies a
# request line by line, so a bad line leaves the lines before it applied).
#
#   ┌──────────── ns C ────────────┐
#   │ IF_C  (wgc, no underlay)     │◀── raw requests on /var/run/wireguard/IF_C.sock
#   └──────────────────────────────┘
. "$(dirname "$0")/lib.sh"
require_env

SEQ=$((SEQ + 1))
NS_C=wgcC-$ID-$SEQ
IF_C=wc${ID}n$SEQ
add_ns "$NS_C"
start_daemon "$NS_C" wgc "$IF_C"
wg genkey >"$TMP/c.key"
wg genpsk >"$TMP/psk"
PUB_1=$(wg genkey | wg pubkey)
PUB_2=$(wg genkey | wg pubkey)
C wg set "$IF_C" private-key "$TMP/c.key" listen-port 51820 fwmark 0x42 \
	peer "$PUB_1" preshared-key "$TMP/psk" endpoint 10.250.0.2:51820 persistent-keepalive 25 \
	allowed-ips 10.200.0.2/32,fd00:200::2/128 \
	peer "$PUB_2" endpoint "[fd00:250::3]:51821" allowed-ips 10.200.0.3/32,10.201.0.0/16
C wg showconf "$IF_C" >"$TMP/before.conf"
unchanged() { C wg showconf "$IF_C" | diff -u "$TMP/before.conf" - ; }
alive() { kill -0 "${DAEMON_PID[$IF_C]}"; }
# hexkey BASE64: the hex form the UAPI uses
hexkey() { echo "$1" | base64 -d | od -An -tx1 | tr -d ' \n'; }
raw() { printf "$1" | C $TOOLS uapi "$IF_C"; }

# Test: bad UAPI requests
say "bad requests"
check "every bad request gets its errno or a closed connection" C $TOOLS bad-uapi "$IF_C"
check "wgc is still running" alive
check "wg showconf is unchanged after the bad requests" unchanged

# Test: a valid request with one bad line is not applied at all
say "no partial application"
reply=$(raw "set=1\nprivate_key=$(hexkey "$(wg genkey)")\nlisten_port=40001\nreplace_peers=true\npublic_key=$(hexkey "$PUB_2")\nremove=true\npublic_key=$(hexkey "$PUB_1")\nallowed_ip=10.9.9.9/32\npersistent_keepalive_interval=seventy\n\n")
check "errno=-22 for the bad last line" [ "$reply" = "errno=-22" ]
check "nothing of it was applied" unchanged
# a port already in use fails in validation, after everything else was accepted
C python3 -c "import socket,time; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(('0.0.0.0',40002)); time.sleep(3)" &
holder=$!
sleep 0.5
reply=$(raw "set=1\nlisten_port=40002\nreplace_peers=true\n\n")
check "a busy port: errno=-98 (EADDRINUSE)" [ "$reply" = "errno=-98" ]
check "nothing of it was applied" unchanged
wait $holder

# Test: thousands of peers in one request, and the capacity limit
say "many peers"
C python3 -c "
import os, sys
out = ['set=1']
for i in range(5000):
    out += ['public_key=' + os.urandom(32).hex(), 'endpoint=10.250.%d.%d:51820' % (i // 250, i % 250 + 1),
            'allowed_ip=10.%d.%d.%d/32' % (100 + i // 65536, i // 256 % 256, i % 256)]
sys.stdout.write('\n'.join(out) + '\n\n')" >"$TMP/5000.req"
check "5000 peers in one request: errno=0" \
	[ "$(C $TOOLS uapi "$IF_C" <"$TMP/5000.req")" = "errno=0" ]
check "wg show lists 5002 peers" [ "$(C wg show "$IF_C" peers | wc -l)" = 5002 ]
check "wg syncconf back to the two peers" C wg syncconf "$IF_C" "$TMP/before.conf"
check "the configuration is as before" unchanged
C python3 -c "
import os, sys
out = ['set=1']
for i in range(65537):
    out += ['public_key=' + os.urandom(32).hex()]
sys.stdout.write('\n'.join(out) + '\n\n')" >"$TMP/65537.req"
check "65537 peers (over the limit): errno=-28 (ENOSPC)" \
	[ "$(C $TOOLS uapi "$IF_C" <"$TMP/65537.req")" = "errno=-28" ]
check "nothing of it was applied" unchanged

# Test: allowed_ip=-PREFIX, update_only, remove
say "allowed_ip removal, update_only, remove"
check "allowed_ip=-10.201.0.0/16 answers errno=0" \
	[ "$(raw "set=1\npublic_key=$(hexkey "$PUB_2")\nallowed_ip=-10.201.0.0/16\n\n")" = errno=0 ]
check "only that prefix is gone" [ "$(wg_field C "$IF_C" allowed-ips "$PUB_2")" = 10.200.0.3/32 ]
check "removing a prefix the peer does not have is fine" \
	[ "$(raw "set=1\npublic_key=$(hexkey "$PUB_2")\nallowed_ip=-10.99.0.0/16\n\n")" = errno=0 ]
PUB_3=$(wg genkey | wg pubkey)
check "update_only for an unknown peer answers errno=0" \
	[ "$(raw "set=1\npublic_key=$(hexkey "$PUB_3")\nupdate_only=true\nallowed_ip=10.7.0.0/16\n\n")" = errno=0 ]
check "update_only did not create the peer" bash -c "! ip netns exec $NS_C wg show $IF_C peers | grep -q '$PUB_3'"
C wg set "$IF_C" peer "$PUB_3" remove
check "removing an unknown peer creates nothing" [ "$(C wg show "$IF_C" peers | wc -l)" = 2 ]
own=$(wg pubkey <"$TMP/c.key")
C wg set "$IF_C" peer "$own" allowed-ips 10.6.0.0/16
check "a peer with our own public key is ignored" [ "$(C wg show "$IF_C" peers | wc -l)" = 2 ]
check "wgc is still running" alive
check "SIGTERM: exit status 0" stop_daemon "$IF_C"
finish
