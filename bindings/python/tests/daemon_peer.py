#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A WireGuard peer made of the Python bindings and one UDP socket, for test_daemon.py (run
inside the test's network namespace).

daemon_peer.py PRIVATE-KEY-HEX DAEMON-PUBLIC-KEY-HEX LOCAL-PORT DAEMON-PORT
Tunnel address 10.201.0.2, the daemon 10.201.0.1. First pings the daemon's side through the
tunnel (the handshake starts here) and prints {"event": "echo-reply", ...} once answered, then
answers every ICMP echo request that arrives through the tunnel until SIGTERM, printing
{"event": "answered", ...} for each, and {"event": "done", ...} with the drop counters at exit.
"""
import json
import os
import select
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wgc  # noqa: E402
from packets import icmp_echo, parse_ipv4  # noqa: E402

ME, DAEMON = "10.201.0.2", "10.201.0.1"


def say(**event):
    print(json.dumps(event), flush=True)


def main():
    key, daemon_pub, port, daemon_port = sys.argv[1:5]
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", int(port)))
    with wgc.Endpoint(bytes.fromhex(key)) as ep:
        peer = ep.add_peer(bytes.fromhex(daemon_pub), endpoint=("127.0.0.1", int(daemon_port)),
                           allowed_ips=[DAEMON + "/32"])
        got_reply = False
        answered = 0

        def carry(actions):
            nonlocal got_reply, answered
            for act in actions:
                if act.kind == wgc.ActionKind.SEND:
                    sock.sendto(act.data, act.addr)
                elif act.kind == wgc.ActionKind.DELIVER:
                    src, dst, proto, body = parse_ipv4(act.data)
                    if proto == 1 and body[0] == 0 and not got_reply:
                        got_reply = True
                        say(event="echo-reply", src=src, payload=body[8:].decode())
                    elif proto == 1 and body[0] == 8:  # echo request: answer it
                        answered += 1
                        carry(ep.send(icmp_echo(ME, src, int.from_bytes(body[4:6], "big"),
                                                int.from_bytes(body[6:8], "big"), body[8:],
                                                reply=True)))
                        say(event="answered", src=src, seq=int.from_bytes(body[6:8], "big"))

        carry(ep.send(icmp_echo(ME, DAEMON, 0x77, 1, b"from python")))
        deadline = time.monotonic() + 60
        while not stopping and time.monotonic() < deadline:
            wait = 0.5
            if ep.deadline is not None:
                wait = min(wait, max(0.0, (ep.deadline - time.monotonic_ns()) / 1e9))
            try:
                ready, _, _ = select.select([sock], [], [], wait)
            except InterruptedError:
                continue
            if ready:
                data, source = sock.recvfrom(65536)
                carry(ep.receive(data, source))
            if ep.deadline is not None and ep.deadline <= time.monotonic_ns():
                carry(ep.tick())
        stats = peer.stats
        say(event="done", answered=answered, has_session=stats.has_session,
            rx_bytes=stats.rx_bytes, drops={k: v for k, v in ep.drops.items() if v})


if __name__ == "__main__":
    main()
