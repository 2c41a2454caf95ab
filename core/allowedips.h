/* SPDX-License-Identifier: MIT */
/*
 * Cryptokey routing table (whitepaper 2): a path-compressed binary trie per address family with
 * longest-prefix match. Nodes come from a fixed pool in caller memory; nothing is allocated. Each
 * route belongs to an owner (a peer embeds a struct wgc_allowedips_owner) so all routes of a peer
 * can be listed and removed without a walk of the whole trie. Lookups only read. The functions are
 * wgc_trie_*, so they cannot be mistaken for the public wgc_allowedip_* calls in wgc.h that
 * validate a prefix and then use them.
 */
#ifndef WGC_CORE_ALLOWEDIPS_H
#define WGC_CORE_ALLOWEDIPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wgc.h"

struct wgc_allowedips_node;

/* Embedded in whatever owns routes (a peer): the list of its route nodes. */
struct wgc_allowedips_owner {
	struct wgc_allowedips_node *first;
	uint32_t count; /* routes owned */
};

struct wgc_allowedips {
	struct wgc_allowedips_node *root4;
	struct wgc_allowedips_node *root6;
	struct wgc_allowedips_node *pool; /* pool_size nodes in caller memory */
	uint32_t pool_size;
	uint32_t pool_high;               /* nodes ever handed out; beyond it memory is untouched */
	struct wgc_allowedips_node *free_list;
	uint32_t free_count;              /* nodes available: on free_list plus beyond pool_high */
};

/* Bytes of node memory for max_routes prefixes (each route may need a branch node too); 0 on
 * overflow. */
size_t wgc_trie_mem_size(uint32_t max_routes);
/* Sets up an empty table over mem (zero-filled, wgc_trie_mem_size(max_routes) bytes,
 * pointer-aligned). */
void wgc_trie_init(struct wgc_allowedips *table, void *mem, uint32_t max_routes);

/* Routes prefix (family WGC_AF_INET/INET6, ip 4/16 bytes, host bits ignored) to owner, moving it from
 * a previous owner if any. INVALID for a bad family or cidr, NO_SPACE if the pool cannot hold it;
 * nothing changes on failure. */
WGC_MUST_CHECK enum wgc_status wgc_trie_insert(struct wgc_allowedips *table, uint8_t family,
					       const uint8_t *ip, uint8_t cidr,
					       struct wgc_allowedips_owner *owner);
/* Removes the exact prefix if owner owns it; NOT_FOUND otherwise (INVALID for bad family/cidr). */
WGC_MUST_CHECK enum wgc_status wgc_trie_remove(struct wgc_allowedips *table, uint8_t family,
					       const uint8_t *ip, uint8_t cidr,
					       struct wgc_allowedips_owner *owner);
/* The owner of exactly this prefix (host bits ignored), or NULL (none, or a bad prefix). Read-only. */
struct wgc_allowedips_owner *wgc_trie_owner(const struct wgc_allowedips *table, uint8_t family,
					    const uint8_t *ip, uint8_t cidr);
/* Removes every route of owner. */
void wgc_trie_remove_owner(struct wgc_allowedips *table, struct wgc_allowedips_owner *owner);
/* Longest-prefix match; NULL when no route covers ip. Read-only. */
struct wgc_allowedips_owner *wgc_trie_find(const struct wgc_allowedips *table, uint8_t family,
					   const uint8_t *ip);
/* Copies up to cap of owner's prefixes (host bits zero) into out; returns owner->count. */
size_t wgc_trie_list(const struct wgc_allowedips_owner *owner, struct wgc_prefix *out, size_t cap);

#endif
