/* SPDX-License-Identifier: MIT */
/*
 * The peer pool and public-key table. Buckets are chosen by the key's first bytes: keys of
 * configured peers are what the admin put there, and a stranger's key only ever misses, so no one
 * can lengthen a chain from the network.
 */
#include "core/peer.h"

#include <stddef.h>
#include <string.h>

#include "base/assert.h"
#include "crypto/crypto.h"

void wgc_peer_table_init(struct wgc_peer_table *table, struct wgc_peer **buckets,
			 uint32_t bucket_count, struct wgc_peer *pool, uint32_t cap)
{
	memset(table, 0, sizeof(*table));
	table->buckets = buckets;
	table->mask = bucket_count - 1;
	table->pool = pool;
	table->cap = cap;
}

static struct wgc_peer **bucket_of(const struct wgc_peer_table *table,
				   const uint8_t public_key[NOISE_PUBLIC_KEY_LEN])
{
	return &table->buckets[wgc_load_le32(public_key) & table->mask];
}

struct wgc_peer *wgc_peer_table_lookup(const struct wgc_peer_table *table,
				       const uint8_t public_key[NOISE_PUBLIC_KEY_LEN])
{
	struct wgc_peer *peer = *bucket_of(table, public_key);

	/* Public keys are not secret: plain comparison is fine. */
	while (peer && memcmp(peer->handshake.remote_static, public_key, NOISE_PUBLIC_KEY_LEN) != 0)
		peer = peer->hash_next;
	return peer;
}

struct wgc_peer *wgc_peer_table_insert(struct wgc_peer_table *table,
				       const uint8_t public_key[NOISE_PUBLIC_KEY_LEN])
{
	struct wgc_peer **bucket = bucket_of(table, public_key);
	struct wgc_peer *peer;

	if (table->free_list) {
		peer = table->free_list;
		table->free_list = peer->hash_next;
	} else if (table->high < table->cap) {
		peer = &table->pool[table->high++];
	} else {
		return NULL;
	}
	memset(peer, 0, sizeof(*peer));
	memcpy(peer->handshake.remote_static, public_key, NOISE_PUBLIC_KEY_LEN);
	peer->hash_next = *bucket;
	*bucket = peer;
	peer->list_prev = table->last;
	if (table->last)
		table->last->list_next = peer;
	else
		table->first = peer;
	table->last = peer;
	peer->is_live = true;
	table->count++;
	return peer;
}

void wgc_peer_table_remove(struct wgc_peer_table *table, struct wgc_peer *peer)
{
	struct wgc_peer **link = bucket_of(table, peer->handshake.remote_static);

	WGC_ASSERT(peer->is_live && table->count > 0);
	while (*link != peer) {
		WGC_ASSERT(*link); /* live, but not in its bucket */
		link = &(*link)->hash_next;
	}
	*link = peer->hash_next;
	if (peer->list_prev)
		peer->list_prev->list_next = peer->list_next;
	else
		table->first = peer->list_next;
	if (peer->list_next)
		peer->list_next->list_prev = peer->list_prev;
	else
		table->last = peer->list_prev;
	table->count--;
	wgc_memzero(peer, sizeof(*peer));
	peer->hash_next = table->free_list;
	table->free_list = peer;
}
