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
	RATELIMIT_KEY_LEN = 9,     /* family byte + IPv4 address or IPv6 /64 */
	RATELIMIT_MAX_PROBE = 8,   /* slots looked at per packet */
	RATELIMIT_SECRET_LEN = 16, /* keys the slot hash so sources cannot be aimed at one slot */
};

struct wgc_ratelimit_entry {
	uint64_t last_ns;
	uint64_t tokens_ns; /* budget in nanoseconds; one packet costs 1 s / 20 */
	uint8_t key[RATELIMIT_KEY_LEN];
	bool is_used;
};

struct wgc_ratelimiter {
	struct wgc_ratelimit_entry *entries; /* cap entries, caller memory, cap a power of two */
	uint32_t cap;
	uint8_t secret[RATELIMIT_SECRET_LEN];
};

void wgc_ratelimiter_init(struct wgc_ratelimiter *limiter, struct wgc_ratelimit_entry *entries,
			  uint32_t cap, const uint8_t secret[RATELIMIT_SECRET_LEN]);
/* True if a handshake message from src may be processed now (and charges it). False when its
 * bucket is empty or, rarely, when the table has no room for a new source. */
bool wgc_ratelimiter_allow(struct wgc_ratelimiter *limiter, const struct wgc_addr *src,
			   uint64_t now);

#endif
