/* SPDX-License-Identifier: MIT */
/*
 * The device: one WireGuard interface. It owns the libwgc endpoint (over lazily mapped memory),
 * the TUN device, the UDP sockets, the per-peer daemon states (peer_state.h) and the data path,
 * registers their descriptors and the protocol timer with the event loop, and is the only
 * configuration API that changes anything: every change the UAPI makes goes through a device_*
 * call, so every wgc_peer has its daemon-side state and the data path sees each change in one
 * place. Reads go through the read-only getters (device_endpoint, then wgc_* calls on a const
 * endpoint).
 *
 * Lanes. With WGC_LANES=N (N > 1) the device runs N lanes: lane i is an event loop (lane 0 the
 * daemon's own, on the main thread; the others on a thread each), TUN queue i of a multi-queue
 * interface, UDP sockets i of a SO_REUSEPORT group per family, and an endpoint of its own with
 * the peers whose public key hashes to i (datapath_lane_of_key) and receiver indices whose top
 * byte is i modulo N. The kernel steers datagrams to the lane owning their receiver index
 * (reuseport.h), initiations to lane 0, which identifies the initiator and hands the message
 * over; TUN packets another lane must send are handed over through its inbox (inbox.h). See
 * docs/SCALING.md. Everything here runs on lane 0's thread; what reads or changes another
 * lane's state (configuration, `get`, the link monitor) runs between device_pause and
 * device_resume, while every other lane waits at the end of its batch.
 *
 * Dependencies point one way: main -> uapi -> device -> datapath -> {peer_state, pool, udp, tun,
 * offload, workers, inbox}; device -> loop.
 */
#ifndef WGC_DAEMON_DEVICE_H
#define WGC_DAEMON_DEVICE_H

#include <stdbool.h>
#include <stdint.h>

#include "daemon/datapath.h"
#include "daemon/device_types.h"
#include "daemon/tun.h"
#include "daemon/udp.h"
#include "wgc.h"

struct device;
struct loop;

/* The lane count WGC_LANES asks for (1 when unset); -EINVAL (logged) when it is not 1 to
 * DEVICE_LANES_MAX. Open the TUN device with that many queues. */
int device_lanes_wanted(unsigned *out);

/* Sets up one lane per queue of tun: endpoints (sized for limits), UDP sockets (random port),
 * data paths and their workers, and registers lane 0 with loop (borrowed until device_destroy).
 * Takes ownership of tun (its fds are -1 afterwards, whatever the result). 0 or -errno (logged). */
int device_create(struct loop *loop, struct tun *tun, const struct device_limits *limits,
		  struct device **out);
/* Starts the crypto worker threads (a lane whose workers do not start works inline; logged) and
 * the threads of lanes 1 .. N-1 (see datapath_start_workers: after the sandbox). 0, or -errno
 * when a lane's thread could not start (the daemon cannot serve its peers then). */
int device_start_workers(struct device *dev);
/* Stops the workers, wipes every key (wgc_endpoint_clear), closes the sockets and the TUN
 * device, leaves the loop and frees dev (NULL is fine). */
void device_destroy(struct device *dev);

/* Stops every lane but 0 at the end of its batch (and keeps it there) / lets them go on, after
 * sending what the change made them queue. Around everything below when lanes > 1. */
void device_pause(struct device *dev);
void device_resume(struct device *dev);

/* ---- reads ---- */

/* Lane 0's endpoint: the private key and everything device-wide (every lane has the same).
 * Peers are reached with device_peer_lookup / device_peer_next. */
const struct wgc_endpoint *device_endpoint(const struct device *dev);
unsigned device_lane_count(const struct device *dev);
struct wgc_peer *device_peer_lookup(const struct device *dev, const uint8_t key[WGC_KEY_LEN]);
/* Every peer of every lane, as wgc_peer_next (NULL: the first). */
const struct wgc_peer *device_peer_next(const struct device *dev, const struct wgc_peer *prev);
uint32_t device_peer_count(const struct device *dev);
/* The core's drop counters summed over the lanes. */
void device_get_drops(const struct device *dev, uint64_t drops[WGC_DROP__COUNT]);
const struct device_limits *device_get_limits(const struct device *dev);
/* Lane 0's UDP sockets (port and fwmark are every lane's). */
const struct udp *device_udp(const struct device *dev);
void device_get_stats(const struct device *dev, struct datapath_stats *out);

/* ---- configuration: the only calls that change the device ---- */

/* Sets (key) or clears (NULL or all zeros) the private key. A peer whose public key is the new
 * public key is removed first, as wireguard-go does (the core refuses the key while it exists). */
void device_set_private_key(struct device *dev, const uint8_t *key);
/* Adds a peer with its daemon-side state, or returns the existing one (*created false). Fails
 * only when the pool is full or the key is invalid: -ENOSPC / -EINVAL. */
int device_peer_add(struct device *dev, const uint8_t public_key[WGC_KEY_LEN],
		    struct wgc_peer **out, bool *created);
/* Drops the peer's staged packets and removes it. The pointer dies. */
void device_peer_remove(struct device *dev, struct wgc_peer *peer);
void device_remove_all_peers(struct device *dev);
/* psk NULL or all zeros: none. */
void device_peer_set_preshared_key(struct device *dev, struct wgc_peer *peer, const uint8_t *psk);
/* 0 or -EINVAL (an address family the core does not take). */
int device_peer_set_endpoint(struct device *dev, struct wgc_peer *peer,
			     const struct wgc_addr *addr);
/* Sets the persistent keepalive (s, 0 = off) and sends what the core asks for (a keepalive when
 * it is turned on). */
void device_peer_set_keepalive(struct device *dev, struct wgc_peer *peer, uint16_t interval_s);
void device_peer_clear_allowedips(struct device *dev, struct wgc_peer *peer);
/* 0, -ENOSPC (no room) or -EINVAL. */
int device_peer_add_allowedip(struct device *dev, struct wgc_peer *peer,
			      const struct wgc_prefix *prefix);
/* Removing a prefix the peer does not have is not an error. 0 or -EINVAL. */
int device_peer_remove_allowedip(struct device *dev, struct wgc_peer *peer,
				 const struct wgc_prefix *prefix);
/* The end of a change to a peer: retries its staged packets (as wireguard-go's
 * SendStagedPackets after a UAPI set), which may start a handshake towards a new endpoint. */
void device_peer_configured(struct device *dev, struct wgc_peer *peer);
/* Binds the sockets every lane needs on port (0: random) with fwmark into fresh, for
 * device_replace_udp; nothing in use changes. 0 or -errno (logged). */
int device_open_udp(const struct device *dev, uint16_t port, uint32_t fwmark,
		    struct udp fresh[DEVICE_LANES_MAX]);
/* Replaces the UDP sockets by fresh ones from device_open_udp (taken over; left unopened). */
void device_replace_udp(struct device *dev, struct udp fresh[DEVICE_LANES_MAX]);
/* Sets SO_MARK on the sockets in use; on failure nothing changed. 0 or -errno. */
int device_set_fwmark(struct device *dev, uint32_t fwmark);

#endif
