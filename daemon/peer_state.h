/* SPDX-License-Identifier: MIT */
/*
 * What the daemon keeps per peer beside the core's state, reached from a struct wgc_peer through
 * its user pointer: the staging queue, the packets that met no session and wait for the
 * core's FLUSH (resend them) or PURGE (drop them), and the sticky source address. At most PEER_STAGED_MAX per peer, the oldest
 * dropped first, as wireguard-go's QueueStagedSize.
 *
 * Ownership: the device layer (device.c) is the only one that creates and frees states, together
 * with their peers, so every wgc_peer it adds has one; the data path (datapath.c) only moves
 * buffers in and out of a state's queue. Event-loop thread only.
 */
#ifndef WGC_DAEMON_PEER_STATE_H
#define WGC_DAEMON_PEER_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include "daemon/pool.h"
#include "daemon/udp.h"
#include "wgc.h"

enum { PEER_STAGED_MAX = 128 };

struct peer_state {
	struct wgc_peer *peer;
	struct pool_buf *staged_head; /* oldest first, linked through buf->next */
	struct pool_buf *staged_tail;
	uint32_t staged_count;
	/* The local address the peer's last authenticated datagram arrived at: replies leave from
	 * it (family WGC_AF_NONE: not known, or forgotten because it went away). */
	struct udp_src src;
	unsigned lane;          /* the lane whose endpoint holds the peer (device.h) */
	struct wgc_peer *routed; /* the peer's twin in the device's routing endpoint, or NULL */
	struct peer_state *next_free;
};

/* The state of peer (NULL for NULL, or a peer the device did not create). */
static inline struct peer_state *peer_state_of(const struct wgc_peer *peer)
{
	return peer ? (struct peer_state *)wgc_peer_get_user(peer) : NULL;
}

/* Appends buf (len plaintext bytes). When the queue is full its oldest buffer is unlinked and
 * returned for the caller to drop; otherwise NULL. */
struct pool_buf *peer_state_stage(struct peer_state *s, struct pool_buf *buf, size_t len);
/* Unlinks and returns the whole queue, oldest first (NULL when empty). */
struct pool_buf *peer_state_take_staged(struct peer_state *s);

/* A fixed pool of states: as many as the endpoint has peers. */
struct peer_states {
	struct peer_state *states; /* max states, mapped lazily */
	uint32_t max;
	uint32_t high;             /* states ever handed out */
	struct peer_state *free_list;
};

/* 0 or -ENOMEM (logged). */
int peer_states_init(struct peer_states *pool, uint32_t max);
void peer_states_clear(struct peer_states *pool);
/* A zeroed state for peer, linked to it through its user pointer; NULL when the pool is empty. */
struct peer_state *peer_states_attach(struct peer_states *pool, struct wgc_peer *peer);
/* Gives peer's state back (its queue must be empty) and clears the user pointer. */
void peer_states_detach(struct peer_states *pool, struct wgc_peer *peer);

#endif
