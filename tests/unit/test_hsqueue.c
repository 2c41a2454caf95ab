/* SPDX-License-Identifier: MIT */
/*
 * The daemon's handshake queue (daemon/hsqueue.c): which datagrams it takes (initiations and
 * responses with clean type words that fit a slot), order kept (FIFO), a full queue refuses without changing anything,
 * copies are exact (message, source, local address), the ring wraps, and the high-water mark.
 */
#define _GNU_SOURCE /* daemon/udp.h: struct mmsghdr */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/hsqueue.h"

static void test_wants_only_handshake_messages_that_fit(void **state)
{
	uint8_t m[HSQ_MSG_MAX + 1] = { 0 };

	(void)state;
	for (int type = 0; type < 8; type++) {
		m[0] = (uint8_t)type;
		assert_int_equal(hsq_wants(m, 148), type == 1 || type == 2);
		assert_int_equal(hsq_wants(m, 92), type == 1 || type == 2);
		assert_false(hsq_wants(m, HSQ_MSG_MAX + 1)); /* the core drops it for its length */
		assert_false(hsq_wants(m, 3));
	}
	/* Cookie replies are handled at once; a non-zero reserved byte is junk (BAD_TYPE). */
	m[0] = 3;
	assert_false(hsq_wants(m, 64));
	for (int i = 1; i < 4; i++) {
		m[0] = 1;
		m[i] = 1;
		assert_false(hsq_wants(m, 148));
		m[i] = 0;
	}
}

static void fill_msg(uint8_t *m, uint32_t seq)
{
	m[0] = 1;
	memset(m + 1, (int)(seq & 0xff), HSQ_MSG_MAX - 1);
	memcpy(m + 4, &seq, sizeof(seq));
}

static void test_fifo_full_wrap_and_copies(void **state)
{
	struct hsq q;
	uint8_t m[HSQ_MSG_MAX];
	struct wgc_addr src = { .family = WGC_AF_INET, .port = 51820, .ip = { 192, 0, 2, 1 } };
	struct udp_src local = { .family = WGC_AF_INET, .ip = { 10, 0, 0, 1 } };
	uint32_t next_in = 0;
	uint32_t next_out = 0;

	(void)state;
	assert_int_equal(hsq_init(&q), 0);
	assert_null(hsq_peek(&q));
	/* Three times round the ring, in bursts that fill it completely. */
	for (int round = 0; round < 3; round++) {
		while (hsq_count(&q) < HSQ_CAP) {
			fill_msg(m, next_in);
			src.port = (uint16_t)next_in;
			local.ifindex = next_in;
			assert_true(hsq_push(&q, m, sizeof(m) - (next_in % 3), &src, &local));
			next_in++;
		}
		/* Full: refused, nothing changed. */
		fill_msg(m, 0xdeadbeef);
		assert_false(hsq_push(&q, m, sizeof(m), &src, &local));
		assert_int_equal(hsq_count(&q), HSQ_CAP);
		/* Take all but a few, checking each is exactly what went in, in order. */
		while (hsq_count(&q) > 7) {
			struct hsq_slot *slot = hsq_peek(&q);
			uint32_t seq;

			assert_non_null(slot);
			fill_msg(m, next_out);
			assert_int_equal(slot->len, sizeof(m) - (next_out % 3));
			assert_memory_equal(slot->msg, m, slot->len);
			memcpy(&seq, slot->msg + 4, sizeof(seq));
			assert_int_equal(seq, next_out);
			assert_int_equal(slot->src.port, (uint16_t)next_out);
			assert_int_equal(slot->local.ifindex, next_out);
			hsq_pop(&q);
			next_out++;
		}
	}
	assert_int_equal(q.high, HSQ_CAP);
	assert_false(hsq_push(&q, m, HSQ_MSG_MAX + 1, &src, &local));
	hsq_clear(&q);
	assert_int_equal(hsq_count(&q), 0);
	assert_null(q.slots);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wants_only_handshake_messages_that_fit),
		cmocka_unit_test(test_fifo_full_wrap_and_copies),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
