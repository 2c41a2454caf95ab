/* SPDX-License-Identifier: MIT */
/*
 * The index table (whitepaper 5.4.1): maps the 32-bit sender index we chose for a handshake or a
 * session to that object, so received responses, cookie replies and data find their state in O(1).
 * Entries are embedded in the objects (intrusive); indexes are drawn at random by the endpoint, so
 * their low bits are a fair hash and no one else can steer them into one bucket.
 */
#ifndef WGC_CORE_INDEX_H
#define WGC_CORE_INDEX_H

#include <stdbool.h>
#include <stdint.h>

enum wgc_index_kind {
	INDEX_HANDSHAKE = 1, /* a pending initiation of ours: embedded in struct wgc_peer */
	INDEX_KEYPAIR = 2,   /* a session: embedded in struct wgc_keypair */
};

struct wgc_index_entry {
	struct wgc_index_entry *next;
	uint32_t index;
	uint8_t kind;     /* enum wgc_index_kind */
	bool is_linked;
};

struct wgc_index_table {
	struct wgc_index_entry **buckets; /* bucket_count pointers, caller memory */
	uint32_t mask;                    /* bucket_count - 1; bucket_count is a power of two */
};

void wgc_index_table_init(struct wgc_index_table *table, struct wgc_index_entry **buckets,
			  uint32_t bucket_count);
/* The entry with this index, or NULL. */
struct wgc_index_entry *wgc_index_lookup(const struct wgc_index_table *table, uint32_t index);
/* Links entry, which must not be linked, under index (the caller made sure index is free). */
void wgc_index_insert(struct wgc_index_table *table, struct wgc_index_entry *entry, uint32_t index);
/* Unlinks entry if linked (a linked entry must be in this table). */
void wgc_index_remove(struct wgc_index_table *table, struct wgc_index_entry *entry);
/* new_entry (unlinked) takes old_entry's index and place; old_entry, which must be linked, is
 * unlinked. */
void wgc_index_replace(struct wgc_index_table *table, struct wgc_index_entry *old_entry,
		       struct wgc_index_entry *new_entry);

#endif
