/* SPDX-License-Identifier: MIT */
/*
 * The packet buffer pool: a fixed number of buffers, each big enough for the largest IP packet a
 * TUN device carries plus what sealing needs around it, mapped once at start and handed out by a
 * high-water mark (pages of buffers never used are never touched). Nothing on a packet path
 * allocates: an empty pool is a drop the caller counts. Event-loop thread only.
 */
#ifndef WGC_DAEMON_POOL_H
#define WGC_DAEMON_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "wgc.h"

enum {
	/* Room for the largest IP packet a TUN device can carry. */
	POOL_PACKET_MAX = 65535,
	POOL_BUF_DATA = WGC_DATA_HEADROOM + POOL_PACKET_MAX + WGC_DATA_TAILROOM,
	POOL_BUFFERS = 2048,
};

struct pool_buf {
	struct pool_buf *next; /* free list, a staging queue, or the send queue's owned list */
	size_t len;            /* plaintext bytes while staged */
	uint8_t data[POOL_BUF_DATA];
};

struct pool {
	struct pool_buf *bufs; /* POOL_BUFFERS, mapped lazily */
	struct pool_buf *free_list;
	uint32_t free_count;   /* buffers not handed out (free list plus never touched) */
	uint32_t high;         /* buffers ever handed out; the rest were never touched */
};

/* Maps the buffers; 0 or -ENOMEM (logged). */
int pool_init(struct pool *pool);
/* Unmaps them. Every buffer must be back (or abandoned with the pool). */
void pool_clear(struct pool *pool);
/* A buffer, or NULL when the pool is empty. Its contents are undefined. Inline: a few calls per
 * packet. */
static inline struct pool_buf *pool_get(struct pool *pool)
{
	struct pool_buf *buf = pool->free_list;

	if (buf)
		pool->free_list = buf->next;
	else if (pool->high < POOL_BUFFERS)
		buf = &pool->bufs[pool->high++];
	else
		return NULL;
	pool->free_count--;
	return buf;
}

static inline void pool_put(struct pool *pool, struct pool_buf *buf)
{
	buf->next = pool->free_list;
	pool->free_list = buf;
	pool->free_count++;
}

/* Zero-filled anonymous memory that costs nothing until touched; NULL on failure (errno set). */
void *pool_map_zeroed(size_t size);

#endif
