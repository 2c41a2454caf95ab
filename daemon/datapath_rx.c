/* SPDX-License-Identifier: MIT */
/*
 * The data path's incoming half (see datapath.h): received datagrams through the core's receive
 * calls in batches, the handshake queue's round, and the AQM on the datagrams' socket delay.
 */
#include "daemon/datapath.h"
#include "daemon/datapath_int.h"

#include <string.h>

#include "base/bytes.h"
#include "base/ip.h"
#include "daemon/inbox.h"
#include "daemon/log.h"
#include "daemon/loop.h"
#include "daemon/peer_state.h"
#include "daemon/reuseport.h"
#include "daemon/trace.h"

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
void dp_receive_batch(struct datapath *dp, uint8_t *const data[], const size_t lens[],
		      const struct wgc_addr srcs[], const struct udp_src locals[], unsigned n)
{
	struct wgc_receive_job *job;
	size_t first;
	unsigned i;

	dp_batch_reset(&dp->batch);
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
			dp_learn_source(job->peer, &locals[i]);
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
			dp_learn_source(job->peer, &locals[i]);
	}
	dp_run_actions(dp, &dp->batch.out);
	if (hsq_count(&dp->hsq) >= HSQ_LOAD_FILL)
		wgc_endpoint_report_load(dp->ep, dp->now_ns);
}

/* Consumes one handshake message whole (vetted: an initiation another lane's endpoint admitted). */
void dp_consume_handshake(struct datapath *dp, uint8_t *msg, size_t len,
			  const struct wgc_addr *src, const struct udp_src *local, bool is_vetted)
{
	struct wgc_receive_job job;
	uint8_t type = msg[0];
	enum wgc_verdict verdict;

	dp_batch_reset(&dp->batch);
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
		dp_learn_source(job.peer, local);
	/* A cookie reply has no peer: it leaves from the address the message came to. */
	dp_run_actions_from(dp, &dp->batch.out, local);
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

	dp_batch_reset(&dp->batch);
	why = wgc_initiation_identify(dp->ep, dp->now_ns, slot->msg, slot->len, &slot->src, key,
				      &dp->batch.out);
	if (why != WGC_DROP_NONE) {
		trace_received_reason(slot->msg[0], slot->len, &slot->src, why);
		dp_run_actions_from(dp, &dp->batch.out, &slot->local); /* a cookie reply, maybe */
		return;
	}
	lane = datapath_lane_of_key(key, dp->lanes.count);
	if (lane == dp->lanes.self) {
		dp_consume_handshake(dp, slot->msg, slot->len, &slot->src, &slot->local, true);
		return;
	}
	memset(&meta, 0, sizeof(meta));
	meta.wire.src = slot->src;
	meta.wire.local = slot->local;
	dp_hand_over(dp, lane, HANDOFF_VETTED, &meta, slot->msg, slot->len);
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
			dp_consume_handshake(dp, slot->msg, slot->len, &slot->src, &slot->local,
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
	dp_hand_over(dp, lane, HANDOFF_DATAGRAM, &meta, data, len);
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
				dp_receive_batch(dp, dgram, dgram_lens, dgram_srcs, dgram_locals, v);
				v = 0;
			}
		} while (off < lens[i]);
	}
	if (v > 0)
		dp_receive_batch(dp, dgram, dgram_lens, dgram_srcs, dgram_locals, v);
	for (i = 0; i < count; i++)
		pool_put(&dp->pool, dp->bufs[i]);
	if (n > 0)
		dp->rx_want = udp_rx_want_next((unsigned)n, datagrams, RX_DATAGRAMS_TARGET);
}

