/* SPDX-License-Identifier: MIT */
/*
 * Sessions (whitepaper 5.4.6, 6.1): a keypair holds the transport keys, the send counter and the
 * replay window of one session; a peer holds up to three in its previous/current/next slots.
 * Keypairs come from a fixed pool and are reference counted, because a worker thread may still be
 * sealing or opening with one when the serial side rotates it out.
 *
 * Lifetime: alloc (serial, ref = 1 for the slot) -> slots -> retire (serial: unlinked from the index
 * table, peer = NULL, slot ref dropped) -> last unref (any thread: keys wiped, pushed on the pool's
 * reclaim stack) -> reused by a later alloc (serial). The reclaim stack is push-only for workers and
 * emptied whole by the serial side with one atomic exchange, so it has no ABA problem.
 */
#ifndef WGC_CORE_KEYPAIR_H
#define WGC_CORE_KEYPAIR_H

#include <stdbool.h>
#include <stdint.h>

#include "core/index.h"
#include "core/messages.h"
#include "core/replay.h"

struct wgc_peer;
struct wgc_keypair_pool;

/* Secrets: send_key, recv_key (from derivation until the last reference is dropped). */
struct wgc_keypair {
	struct wgc_index_entry entry; /* our index for this session (receiver index of data to us) */
	uint8_t send_key[NOISE_SYMMETRIC_KEY_LEN];
	uint8_t recv_key[NOISE_SYMMETRIC_KEY_LEN];
	uint64_t send_counter;        /* next counter to send; serial side only */
	uint64_t birthdate_ns;
	uint32_t remote_index;        /* the peer's index: receiver index of data we send */
	bool is_initiator;
	struct wgc_peer *peer;        /* NULL once retired; serial side only */
	struct wgc_keypair_pool *pool;
	uint32_t refcount;            /* atomic */
	struct wgc_keypair *next_free;
	struct wgc_replay_window replay; /* serial side only */
};

struct wgc_keypair_pool {
	struct wgc_keypair *slots; /* cap keypairs, caller memory */
	uint32_t cap;
	uint32_t high;             /* slots ever used; beyond it memory is untouched */
	uint32_t in_use;           /* allocated and not yet reclaimed by alloc; statistics */
	struct wgc_keypair *free_list; /* serial side only */
	struct wgc_keypair *reclaim;   /* atomic: pushed by the last unref, taken by alloc */
};

/* A peer's sessions. current sends; all three receive; next awaits confirmation (responder). */
struct wgc_keypairs {
	struct wgc_keypair *previous;
	struct wgc_keypair *current;
	struct wgc_keypair *next;
};

void wgc_keypair_pool_init(struct wgc_keypair_pool *pool, struct wgc_keypair *slots, uint32_t cap);
/* A zeroed keypair with one reference, or NULL when the pool is exhausted. Serial. */
struct wgc_keypair *wgc_keypair_alloc(struct wgc_keypair_pool *pool);
/* Takes a reference. Any thread. */
void wgc_keypair_ref(struct wgc_keypair *keypair);
/* Drops a reference; the last one wipes the keys and returns the keypair to the pool. Any thread. */
void wgc_keypair_unref(struct wgc_keypair *keypair);
/* Keypairs an alloc could hand out now: never used, on the free list, or pushed back by a last
 * unref. O(free keypairs); for debug checks and tests. Serial. */
uint32_t wgc_keypair_pool_free_count(const struct wgc_keypair_pool *pool);
/* Takes the keypair out of service (index unlinked, peer cleared) and drops the slot's reference.
 * NULL is allowed and does nothing; a keypair already retired is a bug. Serial. */
void wgc_keypair_retire(struct wgc_keypair *keypair, struct wgc_index_table *table);

/* Installs a fresh session (whitepaper 5.4.6 / the kernel's rotation): an initiator's becomes
 * current at once (old current -> previous, or a waiting next -> previous); a responder's waits as
 * next (previous is dropped). Serial. */
void wgc_keypairs_install(struct wgc_keypairs *slots, struct wgc_keypair *keypair,
			  struct wgc_index_table *table);
/* Called when data arrives under keypair: if it is next, it becomes current (old current ->
 * previous) and true is returned. Serial. */
bool wgc_keypairs_confirm(struct wgc_keypairs *slots, struct wgc_keypair *keypair,
			  struct wgc_index_table *table);
/* Retires all three. Serial. */
void wgc_keypairs_clear(struct wgc_keypairs *slots, struct wgc_index_table *table);

#endif
