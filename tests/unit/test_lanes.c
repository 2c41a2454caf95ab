/* SPDX-License-Identifier: MIT */
/*
 * The core pieces of lanes (docs/SCALING.md): the index partition (every index an endpoint makes
 * has its top byte in the endpoint's lane, uniformly), wgc_initiation_identify (the gate and the
 * initiator's static key, nothing consumed) and wgc_receive_prepare_vetted (an admitted initiation
 * consumed by the endpoint that owns the peer, without the under-load gate).
 *
 * The cast: node 0 of the harness is the initiator C; node 1 is B, which owns C as a peer; A is an
 * endpoint of its own with B's private key and no peers, the admitting endpoint. C's initiations
 * to B are captured on the way and handed to A and B by the test, as the daemon's lane 0 would.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/cookie.h"
#include "core/endpoint.h"
#include "core/messages.h"
#include "harness.h"

enum { DRAWS = 20000 };

/* ---- an endpoint outside the harness's two nodes ---- */

struct lone {
	struct h_node *ctx; /* rng and wall clock for the callbacks (heap: the node is large) */
	void *mem;
	struct wgc_endpoint *ep;
};

static enum wgc_status lone_init(struct lone *l, struct h_net *net, uint64_t seed,
				 uint8_t index_lanes, uint8_t index_lane, uint32_t load_threshold)
{
	struct wgc_config cfg = {
		.limits = { .max_peers = 2, .max_allowed_ips = 4 },
		.random = h_rng_fill,
		.wall_clock = h_wall_clock,
		.load_threshold_per_s = load_threshold,
		.index_lanes = index_lanes,
		.index_lane = index_lane,
	};
	size_t size = wgc_endpoint_size(&cfg.limits);
	enum wgc_status status;

	memset(l, 0, sizeof(*l));
	l->ctx = calloc(1, sizeof(*l->ctx));
	assert_non_null(l->ctx);
	l->ctx->net = net;
	h_rng_seed(&l->ctx->rng, seed);
	cfg.ctx = l->ctx;
	l->mem = aligned_alloc(64, (size + 63) & ~(size_t)63);
	assert_non_null(l->mem);
	memset(l->mem, 0, size);
	status = wgc_endpoint_init(l->mem, size, &cfg, net->now, &l->ep);
	if (status != WGC_OK)
		l->ep = NULL;
	return status;
}

static void lone_free(struct lone *l)
{
	if (l->ep)
		wgc_endpoint_clear(l->ep);
	free(l->mem);
	free(l->ctx);
	memset(l, 0, sizeof(*l));
}

static uint64_t drops_of(const struct wgc_endpoint *ep, enum wgc_drop_reason reason)
{
	uint64_t counts[WGC_DROP__COUNT];

	(void)wgc_endpoint_get_drops(ep, counts, WGC_DROP__COUNT);
	return counts[reason];
}

static uint64_t all_drops(const struct wgc_endpoint *ep)
{
	uint64_t counts[WGC_DROP__COUNT];
	uint64_t sum = 0;

	(void)wgc_endpoint_get_drops(ep, counts, WGC_DROP__COUNT);
	for (int r = 1; r < WGC_DROP__COUNT; r++)
		sum += counts[r];
	return sum;
}

/* ---- the fixture: C (node 0), B (node 1, lane 1 of 2), A (lane 0 of 2) ---- */

struct fixture {
	struct h_net net;
	struct lone a;
	uint8_t init[INIT_LEN]; /* the last initiation C sent towards B, taken off the wire */
	int init_count;
	struct wgc_action list[8];
	uint8_t scratch[1024];
	struct wgc_actions out;
	struct wgc_receive_job job;
	uint8_t buf[H_BUF];
};

static struct fixture fx;

static bool capture_initiations(struct h_net *net, int from, struct h_datagram *d)
{
	(void)net;
	if (from != 0 || d->len != INIT_LEN || d->data[0] != MESSAGE_HANDSHAKE_INITIATION)
		return true;
	memcpy(fx.init, d->data, INIT_LEN);
	fx.init_count++;
	return false;
}

static int setup(void **state)
{
	(void)state;
	memset(&fx, 0, sizeof(fx));
	h_net_init(&fx.net, 11);
	fx.net.index_lanes[1] = 2;
	fx.net.index_lane[1] = 1;
	h_node_init(&fx.net, 0, NULL);
	h_node_init(&fx.net, 1, NULL);
	h_net_link(&fx.net);
	assert_int_equal(lone_init(&fx.a, &fx.net, 77, 2, 0, 0), WGC_OK);
	assert_int_equal(wgc_endpoint_set_private_key(fx.a.ep, fx.net.node[1].private_key,
						      fx.net.now),
			 WGC_OK);
	fx.net.filter = capture_initiations;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	lone_free(&fx.a);
	h_net_free(&fx.net);
	return 0;
}

static struct wgc_endpoint *ep_b(void)
{
	return fx.net.node[1].ep;
}

static const struct wgc_addr *addr_c(void)
{
	return &fx.net.node[0].addr;
}

static void reset_out(void)
{
	fx.out = (struct wgc_actions){ fx.list, 8, 0, fx.scratch, sizeof(fx.scratch), 0 };
}

/* C has a packet for B and no session: it stages it and sends an initiation, which we catch. */
static void start_handshake(void)
{
	int before = fx.init_count;

	assert_int_equal(h_send(&fx.net, 0, 1), WGC_VERDICT_STAGE);
	assert_int_equal(fx.init_count, before + 1);
}

static enum wgc_drop_reason identify(struct wgc_endpoint *ep, const uint8_t *msg, size_t len,
				     uint8_t key[WGC_KEY_LEN])
{
	reset_out();
	memset(key, 0xAA, WGC_KEY_LEN); /* must come back zeroed on any drop */
	return wgc_initiation_identify(ep, fx.net.now, msg, len, addr_c(), key, &fx.out);
}

static enum wgc_verdict vetted(struct wgc_endpoint *ep, const uint8_t *msg, size_t len,
			       const struct wgc_addr *src)
{
	reset_out();
	memcpy(fx.buf, msg, len);
	return wgc_receive_prepare_vetted(ep, fx.net.now, fx.buf, len, src, &fx.job, &fx.out);
}

static bool is_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

/* After B has answered: C completes, its staged packet reaches B, and B's reaches C. */
static void expect_data_both_ways(void)
{
	uint64_t b_before = fx.net.node[1].delivered;
	uint64_t c_before = fx.net.node[0].delivered;

	h_run_for(&fx.net, 200 * MSEC);
	assert_true(h_stats(&fx.net.node[0]).has_session);
	assert_true(fx.net.node[1].delivered > b_before); /* C's staged packet, flushed */
	assert_int_equal(h_send(&fx.net, 1, 2), WGC_VERDICT_DONE);
	assert_int_equal(h_send(&fx.net, 0, 3), WGC_VERDICT_DONE);
	h_run_for(&fx.net, 200 * MSEC);
	assert_true(fx.net.node[0].delivered > c_before);
	assert_true(fx.net.node[1].delivered > b_before + 1);
}

/* ---- index partition ---- */

/* Many draws per (lanes, lane): every top byte in the lane, every allowed top byte seen, none
 * more than twice or less than half as often as uniform; low bytes spread over all 256. */
static void test_index_lanes_residue_and_spread(void **state)
{
	static const struct {
		uint8_t lanes, lane;
	} cases[] = {
		{ 0, 0 }, { 1, 0 }, { 2, 0 }, { 2, 1 }, { 3, 2 }, { 4, 3 },
		{ 7, 5 }, { 16, 0 }, { 200, 50 }, { 255, 254 },
	};
	static struct h_net net;

	(void)state;
	memset(&net, 0, sizeof(net));
	net.now = H_EPOCH;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		unsigned lanes = cases[c].lanes >= 2 ? cases[c].lanes : 1;
		unsigned lane = cases[c].lanes >= 2 ? cases[c].lane : 0;
		unsigned top_count[256] = { 0 };
		unsigned low_count[256] = { 0 };
		unsigned allowed = 0;
		struct lone l;

		assert_int_equal(lone_init(&l, &net, 1000 + c, cases[c].lanes, cases[c].lane, 0),
				 WGC_OK);
		for (int i = 0; i < DRAWS; i++) {
			uint32_t index;

			assert_true(wgc_endpoint_new_index(l.ep, &index));
			if ((index >> 24) % lanes != lane)
				fail_msg("case %zu: index %08x outside lane %u of %u", c, index, lane,
					 lanes);
			top_count[index >> 24]++;
			low_count[index & 0xff]++;
		}
		for (unsigned b = 0; b < 256; b++)
			allowed += b % lanes == lane;
		for (unsigned b = 0; b < 256; b++) {
			unsigned expected = b % lanes == lane ? DRAWS / allowed : 0;

			if (top_count[b] < expected / 2 || top_count[b] > expected * 2)
				fail_msg("case %zu: top byte %u drawn %u times, uniform is %u", c, b,
					 top_count[b], expected);
			if (low_count[b] < DRAWS / 256 / 2)
				fail_msg("case %zu: low byte %u drawn %u times", c, b, low_count[b]);
		}
		lone_free(&l);
	}
}

static void test_init_refuses_lane_out_of_range(void **state)
{
	static const struct {
		uint8_t lanes, lane;
		enum wgc_status want;
	} cases[] = {
		{ 2, 2, WGC_ERR_INVALID },   { 3, 7, WGC_ERR_INVALID }, { 255, 255, WGC_ERR_INVALID },
		{ 2, 1, WGC_OK },	     { 255, 254, WGC_OK },	{ 0, 9, WGC_OK },
		{ 1, 200, WGC_OK }, /* 0 or 1 lanes: no partition, the lane is not looked at */
	};
	static struct h_net net;

	(void)state;
	memset(&net, 0, sizeof(net));
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct lone l;

		if (lone_init(&l, &net, 5, cases[c].lanes, cases[c].lane, 0) != cases[c].want)
			fail_msg("case %zu: lanes %u lane %u", c, cases[c].lanes, cases[c].lane);
		lone_free(&l);
	}
}

/* Where each message's steering byte must land: the lane of the endpoint whose index it is. */
static unsigned steering_checked;

static bool in_lane(const struct h_net *net, int id, uint8_t top)
{
	return net->index_lanes[id] < 2 || top % net->index_lanes[id] == net->index_lane[id];
}

static bool check_steering(struct h_net *net, int from, struct h_datagram *d)
{
	switch (d->data[0]) {
	case MESSAGE_HANDSHAKE_INITIATION: /* the sender's index, for the reply to come back */
		assert_true(in_lane(net, from, d->data[INIT_OFF_SENDER + 3]));
		break;
	case MESSAGE_HANDSHAKE_RESPONSE:
		assert_true(in_lane(net, from, d->data[RESP_OFF_SENDER + 3]));
		assert_true(in_lane(net, d->to, d->data[RESP_OFF_RECEIVER + 3]));
		break;
	case MESSAGE_HANDSHAKE_COOKIE:
		assert_true(in_lane(net, d->to, d->data[COOKIE_OFF_RECEIVER + 3]));
		break;
	case MESSAGE_DATA:
		assert_true(in_lane(net, d->to, d->data[DATA_OFF_RECEIVER + 3]));
		break;
	}
	steering_checked++;
	return true;
}

/* Two partitioned endpoints (lane 1 of 4, lane 2 of 3) handshake, rekey and move data. */
static void test_partitioned_handshake_and_data(void **state)
{
	(void)state;
	fx.net.filter = NULL;
	fx.net.index_lanes[0] = 4;
	fx.net.index_lane[0] = 1;
	fx.net.index_lanes[1] = 3;
	fx.net.index_lane[1] = 2;
	h_node_init(&fx.net, 0, NULL);
	h_node_init(&fx.net, 1, NULL);
	h_net_link(&fx.net);
	fx.net.filter = check_steering;
	steering_checked = 0;
	assert_int_equal(h_send(&fx.net, 0, 1), WGC_VERDICT_STAGE);
	h_run_for(&fx.net, SEC);
	assert_true(h_stats(&fx.net.node[0]).has_session);
	assert_int_equal(fx.net.node[1].delivered, 1);
	for (uint16_t seq = 2; seq < 20; seq++) {
		assert_int_equal(h_send(&fx.net, seq % 2, seq), WGC_VERDICT_DONE);
		h_run_for(&fx.net, 50 * MSEC);
	}
	/* Past REKEY_AFTER_TIME the next send makes a new handshake, with new indexes. */
	h_run_for(&fx.net, 125 * SEC);
	assert_int_equal(h_send(&fx.net, 0, 30), WGC_VERDICT_DONE);
	h_run_for(&fx.net, SEC);
	assert_int_equal(h_send(&fx.net, 1, 31), WGC_VERDICT_DONE);
	h_run_for(&fx.net, SEC);
	assert_int_equal(fx.net.node[0].delivered + fx.net.node[1].delivered, 21);
	assert_true(fx.net.node[0].sent_by_type[1] >= 2);
	assert_true(steering_checked > 20);
	assert_int_equal(fx.net.node[0].duplicates_delivered + fx.net.node[1].duplicates_delivered,
			 0);
}

/* ---- wgc_initiation_identify ---- */

struct peer_snapshot {
	struct wgc_peer_stats stats;
	struct wgc_addr endpoint;
	bool has_endpoint;
	uint64_t deadline;
};

static void snap_b(struct peer_snapshot *s)
{
	memset(s, 0, sizeof(*s));
	wgc_peer_get_stats(fx.net.node[1].peer, &s->stats);
	s->has_endpoint = wgc_peer_get_endpoint(fx.net.node[1].peer, &s->endpoint);
	s->deadline = wgc_endpoint_next_deadline(ep_b());
}

/* B owns C: identify names C and changes nothing of C's peer on B, so the same initiation is then
 * consumed by B as usual (its timestamp was not recorded); identify itself does no replay check. */
static void test_identify_configured_peer(void **state)
{
	struct peer_snapshot before, after;
	enum wgc_drop_reason reason;
	uint8_t key[WGC_KEY_LEN];

	(void)state;
	start_handshake();
	snap_b(&before);
	assert_int_equal(identify(ep_b(), fx.init, INIT_LEN, key), WGC_DROP_NONE);
	assert_memory_equal(key, fx.net.node[0].public_key, WGC_KEY_LEN);
	assert_int_equal(fx.out.count, 0);
	assert_int_equal(identify(ep_b(), fx.init, INIT_LEN, key), WGC_DROP_NONE);
	snap_b(&after);
	assert_memory_equal(&before, &after, sizeof(before));
	assert_int_equal(all_drops(ep_b()), 0);

	assert_int_equal(h_inject(&fx.net, 1, fx.init, INIT_LEN, addr_c(), &reason),
			 WGC_VERDICT_DONE);
	assert_int_equal(reason, WGC_DROP_NONE);
	expect_data_both_ways();

	/* Consumed now: identify still names it, consuming it again is a replay. */
	assert_int_equal(identify(ep_b(), fx.init, INIT_LEN, key), WGC_DROP_NONE);
	assert_memory_equal(key, fx.net.node[0].public_key, WGC_KEY_LEN);
	assert_int_equal(vetted(ep_b(), fx.init, INIT_LEN, addr_c()), WGC_VERDICT_DROP);
	assert_int_equal(fx.job.drop, WGC_DROP_HANDSHAKE_REPLAYED);
}

/* A has no peers at all: identify still names C, and counts nothing. */
static void test_identify_key_not_a_peer(void **state)
{
	uint8_t key[WGC_KEY_LEN];

	(void)state;
	start_handshake();
	assert_int_equal(wgc_endpoint_peer_count(fx.a.ep), 0);
	assert_int_equal(identify(fx.a.ep, fx.init, INIT_LEN, key), WGC_DROP_NONE);
	assert_memory_equal(key, fx.net.node[0].public_key, WGC_KEY_LEN);
	assert_int_equal(fx.out.count, 0);
	assert_int_equal(all_drops(fx.a.ep), 0);
	/* Consuming it needs the peer: A cannot, B (owner) can. */
	assert_int_equal(vetted(fx.a.ep, fx.init, INIT_LEN, addr_c()), WGC_VERDICT_DROP);
	assert_int_equal(fx.job.drop, WGC_DROP_UNKNOWN_PEER);
}

/* Under load, an initiation without mac2 gets a cookie reply from A and no key; C takes the
 * cookie, and its retry, sent to A again, passes A's gate and is identified. */
static void test_identify_under_load_sends_cookie_reply(void **state)
{
	enum wgc_drop_reason reason;
	uint8_t key[WGC_KEY_LEN];
	uint8_t reply[COOKIE_REPLY_LEN];

	(void)state;
	start_handshake();
	wgc_endpoint_report_load(fx.a.ep, fx.net.now);
	assert_int_equal(identify(fx.a.ep, fx.init, INIT_LEN, key), WGC_DROP_COOKIE_SENT);
	assert_true(is_zero(key, WGC_KEY_LEN));
	assert_int_equal(drops_of(fx.a.ep, WGC_DROP_COOKIE_SENT), 1);
	assert_int_equal(fx.out.count, 1);
	assert_int_equal(fx.list[0].kind, WGC_ACTION_SEND);
	assert_null(fx.list[0].peer);
	assert_int_equal(fx.list[0].len, COOKIE_REPLY_LEN);
	assert_int_equal(fx.list[0].data[0], MESSAGE_HANDSHAKE_COOKIE);
	assert_memory_equal(&fx.list[0].addr, addr_c(), sizeof(struct wgc_addr));
	/* It answers C's index, which is C's lane's business, not A's. */
	assert_memory_equal(fx.list[0].data + COOKIE_OFF_RECEIVER, fx.init + INIT_OFF_SENDER, 4);
	memcpy(reply, fx.list[0].data, sizeof(reply));

	assert_int_equal(h_inject(&fx.net, 0, reply, sizeof(reply), &fx.net.node[1].addr, &reason),
			 WGC_VERDICT_DONE);
	assert_int_equal(reason, WGC_DROP_NONE);
	h_run_for(&fx.net, REKEY_TIMEOUT + REKEY_TIMEOUT_JITTER_MAX_MS * MSEC);
	assert_int_equal(fx.init_count, 2); /* the retransmission, with mac2 */

	wgc_endpoint_report_load(fx.a.ep, fx.net.now);
	assert_int_equal(identify(fx.a.ep, fx.init, INIT_LEN, key), WGC_DROP_NONE);
	assert_memory_equal(key, fx.net.node[0].public_key, WGC_KEY_LEN);
	assert_int_equal(fx.out.count, 0);
	assert_int_equal(vetted(ep_b(), fx.init, INIT_LEN, addr_c()), WGC_VERDICT_DONE);
	h_run_actions(&fx.net, 1, &fx.out);
	expect_data_both_ways();
}

/* identify feeds the built-in load signal as prepare does: with a threshold of 2 a second, the
 * third initiation tips the endpoint into load and, lacking mac2, gets a cookie reply. */
static void test_identify_counts_load(void **state)
{
	struct lone l;
	uint8_t key[WGC_KEY_LEN];

	(void)state;
	start_handshake();
	assert_int_equal(lone_init(&l, &fx.net, 9, 2, 0, 2), WGC_OK);
	assert_int_equal(
		wgc_endpoint_set_private_key(l.ep, fx.net.node[1].private_key, fx.net.now), WGC_OK);
	assert_int_equal(identify(l.ep, fx.init, INIT_LEN, key), WGC_DROP_NONE);
	assert_int_equal(identify(l.ep, fx.init, INIT_LEN, key), WGC_DROP_NONE);
	assert_int_equal(identify(l.ep, fx.init, INIT_LEN, key), WGC_DROP_COOKIE_SENT);
	assert_int_equal(fx.out.count, 1);
	lone_free(&l);
}

/* Sets mac1 (and a zero mac2) of msg as C would for B, after the test changed other bytes. */
static void remac(uint8_t msg[INIT_LEN])
{
	struct wgc_cookie_maker maker;

	wgc_cookie_maker_init(&maker, fx.net.node[1].public_key);
	wgc_cookie_add_macs(&maker, msg, INIT_LEN, fx.net.now);
}

static void test_identify_rejects_malformed(void **state)
{
	static const struct {
		uint8_t type;
		size_t len;
		enum wgc_drop_reason want;
	} framing[] = {
		{ 1, 3, WGC_DROP_SHORT },
		{ 1, INIT_LEN - 1, WGC_DROP_BAD_LENGTH },
		{ 1, INIT_LEN + 1, WGC_DROP_BAD_LENGTH },
		{ 2, RESP_LEN, WGC_DROP_BAD_TYPE },
		{ 3, COOKIE_REPLY_LEN, WGC_DROP_BAD_TYPE },
		{ 4, WGC_KEEPALIVE_MESSAGE_LEN, WGC_DROP_BAD_TYPE },
		{ 5, INIT_LEN, WGC_DROP_BAD_TYPE },
	};
	struct wgc_addr nowhere = { .family = WGC_AF_NONE };
	uint8_t msg[H_BUF];
	uint8_t key[WGC_KEY_LEN];
	struct lone keyless;

	(void)state;
	start_handshake();
	for (size_t c = 0; c < sizeof(framing) / sizeof(framing[0]); c++) {
		uint64_t counted = drops_of(fx.a.ep, framing[c].want);

		memset(msg, 0, sizeof(msg));
		memcpy(msg, fx.init, INIT_LEN);
		msg[0] = framing[c].type;
		if (identify(fx.a.ep, msg, framing[c].len, key) != framing[c].want)
			fail_msg("case %zu", c);
		assert_true(is_zero(key, WGC_KEY_LEN));
		assert_int_equal(drops_of(fx.a.ep, framing[c].want), counted + 1);
		assert_int_equal(fx.out.count, 0);
	}
	assert_int_equal(all_drops(fx.a.ep), sizeof(framing) / sizeof(framing[0]));

	memcpy(msg, fx.init, INIT_LEN);
	msg[INIT_OFF_MAC1] ^= 1;
	assert_int_equal(identify(fx.a.ep, msg, INIT_LEN, key), WGC_DROP_BAD_MAC1);
	assert_true(is_zero(key, WGC_KEY_LEN));

	/* A well-macced initiation whose encrypted static key was tampered with. */
	memcpy(msg, fx.init, INIT_LEN);
	msg[INIT_OFF_STATIC] ^= 1;
	remac(msg);
	assert_int_equal(identify(fx.a.ep, msg, INIT_LEN, key), WGC_DROP_HANDSHAKE_INVALID);
	assert_true(is_zero(key, WGC_KEY_LEN));
	assert_int_equal(drops_of(fx.a.ep, WGC_DROP_HANDSHAKE_INVALID), 1);

	reset_out();
	assert_int_equal(wgc_initiation_identify(fx.a.ep, fx.net.now, fx.init, INIT_LEN, &nowhere,
						 key, &fx.out),
			 WGC_DROP_BAD_ADDRESS);
	assert_true(is_zero(key, WGC_KEY_LEN));

	assert_int_equal(lone_init(&keyless, &fx.net, 3, 0, 0, 0), WGC_OK);
	assert_int_equal(identify(keyless.ep, fx.init, INIT_LEN, key), WGC_DROP_NO_IDENTITY);
	assert_int_equal(drops_of(keyless.ep, WGC_DROP_NO_IDENTITY), 1);
	lone_free(&keyless);
	/* None of it touched anything a good initiation needs. */
	assert_int_equal(identify(fx.a.ep, fx.init, INIT_LEN, key), WGC_DROP_NONE);
}

/* ---- wgc_receive_prepare_vetted ---- */

/* A admits (no such peer); B, the owner, is under load itself: prepare would answer with a
 * cookie, prepare_vetted responds, and the session carries data both ways. */
static void test_vetted_completes_handshake_under_load(void **state)
{
	enum wgc_drop_reason reason;
	uint8_t key[WGC_KEY_LEN];

	(void)state;
	start_handshake();
	assert_int_equal(identify(fx.a.ep, fx.init, INIT_LEN, key), WGC_DROP_NONE);
	assert_memory_equal(key, fx.net.node[0].public_key, WGC_KEY_LEN);
	assert_non_null(wgc_peer_lookup(ep_b(), key));

	wgc_endpoint_report_load(ep_b(), fx.net.now);
	reset_out();
	assert_int_equal(h_inject(&fx.net, 1, fx.init, INIT_LEN, addr_c(), &reason),
			 WGC_VERDICT_DROP);
	assert_int_equal(reason, WGC_DROP_COOKIE_SENT); /* the gate vetted skips is really on */
	fx.net.inflight_count = 0;                      /* and C never sees that cookie */

	assert_int_equal(vetted(ep_b(), fx.init, INIT_LEN, addr_c()), WGC_VERDICT_DONE);
	assert_int_equal(fx.job.drop, WGC_DROP_NONE);
	assert_ptr_equal(fx.job.peer, fx.net.node[1].peer);
	assert_int_equal(fx.out.count, 1);
	assert_int_equal(fx.list[0].kind, WGC_ACTION_SEND);
	assert_int_equal(fx.list[0].len, RESP_LEN);
	assert_int_equal(fx.list[0].data[0], MESSAGE_HANDSHAKE_RESPONSE);
	assert_int_equal(fx.list[0].data[RESP_OFF_SENDER + 3] % 2, 1); /* B's lane */
	assert_memory_equal(fx.list[0].data + RESP_OFF_RECEIVER, fx.init + INIT_OFF_SENDER, 4);
	h_run_actions(&fx.net, 1, &fx.out);
	expect_data_both_ways();
	assert_int_equal(drops_of(ep_b(), WGC_DROP_COOKIE_SENT), 1);
	assert_int_equal(drops_of(ep_b(), WGC_DROP_RATE_LIMITED), 0);
	assert_int_equal(all_drops(fx.a.ep), 0);
}

/* Vetted still checks framing and mac1, and takes nothing but an initiation. */
static void test_vetted_rejects_bad_mac1_and_other_types(void **state)
{
	static const struct {
		uint8_t type;
		size_t len;
		size_t flip; /* byte to flip, 0 for none */
		enum wgc_drop_reason want;
	} cases[] = {
		{ 1, INIT_LEN, INIT_OFF_MAC1, WGC_DROP_BAD_MAC1 },
		{ 1, INIT_LEN, INIT_OFF_MAC1 + MAC_LEN - 1, WGC_DROP_BAD_MAC1 },
		{ 1, INIT_LEN, INIT_OFF_STATIC, WGC_DROP_BAD_MAC1 }, /* mac1 covers it */
		{ 2, RESP_LEN, 0, WGC_DROP_BAD_TYPE },
		{ 3, COOKIE_REPLY_LEN, 0, WGC_DROP_BAD_TYPE },
		{ 4, WGC_KEEPALIVE_MESSAGE_LEN, 0, WGC_DROP_BAD_TYPE },
		{ 4, 100, 0, WGC_DROP_BAD_TYPE },
		{ 9, INIT_LEN, 0, WGC_DROP_BAD_TYPE },
		{ 1, 2, 0, WGC_DROP_SHORT },
		{ 1, INIT_LEN - 1, 0, WGC_DROP_BAD_LENGTH },
	};
	struct wgc_addr nowhere = { .family = WGC_AF_NONE };
	struct peer_snapshot before, after;
	uint8_t msg[H_BUF];

	(void)state;
	start_handshake();
	snap_b(&before);
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		uint64_t counted = drops_of(ep_b(), cases[c].want);

		memset(msg, 0, sizeof(msg));
		memcpy(msg, fx.init, INIT_LEN);
		msg[0] = cases[c].type;
		if (cases[c].flip)
			msg[cases[c].flip] ^= 0x40;
		if (vetted(ep_b(), msg, cases[c].len, addr_c()) != WGC_VERDICT_DROP ||
		    fx.job.drop != cases[c].want)
			fail_msg("case %zu: drop %d", c, fx.job.drop);
		assert_int_equal(drops_of(ep_b(), cases[c].want), counted + 1);
		assert_int_equal(fx.out.count, 0);
		assert_null(fx.job.peer);
	}
	assert_int_equal(vetted(ep_b(), fx.init, INIT_LEN, &nowhere), WGC_VERDICT_DROP);
	assert_int_equal(fx.job.drop, WGC_DROP_BAD_ADDRESS);
	snap_b(&after);
	assert_memory_equal(&before, &after, sizeof(before));
	assert_int_equal(all_drops(ep_b()), sizeof(cases) / sizeof(cases[0]) + 1);

	/* The genuine message still goes through. */
	assert_int_equal(vetted(ep_b(), fx.init, INIT_LEN, addr_c()), WGC_VERDICT_DONE);
	h_run_actions(&fx.net, 1, &fx.out);
	expect_data_both_ways();
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_index_lanes_residue_and_spread),
		cmocka_unit_test(test_init_refuses_lane_out_of_range),
		T(test_partitioned_handshake_and_data),
		T(test_identify_configured_peer),
		T(test_identify_key_not_a_peer),
		T(test_identify_under_load_sends_cookie_reply),
		T(test_identify_counts_load),
		T(test_identify_rejects_malformed),
		T(test_vetted_completes_handshake_under_load),
		T(test_vetted_rejects_bad_mac1_and_other_types),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
