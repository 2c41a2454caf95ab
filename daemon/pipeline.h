/* SPDX-License-Identifier: MIT */
/*
 * The data path and the event loop. The pipeline owns the libwgc endpoint, the TUN device's
 * packets, the UDP sockets, the per-peer staging queues and the timer, and runs everything from one
 * epoll loop: TUN and UDP readiness, the tick timer (CLOCK_BOOTTIME), signals, link events and the
 * UAPI server. It is the seam where the parallel pipeline goes (issue 4): packets already flow in
 * batches through the serial prepare/commit and the pure seal/open halves of the core API.
 *
 * Thread model. Two kinds of thread:
 *   - the event-loop thread runs everything in this file and in uapi*.c, tun.c, udp.c: every
 *     libwgc call that is serial per endpoint (configuration, prepare, commit, tick), the syscalls,
 *     the staging queues, the buffer pool. It is the only thread that touches struct pipeline.
 *   - the crypto workers (daemon/workers.c; WGC_WORKERS of them, default in workers.c) run only
 *     wgc_send_seal and wgc_receive_open, which libwgc allows on any thread, on jobs the event loop
 *     lends them for one batch. The event loop seals/opens a share of the same batch itself and does
 *     not return from workers_seal/workers_open until every job of the batch is done, so a worker
 *     never holds a job, a buffer or a keypair reference across a serial step.
 * Order: a batch is prepared in order, sealed or opened in parallel, then sent (sendmmsg) or
 * committed in the same order, and the next batch starts only after that: packets of one peer
 * (and of all peers) leave and are committed in the order they were read. Jobs of a batch may be
 * sealed in any order among themselves, which is harmless: the counter was taken in prepare.
 *
 * Locks and lock order: there is no mutex. The only shared-memory synchronisation is the pool's
 * handshake (per-worker wake-up seq, the task's state, job counter and done count: atomics and
 * futexes, documented in workers.c) and libwgc's keypair reference counts. With no lock there is
 * no lock order; a lock added later must be listed here with what it guards and its rank.
 */
#ifndef WGC_DAEMON_PIPELINE_H
#define WGC_DAEMON_PIPELINE_H

#include <stdbool.h>
#include <stdint.h>

#include "daemon/tun.h"
#include "daemon/udp.h"
#include "wgc.h"

struct pipeline;
struct uapi_server;

struct pipeline_limits {
	uint32_t max_peers;
	uint32_t max_allowed_ips;
};

/* Sets up the endpoint (over lazily mapped memory sized for limits), the buffer pool, the timer,
 * signals and the UDP sockets (random port), and takes ownership of tun. Returns 0 or -errno
 * (logged). */
int pipeline_create(struct tun *tun, const struct pipeline_limits *limits, struct pipeline **out);
/* Runs the event loop until SIGINT/SIGTERM or the interface's deletion; returns 0 then, or -errno
 * on a fatal error. uapi is borrowed for the call. */
int pipeline_run(struct pipeline *p, struct uapi_server *uapi);
/* Wipes every key (wgc_endpoint_clear), closes the sockets and the TUN device, frees p. */
void pipeline_destroy(struct pipeline *p);

/* ---- configuration (event-loop thread only; called by the UAPI server) ---- */

/* The endpoint, for configuration calls and reads (stats, keys, routes). Never NULL. */
struct wgc_endpoint *pipeline_endpoint(struct pipeline *p);
const struct pipeline_limits *pipeline_get_limits(const struct pipeline *p);
/* The UDP sockets in use (port, fwmark). */
const struct udp *pipeline_udp(const struct pipeline *p);

/* Sets (key) or clears (NULL) the private key. A peer whose public key is the new public key is
 * removed first, through pipeline_peer_remove, as wireguard-go does. */
void pipeline_set_private_key(struct pipeline *p, const uint8_t *key);
/* Adds a peer with its daemon-side state, or returns the existing one (*created false). Fails only
 * when the pool is full or the key is invalid: -ENOSPC / -EINVAL. */
int pipeline_peer_add(struct pipeline *p, const uint8_t public_key[WGC_KEY_LEN],
		      struct wgc_peer **out, bool *created);
/* Drops the peer's staged packets and removes it from the endpoint. The pointer dies. */
void pipeline_peer_remove(struct pipeline *p, struct wgc_peer *peer);
/* Sets the persistent keepalive and sends what the core asks for (a keepalive when turned on). */
void pipeline_peer_set_keepalive(struct pipeline *p, struct wgc_peer *peer, uint16_t interval_s);
/* Called after a peer's configuration changed: retries its staged packets (as wireguard-go's
 * SendStagedPackets after a UAPI set), which may start a handshake towards a new endpoint. */
void pipeline_peer_configured(struct pipeline *p, struct wgc_peer *peer);
/* Replaces the UDP sockets by fresh, already bound ones (taken over; *fresh is left unopened). */
void pipeline_replace_udp(struct pipeline *p, struct udp *fresh);
/* Sets SO_MARK on the sockets in use; 0 or -errno. */
int pipeline_set_fwmark(struct pipeline *p, uint32_t fwmark);

/* Daemon-side counters, reported beside the core's drop counters. */
struct pipeline_stats {
	uint64_t udp_send_errors;   /* datagrams the kernel refused */
	uint64_t tun_write_errors;  /* packets the TUN device refused */
	uint64_t staged_dropped;    /* staged packets dropped because a queue or the pool was full */
	uint64_t tun_bad_packets;   /* TUN reads with a malformed virtio-net header, or segments
				     * of a super-packet lost to an empty pool */
	uint64_t crypto_parallel_batches; /* seal/open batches split with the crypto workers */
	uint64_t crypto_inline_batches;   /* seal/open batches run on the event loop alone */
	uint64_t crypto_worker_joins;     /* workers that took part in a split batch */
};
void pipeline_get_stats(const struct pipeline *p, struct pipeline_stats *out);

#endif
