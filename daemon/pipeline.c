/* SPDX-License-Identifier: MIT */
/*
 * The event loop and the data path. Outgoing: TUN packets are read in a batch into pool buffers,
 * each runs the serial wgc_send_prepare, then every prepared job is sealed (the pure half) and
 * queued for one sendmmsg. Incoming: a recvmmsg batch runs wgc_receive_prepare on every datagram,
 * then wgc_receive_open (pure), then wgc_receive_commit in arrival order. The pure halves of a
 * batch are split among this thread and the crypto workers (daemon/workers.c), which return only
 * when the whole batch is done; everything else runs on this thread (see pipeline.h).
 *
 * Packets that meet no session (WGC_VERDICT_STAGE) wait in a bounded per-peer queue until the core
 * says FLUSH (resend them) or PURGE (drop and count them). Buffers come from one pool mapped at
 * start; nothing on a packet path allocates.
 */
#include "daemon/pipeline.h"

#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "daemon/log.h"
#include "daemon/offload.h"
#include "daemon/uapi.h"
#include "daemon/workers.h"

enum {
	/* Room for the largest IP packet a TUN device can carry, plus what sealing needs. */
	TUN_PACKET_MAX = 65535,
	BUF_DATA_SIZE = WGC_DATA_HEADROOM + TUN_PACKET_MAX + WGC_DATA_TAILROOM,
	/* A TUN read may use the tailroom too: only packets of at most the MTU are sealed in place,
	 * and a GSO super-packet is copied out segment by segment. */
	TUN_READ_MAX = BUF_DATA_SIZE - WGC_DATA_HEADROOM,
	POOL_BUFFERS = 2048,
	/* Buffers staging may never take, so the I/O batches always find some. */
	POOL_RESERVE = 3 * UDP_BATCH_MAX,
	/* Per-peer staging queue, as wireguard-go's QueueStagedSize. */
	STAGED_MAX = 128,
	/* A received datagram yields at most DELIVER, FLUSH and one message of the core's own. */
	BATCH_ACTIONS = 4 * UDP_BATCH_MAX,
	BATCH_SCRATCH = WGC_ACTION_SCRATCH_MIN * UDP_BATCH_MAX,
	SMALL_ACTIONS = 8,
	CONTROL_SLOTS = 2 * UDP_BATCH_MAX,
	EPOLL_EVENTS = 16,
	TICK_ROUNDS_MAX = 4096,
};

enum source {
	SOURCE_TUN = 1,
	SOURCE_UDP4,
	SOURCE_UDP6,
	SOURCE_TIMER,
	SOURCE_SIGNAL,
	SOURCE_MONITOR,
	SOURCE_UAPI,
};

struct pipeline_buf {
	struct pipeline_buf *next; /* pool free list, a staging queue, or the sent-after-flush list */
	size_t len;                /* plaintext bytes while staged */
	uint8_t data[BUF_DATA_SIZE];
};

/* What the daemon keeps per peer beside the core's state; reached through wgc_peer_get_user. */
struct peer_state {
	struct wgc_peer *peer;
	struct pipeline_buf *staged_head; /* oldest first */
	struct pipeline_buf *staged_tail;
	uint32_t staged_count;
	struct peer_state *next_free;
};

/* An action list with its own storage. */
struct batch_actions {
	struct wgc_actions out;
	struct wgc_action list[BATCH_ACTIONS];
	uint8_t scratch[BATCH_SCRATCH];
};

struct small_actions {
	struct wgc_actions out;
	struct wgc_action list[SMALL_ACTIONS];
	uint8_t scratch[WGC_ACTION_SCRATCH_MIN];
};

struct pipeline {
	struct wgc_endpoint *ep;
	void *ep_mem;
	size_t ep_mem_size;
	struct pipeline_limits limits;
	struct tun tun;
	struct udp udp;
	int epoll_fd;
	int timer_fd;
	int signal_fd;
	uint64_t armed_ns; /* CLOCK_BOOTTIME deadline the timerfd is set to; UINT64_MAX = none */
	uint64_t now_ns;   /* CLOCK_BOOTTIME at the start of the current event batch */
	bool is_stopping;
	int exit_status;

	struct pipeline_buf *pool; /* POOL_BUFFERS, mapped lazily */
	struct pipeline_buf *free_bufs;
	uint32_t free_count;
	uint32_t pool_high; /* pool entries ever handed out; the rest were never touched */

	struct peer_state *states; /* limits.max_peers, mapped lazily */
	struct peer_state *free_states;
	uint32_t states_high;

	struct udp_tx tx;
	struct pipeline_buf *tx_owned; /* buffers the queued datagrams point into */
	uint8_t control[CONTROL_SLOTS][WGC_MAX_CONTROL_MESSAGE_LEN];
	unsigned control_used;

	struct udp_rx rx;
	struct batch_actions batch;
	struct wgc_send_job send_jobs[UDP_BATCH_MAX];
	struct wgc_receive_job recv_jobs[UDP_BATCH_MAX];
	bool is_crypto[UDP_BATCH_MAX];
	struct pipeline_buf *bufs[UDP_BATCH_MAX];
	struct offload_gro gro; /* this batch's deliveries, when the TUN device takes GSO writes */
	struct pipeline_stats stats;
	struct workers *workers; /* crypto threads for the batches' seal/open; NULL until created */
};

/* ---- clocks and randomness for the core ---- */

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

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
	return clock_ns(CLOCK_REALTIME);
}

/* ---- buffer pool ---- */

static struct pipeline_buf *pool_get(struct pipeline *p)
{
	struct pipeline_buf *buf = p->free_bufs;

	if (buf) {
		p->free_bufs = buf->next;
	} else if (p->pool_high < POOL_BUFFERS) {
		buf = &p->pool[p->pool_high++];
	} else {
		return NULL;
	}
	p->free_count--;
	return buf;
}

static void pool_put(struct pipeline *p, struct pipeline_buf *buf)
{
	buf->next = p->free_bufs;
	p->free_bufs = buf;
	p->free_count++;
}

static void *map_zeroed(size_t size)
{
	void *mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return mem == MAP_FAILED ? NULL : mem;
}

/* ---- sending ---- */

static void tx_flush(struct pipeline *p)
{
	struct pipeline_buf *buf;

	p->stats.udp_send_errors += udp_tx_flush(&p->udp, &p->tx);
	while ((buf = p->tx_owned)) {
		p->tx_owned = buf->next;
		pool_put(p, buf);
	}
	p->control_used = 0;
}

/* Queues a datagram; owner (may be NULL) goes back to the pool once it is sent. */
static void tx_add(struct pipeline *p, const uint8_t *data, size_t len,
		   const struct wgc_addr *addr, struct pipeline_buf *owner)
{
	if (!udp_tx_add(&p->tx, data, len, addr)) {
		tx_flush(p);
		if (!udp_tx_add(&p->tx, data, len, addr)) {
			p->stats.udp_send_errors++;
			if (owner)
				pool_put(p, owner);
			return;
		}
	}
	if (owner) {
		owner->next = p->tx_owned;
		p->tx_owned = owner;
	}
}

/* Queues a message the core built in its scratch, which the caller reuses before the flush. */
static void tx_add_control(struct pipeline *p, const uint8_t *data, size_t len,
			   const struct wgc_addr *addr)
{
	uint8_t *copy;

	if (len > WGC_MAX_CONTROL_MESSAGE_LEN) {
		tx_add(p, data, len, addr, NULL);
		tx_flush(p);
		return;
	}
	if (p->control_used == CONTROL_SLOTS || udp_tx_is_full(&p->tx))
		tx_flush(p);
	copy = p->control[p->control_used++];
	memcpy(copy, data, len);
	tx_add(p, copy, len, addr, NULL);
}

static void actions_reset(struct wgc_actions *out, struct wgc_action *list, size_t cap,
			  uint8_t *scratch, size_t scratch_size)
{
	out->list = list;
	out->cap = cap;
	out->count = 0;
	out->scratch = scratch;
	out->scratch_size = scratch_size;
	out->scratch_used = 0;
}

static void batch_reset(struct batch_actions *b)
{
	actions_reset(&b->out, b->list, BATCH_ACTIONS, b->scratch, sizeof(b->scratch));
}

static void small_reset(struct small_actions *s)
{
	actions_reset(&s->out, s->list, SMALL_ACTIONS, s->scratch, sizeof(s->scratch));
}

static void run_actions(struct pipeline *p, struct wgc_actions *out);

/* ---- staging ---- */

static struct peer_state *state_of(const struct wgc_peer *peer)
{
	return peer ? wgc_peer_get_user(peer) : NULL;
}

static void drop_staged(struct pipeline *p, struct pipeline_buf *buf, enum wgc_drop_reason reason)
{
	wgc_endpoint_count_drop(p->ep, reason);
	pool_put(p, buf);
}

static void stage(struct pipeline *p, struct wgc_peer *peer, struct pipeline_buf *buf, size_t len)
{
	struct peer_state *s = state_of(peer);
	struct pipeline_buf *oldest;

	if (!s || p->free_count < POOL_RESERVE) {
		p->stats.staged_dropped++;
		drop_staged(p, buf, WGC_DROP_NO_MEMORY);
		return;
	}
	/* A full queue loses its oldest packet, as in wireguard-go. */
	if (s->staged_count == STAGED_MAX) {
		oldest = s->staged_head;
		s->staged_head = oldest->next;
		s->staged_count--;
		p->stats.staged_dropped++;
		drop_staged(p, oldest, WGC_DROP_NO_MEMORY);
	}
	buf->len = len;
	buf->next = NULL;
	if (s->staged_head)
		s->staged_tail->next = buf;
	else
		s->staged_head = buf;
	s->staged_tail = buf;
	s->staged_count++;
}

/* Runs the serial half of a send. True when the job is ready to seal; otherwise the buffer has
 * been staged or returned to the pool. */
static bool prepare_send(struct pipeline *p, struct wgc_peer *peer, struct pipeline_buf *buf,
			 size_t len, struct wgc_send_job *job, struct wgc_actions *out)
{
	switch (wgc_send_prepare(p->ep, p->now_ns, peer, buf->data, BUF_DATA_SIZE, len, job, out)) {
	case WGC_VERDICT_CRYPTO:
		return true;
	case WGC_VERDICT_STAGE:
		stage(p, job->peer, buf, len);
		return false;
	default:
		pool_put(p, buf);
		return false;
	}
}

/* FLUSH: the peer has a session; send what waited for it, in order. */
static void flush_staged(struct pipeline *p, struct wgc_peer *peer)
{
	struct peer_state *s = state_of(peer);
	struct pipeline_buf *list;
	struct pipeline_buf *buf;
	struct small_actions actions;
	struct wgc_send_job job;

	if (!s)
		return;
	list = s->staged_head;
	s->staged_head = NULL;
	s->staged_tail = NULL;
	s->staged_count = 0;
	while ((buf = list)) {
		list = buf->next;
		small_reset(&actions);
		if (prepare_send(p, peer, buf, buf->len, &job, &actions.out)) {
			wgc_send_seal(&job);
			tx_add(p, buf->data, job.message_len, &job.addr, buf);
		}
		run_actions(p, &actions.out);
	}
}

/* PURGE (the handshake gave up) or peer removal: drop and count what waited. */
static void purge_staged(struct pipeline *p, struct wgc_peer *peer)
{
	struct peer_state *s = state_of(peer);
	struct pipeline_buf *buf;

	if (!s)
		return;
	while ((buf = s->staged_head)) {
		s->staged_head = buf->next;
		drop_staged(p, buf, WGC_DROP_PEER_GONE);
	}
	s->staged_tail = NULL;
	s->staged_count = 0;
}

/* ---- verbose logging of control messages (wireguard-go's wording) ---- */

/* "abcd…wxyz" from the public key's base64, as wireguard-go names peers; never more of it. */
static void peer_name(const struct wgc_peer *peer, char *out, size_t out_size)
{
	uint8_t key[WGC_KEY_LEN];
	char b64[sodium_base64_ENCODED_LEN(WGC_KEY_LEN, sodium_base64_VARIANT_ORIGINAL)];

	if (!peer) {
		snprintf(out, out_size, "?");
		return;
	}
	wgc_peer_get_public_key(peer, key);
	sodium_bin2base64(b64, sizeof(b64), key, WGC_KEY_LEN, sodium_base64_VARIANT_ORIGINAL);
	snprintf(out, out_size, "%.4s…%.4s", b64, b64 + 39);
}

static const char *message_name(const uint8_t *data, size_t len)
{
	static const char *const names[] = { NULL, "handshake initiation", "handshake response",
					     "cookie reply", "keepalive packet" };

	if (len < 4 || data[0] == 0 || data[0] > 4 || (data[0] == 4 && len != 32))
		return NULL;
	return names[data[0]];
}

static void log_sent(const struct wgc_action *a)
{
	const char *name = message_name(a->data, a->len);
	char peer[24];

	if (name) {
		peer_name(a->peer, peer, sizeof(peer));
		log_verbose("peer(%s) - Sending %s", peer, name);
	}
}

static void log_received(uint8_t type, size_t len, const struct wgc_addr *src,
			 const struct wgc_receive_job *job)
{
	const char *name = message_name((const uint8_t[4]){ type }, len);
	char ip[INET6_ADDRSTRLEN] = "?";

	if (!name || type == 4)
		return;
	inet_ntop(src->family == WGC_AF_INET ? AF_INET : AF_INET6, src->ip, ip, sizeof(ip));
	if (job->drop == WGC_DROP_NONE)
		log_verbose("Received %s from %s:%u", name, ip, src->port);
	else
		log_verbose("Dropped %s from %s:%u: %s", name, ip, src->port,
			    wgc_drop_reason_str(job->drop));
}

/* Writes the deliveries gathered in p->gro, coalesced where they continue a TCP flow. */
static void gro_flush(struct pipeline *p)
{
	struct virtio_net_hdr hdr;
	struct iovec iov[OFFLOAD_GRO_SEGMENTS_MAX];
	unsigned k;
	unsigned n;

	for (k = 0; k < p->gro.groups; k++) {
		n = offload_gro_finish(&p->gro, k, &hdr, iov);
		if (tun_writev(&p->tun, &hdr, iov, n) < 0)
			p->stats.tun_write_errors++;
	}
	offload_gro_reset(&p->gro);
}

/* A decrypted packet for the TUN device; with GSO writes it waits for gro_flush at the end of the
 * action list, in the buffer it was received in (which lives until then). */
static void deliver(struct pipeline *p, uint8_t *data, size_t len)
{
	if (!p->tun.has_tso) {
		if (tun_write(&p->tun, data, len) < 0)
			p->stats.tun_write_errors++;
		return;
	}
	if (!offload_gro_add(&p->gro, data, len)) {
		gro_flush(p);
		(void)offload_gro_add(&p->gro, data, len); /* cannot fail on an empty table */
	}
}

static void run_actions(struct pipeline *p, struct wgc_actions *out)
{
	size_t i;

	for (i = 0; i < out->count; i++) {
		struct wgc_action *a = &out->list[i];

		switch (a->kind) {
		case WGC_ACTION_SEND:
			if (log_is_verbose())
				log_sent(a);
			tx_add_control(p, a->data, a->len, &a->addr);
			break;
		case WGC_ACTION_DELIVER:
			deliver(p, a->data, a->len);
			break;
		case WGC_ACTION_FLUSH:
			flush_staged(p, a->peer);
			break;
		case WGC_ACTION_PURGE:
			if (log_is_verbose()) {
				char peer[24];

				peer_name(a->peer, peer, sizeof(peer));
				log_verbose("peer(%s) - Handshake gave up; dropping staged packets",
					    peer);
			}
			purge_staged(p, a->peer);
			break;
		}
	}
	if (p->gro.count > 0)
		gro_flush(p);
	out->count = 0;
	out->scratch_used = 0;
}

/* ---- event handlers ---- */

static void stop(struct pipeline *p, int status)
{
	p->is_stopping = true;
	p->exit_status = status;
}

/* Seals the n prepared packets of the batch (the pure half) and queues them for sending. */
static void send_prepared(struct pipeline *p, unsigned n)
{
	unsigned i;

	workers_seal(p->workers, p->send_jobs, n);
	for (i = 0; i < n; i++)
		tx_add(p, p->bufs[i]->data, p->send_jobs[i].message_len, &p->send_jobs[i].addr,
		       p->bufs[i]);
}

/* One packet read from the TUN device (n packets already prepared): prepared as it is, or split
 * into segments, each copied into a pool buffer of its own so it can be sealed in place; a full
 * batch is sent on the way. Returns the batch's new size. */
static unsigned take_tun_packet(struct pipeline *p, const struct virtio_net_hdr *hdr,
				struct pipeline_buf *buf, size_t len, unsigned n)
{
	struct offload_split split;
	struct pipeline_buf *seg;
	unsigned i;

	switch (offload_split_init(&split, hdr, buf->data + WGC_DATA_HEADROOM, &len)) {
	case OFFLOAD_SINGLE:
		if (prepare_send(p, NULL, buf, len, &p->send_jobs[n], &p->batch.out))
			p->bufs[n++] = buf;
		return n;
	case OFFLOAD_DROP:
		p->stats.tun_bad_packets++;
		pool_put(p, buf);
		return n;
	case OFFLOAD_SEGMENTS:
		break;
	}
	for (i = 0; i < split.count; i++) {
		if (n == UDP_BATCH_MAX) {
			send_prepared(p, n);
			n = 0;
		}
		seg = pool_get(p);
		if (!seg) {
			p->stats.tun_bad_packets += split.count - i;
			break;
		}
		len = offload_split_segment(&split, i, seg->data + WGC_DATA_HEADROOM);
		if (prepare_send(p, NULL, seg, len, &p->send_jobs[n], &p->batch.out))
			p->bufs[n++] = seg;
	}
	pool_put(p, buf);
	return n;
}

static void on_tun(struct pipeline *p)
{
	struct pipeline_buf *buf;
	struct virtio_net_hdr hdr;
	unsigned n = 0;
	unsigned reads;
	ssize_t len;

	batch_reset(&p->batch);
	for (reads = 0; reads < UDP_BATCH_MAX && n < UDP_BATCH_MAX && (buf = pool_get(p)); reads++) {
		len = tun_read(&p->tun, &hdr, buf->data + WGC_DATA_HEADROOM, TUN_READ_MAX);
		if (len <= 0) {
			pool_put(p, buf);
			if (len == -EBADFD) {
				log_verbose("interface %s is gone", p->tun.name);
				stop(p, 0);
			} else if (len < 0) {
				log_error("reading from %s: %s", p->tun.name, strerror((int)-len));
				stop(p, (int)len);
			}
			break;
		}
		n = take_tun_packet(p, &hdr, buf, (size_t)len, n);
	}
	send_prepared(p, n);
	run_actions(p, &p->batch.out);
}

/* Runs n (<= UDP_BATCH_MAX) received datagrams through the receive path: prepare (serial), open
 * (pure), commit (serial, in arrival order), then the actions. */
static void receive_batch(struct pipeline *p, uint8_t *const data[], const size_t lens[],
			  const struct wgc_addr srcs[], unsigned n)
{
	unsigned i;

	batch_reset(&p->batch);
	for (i = 0; i < n; i++) {
		uint8_t type = lens[i] ? data[i][0] : 0;

		p->is_crypto[i] = wgc_receive_prepare(p->ep, p->now_ns, data[i], lens[i], &srcs[i],
						      &p->recv_jobs[i], &p->batch.out) ==
				  WGC_VERDICT_CRYPTO;
		if (log_is_verbose() && !p->is_crypto[i])
			log_received(type, lens[i], &srcs[i], &p->recv_jobs[i]);
	}
	workers_open(p->workers, p->recv_jobs, p->is_crypto, n);
	for (i = 0; i < n; i++)
		if (p->is_crypto[i])
			(void)wgc_receive_commit(p->ep, p->now_ns, &p->recv_jobs[i],
						 &p->batch.out); /* drops are counted by the core */
	run_actions(p, &p->batch.out);
}

static void on_udp(struct pipeline *p, int fd)
{
	uint8_t *data[UDP_BATCH_MAX];
	size_t lens[UDP_BATCH_MAX];
	uint16_t segs[UDP_BATCH_MAX];
	struct wgc_addr srcs[UDP_BATCH_MAX];
	/* Datagrams: a UDP GRO message holds several, back to back, each opened in place. */
	uint8_t *dgram[UDP_BATCH_MAX];
	size_t dgram_lens[UDP_BATCH_MAX];
	struct wgc_addr dgram_srcs[UDP_BATCH_MAX];
	unsigned count = 0;
	unsigned v = 0;
	unsigned i;
	size_t off;
	size_t len;
	int n;

	if (fd < 0)
		return;
	for (; count < UDP_BATCH_MAX; count++) {
		p->bufs[count] = pool_get(p);
		if (!p->bufs[count])
			break;
		data[count] = p->bufs[count]->data;
	}
	n = udp_recv(fd, &p->rx, data, BUF_DATA_SIZE, count, lens, segs, srcs);
	if (n < 0)
		log_error("receiving UDP: %s", strerror(-n));
	for (i = 0; i < (unsigned)(n > 0 ? n : 0); i++) {
		off = 0;
		do {
			len = segs[i] && lens[i] - off > segs[i] ? segs[i] : lens[i] - off;
			dgram[v] = data[i] + off;
			dgram_lens[v] = len;
			dgram_srcs[v] = srcs[i];
			off += len;
			if (++v == UDP_BATCH_MAX) {
				receive_batch(p, dgram, dgram_lens, dgram_srcs, v);
				v = 0;
			}
		} while (off < lens[i]);
	}
	if (v > 0)
		receive_batch(p, dgram, dgram_lens, dgram_srcs, v);
	for (i = 0; i < count; i++)
		pool_put(p, p->bufs[i]);
}

static void arm_timer(struct pipeline *p)
{
	uint64_t deadline = wgc_endpoint_next_deadline(p->ep);
	struct itimerspec its;

	/* Only ever pull the timer earlier; a deadline that moved later costs one idle tick. */
	if (deadline >= p->armed_ns)
		return;
	memset(&its, 0, sizeof(its));
	if (deadline == 0)
		deadline = 1; /* an all-zero it_value would disarm */
	its.it_value.tv_sec = (time_t)(deadline / 1000000000u);
	its.it_value.tv_nsec = (long)(deadline % 1000000000u);
	if (timerfd_settime(p->timer_fd, TFD_TIMER_ABSTIME, &its, NULL) < 0) {
		log_error("arming the timer: %s", strerror(errno));
		return;
	}
	p->armed_ns = deadline;
}

static void on_timer(struct pipeline *p)
{
	uint64_t expirations;
	uint64_t next;
	int round;

	if (read(p->timer_fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		log_error("reading the timer: %s", strerror(errno));
	p->armed_ns = UINT64_MAX;
	/* The tick stops early when the action list is full; run what it made and go on. */
	for (round = 0; round < TICK_ROUNDS_MAX; round++) {
		batch_reset(&p->batch);
		next = wgc_endpoint_tick(p->ep, p->now_ns, &p->batch.out);
		run_actions(p, &p->batch.out);
		if (next > p->now_ns)
			break;
	}
}

static void on_signal(struct pipeline *p)
{
	struct signalfd_siginfo info;

	while (read(p->signal_fd, &info, sizeof(info)) == (ssize_t)sizeof(info)) {
		if (info.ssi_signo == SIGINT || info.ssi_signo == SIGTERM) {
			log_verbose("shutting down on signal %u", info.ssi_signo);
			stop(p, 0);
		}
	}
}

static void on_monitor(struct pipeline *p)
{
	struct tun_events events;

	if (tun_monitor_read(&p->tun, &events) < 0)
		return;
	if (events.deleted) {
		log_verbose("interface %s was deleted", p->tun.name);
		stop(p, 0);
	}
	if (events.mtu_changed && events.mtu > 0) {
		log_verbose("MTU of %s is now %u", p->tun.name, events.mtu);
		wgc_endpoint_set_mtu(p->ep, events.mtu);
	}
}

static void dispatch(struct pipeline *p, struct uapi_server *uapi, uint32_t source,
		     uint32_t events)
{
	switch (source) {
	case SOURCE_TUN:
		if (events & (EPOLLERR | EPOLLHUP)) {
			log_verbose("interface %s was closed", p->tun.name);
			stop(p, 0);
			return;
		}
		on_tun(p);
		break;
	case SOURCE_UDP4:
		on_udp(p, p->udp.fd4);
		break;
	case SOURCE_UDP6:
		on_udp(p, p->udp.fd6);
		break;
	case SOURCE_TIMER:
		on_timer(p);
		break;
	case SOURCE_SIGNAL:
		on_signal(p);
		break;
	case SOURCE_MONITOR:
		on_monitor(p);
		break;
	case SOURCE_UAPI:
		uapi_server_dispatch(uapi, p);
		if (uapi_server_is_gone(uapi))
			stop(p, 0);
		break;
	}
}

static int watch(struct pipeline *p, int fd, enum source source)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = source };

	if (fd < 0)
		return 0;
	if (epoll_ctl(p->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		log_error("watching fd %d: %s", fd, strerror(errno));
		return -errno;
	}
	return 0;
}

static void unwatch(struct pipeline *p, int fd)
{
	if (fd >= 0)
		(void)epoll_ctl(p->epoll_fd, EPOLL_CTL_DEL, fd, NULL);
}

int pipeline_run(struct pipeline *p, struct uapi_server *uapi)
{
	struct epoll_event events[EPOLL_EVENTS];
	int ret = watch(p, uapi_server_fd(uapi), SOURCE_UAPI);
	int n;
	int i;

	if (ret < 0)
		return ret;
	p->now_ns = clock_ns(CLOCK_BOOTTIME);
	arm_timer(p);
	while (!p->is_stopping) {
		n = epoll_wait(p->epoll_fd, events, EPOLL_EVENTS, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			log_error("waiting for events: %s", strerror(errno));
			stop(p, ret);
			break;
		}
		p->now_ns = clock_ns(CLOCK_BOOTTIME);
		for (i = 0; i < n && !p->is_stopping; i++)
			dispatch(p, uapi, events[i].data.u32, events[i].events);
		tx_flush(p);
		arm_timer(p);
	}
	unwatch(p, uapi_server_fd(uapi));
	return p->exit_status;
}

/* ---- setup ---- */

static int open_event_fds(struct pipeline *p)
{
	sigset_t mask;

	p->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (p->epoll_fd < 0)
		goto fail;
	p->timer_fd = timerfd_create(CLOCK_BOOTTIME, TFD_NONBLOCK | TFD_CLOEXEC);
	if (p->timer_fd < 0)
		goto fail;
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		goto fail;
	p->signal_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (p->signal_fd < 0)
		goto fail;
	return 0;
fail:
	log_error("creating the event loop's descriptors: %s", strerror(errno));
	return -errno;
}

static int init_endpoint(struct pipeline *p)
{
	struct wgc_config cfg = {
		.limits = { .max_peers = p->limits.max_peers,
			    .max_allowed_ips = p->limits.max_allowed_ips },
		.random = random_cb,
		.wall_clock = wall_clock_cb,
	};
	uint32_t mtu = TUN_DEFAULT_MTU;
	enum wgc_status status;

	p->ep_mem_size = wgc_endpoint_size(&cfg.limits);
	if (p->ep_mem_size == 0) {
		log_error("endpoint limits out of range (%u peers, %u allowed IPs)",
			  p->limits.max_peers, p->limits.max_allowed_ips);
		return -EINVAL;
	}
	/* Zero pages cost nothing until touched, so generous limits keep an idle daemon small. */
	p->ep_mem = map_zeroed(p->ep_mem_size);
	if (!p->ep_mem) {
		log_error("mapping %zu bytes for the endpoint: %s", p->ep_mem_size, strerror(errno));
		return -ENOMEM;
	}
	status = wgc_endpoint_init(p->ep_mem, p->ep_mem_size, &cfg, clock_ns(CLOCK_BOOTTIME),
				   &p->ep);
	if (status != WGC_OK) {
		log_error("initialising the endpoint: %s", wgc_status_str(status));
		return status == WGC_ERR_RANDOM ? -EIO : -EINVAL;
	}
	if (tun_get_mtu(&p->tun, &mtu) == 0)
		wgc_endpoint_set_mtu(p->ep, mtu);
	return 0;
}

static int map_pools(struct pipeline *p)
{
	p->pool = map_zeroed(sizeof(struct pipeline_buf) * POOL_BUFFERS);
	p->free_count = POOL_BUFFERS;
	p->states = map_zeroed(sizeof(struct peer_state) * p->limits.max_peers);
	if (!p->pool || !p->states) {
		log_error("mapping the packet and peer pools: %s", strerror(errno));
		return -ENOMEM;
	}
	return 0;
}

/* Started last, so the threads inherit a fully built pipeline and SIGINT/SIGTERM blocked. */
static int start_workers(struct pipeline *p)
{
	const char *env = getenv("WGC_WORKERS");
	bool is_invalid;
	unsigned count = workers_choose_count(env, sysconf(_SC_NPROCESSORS_ONLN), &is_invalid);
	int ret;

	if (is_invalid)
		log_error("WGC_WORKERS=%s is not a number; using %u crypto workers", env, count);
	ret = workers_create(count, &p->workers);
	if (ret < 0) {
		log_error("starting %u crypto workers: %s", count, strerror(-ret));
		return ret;
	}
	log_verbose("%u crypto worker thread(s)", count);
	return 0;
}

int pipeline_create(struct tun *tun, const struct pipeline_limits *limits, struct pipeline **out)
{
	struct pipeline *p = calloc(1, sizeof(*p));
	int ret;

	if (!p) {
		log_error("allocating the pipeline: %s", strerror(errno));
		return -ENOMEM;
	}
	p->tun = *tun;
	tun->fd = -1;
	tun->monitor_fd = -1;
	p->limits = *limits;
	p->epoll_fd = p->timer_fd = p->signal_fd = -1;
	p->armed_ns = UINT64_MAX;
	udp_init(&p->udp);
	ret = open_event_fds(p);
	if (ret == 0)
		ret = map_pools(p);
	if (ret == 0)
		ret = init_endpoint(p);
	if (ret == 0)
		ret = udp_open(&p->udp, 0, 0);
	if (ret == 0)
		ret = watch(p, p->tun.fd, SOURCE_TUN);
	if (ret == 0)
		ret = watch(p, p->tun.monitor_fd, SOURCE_MONITOR);
	if (ret == 0)
		ret = watch(p, p->udp.fd4, SOURCE_UDP4);
	if (ret == 0)
		ret = watch(p, p->udp.fd6, SOURCE_UDP6);
	if (ret == 0)
		ret = watch(p, p->timer_fd, SOURCE_TIMER);
	if (ret == 0)
		ret = watch(p, p->signal_fd, SOURCE_SIGNAL);
	if (ret == 0)
		ret = start_workers(p);
	if (ret < 0) {
		pipeline_destroy(p);
		return ret;
	}
	*out = p;
	return 0;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void pipeline_destroy(struct pipeline *p)
{
	if (!p)
		return;
	/* No batch runs outside the event loop's calls, so no job is in flight: the threads can go
	 * before the keys are wiped. */
	workers_destroy(p->workers);
	if (p->ep)
		wgc_endpoint_clear(p->ep);
	if (p->ep_mem)
		munmap(p->ep_mem, p->ep_mem_size);
	if (p->pool)
		munmap(p->pool, sizeof(struct pipeline_buf) * POOL_BUFFERS);
	if (p->states)
		munmap(p->states, sizeof(struct peer_state) * p->limits.max_peers);
	udp_close(&p->udp);
	tun_close(&p->tun);
	close_fd(&p->epoll_fd);
	close_fd(&p->timer_fd);
	close_fd(&p->signal_fd);
	free(p);
}

/* ---- configuration ---- */

struct wgc_endpoint *pipeline_endpoint(struct pipeline *p)
{
	return p->ep;
}

const struct pipeline_limits *pipeline_get_limits(const struct pipeline *p)
{
	return &p->limits;
}

const struct udp *pipeline_udp(const struct pipeline *p)
{
	return &p->udp;
}

void pipeline_get_stats(const struct pipeline *p, struct pipeline_stats *out)
{
	struct workers_stats ws;

	*out = p->stats;
	workers_get_stats(p->workers, &ws);
	out->crypto_parallel_batches = ws.parallel_batches;
	out->crypto_inline_batches = ws.inline_batches;
	out->crypto_worker_joins = ws.helpers_joined;
}

void pipeline_set_private_key(struct pipeline *p, const uint8_t *key)
{
	uint8_t public_key[WGC_KEY_LEN];
	struct wgc_peer *peer;
	enum wgc_status status;

	/* A peer holding our new public key goes first, with its daemon-side state, as in
	 * wireguard-go; the core refuses the key while such a peer exists. */
	if (key && !sodium_is_zero(key, WGC_KEY_LEN)) {
		wgc_public_key(public_key, key);
		peer = wgc_peer_lookup(p->ep, public_key);
		if (peer)
			pipeline_peer_remove(p, peer);
	}
	status = wgc_endpoint_set_private_key(p->ep, key, p->now_ns);
	if (status != WGC_OK)
		log_error("setting the private key: %s", wgc_status_str(status));
}

static struct peer_state *state_alloc(struct pipeline *p)
{
	struct peer_state *s = p->free_states;

	if (s)
		p->free_states = s->next_free;
	else if (p->states_high < p->limits.max_peers)
		s = &p->states[p->states_high++];
	if (s)
		memset(s, 0, sizeof(*s));
	return s;
}

int pipeline_peer_add(struct pipeline *p, const uint8_t public_key[WGC_KEY_LEN],
		      struct wgc_peer **out, bool *created)
{
	enum wgc_status status = wgc_peer_add(p->ep, public_key, p->now_ns, out);
	struct peer_state *s;

	*created = false;
	if (status == WGC_ERR_EXISTS)
		return 0;
	if (status == WGC_ERR_NO_SPACE)
		return -ENOSPC;
	if (status != WGC_OK)
		return -EINVAL;
	/* There are as many states as peers, so this cannot fail while the core accepted. */
	s = state_alloc(p);
	if (!s) {
		wgc_peer_remove(p->ep, *out);
		return -ENOSPC;
	}
	s->peer = *out;
	wgc_peer_set_user(*out, s);
	*created = true;
	return 0;
}

void pipeline_peer_remove(struct pipeline *p, struct wgc_peer *peer)
{
	struct peer_state *s = state_of(peer);

	purge_staged(p, peer);
	if (s) {
		s->peer = NULL;
		s->next_free = p->free_states;
		p->free_states = s;
	}
	wgc_peer_remove(p->ep, peer);
}

void pipeline_peer_set_keepalive(struct pipeline *p, struct wgc_peer *peer, uint16_t interval_s)
{
	struct small_actions actions;

	small_reset(&actions);
	wgc_peer_set_persistent_keepalive(p->ep, peer, interval_s, p->now_ns, &actions.out);
	run_actions(p, &actions.out);
}

void pipeline_peer_configured(struct pipeline *p, struct wgc_peer *peer)
{
	struct peer_state *s = state_of(peer);

	if (s && s->staged_count > 0)
		flush_staged(p, peer);
}

void pipeline_replace_udp(struct pipeline *p, struct udp *fresh)
{
	tx_flush(p);
	unwatch(p, p->udp.fd4);
	unwatch(p, p->udp.fd6);
	udp_close(&p->udp);
	p->udp = *fresh;
	udp_init(fresh);
	if (watch(p, p->udp.fd4, SOURCE_UDP4) < 0 || watch(p, p->udp.fd6, SOURCE_UDP6) < 0)
		log_error("the new UDP sockets on port %u receive nothing", p->udp.port);
}

int pipeline_set_fwmark(struct pipeline *p, uint32_t fwmark)
{
	tx_flush(p);
	return udp_set_fwmark(&p->udp, fwmark);
}
