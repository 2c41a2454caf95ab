# SPDX-License-Identifier: MIT
"""The C ABI of libwgc as ctypes declarations: the structures of wgc.h, laid out as the C
compiler lays them out (tests/test_layout.py compares them with a compiled program), and the
prototype of every function the package calls.

The library is found by, in order: $WGC_LIBRARY (a path), the build tree this package sits in
(../../build/libwgc.so.0, for use from a checkout), then the system's libwgc.so.0 (the
libwgc0 package or `make install`).
"""
import ctypes
import ctypes.util
import os

SONAME_MAJOR = 0

KEY_LEN = 32
DATA_HEADROOM = 16
DATA_TAILROOM = 15 + 16
ACTION_SCRATCH_MIN = 256
MAX_CONTROL_MESSAGE_LEN = 148
ENDPOINT_ALIGN = 64

# enum wgc_status
OK = 0
STATUS_NAMES = {
    -1: "WGC_ERR_INVALID",
    -2: "WGC_ERR_NO_SPACE",
    -3: "WGC_ERR_STATE",
    -4: "WGC_ERR_CRYPTO",
    -5: "WGC_ERR_EXISTS",
    -6: "WGC_ERR_NOT_FOUND",
    -7: "WGC_ERR_RANDOM",
}
# enum wgc_family
AF_NONE, AF_INET, AF_INET6 = 0, 4, 6
# enum wgc_action_kind
ACTION_SEND, ACTION_DELIVER, ACTION_FLUSH, ACTION_PURGE = range(4)
# enum wgc_verdict
VERDICT_DONE, VERDICT_CRYPTO, VERDICT_STAGE, VERDICT_DROP = range(4)
# enum wgc_drop_reason: WGC_DROP__COUNT
DROP_COUNT = 29
DROP_PEER_GONE = 24


class Addr(ctypes.Structure):
    _fields_ = [("family", ctypes.c_uint8), ("port", ctypes.c_uint16),
                ("scope_id", ctypes.c_uint32), ("ip", ctypes.c_uint8 * 16)]


class Prefix(ctypes.Structure):
    _fields_ = [("family", ctypes.c_uint8), ("cidr", ctypes.c_uint8),
                ("ip", ctypes.c_uint8 * 16)]


class Action(ctypes.Structure):
    _fields_ = [("kind", ctypes.c_int), ("peer", ctypes.c_void_p),
                ("data", ctypes.POINTER(ctypes.c_uint8)), ("len", ctypes.c_size_t),
                ("addr", Addr)]


class Actions(ctypes.Structure):
    _fields_ = [("list", ctypes.POINTER(Action)), ("cap", ctypes.c_size_t),
                ("count", ctypes.c_size_t), ("scratch", ctypes.POINTER(ctypes.c_uint8)),
                ("scratch_size", ctypes.c_size_t), ("scratch_used", ctypes.c_size_t)]


RANDOM_FN = ctypes.CFUNCTYPE(ctypes.c_bool, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)
WALL_CLOCK_FN = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_void_p)


class Limits(ctypes.Structure):
    _fields_ = [("max_peers", ctypes.c_uint32), ("max_keypairs", ctypes.c_uint32),
                ("max_allowed_ips", ctypes.c_uint32),
                ("max_ratelimit_entries", ctypes.c_uint32)]


class Config(ctypes.Structure):
    _fields_ = [("limits", Limits), ("random", RANDOM_FN), ("wall_clock", WALL_CLOCK_FN),
                ("ctx", ctypes.c_void_p), ("load_threshold_per_s", ctypes.c_uint32),
                ("mtu", ctypes.c_uint32), ("cookie_replies_per_s", ctypes.c_uint32),
                ("index_lanes", ctypes.c_uint8), ("index_lane", ctypes.c_uint8)]


class PeerStats(ctypes.Structure):
    _fields_ = [("rx_bytes", ctypes.c_uint64), ("tx_bytes", ctypes.c_uint64),
                ("has_handshake", ctypes.c_bool), ("last_handshake_wall_ns", ctypes.c_uint64),
                ("last_handshake_ns", ctypes.c_uint64), ("has_session", ctypes.c_bool)]


def _find():
    path = os.environ.get("WGC_LIBRARY")
    if path:
        return path
    here = os.path.dirname(os.path.abspath(__file__))
    in_tree = os.path.join(here, "..", "..", "..", "build", "libwgc.so.%d" % SONAME_MAJOR)
    if os.path.exists(in_tree):
        return os.path.normpath(in_tree)
    return ctypes.util.find_library("wgc") or "libwgc.so.%d" % SONAME_MAJOR


_u8p = ctypes.POINTER(ctypes.c_uint8)
_vp = ctypes.c_void_p
_int = ctypes.c_int
_u64 = ctypes.c_uint64
_size = ctypes.c_size_t

# name: (restype, argtypes)
_PROTOTYPES = {
    "wgc_version": (ctypes.c_char_p, []),
    "wgc_status_str": (ctypes.c_char_p, [_int]),
    "wgc_drop_reason_str": (ctypes.c_char_p, [_int]),
    "wgc_endpoint_size": (_size, [ctypes.POINTER(Limits)]),
    "wgc_endpoint_init": (_int, [_vp, _size, ctypes.POINTER(Config), _u64,
                                 ctypes.POINTER(_vp)]),
    "wgc_endpoint_clear": (None, [_vp]),
    "wgc_public_key": (None, [_u8p, _u8p]),
    "wgc_endpoint_set_private_key": (_int, [_vp, _u8p, _u64]),
    "wgc_endpoint_get_private_key": (ctypes.c_bool, [_vp, _u8p]),
    "wgc_endpoint_get_public_key": (ctypes.c_bool, [_vp, _u8p]),
    "wgc_endpoint_set_mtu": (None, [_vp, ctypes.c_uint32]),
    "wgc_endpoint_get_drops": (ctypes.c_size_t, [_vp, ctypes.POINTER(_u64), ctypes.c_size_t]),
    "wgc_endpoint_count_drop": (None, [_vp, _int]),
    "wgc_endpoint_peer_count": (ctypes.c_uint32, [_vp]),
    "wgc_peer_add": (_int, [_vp, _u8p, _u64, ctypes.POINTER(_vp)]),
    "wgc_peer_lookup": (_vp, [_vp, _u8p]),
    "wgc_peer_remove": (None, [_vp, _vp]),
    "wgc_peer_set_preshared_key": (None, [_vp, _u8p]),
    "wgc_peer_get_preshared_key": (ctypes.c_bool, [_vp, _u8p]),
    "wgc_peer_get_public_key": (None, [_vp, _u8p]),
    "wgc_peer_set_endpoint": (_int, [_vp, ctypes.POINTER(Addr)]),
    "wgc_peer_get_endpoint": (ctypes.c_bool, [_vp, ctypes.POINTER(Addr)]),
    "wgc_peer_set_persistent_keepalive": (None, [_vp, _vp, ctypes.c_uint16, _u64,
                                                 ctypes.POINTER(Actions)]),
    "wgc_peer_get_persistent_keepalive": (ctypes.c_uint16, [_vp]),
    "wgc_peer_get_stats": (None, [_vp, ctypes.POINTER(PeerStats)]),
    "wgc_allowedip_insert": (_int, [_vp, _vp, ctypes.POINTER(Prefix)]),
    "wgc_allowedip_remove": (_int, [_vp, _vp, ctypes.POINTER(Prefix)]),
    "wgc_peer_get_allowedips": (_size, [_vp, ctypes.POINTER(Prefix), _size]),
    "wgc_allowedips_lookup": (_vp, [_vp, ctypes.c_uint8, _u8p]),
    "wgc_send": (_int, [_vp, _u64, _vp, _u8p, _size, _size, ctypes.POINTER(Actions)]),
    "wgc_receive": (_int, [_vp, _u64, _u8p, _size, ctypes.POINTER(Addr),
                           ctypes.POINTER(Actions)]),
    "wgc_endpoint_tick": (_u64, [_vp, _u64, ctypes.POINTER(Actions)]),
    "wgc_endpoint_next_deadline": (_u64, [_vp]),
}


def load():
    lib = ctypes.CDLL(_find())
    for name, (restype, argtypes) in _PROTOTYPES.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes
    version = lib.wgc_version().decode()
    if int(version.split(".")[0]) != SONAME_MAJOR:
        raise ImportError("libwgc %s is not ABI %d" % (version, SONAME_MAJOR))
    return lib


lib = load()
