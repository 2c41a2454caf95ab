/* SPDX-License-Identifier: MIT */
/*
 * How many UDP messages the daemon asks the next receive for (udp_rx_want_next, daemon/udp.h):
 * a full batch while messages are single datagrams, fewer while UDP GRO packs many datagrams into
 * each, so one readiness event works about `target` datagrams (not 64 x 45) and the event loop
 * gets back to the TUN device within a few hundred microseconds.
 */
#define _GNU_SOURCE /* daemon/udp.h: struct mmsghdr */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "daemon/udp.h"

enum { TARGET = 2 * UDP_BATCH_MAX };

static void test_single_datagrams_take_a_full_batch(void **state)
{
	(void)state;
	assert_int_equal(udp_rx_want_next(64, 64, TARGET), UDP_BATCH_MAX);
	assert_int_equal(udp_rx_want_next(1, 1, TARGET), UDP_BATCH_MAX);
	/* nothing received, or nonsense counts: back to a full batch */
	assert_int_equal(udp_rx_want_next(0, 0, TARGET), UDP_BATCH_MAX);
	assert_int_equal(udp_rx_want_next(5, 2, TARGET), UDP_BATCH_MAX);
}

static void test_gro_messages_take_fewer(void **state)
{
	(void)state;
	/* 64 GRO messages of 45 datagrams (64 KiB of 1,452-byte datagrams): 2,880 at once before */
	assert_int_equal(udp_rx_want_next(64, 64 * 45, TARGET), 3);
	assert_int_equal(udp_rx_want_next(3, 3 * 45, TARGET), 3);
	/* mixed: 10 messages, 100 datagrams -> about 13 messages for 128 */
	assert_int_equal(udp_rx_want_next(10, 100, TARGET), 13);
	/* never below one message, however full each is */
	assert_int_equal(udp_rx_want_next(1, 1000, TARGET), 1);
}

/* At the asked-for count and the same fill, a receive holds about TARGET datagrams: at most one
 * message's worth more, never more than a full batch of messages. */
static void test_bound(void **state)
{
	(void)state;
	for (unsigned per = 1; per <= 64; per++) {
		for (unsigned msgs = 1; msgs <= UDP_BATCH_MAX; msgs++) {
			unsigned want = udp_rx_want_next(msgs, msgs * per, TARGET);

			assert_true(want >= 1 && want <= UDP_BATCH_MAX);
			if (want < UDP_BATCH_MAX)
				assert_true(want * per < TARGET + per);
			else
				assert_true(per * UDP_BATCH_MAX <= TARGET + per);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_single_datagrams_take_a_full_batch),
		cmocka_unit_test(test_gro_messages_take_fewer),
		cmocka_unit_test(test_bound),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
