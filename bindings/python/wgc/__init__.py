# SPDX-License-Identifier: MIT
"""wgc: Python bindings for libwgc, the sans-I/O WireGuard protocol core (ctypes, no build).

An Endpoint holds our identity and peers in one block of memory (the caller's, or an anonymous
mapping); it does no I/O. Feed it plaintext IP packets (send), UDP datagrams (receive) and the
time (tick), and carry out the actions it returns: Send (a datagram to an address) and Deliver
(a decrypted IP packet from a peer). Packets sent before a session exists are kept by the
binding and sent once the handshake completes (Flush) or dropped if it gives up (Purge).

Status codes become exceptions (WgcError and subclasses); bytes go in and come out; `with
Endpoint(...) as ep:` wipes every key when the block ends. An Endpoint is not thread-safe:
call it from one thread at a time (libwgc's "serial per endpoint" rule).
"""
import ctypes
import enum
import ipaddress
import mmap
import os
import time
from dataclasses import dataclass
from typing import Optional, Tuple

from . import _lib
from ._lib import KEY_LEN, lib

__all__ = [
    "Endpoint", "Peer", "Action", "ActionKind", "WgcError", "InvalidArgument", "NoSpace",
    "StateError", "CryptoError", "Exists", "NotFound", "RandomError", "KEY_LEN", "version",
    "public_key", "generate_private_key",
]

Address = Tuple[str, int]


def version() -> str:
    """The version of the libwgc in use ("MAJOR.MINOR.PATCH")."""
    return lib.wgc_version().decode()


# ---- errors ----


class WgcError(Exception):
    """A libwgc status code other than WGC_OK; .status holds it (negative)."""

    def __init__(self, status: int, what: str):
        self.status = status
        super().__init__("%s: %s (%s)" % (what, lib.wgc_status_str(status).decode(),
                                          _lib.STATUS_NAMES.get(status, status)))


class InvalidArgument(WgcError, ValueError):
    pass


class NoSpace(WgcError):
    pass


class StateError(WgcError):
    pass


class CryptoError(WgcError):
    pass


class Exists(WgcError):
    pass


class NotFound(WgcError, KeyError):
    pass


class RandomError(WgcError):
    pass


_ERRORS = {-1: InvalidArgument, -2: NoSpace, -3: StateError, -4: CryptoError, -5: Exists,
           -6: NotFound, -7: RandomError}


def _check(status: int, what: str) -> None:
    if status != _lib.OK:
        raise _ERRORS.get(status, WgcError)(status, what)


# ---- keys and addresses ----


def _key(value, what: str):
    if not isinstance(value, (bytes, bytearray)) or len(value) != KEY_LEN:
        raise ValueError("%s must be %d bytes" % (what, KEY_LEN))
    return (ctypes.c_uint8 * KEY_LEN).from_buffer_copy(value)


def generate_private_key() -> bytes:
    """32 random bytes from the OS (libwgc clamps them as X25519 requires)."""
    return os.urandom(KEY_LEN)


def public_key(private_key: bytes) -> bytes:
    """The X25519 public key of private_key."""
    out = (ctypes.c_uint8 * KEY_LEN)()
    lib.wgc_public_key(out, _key(private_key, "private_key"))
    return bytes(out)


def _to_addr(address: Address) -> _lib.Addr:
    host, port = address[0], address[1]
    ip = ipaddress.ip_address(host)
    addr = _lib.Addr(family=_lib.AF_INET if ip.version == 4 else _lib.AF_INET6, port=port,
                     scope_id=address[3] if len(address) > 3 else 0)
    ctypes.memmove(addr.ip, ip.packed, len(ip.packed))
    return addr


def _from_addr(addr: _lib.Addr) -> Optional[Address]:
    if addr.family == _lib.AF_INET:
        return (str(ipaddress.IPv4Address(bytes(addr.ip[:4]))), addr.port)
    if addr.family == _lib.AF_INET6:
        return (str(ipaddress.IPv6Address(bytes(addr.ip))), addr.port)
    return None


def _to_prefix(text: str) -> _lib.Prefix:
    net = ipaddress.ip_network(text, strict=False)
    prefix = _lib.Prefix(family=_lib.AF_INET if net.version == 4 else _lib.AF_INET6,
                         cidr=net.prefixlen)
    raw = net.network_address.packed
    ctypes.memmove(prefix.ip, raw, len(raw))
    return prefix


def _from_prefix(prefix: _lib.Prefix) -> str:
    if prefix.family == _lib.AF_INET:
        return "%s/%d" % (ipaddress.IPv4Address(bytes(prefix.ip[:4])), prefix.cidr)
    return "%s/%d" % (ipaddress.IPv6Address(bytes(prefix.ip)), prefix.cidr)


# ---- actions ----


class ActionKind(enum.IntEnum):
    SEND = _lib.ACTION_SEND        # send .data as one UDP datagram to .addr
    DELIVER = _lib.ACTION_DELIVER  # .data is a decrypted IP packet from .peer
    FLUSH = _lib.ACTION_FLUSH      # .peer has a session: the binding sent what it had staged
    PURGE = _lib.ACTION_PURGE      # .peer's handshake gave up: the binding dropped its staged


@dataclass
class Action:
    kind: ActionKind
    peer: Optional["Peer"]
    data: bytes = b""
    addr: Optional[Address] = None


@dataclass
class PeerStats:
    rx_bytes: int
    tx_bytes: int
    has_handshake: bool
    last_handshake_wall_ns: int
    has_session: bool


# ---- peers ----


class Peer:
    """A peer of an Endpoint; valid until remove() (or the endpoint's close())."""

    def __init__(self, endpoint: "Endpoint", handle: int):
        self._ep = endpoint
        self._handle = handle
        self.staged = []  # plaintext packets waiting for a session (bytes)

    def _h(self) -> int:
        if self._handle is None:
            raise StateError(-3, "peer was removed")
        self._ep._h()
        return self._handle

    @property
    def public_key(self) -> bytes:
        out = (ctypes.c_uint8 * KEY_LEN)()
        lib.wgc_peer_get_public_key(self._h(), out)
        return bytes(out)

    @property
    def endpoint(self) -> Optional[Address]:
        addr = _lib.Addr()
        return _from_addr(addr) if lib.wgc_peer_get_endpoint(self._h(), addr) else None

    @endpoint.setter
    def endpoint(self, address: Optional[Address]) -> None:
        addr = _to_addr(address) if address else _lib.Addr()
        _check(lib.wgc_peer_set_endpoint(self._h(), addr), "setting the endpoint")

    @property
    def preshared_key(self) -> Optional[bytes]:
        out = (ctypes.c_uint8 * KEY_LEN)()
        return bytes(out) if lib.wgc_peer_get_preshared_key(self._h(), out) else None

    @preshared_key.setter
    def preshared_key(self, key: Optional[bytes]) -> None:
        lib.wgc_peer_set_preshared_key(self._h(), _key(key, "preshared_key") if key else None)

    @property
    def persistent_keepalive(self) -> int:
        return lib.wgc_peer_get_persistent_keepalive(self._h())

    def set_persistent_keepalive(self, interval_s: int, now: Optional[int] = None) -> list:
        """Sets the interval (0 = off); turning it on sends a keepalive at once: returns the
        actions to carry out."""
        return self._ep._call(lambda out, t: lib.wgc_peer_set_persistent_keepalive(
            self._ep._h(), self._h(), interval_s, t, out), now)

    def add_allowed_ip(self, prefix: str) -> None:
        """Routes a prefix ("10.0.0.0/24", "fd00::/64") to this peer."""
        _check(lib.wgc_allowedip_insert(self._ep._h(), self._h(), _to_prefix(prefix)),
               "adding allowed IP %s" % prefix)

    def remove_allowed_ip(self, prefix: str) -> None:
        _check(lib.wgc_allowedip_remove(self._ep._h(), self._h(), _to_prefix(prefix)),
               "removing allowed IP %s" % prefix)

    @property
    def allowed_ips(self) -> list:
        count = lib.wgc_peer_get_allowedips(self._h(), None, 0)
        prefixes = (_lib.Prefix * max(count, 1))()
        count = lib.wgc_peer_get_allowedips(self._h(), prefixes, count)
        return [_from_prefix(prefixes[i]) for i in range(count)]

    @property
    def stats(self) -> PeerStats:
        st = _lib.PeerStats()
        lib.wgc_peer_get_stats(self._h(), st)
        return PeerStats(st.rx_bytes, st.tx_bytes, st.has_handshake, st.last_handshake_wall_ns,
                         st.has_session)

    def remove(self) -> None:
        self._ep._remove_peer(self)

    def __repr__(self) -> str:
        state = "removed" if self._handle is None else self.public_key.hex()[:16] + "..."
        return "<wgc.Peer %s>" % state


# ---- the endpoint ----


class Endpoint:
    """A WireGuard endpoint in one block of memory.

    memory: a writable, zero-filled buffer of at least Endpoint.memory_size(...) bytes whose
    address is 64-byte aligned (an mmap.mmap is); by default an anonymous mapping of that size.
    It holds keys: close() (or leaving a `with` block) wipes it whole. clock: monotonic time in
    ns, the `now` of every call that does not pass one.
    """

    MAX_ACTIONS = 64
    MAX_STAGED = 32  # packets per peer kept while its handshake runs

    @staticmethod
    def memory_size(max_peers=16, max_allowed_ips=64, max_keypairs=0,
                    max_ratelimit_entries=0) -> int:
        limits = _lib.Limits(max_peers, max_keypairs, max_allowed_ips, max_ratelimit_entries)
        size = lib.wgc_endpoint_size(limits)
        if size == 0:
            raise InvalidArgument(-1, "limits out of range")
        return size

    def __init__(self, private_key: Optional[bytes] = None, *, max_peers=16,
                 max_allowed_ips=64, max_keypairs=0, max_ratelimit_entries=0, mtu=0,
                 memory=None, clock=time.monotonic_ns, wall_clock=time.time_ns,
                 random=os.urandom):
        self._handle = None
        self._clock = clock
        self._wall_clock = wall_clock
        self._random = random
        self._peers = {}
        size = self.memory_size(max_peers, max_allowed_ips, max_keypairs, max_ratelimit_entries)
        self._owns_memory = memory is None
        self._memory = mmap.mmap(-1, size) if memory is None else memory
        if len(self._memory) < size:
            raise ValueError("memory holds %d bytes; this endpoint needs %d"
                             % (len(self._memory), size))
        self._block = (ctypes.c_uint8 * size).from_buffer(self._memory)
        if ctypes.addressof(self._block) % _lib.ENDPOINT_ALIGN:
            del self._block
            raise ValueError("memory is not %d-byte aligned" % _lib.ENDPOINT_ALIGN)
        self._size = size
        # Kept referenced: the C side calls them for as long as the endpoint lives.
        self._random_cb = _lib.RANDOM_FN(self._on_random)
        self._wall_cb = _lib.WALL_CLOCK_FN(lambda ctx: self._wall_clock())
        cfg = _lib.Config(_lib.Limits(max_peers, max_keypairs, max_allowed_ips,
                                      max_ratelimit_entries),
                          self._random_cb, self._wall_cb, None, 0, mtu)
        handle = ctypes.c_void_p()
        _check(lib.wgc_endpoint_init(self._block, size, cfg, self._clock(), handle),
               "initialising the endpoint")
        self._handle = handle.value
        self._action_list = (_lib.Action * self.MAX_ACTIONS)()
        self._scratch = (ctypes.c_uint8 * (_lib.ACTION_SCRATCH_MIN * 16))()
        if private_key is not None:
            self.private_key = private_key

    def _on_random(self, ctx, buf, length):
        try:
            data = self._random(length)
            if len(data) != length:
                return False
            ctypes.memmove(buf, data, length)
            return True
        except Exception:  # a failing source is reported to libwgc, never raised through C
            return False

    def _h(self) -> int:
        if self._handle is None:
            raise StateError(-3, "endpoint is closed")
        return self._handle

    # -- lifetime --

    def close(self) -> None:
        """Wipes every secret (wgc_endpoint_clear), then zeroes the whole memory block."""
        if self._handle is None:
            return
        lib.wgc_endpoint_clear(self._handle)
        self._handle = None
        ctypes.memset(self._block, 0, self._size)
        for peer in self._peers.values():
            peer._handle = None
            peer.staged.clear()
        self._peers.clear()
        del self._block
        if self._owns_memory:
            self._memory.close()

    def __enter__(self) -> "Endpoint":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    # -- identity --

    @property
    def private_key(self) -> Optional[bytes]:
        out = (ctypes.c_uint8 * KEY_LEN)()
        return bytes(out) if lib.wgc_endpoint_get_private_key(self._h(), out) else None

    @private_key.setter
    def private_key(self, key: Optional[bytes]) -> None:
        _check(lib.wgc_endpoint_set_private_key(
            self._h(), _key(key, "private_key") if key else None, self._clock()),
            "setting the private key")

    @property
    def public_key(self) -> Optional[bytes]:
        out = (ctypes.c_uint8 * KEY_LEN)()
        return bytes(out) if lib.wgc_endpoint_get_public_key(self._h(), out) else None

    # -- peers --

    def add_peer(self, public_key: bytes, *, endpoint: Optional[Address] = None,
                 allowed_ips=(), preshared_key: Optional[bytes] = None) -> Peer:
        handle = ctypes.c_void_p()
        _check(lib.wgc_peer_add(self._h(), _key(public_key, "public_key"), self._clock(),
                                handle), "adding a peer")
        peer = Peer(self, handle.value)
        self._peers[handle.value] = peer
        if endpoint:
            peer.endpoint = endpoint
        for prefix in allowed_ips:
            peer.add_allowed_ip(prefix)
        if preshared_key:
            peer.preshared_key = preshared_key
        return peer

    def peer(self, public_key: bytes) -> Optional[Peer]:
        handle = lib.wgc_peer_lookup(self._h(), _key(public_key, "public_key"))
        return self._peers.get(handle) if handle else None

    @property
    def peers(self) -> list:
        self._h()
        return list(self._peers.values())

    def _remove_peer(self, peer: Peer) -> None:
        lib.wgc_peer_remove(self._h(), peer._h())
        del self._peers[peer._handle]
        peer._handle = None
        peer.staged.clear()

    # -- the data path --

    def _call(self, fn, now, extra=None):
        """Runs fn(actions, now) and turns its actions into Action objects (copies: the C
        side's buffers are reused by the next call), resending staged packets on FLUSH."""
        out = _lib.Actions(self._action_list, self.MAX_ACTIONS, 0, self._scratch,
                           len(self._scratch), 0)
        t = self._clock() if now is None else now
        result = fn(out, t)
        if extra is not None:
            extra(result)
        actions = []
        for i in range(out.count):
            a = out.list[i]
            peer = self._peers.get(a.peer) if a.peer else None
            data = ctypes.string_at(a.data, a.len) if a.len else b""
            actions.append(Action(ActionKind(a.kind), peer, data,
                                  _from_addr(a.addr) if a.kind == _lib.ACTION_SEND else None))
        for action in list(actions):
            if action.kind == ActionKind.FLUSH and action.peer:
                staged, action.peer.staged = action.peer.staged, []
                for packet in staged:
                    actions.extend(self.send(packet, action.peer, now=t))
            elif action.kind == ActionKind.PURGE and action.peer:
                for _ in action.peer.staged:
                    lib.wgc_endpoint_count_drop(self._h(), _lib.DROP_PEER_GONE)
                action.peer.staged = []
        return actions

    def send(self, packet: bytes, peer: Optional[Peer] = None, *,
             now: Optional[int] = None) -> list:
        """Encrypts one plaintext IP packet, routed by its destination address (or to peer;
        b"" with a peer sends a keepalive). Returns the actions; a packet that must wait for
        a handshake is kept and sent on FLUSH. Dropped packets are counted in drops."""
        buf_size = _lib.DATA_HEADROOM + len(packet) + _lib.DATA_TAILROOM
        buf = (ctypes.c_uint8 * buf_size)()
        ctypes.memmove(ctypes.byref(buf, _lib.DATA_HEADROOM), packet, len(packet))
        handle = peer._h() if peer else None

        def stage(verdict):
            if verdict != _lib.VERDICT_STAGE:
                return
            # The route's peer is not returned by wgc_send; look it up as the core did.
            target = peer or self._route(packet)
            if target is not None and len(target.staged) < self.MAX_STAGED:
                target.staged.append(bytes(packet))
            else:
                lib.wgc_endpoint_count_drop(self._h(), _lib.DROP_PEER_GONE)

        return self._call(lambda out, t: lib.wgc_send(self._h(), t, handle, buf, buf_size,
                                                       len(packet), out), now, stage)

    def _route(self, packet: bytes) -> Optional[Peer]:
        """The peer the core routes packet to (longest-prefix match of its destination)."""
        if len(packet) >= 20 and packet[0] >> 4 == 4:
            family, dst = _lib.AF_INET, packet[16:20]
        elif len(packet) >= 40 and packet[0] >> 4 == 6:
            family, dst = _lib.AF_INET6, packet[24:40]
        else:
            return None
        ip = (ctypes.c_uint8 * 16).from_buffer_copy(dst.ljust(16, b"\0"))
        handle = lib.wgc_allowedips_lookup(self._h(), family, ip)
        return self._peers.get(handle) if handle else None

    def receive(self, datagram: bytes, source: Address, *, now: Optional[int] = None) -> list:
        """Handles one UDP datagram from source (host, port). Returns the actions."""
        buf = (ctypes.c_uint8 * max(len(datagram), 1)).from_buffer_copy(datagram or b"\0")
        src = _to_addr(source)
        return self._call(lambda out, t: lib.wgc_receive(self._h(), t, buf, len(datagram),
                                                          src, out), now)

    def tick(self, *, now: Optional[int] = None) -> list:
        """Fires the protocol timers due at now. Returns the actions; call again at
        .deadline."""
        return self._call(lambda out, t: lib.wgc_endpoint_tick(self._h(), t, out), now)

    @property
    def deadline(self) -> Optional[int]:
        """When (monotonic ns) the endpoint next wants a tick; None if never."""
        t = lib.wgc_endpoint_next_deadline(self._h())
        return None if t == 2**64 - 1 else t

    @property
    def drops(self) -> dict:
        """Dropped packets by reason ("replayed", "decrypt_failed", ...), every reason."""
        n = lib.wgc_endpoint_get_drops(self._h(), None, 0)  # the library's own count
        counts = (ctypes.c_uint64 * n)()
        lib.wgc_endpoint_get_drops(self._h(), counts, n)
        return {lib.wgc_drop_reason_str(r).decode(): counts[r] for r in range(1, n)}

    def __repr__(self) -> str:
        if self._handle is None:
            return "<wgc.Endpoint closed>"
        return "<wgc.Endpoint %d peers>" % lib.wgc_endpoint_peer_count(self._handle)
