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

enum {
	/* A TUN read may use the tailroom too: only packets of at most the MTU are sealed in place,
	 * and a GSO super-packet's segments are sealed from it into buffers of their own. */
	TUN_READ_MAX = POOL_BUF_DATA - WGC_DATA_HEADROOM,
	/* Buffers staging may never take, so the I/O batches always find some. */
	POOL_RESERVE = 3 * UDP_BATCH_MAX,
	/* A received datagram yields at most DELIVER, FLUSH and one message of the core's own. */
	BATCH_ACTIONS = 4 * UDP_BATCH_MAX,
	BATCH_SCRATCH = WGC_ACTION_SCRATCH_MIN * UDP_BATCH_MAX,
	SMALL_ACTIONS = 8,
	CONTROL_SLOTS = 2 * UDP_BATCH_MAX,
	TICK_ROUNDS_MAX = 4096,
	/* Handshake work per event-loop round: messages are taken from the queue until it is empty
	 * or this much time has gone (checked after each one: a message costs up to three X25519),
	 * so the data of the next round waits at most about this long for handshakes. */
	HS_ROUND_NS = 100 * 1000,
	/*
	 * Datagrams one UDP readiness event takes on. A receive of 64 UDP GRO messages can hold
	 * ~2,900 datagrams, 4-5 ms of decryption during which the TUN device (the replies of a
	 * ping, the ACKs of the other direction) waits; asking for fewer messages when they carry
	 * many datagrams bounds an event to ~200 us and lets the loop take turns. Two receive
	 * batches' worth: the syscall is still shared by ~128 datagrams.
	 */
	RX_DATAGRAMS_TARGET = 2 * UDP_BATCH_MAX,
	/* Handed-over packets one round takes from the inbox (then fresh events get a turn). */
	INBOX_ROUND_MAX = 2 * UDP_BATCH_MAX,
};

/* What a lane hands another (inbox slots' kind), and the slot's meta for it. */
enum handoff_kind {
	HANDOFF_TUN = 1,  /* a TUN read (maybe a super-packet) for a peer of that lane */
	HANDOFF_DATAGRAM, /* a datagram from the wire the kernel gave the wrong lane */
	HANDOFF_VETTED,   /* an initiation lane 0 admitted and identified (never from the wire) */
};

union handoff_meta {
	struct virtio_net_hdr hdr; /* HANDOFF_TUN */
	struct {
		struct wgc_addr src;
		struct udp_src local;
	} wire;
};
_Static_assert(sizeof(union handoff_meta) <= sizeof(((struct inbox_slot *)0)->meta),
	       "handoff meta fits an inbox slot");

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

struct datapath {
	struct wgc_endpoint *ep; /* borrowed from the device, like tun and udp */
	struct tun *tun;
	struct udp *udp;
	uint64_t now_ns; /* the time given to the public call in progress */
	struct pool pool;

	struct udp_tx tx;
	struct pool_buf *tx_owned; /* buffers the queued datagrams point into */
	uint8_t control[CONTROL_SLOTS][WGC_MAX_CONTROL_MESSAGE_LEN];
	unsigned control_used;

	struct udp_rx rx;
	struct batch_actions batch;
	struct wgc_send_job send_jobs[UDP_BATCH_MAX];
	struct wgc_receive_job recv_jobs[UDP_BATCH_MAX];
	bool is_crypto[UDP_BATCH_MAX];
	struct pool_buf *bufs[UDP_BATCH_MAX];
	/* TUN super-packets whose segments this batch seals straight from them: returned to the pool
	 * once the batch is sealed (send_prepared) */
	struct pool_buf *held[UDP_BATCH_MAX];
	unsigned held_count;
	/* messages the next UDP receive asks for: sized from the last one's datagrams per message
	 * so that one receive event works about RX_DATAGRAMS_TARGET datagrams (datapath_on_udp) */
	unsigned rx_want;
	struct offload_gro gro; /* this batch's deliveries, when the TUN device takes GSO writes */
	struct aqm aqm;         /* CoDel on the received datagrams' socket delay (WGC_AQM=0: off) */
	bool has_aqm;
	uint64_t rx_clock_ns;                  /* CLOCK_REALTIME when this receive returned */
	uint64_t rx_sojourn_ns[UDP_BATCH_MAX]; /* how long datagram i of the batch waited */
	struct datapath_stats stats;
	struct icmp_limiter icmp_limit; /* ICMP errors written to the TUN device */
	struct hsq hsq;                 /* handshake messages waiting for datapath_handshakes */
	struct workers *workers; /* crypto threads for the batches' seal/open */
	unsigned worker_count;   /* threads datapath_start_workers starts */
	struct datapath_lanes lanes; /* count 0: the only lane */
};

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
static void learn_source(struct wgc_peer *peer, const struct udp_src *local)
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

static void run_actions(struct datapath *dp, struct wgc_actions *out);
static void run_actions_from(struct datapath *dp, struct wgc_actions *out,
			     const struct udp_src *local);

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
		run_actions(dp, &actions.out);
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
static void run_actions_from(struct datapath *dp, struct wgc_actions *out,
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

static void run_actions(struct datapath *dp, struct wgc_actions *out)
{
	run_actions_from(dp, out, NULL);
}

struct wgc_actions *datapath_actions(struct datapath *dp)
{
	batch_reset(&dp->batch);
	return &dp->batch.out;
}

void datapath_run_actions(struct datapath *dp, uint64_t now, struct wgc_actions *out)
{
	dp->now_ns = now;
	run_actions(dp, out);
}

void datapath_tick(struct datapath *dp, uint64_t now)
{
	uint64_t next;
	int round;

	dp->now_ns = now;
	/* The tick stops early when the action list is full; run what it made and go on. */
	for (round = 0; round < TICK_ROUNDS_MAX; round++) {
		batch_reset(&dp->batch);
		next = wgc_endpoint_tick(dp->ep, now, &dp->batch.out);
		run_actions(dp, &dp->batch.out);
		if (next > now)
			break;
	}
}

/* ---- lanes ---- */

unsigned datapath_lane_of_key(const uint8_t key[WGC_KEY_LEN], unsigned lanes)
{
	/* Public keys are points of a random-looking curve: their first bytes spread evenly. */
	return lanes > 1 ? (unsigned)(wgc_load_le32(key) % lanes) : 0;
}

/* Copies a packet into lane's inbox (it works it at the end of its next batch); counted. */
static void hand_over(struct datapath *dp, unsigned lane, enum handoff_kind kind,
		      const union handoff_meta *meta, const uint8_t *data, size_t len)
{
	struct inbox *ib = dp->lanes.inboxes[lane];
	struct inbox_slot *slot = len <= inbox_slot_bytes(ib) ? inbox_claim(ib) : NULL;

	if (!slot) {
		dp->stats.lane_handoffs_dropped++;
		return;
	}
	slot->kind = (uint16_t)kind;
	slot->len = (uint32_t)len;
	memcpy(slot->meta, meta, sizeof(*meta));
	memcpy(slot->data, data, len);
	inbox_publish(ib, slot);
	dp->stats.lane_handoffs++;
}

/* The lane of the peer a packet from the TUN device goes to (by the routing endpoint's
 * longest-prefix match), or ours when no peer takes it: the core answers it here. */
static unsigned lane_of_packet(const struct datapath *dp, const uint8_t *pkt, size_t len)
{
	const struct wgc_peer *routed = NULL;
	const struct peer_state *s;

	if (len >= WGC_IPV4_HEADER_MIN_LEN && wgc_ip_version(pkt) == WGC_IP_VERSION_4)
		routed = wgc_allowedips_lookup(dp->lanes.router, WGC_AF_INET,
					       pkt + WGC_IPV4_OFF_DST);
	else if (len >= WGC_IPV6_HEADER_LEN && wgc_ip_version(pkt) == WGC_IP_VERSION_6)
		routed = wgc_allowedips_lookup(dp->lanes.router, WGC_AF_INET6,
					       pkt + WGC_IPV6_OFF_DST);
	s = routed ? peer_state_of(wgc_peer_get_user(routed)) : NULL;
	return s ? s->lane : dp->lanes.self;
}

void datapath_set_lanes(struct datapath *dp, const struct datapath_lanes *lanes)
{
	const char *env = getenv("WGC_WORKERS");
	long cpus = sysconf(_SC_NPROCESSORS_ONLN) / (long)lanes->count;
	bool is_invalid;

	dp->lanes = *lanes;
	dp->worker_count = workers_choose_count(env, cpus > 0 ? cpus : 1, &is_invalid);
}

/* ---- outgoing: TUN to UDP ---- */

/* Seals the n prepared packets of the batch (the pure half) and queues them for sending. */
static void send_prepared(struct datapath *dp, unsigned n)
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
static unsigned take_tun_packet(struct datapath *dp, const struct virtio_net_hdr *hdr,
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
			send_prepared(dp, n);
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
	batch_reset(&dp->batch);
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
			unsigned lane = lane_of_packet(dp, buf->data + WGC_DATA_HEADROOM, (size_t)len);

			if (lane != dp->lanes.self) {
				union handoff_meta meta = { .hdr = hdr };

				hand_over(dp, lane, HANDOFF_TUN, &meta, buf->data + WGC_DATA_HEADROOM,
					  (size_t)len);
				pool_put(&dp->pool, buf);
				continue;
			}
		}
		n = take_tun_packet(dp, &hdr, buf, (size_t)len, n);
	}
	send_prepared(dp, n);
	run_actions(dp, &dp->batch.out);
	return ret;
}

/* ---- incoming: UDP to TUN ---- */

/* CoDel on the packets a commit delivered (actions from index first on): CE marks them, or takes
 * a packet that is not ECN-capable out of the list. Dropping here, before offload_gro_add, leaves
 * a sequence gap the coalescing sees (the flow's group closes there), not a broken group. */
static void judge_deliveries(struct datapath *dp, size_t first, uint64_t sojourn_ns)
{
	struct wgc_actions *out = &dp->batch.out;
	size_t k = first;

	while (k < out->count) {
		struct wgc_action *a = &out->list[k];

		if (a->kind == WGC_ACTION_DELIVER)
			switch (aqm_apply(&dp->aqm, a->data, a->len, sojourn_ns, dp->rx_clock_ns)) {
			case AQM_PASS:
				break;
			case AQM_MARKED:
				dp->stats.aqm_marked++;
				break;
			case AQM_DROP:
				dp->stats.aqm_dropped++;
				memmove(a, a + 1, (out->count - k - 1) * sizeof(*a));
				out->count--;
				continue;
			}
		k++;
	}
}

/* Runs n (<= UDP_BATCH_MAX) received datagrams through the receive path: prepare (serial), open
 * (pure), commit (serial, in arrival order), then the actions. */
static void receive_batch(struct datapath *dp, uint8_t *const data[], const size_t lens[],
			  const struct wgc_addr srcs[], const struct udp_src locals[], unsigned n)
{
	struct wgc_receive_job *job;
	size_t first;
	unsigned i;

	batch_reset(&dp->batch);
	for (i = 0; i < n; i++) {
		uint8_t type = lens[i] ? data[i][0] : 0;

		job = &dp->recv_jobs[i];
		if (hsq_wants(data[i], lens[i])) {
			/* Data first: handshakes wait for the end of the round. A bad mac1 never
			 * takes a slot (the core counts it). */
			enum wgc_drop_reason why = wgc_receive_precheck(dp->ep, data[i], lens[i]);

			dp->is_crypto[i] = false;
			if (why != WGC_DROP_NONE) {
				trace_received_reason(type, lens[i], &srcs[i], why);
				continue;
			}
			if (!hsq_push(&dp->hsq, data[i], lens[i], &srcs[i], &locals[i])) {
				dp->stats.handshakes_dropped++;
				wgc_endpoint_count_drop(dp->ep, WGC_DROP_QUEUE_FULL);
			}
			continue;
		}
		dp->is_crypto[i] = wgc_receive_prepare(dp->ep, dp->now_ns, data[i], lens[i],
						       &srcs[i], job, &dp->batch.out) ==
				   WGC_VERDICT_CRYPTO;
		if (dp->is_crypto[i])
			continue;
		trace_received(type, lens[i], &srcs[i], job);
		/* A handshake message that authenticated a peer: its answer (queued as an action,
		 * sent below) leaves from the address this one came to. */
		if (job->peer)
			learn_source(job->peer, &locals[i]);
	}
	workers_open(dp->workers, dp->recv_jobs, dp->is_crypto, n);
	for (i = 0; i < n; i++) {
		if (!dp->is_crypto[i])
			continue;
		job = &dp->recv_jobs[i];
		first = dp->batch.out.count;
		(void)wgc_receive_commit(dp->ep, dp->now_ns, job,
					 &dp->batch.out); /* drops are counted by the core */
		if (dp->has_aqm)
			judge_deliveries(dp, first, dp->rx_sojourn_ns[i]);
		if (job->peer) /* the core moved the peer's endpoint to this datagram's source */
			learn_source(job->peer, &locals[i]);
	}
	run_actions(dp, &dp->batch.out);
	if (hsq_count(&dp->hsq) >= HSQ_LOAD_FILL)
		wgc_endpoint_report_load(dp->ep, dp->now_ns);
}

/* Consumes one handshake message whole (vetted: an initiation another lane's endpoint admitted). */
static void consume_handshake(struct datapath *dp, uint8_t *msg, size_t len,
			      const struct wgc_addr *src, const struct udp_src *local, bool is_vetted)
{
	struct wgc_receive_job job;
	uint8_t type = msg[0];
	enum wgc_verdict verdict;

	batch_reset(&dp->batch);
	verdict = is_vetted ? wgc_receive_prepare_vetted(dp->ep, dp->now_ns, msg, len, src, &job,
							  &dp->batch.out) :
			      wgc_receive_prepare(dp->ep, dp->now_ns, msg, len, src, &job,
						  &dp->batch.out);
	/* Handshake messages are handled whole by prepare; CRYPTO would be a data message, which
	 * never gets here: give it up rather than leak it. */
	if (verdict == WGC_VERDICT_CRYPTO)
		wgc_receive_abandon(&job);
	trace_received(type, len, src, &job);
	if (job.peer)
		learn_source(job.peer, local);
	/* A cookie reply has no peer: it leaves from the address the message came to. */
	run_actions_from(dp, &dp->batch.out, local);
}

/* With lanes, an initiation names its peer only inside: admitted and identified here (lane 0
 * gets them all, so its cookie secret and rate limits see every one), then consumed by the
 * peer's lane. */
static void take_initiation(struct datapath *dp, struct hsq_slot *slot)
{
	uint8_t key[WGC_KEY_LEN];
	union handoff_meta meta;
	enum wgc_drop_reason why;
	unsigned lane;

	batch_reset(&dp->batch);
	why = wgc_initiation_identify(dp->ep, dp->now_ns, slot->msg, slot->len, &slot->src, key,
				      &dp->batch.out);
	if (why != WGC_DROP_NONE) {
		trace_received_reason(slot->msg[0], slot->len, &slot->src, why);
		run_actions_from(dp, &dp->batch.out, &slot->local); /* a cookie reply, maybe */
		return;
	}
	lane = datapath_lane_of_key(key, dp->lanes.count);
	if (lane == dp->lanes.self) {
		consume_handshake(dp, slot->msg, slot->len, &slot->src, &slot->local, true);
		return;
	}
	memset(&meta, 0, sizeof(meta));
	meta.wire.src = slot->src;
	meta.wire.local = slot->local;
	hand_over(dp, lane, HANDOFF_VETTED, &meta, slot->msg, slot->len);
}

bool datapath_handshakes(struct datapath *dp, uint64_t now)
{
	struct hsq_slot *slot;
	uint64_t deadline;

	if (hsq_count(&dp->hsq) == 0)
		return false;
	dp->now_ns = now;
	deadline = loop_clock_ns(CLOCK_MONOTONIC) + HS_ROUND_NS;
	do {
		slot = hsq_peek(&dp->hsq);
		if (dp->lanes.count > 1 && slot->msg[0] == HSQ_TYPE_INITIATION)
			take_initiation(dp, slot);
		else
			consume_handshake(dp, slot->msg, slot->len, &slot->src, &slot->local,
					  false);
		hsq_pop(&dp->hsq);
	} while (hsq_count(&dp->hsq) > 0 && loop_clock_ns(CLOCK_MONOTONIC) < deadline);
	return hsq_count(&dp->hsq) > 0;
}

/* A datagram whose receiver index says another lane (UDP GRO merges a flow's datagrams before the
 * steering program sees them one by one, and an initiation always goes to lane 0): handed over,
 * true. False: it is ours. */
static bool hand_over_misrouted(struct datapath *dp, const uint8_t *data, size_t len,
				const struct wgc_addr *src, const struct udp_src *local)
{
	unsigned lane = reuseport_lane_of(data, len, dp->lanes.count);
	union handoff_meta meta;

	if (lane == dp->lanes.self)
		return false;
	memset(&meta, 0, sizeof(meta));
	meta.wire.src = *src;
	meta.wire.local = *local;
	hand_over(dp, lane, HANDOFF_DATAGRAM, &meta, data, len);
	return true;
}

void datapath_on_udp(struct datapath *dp, int fd, uint64_t now)
{
	uint8_t *data[UDP_BATCH_MAX];
	size_t lens[UDP_BATCH_MAX];
	uint16_t segs[UDP_BATCH_MAX];
	uint64_t stamps[UDP_BATCH_MAX];
	struct wgc_addr srcs[UDP_BATCH_MAX];
	struct udp_src locals[UDP_BATCH_MAX];
	/* Datagrams: a UDP GRO message holds several, back to back, each opened in place. */
	uint8_t *dgram[UDP_BATCH_MAX];
	size_t dgram_lens[UDP_BATCH_MAX];
	struct wgc_addr dgram_srcs[UDP_BATCH_MAX];
	struct udp_src dgram_locals[UDP_BATCH_MAX];
	unsigned count = 0;
	unsigned v = 0;
	unsigned datagrams = 0;
	unsigned i;
	size_t off;
	size_t len;
	int n;

	if (fd < 0)
		return;
	dp->now_ns = now;
	for (; count < dp->rx_want; count++) {
		dp->bufs[count] = pool_get(&dp->pool);
		if (!dp->bufs[count])
			break;
		data[count] = dp->bufs[count]->data;
	}
	n = udp_recv(fd, &dp->rx, data, POOL_BUF_DATA, count, lens, segs, stamps, srcs, locals);
	if (n < 0)
		log_error("receiving UDP: %s", strerror(-n));
	if (n > 0 && dp->has_aqm)
		dp->rx_clock_ns = loop_clock_ns(CLOCK_REALTIME); /* the timestamps' clock */
	for (i = 0; i < (unsigned)(n > 0 ? n : 0); i++) {
		off = 0;
		do {
			len = segs[i] && lens[i] - off > segs[i] ? segs[i] : lens[i] - off;
			if (dp->lanes.count > 1 && hand_over_misrouted(dp, data[i] + off, len,
								       &srcs[i], &locals[i])) {
				off += len;
				continue;
			}
			dgram[v] = data[i] + off;
			dgram_lens[v] = len;
			dgram_srcs[v] = srcs[i];
			dgram_locals[v] = locals[i];
			/* one GRO message, one arrival time; no stamp or a clock step back: no delay */
			dp->rx_sojourn_ns[v] = stamps[i] && dp->rx_clock_ns > stamps[i] ?
						       dp->rx_clock_ns - stamps[i] :
						       0;
			datagrams++;
			off += len;
			if (++v == UDP_BATCH_MAX) {
				receive_batch(dp, dgram, dgram_lens, dgram_srcs, dgram_locals, v);
				v = 0;
			}
		} while (off < lens[i]);
	}
	if (v > 0)
		receive_batch(dp, dgram, dgram_lens, dgram_srcs, dgram_locals, v);
	for (i = 0; i < count; i++)
		pool_put(&dp->pool, dp->bufs[i]);
	if (n > 0)
		dp->rx_want = udp_rx_want_next((unsigned)n, datagrams, RX_DATAGRAMS_TARGET);
}

/* ---- what other lanes hand over ---- */

/* Handed-over datagrams gathered for one receive_batch, in pool buffers of their own. */
struct inbox_run {
	struct pool_buf *bufs[UDP_BATCH_MAX];
	uint8_t *data[UDP_BATCH_MAX];
	size_t lens[UDP_BATCH_MAX];
	struct wgc_addr srcs[UDP_BATCH_MAX];
	struct udp_src locals[UDP_BATCH_MAX];
	unsigned datagrams;
	unsigned packets; /* TUN packets prepared in dp's send batch */
	bool has_tun;     /* ... and TUN packets were taken (their actions wait in dp->batch) */
};

/* Sends or receives what the run gathered. */
static void finish_run(struct datapath *dp, struct inbox_run *run)
{
	unsigned i;

	if (run->has_tun) { /* staged packets leave actions (a handshake) without a job */
		send_prepared(dp, run->packets);
		run_actions(dp, &dp->batch.out);
		run->packets = 0;
		run->has_tun = false;
	}
	if (run->datagrams > 0) {
		/* their wait in the other lane's socket is not known here: the AQM passes them */
		memset(dp->rx_sojourn_ns, 0, run->datagrams * sizeof(dp->rx_sojourn_ns[0]));
		receive_batch(dp, run->data, run->lens, run->srcs, run->locals, run->datagrams);
		for (i = 0; i < run->datagrams; i++)
			pool_put(&dp->pool, run->bufs[i]);
		run->datagrams = 0;
	}
}

/* One handed-over slot into the run (which is finished first when it holds the other
 * direction, or is full). */
static void take_slot(struct datapath *dp, struct inbox_run *run, const struct inbox_slot *slot)
{
	const union handoff_meta *meta = (const void *)slot->meta;
	uint8_t msg[HSQ_MSG_MAX];
	struct pool_buf *buf;

	if (slot->kind == HANDOFF_VETTED) {
		if (slot->len > sizeof(msg))
			return;
		finish_run(dp, run);
		memcpy(msg, slot->data, slot->len);
		consume_handshake(dp, msg, slot->len, &meta->wire.src, &meta->wire.local, true);
		return;
	}
	if ((slot->kind == HANDOFF_TUN && run->datagrams > 0) ||
	    (slot->kind == HANDOFF_DATAGRAM && run->has_tun) ||
	    run->datagrams == UDP_BATCH_MAX || run->packets == UDP_BATCH_MAX)
		finish_run(dp, run);
	if (!run->has_tun && run->datagrams == 0)
		batch_reset(&dp->batch);
	buf = slot->len <= TUN_READ_MAX ? pool_get(&dp->pool) : NULL;
	if (!buf) {
		dp->stats.lane_handoffs_dropped++;
		return;
	}
	if (slot->kind == HANDOFF_TUN) {
		run->has_tun = true;
		memcpy(buf->data + WGC_DATA_HEADROOM, slot->data, slot->len);
		run->packets = take_tun_packet(dp, &meta->hdr, buf, slot->len, run->packets);
		return;
	}
	memcpy(buf->data, slot->data, slot->len);
	run->bufs[run->datagrams] = buf;
	run->data[run->datagrams] = buf->data;
	run->lens[run->datagrams] = slot->len;
	run->srcs[run->datagrams] = meta->wire.src;
	run->locals[run->datagrams] = meta->wire.local;
	run->datagrams++;
}

bool datapath_on_inbox(struct datapath *dp, uint64_t now)
{
	struct inbox *ib = dp->lanes.inboxes[dp->lanes.self];
	struct inbox_run run;
	struct inbox_slot *slot;
	unsigned taken;

	run.datagrams = run.packets = 0;
	run.has_tun = false;
	dp->now_ns = now;
	for (taken = 0; taken < INBOX_ROUND_MAX && (slot = inbox_peek(ib)); taken++) {
		take_slot(dp, &run, slot);
		inbox_release(ib, slot);
	}
	finish_run(dp, &run);
	return inbox_peek(ib) != NULL;
}

/* ---- setup ---- */

/* WGC_WORKERS, or the default for this machine; read at setup (the sandbox hides /sys later). */
static unsigned choose_workers(void)
{
	const char *env = getenv("WGC_WORKERS");
	bool is_invalid;
	unsigned count = workers_choose_count(env, sysconf(_SC_NPROCESSORS_ONLN), &is_invalid);

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
	dp->worker_count = choose_workers();
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
