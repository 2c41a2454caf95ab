#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Helpers for tests/netns/proxy.sh (wgc-proxy), run inside a namespace with `ip netns exec`.

  proxy_tools.py serve ADDR PORT MB     accept one TCP connection, send MB MiB of random data,
                                        close; print "<bytes> <sha256>"
  proxy_tools.py fetch ADDR PORT        connect, read to EOF; print "<bytes> <sha256>"
  proxy_tools.py socks-bad ADDR PORT TARGET REFUSED_PORT
                                        malformed, unsupported and unreachable SOCKS5 requests
                                        against a proxy without authentication; one
                                        "PASS|FAIL <case>: ..." line each, exit 1 on a failure
  proxy_tools.py socks-auth ADDR PORT USER PASSWORD TARGET
                                        the RFC 1929 cases against a proxy with authentication
  proxy_tools.py socks-udp ADDR PORT TARGET TARGET_PORT COUNT
                                        SOCKS5 UDP ASSOCIATE to a UDP echo server through the
                                        proxy; print "<echoed> <count> ..."
  proxy_tools.py socks-udp-names ADDR PORT NAME TARGET TARGET_PORT COUNT
                                        the same with the destination as a name (ATYP 3),
                                        the first datagram sent while it still resolves
  proxy_tools.py tcp-echo-server ADDR PORT      a TCP echo server for many connections
  proxy_tools.py tcp-echo-stream ADDR PORT      a TCP echo server for long streams (a thread
                                        each, blocking writes, FIN answered with FIN)
  proxy_tools.py socks-many ADDR PORT TARGET TARGET_PORT COUNT
                                        COUNT SOCKS5 connections open at once, each echoing
                                        1 KiB; print "<ok> <count>"
  proxy_tools.py socks-rate ADDR PORT TARGET TARGET_PORT SECONDS [WORKERS]
                                        SOCKS5 connections set up per second (one echoed
                                        byte each, WORKERS at once); print "<rate> <failed>"
  proxy_tools.py dns-server ADDR NAME=IP...
                                        a DNS server on ADDR:53 answering A/AAAA from the list
  proxy_tools.py udp-paced ADDR PORT COUNT SIZE   numbered datagrams at about 10 MB/s
  proxy_tools.py udp-echo-server ADDR PORT      echo every datagram to its sender
  proxy_tools.py udp-echo-client ADDR PORT COUNT
                                        COUNT datagrams one at a time; print "<echoed> <count>"
  proxy_tools.py http-bad ADDR PORT TARGET REFUSED_PORT
                                        malformed and unreachable HTTP proxy requests
"""
import os
import socket
import struct
import sys
import time


from tools import accept_one, connect_retry, recv_hashed, send_random, tcp_family as family


def cmd_serve(addr, port, mb):
    conn = accept_one(addr, port)
    total, digest = send_random(conn, mb)
    conn.close()
    print(total, digest, flush=True)


def cmd_fetch(addr, port):
    print(*recv_hashed(connect_retry(addr, port, "fetch")), flush=True)


class Case:
    failed = 0

    def __init__(self, addr, port):
        self.addr = addr
        self.port = int(port)

    def connect(self):
        s = socket.create_connection((self.addr, self.port), timeout=5)
        s.settimeout(5)
        return s

    @staticmethod
    def read_reply(s, n):
        """Reads up to n bytes, then whether the proxy closed the connection after them."""
        out = b""
        try:
            while len(out) < n:
                d = s.recv(n - len(out))
                if not d:
                    return out, True
                out += d
            d = s.recv(1)
            return out, d == b""
        except socket.timeout:
            return out, False
        except ConnectionResetError:
            return out, True

    def check(self, name, ok, detail=""):
        if ok:
            print(f"PASS {name}{': ' + detail if detail else ''}", flush=True)
        else:
            Case.failed += 1
            print(f"FAIL {name}{': ' + detail if detail else ''}", flush=True)

    def exchange(self, name, sends, want, want_closed=True, reply_len=None, max_s=None):
        """Sends each byte string of sends in turn, then reads the reply."""
        start = time.monotonic()
        s = self.connect()
        try:
            for data in sends:
                s.sendall(data)
        except OSError:
            pass  # the proxy may close before it has read everything
        got, closed = self.read_reply(s, reply_len if reply_len is not None else len(want))
        s.close()
        took = time.monotonic() - start
        ok = got[: len(want)] == want and (closed or not want_closed)
        if max_s is not None:
            ok = ok and took <= max_s
        self.check(name, ok, f"reply {got.hex() or 'none'}, closed {closed}, {took:.2f} s")


def request(cmd, atyp, addr, port, rsv=0):
    return bytes([5, cmd, rsv, atyp]) + addr + struct.pack(">H", port)


def ipv4(text):
    return socket.inet_aton(text)


def cmd_socks_bad(addr, port, target, refused_port):
    c = Case(addr, port)
    hello = b"\x05\x01\x00"
    # a client that says nothing: closed after the handshake timeout (checked at the end)
    stall = c.connect()
    stall_start = time.monotonic()

    c.exchange("socks4 request (wrong version): closed, no reply",
               [b"\x04\x01\x00\x50" + ipv4(target) + b"\x00"], b"", reply_len=1)
    c.exchange("greeting with zero methods: 05 ff", [b"\x05\x00"], b"\x05\xff")
    c.exchange("greeting offering only user/password: 05 ff", [b"\x05\x01\x02"], b"\x05\xff")
    c.exchange("request with wrong version: closed", [hello, b"\x04\x01\x00\x01" + ipv4(target)
               + b"\x00\x50"], b"\x05\x00", reply_len=3)
    c.exchange("unknown command 9: 05 07", [hello, request(9, 1, ipv4(target), 80)],
               b"\x05\x00\x05\x07", reply_len=12)
    c.exchange("BIND: 05 07", [hello, request(2, 1, ipv4(target), 80)], b"\x05\x00\x05\x07", reply_len=12)
    c.exchange("address type 7: 05 08", [hello, b"\x05\x01\x00\x07"], b"\x05\x00\x05\x08", reply_len=12)
    c.exchange("reserved byte set: 05 01", [hello, request(1, 1, ipv4(target), 80, rsv=1)],
               b"\x05\x00\x05\x01", reply_len=12)
    c.exchange("empty domain name: 05 01", [hello, b"\x05\x01\x00\x03\x00\x00\x50"],
               b"\x05\x00\x05\x01", reply_len=12)
    c.exchange("NUL in domain name: 05 01", [hello, b"\x05\x01\x00\x03\x03a\x00b\x00\x50"],
               b"\x05\x00\x05\x01", reply_len=12)
    c.exchange("oversized greeting and 20 kB of junk: closed",
               [b"\x05\xff" + bytes(range(255)) + bytes(20000)], b"", reply_len=4096)
    c.exchange("no route to 10.99.0.1: 05 03 at once", [hello, request(1, 1, ipv4("10.99.0.1"),
               80)], b"\x05\x00\x05\x03", max_s=1.0, reply_len=12)
    c.exchange("closed port: 05 05 (connection refused) quickly",
               [hello, request(1, 1, ipv4(target), int(refused_port))], b"\x05\x00\x05\x05",
               max_s=3.0, reply_len=12)
    name = b"no-such-host.invalid"
    c.exchange("unresolvable name: 05 04", [hello, request(1, 3, bytes([len(name)]) + name, 80)],
               b"\x05\x00\x05\x04", reply_len=12)
    # truncated: half a request, then the client goes away (counted as truncated)
    s = c.connect()
    s.sendall(hello + b"\x05\x01\x00")
    s.close()
    # byte by byte: a slow but correct client still gets through
    s = c.connect()
    for b in hello + request(1, 1, ipv4(target), 8000):
        s.sendall(bytes([b]))
        time.sleep(0.005)
    got, _ = Case.read_reply(s, 2 + 10)
    s.close()
    c.check("request sent byte by byte: succeeded", got[:4] == b"\x05\x00\x05\x00",
            got.hex())
    # a burst of junk connections, then a good one
    junk = []
    for i in range(200):
        j = c.connect()
        j.sendall(os.urandom(1 + i % 40))
        junk.append(j)
    for j in junk:
        j.close()
    s = c.connect()
    s.sendall(hello + request(1, 1, ipv4(target), 8000))
    got, _ = Case.read_reply(s, 2 + 10)
    s.close()
    c.check("after 200 junk connections a good request succeeds", got[:4] == b"\x05\x00\x05\x00",
            got.hex())
    stall.settimeout(max(1.0, 13 - (time.monotonic() - stall_start)))
    try:
        closed = stall.recv(1) == b""
    except (socket.timeout, ConnectionResetError):
        closed = False
    took = time.monotonic() - stall_start
    c.check("silent client closed after the handshake timeout", closed and 9 <= took <= 13,
            f"{took:.1f} s")
    sys.exit(1 if Case.failed else 0)


def cmd_socks_auth(addr, port, user, password, target):
    c = Case(addr, port)
    u = user.encode()
    p = password.encode()
    c.exchange("no-auth client on an auth proxy: 05 ff", [b"\x05\x01\x00"], b"\x05\xff")
    c.exchange("wrong password: 01 01", [b"\x05\x01\x02",
               bytes([1, len(u)]) + u + bytes([len(p) + 1]) + p + b"x"], b"\x05\x02\x01\x01")
    c.exchange("wrong user: 01 01", [b"\x05\x01\x02", bytes([1, 1]) + b"x" + bytes([len(p)]) + p],
               b"\x05\x02\x01\x01")
    c.exchange("bad sub-negotiation version: 01 01", [b"\x05\x01\x02",
               bytes([5, len(u)]) + u + bytes([len(p)]) + p], b"\x05\x02\x01\x01")
    c.exchange("right credentials: 01 00, then CONNECT succeeds",
               [b"\x05\x02\x00\x02", bytes([1, len(u)]) + u + bytes([len(p)]) + p,
                request(1, 1, ipv4(target), 8000)], b"\x05\x02\x01\x00\x05\x00",
               want_closed=False, reply_len=4 + 10)
    sys.exit(1 if Case.failed else 0)


def cmd_http_bad(addr, port, target, refused_port):
    c = Case(addr, port)

    def status(name, head, code, max_s=None):
        start = time.monotonic()
        s = c.connect()
        try:
            s.sendall(head)
        except OSError:
            pass
        got, closed = Case.read_reply(s, 4096)
        s.close()
        took = time.monotonic() - start
        line = got.split(b"\r\n", 1)[0].decode(errors="replace")
        ok = line.startswith(f"HTTP/1.1 {code} ") and closed
        if max_s is not None:
            ok = ok and took <= max_s
        c.check(name, ok, f"{line or 'no reply'}, closed {closed}, {took:.2f} s")

    status("origin-form request (not a proxy request): 400", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
           400)
    status("https:// in absolute form: 501", b"GET https://x/ HTTP/1.1\r\n\r\n", 501)
    status("HTTP/2.0: 501", b"CONNECT x:1 HTTP/2.0\r\n\r\n", 501)
    status("binary junk: 400", bytes(range(1, 200)) + b"\r\n\r\n", 400)
    status("header without a colon: 400", b"CONNECT a:1 HTTP/1.1\r\njunk\r\n\r\n", 400)
    status("a 10 kB head: 431", b"GET http://x/ HTTP/1.1\r\nX: " + b"a" * 10000 + b"\r\n\r\n",
           431)
    status("CONNECT with no route: 502 at once", f"CONNECT 10.99.0.1:80 HTTP/1.1\r\n\r\n".encode(),
           502, max_s=1.0)
    status("CONNECT to a closed port: 502 quickly",
           f"CONNECT {target}:{refused_port} HTTP/1.1\r\n\r\n".encode(), 502, max_s=3.0)
    status("unresolvable name: 502", b"CONNECT no-such-host.invalid:80 HTTP/1.1\r\n\r\n", 502)
    sys.exit(1 if Case.failed else 0)


def cmd_dns_server(addr, *entries):
    """Answers A and AAAA queries from NAME=IP entries (NXDOMAIN for other names)."""
    table = {}
    for e in entries:
        name, ip = e.split("=", 1)
        table.setdefault(name.lower(), []).append(ip)
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    s.bind((addr, 53))
    while True:
        q, peer = s.recvfrom(1500)
        try:
            pos, labels = 12, []
            while q[pos]:
                labels.append(q[pos + 1:pos + 1 + q[pos]].decode())
                pos += 1 + q[pos]
            qtype, _ = struct.unpack(">HH", q[pos + 1:pos + 5])
            question = q[12:pos + 5]
        except (IndexError, struct.error, UnicodeDecodeError):
            continue
        name = ".".join(labels).lower()
        answers = []
        for ip in table.get(name, []):
            if qtype == 1 and ":" not in ip:
                answers.append(struct.pack(">HHHIH", 0xC00C, 1, 1, 60, 4) + socket.inet_aton(ip))
            elif qtype == 28 and ":" in ip:
                answers.append(struct.pack(">HHHIH", 0xC00C, 28, 1, 60, 16)
                               + socket.inet_pton(socket.AF_INET6, ip))
        rcode = 0 if name in table else 3
        head = q[:2] + struct.pack(">HHHHH", 0x8180 | rcode, 1, len(answers), 0, 0)
        s.sendto(head + question + b"".join(answers), peer)


def cmd_udp_echo_server(addr, port):
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    s.bind((addr, int(port)))
    while True:
        d, peer = s.recvfrom(65536)
        s.sendto(d, peer)


def cmd_udp_echo_client(addr, port, count):
    """Sends COUNT numbered datagrams one at a time, waiting up to 1 s for each echo; prints
    "<echoed> <count>"."""
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    s.settimeout(1)
    echoed = 0
    for n in range(int(count)):
        msg = n.to_bytes(8, "big") + os.urandom(100)
        s.sendto(msg, (addr, int(port)))
        try:
            while True:
                d = s.recv(65536)
                if d == msg:
                    echoed += 1
                    break
        except socket.timeout:
            pass
    print(echoed, count, flush=True)


def cmd_udp_paced(addr, port, count, size):
    """COUNT numbered datagrams of SIZE bytes, about 10 MB/s (10 per millisecond)."""
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    pad = os.urandom(int(size) - 8)
    for n in range(int(count)):
        s.sendto(n.to_bytes(8, "big") + pad, (addr, int(port)))
        if n % 10 == 9:
            time.sleep(0.001)


def associate(addr, port, who):
    """A SOCKS5 UDP ASSOCIATE (no auth) from any address: the TCP connection that keeps it and
    the relay's (address, port). Exits with WHO in the message if the proxy refuses."""
    tcp = socket.create_connection((addr, int(port)), timeout=5)
    tcp.sendall(b"\x05\x01\x00" + request(3, 1, ipv4("0.0.0.0"), 0))
    got, _ = Case.read_reply(tcp, 2 + 10)
    if got[:4] != b"\x05\x00\x05\x00" or got[5] != 1:
        sys.exit(f"{who}: ASSOCIATE failed: {got.hex()}")
    return tcp, (socket.inet_ntoa(got[6:10]), struct.unpack(">H", got[10:12])[0])


def cmd_socks_udp(addr, port, target, target_port, count):
    """UDP ASSOCIATE, then COUNT wrapped datagrams to an echo server at TARGET:TARGET_PORT, one
    at a time; the echoes must come back wrapped with the target as their source. Then the
    association must end with its TCP connection. Prints "<echoed> <count>"."""
    tcp, relay = associate(addr, port, "socks-udp")
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.settimeout(1)
    head = b"\x00\x00\x00\x01" + ipv4(target) + struct.pack(">H", int(target_port))
    echoed = 0
    for n in range(int(count)):
        body = n.to_bytes(8, "big") + os.urandom(200)
        u.sendto(head + body, relay)
        try:
            while True:
                d = u.recv(65536)
                if d == head + body:
                    echoed += 1
                    break
        except socket.timeout:
            pass
    # a fragment and a datagram from another socket are dropped, the association goes on
    u.sendto(b"\x00\x00\x01\x01" + ipv4(target) + struct.pack(">H", int(target_port)) + b"x",
             relay)
    other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    other.sendto(head + b"intruder", relay)
    other.settimeout(0.5)
    try:
        other.recv(100)
        intruder_answered = True
    except socket.timeout:
        intruder_answered = False
    tcp.close()
    time.sleep(0.5)
    u.sendto(head + b"after close", relay)
    try:
        u.recv(100)
        after_close = True
    except (socket.timeout, ConnectionRefusedError):
        after_close = False
    print(echoed, count, "intruder answered" if intruder_answered else "intruder dropped",
          "open after close" if after_close else "closed with TCP", flush=True)
    ok = echoed >= int(count) * 98 // 100 and not intruder_answered and not after_close
    sys.exit(0 if ok else 1)


def cmd_socks_udp_names(addr, port, name, target, target_port, count):
    """UDP ASSOCIATE with destinations given as names (ATYP 3): the first datagram to NAME
    (which resolves to TARGET through the tunnel's DNS) must come back although the proxy is
    still resolving when it arrives, then COUNT more one at a time; the echoes come wrapped with
    TARGET's address as their source. A datagram to a name that does not resolve is dropped
    and the association goes on. Prints "<echoed> <count> ..."."""
    tcp, relay = associate(addr, port, "socks-udp-names")
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    port_b = struct.pack(">H", int(target_port))

    def to_name(n):
        return b"\x00\x00\x00\x03" + bytes([len(n)]) + n.encode() + port_b

    back = b"\x00\x00\x00\x01" + ipv4(target) + port_b

    def echo_of(body, wait_s):
        u.settimeout(wait_s)
        try:
            while True:
                d = u.recv(65536)
                if d == back + body:
                    return True
        except socket.timeout:
            return False

    # a name nobody knows first: dropped, nothing comes back
    u.sendto(to_name("nowhere.wgc.test") + b"lost", relay)
    lost_answered = echo_of(b"lost", 1.0)
    body = b"first" + os.urandom(100)
    u.sendto(to_name(name) + body, relay)
    first = echo_of(body, 3.0)
    echoed = 0
    for n in range(int(count)):
        body = n.to_bytes(8, "big") + os.urandom(200)
        u.sendto(to_name(name) + body, relay)
        echoed += echo_of(body, 1.0)
    tcp.close()
    print(echoed, count, "first echoed" if first else "first lost",
          "unknown name answered" if lost_answered else "unknown name dropped", flush=True)
    ok = first and not lost_answered and echoed >= int(count) * 98 // 100
    sys.exit(0 if ok else 1)


def cmd_socks_rate(addr, port, target, target_port, seconds, workers="4"):
    """Connection setup rate through SOCKS5: WORKERS threads each open a connection to a TCP
    echo server at TARGET:TARGET_PORT through the proxy, exchange one byte, close, and again,
    for SECONDS. Prints "<connections per second> <failures>"."""
    import threading
    head = b"\x05\x01\x00" + request(1, 1, ipv4(target), int(target_port))
    done = [0, 0]
    lock = threading.Lock()
    end = time.monotonic() + float(seconds)

    def work():
        while time.monotonic() < end:
            ok = False
            try:
                with socket.create_connection((addr, int(port)), timeout=5) as s:
                    s.sendall(head + b"x")
                    got = b""
                    while len(got) < 2 + 10 + 1:
                        d = s.recv(64)
                        if not d:
                            break
                        got += d
                    ok = got[:4] == b"\x05\x00\x05\x00" and got[-1:] == b"x"
            except OSError:
                pass
            with lock:
                done[0 if ok else 1] += 1

    threads = [threading.Thread(target=work) for _ in range(int(workers))]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print("%.0f" % (done[0] / (time.monotonic() - t0)), done[1], flush=True)


def cmd_tcp_echo_server(addr, port):
    """A single-threaded TCP echo server for many connections at once."""
    import selectors
    sel = selectors.DefaultSelector()
    srv = socket.socket(family(addr), socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((addr, int(port)))
    srv.listen(1024)
    srv.setblocking(False)
    sel.register(srv, selectors.EVENT_READ)
    while True:
        for key, _ in sel.select():
            if key.fileobj is srv:
                try:
                    conn, _ = srv.accept()
                except OSError:
                    continue
                conn.setblocking(False)
                sel.register(conn, selectors.EVENT_READ)
                continue
            conn = key.fileobj
            try:
                d = conn.recv(65536)
            except OSError:
                d = b""
            if not d:
                sel.unregister(conn)
                conn.close()
                continue
            try:
                conn.sendall(d)
            except OSError:
                pass


def cmd_tcp_echo_stream(addr, port):
    """A TCP echo server for long streams: one thread per connection, blocking writes (nothing
    is dropped when the client reads slowly), and the client's FIN answered with ours once
    everything is echoed."""
    import threading

    def echo(conn):
        with conn:
            while True:
                d = conn.recv(1 << 16)
                if not d:
                    break
                conn.sendall(d)
            conn.shutdown(socket.SHUT_WR)

    srv = socket.socket(family(addr), socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((addr, int(port)))
    srv.listen(64)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=echo, args=(conn,), daemon=True).start()


def cmd_socks_many(addr, port, target, target_port, count):
    """COUNT SOCKS5 CONNECTs to a TCP echo server, all open at once; then each sends 1 KiB and
    must get it back. Prints "<ok> <count> (<refused> no reply, <lost> no echo)"."""
    conns = []
    head = b"\x05\x01\x00" + request(1, 1, ipv4(target), int(target_port))
    for _ in range(int(count)):
        s = socket.create_connection((addr, int(port)), timeout=15)
        s.sendall(head)
        conns.append(s)
    ok = no_reply = no_echo = 0
    for s in conns:
        got = b""
        try:
            while len(got) < 12:  # exactly the reply: the connection stays open
                d = s.recv(12 - len(got))
                if not d:
                    break
                got += d
        except OSError:
            pass
        if got[:4] != b"\x05\x00\x05\x00":
            no_reply += 1
            continue
        msg = os.urandom(1024)
        back = b""
        try:
            s.sendall(msg)
            while len(back) < len(msg):
                d = s.recv(4096)
                if not d:
                    break
                back += d
        except OSError:
            pass
        if back == msg:
            ok += 1
        else:
            no_echo += 1
    for s in conns:
        s.close()
    print(ok, count, f"({no_reply} no reply, {no_echo} no echo)", flush=True)
    sys.exit(0 if ok == int(count) else 1)


def main():
    cmds = {
        "tcp-echo-server": cmd_tcp_echo_server,
        "tcp-echo-stream": cmd_tcp_echo_stream,
        "socks-many": cmd_socks_many,
        "socks-rate": cmd_socks_rate,
        "socks-udp": cmd_socks_udp,
        "socks-udp-names": cmd_socks_udp_names,
        "udp-paced": cmd_udp_paced,
        "udp-echo-server": cmd_udp_echo_server,
        "udp-echo-client": cmd_udp_echo_client,
        "dns-server": cmd_dns_server,
        "http-bad": cmd_http_bad,
        "serve": cmd_serve,
        "fetch": cmd_fetch,
        "socks-bad": cmd_socks_bad,
        "socks-auth": cmd_socks_auth,
    }
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        sys.exit(__doc__)
    cmds[sys.argv[1]](*sys.argv[2:])


if __name__ == "__main__":
    main()
