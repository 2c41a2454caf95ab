# SPDX-License-Identifier: MIT
"""Building and reading the IPv4 packets the tests send through tunnels."""
import struct


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ipv4(src: str, dst: str, proto: int, payload: bytes) -> bytes:
    def addr(a):
        return bytes(int(x) for x in a.split("."))
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0, 0x4000, 64, proto, 0,
                         addr(src), addr(dst))
    header = header[:10] + struct.pack("!H", checksum(header)) + header[12:]
    return header + payload


def udp(src: str, dst: str, sport: int, dport: int, payload: bytes) -> bytes:
    # UDP checksum 0: "none" is allowed over IPv4.
    return ipv4(src, dst, 17, struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload)


def icmp_echo(src: str, dst: str, ident: int, seq: int, payload: bytes, reply=False) -> bytes:
    body = struct.pack("!BBHHH", 0 if reply else 8, 0, 0, ident, seq) + payload
    body = body[:2] + struct.pack("!H", checksum(body)) + body[4:]
    return ipv4(src, dst, 1, body)


def parse_ipv4(packet: bytes):
    """(src, dst, proto, payload) of an IPv4 packet."""
    ihl = (packet[0] & 0xF) * 4
    total = struct.unpack("!H", packet[2:4])[0]
    src = ".".join(str(b) for b in packet[12:16])
    dst = ".".join(str(b) for b in packet[16:20])
    return src, dst, packet[9], packet[ihl:total]
