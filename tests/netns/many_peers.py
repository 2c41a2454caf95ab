#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Many WireGuard peers in one process, for the netns tests (tests/netns/lanes.sh).

Each peer is a libwgc endpoint (bindings/python/wgc) with a key and a UDP socket of its own, and
one peer: the interface under test in ns A. Peer i has the tunnel address 10.NET.(i/250).(i%250+1)
(NET 201 unless --net says otherwise) and the UDP port PORT_BASE+i on ns B's underlay address.

  many_peers.py config N DIR ADDR PORT_BASE
      writes peer i's private key to DIR/i.key and prints the [Peer] sections of a `wg setconf`
      file for the interface in ns A (endpoint ADDR:PORT_BASE+i, allowed IP its tunnel /32)
  many_peers.py run DIR PUBKEY ENDPOINT PORT_BASE [options]        (ns B)
      plays the peers: the first half of the selection sends first (numbered datagrams to the
      echo server ECHO_ADDR:ECHO_PORT through the tunnel, counting the echoes), the second half
      waits to be reached and echoes what the sender in ns A sends it
  many_peers.py reach [options]                                    (ns A)
      the sender in ns A: numbered datagrams to the second half's tunnel addresses, counting
      the echoes
  many_peers.py echo ADDR PORT --ready FILE --stop FILE            (ns A)
      a UDP echo server (FILE created once bound) until the stop FILE exists

Options of run and reach: --peers FIRST-LAST (default 0-99; the first half sends first),
--net NET, --count M (numbered datagrams per peer, after the first echo), --min K (echoes a peer
needs), --interval S (between datagrams of one peer), --loose FIRST-LAST (peers counted but not
required to reach K); run also --ready FILE (created once the sockets are bound), --stop FILE
(run ends when its own peers are done and FILE exists), --echo ADDR:PORT.

Every payload carries (kind, peer id, sequence). A reply counts for peer i only if it came to
peer i (its endpoint, or its tunnel address as source) and names peer i. A packet delivered to
peer i's endpoint for another address, or naming another peer, is wrong and fails the run; a
packet for the right address that is not one of ours (an ICMP error) is only counted. Until its first echo a peer repeats sequence 0 every
PROBE_INTERVAL_S (its handshake may be running, or retried); then it sends 1..M. Each command
prints one summary line and exits 1 if any required peer got fewer than K of M, or any reply
was wrong.
"""
import argparse
import base64
import os
import select
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "bindings", "python"))

MAGIC = b"WGMP"
PAYLOAD = struct.Struct(">4sBHI")  # magic, kind, peer id, sequence
PAYLOAD_LEN = 64
KIND_FROM_B = 1  # sent by a peer in B to the echo server, echoed by A's kernel
KIND_FROM_A = 2  # sent by the sender in A to a peer, echoed by the peer
SINK_PORT = 9  # the port the sender in A sends to; the peers echo whatever the port
PROBE_INTERVAL_S = 0.5
WARMUP_S = 20.0  # a handshake retried three times (REKEY_TIMEOUT) still fits
LINGER_S = 1.5  # after a peer's last datagram, how long its echoes may take
TIMEOUT_S = 90.0


def tunnel_addr(net, i):
    return "10.%d.%d.%d" % (net, i // 250, i % 250 + 1)


def payload(kind, peer_id, seq):
    return PAYLOAD.pack(MAGIC, kind, peer_id, seq).ljust(PAYLOAD_LEN, b"\0")


def parse_payload(data):
    """(kind, peer id, sequence), or None if data is not one of ours."""
    if len(data) < PAYLOAD.size:
        return None
    magic, kind, peer_id, seq = PAYLOAD.unpack_from(data)
    return (kind, peer_id, seq) if magic == MAGIC else None


def ipv4_checksum(header):
    total = sum(struct.unpack("!10H", header))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ipv4_udp(src, dst, sport, dport, data):
    """An IPv4/UDP packet with a valid header checksum (UDP checksum 0: none)."""
    total = 20 + 8 + len(data)
    header = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, 0, 0x4000, 64, 17, 0,
                                   socket.inet_aton(src), socket.inet_aton(dst)))
    header[10:12] = struct.pack("!H", ipv4_checksum(bytes(header)))
    return bytes(header) + struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data


def parse_ipv4_udp(packet):
    """(src, dst, sport, dport, data) of an IPv4/UDP packet, or None."""
    if len(packet) < 28 or packet[0] >> 4 != 4 or packet[9] != 17:
        return None
    ihl = (packet[0] & 15) * 4
    sport, dport, length = struct.unpack_from("!HHH", packet, ihl)
    return (socket.inet_ntoa(packet[12:16]), socket.inet_ntoa(packet[16:20]), sport, dport,
            packet[ihl + 8:ihl + length])


def id_range(text):
    first, _, last = text.partition("-")
    return range(int(first), int(last or first) + 1)


class Flow:
    """One peer's numbered datagrams: probes until the first echo, then 1..count."""

    def __init__(self, peer_id, count, interval_s, now):
        self.id = peer_id
        self.count = count
        self.interval_s = interval_s
        self.next_seq = 0
        self.next_at = now
        self.warmup_until = now + WARMUP_S
        self.done_at = None
        self.got = set()
        self.is_up = False

    def due(self, now):
        """The sequence number to send now, or None."""
        if self.done_at is not None or now < self.next_at:
            return None
        if not self.is_up:
            if now >= self.warmup_until:
                self.done_at = now
                return None
            self.next_at = now + PROBE_INTERVAL_S
            return 0
        seq = self.next_seq
        self.next_seq += 1
        self.next_at = now + self.interval_s
        if seq == self.count:
            self.done_at = now + LINGER_S
        return seq

    def on_echo(self, seq):
        if not self.is_up:
            self.is_up = True
            self.next_seq = 1
            self.next_at = time.monotonic()
        if 1 <= seq <= self.count:
            self.got.add(seq)

    def is_done(self, now):
        if self.done_at is None:
            return False
        return now >= self.done_at or len(self.got) == self.count

    def wake_at(self):
        return self.done_at if self.done_at is not None else self.next_at


def summarize(what, counts, required, count, minimum, wrong):
    """Prints one line about counts ({peer id: echoes}); returns whether it passed."""
    short = sorted(i for i in required if counts.get(i, 0) < minimum)
    values = sorted(counts.values()) or [0]
    print("%s: %d peers (%d required), %d with >= %d of %d (min %d, median %d), wrong %d, "
          "short: %s" % (what, len(counts), len(required),
                         len([i for i in counts if counts[i] >= minimum]), minimum, count,
                         values[0], values[len(values) // 2], wrong,
                         " ".join(map(str, short)) or "none"), flush=True)
    return not short and wrong == 0


def cmd_config(args):
    import wgc
    os.makedirs(args.dir, mode=0o700, exist_ok=True)
    for i in range(args.n):
        private = wgc.generate_private_key()
        fd = os.open(os.path.join(args.dir, "%d.key" % i), os.O_WRONLY | os.O_CREAT, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(base64.b64encode(private).decode() + "\n")
        print("[Peer]\nPublicKey = %s\nEndpoint = %s:%d\nAllowedIPs = %s/32\n"
              % (base64.b64encode(wgc.public_key(private)).decode(), args.addr,
                 args.port_base + i, tunnel_addr(args.net, i)))


class Peers:
    """The peers in ns B: endpoints, sockets, their flows (senders) or counts (reached)."""

    def __init__(self, args, ids, now):
        import wgc
        self.wgc = wgc
        self.args = args
        a_pub = base64.b64decode(args.pubkey)
        a_host, _, a_port = args.endpoint.rpartition(":")
        echo_host, _, echo_port = args.echo.rpartition(":")
        self.echo = (echo_host, int(echo_port))
        half = len(ids) // 2
        self.senders = {i: Flow(i, args.count, args.interval, now) for i in ids[:half]}
        self.reached = {i: set() for i in ids[half:]}
        self.wrong = {}  # peer id: packets delivered to it that were not its own
        self.other = 0
        self.endpoints = {}
        self.socks = {}
        for i in ids:
            with open(os.path.join(args.dir, "%d.key" % i)) as f:
                private = base64.b64decode(f.read().strip())
            ep = wgc.Endpoint(private, max_peers=1, max_allowed_ips=1)
            ep.add_peer(a_pub, endpoint=(a_host, int(a_port)), allowed_ips=["10.200.0.0/24"])
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind((args.bind, args.port_base + i))
            s.setblocking(False)
            self.endpoints[i] = ep
            self.socks[i] = s

    def carry(self, i, actions):
        for action in actions:
            if action.kind == self.wgc.ActionKind.SEND:
                try:
                    self.socks[i].sendto(action.data, action.addr)
                except OSError:  # a full queue: that datagram is lost, the protocol retries
                    pass
            elif action.kind == self.wgc.ActionKind.DELIVER:
                self.on_deliver(i, action.data)

    def on_wrong(self, i, why, packet):
        self.wrong[i] = self.wrong.get(i, 0) + 1
        if sum(self.wrong.values()) <= 5:
            print("peer %d: %s: %s" % (i, why, packet[:48].hex()), file=sys.stderr, flush=True)

    def on_deliver(self, i, packet):
        me = tunnel_addr(self.args.net, i)
        if len(packet) < 20 or packet[0] >> 4 != 4 or socket.inet_ntoa(packet[16:20]) != me:
            self.on_wrong(i, "not to %s" % me, packet)
            return
        ip = parse_ipv4_udp(packet)
        tag = parse_payload(ip[4]) if ip else None
        if tag is None:
            # Not ours but to the right peer: an ICMP error for an echo that came after its
            # sender had finished, say. Counted, not a failure.
            self.other += 1
            return
        if tag[1] != i:
            self.on_wrong(i, "names peer %d" % tag[1], packet)
            return
        kind, _, seq = tag
        if kind == KIND_FROM_B and i in self.senders:
            self.senders[i].on_echo(seq)
        elif kind == KIND_FROM_A and i in self.reached:
            if seq:
                self.reached[i].add(seq)
            src, dst, sport, dport, data = ip
            self.carry(i, self.endpoints[i].send(ipv4_udp(dst, src, dport, sport, data)))
        else:
            self.on_wrong(i, "kind %d" % kind, packet)

    def send_due(self, now):
        for i, flow in self.senders.items():
            seq = flow.due(now)
            if seq is not None:
                packet = ipv4_udp(tunnel_addr(self.args.net, i), self.echo[0], 40000 + i,
                                  self.echo[1], payload(KIND_FROM_B, i, seq))
                self.carry(i, self.endpoints[i].send(packet))

    def tick_due(self, now_ns):
        """Runs the timers that are due; returns the earliest deadline left (ns) or None."""
        earliest = None
        for i, ep in self.endpoints.items():
            deadline = ep.deadline
            if deadline is not None and deadline <= now_ns:
                self.carry(i, ep.tick(now=now_ns))
                deadline = ep.deadline
            if deadline is not None and (earliest is None or deadline < earliest):
                earliest = deadline
        return earliest

    def close(self):
        for ep in self.endpoints.values():
            ep.close()


def cmd_run(args):
    ids = list(id_range(args.peers))
    start = time.monotonic()
    peers = Peers(args, ids, start)
    by_fd = {s.fileno(): i for i, s in peers.socks.items()}
    poller = select.poll()
    for fd in by_fd:
        poller.register(fd, select.POLLIN)
    if args.ready:
        open(args.ready, "w").close()
    while True:
        now = time.monotonic()
        senders_done = all(f.is_done(now) for f in peers.senders.values())
        stopped = not args.stop or os.path.exists(args.stop)
        if (senders_done and stopped) or now - start > TIMEOUT_S:
            break
        peers.send_due(now)
        earliest_ns = peers.tick_due(time.monotonic_ns())
        wake = min([f.wake_at() for f in peers.senders.values() if not f.is_done(now)]
                   + [now + 0.2])
        if earliest_ns is not None:
            wake = min(wake, earliest_ns / 1e9)
        for fd, _ in poller.poll(max(0, int((wake - time.monotonic()) * 1000))):
            i = by_fd[fd]
            for _ in range(64):
                try:
                    data, source = peers.socks[i].recvfrom(65536)
                except BlockingIOError:
                    break
                peers.carry(i, peers.endpoints[i].receive(data, source))
    loose = set(id_range(args.loose)) if args.loose else set()
    ok = summarize("sent first", {i: len(f.got) for i, f in peers.senders.items()},
                   [i for i in peers.senders if i not in loose], args.count, args.min,
                   sum(peers.wrong.get(i, 0) for i in peers.senders))
    ok &= summarize("reached", {i: len(s) for i, s in peers.reached.items()},
                    [i for i in peers.reached if i not in loose], args.count, args.min,
                    sum(peers.wrong.get(i, 0) for i in peers.reached))
    drops = {}
    for ep in peers.endpoints.values():
        for reason, n in ep.drops.items():
            drops[reason] = drops.get(reason, 0) + n
    print("peers' drops:", {k: v for k, v in drops.items() if v}, "; other packets:", peers.other,
          flush=True)
    peers.close()
    sys.exit(0 if ok else 1)


def cmd_reach(args):
    ids = list(id_range(args.peers))
    ids = ids[len(ids) // 2:]
    addr_of = {tunnel_addr(args.net, i): i for i in ids}
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((args.bind, 0))
    s.setblocking(False)
    start = time.monotonic()
    flows = {i: Flow(i, args.count, args.interval, start) for i in ids}
    wrong = 0
    while True:
        now = time.monotonic()
        if all(f.is_done(now) for f in flows.values()) or now - start > TIMEOUT_S:
            break
        for i, flow in flows.items():
            seq = flow.due(now)
            if seq is not None:
                try:
                    s.sendto(payload(KIND_FROM_A, i, seq), (tunnel_addr(args.net, i), SINK_PORT))
                except OSError:  # no route yet, a full queue: the next probe or number goes on
                    pass
        wake = min([f.wake_at() for f in flows.values() if not f.is_done(now)] + [now + 0.2])
        select.select([s], [], [], max(0, wake - time.monotonic()))
        while True:
            try:
                data, (host, _) = s.recvfrom(65536)
            except BlockingIOError:
                break
            tag = parse_payload(data)
            i = addr_of.get(host)
            if tag is None or i is None or tag[0] != KIND_FROM_A or tag[1] != i:
                wrong += 1
                continue
            flows[i].on_echo(tag[2])
    loose = set(id_range(args.loose)) if args.loose else set()
    ok = summarize("reached from A", {i: len(f.got) for i, f in flows.items()},
                   [i for i in flows if i not in loose], args.count, args.min, wrong)
    sys.exit(0 if ok else 1)


def cmd_echo(args):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind((args.addr, args.port))
    s.setblocking(False)
    open(args.ready, "w").close()
    start = time.monotonic()
    echoed = 0
    while not os.path.exists(args.stop) and time.monotonic() - start < TIMEOUT_S:
        select.select([s], [], [], 0.2)
        while True:
            try:
                data, source = s.recvfrom(65536)
                s.sendto(data, source)
                echoed += 1
            except BlockingIOError:
                break
            except OSError:  # a reply that cannot go out now; the sender counts the loss
                pass
    print("echo server: %d datagrams echoed" % echoed, flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("config")
    p.add_argument("n", type=int)
    p.add_argument("dir")
    p.add_argument("addr")
    p.add_argument("port_base", type=int)
    p.add_argument("--net", type=int, default=201)
    p.set_defaults(fn=cmd_config)
    p = sub.add_parser("echo")
    p.add_argument("addr")
    p.add_argument("port", type=int)
    p.add_argument("--ready", required=True)
    p.add_argument("--stop", required=True)
    p.set_defaults(fn=cmd_echo)
    for name, fn in (("run", cmd_run), ("reach", cmd_reach)):
        p = sub.add_parser(name)
        if name == "run":
            p.add_argument("dir")
            p.add_argument("pubkey")
            p.add_argument("endpoint")
            p.add_argument("port_base", type=int)
            p.add_argument("--bind", default="10.250.0.2")
            p.add_argument("--echo", default="10.200.0.1:7007")
            p.add_argument("--ready")
            p.add_argument("--stop")
        else:
            p.add_argument("--bind", default="10.200.0.1")
        p.add_argument("--peers", default="0-99")
        p.add_argument("--net", type=int, default=201)
        p.add_argument("--count", type=int, default=20)
        p.add_argument("--min", type=int, default=5)
        p.add_argument("--interval", type=float, default=0.05)
        p.add_argument("--loose")
        p.set_defaults(fn=fn)
    args = parser.parse_args()
    args.fn(args)


if __name__ == "__main__":
    main()
