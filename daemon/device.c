/* SPDX-License-Identifier: MIT */
/*
 * The device layer (see device.h): setup and teardown of one interface, its event sources, and
 * the configuration calls. Clock and randomness for the core come from here: CLOCK_BOOTTIME for
 * protocol time (through the loop), CLOCK_REALTIME for TAI64N, getrandom(2) for randomness.
 */
#include "daemon/device.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/mman.h>
#include <sys/random.h>

#include "daemon/log.h"
#include "daemon/loop.h"
#include "daemon/peer_state.h"
#include "daemon/pool.h"
#include "daemon/sandbox.h"

struct device {
	struct loop *loop; /* borrowed */
	struct wgc_endpoint *ep;
	void *ep_mem;
	size_t ep_mem_size;
	struct device_limits limits;
	struct tun tun;
	struct udp udp;
	struct peer_states states;
	struct datapath *dp;
	struct loop_source tun_src;
	struct loop_source monitor_src;
	struct loop_source udp4_src;
	struct loop_source udp6_src;
};

/* ---- clocks and randomness for the core ---- */

static bool random_cb(void *ctx, void *buf, size_t len)
{
	uint8_t *p = buf;
	ssize_t n;

	(void)ctx;
	while (len > 0) {
		n = getrandom(p, len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

static uint64_t wall_clock_cb(void *ctx)
{
	(void)ctx;
	return loop_clock_ns(CLOCK_REALTIME);
}

/* ---- event sources ---- */

static void on_tun(void *ctx, uint32_t events)
{
	struct device *dev = ctx;
	int ret;

	if (events & (EPOLLERR | EPOLLHUP)) {
		log_verbose("interface %s was closed", dev->tun.name);
		loop_stop(dev->loop, 0);
		return;
	}
	ret = datapath_on_tun(dev->dp, loop_now(dev->loop));
	if (ret == -EBADFD) {
		log_verbose("interface %s is gone", dev->tun.name);
		loop_stop(dev->loop, 0);
	} else if (ret < 0) {
		log_error("reading from %s: %s", dev->tun.name, strerror(-ret));
		loop_stop(dev->loop, ret);
	}
}

static void on_udp4(void *ctx, uint32_t events)
{
	struct device *dev = ctx;

	(void)events;
	datapath_on_udp(dev->dp, dev->udp.fd4, loop_now(dev->loop));
}

static void on_udp6(void *ctx, uint32_t events)
{
	struct device *dev = ctx;

	(void)events;
	datapath_on_udp(dev->dp, dev->udp.fd6, loop_now(dev->loop));
}

/* Not too sticky: an address that went away is no peer's source any more, and a routing change
 * may make another source preferred, so every source is forgotten then; each is learnt again
 * from the peer's next authenticated datagram. */
static void forget_sources(struct device *dev, const struct tun_events *ev)
{
	struct udp_src src;
	unsigned i;

	if (ev->routes_changed || ev->has_lost_addrs) {
		datapath_forget_source(dev->dp, NULL);
		return;
	}
	for (i = 0; i < ev->deleted_addr_count; i++) {
		memset(&src, 0, sizeof(src));
		src.family = ev->deleted_addrs[i].family == AF_INET ? WGC_AF_INET : WGC_AF_INET6;
		memcpy(src.ip, ev->deleted_addrs[i].ip, sizeof(src.ip));
		if (src.family == WGC_AF_INET6 && src.ip[0] == 0xfe && (src.ip[1] & 0xc0) == 0x80)
			src.ifindex = (uint32_t)ev->deleted_addrs[i].ifindex;
		datapath_forget_source(dev->dp, &src);
	}
}

static void on_monitor(void *ctx, uint32_t events)
{
	struct device *dev = ctx;
	struct tun_events ev;

	(void)events;
	if (tun_monitor_read(&dev->tun, &ev) < 0)
		return;
	if (ev.deleted) {
		log_verbose("interface %s was deleted", dev->tun.name);
		loop_stop(dev->loop, 0);
		return;
	}
	if (ev.moved && dev->tun.link_nsid == TUN_NSID_UNKNOWN)
		log_error("interface %s moved to a namespace we cannot follow: still serving it, "
			  "but its MTU changes are not seen", dev->tun.name);
	else if (ev.moved)
		log_verbose("interface %s moved to network namespace id %d (now index %d); still "
			    "serving it from here", dev->tun.name, dev->tun.link_nsid, dev->tun.ifindex);
	forget_sources(dev, &ev);
	if (ev.mtu_changed && ev.mtu > 0) {
		log_verbose("MTU of %s is now %u", dev->tun.name, ev.mtu);
		wgc_endpoint_set_mtu(dev->ep, ev.mtu);
	}
}

static void on_timer(void *ctx, uint32_t events)
{
	struct device *dev = ctx;

	(void)events;
	datapath_tick(dev->dp, loop_now(dev->loop));
}

/* After every batch of events: the handshakes that waited for the data (within their time
 * budget; the loop comes straight back for the rest), then what was queued leaves in one
 * sendmmsg, and the timer follows the core's next deadline. */
static void on_end_of_batch(void *ctx, uint32_t events)
{
	struct device *dev = ctx;

	(void)events;
	if (datapath_handshakes(dev->dp, loop_now(dev->loop)))
		loop_busy(dev->loop);
	datapath_tx_flush(dev->dp);
	loop_timer_arm(dev->loop, wgc_endpoint_next_deadline(dev->ep));
}

static int watch_udp(struct device *dev)
{
	int ret = loop_add(dev->loop, &dev->udp4_src, dev->udp.fd4, EPOLLIN, on_udp4, dev);

	if (ret == 0)
		ret = loop_add(dev->loop, &dev->udp6_src, dev->udp.fd6, EPOLLIN, on_udp6, dev);
	return ret;
}

/* ---- setup ---- */

static int init_endpoint(struct device *dev)
{
	struct wgc_config cfg = {
		.limits = { .max_peers = dev->limits.max_peers,
			    .max_allowed_ips = dev->limits.max_allowed_ips },
		.random = random_cb,
		.wall_clock = wall_clock_cb,
		/* "Under load" is the handshake queue's fill (datapath_handshakes), as in the
		 * kernel, not a count per second: a burst of legitimate handshakes that the CPU
		 * keeps up with costs no one a cookie round trip. */
		.load_threshold_per_s = UINT32_MAX,
	};
	uint32_t mtu = WGC_DEFAULT_MTU;
	enum wgc_status status;

	dev->ep_mem_size = wgc_endpoint_size(&cfg.limits);
	if (dev->ep_mem_size == 0) {
		log_error("endpoint limits out of range (%u peers, %u allowed IPs)",
			  dev->limits.max_peers, dev->limits.max_allowed_ips);
		return -EINVAL;
	}
	/* Zero pages cost nothing until touched, so generous limits keep an idle daemon small. */
	dev->ep_mem = pool_map_zeroed(dev->ep_mem_size);
	if (!dev->ep_mem) {
		log_error("mapping %zu bytes for the endpoint: %s", dev->ep_mem_size,
			  strerror(errno));
		return -ENOMEM;
	}
	/* The endpoint holds every key: locked in RAM as it is touched, never in a core dump. */
	(void)sandbox_protect_memory(dev->ep_mem, dev->ep_mem_size); /* best effort; logged */
	status = wgc_endpoint_init(dev->ep_mem, dev->ep_mem_size, &cfg,
				   loop_clock_ns(CLOCK_BOOTTIME), &dev->ep);
	if (status != WGC_OK) {
		log_error("initialising the endpoint: %s", wgc_status_str(status));
		return status == WGC_ERR_RANDOM ? -EIO : -EINVAL;
	}
	if (tun_get_mtu(&dev->tun, &mtu) == 0)
		wgc_endpoint_set_mtu(dev->ep, mtu);
	return 0;
}

int device_create(struct loop *loop, struct tun *tun, const struct device_limits *limits,
		  struct device **out)
{
	struct device *dev = calloc(1, sizeof(*dev));
	int ret;

	if (!dev) {
		tun_close(tun);
		log_error("allocating the device: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	dev->loop = loop;
	dev->tun = *tun;
	tun->fd = -1;
	tun->monitor_fd = -1;
	dev->limits = *limits;
	dev->tun_src.fd = dev->monitor_src.fd = dev->udp4_src.fd = dev->udp6_src.fd = -1;
	udp_init(&dev->udp);
	ret = peer_states_init(&dev->states, limits->max_peers);
	if (ret == 0)
		ret = init_endpoint(dev);
	if (ret == 0)
		ret = udp_open(&dev->udp, 0, 0);
	if (ret == 0)
		ret = datapath_create(dev->ep, &dev->tun, &dev->udp, &dev->dp);
	if (ret == 0)
		ret = loop_add(loop, &dev->tun_src, dev->tun.fd, EPOLLIN, on_tun, dev);
	if (ret == 0)
		ret = loop_add(loop, &dev->monitor_src, dev->tun.monitor_fd, EPOLLIN, on_monitor,
			       dev);
	if (ret == 0)
		ret = watch_udp(dev);
	if (ret < 0) {
		device_destroy(dev);
		return ret;
	}
	loop_timer_init(loop, on_timer, dev);
	loop_set_end_of_batch(loop, on_end_of_batch, dev);
	*out = dev;
	return 0;
}

void device_destroy(struct device *dev)
{
	if (!dev)
		return;
	loop_remove(dev->loop, &dev->tun_src);
	loop_remove(dev->loop, &dev->monitor_src);
	loop_remove(dev->loop, &dev->udp4_src);
	loop_remove(dev->loop, &dev->udp6_src);
	loop_timer_init(dev->loop, NULL, NULL);
	loop_set_end_of_batch(dev->loop, NULL, NULL);
	/* No batch runs outside the loop's callbacks, so no job is in flight: the workers can go
	 * before the keys are wiped. */
	datapath_destroy(dev->dp);
	if (dev->ep)
		wgc_endpoint_clear(dev->ep);
	if (dev->ep_mem)
		munmap(dev->ep_mem, dev->ep_mem_size);
	peer_states_clear(&dev->states);
	udp_close(&dev->udp);
	tun_close(&dev->tun);
	free(dev);
}

int device_start_workers(struct device *dev)
{
	return datapath_start_workers(dev->dp);
}

/* ---- reads ---- */

const struct wgc_endpoint *device_endpoint(const struct device *dev)
{
	return dev->ep;
}

const struct device_limits *device_get_limits(const struct device *dev)
{
	return &dev->limits;
}

const struct udp *device_udp(const struct device *dev)
{
	return &dev->udp;
}

void device_get_stats(const struct device *dev, struct datapath_stats *out)
{
	datapath_get_stats(dev->dp, out);
}

/* ---- configuration ---- */

void device_set_private_key(struct device *dev, const uint8_t *key)
{
	uint8_t public_key[WGC_KEY_LEN];
	struct wgc_peer *peer;
	enum wgc_status status;

	/* A peer holding our new public key goes first, with its daemon-side state, as in
	 * wireguard-go; the core refuses the key while such a peer exists. */
	if (key && !sodium_is_zero(key, WGC_KEY_LEN)) { /* constant time */
		wgc_public_key(public_key, key);
		peer = wgc_peer_lookup(dev->ep, public_key);
		if (peer)
			device_peer_remove(dev, peer);
	}
	status = wgc_endpoint_set_private_key(dev->ep, key, loop_now(dev->loop));
	if (status != WGC_OK)
		log_error("setting the private key: %s", wgc_status_str(status));
}

int device_peer_add(struct device *dev, const uint8_t public_key[WGC_KEY_LEN],
		    struct wgc_peer **out, bool *created)
{
	enum wgc_status status = wgc_peer_add(dev->ep, public_key, loop_now(dev->loop), out);

	*created = false;
	if (status == WGC_ERR_EXISTS)
		return 0;
	if (status == WGC_ERR_NO_SPACE)
		return -ENOSPC;
	if (status != WGC_OK)
		return -EINVAL;
	/* There are as many states as peers, so this cannot fail while the core accepted. */
	if (!peer_states_attach(&dev->states, *out)) {
		wgc_peer_remove(dev->ep, *out);
		return -ENOSPC;
	}
	*created = true;
	return 0;
}

void device_peer_remove(struct device *dev, struct wgc_peer *peer)
{
	datapath_purge_staged(dev->dp, peer);
	peer_states_detach(&dev->states, peer);
	wgc_peer_remove(dev->ep, peer);
}

void device_remove_all_peers(struct device *dev)
{
	struct wgc_peer *peer;

	while ((peer = wgc_peer_next(dev->ep, NULL)))
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
	struct wgc_actions *out = datapath_actions(dev->dp);
	uint64_t now = loop_now(dev->loop);

	wgc_peer_set_persistent_keepalive(dev->ep, peer, interval_s, now, out);
	datapath_run_actions(dev->dp, now, out);
}

void device_peer_clear_allowedips(struct device *dev, struct wgc_peer *peer)
{
	wgc_allowedips_clear_peer(dev->ep, peer);
}

int device_peer_add_allowedip(struct device *dev, struct wgc_peer *peer,
			      const struct wgc_prefix *prefix)
{
	enum wgc_status status = wgc_allowedip_insert(dev->ep, peer, prefix);

	if (status == WGC_ERR_NO_SPACE)
		return -ENOSPC;
	return status == WGC_OK ? 0 : -EINVAL;
}

int device_peer_remove_allowedip(struct device *dev, struct wgc_peer *peer,
				 const struct wgc_prefix *prefix)
{
	enum wgc_status status = wgc_allowedip_remove(dev->ep, peer, prefix);

	return status == WGC_OK || status == WGC_ERR_NOT_FOUND ? 0 : -EINVAL;
}

void device_peer_configured(struct device *dev, struct wgc_peer *peer)
{
	struct peer_state *s = peer_state_of(peer);

	if (s && s->staged_count > 0)
		datapath_flush_staged(dev->dp, peer, loop_now(dev->loop));
}

void device_replace_udp(struct device *dev, struct udp *fresh)
{
	datapath_tx_flush(dev->dp);
	loop_remove(dev->loop, &dev->udp4_src);
	loop_remove(dev->loop, &dev->udp6_src);
	udp_close(&dev->udp);
	dev->udp = *fresh;
	udp_init(fresh);
	if (watch_udp(dev) < 0)
		log_error("the new UDP sockets on port %u receive nothing", dev->udp.port);
}

int device_set_fwmark(struct device *dev, uint32_t fwmark)
{
	datapath_tx_flush(dev->dp);
	return udp_set_fwmark(&dev->udp, fwmark);
}
