/* SPDX-License-Identifier: MIT */
/*
 * The data path (see datapath.h for the thread model). Buffers come from one pool mapped at
 * start; a full pool drops at the edge and counts, and nothing here allocates. Packets that meet
 * no session (WGC_VERDICT_STAGE) wait in their peer's staging queue (peer_state.h) until the core
 * says FLUSH or PURGE.
 */
#include "daemon/datapath.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/bytes.h"
#include "base/ip.h"
#include "daemon/aqm.h"
#include "daemon/hsqueue.h"
#include "daemon/icmp.h"
#include "daemon/inbox.h"
#include "daemon/log.h"
#include "daemon/loop.h"
#include "daemon/offload.h"
#include "daemon/peer_state.h"
#include "daemon/pool.h"
#include "daemon/reuseport.h"
#include "daemon/trace.h"
#include "daemon/workers.h"
#include "daemon/datapath_int.h"

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

void dp_batch_reset(struct batch_actions *b)
{
	actions_reset(&b->out, b->list, BATCH_ACTIONS, b->scratch, sizeof(b->scratch));
}

static void small_reset(struct small_actions *s)
{
	actions_reset(&s->out, s->list, SMALL_ACTIONS, s->scratch, sizeof(s->scratch));
}

/* ---- the send queue ---- */

void datapath_tx_flush(struct datapath *dp)
{
	struct pool_buf *buf;

	unsigned i;

	dp->stats.udp_send_errors += udp_tx_flush(dp->udp, &dp->tx);
	while ((buf = dp->tx_owned)) {
		dp->tx_owned = buf->next;
		pool_put(&dp->pool, buf);
	}
	dp->control_used = 0;
	/* Not too sticky: a source the kernel refused is forgotten for every peer that had it. */
	for (i = 0; i < dp->tx.stale_count; i++) {
		dp->stats.sources_forgotten++;
		datapath_forget_source(dp, &dp->tx.stale[i]);
	}
	dp->tx.stale_count = 0;
}

/* The address replies to peer leave from (NULL: the kernel chooses). */
static const struct udp_src *source_of(const struct wgc_peer *peer)
{
	const struct peer_state *s = peer_state_of(peer);

	return s && s->src.family != WGC_AF_NONE ? &s->src : NULL;
}

/* Sticky source: the peer's authenticated datagram arrived at local, so replies leave from it. */
void dp_learn_source(struct wgc_peer *peer, const struct udp_src *local)
{
	struct peer_state *s = peer_state_of(peer);

	if (s)
		s->src = *local;
}

void datapath_forget_source(struct datapath *dp, const struct udp_src *src)
{
	struct wgc_peer *peer = NULL;
	struct peer_state *s;

	while ((peer = wgc_peer_next(dp->ep, peer))) {
		s = peer_state_of(peer);
		if (s && (!src || udp_src_equal(&s->src, src)))
			s->src.family = WGC_AF_NONE;
	}
}

/* Queues a datagram; owner (may be NULL) goes back to the pool once it is sent. */
static void tx_add(struct datapath *dp, const uint8_t *data, size_t len,
		   const struct wgc_addr *addr, const struct udp_src *src, struct pool_buf *owner)
{
	if (!udp_tx_add(&dp->tx, data, len, addr, src)) {
		datapath_tx_flush(dp);
		if (!udp_tx_add(&dp->tx, data, len, addr, src)) {
			dp->stats.udp_send_errors++;
			if (owner)
				pool_put(&dp->pool, owner);
			return;
		}
	}
	if (owner) {
		owner->next = dp->tx_owned;
		dp->tx_owned = owner;
	}
}

/* Queues a message the core built in its scratch, which the caller reuses before the flush. */
static void tx_add_control(struct datapath *dp, const uint8_t *data, size_t len,
			   const struct wgc_addr *addr, const struct udp_src *src)
{
	uint8_t *copy;

	if (len > WGC_MAX_CONTROL_MESSAGE_LEN) {
		tx_add(dp, data, len, addr, src, NULL);
		datapath_tx_flush(dp);
		return;
	}
	if (dp->control_used == CONTROL_SLOTS || udp_tx_is_full(&dp->tx))
		datapath_tx_flush(dp);
	copy = dp->control[dp->control_used++];
	memcpy(copy, data, len);
	tx_add(dp, copy, len, addr, src, NULL);
}

/* ---- staging ---- */

static void drop_staged(struct datapath *dp, struct pool_buf *buf, enum wgc_drop_reason reason)
{
	wgc_endpoint_count_drop(dp->ep, reason);
	pool_put(&dp->pool, buf);
}

static void stage(struct datapath *dp, struct wgc_peer *peer, struct pool_buf *buf, size_t len)
{
	struct peer_state *s = peer_state_of(peer);
	struct pool_buf *oldest;

	if (!s || dp->pool.free_count < POOL_RESERVE) {
		dp->stats.staged_dropped++;
		drop_staged(dp, buf, WGC_DROP_NO_MEMORY);
		return;
	}
	/* A full queue loses its oldest packet, as in wireguard-go. */
	oldest = peer_state_stage(s, buf, len);
	if (oldest) {
		dp->stats.staged_dropped++;
		drop_staged(dp, oldest, WGC_DROP_NO_MEMORY);
	}
}

/*
 * A packet from the TUN device that no peer may carry (no allowed-IPs route, or the peer has no
 * endpoint) is answered with ICMP host/address unreachable, as the kernel's WireGuard does, so
 * ping says so at once and connect() fails with EHOSTUNREACH instead of timing out. Never about
 * an ICMP error, a non-first fragment or a non-unicast address (icmp.c), and at most
 * ICMP_DEFAULT_PER_S a second after a burst; from the unreachable address itself (an address of
 * the interface would be dropped by the kernel as a martian source).
 */
static void answer_unreachable(struct datapath *dp, const uint8_t *pkt, size_t len)
{
	uint8_t out[ICMP_ERROR_MAX_LEN];
	size_t out_len;

	if (icmp_classify(pkt, len) != ICMP_BUILT)
		return;
	if (!icmp_limiter_allow(&dp->icmp_limit, dp->now_ns)) {
		dp->stats.icmp_rate_limited++;
		return;
	}
	if (icmp_build_unreachable(pkt, len, NULL, out, sizeof(out), &out_len) != ICMP_BUILT)
		return;
	if (tun_write(dp->tun, out, out_len) < 0)
		dp->stats.tun_write_errors++;
	else
		dp->stats.icmp_sent++;
}

/* Runs the serial half of a send. True when the job is ready to seal; otherwise the buffer has
 * been staged or returned to the pool. */
static bool prepare_send(struct datapath *dp, struct wgc_peer *peer, struct pool_buf *buf,
			 size_t len, struct wgc_send_job *job, struct wgc_actions *out)
{
	switch (wgc_send_prepare(dp->ep, dp->now_ns, peer, buf->data, POOL_BUF_DATA, len, job,
				 out)) {
	case WGC_VERDICT_CRYPTO:
		return true;
	case WGC_VERDICT_STAGE:
		stage(dp, job->peer, buf, len);
		return false;
	default:
		if (job->drop == WGC_DROP_NO_ROUTE || job->drop == WGC_DROP_NO_ENDPOINT)
			answer_unreachable(dp, buf->data + WGC_DATA_HEADROOM, len);
		pool_put(&dp->pool, buf);
		return false;
	}
}

/* prepare_send for a TSO segment: its headers (head_len bytes) in seg, its payload still in the
 * super-packet, sealed from there. A segment that is staged or answered with ICMP is made whole
 * in seg first, as it outlives the super-packet. */
static bool prepare_segment(struct datapath *dp, struct pool_buf *seg, size_t head_len,
			    const uint8_t *payload, size_t payload_len, struct wgc_send_job *job,
			    struct wgc_actions *out)
{
	uint8_t *plain = seg->data + WGC_DATA_HEADROOM;
	size_t len = head_len + payload_len;

	switch (wgc_send_prepare_gather(dp->ep, dp->now_ns, NULL, seg->data, POOL_BUF_DATA,
					head_len, payload, payload_len, job, out)) {
	case WGC_VERDICT_CRYPTO:
		return true;
	case WGC_VERDICT_STAGE:
		memcpy(plain + head_len, payload, payload_len);
		stage(dp, job->peer, seg, len);
		return false;
	default:
		if (job->drop == WGC_DROP_NO_ROUTE || job->drop == WGC_DROP_NO_ENDPOINT) {
			memcpy(plain + head_len, payload, payload_len);
			answer_unreachable(dp, plain, len);
		}
		pool_put(&dp->pool, seg);
		return false;
	}
}

static void flush_staged(struct datapath *dp, struct wgc_peer *peer)
{
	struct peer_state *s = peer_state_of(peer);
	struct pool_buf *list;
	struct pool_buf *buf;
	struct small_actions actions;
	struct wgc_send_job job;

	if (!s)
		return;
	list = peer_state_take_staged(s);
	while ((buf = list)) {
		list = buf->next;
		small_reset(&actions);
		if (prepare_send(dp, peer, buf, buf->len, &job, &actions.out)) {
			wgc_send_seal(&job);
			tx_add(dp, buf->data, job.message_len, &job.addr, source_of(peer), buf);
		}
		dp_run_actions(dp, &actions.out);
	}
}

void datapath_flush_staged(struct datapath *dp, struct wgc_peer *peer, uint64_t now)
{
	dp->now_ns = now;
	flush_staged(dp, peer);
}

void datapath_purge_staged(struct datapath *dp, struct wgc_peer *peer)
{
	struct peer_state *s = peer_state_of(peer);
	struct pool_buf *list = s ? peer_state_take_staged(s) : NULL;
	struct pool_buf *buf;

	while ((buf = list)) {
		list = buf->next;
		drop_staged(dp, buf, WGC_DROP_PEER_GONE);
	}
}

/* ---- deliveries and actions ---- */

/* Writes the deliveries gathered in dp->gro, coalesced where they continue a TCP flow. */
static void gro_flush(struct datapath *dp)
{
	struct virtio_net_hdr hdr;
	struct iovec iov[OFFLOAD_GRO_SEGMENTS_MAX];
	unsigned k;
	unsigned n;

	for (k = 0; k < dp->gro.groups; k++) {
		n = offload_gro_finish(&dp->gro, k, &hdr, iov);
		if (tun_writev(dp->tun, &hdr, iov, n) < 0)
			dp->stats.tun_write_errors++;
	}
	offload_gro_reset(&dp->gro);
}

/* A decrypted packet for the TUN device; with GSO writes it waits for gro_flush at the end of the
 * action list, in the buffer it was received in (which lives until then). */
static void deliver(struct datapath *dp, uint8_t *data, size_t len)
{
	if (!dp->tun->has_tso) {
		if (tun_write(dp->tun, data, len) < 0)
			dp->stats.tun_write_errors++;
		return;
	}
	if (!offload_gro_add(&dp->gro, data, len)) {
		gro_flush(dp);
		(void)offload_gro_add(&dp->gro, data, len); /* cannot fail on an empty table */
	}
}

/* Carries out the core's actions; a SEND without a peer (a cookie reply) leaves from local, or
 * from the kernel's choice when local is NULL. */
void dp_run_actions_from(struct datapath *dp, struct wgc_actions *out,
			 const struct udp_src *local)
{
	size_t i;

	for (i = 0; i < out->count; i++) {
		struct wgc_action *a = &out->list[i];

		switch (a->kind) {
		case WGC_ACTION_SEND:
			trace_sent(a);
			tx_add_control(dp, a->data, a->len, &a->addr,
				       a->peer ? source_of(a->peer) : local);
			break;
		case WGC_ACTION_DELIVER:
			deliver(dp, a->data, a->len);
			break;
		case WGC_ACTION_FLUSH:
			flush_staged(dp, a->peer);
			break;
		case WGC_ACTION_PURGE:
			trace_purged(a->peer);
			datapath_purge_staged(dp, a->peer);
			break;
		}
	}
	if (dp->gro.count > 0)
		gro_flush(dp);
	out->count = 0;
	out->scratch_used = 0;
}

void dp_run_actions(struct datapath *dp, struct wgc_actions *out)
{
	dp_run_actions_from(dp, out, NULL);
}

struct wgc_actions *datapath_actions(struct datapath *dp)
{
	dp_batch_reset(&dp->batch);
	return &dp->batch.out;
}

void datapath_run_actions(struct datapath *dp, uint64_t now, struct wgc_actions *out)
{
	dp->now_ns = now;
	dp_run_actions(dp, out);
}

void datapath_tick(struct datapath *dp, uint64_t now)
{
	uint64_t next;
	int round;

	dp->now_ns = now;
	/* The tick stops early when the action list is full; run what it made and go on. */
	for (round = 0; round < TICK_ROUNDS_MAX; round++) {
		dp_batch_reset(&dp->batch);
		next = wgc_endpoint_tick(dp->ep, now, &dp->batch.out);
		dp_run_actions(dp, &dp->batch.out);
		if (next > now)
			break;
	}
}

/* ---- outgoing: TUN to UDP ---- */

/* Seals the n prepared packets of the batch (the pure half) and queues them for sending. */
void dp_send_prepared(struct datapath *dp, unsigned n)
{
	unsigned i;

	workers_seal(dp->workers, dp->send_jobs, n);
	for (i = 0; i < n; i++)
		tx_add(dp, dp->bufs[i]->data, dp->send_jobs[i].message_len, &dp->send_jobs[i].addr,
		       source_of(dp->send_jobs[i].peer), dp->bufs[i]);
	for (i = 0; i < dp->held_count; i++)
		pool_put(&dp->pool, dp->held[i]);
	dp->held_count = 0;
}

/* One packet read from the TUN device (n packets already prepared): prepared as it is, or split
 * into segments, each with its headers in a pool buffer of its own and sealed from the
 * super-packet's payload into that buffer (one pass over the bytes); a full batch is sent on the
 * way. The super-packet is held until the batch is sealed. Returns the batch's new size. */
unsigned dp_take_tun_packet(struct datapath *dp, const struct virtio_net_hdr *hdr,
			    struct pool_buf *buf, size_t len, unsigned n)
{
	struct offload_split split;
	struct pool_buf *seg;
	const uint8_t *payload;
	size_t payload_len;
	unsigned i;

	switch (offload_split_init(&split, hdr, buf->data + WGC_DATA_HEADROOM, &len)) {
	case OFFLOAD_SINGLE:
		if (prepare_send(dp, NULL, buf, len, &dp->send_jobs[n], &dp->batch.out))
			dp->bufs[n++] = buf;
		return n;
	case OFFLOAD_DROP:
		dp->stats.tun_bad_packets++;
		pool_put(&dp->pool, buf);
		return n;
	case OFFLOAD_SEGMENTS:
		break;
	}
	for (i = 0; i < split.count; i++) {
		if (n == UDP_BATCH_MAX) {
			dp_send_prepared(dp, n);
			n = 0;
		}
		seg = pool_get(&dp->pool);
		if (!seg) {
			dp->stats.tun_bad_packets += split.count - i;
			break;
		}
		len = offload_split_header(&split, i, seg->data + WGC_DATA_HEADROOM, &payload,
					   &payload_len);
		if (prepare_segment(dp, seg, len, payload, payload_len, &dp->send_jobs[n],
				    &dp->batch.out))
			dp->bufs[n++] = seg;
	}
	/* Jobs of this batch (if any are left unsealed) read its payload: keep it until sealed. */
	if (n)
		dp->held[dp->held_count++] = buf;
	else
		pool_put(&dp->pool, buf);
	return n;
}

int datapath_on_tun(struct datapath *dp, uint64_t now)
{
	struct pool_buf *buf;
	struct virtio_net_hdr hdr;
	unsigned n = 0;
	unsigned reads;
	ssize_t len;
	int ret = 0;

	dp->now_ns = now;
	dp_batch_reset(&dp->batch);
	for (reads = 0; reads < UDP_BATCH_MAX && n < UDP_BATCH_MAX; reads++) {
		buf = pool_get(&dp->pool);
		if (!buf)
			break;
		len = tun_read(dp->tun, &hdr, buf->data + WGC_DATA_HEADROOM, TUN_READ_MAX);
		if (len <= 0) {
			pool_put(&dp->pool, buf);
			ret = (int)len;
			break;
		}
		if (dp->lanes.count > 1) {
			uint8_t *pkt = buf->data + WGC_DATA_HEADROOM;
			unsigned lane = dp_lane_of_packet(dp, pkt, (size_t)len);

			if (lane != dp->lanes.self) {
				union handoff_meta meta = { .hdr = hdr };

				dp_hand_over(dp, lane, HANDOFF_TUN, &meta, pkt, (size_t)len);
				pool_put(&dp->pool, buf);
				continue;
			}
		}
		n = dp_take_tun_packet(dp, &hdr, buf, (size_t)len, n);
	}
	dp_send_prepared(dp, n);
	dp_run_actions(dp, &dp->batch.out);
	return ret;
}

/* ---- setup ---- */

unsigned dp_choose_workers(unsigned lanes)
{
	const char *env = getenv("WGC_WORKERS");
	long cpus = sysconf(_SC_NPROCESSORS_ONLN) / (long)(lanes > 0 ? lanes : 1);
	bool is_invalid;
	unsigned count = workers_choose_count(env, cpus > 0 ? cpus : 1, &is_invalid);

	if (is_invalid)
		log_error("WGC_WORKERS=%s is not a number; using %u crypto workers", env, count);
	return count;
}

int datapath_start_workers(struct datapath *dp)
{
	struct workers *w;
	int ret = workers_create(dp->worker_count, &w);

	if (ret < 0) {
		log_error("starting %u crypto workers: %s", dp->worker_count, strerror(-ret));
		return ret;
	}
	workers_destroy(dp->workers);
	dp->workers = w;
	log_verbose("%u crypto worker thread(s)", dp->worker_count);
	return 0;
}

int datapath_create(struct wgc_endpoint *ep, struct tun *tun, struct udp *udp,
		    struct datapath **out)
{
	struct datapath *dp = calloc(1, sizeof(*dp));
	int ret;

	if (!dp) {
		log_error("allocating the data path: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	dp->ep = ep;
	dp->tun = tun;
	dp->udp = udp;
	dp->worker_count = dp_choose_workers(1);
	dp->rx_want = UDP_BATCH_MAX;
	dp->gro.has_uso = tun->has_uso; /* UDP deliveries are merged into USO writes too */
	dp->has_aqm = aqm_is_wanted(getenv("WGC_AQM"));
	aqm_init(&dp->aqm, AQM_TARGET_NS, AQM_INTERVAL_NS);
	icmp_limiter_init(&dp->icmp_limit, ICMP_DEFAULT_PER_S, ICMP_DEFAULT_BURST);
	ret = pool_init(&dp->pool);
	if (ret == 0)
		ret = hsq_init(&dp->hsq);
	if (ret == 0)
		ret = workers_create(0, &dp->workers); /* inline until datapath_start_workers */
	if (ret < 0) {
		datapath_destroy(dp);
		return ret;
	}
	*out = dp;
	return 0;
}

void datapath_destroy(struct datapath *dp)
{
	if (!dp)
		return;
	workers_destroy(dp->workers);
	hsq_clear(&dp->hsq);
	pool_clear(&dp->pool);
	free(dp);
}

void datapath_get_stats(const struct datapath *dp, struct datapath_stats *out)
{
	struct workers_stats ws;

	*out = dp->stats;
	workers_get_stats(dp->workers, &ws);
	out->crypto_parallel_batches = ws.parallel_batches;
	out->crypto_inline_batches = ws.inline_batches;
	out->crypto_worker_joins = ws.helpers_joined;
	out->handshakes_queued_max = dp->hsq.high;
}
