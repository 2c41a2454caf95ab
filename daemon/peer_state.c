/* SPDX-License-Identifier: MIT */
/*
 * Per-peer daemon state and its staging queue (see peer_state.h).
 */
#include "daemon/peer_state.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "base/assert.h"
#include "daemon/log.h"

struct pool_buf *peer_state_stage(struct peer_state *s, struct pool_buf *buf, size_t len)
{
	struct pool_buf *oldest = NULL;

	if (s->staged_count == PEER_STAGED_MAX) {
		oldest = s->staged_head;
		s->staged_head = oldest->next;
		s->staged_count--;
	}
	buf->len = len;
	buf->next = NULL;
	if (s->staged_head)
		s->staged_tail->next = buf;
	else
		s->staged_head = buf;
	s->staged_tail = buf;
	s->staged_count++;
	return oldest;
}

struct pool_buf *peer_state_take_staged(struct peer_state *s)
{
	struct pool_buf *list = s->staged_head;

	s->staged_head = NULL;
	s->staged_tail = NULL;
	s->staged_count = 0;
	return list;
}

int peer_states_init(struct peer_states *pool, uint32_t max)
{
	memset(pool, 0, sizeof(*pool));
	pool->states = pool_map_zeroed(sizeof(struct peer_state) * max);
	if (!pool->states) {
		log_error("mapping %u peer states: %s", max, strerror(errno));
		return -ENOMEM;
	}
	pool->max = max;
	return 0;
}

void peer_states_clear(struct peer_states *pool)
{
	if (pool->states)
		munmap(pool->states, sizeof(struct peer_state) * pool->max);
	memset(pool, 0, sizeof(*pool));
}

struct peer_state *peer_states_attach(struct peer_states *pool, struct wgc_peer *peer)
{
	struct peer_state *s = pool->free_list;

	if (s)
		pool->free_list = s->next_free;
	else if (pool->high < pool->max)
		s = &pool->states[pool->high++];
	else
		return NULL;
	memset(s, 0, sizeof(*s));
	s->peer = peer;
	wgc_peer_set_user(peer, s);
	return s;
}

void peer_states_detach(struct peer_states *pool, struct wgc_peer *peer)
{
	struct peer_state *s = peer_state_of(peer);

	if (!s)
		return;
	WGC_ASSERT(s->peer == peer && s->staged_count == 0);
	s->peer = NULL;
	s->next_free = pool->free_list;
	pool->free_list = s;
	wgc_peer_set_user(peer, NULL);
}
