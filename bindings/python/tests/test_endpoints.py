# SPDX-License-Identifier: MIT
"""Two Python endpoints joined by an in-memory network: the handshake, data both ways, staging,
timers, drop counters, errors, and the wipe on close. A fake clock drives time."""
import mmap

import pytest

import wgc
from packets import parse_ipv4, udp

A_ADDR = ("192.0.2.1", 51820)
B_ADDR = ("192.0.2.2", 51820)


class Clock:
    def __init__(self):
        self.ns = 1_000_000_000

    def __call__(self):
        return self.ns

    def advance(self, seconds):
        self.ns += int(seconds * 1e9)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def pair(clock):
    a = wgc.Endpoint(wgc.generate_private_key(), clock=clock)
    b = wgc.Endpoint(wgc.generate_private_key(), clock=clock)
    a.add_peer(b.public_key, endpoint=B_ADDR, allowed_ips=["10.0.0.2/32"])
    b.add_peer(a.public_key, endpoint=A_ADDR, allowed_ips=["10.0.0.1/32"])
    with a, b:
        yield a, b


def carry(a, b, actions, source):
    """Carries out actions as the network would, until quiet; returns what was delivered at
    each side as {"a": [...], "b": [...]} and the datagrams in order."""
    delivered = {"a": [], "b": []}
    wire = []
    queue = [(source, act) for act in actions]
    while queue:
        side, act = queue.pop(0)
        if act.kind == wgc.ActionKind.DELIVER:
            delivered[side].append(act.data)
        elif act.kind == wgc.ActionKind.SEND:
            wire.append(act.data)
            to, frm, addr = (b, "b", A_ADDR) if act.addr == B_ADDR else (a, "a", B_ADDR)
            queue.extend((frm, x) for x in to.receive(act.data, addr))
    return delivered, wire


def test_version_matches_the_header():
    assert wgc.version().count(".") == 2


def test_handshake_and_data_both_ways(pair):
    a, b = pair
    hello = udp("10.0.0.1", "10.0.0.2", 1000, 2000, b"hello bob")
    actions = a.send(hello)
    # No session yet: the packet is staged and a handshake initiation goes out.
    assert [x.kind for x in actions] == [wgc.ActionKind.SEND]
    assert len(actions[0].data) == 148
    delivered, wire = carry(a, b, actions, "a")
    assert delivered["b"] == [hello]
    assert [len(w) for w in wire[:2]] == [148, 92]  # initiation, response
    reply = udp("10.0.0.2", "10.0.0.1", 2000, 1000, b"hello alice")
    delivered, _ = carry(a, b, b.send(reply), "b")
    assert delivered["a"] == [reply]
    assert parse_ipv4(delivered["a"][0])[3][8:] == b"hello alice"
    stats = a.peer(b.public_key).stats
    assert stats.has_session and stats.has_handshake and stats.rx_bytes > 0


def test_replay_and_junk_are_counted_drops(pair):
    a, b = pair
    _, wire = carry(a, b, a.send(udp("10.0.0.1", "10.0.0.2", 1, 2, b"x")), "a")
    data_message = wire[-1]
    assert b.receive(data_message, A_ADDR) == []
    assert b.drops["replayed"] == 1
    assert b.receive(b"\x04\0\0\0" + bytes(60), A_ADDR) == []
    assert b.receive(b"\x01", A_ADDR) == []
    assert b.drops["short"] == 1
    assert sum(b.drops.values()) == 3


def test_no_route_is_a_drop(pair):
    a, _ = pair
    assert a.send(udp("10.0.0.1", "10.0.0.9", 1, 2, b"nobody")) == []
    assert a.drops["no_route"] == 1


def test_retransmission_then_purge_drops_staged(pair, clock):
    a, _ = pair
    first = a.send(udp("10.0.0.1", "10.0.0.2", 1, 2, b"lost"))
    assert len(first) == 1
    peer = a.peers[0]
    assert len(peer.staged) == 1
    assert a.deadline is not None
    clock.advance(5.5)  # REKEY_TIMEOUT plus jitter
    assert [x.kind for x in a.tick()] == [wgc.ActionKind.SEND]
    kinds = []
    for _ in range(30):
        clock.advance(5.5)
        kinds += [x.kind for x in a.tick()]
    assert wgc.ActionKind.PURGE in kinds
    assert peer.staged == []


def test_keepalive_and_peer_configuration(pair, clock):
    a, b = pair
    peer = a.peer(b.public_key)
    assert peer.allowed_ips == ["10.0.0.2/32"]
    peer.add_allowed_ip("10.1.0.0/16")
    peer.add_allowed_ip("fd00::/64")
    assert sorted(peer.allowed_ips) == ["10.0.0.2/32", "10.1.0.0/16", "fd00::/64"]
    peer.remove_allowed_ip("10.1.0.0/16")
    with pytest.raises(wgc.NotFound):
        peer.remove_allowed_ip("10.1.0.0/16")
    psk = bytes(range(32))
    peer.preshared_key = psk
    b.peer(a.public_key).preshared_key = psk
    assert peer.preshared_key == psk
    peer.endpoint = ("2001:db8::2", 51820)
    assert peer.endpoint == ("2001:db8::2", 51820)
    peer.endpoint = B_ADDR
    actions = peer.set_persistent_keepalive(25)
    assert peer.persistent_keepalive == 25
    delivered, wire = carry(a, b, actions, "a")  # handshake (with the psk), then a keepalive
    assert delivered == {"a": [], "b": []}
    assert 32 in [len(w) for w in wire]
    assert b.peer(a.public_key).stats.has_session


def test_errors_are_exceptions(pair):
    a, b = pair
    with pytest.raises(wgc.Exists):
        a.add_peer(b.public_key)
    with pytest.raises(wgc.InvalidArgument):
        a.add_peer(bytes(32))
    with pytest.raises(wgc.InvalidArgument):
        a.add_peer(a.public_key)
    with pytest.raises(ValueError):
        a.add_peer(b"short")
    small = wgc.Endpoint(max_peers=1)
    small.add_peer(wgc.public_key(wgc.generate_private_key()))
    with pytest.raises(wgc.NoSpace) as e:
        small.add_peer(wgc.public_key(wgc.generate_private_key()))
    assert e.value.status == -2
    small.close()
    with pytest.raises(wgc.StateError):
        small.public_key


def test_removed_peer_is_gone(pair):
    a, b = pair
    peer = a.peer(b.public_key)
    peer.remove()
    assert a.peers == [] and a.peer(b.public_key) is None
    with pytest.raises(wgc.StateError):
        peer.allowed_ips


def test_close_wipes_the_callers_memory(clock):
    size = wgc.Endpoint.memory_size(max_peers=4)
    memory = mmap.mmap(-1, size)
    key = wgc.generate_private_key()
    with wgc.Endpoint(key, max_peers=4, memory=memory, clock=clock) as ep:
        ep.add_peer(wgc.public_key(wgc.generate_private_key()), allowed_ips=["10.9.0.0/24"])
        assert memory[:].count(0) < size  # the endpoint lives in our block
        assert ep.private_key is not None
    assert memory[:] == bytes(size)  # every byte zero again, the key included
    with pytest.raises(wgc.StateError):
        ep.private_key


def test_failing_random_source_is_an_error(clock):
    with pytest.raises(wgc.RandomError):
        wgc.Endpoint(random=lambda n: b"", clock=clock)


def test_bad_memory_is_refused():
    with pytest.raises(ValueError):
        wgc.Endpoint(memory=mmap.mmap(-1, 4096))
