/* SPDX-License-Identifier: MIT */
/*
 * Index table: chained hash over caller memory. Chains stay short because indexes are uniformly
 * random and the table has at least two buckets per object that can hold an index.
 */
#include "core/index.h"

#include <stddef.h>

#include "base/assert.h"

void wgc_index_table_init(struct wgc_index_table *table, struct wgc_index_entry **buckets,
			  uint32_t bucket_count)
{
	table->buckets = buckets;
	table->mask = bucket_count - 1;
}

struct wgc_index_entry *wgc_index_lookup(const struct wgc_index_table *table, uint32_t index)
{
	struct wgc_index_entry *entry = table->buckets[index & table->mask];

	while (entry && entry->index != index)
		entry = entry->next;
	return entry;
}

void wgc_index_insert(struct wgc_index_table *table, struct wgc_index_entry *entry, uint32_t index)
{
	struct wgc_index_entry **bucket = &table->buckets[index & table->mask];

	WGC_ASSERT(!entry->is_linked);
	entry->index = index;
	entry->next = *bucket;
	entry->is_linked = true;
	*bucket = entry;
}

void wgc_index_remove(struct wgc_index_table *table, struct wgc_index_entry *entry)
{
	struct wgc_index_entry **link;

	if (!entry->is_linked)
		return;
	link = &table->buckets[entry->index & table->mask];
	while (*link != entry) {
		WGC_ASSERT(*link); /* marked linked, but not in its chain */
		link = &(*link)->next;
	}
	*link = entry->next;
	entry->next = NULL;
	entry->is_linked = false;
}

void wgc_index_replace(struct wgc_index_table *table, struct wgc_index_entry *old_entry,
		       struct wgc_index_entry *new_entry)
{
	uint32_t index = old_entry->index;

	WGC_ASSERT(old_entry->is_linked);
	wgc_index_remove(table, old_entry);
	wgc_index_insert(table, new_entry, index);
}
