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
 * Dependencies point one way: main -> uapi -> device -> datapath -> {peer_state, pool, udp, tun,
 * offload, workers}; device -> loop. Event-loop thread only.
 */
#ifndef WGC_DAEMON_DEVICE_H
#define WGC_DAEMON_DEVICE_H

#include <stdbool.h>
#include <stdint.h>

#include "daemon/datapath.h"
#include "daemon/tun.h"
#include "daemon/udp.h"
#include "wgc.h"

struct device;
struct loop;

struct device_limits {
	uint32_t max_peers;
	uint32_t max_allowed_ips;
};

/* Sets up the endpoint (sized for limits), the UDP sockets (random port), the data path and its
 * workers, and registers everything with loop (borrowed until device_destroy). Takes ownership of
 * tun (its fds are -1 afterwards, whatever the result). 0 or -errno (logged). */
int device_create(struct loop *loop, struct tun *tun, const struct device_limits *limits,
		  struct device **out);
/* Starts the crypto worker threads (see datapath_start_workers: after the sandbox). 0 or -errno. */
int device_start_workers(struct device *dev);
/* Stops the workers, wipes every key (wgc_endpoint_clear), closes the sockets and the TUN
 * device, leaves the loop and frees dev (NULL is fine). */
void device_destroy(struct device *dev);

/* ---- reads ---- */

const struct wgc_endpoint *device_endpoint(const struct device *dev);
const struct device_limits *device_get_limits(const struct device *dev);
/* The UDP sockets in use (port, fwmark). */
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
/* Replaces the UDP sockets by fresh, already bound ones (taken over; *fresh is left unopened). */
void device_replace_udp(struct device *dev, struct udp *fresh);
/* Sets SO_MARK on the sockets in use; on failure nothing changed. 0 or -errno. */
int device_set_fwmark(struct device *dev, uint32_t fwmark);

#endif
