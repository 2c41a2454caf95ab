/* SPDX-License-Identifier: MIT */
/*
 * The daemon's AQM (daemon/aqm.h) against RFC 8289's control law, driven by a fake clock: no
 * signal while the sojourn is below target, the first one after a whole interval above it, then
 * every interval/sqrt(count), none once it is below target again; and the packet side: CE on an
 * ECN-capable IPv4/IPv6 packet (IPv4 header checksum still valid), a drop verdict otherwise.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/bytes.h"
#include "base/ip.h"
#include "daemon/aqm.h"

enum {
	TARGET = 1000 * 1000,
	INTERVAL = 10 * 1000 * 1000,
	STEP = 1000, /* the fake clock's tick, ns */
	T0 = 5 * 1000 * 1000,
	PKT_LEN = 1420,
};

/* The first time at or after *now (advanced in STEP ticks, up to limit) at which a packet with
 * this sojourn is signalled; 0 if none. */
static uint64_t next_signal(struct aqm *q, uint64_t *now, uint64_t sojourn, uint64_t limit)
{
	for (; *now <= limit; *now += STEP)
		if (aqm_should_signal(q, sojourn, *now))
			return *now;
	return 0;
}

static void test_no_signal_below_target(void **state)
{
	struct aqm q;
	uint64_t now = T0;

	(void)state;
	aqm_init(&q, TARGET, INTERVAL);
	assert_int_equal(next_signal(&q, &now, TARGET - 1, T0 + 100 * INTERVAL), 0);
	assert_false(q.is_dropping);
}

static void test_first_signal_after_an_interval_above_target(void **state)
{
	struct aqm q;
	uint64_t now = T0;

	(void)state;
	aqm_init(&q, TARGET, INTERVAL);
	/* at target counts as above (RFC 8289: "sojourn_time < TARGET" is the good state) */
	assert_int_equal(next_signal(&q, &now, TARGET, T0 + 2 * INTERVAL), T0 + INTERVAL);
	assert_true(q.is_dropping);
	assert_int_equal(q.count, 1);
}

/* A sojourn that dips below target, even once, restarts the interval. */
static void test_dip_below_target_restarts_the_interval(void **state)
{
	struct aqm q;
	uint64_t now;

	(void)state;
	aqm_init(&q, TARGET, INTERVAL);
	for (now = T0; now < T0 + INTERVAL - STEP; now += STEP)
		assert_false(aqm_should_signal(&q, 2 * TARGET, now));
	assert_false(aqm_should_signal(&q, TARGET - 1, now));
	now += STEP;
	assert_int_equal(next_signal(&q, &now, 2 * TARGET, now + 2 * INTERVAL),
			 T0 + 2 * INTERVAL);
}

/* While above target: the n-th signal of a dropping state comes interval/sqrt(n - 1) after the
 * previous one (the control law; fixed point, so within a tick). */
static void test_signal_spacing_is_interval_over_sqrt_count(void **state)
{
	static const double inv_sqrt[] = { 0, 1.0, 0.70710678, 0.57735027, 0.5, 0.44721360,
					   0.40824829, 0.37796447, 0.35355339, 0.33333333 };
	struct aqm q;
	uint64_t now = T0;
	uint64_t prev;
	uint64_t at;
	unsigned n;

	(void)state;
	aqm_init(&q, TARGET, INTERVAL);
	prev = next_signal(&q, &now, 5 * TARGET, T0 + 2 * INTERVAL);
	assert_int_equal(prev, T0 + INTERVAL);
	for (n = 1; n < sizeof(inv_sqrt) / sizeof(inv_sqrt[0]); n++) {
		uint64_t want = (uint64_t)(INTERVAL * inv_sqrt[n]);

		now += STEP;
		at = next_signal(&q, &now, 5 * TARGET, prev + 2 * INTERVAL);
		print_message("signal %u: %llu ns after the previous, want %llu\n", n + 1,
			      (unsigned long long)(at - prev), (unsigned long long)want);
		assert_true(at - prev + STEP > want && at - prev < want + STEP);
		assert_int_equal(q.count, n + 1);
		prev = at;
	}
}

/* A sojourn below target ends the dropping state at once; the next standing queue waits a
 * whole interval again. */
static void test_exit_when_below_target(void **state)
{
	struct aqm q;
	uint64_t now = T0;
	uint64_t first;

	(void)state;
	aqm_init(&q, TARGET, INTERVAL);
	first = next_signal(&q, &now, 2 * TARGET, T0 + 2 * INTERVAL);
	assert_int_not_equal(first, 0);
	now += STEP;
	assert_false(aqm_should_signal(&q, TARGET / 2, now));
	assert_false(q.is_dropping);
	now += STEP;
	assert_int_equal(next_signal(&q, &now, 2 * TARGET, now + 2 * INTERVAL),
			 first + 2 * STEP + INTERVAL);
}

/* Signals k times in one dropping state (the sojourn above target), then ends it. */
static void run_dropping_state(struct aqm *q, uint64_t *now, unsigned k)
{
	unsigned i;

	for (i = 0; i < k; i++) {
		assert_int_not_equal(next_signal(q, now, 2 * TARGET, *now + 2 * INTERVAL), 0);
		*now += STEP;
	}
	assert_false(aqm_should_signal(q, 0, *now));
	assert_false(q->is_dropping);
	*now += STEP;
}

/* Re-entering soon after a dropping state resumes near its rate: count = the signals it added
 * (count - last_count), as RFC 8289's "delta" rule; 16 intervals or more later it starts at 1. */
static void test_reentry_resumes_the_count(void **state)
{
	struct aqm q;
	uint64_t now = T0;

	(void)state;
	aqm_init(&q, TARGET, INTERVAL);
	run_dropping_state(&q, &now, 5);
	assert_int_equal(q.count, 5);
	assert_int_not_equal(next_signal(&q, &now, 2 * TARGET, now + 2 * INTERVAL), 0);
	assert_int_equal(q.count, 4); /* 5 - 1 */

	aqm_init(&q, TARGET, INTERVAL);
	now = T0;
	run_dropping_state(&q, &now, 5);
	now += 16 * INTERVAL;
	assert_int_not_equal(next_signal(&q, &now, 2 * TARGET, now + 2 * INTERVAL), 0);
	assert_int_equal(q.count, 1);
}

/* ---- packets ---- */

/* A 20-byte IPv4 header (TCP, tos as given) with a valid checksum, padded to len. */
static void make_ipv4(uint8_t *p, size_t len, uint8_t tos, uint16_t id)
{
	uint32_t sum = 0;
	size_t i;

	memset(p, 0xab, len);
	memset(p, 0, WGC_IPV4_HEADER_MIN_LEN);
	p[0] = 0x45;
	p[WGC_IPV4_OFF_TOS] = tos;
	wgc_store_be16(p + WGC_IPV4_OFF_TOTAL_LEN, (uint16_t)len);
	wgc_store_be16(p + WGC_IPV4_OFF_ID, id);
	p[WGC_IPV4_OFF_TTL] = 64;
	p[WGC_IPV4_OFF_PROTOCOL] = WGC_IPPROTO_TCP;
	memcpy(p + WGC_IPV4_OFF_SRC, "\x0a\xd6\x00\x01\x0a\xd6\x00\x02", 8);
	for (i = 0; i < WGC_IPV4_HEADER_MIN_LEN; i += 2)
		sum += wgc_load_be16(p + i);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	wgc_store_be16(p + WGC_IPV4_OFF_CHECKSUM, (uint16_t)~sum);
}

static bool ipv4_csum_ok(const uint8_t *p)
{
	uint32_t sum = 0;
	size_t i;

	for (i = 0; i < WGC_IPV4_HEADER_MIN_LEN; i += 2)
		sum += wgc_load_be16(p + i);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum == 0xffff;
}

static void make_ipv6(uint8_t *p, size_t len, uint8_t traffic_class)
{
	memset(p, 0xcd, len);
	wgc_store_be32(p, 6u << 28 | (uint32_t)traffic_class << 20 | 0x12345);
	wgc_store_be16(p + WGC_IPV6_OFF_PAYLOAD_LEN, (uint16_t)(len - WGC_IPV6_HEADER_LEN));
	p[WGC_IPV6_OFF_NEXT_HEADER] = WGC_IPPROTO_TCP;
}

/* Numbered cases: every TOS byte's ECN field, over several IDs (so the checksum's carries vary). */
static void test_ipv4_ce_keeps_the_checksum_valid(void **state)
{
	uint8_t pkt[PKT_LEN];
	uint8_t before[PKT_LEN];
	unsigned tos;
	unsigned id;

	(void)state;
	for (tos = 0; tos < 256; tos++) {
		for (id = 0; id < 65536; id += 4099) {
			bool is_ect = (tos & 3) != 0;

			make_ipv4(pkt, sizeof(pkt), (uint8_t)tos, (uint16_t)id);
			memcpy(before, pkt, sizeof(pkt));
			if (aqm_mark_ce(pkt, sizeof(pkt)) != is_ect)
				fail_msg("case tos 0x%02x id %u: marked %d", tos, id, !is_ect);
			if (!is_ect) {
				assert_memory_equal(pkt, before, sizeof(pkt));
				continue;
			}
			if (pkt[WGC_IPV4_OFF_TOS] != (tos | 3) || !ipv4_csum_ok(pkt))
				fail_msg("case tos 0x%02x id %u: tos 0x%02x, checksum %s", tos, id,
					 pkt[WGC_IPV4_OFF_TOS], ipv4_csum_ok(pkt) ? "ok" : "bad");
			/* nothing but the TOS and the checksum changed */
			before[WGC_IPV4_OFF_TOS] = pkt[WGC_IPV4_OFF_TOS];
			memcpy(before + WGC_IPV4_OFF_CHECKSUM, pkt + WGC_IPV4_OFF_CHECKSUM, 2);
			assert_memory_equal(pkt, before, sizeof(pkt));
		}
	}
}

static void test_ipv6_ce(void **state)
{
	uint8_t pkt[PKT_LEN];
	unsigned tc;

	(void)state;
	for (tc = 0; tc < 256; tc++) {
		make_ipv6(pkt, sizeof(pkt), (uint8_t)tc);
		assert_int_equal(aqm_mark_ce(pkt, sizeof(pkt)), (tc & 3) != 0);
		/* the traffic class is CE-marked (or untouched), version and flow label intact */
		assert_int_equal(wgc_load_be32(pkt),
				 6u << 28 | (uint32_t)(tc & 3 ? tc | 3 : tc) << 20 | 0x12345);
	}
}

static void test_not_ip_is_not_marked(void **state)
{
	uint8_t pkt[PKT_LEN];

	(void)state;
	memset(pkt, 0x13, sizeof(pkt)); /* version 1 */
	assert_false(aqm_mark_ce(pkt, sizeof(pkt)));
	make_ipv4(pkt, sizeof(pkt), 2, 1);
	assert_false(aqm_mark_ce(pkt, WGC_IPV4_HEADER_MIN_LEN - 1));
}

/* aqm_apply: marks an ECT packet, drops one that is not, leaves short packets and clock steps
 * alone (without touching the state). */
static void test_apply_verdicts(void **state)
{
	uint8_t pkt[PKT_LEN];
	struct aqm q;
	uint64_t now = T0;

	(void)state;
	aqm_init(&q, TARGET, INTERVAL);
	make_ipv4(pkt, sizeof(pkt), 0, 1);
	assert_int_equal(aqm_apply(&q, pkt, sizeof(pkt), 2 * TARGET, now), AQM_PASS);
	now += INTERVAL;
	/* short packets and impossible sojourns: not judged, the state does not move */
	assert_int_equal(aqm_apply(&q, pkt, AQM_MIN_LEN - 1, 2 * TARGET, now), AQM_PASS);
	assert_int_equal(aqm_apply(&q, pkt, sizeof(pkt), AQM_SOJOURN_MAX_NS + 1, now), AQM_PASS);
	assert_false(q.is_dropping);
	assert_int_equal(aqm_apply(&q, pkt, sizeof(pkt), 2 * TARGET, now), AQM_DROP);
	assert_int_equal(pkt[WGC_IPV4_OFF_TOS], 0);
	/* the next signal, interval/sqrt(1) later, falls on an ECT(0) packet */
	now += INTERVAL;
	make_ipv4(pkt, sizeof(pkt), 2, 2);
	assert_int_equal(aqm_apply(&q, pkt, sizeof(pkt), 2 * TARGET, now), AQM_MARKED);
	assert_int_equal(pkt[WGC_IPV4_OFF_TOS], 3);
	assert_true(ipv4_csum_ok(pkt));
	assert_int_equal(q.count, 2);
}

static void test_env(void **state)
{
	(void)state;
	assert_true(aqm_is_wanted(NULL));
	assert_true(aqm_is_wanted("1"));
	assert_false(aqm_is_wanted("0"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_signal_below_target),
		cmocka_unit_test(test_first_signal_after_an_interval_above_target),
		cmocka_unit_test(test_dip_below_target_restarts_the_interval),
		cmocka_unit_test(test_signal_spacing_is_interval_over_sqrt_count),
		cmocka_unit_test(test_exit_when_below_target),
		cmocka_unit_test(test_reentry_resumes_the_count),
		cmocka_unit_test(test_ipv4_ce_keeps_the_checksum_valid),
		cmocka_unit_test(test_ipv6_ce),
		cmocka_unit_test(test_not_ip_is_not_marked),
		cmocka_unit_test(test_apply_verdicts),
		cmocka_unit_test(test_env),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
