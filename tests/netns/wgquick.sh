#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# wg-quick with wgc as its userspace implementation: `WG_QUICK_USERSPACE_IMPLEMENTATION=wgc
# wg-quick up ./IFACE.conf` brings up addresses, routes, MTU and DNS (through a resolvconf stub that
# records what it is given) and `wg-quick down` takes it all away, daemon included. Once with
# plain routes, once with AllowedIPs = 0.0.0.0/0, ::/0 in a table of its own and an `ip rule`
# that sends everything not carrying wgc's fwmark into it: only a working SO_MARK on wgc's
# sockets keeps the tunnel's own packets out of the tunnel. (wg-quick's automatic default-route
# setup needs nft or iptables-restore, which this suite does not require.) The far side B is
# wgc, then wireguard-go.
#
#   ┌──────────── ns A ────────────┐          ┌──────────── ns B ────────────┐
#   │ IF_Q  (wg-quick + wgc)       │          │ IF_B  10.200.0.2/24          │
#   │       10.200.0.1/24          │  tunnel  │       fd00:200::2/64         │
#   │       fd00:200::1/64 MTU 1380│◀════════▶│       (wgc | wireguard-go)   │
#   │ veth0 10.250.0.1/24   :51001 ├──────────┤ :51002  10.250.0.2/24 veth0  │
#   └──────────────────────────────┘   veth   └──────────────────────────────┘
. "$(dirname "$0")/lib.sh"
require_env
need_wireguard_go
command -v wg-quick >/dev/null || skip_all "needs wg-quick"

# wg-quick finds the implementation on PATH; the resolvconf stub records DNS changes.
mkdir -p "$TMP/bin"
ln -s "$WGC" "$TMP/bin/wgc"
cat >"$TMP/bin/resolvconf" <<STUB
#!/bin/sh
echo "resolvconf \$*" >>"$TMP/resolvconf.log"
[ "\$1" = -a ] && cat >>"$TMP/resolvconf.log"
exit 0
STUB
chmod +x "$TMP/bin/resolvconf"
# With a WireGuard kernel module, wg-quick would create a kernel interface and never run wgc:
# hide `ip link add ... type wireguard` from it then.
if ip netns add "wgc-kprobe-$ID" 2>/dev/null; then
	if ip -n "wgc-kprobe-$ID" link add wgprobe type wireguard 2>/dev/null; then
		real_ip=$(command -v ip)
		printf '#!/bin/sh\ncase "$*" in *"type wireguard"*) exit 2 ;; esac\nexec %s "$@"\n' \
			"$real_ip" >"$TMP/bin/ip"
		chmod +x "$TMP/bin/ip"
	fi
	ip netns del "wgc-kprobe-$ID"
fi

quick() { A env PATH="$TMP/bin:$PATH" WG_QUICK_USERSPACE_IMPLEMENTATION=wgc wg-quick "$@"; }

for impl_b in wgc wggo; do
	for allowed in "10.200.0.2/32, fd00:200::2/128" "0.0.0.0/0, ::/0"; do
		policy=""
		if [ "$allowed" = "0.0.0.0/0, ::/0" ]; then
			policy="FwMark = 0x1234
Table = 1234
PostUp = ip -4 rule add not fwmark 0x1234 table 1234; ip -6 rule add not fwmark 0x1234 table 1234
PreDown = ip -4 rule del not fwmark 0x1234 table 1234; ip -6 rule del not fwmark 0x1234 table 1234"
		fi
		setup_pair wgc "$impl_b" || { fail "setup wgc $impl_b"; continue; }
		# A's wgc from setup_pair makes way for the one wg-quick starts.
		stop_daemon "$IF_A"
		IF_Q=wq${ID}n$SEQ
		LABEL="wg-quick+wgc->$impl_b ($allowed)"
		cat >"$TMP/$IF_Q.conf" <<CONF
[Interface]
PrivateKey = $(cat "$TMP/a.key")
Address = 10.200.0.1/24, fd00:200::1/64
ListenPort = $PORT_A
MTU = 1380
DNS = 10.200.0.53, test.internal
$policy

[Peer]
PublicKey = $PUB_B
Endpoint = 10.250.0.2:$PORT_B
AllowedIPs = $allowed
CONF
		rm -f "$TMP/resolvconf.log"

		# Test: wg-quick up
		say "$LABEL: up"
		check "$LABEL: wg-quick up" quick up "$TMP/$IF_Q.conf"
		check "$LABEL: the UAPI socket exists" [ -S "/var/run/wireguard/$IF_Q.sock" ]
		check "$LABEL: MTU 1380" bash -c "ip netns exec $NS_A ip link show $IF_Q | grep -q 'mtu 1380'"
		check "$LABEL: IPv4 address" bash -c "ip netns exec $NS_A ip -4 addr show $IF_Q | grep -q 10.200.0.1/24"
		check "$LABEL: IPv6 address" bash -c "ip netns exec $NS_A ip -6 addr show $IF_Q | grep -q fd00:200::1/64"
		check "$LABEL: DNS handed to resolvconf" \
			bash -c "grep -q 'nameserver 10.200.0.53' '$TMP/resolvconf.log' && grep -q 'search test.internal' '$TMP/resolvconf.log'"
		if [ "$allowed" = "0.0.0.0/0, ::/0" ]; then
			check "$LABEL: fwmark set by wg-quick" [ "$(A wg show "$IF_Q" fwmark)" = 0x1234 ]
			check "$LABEL: default route in table 1234" \
				bash -c "ip netns exec $NS_A ip -4 route show table 1234 | grep -q '^default dev $IF_Q'"
			check "$LABEL: policy routing rule installed" \
				bash -c "ip netns exec $NS_A ip -4 rule show | grep -q 'not from all fwmark 0x1234 lookup 1234'"
		else
			check "$LABEL: route to the peer" \
				bash -c "ip netns exec $NS_A ip -4 route show dev $IF_Q | grep -q 10.200.0.0/24"
		fi
		check "$LABEL: ping IPv4 through the tunnel" ping_ok A 10.200.0.2 5
		check "$LABEL: ping IPv6 through the tunnel" ping_ok A fd00:200::2 3
		check "$LABEL: MTU-sized ping (1380)" A ping -n -q -c 2 -i 0.2 -W 1 -M do -s 1352 10.200.0.2

		# Test: wg-quick down
		say "$LABEL: down"
		pid=$(A bash -c "ps -eo pid,args | awk '\$3 == \"$IF_Q\" && \$2 ~ /wgc\$/ { print \$1 }'")
		check "$LABEL: wg-quick down" quick down "$TMP/$IF_Q.conf"
		check "$LABEL: interface gone" bash -c "! ip netns exec $NS_A ip link show $IF_Q >/dev/null 2>&1"
		check "$LABEL: wgc exited" wait_until 5 bash -c "[ -n '$pid' ] && ! kill -0 '$pid' 2>/dev/null"
		check "$LABEL: socket removed" [ ! -e "/var/run/wireguard/$IF_Q.sock" ]
		check "$LABEL: DNS removed" grep -q "resolvconf -d" "$TMP/resolvconf.log"
		check "$LABEL: policy rules removed" \
			bash -c "! ip netns exec $NS_A ip -4 rule show | grep -q 1234"
		teardown_pair
	done
done
finish
