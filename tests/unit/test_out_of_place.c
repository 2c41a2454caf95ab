/* SPDX-License-Identifier: MIT */
/*
 * The out-of-place data path: wgc_send_prepare_from seals a plaintext that lives outside the
 * message buffer (routing from it, leaving it untouched, with and without padding),
 * wgc_send_prepare_gather seals a plaintext whose head is in the buffer and whose tail lies
 * elsewhere (a TSO segment's rewritten headers and its payload in the super-packet), and
 * wgc_receive_open_into decrypts into another buffer (buf untouched, DELIVER pointing into dst,
 * too-small and NULL dst refused with the job still usable, forgeries dropped). Sealed bytes are
 * opened with crypto.h and the session key (test_aead_backends holds the
 * backends against libsodium), and every message crosses to the other
 * endpoint through the ordinary in-place path too, so both directions agree.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/keypair.h"
#include "core/messages.h"
#include "crypto/crypto.h"
#include "harness.h"

enum { MSG_MAX = 2048, IP_HEADER = 28 };

static struct h_net net;

static int setup(void **state)
{
	(void)state;
	h_net_init(&net, 11);
	assert_int_equal(h_send(&net, 0, 1), WGC_VERDICT_STAGE);
	h_run_for(&net, 1 * SEC);
	assert_true(h_stats(&net.node[0]).has_session);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	h_net_free(&net);
	return 0;
}

static struct wgc_actions reset_out(struct wgc_action *list, size_t cap, uint8_t *scratch,
				    size_t scratch_size)
{
	return (struct wgc_actions){list, cap, 0, scratch, scratch_size, 0};
}

/* An IPv4/UDP packet 10.0.0.1 -> 10.0.0.2 of len bytes (len >= IP_HEADER), payload from seed. */
static void make_packet(uint8_t *p, size_t len, uint8_t seed)
{
	memset(p, 0, IP_HEADER);
	p[0] = 0x45;
	p[2] = (uint8_t)(len >> 8);
	p[3] = (uint8_t)len;
	p[8] = 64;
	p[9] = 17;
	memcpy(p + 12, (const uint8_t[]){10, 0, 0, 1}, 4);
	memcpy(p + 16, (const uint8_t[]){10, 0, 0, 2}, 4);
	for (size_t i = IP_HEADER; i < len; i++)
		p[i] = (uint8_t)(seed + i * 31);
}

/* Node 1 takes the message in place; true when it delivers exactly plain. */
static bool delivered_in_place(uint8_t *msg, size_t len, const uint8_t *plain, size_t plain_len)
{
	struct wgc_action list[8];
	uint8_t scratch[WGC_ACTION_SCRATCH_MIN];
	struct wgc_actions out = reset_out(list, 8, scratch, sizeof(scratch));
	struct wgc_receive_job job;

	if (wgc_receive_prepare(net.node[1].ep, net.now, msg, len, &net.node[0].addr, &job, &out) !=
	    WGC_VERDICT_CRYPTO)
		return false;
	wgc_receive_open(&job);
	if (wgc_receive_commit(net.node[1].ep, net.now, &job, &out) != WGC_VERDICT_DONE)
		return false;
	for (size_t i = 0; i < out.count; i++) {
		if (list[i].kind == WGC_ACTION_DELIVER)
			return list[i].len == plain_len && memcmp(list[i].data, plain, plain_len) == 0;
	}
	return false;
}

/* Seals a prepared job and checks the message: plain (len bytes, equal to saved afterwards:
 * never written) || zeros up to a multiple of 16, sealed with the session key and the job's
 * counter, and delivered as plain by node 1 through the in-place path. */
static void seal_and_check(struct wgc_send_job *job, uint8_t *msg, const uint8_t *plain,
			   const uint8_t *saved, size_t len)
{
	static uint8_t opened[MSG_MAX];
	uint8_t key[WGC_KEY_LEN];
	size_t padded;

	memcpy(key, job->keypair->send_key, sizeof(key));
	wgc_send_seal(job);
	assert_memory_equal(plain, saved, len);
	padded = job->message_len - DATA_MIN_LEN;
	assert_true(padded >= len && padded - len < 16);
	assert_true(wgc_aead_open(opened, msg + DATA_OFF_PAYLOAD,
				  job->message_len - DATA_HEADER_LEN, NULL, 0, job->counter, key));
	wgc_memzero(key, sizeof(key));
	assert_memory_equal(opened, plain, len);
	for (size_t k = len; k < padded; k++)
		assert_int_equal(opened[k], 0);
	assert_true(delivered_in_place(msg, job->message_len, plain, len));
}

/* Lengths with padding (100, 1419 -> 1420) and without (1408 = 88 x 16, 1420 = the MTU). */
static void test_send_from(void **unused)
{
	static const size_t lens[] = {100, 1408, 1419, WGC_DEFAULT_MTU, IP_HEADER};
	static uint8_t plain[MSG_MAX], saved[MSG_MAX], msg[MSG_MAX];
	struct wgc_action list[8];
	uint8_t scratch[WGC_ACTION_SCRATCH_MIN];

	(void)unused;
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		struct wgc_actions out = reset_out(list, 8, scratch, sizeof(scratch));
		struct wgc_send_job job;
		size_t len = lens[i];

		make_packet(plain, len, (uint8_t)i);
		memcpy(saved, plain, len);
		memset(msg, 0xee, sizeof(msg)); /* prepare_from must not read buf's old contents */
		assert_int_equal(wgc_send_prepare_from(net.node[0].ep, net.now, NULL, plain, len, msg,
						       sizeof(msg), &job, &out),
				 WGC_VERDICT_CRYPTO);
		assert_ptr_equal(job.peer, net.node[0].peer); /* routed from plain */
		assert_ptr_equal(job.plain, plain);
		seal_and_check(&job, msg, plain, saved, len);
	}
}

/* Heads of 20 (the IP header alone), 28 and 52 bytes, tails with and without padding; a tail of 0
 * is an ordinary in-place send; a head too short to route by is dropped (BAD_PACKET). */
static void test_send_gather(void **unused)
{
	static const size_t heads[] = {20, IP_HEADER, 52, 52, 100};
	static const size_t lens[] = {1420, 1419, 1420, 200, 100};
	static uint8_t plain[MSG_MAX], saved[MSG_MAX], msg[MSG_MAX];
	struct wgc_action list[8];
	uint8_t scratch[WGC_ACTION_SCRATCH_MIN];

	(void)unused;
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		struct wgc_actions out = reset_out(list, 8, scratch, sizeof(scratch));
		struct wgc_send_job job;
		size_t len = lens[i];
		size_t head = heads[i];

		make_packet(plain, len, (uint8_t)(i + 7));
		memcpy(saved, plain, len);
		memset(msg, 0xee, sizeof(msg)); /* gather must not read buf past the head */
		memcpy(msg + WGC_DATA_HEADROOM, plain, head);
		assert_int_equal(wgc_send_prepare_gather(net.node[0].ep, net.now, NULL, msg,
							 sizeof(msg), head, plain + head,
							 len - head, &job, &out),
				 WGC_VERDICT_CRYPTO);
		assert_ptr_equal(job.peer, net.node[0].peer); /* routed from the head */
		assert_int_equal(job.plain_len, len);
		seal_and_check(&job, msg, plain, saved, len); /* the tail untouched too */
	}

	/* no tail: the head is the whole packet, sealed in place */
	{
		struct wgc_actions out = reset_out(list, 8, scratch, sizeof(scratch));
		struct wgc_send_job job;

		make_packet(plain, 300, 3);
		memcpy(msg + WGC_DATA_HEADROOM, plain, 300);
		assert_int_equal(wgc_send_prepare_gather(net.node[0].ep, net.now, NULL, msg,
							 sizeof(msg), 300, NULL, 0, &job, &out),
				 WGC_VERDICT_CRYPTO);
		wgc_send_seal(&job);
		assert_true(delivered_in_place(msg, job.message_len, plain, 300));
	}
	/* a head shorter than an IPv4 header cannot be routed, whatever follows in the tail */
	{
		struct wgc_actions out = reset_out(list, 8, scratch, sizeof(scratch));
		struct wgc_send_job job;

		make_packet(plain, 300, 4);
		memcpy(msg + WGC_DATA_HEADROOM, plain, 12);
		assert_int_equal(wgc_send_prepare_gather(net.node[0].ep, net.now, NULL, msg,
							 sizeof(msg), 12, plain + 12, 288, &job,
							 &out),
				 WGC_VERDICT_DROP);
		assert_int_equal(job.drop, WGC_DROP_BAD_PACKET);
		/* and a head beyond WGC_SEND_HEAD_MAX is too big, counted once */
		memcpy(msg + WGC_DATA_HEADROOM, plain, IP_HEADER);
		assert_int_equal(wgc_send_prepare_gather(net.node[0].ep, net.now, NULL, msg,
							 sizeof(msg), (size_t)WGC_SEND_HEAD_MAX + 1,
							 plain, 10, &job, &out),
				 WGC_VERDICT_DROP);
		assert_int_equal(job.drop, WGC_DROP_TOO_BIG);
	}
}

/* Node 0 seals plain in place into msg; returns the message length. */
static size_t seal_in_place(uint8_t *msg, size_t len, uint8_t seed, uint8_t *plain)
{
	struct wgc_action list[8];
	uint8_t scratch[WGC_ACTION_SCRATCH_MIN];
	struct wgc_actions out = reset_out(list, 8, scratch, sizeof(scratch));
	struct wgc_send_job job;

	make_packet(plain, len, seed);
	memcpy(msg + WGC_DATA_HEADROOM, plain, len);
	assert_int_equal(wgc_send_prepare(net.node[0].ep, net.now, NULL, msg, MSG_MAX, len, &job,
					  &out),
			 WGC_VERDICT_CRYPTO);
	wgc_send_seal(&job);
	return job.message_len;
}

static void test_open_into(void **unused)
{
	static const size_t lens[] = {IP_HEADER, 100, 1419, WGC_DEFAULT_MTU};
	static uint8_t plain[MSG_MAX], msg[MSG_MAX], saved[MSG_MAX], dst[MSG_MAX];
	struct wgc_action list[8];
	uint8_t scratch[WGC_ACTION_SCRATCH_MIN];

	(void)unused;
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		struct wgc_actions out = reset_out(list, 8, scratch, sizeof(scratch));
		struct wgc_receive_job job;
		size_t message_len = seal_in_place(msg, lens[i], (uint8_t)(i + 40), plain);
		size_t need = message_len - DATA_MIN_LEN;
		bool found = false;

		memcpy(saved, msg, message_len);
		assert_int_equal(wgc_receive_prepare(net.node[1].ep, net.now, msg, message_len,
						     &net.node[0].addr, &job, &out),
				 WGC_VERDICT_CRYPTO);
		/* refused, the job unchanged */
		assert_int_equal(wgc_receive_open_into(&job, dst, need - 1), WGC_ERR_NO_SPACE);
		assert_int_equal(wgc_receive_open_into(&job, NULL, need), WGC_ERR_INVALID);
		assert_int_equal(wgc_receive_open_into(&job, dst, need), WGC_OK);
		assert_true(job.is_authentic);
		assert_ptr_equal(job.plain, dst);
		assert_memory_equal(msg, saved, message_len); /* the datagram is untouched */
		assert_int_equal(wgc_receive_commit(net.node[1].ep, net.now, &job, &out),
				 WGC_VERDICT_DONE);
		for (size_t k = 0; k < out.count; k++) {
			if (list[k].kind != WGC_ACTION_DELIVER)
				continue;
			found = true;
			assert_ptr_equal(list[k].data, dst);
			assert_int_equal(list[k].len, lens[i]);
			assert_memory_equal(list[k].data, plain, lens[i]);
		}
		assert_true(found);
	}
}

/* A forged message opened out of place is dropped and leaves no plaintext in dst. */
static void test_open_into_forgery(void **unused)
{
	static uint8_t plain[MSG_MAX], msg[MSG_MAX], dst[MSG_MAX];
	struct wgc_action list[8];
	uint8_t scratch[WGC_ACTION_SCRATCH_MIN];
	struct wgc_actions out = reset_out(list, 8, scratch, sizeof(scratch));
	struct wgc_receive_job job;
	size_t message_len = seal_in_place(msg, WGC_DEFAULT_MTU, 99, plain);
	uint64_t drops = h_drops(&net.node[1], WGC_DROP_DECRYPT_FAILED);

	(void)unused;
	msg[message_len - 1] ^= 0x40; /* the tag */
	memset(dst, 0, sizeof(dst));
	assert_int_equal(wgc_receive_prepare(net.node[1].ep, net.now, msg, message_len,
					     &net.node[0].addr, &job, &out),
			 WGC_VERDICT_CRYPTO);
	assert_int_equal(wgc_receive_open_into(&job, dst, sizeof(dst)), WGC_OK);
	assert_false(job.is_authentic);
	assert_int_equal(wgc_receive_commit(net.node[1].ep, net.now, &job, &out), WGC_VERDICT_DROP);
	assert_int_equal(h_drops(&net.node[1], WGC_DROP_DECRYPT_FAILED), drops + 1);
	assert_int_equal(out.count, 0);
	assert_true(memcmp(dst + IP_HEADER, plain + IP_HEADER, WGC_DEFAULT_MTU - IP_HEADER) != 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_send_from, setup, teardown),
		cmocka_unit_test_setup_teardown(test_send_gather, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_into, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_into_forgery, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
