#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Small helpers for the netns tests, run inside a namespace with `ip netns exec`.

  tools.py uapi IFACE            send stdin as one raw request to IFACE's UAPI socket, print reply
  tools.py sink ADDR PORT        accept one TCP connection, print "<bytes> <sha256>" of what came
  tools.py source ADDR PORT MB   send MB mebibytes of random data, print "<bytes> <sha256>"
  tools.py bad-uapi IFACE        send malformed, huge, slow and binary requests; check the replies
  tools.py udp-sink ADDR PORT    count numbered datagrams until 2 s of silence; print
                                 "<received> <out_of_order>" (a datagram numbered below one seen)
  tools.py udp-source ADDR PORT COUNT SIZE   send COUNT numbered datagrams of SIZE bytes
  tools.py junk-initiations ADDR PORT COUNT  send COUNT initiation-shaped datagrams (bad mac1)
  tools.py many-allowed-ips IFACE PUBHEX COUNT   give one peer COUNT allowed IPs in one request
  tools.py uapi-hog IFACE PID CLIENTS MIB    stream unterminated requests; print
                                 "<enomem> <emsgsize> <closed> <peak VmRSS KiB>"
  tools.py connect-time ADDR PORT   TCP connect; print "<errno name or OK> <ms>"
  tools.py udp-burst ADDR PORT COUNT    COUNT datagrams at once; print "<sent> <seconds>"
  tools.py icmp-error ADDR       send one ICMP destination-unreachable message to ADDR
"""
import errno
import hashlib
import os
import socket
import sys
import time

SOCK_DIR = "/var/run/wireguard"


def uapi_connect(iface, timeout=10.0):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(f"{SOCK_DIR}/{iface}.sock")
    return s


def read_reply(s):
    """Reads until the blank line that ends a reply, or EOF."""
    out = b""
    while not out.endswith(b"\n\n"):
        try:
            d = s.recv(65536)
        except OSError:  # timeout, or a reset after the daemon dropped a junk connection
            break
        if not d:
            break
        out += d
    return out


def uapi(iface, request, timeout=10.0):
    s = uapi_connect(iface, timeout)
    s.sendall(request)
    out = read_reply(s)
    s.close()
    return out


def cmd_uapi(iface):
    sys.stdout.write(uapi(iface, sys.stdin.buffer.read()).decode(errors="replace"))


def tcp_family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def accept_one(addr, port):
    """Listens on ADDR:PORT and returns the first connection (60 s timeouts)."""
    srv = socket.socket(tcp_family(addr), socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((addr, int(port)))
    srv.listen(1)
    srv.settimeout(60)
    conn, _ = srv.accept()
    conn.settimeout(60)
    return conn


def connect_retry(addr, port, what):
    """Connects to ADDR:PORT, retrying for 5 s while the other side may still be starting."""
    for _ in range(50):
        try:
            return socket.create_connection((addr, int(port)), timeout=60)
        except OSError:
            time.sleep(0.1)
    sys.exit(what + ": cannot connect")


def recv_hashed(s):
    """Reads to EOF; returns (bytes, sha256 hex)."""
    h = hashlib.sha256()
    total = 0
    while True:
        d = s.recv(1 << 20)
        if not d:
            break
        h.update(d)
        total += len(d)
    return total, h.hexdigest()


def send_random(s, mb):
    """Sends MB mebibytes of random data; returns (bytes, sha256 hex)."""
    h = hashlib.sha256()
    total = 0
    for _ in range(int(mb)):
        chunk = os.urandom(1 << 20)
        h.update(chunk)
        s.sendall(chunk)
        total += len(chunk)
    return total, h.hexdigest()


def cmd_sink(addr, port):
    print(*recv_hashed(accept_one(addr, port)), flush=True)


def cmd_source(addr, port, mb):
    s = connect_retry(addr, port, "source")
    total, digest = send_random(s, mb)
    s.shutdown(socket.SHUT_WR)
    s.recv(1)  # wait for the sink to close: everything has arrived
    s.close()
    print(total, digest, flush=True)


def cmd_bad_uapi(iface):
    """Each case: (name, request bytes, expected reply prefix or None for 'closed, no reply')."""
    key = "11" * 32
    cases = [
        ("bad private key", b"set=1\nprivate_key=zz\n\n", b"errno=-22\n\n"),
        ("short private key", b"set=1\nprivate_key=" + b"ab" * 31 + b"\n\n", b"errno=-22\n\n"),
        ("port out of range", b"set=1\nlisten_port=65536\n\n", b"errno=-22\n\n"),
        ("negative port", b"set=1\nlisten_port=-1\n\n", b"errno=-22\n\n"),
        ("unknown device key", b"set=1\nbogus=1\n\n", b"errno=-22\n\n"),
        ("line without =", b"set=1\nprivate_key\n\n", b"errno=-22\n\n"),
        ("replace_peers=false", b"set=1\nreplace_peers=false\n\n", b"errno=-22\n\n"),
        ("device key in a peer", f"set=1\npublic_key={key}\nlisten_port=1\n\n".encode(), b"errno=-22\n\n"),
        ("bad endpoint", f"set=1\npublic_key={key}\nendpoint=nohostport\n\n".encode(), b"errno=-22\n\n"),
        ("unresolvable endpoint", f"set=1\npublic_key={key}\nendpoint=no.such.host.invalid:1\n\n".encode(), b"errno=-22\n\n"),
        ("v6 endpoint without brackets", f"set=1\npublic_key={key}\nendpoint=fd00::1:51820\n\n".encode(), b"errno=-22\n\n"),
        ("bad allowed ip", f"set=1\npublic_key={key}\nallowed_ip=10.0.0.0/33\n\n".encode(), b"errno=-22\n\n"),
        ("allowed ip without cidr", f"set=1\npublic_key={key}\nallowed_ip=10.0.0.1\n\n".encode(), b"errno=-22\n\n"),
        ("protocol_version=2", f"set=1\npublic_key={key}\nprotocol_version=2\n\n".encode(), b"errno=-22\n\n"),
        ("keepalive out of range", f"set=1\npublic_key={key}\npersistent_keepalive_interval=65536\n\n".encode(), b"errno=-22\n\n"),
        # A valid start followed by one bad line: nothing of it may be applied.
        ("valid lines then a bad one",
         f"set=1\nlisten_port=40999\nfwmark=77\nreplace_peers=true\npublic_key={key}\n"
         f"allowed_ip=10.9.0.0/16\nendpoint=127.0.0.1:9\nremove=maybe\n\n".encode(), b"errno=-22\n\n"),
        ("get with trailing junk", b"get=1\nx", b"errno=-22\n\n"),
        ("unknown operation", b"frobnicate=1\n\n", None),
        ("binary junk", bytes(range(256)) * 4, None),
        ("huge line", b"set=1\nprivate_key=" + b"a" * (2 << 20) + b"\n\n", b"errno=-22\n\n"),
        ("nul in a line", b"set=1\npublic_key=" + key.encode() + b"\nendpoint=1.2.3.4\x00:5\n\n", b"errno=-22\n\n"),
        ("unterminated set", b"set=1\nlisten_port=40998\n", b"errno=-71\n\n"),
    ]
    failed = 0
    for name, req, want in cases:
        s = uapi_connect(iface)
        try:
            s.sendall(req)
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the daemon may close a junk connection before reading all of it
        got = read_reply(s)
        s.close()
        ok = got == want if want is not None else got == b""
        print(f"{'ok  ' if ok else 'BAD '} {name}: {got[:40]!r}")
        failed += not ok

    # A slow client that never finishes must not block another client.
    slow = uapi_connect(iface)
    slow.sendall(b"set=1\nlisten_port=")
    t0 = time.time()
    reply = uapi(iface, b"get=1\n\n", timeout=5)
    ok = reply.endswith(b"errno=0\n\n") and time.time() - t0 < 2
    print(f"{'ok  ' if ok else 'BAD '} get while another client stalls mid-request")
    failed += not ok
    slow.close()

    # Many idle connections at once, then a normal request still works.
    idle = [uapi_connect(iface) for _ in range(50)]
    reply = uapi(iface, b"get=1\n\n", timeout=5)
    ok = reply.endswith(b"errno=0\n\n")
    print(f"{'ok  ' if ok else 'BAD '} get with 50 idle clients connected")
    failed += not ok
    for s in idle:
        s.close()

    # Two requests pipelined on one connection are both answered, in order.
    s = uapi_connect(iface)
    s.sendall(b"get=1\n\nset=1\n\n")
    s.shutdown(socket.SHUT_WR)
    data = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        data += d
    ok = data.count(b"errno=0\n\n") == 2
    print(f"{'ok  ' if ok else 'BAD '} two pipelined requests answered")
    failed += not ok
    sys.exit(1 if failed else 0)


def cmd_udp_sink(addr, port):
    s = socket.socket(tcp_family(addr), socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.bind((addr, int(port)))
    s.settimeout(10)  # the first datagram may take a while; then 2 s of silence ends it
    received = out_of_order = 0
    highest = -1
    while True:
        try:
            d = s.recv(65536)
        except socket.timeout:
            break
        s.settimeout(2)
        n = int.from_bytes(d[:8], "big")
        received += 1
        if n < highest:
            out_of_order += 1
        highest = max(highest, n)
    print(received, out_of_order, flush=True)


def cmd_udp_source(addr, port, count, size):
    s = socket.socket(tcp_family(addr), socket.SOCK_DGRAM)
    pad = os.urandom(int(size) - 8)
    for n in range(int(count)):
        try:
            s.sendto(n.to_bytes(8, "big") + pad, (addr, int(port)))
        except OSError:  # ENOBUFS from a full queue: that datagram is lost, the order test goes on
            pass
        if n % 200 == 199:
            time.sleep(0.001)


def cmd_junk_initiations(addr, port, count):
    """Handshake initiations of the right length and type with random bytes (bad mac1)."""
    s = socket.socket(tcp_family(addr), socket.SOCK_DGRAM)
    for n in range(int(count)):
        try:
            s.sendto(b"\x01\x00\x00\x00" + os.urandom(144), (addr, int(port)))
        except OSError:
            pass
        if n % 200 == 199:
            time.sleep(0.001)


def cmd_many_allowed_ips(iface, public_key_hex, count):
    """One set request giving one peer COUNT /32 allowed IPs in 10.64.0.0/10; prints the reply."""
    lines = [b"set=1\n", b"public_key=" + public_key_hex.encode() + b"\n",
             b"replace_allowed_ips=true\n"]
    for n in range(int(count)):
        lines.append(b"allowed_ip=10.%d.%d.%d/32\n" % (64 + (n >> 16), (n >> 8) & 255, n & 255))
    lines.append(b"\n")
    sys.stdout.write(uapi(iface, b"".join(lines), timeout=60.0).decode(errors="replace"))


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cmd_uapi_hog(iface, pid, clients, mib):
    """CLIENTS connections each stream MIB MiB of an unterminated set request. Prints how many
    were answered errno=-12 (ENOMEM), errno=-90 (EMSGSIZE) or closed, and the daemon's peak
    VmRSS (KiB) while they were all connected."""
    socks = [uapi_connect(iface) for _ in range(int(clients))]
    chunk = b"set=1\n" + b"x=y\n" * (1 << 18)  # 1 MiB
    total = int(mib) << 20
    sent = [0] * len(socks)
    closed = [False] * len(socks)
    replies = [b""] * len(socks)
    peak = rss_kib(pid)
    for s in socks:
        s.setblocking(False)
    deadline = time.time() + 60
    while time.time() < deadline and not all(c or n >= total for c, n in zip(closed, sent)):
        for i, s in enumerate(socks):
            if closed[i] or sent[i] >= total:
                continue
            try:
                sent[i] += s.send(chunk if sent[i] == 0 else chunk[6:])
            except BlockingIOError:
                pass
            except OSError:
                closed[i] = True
            try:
                data = s.recv(4096)
                replies[i] += data
                if not data:
                    closed[i] = True
            except BlockingIOError:
                pass
            except OSError:
                closed[i] = True
        peak = max(peak, rss_kib(pid))
        time.sleep(0.001)
    time.sleep(0.5)
    peak = max(peak, rss_kib(pid))
    for i, s in enumerate(socks):
        try:
            replies[i] += s.recv(4096)
        except OSError:
            pass
        s.close()
    enomem = sum(1 for r in replies if r.startswith(b"errno=-12"))
    emsgsize = sum(1 for r in replies if r.startswith(b"errno=-90"))
    print(enomem, emsgsize, sum(closed), peak, flush=True)


def cmd_connect_time(addr, port):
    """TCP connect() to ADDR:PORT; prints "<errno name or OK> <milliseconds>"."""
    s = socket.socket(tcp_family(addr), socket.SOCK_STREAM)
    s.settimeout(5.0)
    t0 = time.monotonic()
    try:
        s.connect((addr, int(port)))
        result = "OK"
    except socket.timeout:
        result = "TIMEOUT"
    except OSError as e:
        result = errno.errorcode.get(e.errno, str(e.errno))
    print(result, int((time.monotonic() - t0) * 1000), flush=True)


def cmd_udp_burst(addr, port, count):
    """COUNT small UDP datagrams as fast as possible; prints "<sent> <seconds>"."""
    s = socket.socket(tcp_family(addr), socket.SOCK_DGRAM)
    sent = 0
    t0 = time.monotonic()
    for _ in range(int(count)):
        try:
            s.sendto(b"x" * 32, (addr, int(port)))
            sent += 1
        except OSError:  # the ICMP errors come back as ECONNREFUSED/EHOSTUNREACH on this socket
            pass
    print(sent, "%.3f" % (time.monotonic() - t0), flush=True)


def cmd_icmp_error(addr):
    """Sends one ICMP destination-unreachable message (an error) to ADDR (IPv4, raw socket)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    quote = bytes([0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 10, 9, 9, 9, 10, 9, 9, 8]) + bytes(8)
    msg = bytearray([3, 1, 0, 0, 0, 0, 0, 0]) + quote
    total = 0
    for i in range(0, len(msg), 2):
        total += msg[i] << 8 | msg[i + 1]
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    msg[2:4] = (~total & 0xFFFF).to_bytes(2, "big")
    s.sendto(bytes(msg), (addr, 0))


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    cmd, args = sys.argv[1], sys.argv[2:]
    {"uapi": cmd_uapi, "sink": cmd_sink, "source": cmd_source, "bad-uapi": cmd_bad_uapi,
     "udp-sink": cmd_udp_sink, "udp-source": cmd_udp_source,
     "junk-initiations": cmd_junk_initiations, "many-allowed-ips": cmd_many_allowed_ips,
     "uapi-hog": cmd_uapi_hog, "connect-time": cmd_connect_time, "udp-burst": cmd_udp_burst,
     "icmp-error": cmd_icmp_error}[cmd](*args)


if __name__ == "__main__":
    main()
