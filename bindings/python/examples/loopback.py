import socket
import wgc

# Two endpoints, each with a UDP socket on the loopback; libwgc does the protocol.
alice_sock, bob_sock = socket.socket(type=socket.SOCK_DGRAM), socket.socket(type=socket.SOCK_DGRAM)
alice_sock.bind(("127.0.0.1", 0))
bob_sock.bind(("127.0.0.1", 0))
alice, bob = wgc.Endpoint(wgc.generate_private_key()), wgc.Endpoint(wgc.generate_private_key())
alice.add_peer(bob.public_key, endpoint=bob_sock.getsockname(), allowed_ips=["10.0.0.2/32"])
bob.add_peer(alice.public_key, endpoint=alice_sock.getsockname(), allowed_ips=["10.0.0.1/32"])

def carry(actions, sock):
    """Carry out what libwgc asks for: send datagrams, print decrypted packets."""
    for action in actions:
        if action.kind == wgc.ActionKind.SEND:
            sock.sendto(action.data, action.addr)
        elif action.kind == wgc.ActionKind.DELIVER:
            print("delivered", len(action.data), "bytes:", action.data[28:])

# An IPv4/UDP packet 10.0.0.1 -> 10.0.0.2 (checksums left out for brevity).
packet = bytes.fromhex("4500002500000000401100000a0000010a000002") + bytes(8) + b"hello bob"
with alice, bob:  # leaving the block wipes every key
    carry(alice.send(packet), alice_sock)  # no session yet: the packet waits, a handshake starts
    for _ in range(3):  # initiation -> bob, response -> alice, data -> bob
        for me, sock in ((bob, bob_sock), (alice, alice_sock)):
            sock.settimeout(0.2)
            try:
                data, source = sock.recvfrom(2048)
            except socket.timeout:
                continue
            carry(me.receive(data, source), sock)
    print("bob's drop counters:", {k: v for k, v in bob.drops.items() if v})
