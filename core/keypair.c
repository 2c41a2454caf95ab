/* SPDX-License-Identifier: MIT */
/*
 * Keypair pool, reference counting and slot rotation (whitepaper 5.4.6). The rotation rules are the
 * Linux kernel's: the responder keeps a new session as "next" until the initiator proves it has it
 * (first data under it), so neither side ever sends under keys the other may not have.
 */
#include "core/keypair.h"

#include <stddef.h>
#include <string.h>

#include "base/assert.h"
#include "crypto/crypto.h"

void wgc_keypair_pool_init(struct wgc_keypair_pool *pool, struct wgc_keypair *slots, uint32_t cap)
{
	pool->slots = slots;
	pool->cap = cap;
	pool->high = 0;
	pool->in_use = 0;
	pool->free_list = NULL;
	pool->reclaim = NULL;
}

struct wgc_keypair *wgc_keypair_alloc(struct wgc_keypair_pool *pool)
{
	struct wgc_keypair *keypair;

	if (!pool->free_list) {
		/* Acquire pairs with the release in the last unref: the wipe is visible. */
		pool->free_list = __atomic_exchange_n(&pool->reclaim, NULL, __ATOMIC_ACQUIRE);
		for (keypair = pool->free_list; keypair; keypair = keypair->next_free) {
			WGC_ASSERT(__atomic_load_n(&keypair->refcount, __ATOMIC_RELAXED) == 0);
			pool->in_use--;
		}
	}
	if (pool->free_list) {
		keypair = pool->free_list;
		WGC_ASSERT(__atomic_load_n(&keypair->refcount, __ATOMIC_RELAXED) == 0);
		pool->free_list = keypair->next_free;
	} else if (pool->high < pool->cap) {
		keypair = &pool->slots[pool->high++];
	} else {
		return NULL;
	}
	memset(keypair, 0, offsetof(struct wgc_keypair, replay));
	wgc_replay_init(&keypair->replay);
	keypair->pool = pool;
	keypair->refcount = 1;
	pool->in_use++;
	return keypair;
}

void wgc_keypair_ref(struct wgc_keypair *keypair)
{
	uint32_t before = __atomic_fetch_add(&keypair->refcount, 1, __ATOMIC_RELAXED);

	/* Only the serial side takes references, and only on a keypair still in a slot. */
	WGC_ASSERT(before != 0);
}

void wgc_keypair_unref(struct wgc_keypair *keypair)
{
	struct wgc_keypair_pool *pool = keypair->pool;
	struct wgc_keypair *head;
	uint32_t left = __atomic_sub_fetch(&keypair->refcount, 1, __ATOMIC_ACQ_REL);

	/* Wrapping below zero would push a keypair onto the reclaim stack twice. */
	WGC_ASSERT(left != UINT32_MAX);
	if (left != 0)
		return;
	/* No one else can reach it now: wipe it here, on whatever thread dropped it last. */
	wgc_memzero(keypair->send_key, sizeof(keypair->send_key));
	wgc_memzero(keypair->recv_key, sizeof(keypair->recv_key));
	head = __atomic_load_n(&pool->reclaim, __ATOMIC_RELAXED);
	do {
		keypair->next_free = head;
	} while (!__atomic_compare_exchange_n(&pool->reclaim, &head, keypair, true, __ATOMIC_RELEASE,
					      __ATOMIC_RELAXED));
}

uint32_t wgc_keypair_pool_free_count(const struct wgc_keypair_pool *pool)
{
	const struct wgc_keypair *keypair;
	uint32_t count = pool->cap - pool->high;

	for (keypair = pool->free_list; keypair; keypair = keypair->next_free)
		count++;
	/* Workers only push on top, so the entries below the head we read stay put. */
	for (keypair = __atomic_load_n(&pool->reclaim, __ATOMIC_ACQUIRE); keypair;
	     keypair = keypair->next_free)
		count++;
	return count;
}

void wgc_keypair_retire(struct wgc_keypair *keypair, struct wgc_index_table *table)
{
	if (!keypair)
		return;
	/* A keypair in a slot is always filed under its index; retiring unlinks it and clears
	 * peer, so a second retire (a keypair in two slots) fails here. */
	WGC_ASSERT(keypair->peer && keypair->entry.is_linked);
	wgc_index_remove(table, &keypair->entry);
	keypair->peer = NULL;
	wgc_keypair_unref(keypair);
}

void wgc_keypairs_install(struct wgc_keypairs *slots, struct wgc_keypair *keypair,
			  struct wgc_index_table *table)
{
	if (keypair->is_initiator) {
		if (slots->next) {
			/* A next we never confirmed is newer than current: keep it as previous so late
			 * data under it still decrypts; current goes. */
			wgc_keypair_retire(slots->previous, table);
			slots->previous = slots->next;
			slots->next = NULL;
			wgc_keypair_retire(slots->current, table);
		} else {
			wgc_keypair_retire(slots->previous, table);
			slots->previous = slots->current;
		}
		slots->current = keypair;
	} else {
		wgc_keypair_retire(slots->next, table);
		slots->next = keypair;
		wgc_keypair_retire(slots->previous, table);
		slots->previous = NULL;
	}
}

bool wgc_keypairs_confirm(struct wgc_keypairs *slots, struct wgc_keypair *keypair,
			  struct wgc_index_table *table)
{
	if (!keypair || slots->next != keypair)
		return false;
	wgc_keypair_retire(slots->previous, table);
	slots->previous = slots->current;
	slots->current = keypair;
	slots->next = NULL;
	return true;
}

void wgc_keypairs_clear(struct wgc_keypairs *slots, struct wgc_index_table *table)
{
	wgc_keypair_retire(slots->previous, table);
	wgc_keypair_retire(slots->current, table);
	wgc_keypair_retire(slots->next, table);
	slots->previous = NULL;
	slots->current = NULL;
	slots->next = NULL;
}
