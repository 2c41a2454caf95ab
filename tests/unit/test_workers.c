/* SPDX-License-Identifier: MIT */
/*
 * The crypto worker pool (daemon/workers.c) over a real pair of libwgc endpoints: batches of
 * packets are prepared on A, sealed by the pool, prepared on B, opened by the pool and committed in
 * batch order; every packet must arrive intact and in order, with 0, 1 and 3 worker threads, for
 * batch sizes on both sides of the inline threshold. Plus the WGC_WORKERS parsing.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
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
	print_message("%u threads: %llu inline, %llu parallel batches, %llu wake-ups\n", threads,
		      (unsigned long long)stats.inline_batches,
		      (unsigned long long)stats.parallel_batches,
		      (unsigned long long)stats.helpers_woken);
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
		{ NULL, 1, 0, false },	{ NULL, 8, 7, false },	  { "0", 8, 0, false },
		{ "3", 2, 3, false },	{ "1000", 2, WORKERS_MAX, false },
		{ "x", 4, 3, true },	{ "-1", 4, 3, true },	  { "2x", 4, 3, true },
		{ "", 4, 3, false },
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_choose_count),
		cmocka_unit_test_setup_teardown(test_inline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_worker, setup, teardown),
		cmocka_unit_test_setup_teardown(test_three_workers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_null_and_empty, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
