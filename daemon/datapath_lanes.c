/* SPDX-License-Identifier: MIT */
/*
 * The data path's side of the lanes (device.h, docs/SCALING.md): which lane a packet belongs to,
 * copies into another lane's inbox, and working what other lanes handed over.
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

/* ---- lanes ---- */

unsigned datapath_lane_of_key(const uint8_t key[WGC_KEY_LEN], unsigned lanes)
{
	/* Public keys are points of a random-looking curve: their first bytes spread evenly. */
	return lanes > 1 ? (unsigned)(wgc_load_le32(key) % lanes) : 0;
}

/* Copies a packet into lane's inbox (it works it at the end of its next batch); counted. */
void dp_hand_over(struct datapath *dp, unsigned lane, enum handoff_kind kind,
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
unsigned dp_lane_of_packet(const struct datapath *dp, const uint8_t *pkt, size_t len)
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
	dp->lanes = *lanes;
	dp->worker_count = dp_choose_workers(lanes->count);
}

/* ---- what other lanes hand over ---- */

/* Handed-over datagrams gathered for one dp_receive_batch, in pool buffers of their own. */
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
		dp_send_prepared(dp, run->packets);
		dp_run_actions(dp, &dp->batch.out);
		run->packets = 0;
		run->has_tun = false;
	}
	if (run->datagrams > 0) {
		/* their wait in the other lane's socket is not known here: the AQM passes them */
		memset(dp->rx_sojourn_ns, 0, run->datagrams * sizeof(dp->rx_sojourn_ns[0]));
		dp_receive_batch(dp, run->data, run->lens, run->srcs, run->locals, run->datagrams);
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
		dp_consume_handshake(dp, msg, slot->len, &meta->wire.src, &meta->wire.local, true);
		return;
	}
	if ((slot->kind == HANDOFF_TUN && run->datagrams > 0) ||
	    (slot->kind == HANDOFF_DATAGRAM && run->has_tun) ||
	    run->datagrams == UDP_BATCH_MAX || run->packets == UDP_BATCH_MAX)
		finish_run(dp, run);
	if (!run->has_tun && run->datagrams == 0)
		dp_batch_reset(&dp->batch);
	buf = slot->len <= TUN_READ_MAX ? pool_get(&dp->pool) : NULL;
	if (!buf) {
		dp->stats.lane_handoffs_dropped++;
		return;
	}
	if (slot->kind == HANDOFF_TUN) {
		run->has_tun = true;
		memcpy(buf->data + WGC_DATA_HEADROOM, slot->data, slot->len);
		run->packets = dp_take_tun_packet(dp, &meta->hdr, buf, slot->len, run->packets);
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

