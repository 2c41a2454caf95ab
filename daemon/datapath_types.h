/* SPDX-License-Identifier: MIT */
/*
 * The data path's counters and its view of the lanes: the types datapath.h's calls take, apart so
 * that the data path's own header (datapath_int.h) can use them without including datapath.h.
 */
#ifndef WGC_DAEMON_DATAPATH_TYPES_H
#define WGC_DAEMON_DATAPATH_TYPES_H

#include <stdint.h>

#include "wgc.h"

struct inbox;

/* Counters of the data path, reported beside the core's drop counters. */
struct datapath_stats {
	uint64_t udp_send_errors;   /* datagrams the kernel refused */
	uint64_t tun_write_errors;  /* packets the TUN device refused */
	uint64_t staged_dropped;    /* staged packets dropped because a queue or the pool was full */
	uint64_t tun_bad_packets;   /* TUN reads with a malformed virtio-net header, or segments
				     * of a super-packet lost to an empty pool */
	uint64_t crypto_parallel_batches; /* seal/open batches split with the crypto workers */
	uint64_t crypto_inline_batches;   /* seal/open batches run on the event loop alone */
	uint64_t crypto_worker_joins;     /* workers that took part in a split batch */
	uint64_t icmp_sent;         /* ICMP unreachable errors written for unroutable packets */
	uint64_t icmp_rate_limited; /* ... and those the rate limit held back */
	uint64_t sources_forgotten; /* sticky sources the kernel refused (the address went away) */
	uint64_t handshakes_dropped;    /* handshake messages dropped: the queue was full */
	uint64_t handshakes_queued_max; /* most handshake messages ever waiting at once */
	uint64_t lane_handoffs;         /* packets and datagrams handed to the lane of their peer */
	uint64_t lane_handoffs_dropped; /* ... that found its inbox full */
	uint64_t aqm_marked;  /* received packets the AQM marked CE (aqm.h) */
	uint64_t aqm_dropped; /* ... and those it dropped, not being ECN-capable */
};

/* What a lane's data path knows of the others (device.h; docs/SCALING.md). */
struct datapath_lanes {
	unsigned count; /* lanes in the device, >= 2 */
	unsigned self;  /* this one */
	/* Every peer's allowed IPs: one peer per real peer, whose user pointer is that peer. Read
	 * only, between the device's pauses. */
	const struct wgc_endpoint *router;
	struct inbox *const *inboxes; /* [count]; ours is inboxes[self] */
};

#endif
