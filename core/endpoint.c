/* SPDX-License-Identifier: MIT */
/*
 * Endpoint setup, configuration and the timer tick (whitepaper 6). The caller's memory block is
 * laid out once into pools and tables; nothing is allocated afterwards. Configuration calls validate
 * everything before they change anything. The tick pops only peers whose earliest deadline passed.
 */
#include "core/endpoint.h"

#include <stddef.h>
#include <string.h>

#include "core/messages.h"
#include "crypto/crypto.h"

enum {
	LAYOUT_ALIGN = 64,
	MAX_PEERS_LIMIT = 1 << 24,
	MAX_KEYPAIRS_LIMIT = 1 << 26,
	MAX_ROUTES_LIMIT = 1 << 26,
	MAX_RATELIMIT_LIMIT = 1 << 24,
};

/* Where each pool lives inside the caller's block. */
struct layout {
	uint32_t peer_buckets;
	uint32_t index_buckets;
	uint32_t keypairs;
	uint32_t ratelimit_entries;
	size_t peers_off;
	size_t peer_buckets_off;
	size_t index_buckets_off;
	size_t keypairs_off;
	size_t allowedips_off;
	size_t ratelimit_off;
	size_t cookie_ratelimit_off;
	size_t heap_off;
	size_t total;
};

static uint32_t round_up_pow2(uint64_t n)
{
	uint32_t p = 1;

	while (p < n)
		p <<= 1;
	return p;
}

/* Appends count * size bytes at the next aligned offset; false on overflow. */
static bool layout_add(size_t *total, size_t *offset, uint64_t count, size_t size)
{
	size_t start = (*total + LAYOUT_ALIGN - 1) & ~(size_t)(LAYOUT_ALIGN - 1);
	uint64_t bytes = count * size;

	if (start < *total || bytes > SIZE_MAX - start)
		return false;
	*offset = start;
	*total = start + (size_t)bytes;
	return true;
}

static bool compute_layout(const struct wgc_limits *limits, struct layout *l)
{
	uint64_t keypairs;
	size_t routes_size;

	if (!limits || limits->max_peers == 0 || limits->max_peers > MAX_PEERS_LIMIT ||
	    limits->max_keypairs > MAX_KEYPAIRS_LIMIT || limits->max_allowed_ips > MAX_ROUTES_LIMIT ||
	    limits->max_ratelimit_entries > MAX_RATELIMIT_LIMIT)
		return false;
	keypairs = limits->max_keypairs ? limits->max_keypairs : 3 * (uint64_t)limits->max_peers;
	if (keypairs > MAX_KEYPAIRS_LIMIT)
		return false;
	memset(l, 0, sizeof(*l));
	l->keypairs = (uint32_t)keypairs;
	l->peer_buckets = round_up_pow2(limits->max_peers);
	/* Two buckets per index holder (pending initiation per peer, and each keypair). */
	l->index_buckets = round_up_pow2(2 * ((uint64_t)limits->max_peers + keypairs));
	l->ratelimit_entries = round_up_pow2(limits->max_ratelimit_entries ?
					     limits->max_ratelimit_entries :
					     DEFAULT_RATELIMIT_ENTRIES);
	routes_size = wgc_trie_mem_size(limits->max_allowed_ips);
	if (limits->max_allowed_ips && routes_size == 0)
		return false;
	l->total = sizeof(struct wgc_endpoint);
	return layout_add(&l->total, &l->peers_off, limits->max_peers, sizeof(struct wgc_peer)) &&
	       layout_add(&l->total, &l->peer_buckets_off, l->peer_buckets,
			  sizeof(struct wgc_peer *)) &&
	       layout_add(&l->total, &l->index_buckets_off, l->index_buckets,
			  sizeof(struct wgc_index_entry *)) &&
	       layout_add(&l->total, &l->keypairs_off, l->keypairs, sizeof(struct wgc_keypair)) &&
	       layout_add(&l->total, &l->allowedips_off, 1, routes_size) &&
	       layout_add(&l->total, &l->ratelimit_off, l->ratelimit_entries,
			  sizeof(struct wgc_ratelimit_entry)) &&
	       layout_add(&l->total, &l->cookie_ratelimit_off, l->ratelimit_entries,
			  sizeof(struct wgc_ratelimit_entry)) &&
	       layout_add(&l->total, &l->heap_off, limits->max_peers, sizeof(struct wgc_timers *));
}

size_t wgc_endpoint_size(const struct wgc_limits *limits)
{
	struct layout l;

	return compute_layout(limits, &l) ? l.total : 0;
}

enum wgc_status wgc_endpoint_init(void *mem, size_t mem_size, const struct wgc_config *cfg,
				  uint64_t now, struct wgc_endpoint **out)
{
	uint8_t *base = mem;
	struct wgc_endpoint *ep = mem;
	uint8_t secret[RATELIMIT_SECRET_LEN + NOISE_SYMMETRIC_KEY_LEN];
	struct layout l;
	enum wgc_status status = WGC_ERR_INVALID;

	if (!mem || !cfg || !out || !cfg->random || !cfg->wall_clock ||
	    ((uintptr_t)mem & (LAYOUT_ALIGN - 1)) != 0 || !compute_layout(&cfg->limits, &l) ||
	    mem_size < l.total || (cfg->index_lanes >= 2 && cfg->index_lane >= cfg->index_lanes))
		goto out;
	wgc_crypto_init();
	status = WGC_ERR_RANDOM;
	if (!cfg->random(cfg->ctx, secret, sizeof(secret)))
		goto out;
	memset(ep, 0, sizeof(*ep));
	wgc_noise_local_init(&ep->local);
	ep->random = cfg->random;
	ep->wall_clock = cfg->wall_clock;
	ep->ctx = cfg->ctx;
	ep->mtu = cfg->mtu ? cfg->mtu : WGC_DEFAULT_MTU;
	ep->index_lanes = cfg->index_lanes >= 2 ? cfg->index_lanes : 1;
	ep->index_lane = cfg->index_lanes >= 2 ? cfg->index_lane : 0;
	ep->load_threshold_per_s = cfg->load_threshold_per_s ? cfg->load_threshold_per_s :
							       WGC_DEFAULT_LOAD_THRESHOLD;
	ep->cookie_cost_ns = WGC_NSEC_PER_SEC / (cfg->cookie_replies_per_s ?
						 cfg->cookie_replies_per_s :
						 WGC_DEFAULT_COOKIE_REPLIES_PER_S);
	if (ep->cookie_cost_ns == 0) /* more than 10^9 a second asked: one a nanosecond */
		ep->cookie_cost_ns = 1;
	ep->cookie_tokens_max_ns = WGC_NSEC_PER_SEC / 10 < ep->cookie_cost_ns ?
					   ep->cookie_cost_ns :
					   WGC_NSEC_PER_SEC / 10;
	ep->cookie_tokens_ns = ep->cookie_tokens_max_ns;
	ep->cookie_last_ns = now;
	wgc_peer_table_init(&ep->peers, (struct wgc_peer **)(void *)(base + l.peer_buckets_off),
			    l.peer_buckets, (struct wgc_peer *)(void *)(base + l.peers_off),
			    cfg->limits.max_peers);
	wgc_index_table_init(&ep->indexes,
			     (struct wgc_index_entry **)(void *)(base + l.index_buckets_off),
			     l.index_buckets);
	wgc_keypair_pool_init(&ep->keypairs, (struct wgc_keypair *)(void *)(base + l.keypairs_off),
			      l.keypairs);
	wgc_trie_init(&ep->allowedips, base + l.allowedips_off, cfg->limits.max_allowed_ips);
	wgc_ratelimiter_init(&ep->ratelimiter,
			     (struct wgc_ratelimit_entry *)(void *)(base + l.ratelimit_off),
			     l.ratelimit_entries, RATELIMIT_HANDSHAKES, secret);
	wgc_ratelimiter_init(&ep->cookie_ratelimiter,
			     (struct wgc_ratelimit_entry *)(void *)(base + l.cookie_ratelimit_off),
			     l.ratelimit_entries, RATELIMIT_COOKIE_REPLIES, secret);
	wgc_timer_heap_init(&ep->timers, (struct wgc_timers **)(void *)(base + l.heap_off),
			    cfg->limits.max_peers);
	wgc_cookie_checker_set_secret(&ep->cookie_checker, secret + RATELIMIT_SECRET_LEN, now);
	*out = ep;
	status = WGC_OK;
out:
	wgc_memzero(secret, sizeof(secret));
	return status;
}

static void remove_peer(struct wgc_endpoint *ep, struct wgc_peer *peer);

void wgc_endpoint_clear(struct wgc_endpoint *ep)
{
	wgc_endpoint_serial_enter(ep);
	while (ep->peers.first)
		remove_peer(ep, ep->peers.first);
	/* With every peer gone only a job's reference can keep a keypair out of the pool, and no
	 * job may outlive the endpoint (its last unref would write into the caller's memory). */
	WGC_ASSERT(wgc_keypair_pool_free_count(&ep->keypairs) == ep->keypairs.cap);
	wgc_noise_local_set_private_key(&ep->local, NULL);
	wgc_cookie_checker_clear(&ep->cookie_checker);
	wgc_memzero(ep->ratelimiter.secret, sizeof(ep->ratelimiter.secret));
	wgc_memzero(ep->cookie_ratelimiter.secret, sizeof(ep->cookie_ratelimiter.secret));
	wgc_endpoint_serial_exit(ep);
}

/* ---- actions and small helpers ---- */

uint8_t *wgc_actions_reserve(struct wgc_actions *out, size_t len)
{
	uint8_t *p;

	if (!out || out->count >= out->cap || out->scratch_size - out->scratch_used < len)
		return NULL;
	p = out->scratch + out->scratch_used;
	out->scratch_used += len;
	return p;
}

bool wgc_actions_push(struct wgc_actions *out, enum wgc_action_kind kind, struct wgc_peer *peer,
		      uint8_t *data, size_t len, const struct wgc_addr *addr)
{
	struct wgc_action *action;

	if (!out || out->count >= out->cap)
		return false;
	action = &out->list[out->count++];
	action->kind = kind;
	action->peer = peer;
	action->data = data;
	action->len = len;
	if (addr)
		action->addr = *addr;
	else
		action->addr.family = WGC_AF_NONE;
	return true;
}

void wgc_endpoint_count(struct wgc_endpoint *ep, enum wgc_drop_reason reason)
{
	if (reason > WGC_DROP_NONE && reason < WGC_DROP__COUNT)
		ep->drops[reason]++;
}

void wgc_endpoint_count_drop(struct wgc_endpoint *ep, enum wgc_drop_reason reason)
{
	wgc_endpoint_serial_enter(ep);
	wgc_endpoint_count(ep, reason);
	wgc_endpoint_serial_exit(ep);
}

size_t wgc_endpoint_get_drops(const struct wgc_endpoint *ep, uint64_t *counts, size_t n)
{
	size_t known = n < WGC_DROP__COUNT ? n : WGC_DROP__COUNT;

	if (known > 0)
		memcpy(counts, ep->drops, known * sizeof(counts[0]));
	if (n > known)
		memset(counts + known, 0, (n - known) * sizeof(counts[0]));
	return WGC_DROP__COUNT;
}

uint64_t wgc_endpoint_jitter(struct wgc_endpoint *ep)
{
	uint8_t r[2];

	if (!ep->random(ep->ctx, r, sizeof(r)))
		return 0;
	return (uint64_t)(((unsigned)r[0] << 8 | r[1]) % REKEY_TIMEOUT_JITTER_MAX_MS) * NS_PER_MS;
}

/*
 * The most significant byte of an index in our lane from a random byte r, uniform over the
 * allowed bytes (lane, lane + lanes, ...: `allowed` of them), or false to draw again: r picks
 * the (r % allowed)-th only below the largest multiple of allowed that fits in a byte, so no
 * allowed byte is likelier than another. The top byte, not the low one, because the index table
 * buckets by the low bits, which must stay uniform for its chains to stay short.
 */
static bool lane_top_byte(const struct wgc_endpoint *ep, uint8_t r, uint8_t *top)
{
	unsigned allowed = (255u - ep->index_lane) / ep->index_lanes + 1;

	if (r >= 256u - 256u % allowed)
		return false;
	*top = (uint8_t)(ep->index_lane + (r % allowed) * ep->index_lanes);
	return true;
}

bool wgc_endpoint_new_index(struct wgc_endpoint *ep, uint32_t *index)
{
	uint8_t r[4];
	uint8_t top;
	int attempt;

	/* The table is at most half full and its indexes are spread over at least 2^24 values of
	 * the 2^32, so a free index is found in a few draws; a top byte over the largest multiple
	 * is redrawn at most a third of the time. */
	for (attempt = 0; attempt < 64; attempt++) {
		if (!ep->random(ep->ctx, r, sizeof(r)))
			return false;
		if (!lane_top_byte(ep, r[3], &top))
			continue;
		r[3] = top;
		*index = wgc_load_le32(r);
		if (!wgc_index_lookup(&ep->indexes, *index))
			return true;
	}
	return false;
}

bool wgc_endpoint_is_under_load(const struct wgc_endpoint *ep, uint64_t now)
{
	return ep->has_load && now < ep->under_load_until_ns;
}

void wgc_endpoint_mark_load(struct wgc_endpoint *ep, uint64_t now)
{
	ep->has_load = true;
	ep->under_load_until_ns = now + UNDER_LOAD_AFTER;
}

bool wgc_endpoint_take_cookie_token(struct wgc_endpoint *ep, uint64_t now)
{
	uint64_t elapsed = now - ep->cookie_last_ns;

	/* Refill by the time elapsed, capped; compared first so the sum cannot overflow. */
	if (elapsed >= ep->cookie_tokens_max_ns - ep->cookie_tokens_ns)
		ep->cookie_tokens_ns = ep->cookie_tokens_max_ns;
	else
		ep->cookie_tokens_ns += elapsed;
	ep->cookie_last_ns = now;
	if (ep->cookie_tokens_ns < ep->cookie_cost_ns)
		return false;
	ep->cookie_tokens_ns -= ep->cookie_cost_ns;
	return true;
}

void wgc_endpoint_report_load(struct wgc_endpoint *ep, uint64_t now)
{
	wgc_endpoint_serial_enter(ep);
	wgc_endpoint_mark_load(ep, now);
	wgc_endpoint_serial_exit(ep);
}

void wgc_endpoint_set_mtu(struct wgc_endpoint *ep, uint32_t mtu)
{
	wgc_endpoint_serial_enter(ep);
	ep->mtu = mtu ? mtu : WGC_DEFAULT_MTU;
	wgc_endpoint_serial_exit(ep);
}

/* ---- identity ---- */

/* wireguard-go's ExpireCurrentKeypairs: forget the pending handshake and stop sending under the
 * current sessions (they still receive), so the next packet makes a new handshake at once. */
static void expire_current_keypairs(struct wgc_endpoint *ep, struct wgc_peer *peer)
{
	wgc_index_remove(&ep->indexes, &peer->handshake_entry);
	wgc_noise_handshake_clear(&peer->handshake);
	peer->has_sent_initiation = false;
	if (peer->keypairs.current)
		peer->keypairs.current->send_counter = REJECT_AFTER_MESSAGES;
	if (peer->keypairs.next)
		peer->keypairs.next->send_counter = REJECT_AFTER_MESSAGES;
}

void wgc_public_key(uint8_t public_key[WGC_KEY_LEN], const uint8_t private_key[WGC_KEY_LEN])
{
	wgc_x25519_public(public_key, private_key);
}

enum wgc_status wgc_endpoint_set_private_key(struct wgc_endpoint *ep, const uint8_t *key,
					     uint64_t now)
{
	uint8_t clamped[WGC_KEY_LEN];
	uint8_t public_key[WGC_KEY_LEN];
	bool has_key = key && !wgc_ct_is_zero(key, WGC_KEY_LEN);
	enum wgc_status status = WGC_OK;
	struct wgc_peer *peer;

	(void)now;
	wgc_endpoint_serial_enter(ep);
	memset(clamped, 0, sizeof(clamped));
	if (has_key) {
		memcpy(clamped, key, WGC_KEY_LEN);
		wgc_x25519_clamp(clamped);
	}
	if (has_key == ep->local.has_private_key &&
	    wgc_ct_equal(clamped, ep->local.private_key, WGC_KEY_LEN))
		goto out;
	/* A peer cannot have our own key; the caller removes it first (and its own state with it),
	 * rather than the core dropping it behind the caller's back. */
	status = WGC_ERR_EXISTS;
	if (has_key) {
		wgc_x25519_public(public_key, clamped);
		if (wgc_peer_table_lookup(&ep->peers, public_key))
			goto out;
	}
	status = WGC_OK;
	wgc_noise_local_set_private_key(&ep->local, has_key ? clamped : NULL);
	if (ep->local.has_private_key)
		wgc_cookie_checker_set_public_key(&ep->cookie_checker, ep->local.public_key);
	for (peer = ep->peers.first; peer; peer = peer->list_next) {
		wgc_noise_handshake_rekey_static(&peer->handshake, &ep->local);
		expire_current_keypairs(ep, peer);
	}
out:
	wgc_memzero(clamped, sizeof(clamped));
	wgc_endpoint_serial_exit(ep);
	return status;
}

bool wgc_endpoint_get_private_key(const struct wgc_endpoint *ep, uint8_t out[WGC_KEY_LEN])
{
	memcpy(out, ep->local.private_key, WGC_KEY_LEN);
	return ep->local.has_private_key;
}

bool wgc_endpoint_get_public_key(const struct wgc_endpoint *ep, uint8_t out[WGC_KEY_LEN])
{
	memcpy(out, ep->local.public_key, WGC_KEY_LEN);
	return ep->local.has_private_key;
}

/* ---- peers ---- */

static enum wgc_status add_peer(struct wgc_endpoint *ep, const uint8_t public_key[WGC_KEY_LEN],
				struct wgc_peer **out)
{
	struct wgc_peer *peer;

	if (!public_key || wgc_ct_is_zero(public_key, WGC_KEY_LEN) ||
	    (ep->local.has_private_key &&
	     memcmp(public_key, ep->local.public_key, WGC_KEY_LEN) == 0))
		return WGC_ERR_INVALID;
	peer = wgc_peer_table_lookup(&ep->peers, public_key);
	if (peer) {
		if (out)
			*out = peer;
		return WGC_ERR_EXISTS;
	}
	peer = wgc_peer_table_insert(&ep->peers, public_key);
	if (!peer)
		return WGC_ERR_NO_SPACE;
	wgc_noise_handshake_init(&peer->handshake, &ep->local, public_key);
	wgc_cookie_maker_init(&peer->cookie, public_key);
	if (out)
		*out = peer;
	return WGC_OK;
}

enum wgc_status wgc_peer_add(struct wgc_endpoint *ep, const uint8_t public_key[WGC_KEY_LEN],
			     uint64_t now, struct wgc_peer **out)
{
	enum wgc_status status;

	(void)now;
	wgc_endpoint_serial_enter(ep);
	status = add_peer(ep, public_key, out);
	wgc_endpoint_serial_exit(ep);
	return status;
}

struct wgc_peer *wgc_peer_lookup(const struct wgc_endpoint *ep,
				 const uint8_t public_key[WGC_KEY_LEN])
{
	return wgc_peer_table_lookup(&ep->peers, public_key);
}

struct wgc_peer *wgc_peer_next(const struct wgc_endpoint *ep, const struct wgc_peer *prev)
{
	return prev ? prev->list_next : ep->peers.first;
}

uint32_t wgc_endpoint_peer_count(const struct wgc_endpoint *ep)
{
	return ep->peers.count;
}

static void remove_peer(struct wgc_endpoint *ep, struct wgc_peer *peer)
{
	wgc_keypairs_clear(&peer->keypairs, &ep->indexes);
	wgc_index_remove(&ep->indexes, &peer->handshake_entry);
	wgc_timers_clear(&ep->timers, &peer->timers);
	wgc_trie_remove_owner(&ep->allowedips, &peer->allowedips);
	ep->allowedips_generation++;
	wgc_peer_table_remove(&ep->peers, peer);
}

void wgc_peer_remove(struct wgc_endpoint *ep, struct wgc_peer *peer)
{
	wgc_endpoint_serial_enter(ep);
	/* A removed peer is wiped and back on the free list: removing it again is a caller bug. */
	WGC_ASSERT(peer->is_live);
	remove_peer(ep, peer);
	wgc_endpoint_serial_exit(ep);
}

void wgc_peer_set_preshared_key(struct wgc_peer *peer, const uint8_t *psk)
{
	if (psk)
		memcpy(peer->handshake.preshared_key, psk, WGC_KEY_LEN);
	else
		wgc_memzero(peer->handshake.preshared_key, WGC_KEY_LEN);
}

bool wgc_peer_get_preshared_key(const struct wgc_peer *peer, uint8_t out[WGC_KEY_LEN])
{
	memcpy(out, peer->handshake.preshared_key, WGC_KEY_LEN);
	return !wgc_ct_is_zero(out, WGC_KEY_LEN);
}

void wgc_peer_get_public_key(const struct wgc_peer *peer, uint8_t out[WGC_KEY_LEN])
{
	memcpy(out, peer->handshake.remote_static, WGC_KEY_LEN);
}

enum wgc_status wgc_peer_set_endpoint(struct wgc_peer *peer, const struct wgc_addr *addr)
{
	if (!addr || (addr->family != WGC_AF_NONE && addr->family != WGC_AF_INET &&
		      addr->family != WGC_AF_INET6))
		return WGC_ERR_INVALID;
	peer->endpoint = *addr;
	return WGC_OK;
}

bool wgc_peer_get_endpoint(const struct wgc_peer *peer, struct wgc_addr *out)
{
	*out = peer->endpoint;
	return peer->endpoint.family != WGC_AF_NONE;
}

void wgc_peer_set_persistent_keepalive(struct wgc_endpoint *ep, struct wgc_peer *peer,
				       uint16_t interval_s, uint64_t now, struct wgc_actions *out)
{
	uint16_t old = peer->persistent_keepalive_s;

	wgc_endpoint_serial_enter(ep);
	peer->persistent_keepalive_s = interval_s;
	if (interval_s == 0)
		wgc_timers_disarm(&peer->timers, TIMER_PERSISTENT_KEEPALIVE);
	else if (old == 0 && out) /* as wireguard-go: one at once, which restarts the interval */
		wgc_endpoint_send_keepalive(ep, peer, now, out);
	else
		wgc_timers_on_authenticated_traversal(&ep->timers, &peer->timers, now, interval_s);
	wgc_endpoint_serial_exit(ep);
}

uint16_t wgc_peer_get_persistent_keepalive(const struct wgc_peer *peer)
{
	return peer->persistent_keepalive_s;
}

void wgc_peer_set_user(struct wgc_peer *peer, void *user)
{
	peer->user = user;
}

void *wgc_peer_get_user(const struct wgc_peer *peer)
{
	return peer->user;
}

void wgc_peer_get_stats(const struct wgc_peer *peer, struct wgc_peer_stats *out)
{
	const struct wgc_keypair *current = peer->keypairs.current;

	memset(out, 0, sizeof(*out));
	out->rx_bytes = peer->rx_bytes;
	out->tx_bytes = peer->tx_bytes;
	out->has_handshake = peer->has_handshake;
	out->last_handshake_ns = peer->last_handshake_ns;
	out->last_handshake_wall_ns = peer->last_handshake_wall_ns;
	out->has_session = current && current->send_counter < REJECT_AFTER_MESSAGES;
}

/* ---- allowed IPs ---- */

static bool prefix_is_valid(const struct wgc_prefix *prefix)
{
	return prefix && ((prefix->family == WGC_AF_INET && prefix->cidr <= 32) ||
			  (prefix->family == WGC_AF_INET6 && prefix->cidr <= 128));
}

enum wgc_status wgc_allowedip_insert(struct wgc_endpoint *ep, struct wgc_peer *peer,
				     const struct wgc_prefix *prefix)
{
	enum wgc_status status = WGC_ERR_INVALID;

	wgc_endpoint_serial_enter(ep);
	if (prefix_is_valid(prefix)) {
		ep->allowedips_generation++;
		status = wgc_trie_insert(&ep->allowedips, prefix->family, prefix->ip, prefix->cidr,
					 &peer->allowedips);
	}
	wgc_endpoint_serial_exit(ep);
	return status;
}

enum wgc_status wgc_allowedip_remove(struct wgc_endpoint *ep, struct wgc_peer *peer,
				     const struct wgc_prefix *prefix)
{
	enum wgc_status status = WGC_ERR_INVALID;

	wgc_endpoint_serial_enter(ep);
	if (prefix_is_valid(prefix)) {
		ep->allowedips_generation++;
		status = wgc_trie_remove(&ep->allowedips, prefix->family, prefix->ip, prefix->cidr,
					 &peer->allowedips);
	}
	wgc_endpoint_serial_exit(ep);
	return status;
}

void wgc_allowedips_clear_peer(struct wgc_endpoint *ep, struct wgc_peer *peer)
{
	wgc_endpoint_serial_enter(ep);
	ep->allowedips_generation++;
	wgc_trie_remove_owner(&ep->allowedips, &peer->allowedips);
	wgc_endpoint_serial_exit(ep);
}

size_t wgc_peer_get_allowedips(const struct wgc_peer *peer, struct wgc_prefix *out, size_t cap)
{
	return wgc_trie_list(&peer->allowedips, out, cap);
}

struct wgc_peer *wgc_allowedips_lookup(const struct wgc_endpoint *ep, uint8_t family,
				       const uint8_t *ip)
{
	struct wgc_allowedips_owner *owner = wgc_trie_find(&ep->allowedips, family, ip);

	return owner ? WGC_CONTAINER_OF(owner, struct wgc_peer, allowedips) : NULL;
}

struct wgc_peer *wgc_allowedip_owner(const struct wgc_endpoint *ep, const struct wgc_prefix *prefix)
{
	struct wgc_allowedips_owner *owner =
		wgc_trie_owner(&ep->allowedips, prefix->family, prefix->ip, prefix->cidr);

	return owner ? WGC_CONTAINER_OF(owner, struct wgc_peer, allowedips) : NULL;
}

/* ---- the tick ---- */

/* Worst case one peer's timers emit: an initiation, a keepalive and a purge. */
enum { TICK_ACTIONS_PER_PEER = 3, TICK_SCRATCH_PER_PEER = INIT_LEN + DATA_MIN_LEN };

static void give_up_handshake(struct wgc_endpoint *ep, struct wgc_peer *peer, uint64_t now,
			      struct wgc_actions *out)
{
	wgc_timers_disarm(&peer->timers, TIMER_SEND_KEEPALIVE);
	wgc_actions_push(out, WGC_ACTION_PURGE, peer, NULL, 0, NULL);
	wgc_timers_arm_if_idle(&ep->timers, &peer->timers, TIMER_ZERO_KEY_MATERIAL,
			       now + ZERO_KEYS_AFTER);
}

bool wgc_endpoint_zero_key_material_if_due(struct wgc_endpoint *ep, struct wgc_peer *peer,
					   uint64_t now)
{
	if (!wgc_timers_take_due(&peer->timers, TIMER_ZERO_KEY_MATERIAL, now))
		return false;
	wgc_keypairs_clear(&peer->keypairs, &ep->indexes);
	wgc_index_remove(&ep->indexes, &peer->handshake_entry);
	wgc_noise_handshake_clear(&peer->handshake);
	return true;
}

/*
 * Wipe first, then act: after a long sleep (CLOCK_BOOTTIME across a suspend) every timer is due at
 * once, and the wipe must run before the timers that may start a handshake (retransmission, a
 * keepalive without a session, a dead peer), or it would destroy the attempt they just made.
 */
static void fire_timers(struct wgc_endpoint *ep, struct wgc_peer *peer, uint64_t now,
			struct wgc_actions *out)
{
	struct wgc_timers *t = &peer->timers;

	/* The tick's wipe also drops what was staged for the attempt it ends (wireguard-go's
	 * ZeroAndFlushAll); anything staged from here on waits for the attempts below. */
	if (wgc_endpoint_zero_key_material_if_due(ep, peer, now))
		wgc_actions_push(out, WGC_ACTION_PURGE, peer, NULL, 0, NULL);
	if (wgc_timers_take_due(t, TIMER_RETRANSMIT_HANDSHAKE, now)) {
		if (t->handshake_attempts > MAX_TIMER_HANDSHAKES) {
			give_up_handshake(ep, peer, now, out);
		} else {
			t->handshake_attempts++;
			wgc_endpoint_send_initiation(ep, peer, now, true, out);
		}
	}
	if (wgc_timers_take_due(t, TIMER_SEND_KEEPALIVE, now)) {
		wgc_endpoint_send_keepalive(ep, peer, now, out);
		if (t->need_another_keepalive) {
			t->need_another_keepalive = false;
			wgc_timers_arm(&ep->timers, t, TIMER_SEND_KEEPALIVE, now + KEEPALIVE_TIMEOUT);
		}
	}
	if (wgc_timers_take_due(t, TIMER_NEW_HANDSHAKE, now))
		wgc_endpoint_send_initiation(ep, peer, now, false, out);
	if (wgc_timers_take_due(t, TIMER_PERSISTENT_KEEPALIVE, now) && peer->persistent_keepalive_s)
		wgc_endpoint_send_keepalive(ep, peer, now, out);
}

static bool has_room_for_peer(const struct wgc_actions *out)
{
	return out->cap - out->count >= TICK_ACTIONS_PER_PEER &&
	       out->scratch_size - out->scratch_used >= TICK_SCRATCH_PER_PEER;
}

static uint64_t tick(struct wgc_endpoint *ep, uint64_t now, struct wgc_actions *out)
{
	struct wgc_timers *timers;

	for (;;) {
		if (wgc_timer_heap_next(&ep->timers) > now)
			break;
		if (!out || !has_room_for_peer(out))
			return now;
		timers = wgc_timer_heap_pop_due(&ep->timers, now);
		fire_timers(ep, WGC_CONTAINER_OF(timers, struct wgc_peer, timers), now, out);
		wgc_timers_refile(&ep->timers, timers);
	}
	return wgc_timer_heap_next(&ep->timers);
}

uint64_t wgc_endpoint_tick(struct wgc_endpoint *ep, uint64_t now, struct wgc_actions *out)
{
	uint64_t next;

	wgc_endpoint_serial_enter(ep);
	next = tick(ep, now, out);
	wgc_endpoint_serial_exit(ep);
	return next;
}

uint64_t wgc_endpoint_next_deadline(const struct wgc_endpoint *ep)
{
	return wgc_timer_heap_next(&ep->timers);
}

/* ---- crypto backend ---- */

const char *wgc_aead_backend(void)
{
	wgc_crypto_init(); /* the choice is made there */
	return wgc_crypto_aead_name();
}

enum wgc_status wgc_set_aead_backend(const char *name)
{
	if (!name)
		return WGC_ERR_INVALID;
	return wgc_crypto_aead_select(name);
}

/* ---- text ---- */

const char *wgc_version(void)
{
	return WGC_VERSION_STRING;
}

const char *wgc_status_str(enum wgc_status status)
{
	switch (status) {
	case WGC_OK: return "ok";
	case WGC_ERR_INVALID: return "invalid argument";
	case WGC_ERR_NO_SPACE: return "no space left in a fixed pool";
	case WGC_ERR_STATE: return "not allowed in this state";
	case WGC_ERR_CRYPTO: return "cryptographic failure";
	case WGC_ERR_EXISTS: return "already exists";
	case WGC_ERR_NOT_FOUND: return "not found";
	case WGC_ERR_RANDOM: return "random source failed";
	}
	return "unknown status";
}

const char *wgc_drop_reason_str(enum wgc_drop_reason reason)
{
	static const char *const names[WGC_DROP__COUNT] = {
		[WGC_DROP_NONE] = "none",
		[WGC_DROP_SHORT] = "short",
		[WGC_DROP_BAD_TYPE] = "bad_type",
		[WGC_DROP_BAD_LENGTH] = "bad_length",
		[WGC_DROP_BAD_MAC1] = "bad_mac1",
		[WGC_DROP_COOKIE_SENT] = "cookie_sent",
		[WGC_DROP_RATE_LIMITED] = "rate_limited",
		[WGC_DROP_NO_IDENTITY] = "no_identity",
		[WGC_DROP_UNKNOWN_PEER] = "unknown_peer",
		[WGC_DROP_HANDSHAKE_INVALID] = "handshake_invalid",
		[WGC_DROP_HANDSHAKE_REPLAYED] = "handshake_replayed",
		[WGC_DROP_HANDSHAKE_FLOOD] = "handshake_flood",
		[WGC_DROP_UNKNOWN_INDEX] = "unknown_index",
		[WGC_DROP_UNEXPECTED] = "unexpected",
		[WGC_DROP_COOKIE_INVALID] = "cookie_invalid",
		[WGC_DROP_DECRYPT_FAILED] = "decrypt_failed",
		[WGC_DROP_REPLAYED] = "replayed",
		[WGC_DROP_EXPIRED_KEYPAIR] = "expired_keypair",
		[WGC_DROP_BAD_PACKET] = "bad_packet",
		[WGC_DROP_SOURCE_NOT_ALLOWED] = "source_not_allowed",
		[WGC_DROP_NO_ROUTE] = "no_route",
		[WGC_DROP_NO_ENDPOINT] = "no_endpoint",
		[WGC_DROP_NO_MEMORY] = "no_memory",
		[WGC_DROP_TOO_BIG] = "too_big",
		[WGC_DROP_PEER_GONE] = "peer_gone",
		[WGC_DROP_RANDOM_FAILED] = "random_failed",
		[WGC_DROP_BAD_ADDRESS] = "bad_address",
		[WGC_DROP_COOKIE_LIMITED] = "cookie_limited",
		[WGC_DROP_QUEUE_FULL] = "queue_full",
	};

	if ((unsigned)reason >= WGC_DROP__COUNT || !names[reason])
		return "unknown";
	return names[reason];
}
