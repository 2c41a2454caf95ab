/* SPDX-License-Identifier: MIT */
/*
 * Token buckets measured in nanoseconds, as the kernel does: the bucket fills at one nanosecond per
 * nanosecond up to five packets' worth, and each packet costs 1 s / 20. Open addressing with a short
 * probe; an entry idle for longer than a full refill is indistinguishable from a new one and is taken.
 */
#include "core/ratelimiter.h"

#include <string.h>

#include "core/messages.h"
#include "crypto/crypto.h"

#define PACKET_COST (WGC_NSEC_PER_SEC / RATELIMIT_PACKETS_PER_SECOND)
#define TOKEN_MAX (PACKET_COST * RATELIMIT_PACKETS_BURSTABLE)

void wgc_ratelimiter_init(struct wgc_ratelimiter *limiter, struct wgc_ratelimit_entry *entries,
			  uint32_t cap, enum wgc_ratelimit_kind kind,
			  const uint8_t secret[RATELIMIT_SECRET_LEN])
{
	limiter->entries = entries;
	limiter->cap = cap;
	limiter->kind = kind;
	memcpy(limiter->secret, secret, RATELIMIT_SECRET_LEN);
}

static void make_key(const struct wgc_ratelimiter *limiter, uint8_t key[RATELIMIT_KEY_LEN],
		     const struct wgc_addr *src)
{
	memset(key, 0, RATELIMIT_KEY_LEN);
	key[0] = src->family;
	/* IPv6 sources are grouped by /64: one subscriber usually owns a whole /64. */
	memcpy(key + 1, src->ip, src->family == WGC_AF_INET6 ? 8 : 4);
	if (limiter->kind == RATELIMIT_COOKIE_REPLIES) {
		key[9] = (uint8_t)(src->port >> 8);
		key[10] = (uint8_t)src->port;
	}
}

/* BLAKE2s of secret || key: one compression (keyed BLAKE2s would spend a second one on the key
 * block), and as good a PRF, BLAKE2 having no length extension. Runs for every handshake
 * message under load, flood included. */
static uint32_t slot_of(const struct wgc_ratelimiter *limiter, const uint8_t key[RATELIMIT_KEY_LEN])
{
	uint8_t in[RATELIMIT_SECRET_LEN + RATELIMIT_KEY_LEN];
	uint8_t digest[4];

	memcpy(in, limiter->secret, RATELIMIT_SECRET_LEN);
	memcpy(in + RATELIMIT_SECRET_LEN, key, RATELIMIT_KEY_LEN);
	wgc_blake2s(digest, sizeof(digest), in, sizeof(in), NULL, 0);
	wgc_memzero(in, sizeof(in));
	return (uint32_t)digest[0] | (uint32_t)digest[1] << 8 | (uint32_t)digest[2] << 16 |
	       (uint32_t)digest[3] << 24;
}

static bool is_stale(const struct wgc_ratelimit_entry *entry, uint64_t now)
{
	return !entry->is_used || now - entry->last_ns >= TOKEN_MAX;
}

bool wgc_ratelimiter_allow(struct wgc_ratelimiter *limiter, const struct wgc_addr *src,
			   uint64_t now)
{
	uint8_t key[RATELIMIT_KEY_LEN];
	uint32_t slot;
	struct wgc_ratelimit_entry *reusable = NULL;
	struct wgc_ratelimit_entry *entry;
	uint32_t i;

	struct wgc_ratelimit_entry *oldest = NULL;

	make_key(limiter, key, src);
	slot = slot_of(limiter, key);
	for (i = 0; i < RATELIMIT_MAX_PROBE; i++) {
		entry = &limiter->entries[(slot + i) & (limiter->cap - 1)];
		if (entry->is_used && memcmp(entry->key, key, RATELIMIT_KEY_LEN) == 0)
			goto found;
		if (!reusable && is_stale(entry, now))
			reusable = entry;
		if (!oldest || entry->last_ns < oldest->last_ns)
			oldest = entry;
	}
	if (!reusable && limiter->kind == RATELIMIT_COOKIE_REPLIES)
		reusable = oldest;
	if (!reusable)
		return false;
	memcpy(reusable->key, key, RATELIMIT_KEY_LEN);
	reusable->is_used = true;
	reusable->last_ns = now;
	reusable->tokens_ns = TOKEN_MAX - PACKET_COST;
	return true;
found:
	/* Refill by the time elapsed, capped; compared first so the sum cannot overflow. */
	if (now - entry->last_ns >= TOKEN_MAX - entry->tokens_ns)
		entry->tokens_ns = TOKEN_MAX;
	else
		entry->tokens_ns += now - entry->last_ns;
	entry->last_ns = now;
	if (entry->tokens_ns < PACKET_COST)
		return false;
	entry->tokens_ns -= PACKET_COST;
	return true;
}
