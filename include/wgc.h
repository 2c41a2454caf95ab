/* SPDX-License-Identifier: MIT */
/*
 * libwgc: a sans-I/O WireGuard protocol core.
 *
 * The caller feeds datagrams, plaintext packets and the current time; libwgc answers with actions
 * (send these bytes to that address, deliver this plaintext, flush or purge the packets you staged
 * for a peer) and the time it next wants to be called. It never opens a socket, reads a clock,
 * sleeps, locks or allocates: memory is one zero-filled block the caller gives at init, time is an
 * argument, randomness and wall-clock time come from callbacks.
 *
 * Threads. Every call that takes an endpoint or a peer is "serial per endpoint" (the caller runs
 * them one at a time, from any thread, e.g. one control thread or under one lock) except
 * wgc_send_seal, wgc_receive_open and the two job abandon calls, which touch only their job and
 * may run on any thread, concurrently with each other and with serial calls. Keypairs used by
 * in-flight jobs are reference counted, so a rekey or a removed peer never frees a key under a
 * running seal/open. Builds with WGC_DEBUG trap (__builtin_trap) when two serial calls overlap or
 * a job is used out of order.
 *
 * Packets are sealed and opened in place. For sending, the plaintext sits at buf + WGC_DATA_HEADROOM
 * and buf has WGC_DATA_TAILROOM bytes after it; the sealed message then starts at buf. Received data is
 * decrypted in place and delivered as a range of the caller's buffer. Out of place is there too, for
 * callers that would otherwise copy first: wgc_send_prepare_from seals a plaintext that lives
 * elsewhere (e.g. a segment of a TUN super-packet) into buf, and wgc_receive_open_into decrypts a
 * message into another buffer (e.g. a coalesced TUN write); the cipher's pass is then the copy.
 */
#ifndef WGC_H
#define WGC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define WGC_API __attribute__((visibility("default")))
#define WGC_MUST_CHECK __attribute__((warn_unused_result))
#else
#define WGC_API
#define WGC_MUST_CHECK
#endif

/* ---- version ----
 *
 * The one place the version is written: the Makefile reads these three lines for the shared
 * library's file name (libwgc.so.MAJOR.MINOR.PATCH), its soname (libwgc.so.MAJOR), wgc.pc and the
 * Debian changelog check; `wgc --version` prints wgc_version(). MAJOR changes with every
 * incompatible ABI change (abi/libwgc.sym lists the ABI), MINOR when functions are added. */
#define WGC_VERSION_MAJOR 0
#define WGC_VERSION_MINOR 1
#define WGC_VERSION_PATCH 0

#define WGC_VERSION_STRINGIFY_(x) #x
#define WGC_VERSION_STRINGIFY(x) WGC_VERSION_STRINGIFY_(x)
/* "MAJOR.MINOR.PATCH" of the header compiled against. */
#define WGC_VERSION_STRING                                                                        \
	WGC_VERSION_STRINGIFY(WGC_VERSION_MAJOR)                                                  \
	"." WGC_VERSION_STRINGIFY(WGC_VERSION_MINOR) "." WGC_VERSION_STRINGIFY(WGC_VERSION_PATCH)
/* One integer for #if comparisons: 0x00MMmmpp. */
#define WGC_VERSION_NUMBER                                                                        \
	((WGC_VERSION_MAJOR << 16) | (WGC_VERSION_MINOR << 8) | WGC_VERSION_PATCH)

/* "MAJOR.MINOR.PATCH" of the library linked at run time (static storage). Any thread. */
WGC_API const char *wgc_version(void);

/* ---- sizes ---- */

enum {
	WGC_KEY_LEN = 32,
	/* Bytes before the plaintext that a sealed data message needs (type, receiver, counter). */
	WGC_DATA_HEADROOM = 16,
	/* Bytes after the plaintext a sealed data message may need: padding up to 15, tag 16. */
	WGC_DATA_TAILROOM = 15 + 16,
	/* Most plaintext bytes wgc_send_prepare_gather takes in buf (the rest comes from its tail). */
	WGC_SEND_HEAD_MAX = 0xFFFF,
	/* Largest message the core itself builds (a handshake initiation). */
	WGC_MAX_CONTROL_MESSAGE_LEN = 148,
	/* A sealed empty data message (keepalive). */
	WGC_KEEPALIVE_MESSAGE_LEN = 32,
	/* Scratch bytes that always suffice for the messages one call emits per peer. */
	WGC_ACTION_SCRATCH_MIN = 256,
};

/* ---- status and drop reasons ---- */

enum wgc_status {
	WGC_OK = 0,
	WGC_ERR_INVALID = -1,   /* an argument is malformed or out of range */
	WGC_ERR_NO_SPACE = -2,  /* a fixed pool (peers, routes, keypairs) or output list is full */
	WGC_ERR_STATE = -3,     /* the object is not in a state that allows the call */
	WGC_ERR_CRYPTO = -4,    /* a cryptographic operation failed (e.g. low-order point) */
	WGC_ERR_EXISTS = -5,    /* the thing to add is already there */
	WGC_ERR_NOT_FOUND = -6, /* the thing to change or remove is not there */
	WGC_ERR_RANDOM = -7,    /* the random callback failed */
};

/* Why a packet died. Every drop has exactly one reason; counters are per endpoint. */
enum wgc_drop_reason {
	WGC_DROP_NONE = 0,
	WGC_DROP_SHORT,              /* datagram shorter than 4 bytes or than a data message */
	WGC_DROP_BAD_TYPE,           /* unknown type or non-zero reserved bytes */
	WGC_DROP_BAD_LENGTH,         /* handshake/cookie message of the wrong length */
	WGC_DROP_BAD_MAC1,           /* mac1 does not verify: never answered */
	WGC_DROP_COOKIE_SENT,        /* under load without valid mac2: answered with a cookie reply */
	WGC_DROP_RATE_LIMITED,       /* handshake with valid mac2 over its address's token bucket */
	WGC_DROP_NO_IDENTITY,        /* handshake while we have no private key */
	WGC_DROP_UNKNOWN_PEER,       /* initiation from a static key that is not a configured peer */
	WGC_DROP_HANDSHAKE_INVALID,  /* handshake decryption or DH failed */
	WGC_DROP_HANDSHAKE_REPLAYED, /* initiation timestamp not newer than the last accepted one */
	WGC_DROP_HANDSHAKE_FLOOD,    /* initiation less than 1/50 s after the last accepted one */
	WGC_DROP_UNKNOWN_INDEX,      /* receiver index matches no handshake or keypair of ours */
	WGC_DROP_UNEXPECTED,         /* index of ours, but of the wrong kind: a response to a
				      * session, data to a pending handshake */
	WGC_DROP_COOKIE_INVALID,     /* cookie reply that does not decrypt */
	WGC_DROP_DECRYPT_FAILED,     /* data message whose tag does not verify */
	WGC_DROP_REPLAYED,           /* counter seen already or too far behind the window */
	WGC_DROP_EXPIRED_KEYPAIR,    /* keypair past REJECT_AFTER_TIME or REJECT_AFTER_MESSAGES */
	WGC_DROP_BAD_PACKET,         /* decrypted payload is not a well-formed IPv4/IPv6 packet */
	WGC_DROP_SOURCE_NOT_ALLOWED, /* inner source address not in the sender's allowed IPs */
	WGC_DROP_NO_ROUTE,           /* outgoing packet to an address no peer is allowed for */
	WGC_DROP_NO_ENDPOINT,        /* peer has no known endpoint address to send to */
	WGC_DROP_NO_MEMORY,          /* keypair pool or output list exhausted */
	WGC_DROP_TOO_BIG,            /* outgoing packet does not fit its buffer or the MTU */
	WGC_DROP_PEER_GONE,          /* in-flight packet of a removed peer or retired keypair */
	WGC_DROP_RANDOM_FAILED,      /* the random callback failed, so no reply could be made */
	WGC_DROP_BAD_ADDRESS,        /* caller passed a source address of no known family */
	WGC_DROP_COOKIE_LIMITED,     /* under load without valid mac2, over the cookie-reply budget
				      * (its address and port's bucket, or the endpoint's):
				      * dropped unanswered, so a flood cannot use us as a reflector */
	WGC_DROP_QUEUE_FULL,         /* handshake message the caller dropped, before any crypto,
				      * because its handshake queue was full (counted by the caller
				      * with wgc_endpoint_count_drop) */
	WGC_DROP__COUNT
};

WGC_API const char *wgc_status_str(enum wgc_status status);
WGC_API const char *wgc_drop_reason_str(enum wgc_drop_reason reason);

/* ---- addresses ---- */

enum wgc_family {
	WGC_AF_NONE = 0,
	WGC_AF_INET = 4,
	WGC_AF_INET6 = 6,
};

/* A UDP endpoint. ip holds 4 (IPv4) or 16 (IPv6) bytes in network order; port in host order. */
struct wgc_addr {
	uint8_t family; /* enum wgc_family */
	uint16_t port;
	uint32_t scope_id; /* IPv6 link-local scope, else 0 */
	uint8_t ip[16];
};

/* An allowed-IPs prefix: the first cidr bits of ip (4 or 16 bytes, network order). */
struct wgc_prefix {
	uint8_t family; /* enum wgc_family */
	uint8_t cidr;   /* 0..32 for IPv4, 0..128 for IPv6 */
	uint8_t ip[16];
};

/* ---- actions: what the caller must do after a call ---- */

enum wgc_action_kind {
	WGC_ACTION_SEND,    /* send data[0..len) as one UDP datagram to addr */
	WGC_ACTION_DELIVER, /* data[0..len) is a plaintext IP packet from peer: hand it to the OS */
	WGC_ACTION_FLUSH,   /* peer has a usable session now: resend the packets staged for it */
	WGC_ACTION_PURGE,   /* the handshake for peer gave up: drop the packets staged for it */
};

struct wgc_peer;
struct wgc_endpoint;

struct wgc_action {
	enum wgc_action_kind kind;
	struct wgc_peer *peer; /* NULL only for a cookie reply to a sender we do not know */
	uint8_t *data;         /* SEND: in the actions' scratch or the caller's buffer; DELIVER: in the
				* caller's datagram buffer. Valid until the caller reuses that memory. */
	size_t len;
	struct wgc_addr addr; /* SEND: destination */
};

/*
 * Caller-owned output of a call: a list of actions and a scratch buffer where the core writes the
 * messages it makes itself (handshakes, cookie replies, keepalives). Reset count and scratch_used to
 * zero before reusing it. A call that runs out of room drops what does not fit (WGC_DROP_NO_MEMORY);
 * wgc_endpoint_tick instead stops early and asks to be called again at once.
 */
struct wgc_actions {
	struct wgc_action *list;
	size_t cap;
	size_t count;
	uint8_t *scratch;
	size_t scratch_size;
	size_t scratch_used;
};

/* ---- endpoint lifetime ---- */

/* Returns true and fills buf[0..len) with random bytes, or returns false on failure. */
typedef bool (*wgc_random_fn)(void *ctx, void *buf, size_t len);
/* Returns wall-clock time in nanoseconds since the Unix epoch (for TAI64N and handshake times). */
typedef uint64_t (*wgc_wall_clock_fn)(void *ctx);

/* Sizes of the fixed pools carved out of the endpoint's memory. */
struct wgc_limits {
	uint32_t max_peers;
	uint32_t max_keypairs;     /* sessions in use at once; a live peer uses 1 to 3; 0 = 3 per peer */
	uint32_t max_allowed_ips;  /* prefixes over all peers */
	uint32_t max_ratelimit_entries; /* sources tracked by the handshake rate limiter; 0 = 4096 */
};

struct wgc_config {
	struct wgc_limits limits;
	wgc_random_fn random;
	wgc_wall_clock_fn wall_clock;
	void *ctx; /* passed to the callbacks */
	/* Built-in load detection: under load when more than this many handshake messages with a valid
	 * mac1 arrived in the last second. 0 = default (WGC_DEFAULT_LOAD_THRESHOLD). Callers with a
	 * better signal (queue depth) call wgc_endpoint_report_load as well. */
	uint32_t load_threshold_per_s;
	uint32_t mtu; /* tunnel MTU for padding, bytes; 0 = WGC_DEFAULT_MTU */
	/* Cookie replies (made under load for handshakes without a valid mac2) cost a random draw, a
	 * hash, an AEAD and a datagram each. They are budgeted twice: per source address and port
	 * (20/s, burst 5, IPv6 by /64, a table of max_ratelimit_entries that evicts the longest idle
	 * source when full) and in all, at most this many per second (burst: a tenth of it). Over
	 * budget: dropped unanswered (COOKIE_LIMITED). The endpoint-wide figure bounds the chance of
	 * a peer without a cookie under a flood from more sources than that: about budget / flood
	 * rate per attempt. 0 = default (WGC_DEFAULT_COOKIE_REPLIES_PER_S). */
	uint32_t cookie_replies_per_s;
	/* Index partition, for callers that run several endpoints with one private key (each owning
	 * some of the peers) and steer received datagrams to the owner by our receiver index: every
	 * index this endpoint makes (the sender index of its handshake messages, hence the receiver
	 * index its peers put in responses, cookie replies and data) has a most significant byte b
	 * with b % index_lanes == index_lane, drawn uniformly among such values. On the wire the
	 * index is little-endian, so b is byte 7 of a cookie reply or data message and byte 11 of a
	 * response. wgc_endpoint_init refuses (INVALID) index_lane >= index_lanes when index_lanes
	 * is 2 or more. Peers see nothing of it: any index is valid to them. */
	uint8_t index_lanes; /* 0 or 1: no partition */
	uint8_t index_lane;  /* < index_lanes */
};

enum {
	WGC_DEFAULT_LOAD_THRESHOLD = 1024, /* handshake messages per second */
	WGC_DEFAULT_COOKIE_REPLIES_PER_S = 16384, /* about 3% of a core here */
	/* Tunnel MTU when none is given: 1500 minus the largest overhead (IPv6 40, UDP 8, data
	 * header 16, tag 16), as wg-quick and wireguard-go use. */
	WGC_DEFAULT_MTU = 1420,
};

/* Bytes of memory wgc_endpoint_init needs for these limits, or 0 if they are out of range. */
WGC_API size_t wgc_endpoint_size(const struct wgc_limits *limits);

/*
 * Sets up an endpoint inside mem (mem_size >= wgc_endpoint_size, 64-byte aligned, zero-filled: calloc,
 * mmap or static storage; pages of unused pool entries are never touched). The endpoint keeps cfg's
 * callbacks and ctx. Returns WGC_ERR_INVALID for bad arguments, WGC_ERR_RANDOM if the first secrets
 * cannot be drawn. Configuration-time.
 */
WGC_API WGC_MUST_CHECK enum wgc_status wgc_endpoint_init(void *mem, size_t mem_size,
							const struct wgc_config *cfg, uint64_t now,
							struct wgc_endpoint **out);
/* Wipes every secret and forgets every peer. Every job prepared with CRYPTO must have been sealed,
 * committed or abandoned first. The memory is the caller's. Configuration-time. */
WGC_API void wgc_endpoint_clear(struct wgc_endpoint *ep);

/*
 * The ChaCha20-Poly1305 implementation that seals and opens full-size data messages, for logs and
 * A/B tests. libwgc chooses it once per process by CPU: on x86-64 with AVX-512, OpenSSL 3 when it
 * loads and agrees with libsodium ("openssl-direct": its provider functions called directly;
 * "openssl": the same code through EVP), "libsodium" otherwise; shorter messages always use
 * libsodium. Every implementation gives the same bytes. OpenSSL is loaded and checked at the first
 * full-size seal or open, or when wgc_aead_backend is first called (a program that sandboxes
 * itself calls that before), so a process that moves no full-size packet never loads it.
 * wgc_aead_backend is callable from any thread. wgc_set_aead_backend forces one
 * by name for the whole process: WGC_ERR_INVALID for a name this build lacks, WGC_ERR_STATE
 * for one that cannot run here (nothing changes then). Call it before any endpoint seals or opens.
 */
WGC_API const char *wgc_aead_backend(void);
WGC_API WGC_MUST_CHECK enum wgc_status wgc_set_aead_backend(const char *name);

/* ---- endpoint configuration (configuration-time: serial per endpoint) ---- */

/* The X25519 public key of a private key (clamped as the protocol does). Any thread. */
WGC_API void wgc_public_key(uint8_t public_key[WGC_KEY_LEN],
			    const uint8_t private_key[WGC_KEY_LEN]);

/* Sets our static private key (clamped), or removes it when key is NULL or all zeros. A pending
 * handshake is forgotten and every session stops sending (it still receives until replaced), so the
 * next packet makes a new handshake. Setting the same key again changes nothing.
 * WGC_ERR_EXISTS, changing nothing, if a configured peer has the new key's public key: remove that
 * peer first (as wireguard-go does), so its caller-side state goes with it. */
WGC_API WGC_MUST_CHECK enum wgc_status wgc_endpoint_set_private_key(struct wgc_endpoint *ep,
								   const uint8_t *key, uint64_t now);
/* Copies our private/public key to out; returns false (out zeroed) if none is set. */
WGC_API bool wgc_endpoint_get_private_key(const struct wgc_endpoint *ep, uint8_t out[WGC_KEY_LEN]);
WGC_API bool wgc_endpoint_get_public_key(const struct wgc_endpoint *ep, uint8_t out[WGC_KEY_LEN]);
/* Tunnel MTU used to cap padding, bytes (0 = WGC_DEFAULT_MTU). */
WGC_API void wgc_endpoint_set_mtu(struct wgc_endpoint *ep, uint32_t mtu);
/* Tells the core the caller's handshake queue is filling: it behaves as under load until now + 1 s. */
WGC_API void wgc_endpoint_report_load(struct wgc_endpoint *ep, uint64_t now);
/* Copies the per-reason drop counters into counts[0..n) (index = enum wgc_drop_reason;
 * [WGC_DROP_NONE] is unused): the first min(n, the library's count) of them, zeroing any further
 * entries. Returns the library's count (WGC_DROP__COUNT of the header it was built with), so a
 * caller built against another header copies only what both know, and n = 0 just asks. */
WGC_API size_t wgc_endpoint_get_drops(const struct wgc_endpoint *ep, uint64_t *counts, size_t n);
/* Counts a drop the caller decided itself (e.g. WGC_DROP_PEER_GONE for staged packets it purged). */
WGC_API void wgc_endpoint_count_drop(struct wgc_endpoint *ep, enum wgc_drop_reason reason);

/* ---- peers (configuration-time) ---- */

/* Adds a peer. INVALID for an all-zero key or our own public key; EXISTS if present (*out set to
 * it); NO_SPACE when the pool is full. The returned pointer is valid until wgc_peer_remove. */
WGC_API WGC_MUST_CHECK enum wgc_status wgc_peer_add(struct wgc_endpoint *ep,
						   const uint8_t public_key[WGC_KEY_LEN], uint64_t now,
						   struct wgc_peer **out);
/* Finds a peer by public key in O(1); NULL if absent. Returns no reference. */
WGC_API struct wgc_peer *wgc_peer_lookup(const struct wgc_endpoint *ep,
					 const uint8_t public_key[WGC_KEY_LEN]);
/* Iterates peers in insertion order: pass NULL for the first; NULL after the last. */
WGC_API struct wgc_peer *wgc_peer_next(const struct wgc_endpoint *ep, const struct wgc_peer *prev);
/* Removes a peer: its routes, sessions and timers go, its keys are wiped. In-flight jobs of its
 * keypairs finish harmlessly (a receive commit drops with WGC_DROP_PEER_GONE; a seal still
 * seals) or are abandoned. The pointer dies now: passing it again is a caller bug. */
WGC_API void wgc_peer_remove(struct wgc_endpoint *ep, struct wgc_peer *peer);
WGC_API uint32_t wgc_endpoint_peer_count(const struct wgc_endpoint *ep);

/* Preshared key (NULL or all zeros = none). Applies to the next handshake; sessions stay. */
WGC_API void wgc_peer_set_preshared_key(struct wgc_peer *peer, const uint8_t *psk);
/* Copies the preshared key; false (out zeroed) when none. */
WGC_API bool wgc_peer_get_preshared_key(const struct wgc_peer *peer, uint8_t out[WGC_KEY_LEN]);
WGC_API void wgc_peer_get_public_key(const struct wgc_peer *peer, uint8_t out[WGC_KEY_LEN]);
/* Sets the endpoint address (family NONE clears it). INVALID for a bad family. */
WGC_API WGC_MUST_CHECK enum wgc_status wgc_peer_set_endpoint(struct wgc_peer *peer,
							    const struct wgc_addr *addr);
/* Copies the current endpoint (roamed or configured); false if none. */
WGC_API bool wgc_peer_get_endpoint(const struct wgc_peer *peer, struct wgc_addr *out);
/* Persistent keepalive interval in seconds (0 = off). Turning it on sends a keepalive at once (into
 * out, which may be NULL to skip that), starting a handshake if there is no session. */
WGC_API void wgc_peer_set_persistent_keepalive(struct wgc_endpoint *ep, struct wgc_peer *peer,
					       uint16_t interval_s, uint64_t now,
					       struct wgc_actions *out);
WGC_API uint16_t wgc_peer_get_persistent_keepalive(const struct wgc_peer *peer);
/* The caller's pointer carried by a peer (NULL initially). */
WGC_API void wgc_peer_set_user(struct wgc_peer *peer, void *user);
WGC_API void *wgc_peer_get_user(const struct wgc_peer *peer);

struct wgc_peer_stats {
	uint64_t rx_bytes; /* UDP payload bytes of authenticated messages received (as wireguard-go) */
	uint64_t tx_bytes; /* UDP payload bytes of messages sent to the peer */
	bool has_handshake;
	uint64_t last_handshake_wall_ns; /* wall clock of the last completed handshake */
	uint64_t last_handshake_ns;      /* monotonic time of the same */
	bool has_session; /* a current keypair not stopped by a key change (its age is not checked) */
};
WGC_API void wgc_peer_get_stats(const struct wgc_peer *peer, struct wgc_peer_stats *out);

/* ---- allowed IPs (configuration-time) ---- */

/* Routes prefix to peer (host bits beyond cidr are ignored). A prefix owned by another peer moves to
 * this one, as in the kernel. INVALID for a bad family or cidr; NO_SPACE only when the endpoint
 * already holds limits.max_allowed_ips prefixes or more (the node pool is sized so that any
 * max_allowed_ips prefixes fit). Nothing changes on failure. */
WGC_API WGC_MUST_CHECK enum wgc_status wgc_allowedip_insert(struct wgc_endpoint *ep,
							   struct wgc_peer *peer,
							   const struct wgc_prefix *prefix);
/* Removes prefix if peer owns exactly it; NOT_FOUND otherwise, INVALID for a bad family or cidr. */
WGC_API WGC_MUST_CHECK enum wgc_status wgc_allowedip_remove(struct wgc_endpoint *ep,
							   struct wgc_peer *peer,
							   const struct wgc_prefix *prefix);
/* Removes every prefix of peer. */
WGC_API void wgc_allowedips_clear_peer(struct wgc_endpoint *ep, struct wgc_peer *peer);
/* Copies up to cap of peer's prefixes to out; returns how many the peer has. */
WGC_API size_t wgc_peer_get_allowedips(const struct wgc_peer *peer, struct wgc_prefix *out,
				       size_t cap);
/* The peer that owns exactly prefix (host bits ignored), NULL when none does or it is invalid:
 * the peer wgc_allowedip_insert would take it from. */
WGC_API struct wgc_peer *wgc_allowedip_owner(const struct wgc_endpoint *ep,
					     const struct wgc_prefix *prefix);
/* Longest-prefix match of ip (4 or 16 bytes by family); NULL when no peer is allowed for it. */
WGC_API struct wgc_peer *wgc_allowedips_lookup(const struct wgc_endpoint *ep, uint8_t family,
					       const uint8_t *ip);

/* ---- data path ---- */

enum wgc_verdict {
	WGC_VERDICT_DONE,   /* handled; the actions (if any) say what to do */
	WGC_VERDICT_CRYPTO, /* the job is ready for wgc_send_seal / wgc_receive_open */
	WGC_VERDICT_STAGE,  /* no session yet: keep the packet for the peer until FLUSH or PURGE */
	WGC_VERDICT_DROP,   /* dropped; the job's drop field says why (already counted) */
};

struct wgc_keypair;

/* A packet on its way out. Filled by wgc_send_prepare; the caller owns the memory. */
struct wgc_send_job {
	struct wgc_keypair *keypair; /* referenced until wgc_send_seal or wgc_send_abandon */
	struct wgc_peer *peer;
	uint8_t *buf;          /* message starts here; plaintext at buf + WGC_DATA_HEADROOM */
	const uint8_t *plain;  /* the plaintext (or its tail) when it is not in buf (borrowed), else NULL */
	size_t plain_len;      /* plaintext bytes, in all */
	size_t message_len;    /* bytes of the sealed message */
	uint64_t counter;
	struct wgc_addr addr;  /* where to send it */
	enum wgc_drop_reason drop;
	uint8_t state;         /* private to libwgc: prepared, sealed or abandoned */
	uint16_t plain_head_len; /* wgc_send_prepare_gather: plaintext bytes already in buf, else 0 */
};

/*
 * Serial half of sending one plaintext IP packet (at buf + WGC_DATA_HEADROOM, plain_len bytes, buf
 * holding buf_size bytes in all). peer NULL routes by the packet's destination address; a peer
 * sends to it directly (plain_len 0 sends a keepalive). Returns CRYPTO with job ready to seal, STAGE
 * when there is no session yet (a handshake may be started, its message appended to out; hold the
 * packet until FLUSH/PURGE for job->peer), or DROP with job->drop. job and buf are the caller's,
 * borrowed for the call; after CRYPTO the job holds a keypair reference (and points into buf) until
 * wgc_send_seal or wgc_send_abandon, exactly one of which the caller must call: a dropped job
 * leaks a keypair pool slot. After any other verdict the job holds nothing. Serial per endpoint.
 */
WGC_API WGC_MUST_CHECK enum wgc_verdict wgc_send_prepare(struct wgc_endpoint *ep, uint64_t now,
							struct wgc_peer *peer, uint8_t *buf,
							size_t buf_size, size_t plain_len,
							struct wgc_send_job *job,
							struct wgc_actions *out);
/*
 * wgc_send_prepare for a plaintext that is not in buf: plain_len bytes at plain, which must not
 * overlap buf[0..buf_size) and must stay unchanged until wgc_send_seal or wgc_send_abandon (the
 * job borrows it); routing reads its destination from there. buf needs room for the whole sealed
 * message (WGC_DATA_HEADROOM + plain_len + WGC_DATA_TAILROOM suffices); its contents are not read.
 * Same verdicts, job rules and thread rule as wgc_send_prepare; wgc_send_seal then reads plain and
 * writes the message into buf in one pass when no padding is needed (plain_len a multiple of 16,
 * or equal to the MTU), else it copies plain into buf first.
 */
WGC_API WGC_MUST_CHECK enum wgc_verdict wgc_send_prepare_from(struct wgc_endpoint *ep, uint64_t now,
							     struct wgc_peer *peer,
							     const uint8_t *plain,
							     size_t plain_len, uint8_t *buf,
							     size_t buf_size,
							     struct wgc_send_job *job,
							     struct wgc_actions *out);
/*
 * wgc_send_prepare for a plaintext in two pieces: its first head_len bytes at buf +
 * WGC_DATA_HEADROOM (head_len at most WGC_SEND_HEAD_MAX; routing reads the destination there, so
 * they hold at least the IP header), the other tail_len bytes at tail, which must not overlap
 * buf[0..buf_size) and must stay unchanged until wgc_send_seal or wgc_send_abandon. For a segment
 * of a TSO super-packet: its rewritten headers in buf, its payload still in the super-packet.
 * wgc_send_seal reads tail straight into the message where the AEAD backend can (one pass), else
 * it copies tail into buf first. buf needs room for the whole sealed message, as for
 * wgc_send_prepare_from. A caller that keeps the packet after STAGE or DROP must copy tail to
 * buf + WGC_DATA_HEADROOM + head_len itself (the job does not). Same verdicts, job rules and
 * thread rule as wgc_send_prepare.
 */
WGC_API WGC_MUST_CHECK enum wgc_verdict wgc_send_prepare_gather(struct wgc_endpoint *ep,
							       uint64_t now,
							       struct wgc_peer *peer,
							       uint8_t *buf, size_t buf_size,
							       size_t head_len,
							       const uint8_t *tail,
							       size_t tail_len,
							       struct wgc_send_job *job,
							       struct wgc_actions *out);
/* Pads and encrypts a job that got CRYPTO from wgc_send_prepare (in place),
 * wgc_send_prepare_from (from its plaintext) or wgc_send_prepare_gather (from its two pieces),
 * and drops its keypair reference; then the message is
 * buf[0..message_len), to be sent to addr. Once per job. Any thread (not concurrently with another
 * call on the same job). */
WGC_API void wgc_send_seal(struct wgc_send_job *job);
/*
 * Gives up a job wgc_send_prepare returned with CRYPTO, without sealing it: drops its keypair
 * reference so the session's pool slot can be reused. The counter it took is simply skipped (the
 * receiver's replay window allows gaps) and its bytes stay in tx_bytes. Does nothing for a job
 * whose prepare returned another verdict, or one already sealed or abandoned, so calling it on
 * every job the caller drops is safe. The job must have been passed to wgc_send_prepare. Any
 * thread (not concurrently with another call on the same job).
 */
WGC_API void wgc_send_abandon(struct wgc_send_job *job);
/* prepare + seal + a SEND action for the result, for single-threaded callers. */
WGC_API enum wgc_verdict wgc_send(struct wgc_endpoint *ep, uint64_t now, struct wgc_peer *peer,
				  uint8_t *buf, size_t buf_size, size_t plain_len,
				  struct wgc_actions *out);

/* A received data message on its way in. Filled by wgc_receive_prepare; the caller owns the
 * memory. */
struct wgc_receive_job {
	struct wgc_keypair *keypair; /* referenced until wgc_receive_commit or wgc_receive_abandon */
	uint8_t *buf;
	uint8_t *plain;        /* the plaintext: buf + WGC_DATA_HEADROOM, or open_into's dst */
	size_t len;            /* datagram bytes */
	uint64_t counter;
	struct wgc_addr src;
	bool is_authentic;     /* set by wgc_receive_open */
	/* The peer whose endpoint this datagram just set (roaming): an authenticated handshake
	 * message (after prepare) or data message (after commit), else NULL. Borrowed, valid until
	 * the next configuration call; for the caller's per-peer bookkeeping, e.g. remembering the
	 * local address the datagram arrived at, to reply from it. */
	struct wgc_peer *peer;
	enum wgc_drop_reason drop;
	uint8_t state;         /* private to libwgc: prepared, opened, committed or abandoned */
};

/*
 * Serial first step for a received datagram (buf, len; src its source, family INET or INET6).
 * Handshake and cookie messages are handled here entirely (DONE/DROP, replies appended to out). A
 * data message whose index and counter look plausible returns CRYPTO: run wgc_receive_open (any
 * thread) then wgc_receive_commit, or wgc_receive_abandon instead of either. job, buf and src are
 * the caller's, borrowed for the call; after CRYPTO the job holds a keypair reference (and points
 * into buf) until commit or abandon, one of which the caller must call: a dropped job leaks a
 * keypair pool slot. After any other verdict the job holds nothing. Serial per endpoint.
 */
WGC_API WGC_MUST_CHECK enum wgc_verdict wgc_receive_prepare(struct wgc_endpoint *ep, uint64_t now,
							   uint8_t *buf, size_t len,
							   const struct wgc_addr *src,
							   struct wgc_receive_job *job,
							   struct wgc_actions *out);
/*
 * The first, cheap checks wgc_receive_prepare makes of a handshake-class datagram (exact length
 * for its type, a private key of ours, mac1), for callers that queue handshake messages to work
 * them later: a datagram that fails them should not take a queue slot or count as load (a flood
 * with a wrong mac1 then cannot make legitimate peers pay a cookie round trip). Returns the
 * reason, counting the drop as prepare would, when prepare would refuse it at these checks;
 * WGC_DROP_NONE otherwise, also for other message types (prepare makes these checks again).
 * Serial per endpoint.
 */
WGC_API enum wgc_drop_reason wgc_receive_precheck(struct wgc_endpoint *ep, const uint8_t *buf,
						  size_t len);

/* ---- initiations admitted by one endpoint and consumed by another ----
 *
 * For callers that run several endpoints with one private key, each owning some of the peers
 * (lanes; see index_lanes in struct wgc_config): responses, cookie replies and data name the owner
 * in their receiver index, but an initiation names its sender only inside its encrypted static
 * key. One admitting endpoint takes every initiation from the wire, runs the DoS gate and finds
 * the initiator with wgc_initiation_identify; the owner of that key then consumes the message
 * with wgc_receive_prepare_vetted. Cookie replies all come from the admitting endpoint, so the
 * initiator's retry, sent to it again, carries a mac2 made with its cookie secret.
 */

/*
 * Identifies the initiator of a handshake initiation (type 1) received from the wire (buf, len;
 * src its source, family INET or INET6), without consuming it. Runs exactly the admission
 * wgc_receive_prepare runs for an initiation: the exact length, a private key of ours, mac1, the
 * built-in load signal, and under load a valid mac2 within the per-source rate limit, else a
 * cookie reply appended to out as a SEND (peer NULL) within the cookie budget. Then it decrypts
 * the initiator's static public key (one X25519 and one AEAD open) into public_key, whether or
 * not that key is one of ep's peers, and wipes every intermediate secret. It changes no peer, no
 * handshake and no index: only what the gate itself keeps (load window, rate limiters, cookie
 * secret and budget), so the same message can still be consumed by wgc_receive_prepare on ep or
 * wgc_receive_prepare_vetted on another endpoint with the same private key. Returns
 * WGC_DROP_NONE when identified; otherwise the reason (WGC_DROP_BAD_TYPE for any other well-formed
 * type, WGC_DROP_COOKIE_SENT when a cookie reply was made, ...), counted in ep's drop counters as
 * prepare counts it, public_key left zeroed, and the message is finished with. buf, src,
 * public_key and out are the caller's, borrowed for the call. Serial per endpoint.
 */
WGC_API WGC_MUST_CHECK enum wgc_drop_reason wgc_initiation_identify(struct wgc_endpoint *ep,
								   uint64_t now,
								   const uint8_t *buf, size_t len,
								   const struct wgc_addr *src,
								   uint8_t public_key[WGC_KEY_LEN],
								   struct wgc_actions *out);
/*
 * wgc_receive_prepare for an initiation that another endpoint holding the same private key has
 * already admitted with wgc_initiation_identify (returning WGC_DROP_NONE). NEVER FEED IT STRAIGHT
 * FROM THE WIRE: it skips the under-load mac2 test, the cookie reply and the per-source rate limit
 * (the admitting endpoint applied them, with a cookie secret this endpoint's would not match), and
 * does not count the message as this endpoint's load, so a datagram that reaches it unvetted gets
 * a full X25519-costing consumption under any flood. It still checks the source family, the exact
 * length, a private key of ours and mac1 (cheap), then consumes the initiation as
 * wgc_receive_prepare does: the initiator must be a peer of ep (else WGC_DROP_UNKNOWN_PEER), the
 * timestamp and flood checks apply, and on success the response is appended to out as a SEND, the
 * session installed, the peer's endpoint set to src (job->peer) and DONE returned. Any other type
 * is dropped (WGC_DROP_BAD_TYPE for a well-formed one). Same verdicts (never CRYPTO), job rules,
 * ownership and counting as wgc_receive_prepare. Serial per endpoint.
 */
WGC_API WGC_MUST_CHECK enum wgc_verdict wgc_receive_prepare_vetted(struct wgc_endpoint *ep,
								  uint64_t now, uint8_t *buf,
								  size_t len,
								  const struct wgc_addr *src,
								  struct wgc_receive_job *job,
								  struct wgc_actions *out);
/* Decrypts, in place, a job that got CRYPTO from wgc_receive_prepare; sets is_authentic. Once
 * per job. Changes nothing shared. Any thread (not concurrently with another call on the same
 * job). */
WGC_API void wgc_receive_open(struct wgc_receive_job *job);
/*
 * wgc_receive_open, out of place: decrypts the message into dst (dst_size bytes, at least
 * job->len - WGC_KEEPALIVE_MESSAGE_LEN, not overlapping buf), leaving buf as it was. commit then
 * checks the plaintext there and its DELIVER points into dst, so dst must stay the caller's until
 * commit's actions are handled. Returns WGC_OK (is_authentic set; a forgery leaves nothing of
 * the plaintext in dst), WGC_ERR_INVALID for a NULL dst or WGC_ERR_NO_SPACE when dst is too
 * small, the job then unchanged (open it in place, or abandon it). Threads as wgc_receive_open.
 */
WGC_API WGC_MUST_CHECK enum wgc_status wgc_receive_open_into(struct wgc_receive_job *job,
							    uint8_t *dst, size_t dst_size);
/*
 * Serial last step for an opened job: replay window, keypair confirmation, timers, roaming,
 * inner-packet and allowed-IPs checks; appends DELIVER (non-empty payload) or nothing (keepalive),
 * maybe FLUSH, maybe a SEND (a receive-side rekey), and drops the job's keypair reference. Once
 * per job. Returns DONE or DROP. Serial per endpoint.
 */
WGC_API enum wgc_verdict wgc_receive_commit(struct wgc_endpoint *ep, uint64_t now,
					    struct wgc_receive_job *job, struct wgc_actions *out);
/*
 * Gives up a job wgc_receive_prepare returned with CRYPTO, opened or not, without committing it:
 * drops its keypair reference. Nothing is learnt from the packet (no replay-window, timer or
 * endpoint update). Does nothing for a job whose prepare returned another verdict, or one already
 * committed or abandoned, so calling it on every job the caller drops is safe. The job must have
 * been passed to wgc_receive_prepare. Any thread (not concurrently with another call on the same
 * job).
 */
WGC_API void wgc_receive_abandon(struct wgc_receive_job *job);
/* prepare + open + commit, for single-threaded callers. */
WGC_API enum wgc_verdict wgc_receive(struct wgc_endpoint *ep, uint64_t now, uint8_t *buf,
				     size_t len, const struct wgc_addr *src,
				     struct wgc_actions *out);

/* ---- timers ---- */

/*
 * Fires every protocol timer due at now (handshake retransmission and, after REKEY_ATTEMPT_TIME,
 * giving up with PURGE; passive and persistent keepalives; a new handshake for a peer that stopped
 * answering; wiping a peer's keys 3 * REJECT_AFTER_TIME after its last session) and returns the
 * next time (monotonic ns) the endpoint wants a tick, UINT64_MAX if none. Cost is proportional to
 * the peers that are due, not to the number of peers. If out fills up it stops early and returns
 * now. Not timers: rekeying after REKEY_AFTER_TIME or REKEY_AFTER_MESSAGES happens on the send and
 * receive paths (keepalives sent by the tick included); a session past REJECT_AFTER_TIME is
 * refused when next used; the cookie secret rotates lazily, redrawn when a handshake under load
 * needs it and it is older than COOKIE_SECRET_MAX_AGE (2 minutes). Timers due at once (a clock
 * that counted a suspend) fire the wipe first, and a wipe that is overdue is also applied by the
 * send and receive paths before they start a handshake or install a session: after a long sleep
 * the caller may tick, send or receive first, and the first packet still needs one round trip.
 * Serial per endpoint.
 */
WGC_API uint64_t wgc_endpoint_tick(struct wgc_endpoint *ep, uint64_t now, struct wgc_actions *out);
/* The deadline wgc_endpoint_tick would return, without firing anything. Serial per endpoint. */
WGC_API uint64_t wgc_endpoint_next_deadline(const struct wgc_endpoint *ep);

#ifdef __cplusplus
}
#endif

#endif
