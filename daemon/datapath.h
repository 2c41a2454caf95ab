/* SPDX-License-Identifier: MIT */
/*
 * The data path: packets between the TUN device and the UDP sockets through libwgc's two-phase
 * calls, in batches. Outgoing: a TUN batch (<= UDP_BATCH_MAX reads; TSO super-packets split by
 * offload.c) runs the serial wgc_send_prepare on each packet, the prepared jobs are sealed (split
 * with the crypto workers, workers.c) and queued for one sendmmsg (UDP GSO runs, udp.c).
 * Incoming: a recvmmsg batch (UDP GRO messages split in place) runs wgc_receive_prepare, then
 * wgc_receive_open (split likewise), then wgc_receive_commit in arrival order, and the deliveries
 * are written to the TUN device, coalesced into GSO writes per TCP flow. It owns the packet pool,
 * the send queue, the batch state and the worker pool; it carries out the core's actions (SEND,
 * DELIVER, FLUSH and PURGE of a peer's staging queue). It does not own the endpoint, the TUN
 * device, the sockets or the per-peer states: the device layer (device.c) does and lends them.
 *
 * Thread model. Two kinds of thread:
 *   - the event-loop thread runs every function declared here, and with them every libwgc call
 *     that is serial per endpoint (prepare, commit, tick), the syscalls, the staging queues and
 *     the buffer pool. It is the only thread that touches struct datapath.
 *   - the crypto workers (daemon/workers.c; WGC_WORKERS of them) run only wgc_send_seal and
 *     wgc_receive_open, which libwgc allows on any thread, on jobs the event loop lends them for
 *     one batch. The event loop seals/opens a share of the same batch itself and does not return
 *     from workers_seal/workers_open until every job of the batch is done, so a worker never holds
 *     a job, a buffer or a keypair reference across a serial step.
 * Order: a batch is prepared in order, sealed or opened in parallel, then sent (sendmmsg) or
 * committed in the same order, and the next batch starts only after that: packets of one peer
 * (and of all peers) leave and are committed in the order they were read. Jobs of a batch may be
 * sealed in any order among themselves, which is harmless: the counter was taken in prepare.
 *
 * Locks and lock order: there is no mutex. The only shared-memory synchronisation is the worker
 * pool's handshake (atomics and futexes, documented in workers.c) and libwgc's keypair reference
 * counts. A lock added later must be listed here with what it guards and its rank.
 */
#ifndef WGC_DAEMON_DATAPATH_H
#define WGC_DAEMON_DATAPATH_H

#include <stdbool.h>
#include <stdint.h>

#include "daemon/datapath_types.h"
#include "daemon/tun.h"
#include "daemon/udp.h"
#include "wgc.h"

struct datapath;

/* The lane of a peer's public key among `lanes`. Pure. */
unsigned datapath_lane_of_key(const uint8_t key[WGC_KEY_LEN], unsigned lanes);

/*
 * Maps the packet pool and decides how many crypto workers to run (WGC_WORKERS; see workers.h),
 * without starting them: until datapath_start_workers every batch runs inline. ep, tun and udp
 * are borrowed until datapath_destroy; udp may be replaced in place by its owner between calls
 * (after datapath_tx_flush). 0 or -errno (logged).
 */
int datapath_create(struct wgc_endpoint *ep, struct tun *tun, struct udp *udp,
		    struct datapath **out);
/* Starts the worker threads. Separate from datapath_create because the sandbox must be entered
 * while the process has one thread (capabilities and Landlock are per thread; started afterwards,
 * the workers inherit every layer and the loop's signal mask). 0 or -errno (logged; the data path
 * keeps working inline). */
int datapath_start_workers(struct datapath *dp);
/* Makes dp one of several lanes (copied): TUN packets for another lane's peers and datagrams the
 * kernel steered here for another lane are handed to that lane's inbox; initiations are
 * identified and handed to their peer's lane. Before datapath_start_workers, whose count it
 * scales down to this lane's share of the CPUs. */
void datapath_set_lanes(struct datapath *dp, const struct datapath_lanes *lanes);
/* Works what other lanes handed over (a bounded number of packets). True when some are left:
 * the caller comes back without sleeping. */
bool datapath_on_inbox(struct datapath *dp, uint64_t now);
/* Stops the workers and frees everything the data path owns (staged packets go with the pool).
 * No batch is running then, so no job is in flight: the owner may wipe the keys afterwards. NULL
 * is fine. */
void datapath_destroy(struct datapath *dp);

/* The TUN device is readable: one batch. 0, or -errno when reading failed (-EBADFD: the
 * interface is gone); the caller stops then. */
int datapath_on_tun(struct datapath *dp, uint64_t now);
/* A UDP socket is readable: one batch from fd. */
void datapath_on_udp(struct datapath *dp, int fd, uint64_t now);
/* Handshake messages queued by datapath_on_udp (data first) run here, at the end of the
 * event-loop round, for about HS_ROUND_NS at most. True when some are left: the caller comes
 * back without sleeping. While the queue is HSQ_LOAD_FILL or more full the core is told it is
 * under load. */
bool datapath_handshakes(struct datapath *dp, uint64_t now);
/* Runs the core's timers that are due (wgc_endpoint_tick) and their actions. */
void datapath_tick(struct datapath *dp, uint64_t now);
/* Sends everything queued. Called at the end of every event batch and before the sockets change. */
void datapath_tx_flush(struct datapath *dp);

/* An empty action list for one configuration call that may emit actions; carry them out with
 * datapath_run_actions before asking again. Not for use inside a batch. */
struct wgc_actions *datapath_actions(struct datapath *dp);
void datapath_run_actions(struct datapath *dp, uint64_t now, struct wgc_actions *out);

/* Resends peer's staged packets, in order (as the core's FLUSH, and as wireguard-go does after
 * a peer's configuration changed). */
void datapath_flush_staged(struct datapath *dp, struct wgc_peer *peer, uint64_t now);
/* Drops and counts peer's staged packets (PURGE, or the peer is going). */
void datapath_purge_staged(struct datapath *dp, struct wgc_peer *peer);

/* Forgets src as the sticky source of every peer that has it (NULL: every peer's), so replies
 * leave from the kernel's choice until the peer's next authenticated datagram says where it
 * reaches us now. For addresses that went away and for routing changes. O(peers); rare. */
void datapath_forget_source(struct datapath *dp, const struct udp_src *src);

void datapath_get_stats(const struct datapath *dp, struct datapath_stats *out);

#endif
