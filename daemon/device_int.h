/* SPDX-License-Identifier: MIT */
/*
 * The device's own state, shared by device.c (lanes, event sources, setup and teardown) and
 * device_config.c (the reads and the configuration calls). Nothing else includes it.
 */
#ifndef WGC_DAEMON_DEVICE_INT_H
#define WGC_DAEMON_DEVICE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "daemon/datapath.h"
#include "daemon/device_types.h"
#include "daemon/loop.h"
#include "daemon/peer_state.h"
#include "daemon/tun.h"
#include "daemon/udp.h"
#include "wgc.h"

/*
 * A lane (see device.h): an event loop and the endpoint, TUN queue, UDP sockets, peer states and
 * data path it runs. Lane 0 runs on the daemon's loop (and thread); each other lane has a loop
 * and a thread of its own, and holds round_lock for every batch of events it works, so lane 0
 * stops it by taking the lock (device_pause).
 */
struct lane {
	struct device *dev;
	unsigned index;
	struct loop *loop; /* lane 0: the daemon's, borrowed; others: their own */
	pthread_mutex_t round_lock;
	bool has_lock;
	pthread_t thread;
	bool has_thread;
	struct wgc_endpoint *ep;
	void *ep_mem;
	size_t ep_mem_size;
	struct tun tun; /* a view of TUN queue `index` (the device owns the queues) */
	struct peer_states states;
	struct datapath *dp;
	struct inbox *inbox; /* packets other lanes hand over; NULL with one lane */
	struct loop_source tun_src;
	struct loop_source udp4_src;
	struct loop_source udp6_src;
	struct loop_source inbox_src;
};

struct device {
	struct loop *loop; /* lane 0's, borrowed */
	struct device_limits limits;
	struct tun tun;    /* owns every queue and the link monitor */
	unsigned lane_count;
	struct lane lanes[DEVICE_LANES_MAX];
	struct udp udp[DEVICE_LANES_MAX]; /* lane i's sockets */
	struct inbox *inboxes[DEVICE_LANES_MAX];
	/* With several lanes: every peer's allowed IPs, one "router" peer per peer (same key, no
	 * session ever: the router has no private key) whose user pointer is the real peer, so a
	 * lane reading a packet finds the lane of its peer with one longest-prefix match. Changed
	 * only while the lanes are paused; read by all of them in between. */
	struct wgc_endpoint *router;
	void *router_mem;
	size_t router_mem_size;
	struct loop_source monitor_src;
	/* A lane other than 0 that must stop the daemon says so here (lanes cannot call
	 * loop_stop on lane 0's loop). */
	int stop_fd;
	_Atomic int stop_status;
	struct loop_source stop_src;
};

/* The lane whose endpoint holds a peer of the device. */
struct lane *dev_lane_of_peer(struct device *dev, const struct wgc_peer *peer);
/* Registers the lane's UDP sockets (dev->udp[lane->index]) with its loop. 0 or -errno. */
int dev_watch_udp(struct lane *lane);

#endif
