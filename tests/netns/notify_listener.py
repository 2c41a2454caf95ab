#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A stand-in for systemd's notification socket (sd_notify(3)), for tests/netns/notify.sh.

notify_listener.py ADDRESS IFACE OUT [SECONDS]: binds an AF_UNIX datagram socket at ADDRESS (a
path, or '@name' for an abstract one) with SO_PASSCRED, as systemd does, writes 'listening' to
OUT once bound, then for each datagram appends one line to OUT:
    pid=<sender pid> uapi=<yes|no> iface=<yes|no> <the message, newlines as spaces>
where uapi and iface say whether /var/run/wireguard/IFACE.sock and the interface existed when
the datagram arrived. Stops after STOPPING=1 or SECONDS (default 20).
"""
import os
import socket
import struct
import sys
import time


def main():
    address, iface, out = sys.argv[1:4]
    seconds = float(sys.argv[4]) if len(sys.argv) > 4 else 20.0
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    sock.bind("\0" + address[1:] if address.startswith("@") else address)
    with open(out, "w") as f:
        f.write("listening\n")
    deadline = time.monotonic() + seconds
    creds_size = struct.calcsize("3i")
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            data, ancdata, _, _ = sock.recvmsg(4096, socket.CMSG_SPACE(creds_size))
        except socket.timeout:
            break
        uapi = os.path.exists("/var/run/wireguard/%s.sock" % iface)
        has_iface = os.path.exists("/sys/class/net/%s" % iface)
        pid = 0
        for level, kind, value in ancdata:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = struct.unpack("3i", value[:creds_size])[0]
        text = data.decode(errors="replace").strip().replace("\n", " ")
        with open(out, "a") as f:
            f.write("pid=%d uapi=%s iface=%s %s\n" % (pid, "yes" if uapi else "no",
                                                      "yes" if has_iface else "no", text))
        if "STOPPING=1" in text.split():
            break
    sock.close()
    if not address.startswith("@"):
        os.unlink(address)


if __name__ == "__main__":
    main()
