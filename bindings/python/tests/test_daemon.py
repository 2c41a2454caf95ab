# SPDX-License-Identifier: MIT
"""One Python endpoint (daemon_peer.py) and a real wgc daemon, over UDP on the loopback of a
network namespace of their own, configured only with wg and ip. The Python side starts the
handshake and pings through the tunnel; then the namespace pings the Python side, which
answers through libwgc. Needs root; the daemon is $WGC (default: the checkout's build/wgc).

    ┌──────────────── ns wgcpy-PID ─────────────────────────────────────┐
    │ wgc (wpyPID 10.201.0.1/24)  127.0.0.1:DPORT ◀═══╗                 │
    │                                                 ║ UDP (loopback)  │
    │ daemon_peer.py (10.201.0.2, libwgc via ctypes)  127.0.0.1:PPORT ══╝│
    └───────────────────────────────────────────────────────────────────┘
"""
import base64
import json
import os
import shutil
import subprocess
import sys
import time

import pytest

import wgc

HERE = os.path.dirname(os.path.abspath(__file__))
WGC = os.environ.get("WGC", os.path.join(HERE, "..", "..", "..", "build", "wgc"))
NS = "wgcpy-%d" % os.getpid()
IFACE = "wpy%d" % os.getpid()
DPORT, PPORT = 51901, 51902


def need(condition, why):
    if not condition:
        if os.environ.get("CI") == "true":
            pytest.fail("SKIP counts as a failure under CI=true: " + why)
        pytest.skip(why)


def sh(*args, **kw):
    print("+", " ".join(args))
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw).stdout


@pytest.fixture
def daemon(tmp_path):
    need(os.geteuid() == 0, "needs root (network namespaces, TUN)")
    need(os.access(WGC, os.X_OK), "%s is not built (make daemon)" % WGC)
    need(shutil.which("wg") and shutil.which("ip"), "needs wg and ip")
    sh("ip", "netns", "add", NS)
    proc = None
    try:
        sh("ip", "-n", NS, "link", "set", "lo", "up")
        log = open(tmp_path / "wgc.log", "w")
        proc = subprocess.Popen(["ip", "netns", "exec", NS, WGC, "-f", IFACE], stdout=log,
                                stderr=subprocess.STDOUT, env=dict(os.environ,
                                                                   LOG_LEVEL="verbose"))
        sock = "/var/run/wireguard/%s.sock" % IFACE
        for _ in range(50):
            if os.path.exists(sock):
                break
            time.sleep(0.1)
        assert os.path.exists(sock), "no UAPI socket"
        key = sh("wg", "genkey").strip()
        (tmp_path / "daemon.key").write_text(key + "\n")
        yield tmp_path, sh("wg", "pubkey", input=key).strip()
    finally:
        if proc:
            proc.terminate()
            proc.wait(10)
            print(open(tmp_path / "wgc.log").read()[-2000:])
        subprocess.run(["ip", "netns", "del", NS])


def test_python_endpoint_talks_to_wgc(daemon):
    tmp, daemon_pub = daemon
    py_key = wgc.generate_private_key()
    py_pub = wgc.public_key(py_key)
    ns = ("ip", "netns", "exec", NS)
    sh(*ns, "wg", "set", IFACE, "private-key", str(tmp / "daemon.key"), "listen-port", str(DPORT),
       "peer", base64.b64encode(py_pub).decode(), "endpoint",
       "127.0.0.1:%d" % PPORT, "allowed-ips", "10.201.0.2/32")
    sh(*ns, "ip", "addr", "add", "10.201.0.1/24", "dev", IFACE)
    sh(*ns, "ip", "link", "set", IFACE, "up")
    daemon_hex = base64.b64decode(daemon_pub).hex()
    peer = subprocess.Popen([*ns, sys.executable, os.path.join(HERE, "daemon_peer.py"),
                             py_key.hex(), daemon_hex, str(PPORT), str(DPORT)],
                            stdout=subprocess.PIPE, text=True)
    try:
        first = json.loads(peer.stdout.readline() or "{}")
        # Python initiated, wgc answered the handshake, the kernel answered the ping.
        assert first == {"event": "echo-reply", "src": "10.201.0.1", "payload": "from python"}
        # The other way: the namespace pings the Python side through wgc.
        out = sh(*ns, "ping", "-n", "-c", "3", "-i", "0.2", "-W", "2", "10.201.0.2")
        assert " 0% packet loss" in out
        dump = sh(*ns, "wg", "show", IFACE, "dump").splitlines()[1].split("\t")
        assert int(dump[4]) > 0, "no handshake in wg show"  # latest-handshake
        assert int(dump[5]) > 0 and int(dump[6]) > 0       # transfer rx, tx
    finally:
        peer.terminate()
        rest = [json.loads(line) for line in peer.stdout.read().splitlines()]
        peer.wait(10)
    done = rest[-1]
    assert done["event"] == "done"
    assert done["answered"] == 3
    assert done["has_session"]
    assert done["drops"] == {}
