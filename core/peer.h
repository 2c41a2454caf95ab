/* SPDX-License-Identifier: MIT */
/*
 * A peer: everything we know about one remote public key (handshake, cookie, sessions, timers,
 * endpoint, routes, counters), and the public-key table that finds a peer in O(1). Peers live in a
 * fixed pool in the endpoint's memory. What a peer does on the wire (initiations, keepalives, the
 * data path) is the endpoint's (send.c, receive.c).
 */
#ifndef WGC_CORE_PEER_H
#define WGC_CORE_PEER_H

#include <stdbool.h>
#include <stdint.h>

#include "core/allowedips.h"
#include "core/cookie.h"
#include "core/index.h"
#include "core/keypair.h"
#include "core/noise.h"
#include "core/timers.h"
#include "wgc.h"

/*
 * Secrets live in handshake (see noise.h), cookie (mac keys are public-derived; the cookie itself
 * is short-lived) and the keypairs. All of it is wiped by wgc_peer_remove, and the session part by
 * the ZERO_KEY_MATERIAL timer.
 */
struct wgc_peer {
	struct wgc_handshake handshake;     /* handshake.remote_static is the peer's public key */
	struct wgc_index_entry handshake_entry; /* index of our pending initiation, if any */
	struct wgc_cookie_maker cookie;
	struct wgc_keypairs keypairs;
	struct wgc_timers timers;
	struct wgc_allowedips_owner allowedips;
	struct wgc_addr endpoint;           /* family NONE until configured or learnt */
	uint16_t persistent_keepalive_s;    /* 0 = off */
	bool has_sent_initiation;           /* last_sent_initiation_ns is valid */
	bool has_handshake;                 /* last_handshake_* are valid */
	bool is_live;                       /* in the tables; false while on the free list */
	uint64_t last_sent_initiation_ns;
	uint64_t last_handshake_ns;
	uint64_t last_handshake_wall_ns;
	uint64_t rx_bytes;
	uint64_t tx_bytes;
	/* The last inner source address found to route to this peer, valid while the endpoint's
	 * allowedips_generation still equals verified_generation: saves a trie walk per packet. */
	uint8_t verified_source[16];
	uint8_t verified_family;
	uint32_t verified_generation;
	struct wgc_peer *hash_next;         /* public-key table chain, or free list link */
	struct wgc_peer *list_prev;         /* insertion order, for iteration */
	struct wgc_peer *list_next;
	void *user;
};

/* Public-key table plus the peer pool and the insertion-ordered list. */
struct wgc_peer_table {
	struct wgc_peer **buckets; /* mask + 1 chains, caller memory */
	uint32_t mask;
	struct wgc_peer *pool;     /* cap peers, caller memory */
	uint32_t cap;
	uint32_t high;             /* pool entries ever used */
	uint32_t count;            /* live peers */
	struct wgc_peer *free_list;
	struct wgc_peer *first;
	struct wgc_peer *last;
};

void wgc_peer_table_init(struct wgc_peer_table *table, struct wgc_peer **buckets,
			 uint32_t bucket_count, struct wgc_peer *pool, uint32_t cap);
/* A zeroed peer from the pool, linked into the table and list under public_key; NULL if full. */
struct wgc_peer *wgc_peer_table_insert(struct wgc_peer_table *table,
				       const uint8_t public_key[NOISE_PUBLIC_KEY_LEN]);
struct wgc_peer *wgc_peer_table_lookup(const struct wgc_peer_table *table,
				       const uint8_t public_key[NOISE_PUBLIC_KEY_LEN]);
/* Unlinks the peer (which must be live), wipes it whole and returns it to the pool. */
void wgc_peer_table_remove(struct wgc_peer_table *table, struct wgc_peer *peer);

#endif
