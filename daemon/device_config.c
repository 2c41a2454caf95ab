/* SPDX-License-Identifier: MIT */
/*
 * The device's reads and configuration calls (see device.h): every change the UAPI makes, made
 * in the endpoint of the peer's lane and, with several lanes, in the routing endpoint too.
 */
#include "daemon/device.h"
#include "daemon/device_int.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "daemon/log.h"

/* ---- reads ---- */

const struct wgc_endpoint *device_endpoint(const struct device *dev)
{
	return dev->lanes[0].ep;
}

const struct device_limits *device_get_limits(const struct device *dev)
{
	return &dev->limits;
}

const struct udp *device_udp(const struct device *dev)
{
	return &dev->udp[0];
}

unsigned device_lane_count(const struct device *dev)
{
	return dev->lane_count;
}

void device_get_stats(const struct device *dev, struct datapath_stats *out)
{
	struct datapath_stats st;
	uint64_t *sum = (uint64_t *)(void *)out;
	const uint64_t *add = (const uint64_t *)(const void *)&st;
	uint64_t queued_max = 0;
	unsigned l;
	size_t i;

	_Static_assert(sizeof(st) % sizeof(uint64_t) == 0, "datapath_stats: counters only");
	memset(out, 0, sizeof(*out));
	for (l = 0; l < dev->lane_count; l++) {
		datapath_get_stats(dev->lanes[l].dp, &st);
		for (i = 0; i < sizeof(st) / sizeof(uint64_t); i++)
			sum[i] += add[i];
		if (st.handshakes_queued_max > queued_max)
			queued_max = st.handshakes_queued_max;
	}
	out->handshakes_queued_max = queued_max; /* a maximum, not a sum */
}

void device_get_drops(const struct device *dev, uint64_t drops[WGC_DROP__COUNT])
{
	uint64_t lane_drops[WGC_DROP__COUNT];
	unsigned l;
	size_t r;

	memset(drops, 0, WGC_DROP__COUNT * sizeof(drops[0]));
	for (l = 0; l < dev->lane_count; l++) {
		(void)wgc_endpoint_get_drops(dev->lanes[l].ep, lane_drops, WGC_DROP__COUNT);
		for (r = 0; r < WGC_DROP__COUNT; r++)
			drops[r] += lane_drops[r];
	}
}

struct wgc_peer *device_peer_lookup(const struct device *dev, const uint8_t key[WGC_KEY_LEN])
{
	return wgc_peer_lookup(dev->lanes[datapath_lane_of_key(key, dev->lane_count)].ep, key);
}

const struct wgc_peer *device_peer_next(const struct device *dev, const struct wgc_peer *prev)
{
	const struct peer_state *s = peer_state_of(prev);
	unsigned l = prev && s ? s->lane : 0;
	const struct wgc_peer *next = wgc_peer_next(dev->lanes[l].ep, prev);

	while (!next && ++l < dev->lane_count)
		next = wgc_peer_next(dev->lanes[l].ep, NULL);
	return next;
}

uint32_t device_peer_count(const struct device *dev)
{
	uint32_t n = 0;
	unsigned l;

	for (l = 0; l < dev->lane_count; l++)
		n += wgc_endpoint_peer_count(dev->lanes[l].ep);
	return n;
}

/* ---- configuration ---- */

void device_set_private_key(struct device *dev, const uint8_t *key)
{
	uint8_t public_key[WGC_KEY_LEN];
	struct wgc_peer *peer;
	enum wgc_status status;
	unsigned l;

	/* A peer holding our new public key goes first, with its daemon-side state, as in
	 * wireguard-go; the core refuses the key while such a peer exists. */
	if (key && !sodium_is_zero(key, WGC_KEY_LEN)) { /* constant time */
		wgc_public_key(public_key, key);
		peer = device_peer_lookup(dev, public_key);
		if (peer)
			device_peer_remove(dev, peer);
	}
	for (l = 0; l < dev->lane_count; l++) {
		status = wgc_endpoint_set_private_key(dev->lanes[l].ep, key, loop_now(dev->loop));
		if (status != WGC_OK)
			log_error("setting the private key: %s", wgc_status_str(status));
	}
}

int device_peer_add(struct device *dev, const uint8_t public_key[WGC_KEY_LEN],
		    struct wgc_peer **out, bool *created)
{
	struct lane *lane = &dev->lanes[datapath_lane_of_key(public_key, dev->lane_count)];
	enum wgc_status status = wgc_peer_add(lane->ep, public_key, loop_now(dev->loop), out);
	struct wgc_peer *routed = NULL;
	struct peer_state *s;

	*created = false;
	if (status == WGC_ERR_EXISTS)
		return 0;
	if (status == WGC_ERR_NO_SPACE)
		return -ENOSPC;
	if (status != WGC_OK)
		return -EINVAL;
	if (dev->router &&
	    wgc_peer_add(dev->router, public_key, loop_now(dev->loop), &routed) != WGC_OK) {
		wgc_peer_remove(lane->ep, *out);
		return -ENOSPC;
	}
	/* There are as many states as peers, so this cannot fail while the core accepted. */
	s = peer_states_attach(&lane->states, *out);
	if (!s) {
		if (routed)
			wgc_peer_remove(dev->router, routed);
		wgc_peer_remove(lane->ep, *out);
		return -ENOSPC;
	}
	s->lane = lane->index;
	s->routed = routed;
	if (routed)
		wgc_peer_set_user(routed, *out);
	*created = true;
	return 0;
}

void device_peer_remove(struct device *dev, struct wgc_peer *peer)
{
	struct lane *lane = dev_lane_of_peer(dev, peer);
	struct peer_state *s = peer_state_of(peer);

	if (s && s->routed)
		wgc_peer_remove(dev->router, s->routed);
	datapath_purge_staged(lane->dp, peer);
	peer_states_detach(&lane->states, peer);
	wgc_peer_remove(lane->ep, peer);
}

void device_remove_all_peers(struct device *dev)
{
	struct wgc_peer *peer;
	unsigned l;

	for (l = 0; l < dev->lane_count; l++)
		while ((peer = wgc_peer_next(dev->lanes[l].ep, NULL)))
			device_peer_remove(dev, peer);
}

void device_peer_set_preshared_key(struct device *dev, struct wgc_peer *peer, const uint8_t *psk)
{
	(void)dev;
	wgc_peer_set_preshared_key(peer, psk);
}

int device_peer_set_endpoint(struct device *dev, struct wgc_peer *peer,
			     const struct wgc_addr *addr)
{
	(void)dev;
	return wgc_peer_set_endpoint(peer, addr) == WGC_OK ? 0 : -EINVAL;
}

void device_peer_set_keepalive(struct device *dev, struct wgc_peer *peer, uint16_t interval_s)
{
	struct lane *lane = dev_lane_of_peer(dev, peer);
	struct wgc_actions *out = datapath_actions(lane->dp);
	uint64_t now = loop_now(dev->loop);

	wgc_peer_set_persistent_keepalive(lane->ep, peer, interval_s, now, out);
	datapath_run_actions(lane->dp, now, out);
}

void device_peer_clear_allowedips(struct device *dev, struct wgc_peer *peer)
{
	struct peer_state *s = peer_state_of(peer);

	if (s && s->routed)
		wgc_allowedips_clear_peer(dev->router, s->routed);
	wgc_allowedips_clear_peer(dev_lane_of_peer(dev, peer)->ep, peer);
}

int device_peer_add_allowedip(struct device *dev, struct wgc_peer *peer,
			      const struct wgc_prefix *prefix)
{
	struct peer_state *s = peer_state_of(peer);
	struct wgc_peer *old_routed;
	struct wgc_peer *old;
	enum wgc_status status;

	if (s && s->routed) {
		/* A prefix moving from a peer of another lane leaves that lane's endpoint too. */
		old_routed = wgc_allowedip_owner(dev->router, prefix);
		status = wgc_allowedip_insert(dev->router, s->routed, prefix);
		if (status == WGC_OK && old_routed && old_routed != s->routed) {
			old = wgc_peer_get_user(old_routed);
			if (dev_lane_of_peer(dev, old) != dev_lane_of_peer(dev, peer) &&
			    wgc_allowedip_remove(dev_lane_of_peer(dev, old)->ep, old, prefix) != WGC_OK)
				log_error("a moved allowed IP stayed with its old peer's lane");
		}
		if (status != WGC_OK)
			return status == WGC_ERR_NO_SPACE ? -ENOSPC : -EINVAL;
	}
	status = wgc_allowedip_insert(dev_lane_of_peer(dev, peer)->ep, peer, prefix);
	if (status == WGC_ERR_NO_SPACE)
		return -ENOSPC;
	return status == WGC_OK ? 0 : -EINVAL;
}

int device_peer_remove_allowedip(struct device *dev, struct wgc_peer *peer,
				 const struct wgc_prefix *prefix)
{
	struct peer_state *s = peer_state_of(peer);
	enum wgc_status status;

	/* Not owned exactly by the peer: NOT_FOUND in both, and nothing changes. */
	if (s && s->routed && wgc_allowedip_remove(dev->router, s->routed, prefix) == WGC_ERR_INVALID)
		return -EINVAL;
	status = wgc_allowedip_remove(dev_lane_of_peer(dev, peer)->ep, peer, prefix);
	return status == WGC_OK || status == WGC_ERR_NOT_FOUND ? 0 : -EINVAL;
}

void device_peer_configured(struct device *dev, struct wgc_peer *peer)
{
	struct peer_state *s = peer_state_of(peer);

	if (s && s->staged_count > 0)
		datapath_flush_staged(dev_lane_of_peer(dev, peer)->dp, peer, loop_now(dev->loop));
}

int device_open_udp(const struct device *dev, uint16_t port, uint32_t fwmark,
		    struct udp fresh[DEVICE_LANES_MAX])
{
	unsigned i;

	for (i = 0; i < DEVICE_LANES_MAX; i++)
		udp_init(&fresh[i]);
	return udp_open_lanes(fresh, dev->lane_count, port, fwmark);
}

void device_replace_udp(struct device *dev, struct udp fresh[DEVICE_LANES_MAX])
{
	struct lane *lane;
	unsigned i;

	for (i = 0; i < dev->lane_count; i++) {
		lane = &dev->lanes[i];
		datapath_tx_flush(lane->dp);
		loop_remove(lane->loop, &lane->udp4_src);
		loop_remove(lane->loop, &lane->udp6_src);
		udp_close(&dev->udp[i]);
		dev->udp[i] = fresh[i];
		udp_init(&fresh[i]);
		if (dev_watch_udp(lane) < 0)
			log_error("the new UDP sockets on port %u receive nothing", dev->udp[i].port);
	}
}

int device_set_fwmark(struct device *dev, uint32_t fwmark)
{
	uint32_t old = dev->udp[0].fwmark;
	unsigned i;
	int ret = 0;

	for (i = 0; i < dev->lane_count; i++)
		datapath_tx_flush(dev->lanes[i].dp);
	for (i = 0; i < dev->lane_count; i++) {
		ret = udp_set_fwmark(&dev->udp[i], fwmark);
		if (ret < 0)
			break;
	}
	if (ret < 0) /* nothing changes: the lanes that took the new mark get the old one back */
		while (i-- > 0)
			(void)udp_set_fwmark(&dev->udp[i], old);
	return ret;
}
