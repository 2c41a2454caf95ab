/* SPDX-License-Identifier: MIT */
/*
 * Per-source token bucket for handshake messages under load (whitepaper 5.3, the kernel's
 * ratelimiter): 20 per second with a burst of 5, keyed by IPv4 address or IPv6 /64, so one source
 * cannot make us spend all our DH time on it. A fixed table in caller memory; an entry idle for a
 * second has a full bucket again and is simply reused, so no sweep is ever needed.
 */
#ifndef WGC_CORE_RATELIMITER_H
#define WGC_CORE_RATELIMITER_H

#include <stdbool.h>
#include <stdint.h>

#include "wgc.h"

enum {
	RATELIMIT_PACKETS_PER_SECOND = 20,
	RATELIMIT_PACKETS_BURSTABLE = 5,
	RATELIMIT_KEY_LEN = 11,    /* family byte + IPv4 address or IPv6 /64 (+ port, if keyed so) */
	RATELIMIT_MAX_PROBE = 8,   /* slots looked at per packet */
	RATELIMIT_SECRET_LEN = 16, /* keys the slot hash so sources cannot be aimed at one slot */
};

struct wgc_ratelimit_entry {
	uint64_t last_ns;
	uint64_t tokens_ns; /* budget in nanoseconds; one packet costs 1 s / 20 */
	uint8_t key[RATELIMIT_KEY_LEN];
	bool is_used;
};

/* Two uses. The handshake limiter (the kernel's): keyed by address, for sources that proved
 * their address with mac2; a full table refuses a new source. The cookie-reply limiter: keyed
 * by address and port, for sources that proved nothing; a full table evicts the longest idle of
 * the slots probed, so a flood from countless spoofed sources cannot shut out a new one (the
 * endpoint-wide budget bounds that case), and a spoofer must know a victim's port, not only its
 * address, to spend the victim's bucket. */
enum wgc_ratelimit_kind {
	RATELIMIT_HANDSHAKES,
	RATELIMIT_COOKIE_REPLIES,
};

struct wgc_ratelimiter {
	struct wgc_ratelimit_entry *entries; /* cap entries, caller memory, cap a power of two */
	uint32_t cap;
	enum wgc_ratelimit_kind kind;
	uint8_t secret[RATELIMIT_SECRET_LEN];
};

void wgc_ratelimiter_init(struct wgc_ratelimiter *limiter, struct wgc_ratelimit_entry *entries,
			  uint32_t cap, enum wgc_ratelimit_kind kind,
			  const uint8_t secret[RATELIMIT_SECRET_LEN]);
/* True if a message from src may be processed now (and charges it). False when its bucket is
 * empty or, for the handshake limiter, rarely, when the table has no room for a new source. */
bool wgc_ratelimiter_allow(struct wgc_ratelimiter *limiter, const struct wgc_addr *src,
			   uint64_t now);

#endif
