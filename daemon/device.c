/* SPDX-License-Identifier: MIT */
/*
 * The device layer (see device.h): setup and teardown of one interface, its event sources, and
 * the configuration calls. Clock and randomness for the core come from here: CLOCK_BOOTTIME for
 * protocol time (through the loop), CLOCK_REALTIME for TAI64N, getrandom(2) for randomness.
 */
#include "daemon/device.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/mman.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <unistd.h>

#include "base/bytes.h"
#include "daemon/inbox.h"
#include "daemon/log.h"
#include "daemon/loop.h"
#include "daemon/peer_state.h"
#include "daemon/pool.h"
#include "daemon/sandbox.h"

#include "daemon/device_int.h"


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

/* ---- lanes ---- */

/* The lane a peer of the device belongs to. */
struct lane *dev_lane_of_peer(struct device *dev, const struct wgc_peer *peer)
{
	const struct peer_state *s = peer_state_of(peer);

	return &dev->lanes[s ? s->lane : 0];
}

/* A lane's fatal condition (the interface went away, a read failed) ends the daemon. */
static void lane_stop_daemon(struct lane *lane, int status)
{
	struct device *dev = lane->dev;
	uint64_t one = 1;

	if (lane->index == 0) {
		loop_stop(dev->loop, status);
		return;
	}
	atomic_store_explicit(&dev->stop_status, status, memory_order_relaxed);
	if (write(dev->stop_fd, &one, sizeof(one)) < 0)
		log_error("asking the daemon to stop: %s", strerror(errno));
	loop_stop(lane->loop, status);
}

static void on_stop_request(void *ctx, uint32_t events)
{
	struct device *dev = ctx;

	(void)events;
	loop_stop(dev->loop, atomic_load_explicit(&dev->stop_status, memory_order_relaxed));
}

void device_pause(struct device *dev)
{
	unsigned i;

	for (i = 1; i < dev->lane_count; i++)
		pthread_mutex_lock(&dev->lanes[i].round_lock);
}

/* What a change made for a paused lane leaves now, and its timer follows its endpoint. */
void device_resume(struct device *dev)
{
	struct lane *lane;
	unsigned i;

	for (i = 1; i < dev->lane_count; i++) {
		lane = &dev->lanes[i];
		datapath_tx_flush(lane->dp);
		loop_timer_arm(lane->loop, wgc_endpoint_next_deadline(lane->ep));
		pthread_mutex_unlock(&lane->round_lock);
	}
}

/* ---- event sources ---- */

static void on_tun(void *ctx, uint32_t events)
{
	struct lane *lane = ctx;
	int ret;

	if (events & (EPOLLERR | EPOLLHUP)) {
		log_verbose("interface %s was closed", lane->tun.name);
		lane_stop_daemon(lane, 0);
		return;
	}
	ret = datapath_on_tun(lane->dp, loop_now(lane->loop));
	if (ret == -EBADFD) {
		log_verbose("interface %s is gone", lane->tun.name);
		lane_stop_daemon(lane, 0);
	} else if (ret < 0) {
		log_error("reading from %s: %s", lane->tun.name, strerror(-ret));
		lane_stop_daemon(lane, ret);
	}
}

static void on_udp4(void *ctx, uint32_t events)
{
	struct lane *lane = ctx;

	(void)events;
	datapath_on_udp(lane->dp, lane->dev->udp[lane->index].fd4, loop_now(lane->loop));
}

static void on_udp6(void *ctx, uint32_t events)
{
	struct lane *lane = ctx;

	(void)events;
	datapath_on_udp(lane->dp, lane->dev->udp[lane->index].fd6, loop_now(lane->loop));
}

/* The inbox's wake-up; its packets are taken at the end of the batch (on_end_of_batch). */
static void on_inbox(void *ctx, uint32_t events)
{
	struct lane *lane = ctx;

	(void)events;
	inbox_clear_wakeup(lane->inbox);
}

/* Not too sticky: an address that went away is no peer's source any more, and a routing change
 * may make another source preferred, so every source is forgotten then; each is learnt again
 * from the peer's next authenticated datagram. */
static void forget_sources(struct device *dev, const struct tun_events *ev)
{
	struct udp_src src;
	unsigned i;
	unsigned l;

	if (ev->routes_changed || ev->has_lost_addrs) {
		for (l = 0; l < dev->lane_count; l++)
			datapath_forget_source(dev->lanes[l].dp, NULL);
		return;
	}
	for (i = 0; i < ev->deleted_addr_count; i++) {
		memset(&src, 0, sizeof(src));
		src.family = ev->deleted_addrs[i].family == AF_INET ? WGC_AF_INET : WGC_AF_INET6;
		memcpy(src.ip, ev->deleted_addrs[i].ip, sizeof(src.ip));
		if (src.family == WGC_AF_INET6 && src.ip[0] == 0xfe && (src.ip[1] & 0xc0) == 0x80)
			src.ifindex = (uint32_t)ev->deleted_addrs[i].ifindex;
		for (l = 0; l < dev->lane_count; l++)
			datapath_forget_source(dev->lanes[l].dp, &src);
	}
}

static void on_monitor(void *ctx, uint32_t events)
{
	struct device *dev = ctx;
	struct tun_events ev;
	unsigned l;

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
	device_pause(dev);
	forget_sources(dev, &ev);
	if (ev.mtu_changed && ev.mtu > 0) {
		log_verbose("MTU of %s is now %u", dev->tun.name, ev.mtu);
		for (l = 0; l < dev->lane_count; l++)
			wgc_endpoint_set_mtu(dev->lanes[l].ep, ev.mtu);
	}
	device_resume(dev);
}

static void on_timer(void *ctx, uint32_t events)
{
	struct lane *lane = ctx;

	(void)events;
	datapath_tick(lane->dp, loop_now(lane->loop));
}

/* After every batch of events: what other lanes handed over, the handshakes that waited for the
 * data (within their time budget; the loop comes straight back for the rest), then what was
 * queued leaves in one sendmmsg, and the timer follows the core's next deadline. */
static void on_end_of_batch(void *ctx, uint32_t events)
{
	struct lane *lane = ctx;
	uint64_t now = loop_now(lane->loop);

	(void)events;
	if (lane->inbox && (datapath_on_inbox(lane->dp, now) || !inbox_arm(lane->inbox)))
		loop_busy(lane->loop);
	if (datapath_handshakes(lane->dp, now))
		loop_busy(lane->loop);
	datapath_tx_flush(lane->dp);
	loop_timer_arm(lane->loop, wgc_endpoint_next_deadline(lane->ep));
}

int dev_watch_udp(struct lane *lane)
{
	const struct udp *udp = &lane->dev->udp[lane->index];
	int ret = loop_add(lane->loop, &lane->udp4_src, udp->fd4, EPOLLIN, on_udp4, lane);

	if (ret == 0)
		ret = loop_add(lane->loop, &lane->udp6_src, udp->fd6, EPOLLIN, on_udp6, lane);
	return ret;
}

/* ---- setup ---- */

/* An endpoint over lazily mapped, locked memory; index_lane of index_lanes (0 of 0: none). */
static int new_endpoint(const struct device *dev, unsigned index_lane, unsigned index_lanes,
			void **mem, size_t *mem_size, struct wgc_endpoint **out)
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
		.index_lanes = (uint8_t)index_lanes,
		.index_lane = (uint8_t)index_lane,
	};
	enum wgc_status status;

	*mem_size = wgc_endpoint_size(&cfg.limits);
	if (*mem_size == 0) {
		log_error("endpoint limits out of range (%u peers, %u allowed IPs)",
			  dev->limits.max_peers, dev->limits.max_allowed_ips);
		return -EINVAL;
	}
	/* Zero pages cost nothing until touched, so generous limits keep an idle daemon small. */
	*mem = pool_map_zeroed(*mem_size);
	if (!*mem) {
		log_error("mapping %zu bytes for the endpoint: %s", *mem_size, strerror(errno));
		return -ENOMEM;
	}
	/* The endpoint holds every key: locked in RAM as it is touched, never in a core dump. */
	(void)sandbox_protect_memory(*mem, *mem_size); /* best effort; logged */
	status = wgc_endpoint_init(*mem, *mem_size, &cfg, loop_clock_ns(CLOCK_BOOTTIME), out);
	if (status != WGC_OK) {
		log_error("initialising the endpoint: %s", wgc_status_str(status));
		return status == WGC_ERR_RANDOM ? -EIO : -EINVAL;
	}
	return 0;
}

static void free_endpoint(struct wgc_endpoint **ep, void **mem, size_t mem_size)
{
	if (*ep)
		wgc_endpoint_clear(*ep);
	if (*mem)
		munmap(*mem, mem_size);
	*ep = NULL;
	*mem = NULL;
}

static int lane_create(struct device *dev, unsigned index)
{
	struct lane *lane = &dev->lanes[index];
	uint32_t mtu = WGC_DEFAULT_MTU;
	struct datapath_lanes view;
	int ret;

	lane->dev = dev;
	lane->index = index;
	lane->tun_src.fd = lane->udp4_src.fd = lane->udp6_src.fd = lane->inbox_src.fd = -1;
	tun_queue_view(&dev->tun, index, &lane->tun);
	if (index == 0) {
		lane->loop = dev->loop;
	} else {
		ret = loop_create_lane(&lane->loop);
		if (ret < 0)
			return ret;
		if (pthread_mutex_init(&lane->round_lock, NULL) != 0)
			return -ENOMEM;
		lane->has_lock = true;
		loop_set_round_lock(lane->loop, &lane->round_lock);
	}
	ret = peer_states_init(&lane->states, dev->limits.max_peers);
	if (ret == 0)
		ret = new_endpoint(dev, index, dev->lane_count > 1 ? dev->lane_count : 0,
				   &lane->ep_mem, &lane->ep_mem_size, &lane->ep);
	if (ret < 0)
		return ret;
	if (tun_get_mtu(&dev->tun, &mtu) == 0)
		wgc_endpoint_set_mtu(lane->ep, mtu);
	ret = datapath_create(lane->ep, &lane->tun, &dev->udp[index], &lane->dp);
	if (ret == 0 && dev->lane_count > 1) {
		view = (struct datapath_lanes){ .count = dev->lane_count, .self = index,
						.router = dev->router, .inboxes = dev->inboxes };
		lane->inbox = dev->inboxes[index];
		datapath_set_lanes(lane->dp, &view);
		ret = loop_add(lane->loop, &lane->inbox_src, inbox_fd(lane->inbox), EPOLLIN,
			       on_inbox, lane);
	}
	if (ret == 0)
		ret = loop_add(lane->loop, &lane->tun_src, lane->tun.fd, EPOLLIN, on_tun, lane);
	if (ret == 0)
		ret = dev_watch_udp(lane);
	if (ret < 0)
		return ret;
	loop_timer_init(lane->loop, on_timer, lane);
	loop_set_end_of_batch(lane->loop, on_end_of_batch, lane);
	return 0;
}

static void lane_destroy(struct lane *lane)
{
	if (!lane->dev)
		return;
	if (lane->loop) {
		loop_remove(lane->loop, &lane->tun_src);
		loop_remove(lane->loop, &lane->udp4_src);
		loop_remove(lane->loop, &lane->udp6_src);
		loop_remove(lane->loop, &lane->inbox_src);
		loop_timer_init(lane->loop, NULL, NULL);
		loop_set_end_of_batch(lane->loop, NULL, NULL);
	}
	/* No batch runs outside the loop's callbacks, so no job is in flight: the workers can go
	 * before the keys are wiped. */
	datapath_destroy(lane->dp);
	free_endpoint(&lane->ep, &lane->ep_mem, lane->ep_mem_size);
	peer_states_clear(&lane->states);
	if (lane->index > 0)
		loop_destroy(lane->loop);
	if (lane->has_lock)
		pthread_mutex_destroy(&lane->round_lock);
	lane->loop = NULL;
	lane->dev = NULL;
}

int device_lanes_wanted(unsigned *out)
{
	const char *v = getenv("WGC_LANES");
	char *end;
	unsigned long n;

	*out = 1;
	if (!v || !*v)
		return 0;
	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno || *end || n < 1 || n > DEVICE_LANES_MAX) {
		log_error("WGC_LANES=%s: not a number from 1 to %d", v, DEVICE_LANES_MAX);
		return -EINVAL;
	}
	*out = (unsigned)n;
	return 0;
}

static int create_lanes(struct device *dev)
{
	unsigned i;
	int ret = 0;

	if (dev->lane_count > 1) {
		ret = new_endpoint(dev, 0, 0, &dev->router_mem, &dev->router_mem_size,
				   &dev->router);
		for (i = 0; ret == 0 && i < dev->lane_count; i++)
			ret = inbox_create(DEVICE_INBOX_SLOTS, DEVICE_INBOX_SLOT_BYTES,
					   &dev->inboxes[i]);
	}
	if (ret == 0)
		ret = udp_open_lanes(dev->udp, dev->lane_count, 0, 0);
	for (i = 0; ret == 0 && i < dev->lane_count; i++)
		ret = lane_create(dev, i);
	return ret;
}

int device_create(struct loop *loop, struct tun *tun, const struct device_limits *limits,
		  struct device **out)
{
	struct device *dev = calloc(1, sizeof(*dev));
	unsigned i;
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
	for (i = 0; i < TUN_QUEUES_MAX; i++)
		tun->queue_fds[i] = -1;
	tun->queues = 0;
	dev->limits = *limits;
	dev->lane_count = dev->tun.queues;
	dev->monitor_src.fd = dev->stop_src.fd = -1;
	for (i = 0; i < DEVICE_LANES_MAX; i++)
		udp_init(&dev->udp[i]);
	dev->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	ret = dev->stop_fd < 0 ? -errno : 0;
	if (ret == 0)
		ret = create_lanes(dev);
	if (ret == 0)
		ret = loop_add(loop, &dev->monitor_src, dev->tun.monitor_fd, EPOLLIN, on_monitor,
			       dev);
	if (ret == 0)
		ret = loop_add(loop, &dev->stop_src, dev->stop_fd, EPOLLIN, on_stop_request, dev);
	if (ret < 0) {
		device_destroy(dev);
		return ret;
	}
	if (dev->lane_count > 1)
		log_verbose("%u lanes", dev->lane_count);
	*out = dev;
	return 0;
}

/* Stops lane i's thread (it finishes its batch) and waits for it. */
static void lane_join(struct lane *lane)
{
	uint64_t one = 1;

	if (!lane->has_thread)
		return;
	pthread_mutex_lock(&lane->round_lock);
	loop_stop(lane->loop, 0);
	pthread_mutex_unlock(&lane->round_lock);
	/* Wakes it from its wait: the inbox's eventfd is in its loop. */
	if (write(inbox_fd(lane->inbox), &one, sizeof(one)) < 0)
		log_error("waking lane %u: %s", lane->index, strerror(errno));
	pthread_join(lane->thread, NULL);
	lane->has_thread = false;
}

void device_destroy(struct device *dev)
{
	unsigned i;

	if (!dev)
		return;
	for (i = 1; i < dev->lane_count; i++)
		lane_join(&dev->lanes[i]);
	loop_remove(dev->loop, &dev->monitor_src);
	loop_remove(dev->loop, &dev->stop_src);
	for (i = 0; i < dev->lane_count; i++)
		lane_destroy(&dev->lanes[i]);
	free_endpoint(&dev->router, &dev->router_mem, dev->router_mem_size);
	for (i = 0; i < DEVICE_LANES_MAX; i++)
		inbox_destroy(dev->inboxes[i]);
	udp_close_lanes(dev->udp, DEVICE_LANES_MAX);
	if (dev->stop_fd >= 0)
		close(dev->stop_fd);
	tun_close(&dev->tun);
	free(dev);
}

static void *lane_main(void *arg)
{
	struct lane *lane = arg;
	int ret = loop_run(lane->loop);

	if (ret < 0)
		log_error("lane %u stopped: %s", lane->index, strerror(-ret));
	return NULL;
}

int device_start_workers(struct device *dev)
{
	struct lane *lane;
	unsigned i;
	int err;

	for (i = 0; i < dev->lane_count; i++)
		(void)datapath_start_workers(dev->lanes[i].dp); /* else inline; logged */
	for (i = 1; i < dev->lane_count; i++) {
		lane = &dev->lanes[i];
		err = pthread_create(&lane->thread, NULL, lane_main, lane);
		if (err != 0) {
			log_error("starting lane %u: %s", i, strerror(err));
			return -err;
		}
		lane->has_thread = true;
	}
	return 0;
}
