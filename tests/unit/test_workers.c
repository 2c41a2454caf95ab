/* SPDX-License-Identifier: MIT */
/*
 * The crypto worker pool (daemon/workers.c) over a real pair of libwgc endpoints: batches of
 * packets are prepared on A, sealed by the pool, prepared on B, opened by the pool and committed in
 * batch order; every packet must arrive intact and in order, with 0, 1 and 3 worker threads, for
 * batch sizes on both sides of the inline threshold. Then one hub endpoint with 100 peers sending
 * and receiving mixed batches through the pool, in order per peer. Plus the WGC_WORKERS parsing.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/workers.h"
#include "harness.h"

enum {
	BATCH = 64,
	BUF_SIZE = 2048,
	PLAIN_MAX = 1400,
	BATCHES = 400,
};

struct fixture {
	struct h_net net;
	uint8_t bufs[BATCH][BUF_SIZE];
	struct wgc_send_job send_jobs[BATCH];
	struct wgc_receive_job recv_jobs[BATCH];
	bool is_crypto[BATCH];
	size_t plain_len[BATCH];
	uint32_t next_seq;     /* sequence number of the next packet sent */
	uint32_t expected_seq; /* sequence number the delivery being checked must carry */
	uint64_t delivered;
	uint64_t junk;         /* non-data datagrams mixed into the receive batches */
};

static struct fixture fx;

/* Byte j of packet seq's payload: depends on both, so a swapped or shifted packet is caught. */
static uint8_t pattern(uint32_t seq, size_t j)
{
	return (uint8_t)(seq * 131u + j * 7u + (j >> 8));
}

/* An IPv4 packet 10.0.0.1 -> 10.0.0.2 of len bytes carrying seq and the pattern. */
static void make_packet(uint8_t *p, size_t len, uint32_t seq)
{
	size_t j;

	memset(p, 0, 28);
	p[0] = 0x45;
	p[2] = (uint8_t)(len >> 8);
	p[3] = (uint8_t)len;
	p[8] = 64;
	p[9] = 253;
	p[12] = 10, p[15] = 1;
	p[16] = 10, p[19] = 2;
	p[20] = (uint8_t)(seq >> 24);
	p[21] = (uint8_t)(seq >> 16);
	p[22] = (uint8_t)(seq >> 8);
	p[23] = (uint8_t)seq;
	for (j = 24; j < len; j++)
		p[j] = pattern(seq, j);
}

static void check_delivery(const uint8_t *p, size_t len)
{
	uint32_t seq;
	size_t j;

	assert_true(len >= 24);
	seq = (uint32_t)p[20] << 24 | (uint32_t)p[21] << 16 | (uint32_t)p[22] << 8 | p[23];
	assert_int_equal(seq, fx.expected_seq);
	assert_int_equal(len, (size_t)(p[2] << 8 | p[3]));
	for (j = 24; j < len; j++)
		assert_int_equal(p[j], pattern(seq, j));
	fx.expected_seq++;
	fx.delivered++;
}

static int setup(void **state)
{
	(void)state;
	memset(&fx, 0, sizeof(fx));
	h_net_init(&fx.net, 4);
	(void)h_send(&fx.net, 0, 1); /* starts the handshake */
	h_run_for(&fx.net, 2 * SEC);
	assert_true(h_stats(&fx.net.node[0]).has_session);
	assert_true(h_stats(&fx.net.node[1]).has_session);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	h_net_free(&fx.net);
	return 0;
}

/* One batch of n packets A -> B through the pool; every fifth batch mixes junk into B's batch. */
static void one_batch(struct workers *pool, unsigned n, size_t len_max)
{
	struct wgc_action list[8];
	uint8_t scratch[512];
	struct wgc_actions out;
	struct h_node *a = &fx.net.node[0];
	struct h_node *b = &fx.net.node[1];
	struct wgc_addr from = a->addr;
	unsigned i;

	for (i = 0; i < n; i++) {
		fx.plain_len[i] = 24 + (size_t)(h_rng_next(&fx.net.faults) % (len_max - 23));
		make_packet(fx.bufs[i] + WGC_DATA_HEADROOM, fx.plain_len[i], fx.next_seq++);
		out = (struct wgc_actions){ list, 8, 0, scratch, sizeof(scratch), 0 };
		assert_int_equal(wgc_send_prepare(a->ep, fx.net.now, NULL, fx.bufs[i], BUF_SIZE,
						  fx.plain_len[i], &fx.send_jobs[i], &out),
				 WGC_VERDICT_CRYPTO);
		assert_int_equal(out.count, 0);
	}
	workers_seal(pool, fx.send_jobs, n);
	for (i = 0; i < n; i++) {
		uint8_t *msg = fx.bufs[i];
		size_t len = fx.send_jobs[i].message_len;

		if (n > 1 && i == n / 2 && fx.next_seq % 5 == 0) {
			/* a datagram too short to be anything: prepare drops it, open must skip it */
			msg[0] = 4;
			len = 3;
			fx.junk++;
		}
		out = (struct wgc_actions){ list, 8, 0, scratch, sizeof(scratch), 0 };
		fx.is_crypto[i] = wgc_receive_prepare(b->ep, fx.net.now, msg, len, &from,
						      &fx.recv_jobs[i], &out) == WGC_VERDICT_CRYPTO;
		assert_int_equal(fx.is_crypto[i], len != 3);
	}
	workers_open(pool, fx.recv_jobs, fx.is_crypto, n);
	/* Commit in batch order: job i must deliver exactly packet i (the junk one is skipped). */
	for (i = 0; i < n; i++) {
		if (!fx.is_crypto[i])
			continue;
		fx.expected_seq = fx.next_seq - n + i;
		out = (struct wgc_actions){ list, 8, 0, scratch, sizeof(scratch), 0 };
		assert_true(fx.recv_jobs[i].is_authentic);
		assert_int_equal(wgc_receive_commit(b->ep, fx.net.now, &fx.recv_jobs[i], &out),
				 WGC_VERDICT_DONE);
		assert_int_equal(out.count, 1);
		assert_int_equal(out.list[0].kind, WGC_ACTION_DELIVER);
		check_delivery(out.list[0].data, out.list[0].len);
	}
}

static void run_pool(unsigned threads)
{
	struct workers *pool = NULL;
	struct workers_stats stats;
	uint64_t delivered_before = fx.delivered;
	uint64_t junk_before = fx.junk;
	uint32_t sent_before = fx.next_seq;
	unsigned batch;
	unsigned n;

	assert_int_equal(workers_create(threads, &pool), 0);
	assert_int_equal(workers_count(pool), threads);
	for (batch = 0; batch < BATCHES; batch++) {
		/* Sizes from one packet to a full batch, small and large packets: both sides of the
		 * inline threshold. */
		n = 1 + (unsigned)(h_rng_next(&fx.net.faults) % BATCH);
		one_batch(pool, n, batch % 3 == 0 ? 200 : PLAIN_MAX);
	}
	/* Full batches of full-size packets: always split among the threads. */
	for (batch = 0; batch < 100; batch++)
		one_batch(pool, BATCH, PLAIN_MAX);
	workers_get_stats(pool, &stats);
	print_message("%u threads: %llu inline, %llu parallel batches, %llu wake-ups, %llu joined\n",
		      threads, (unsigned long long)stats.inline_batches,
		      (unsigned long long)stats.parallel_batches,
		      (unsigned long long)stats.helpers_woken,
		      (unsigned long long)stats.helpers_joined);
	assert_true(stats.helpers_joined <= stats.helpers_woken);
	/* Two calls (seal, open) per batch; with threads, the full batches at least go parallel. */
	assert_int_equal(stats.inline_batches + stats.parallel_batches, 2 * (BATCHES + 100));
	if (threads > 0)
		assert_true(stats.parallel_batches >= 2 * 100);
	else
		assert_int_equal(stats.parallel_batches, 0);
	workers_destroy(pool);
	assert_int_equal(fx.delivered - delivered_before,
			 (uint64_t)(fx.next_seq - sent_before) - (fx.junk - junk_before));
	assert_int_equal(h_drops(&fx.net.node[1], WGC_DROP_DECRYPT_FAILED), 0);
	assert_int_equal(h_drops(&fx.net.node[1], WGC_DROP_REPLAYED), 0);
}

static void test_inline(void **state)
{
	(void)state;
	run_pool(0);
}

static void test_one_worker(void **state)
{
	(void)state;
	run_pool(1);
}

static void test_three_workers(void **state)
{
	(void)state;
	run_pool(3);
}

/* A NULL pool runs inline; an empty batch is fine on every path. */
static void test_null_and_empty(void **state)
{
	struct workers *pool = NULL;

	(void)state;
	one_batch(NULL, 10, PLAIN_MAX);
	assert_int_equal(workers_create(2, &pool), 0);
	workers_seal(pool, fx.send_jobs, 0);
	workers_open(pool, fx.recv_jobs, NULL, 0);
	workers_destroy(pool);
	workers_destroy(NULL);
	assert_int_equal(workers_create(WORKERS_MAX + 1, &pool), -EINVAL);
}

static void test_choose_count(void **state)
{
	static const struct {
		const char *env;
		long cpus;
		unsigned want;
		bool is_invalid;
	} cases[] = {
		{ NULL, 1, 0, false },	{ NULL, 2, 0, false },	  { NULL, 3, 2, false },
		{ NULL, 8, 7, false },	{ "0", 8, 0, false },
		{ "3", 2, 3, false },	{ "1000", 2, WORKERS_MAX, false },
		{ "x", 4, 3, true },	{ "-1", 4, 3, true },	  { "2x", 4, 3, true },
		{ "", 4, 3, false },	{ "1", 2, 1, false },
	};
	unsigned i;
	bool is_invalid;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		print_message("case %u\n", i);
		assert_int_equal(workers_choose_count(cases[i].env, cases[i].cpus, &is_invalid),
				 cases[i].want);
		assert_int_equal(is_invalid, cases[i].is_invalid);
	}
}

/* ---- many peers: one hub endpoint, 100 spoke endpoints, mixed batches both ways ---- */

enum { SPOKES = 100, MANY_ROUNDS = 200, QUEUE_MAX = 512 };

struct spoke_node {
	void *mem;
	struct wgc_endpoint *ep;
	struct wgc_peer *peer; /* on the hub: this spoke; on a spoke: the hub */
	struct h_rng rng;
	struct wgc_addr addr;
	uint32_t next_seq;     /* next sequence number this side sends to the other */
	uint32_t expected_seq; /* next sequence number this side must receive from the other */
};

struct many {
	uint64_t now;
	struct spoke_node hub;
	struct spoke_node spokes[SPOKES];
	struct spoke_node hub_side[SPOKES]; /* per spoke: hub's view (peer, sequence numbers) */
	unsigned queue_count;
	struct {
		int to; /* -1: the hub; else a spoke */
		struct wgc_addr from;
		size_t len;
		uint8_t data[256];
	} queue[QUEUE_MAX];
};

static struct many *mp;

static bool many_random(void *ctx, void *buf, size_t len)
{
	struct spoke_node *n = ctx;
	uint8_t *b = buf;
	size_t i;

	for (i = 0; i < len; i++)
		b[i] = (uint8_t)h_rng_next(&n->rng);
	return true;
}

static uint64_t many_wall(void *ctx)
{
	(void)ctx;
	return UINT64_C(1700000000) * SEC + mp->now;
}

static void many_node(struct spoke_node *n, uint32_t max_peers, uint64_t seed, uint8_t ip_last)
{
	struct wgc_config cfg = {
		.limits = { .max_peers = max_peers, .max_allowed_ips = 2 * max_peers },
		.random = many_random,
		.wall_clock = many_wall,
		.ctx = n,
	};
	size_t size = wgc_endpoint_size(&cfg.limits);
	uint8_t key[WGC_KEY_LEN];

	h_rng_seed(&n->rng, seed);
	n->mem = aligned_alloc(64, (size + 63) & ~(size_t)63);
	assert_non_null(n->mem);
	memset(n->mem, 0, size);
	assert_int_equal(wgc_endpoint_init(n->mem, size, &cfg, mp->now, &n->ep), WGC_OK);
	many_random(n, key, sizeof(key));
	assert_int_equal(wgc_endpoint_set_private_key(n->ep, key, mp->now), WGC_OK);
	n->addr = (struct wgc_addr){ .family = WGC_AF_INET, .port = 51820,
				     .ip = { 198, 51, 100, ip_last } };
}

/* Queues the SEND actions of a call made on node `from_id` (-1 hub); ignores the rest. */
static void many_actions(int from_id, struct wgc_actions *out)
{
	const struct wgc_addr *from = from_id < 0 ? &mp->hub.addr : &mp->spokes[from_id].addr;
	size_t k;

	for (k = 0; k < out->count; k++) {
		const struct wgc_action *a = &out->list[k];

		if (a->kind != WGC_ACTION_SEND)
			continue;
		assert_true(mp->queue_count < QUEUE_MAX && a->len <= sizeof(mp->queue[0].data));
		mp->queue[mp->queue_count].to = from_id < 0 ? a->addr.ip[3] - 2 : -1;
		mp->queue[mp->queue_count].from = *from;
		mp->queue[mp->queue_count].len = a->len;
		memcpy(mp->queue[mp->queue_count].data, a->data, a->len);
		mp->queue_count++;
	}
}

/* Delivers queued control messages (handshakes, keepalives) until none is left. */
static void many_run_queue(void)
{
	struct wgc_action list[8];
	uint8_t scratch[512];
	struct wgc_actions out;
	unsigned i;

	for (i = 0; i < mp->queue_count; i++) {
		struct wgc_endpoint *ep = mp->queue[i].to < 0 ? mp->hub.ep
							     : mp->spokes[mp->queue[i].to].ep;

		out = (struct wgc_actions){ list, 8, 0, scratch, sizeof(scratch), 0 };
		(void)wgc_receive(ep, mp->now, mp->queue[i].data, mp->queue[i].len,
				  &mp->queue[i].from, &out);
		many_actions(mp->queue[i].to, &out);
	}
	mp->queue_count = 0;
}

static int many_setup(void **state)
{
	struct wgc_action list[8];
	uint8_t scratch[512];
	struct wgc_actions out;
	uint8_t key[WGC_KEY_LEN];
	uint8_t buf[WGC_DATA_HEADROOM + WGC_DATA_TAILROOM];
	struct wgc_prefix all = { .family = WGC_AF_INET, .cidr = 0 };
	struct wgc_prefix one = { .family = WGC_AF_INET, .cidr = 32, .ip = { 10, 9, 0, 0 } };
	unsigned i;
	int round;

	(void)state;
	memset(&fx, 0, sizeof(fx)); /* only its buffers, jobs and counters are used here */
	mp = calloc(1, sizeof(*mp));
	assert_non_null(mp);
	mp->now = H_EPOCH;
	many_node(&mp->hub, SPOKES, 7, 1);
	for (i = 0; i < SPOKES; i++) {
		struct spoke_node *sp = &mp->spokes[i];

		many_node(sp, 1, 100 + i, (uint8_t)(i + 2));
		wgc_endpoint_get_public_key(mp->hub.ep, key);
		assert_int_equal(wgc_peer_add(sp->ep, key, mp->now, &sp->peer), WGC_OK);
		assert_int_equal(wgc_peer_set_endpoint(sp->peer, &mp->hub.addr), WGC_OK);
		assert_int_equal(wgc_allowedip_insert(sp->ep, sp->peer, &all), WGC_OK);
		wgc_endpoint_get_public_key(sp->ep, key);
		assert_int_equal(wgc_peer_add(mp->hub.ep, key, mp->now, &mp->hub_side[i].peer),
				 WGC_OK);
		one.ip[3] = (uint8_t)(i + 2);
		assert_int_equal(wgc_allowedip_insert(mp->hub.ep, mp->hub_side[i].peer, &one),
				 WGC_OK);
	}
	/* Each spoke starts a handshake with a keepalive, then confirms the session with another,
	 * so that the hub may send on it too. */
	for (round = 0; round < 2; round++) {
		for (i = 0; i < SPOKES; i++) {
			out = (struct wgc_actions){ list, 8, 0, scratch, sizeof(scratch), 0 };
			(void)wgc_send(mp->spokes[i].ep, mp->now, mp->spokes[i].peer, buf,
				       sizeof(buf), 0, &out);
			many_actions((int)i, &out);
		}
		many_run_queue();
		mp->now += 100 * MSEC;
	}
	for (i = 0; i < SPOKES; i++) {
		struct wgc_peer_stats st;

		wgc_peer_get_stats(mp->hub_side[i].peer, &st);
		assert_true(st.has_session);
	}
	return 0;
}

static int many_teardown(void **state)
{
	unsigned i;

	(void)state;
	wgc_endpoint_clear(mp->hub.ep);
	free(mp->hub.mem);
	for (i = 0; i < SPOKES; i++) {
		wgc_endpoint_clear(mp->spokes[i].ep);
		free(mp->spokes[i].mem);
	}
	free(mp);
	return 0;
}

/* An IPv4 packet src -> dst (last octets of 10.9.0.x) of len bytes carrying seq and the pattern. */
static void make_packet_between(uint8_t *p, size_t len, uint32_t seq, uint8_t src, uint8_t dst)
{
	make_packet(p, len, seq);
	p[12] = 10, p[13] = 9, p[15] = src;
	p[16] = 10, p[17] = 9, p[19] = dst;
}

static uint32_t packet_seq(const uint8_t *p)
{
	return (uint32_t)p[20] << 24 | (uint32_t)p[21] << 16 | (uint32_t)p[22] << 8 | p[23];
}

/* The hub sends a full batch to random spokes: one pool seal for all, then each spoke opens
 * its packets; every spoke must see its own packets in order. */
static void hub_to_spokes(struct workers *pool)
{
	struct wgc_action list[8];
	uint8_t scratch[512];
	struct wgc_actions out;
	unsigned spoke_of[BATCH];
	unsigned i;

	for (i = 0; i < BATCH; i++) {
		unsigned s = (unsigned)(h_rng_next(&fx.net.faults) % SPOKES);

		spoke_of[i] = s;
		fx.plain_len[i] = 600 + (size_t)(h_rng_next(&fx.net.faults) % 800);
		make_packet_between(fx.bufs[i] + WGC_DATA_HEADROOM, fx.plain_len[i],
				    mp->hub_side[s].next_seq++, 1, (uint8_t)(s + 2));
		out = (struct wgc_actions){ list, 8, 0, scratch, sizeof(scratch), 0 };
		assert_int_equal(wgc_send_prepare(mp->hub.ep, mp->now, NULL, fx.bufs[i], BUF_SIZE,
						  fx.plain_len[i], &fx.send_jobs[i], &out),
				 WGC_VERDICT_CRYPTO);
		assert_int_equal(fx.send_jobs[i].addr.ip[3], s + 2);
	}
	workers_seal(pool, fx.send_jobs, BATCH);
	for (i = 0; i < BATCH; i++) {
		struct spoke_node *sp = &mp->spokes[spoke_of[i]];

		out = (struct wgc_actions){ list, 8, 0, scratch, sizeof(scratch), 0 };
		assert_int_equal(wgc_receive(sp->ep, mp->now, fx.bufs[i], fx.send_jobs[i].message_len,
					     &mp->hub.addr, &out),
				 WGC_VERDICT_DONE);
		assert_int_equal(out.count, 1);
		assert_int_equal(packet_seq(out.list[0].data), sp->expected_seq);
		fx.expected_seq = sp->expected_seq++;
		check_delivery(out.list[0].data, out.list[0].len);
	}
}

/* Random spokes send to the hub: each seals its own (as its daemon would), the hub receives them
 * as one batch, opened by the pool and committed in order; per spoke the order must hold. */
static void spokes_to_hub(struct workers *pool)
{
	struct wgc_action list[8];
	uint8_t scratch[512];
	struct wgc_actions out;
	struct wgc_addr from[BATCH];
	unsigned i;

	for (i = 0; i < BATCH; i++) {
		unsigned s = (unsigned)(h_rng_next(&fx.net.faults) % SPOKES);
		struct spoke_node *sp = &mp->spokes[s];

		fx.plain_len[i] = 600 + (size_t)(h_rng_next(&fx.net.faults) % 800);
		make_packet_between(fx.bufs[i] + WGC_DATA_HEADROOM, fx.plain_len[i],
				    sp->next_seq++, (uint8_t)(s + 2), 1);
		out = (struct wgc_actions){ list, 8, 0, scratch, sizeof(scratch), 0 };
		assert_int_equal(wgc_send_prepare(sp->ep, mp->now, NULL, fx.bufs[i], BUF_SIZE,
						  fx.plain_len[i], &fx.send_jobs[i], &out),
				 WGC_VERDICT_CRYPTO);
		from[i] = sp->addr;
	}
	/* Jobs of 64 different endpoints in one seal: the pure half knows no endpoint. */
	workers_seal(pool, fx.send_jobs, BATCH);
	for (i = 0; i < BATCH; i++) {
		out = (struct wgc_actions){ list, 8, 0, scratch, sizeof(scratch), 0 };
		fx.is_crypto[i] = wgc_receive_prepare(mp->hub.ep, mp->now, fx.bufs[i],
						      fx.send_jobs[i].message_len, &from[i],
						      &fx.recv_jobs[i], &out) == WGC_VERDICT_CRYPTO;
		assert_true(fx.is_crypto[i]);
	}
	workers_open(pool, fx.recv_jobs, fx.is_crypto, BATCH);
	for (i = 0; i < BATCH; i++) {
		struct spoke_node *side = &mp->hub_side[from[i].ip[3] - 2];

		out = (struct wgc_actions){ list, 8, 0, scratch, sizeof(scratch), 0 };
		assert_int_equal(wgc_receive_commit(mp->hub.ep, mp->now, &fx.recv_jobs[i], &out),
				 WGC_VERDICT_DONE);
		assert_int_equal(out.count, 1);
		assert_ptr_equal(out.list[0].peer, side->peer);
		fx.expected_seq = side->expected_seq++;
		check_delivery(out.list[0].data, out.list[0].len);
	}
}

static void test_many_peers(void **state)
{
	struct workers *pool = NULL;
	uint64_t drops[WGC_DROP__COUNT];
	int round;

	(void)state;
	h_rng_seed(&fx.net.faults, 99);
	assert_int_equal(workers_create(3, &pool), 0);
	for (round = 0; round < MANY_ROUNDS; round++) {
		hub_to_spokes(pool);
		spokes_to_hub(pool);
	}
	workers_destroy(pool);
	assert_int_equal(fx.delivered, 2 * MANY_ROUNDS * BATCH);
	(void)wgc_endpoint_get_drops(mp->hub.ep, drops, WGC_DROP__COUNT);
	assert_int_equal(drops[WGC_DROP_DECRYPT_FAILED] + drops[WGC_DROP_REPLAYED], 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_choose_count),
		cmocka_unit_test_setup_teardown(test_inline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_worker, setup, teardown),
		cmocka_unit_test_setup_teardown(test_three_workers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_null_and_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_peers, many_setup, many_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
