/* SPDX-License-Identifier: MIT */
/*
 * Two endpoints over the in-memory network, driven by the fake clock: handshakes from either side
 * and both at once, data both ways, rekeying by time and by messages, expiry and key zeroing,
 * retransmission with jitter and give-up, keepalives (passive and persistent), cookies under load,
 * roaming, replay and reordering end to end, loss and duplication, and cryptokey routing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/messages.h"
#include "core/peer.h"
#include "harness.h"

static struct h_net net;

static int setup(void **state)
{
	(void)state;
	h_net_init(&net, 42);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	h_net_free(&net);
	return 0;
}

#define A (&net.node[0])
#define B (&net.node[1])

/* A sends one packet, the handshake runs, B gets it. */
static void establish(void)
{
	assert_int_equal(h_send(&net, 0, 1), WGC_VERDICT_STAGE);
	h_run_for(&net, 1 * SEC);
	assert_int_equal(B->delivered, 1);
	assert_true(h_stats(A).has_session);
}

static void test_handshake_initiated_by_a(void **state)
{
	(void)state;
	establish();
	assert_int_equal(A->sent_by_type[1], 1);
	assert_int_equal(B->sent_by_type[2], 1);
	assert_true(h_stats(A).has_handshake);
	assert_true(h_stats(B).has_handshake);
	assert_int_equal(A->staged_count, 0);
	assert_int_equal(A->keepalives_sent, 1); /* the confirmation */
	/* Now B can answer without a handshake of its own. */
	assert_int_equal(h_send(&net, 1, 2), WGC_VERDICT_DONE);
	h_run_for(&net, 1 * SEC);
	assert_int_equal(A->delivered, 1);
	assert_int_equal(B->sent_by_type[1], 0);
}

static void test_handshake_initiated_by_b(void **state)
{
	(void)state;
	assert_int_equal(h_send(&net, 1, 1), WGC_VERDICT_STAGE);
	h_run_for(&net, 1 * SEC);
	assert_int_equal(A->delivered, 1);
	assert_int_equal(B->sent_by_type[1], 1);
	assert_int_equal(A->sent_by_type[2], 1);
	assert_int_equal(A->sent_by_type[1], 0);
}

static void test_simultaneous_initiation(void **state)
{
	(void)state;
	assert_int_equal(h_send(&net, 0, 1), WGC_VERDICT_STAGE);
	assert_int_equal(h_send(&net, 1, 1), WGC_VERDICT_STAGE);
	h_run_for(&net, 30 * SEC);
	assert_int_equal(A->delivered, 1);
	assert_int_equal(B->delivered, 1);
	assert_true(h_stats(A).has_session || h_stats(B).has_session);
	/* Whatever the race did, traffic now flows both ways without staging. */
	for (uint16_t i = 2; i < 12; i++) {
		h_send(&net, 0, i);
		h_send(&net, 1, i);
		h_run_for(&net, 100 * MSEC);
	}
	h_run_for(&net, 1 * SEC);
	assert_int_equal(A->delivered, 11);
	assert_int_equal(B->delivered, 11);
	assert_int_equal(A->staged_count + B->staged_count, 0);
}

static void test_data_both_ways(void **state)
{
	(void)state;
	establish();
	for (uint16_t i = 2; i < 502; i++) {
		assert_int_not_equal(h_send(&net, 0, i), WGC_VERDICT_DROP);
		assert_int_not_equal(h_send_ip(&net, 1, 2, 1, i, i % 1400), WGC_VERDICT_DROP);
		if (i % 50 == 0)
			h_run_for(&net, 20 * MSEC);
	}
	h_run_for(&net, 1 * SEC);
	assert_int_equal(B->delivered, 501);
	assert_int_equal(A->delivered, 500);
	assert_int_equal(A->duplicates_delivered + B->duplicates_delivered, 0);
	/* Padding: the last B->A packet had 22 + 501 % 1400 bytes; delivered trimmed. */
	assert_int_equal(A->last_delivered_len, 22 + 501);
}

static void test_rekey_after_time_by_initiator(void **state)
{
	(void)state;
	establish();
	for (uint16_t i = 2; i < 202; i++) {
		assert_int_not_equal(h_send(&net, 0, i), WGC_VERDICT_STAGE);
		h_run_for(&net, 1 * SEC);
	}
	/* One handshake at the start and a rekey at REKEY_AFTER_TIME (120 s) — no staging ever. */
	assert_int_equal(A->sent_by_type[1], 2);
	assert_true(A->send_times[1] - A->send_times[0] >= REKEY_AFTER_TIME);
	assert_true(A->send_times[1] - A->send_times[0] < REKEY_AFTER_TIME + 2 * SEC);
	assert_int_equal(B->delivered, 201);
	assert_int_equal(B->sent_by_type[1], 0);
}

static void test_rekey_from_receive_side(void **state)
{
	(void)state;
	establish();
	/* The initiator normally rekeys when it sends after REKEY_AFTER_TIME (its keepalives count).
	 * If it has sent nothing, receiving data after REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT -
	 * REKEY_TIMEOUT (165 s) must make it rekey by itself. */
	h_run_until(&net, H_EPOCH + 100 * SEC);
	h_send(&net, 1, 2); /* A answers with a keepalive at 110 s: age < 120 s, no rekey */
	h_run_until(&net, H_EPOCH + 150 * SEC);
	assert_int_equal(A->sent_by_type[1], 1);
	assert_int_equal(A->keepalives_sent, 2);
	h_run_until(&net, H_EPOCH + 166 * SEC);
	h_send(&net, 1, 3);
	h_run_for(&net, 100 * MSEC);
	assert_int_equal(A->sent_by_type[1], 2);
	assert_true(A->send_times[1] >= H_EPOCH + 166 * SEC);
	assert_true(A->send_times[1] < H_EPOCH + 167 * SEC);
	h_run_for(&net, 1 * SEC);
	assert_int_equal(A->delivered, 2);
	/* Only once per session. */
	h_send(&net, 1, 4);
	h_run_for(&net, 1 * SEC);
	assert_int_equal(A->sent_by_type[1], 2);
}

static void test_rekey_after_messages(void **state)
{
	(void)state;
	establish();
	h_run_for(&net, REKEY_TIMEOUT); /* past the one-initiation-per-REKEY_TIMEOUT limit */
	A->peer->keypairs.current->send_counter = REKEY_AFTER_MESSAGES + 1;
	assert_int_equal(h_send(&net, 0, 2), WGC_VERDICT_DONE);
	assert_int_equal(A->sent_by_type[1], 2);
	h_run_for(&net, 1 * SEC);
	assert_int_equal(B->delivered, 2);
	assert_true(A->peer->keypairs.current->send_counter < 10);

	/* At REJECT_AFTER_MESSAGES the keypair cannot send at all: staged, then a new session. */
	A->peer->keypairs.current->send_counter = REJECT_AFTER_MESSAGES;
	net.now += 6 * SEC; /* past the REKEY_TIMEOUT rate limit */
	assert_int_equal(h_send(&net, 0, 3), WGC_VERDICT_STAGE);
	h_run_for(&net, 1 * SEC);
	assert_int_equal(B->delivered, 3);
	assert_int_equal(A->sent_by_type[1], 3);
}

static void test_expiry_and_key_zeroing(void **state)
{
	struct wgc_peer *peer;
	uint8_t zero[32] = { 0 };
	uint8_t held[H_BUF];
	size_t held_len;
	enum wgc_drop_reason reason;

	(void)state;
	establish();
	/* Keep one of B's data messages to replay after REJECT_AFTER_TIME. */
	assert_int_equal(h_send(&net, 1, 7), WGC_VERDICT_DONE);
	assert_int_equal(net.inflight_count, 1);
	held_len = net.inflight[0].len;
	memcpy(held, net.inflight[0].data, held_len);
	net.inflight_count = 0;

	h_run_for(&net, REJECT_AFTER_TIME + 1 * SEC);
	assert_int_equal(h_inject(&net, 0, held, held_len, &B->addr, &reason), WGC_VERDICT_DROP);
	assert_int_equal(reason, WGC_DROP_EXPIRED_KEYPAIR);

	/* B's data never arrived, so A (which sent data) detected a dead peer at 15 s and made a
	 * new session: the wipe is due 3 * REJECT_AFTER_TIME after that one was derived. */
	peer = A->peer;
	assert_int_equal(A->sent_by_type[1], 2);
	h_run_until(&net, A->send_times[1] + ZERO_KEYS_AFTER - 20 * SEC);
	assert_non_null(peer->keypairs.current);
	h_run_until(&net, A->send_times[1] + ZERO_KEYS_AFTER + 2 * SEC);
	assert_null(peer->keypairs.current);
	assert_null(peer->keypairs.previous);
	assert_null(peer->keypairs.next);
	assert_null(B->peer->keypairs.current);
	assert_memory_equal(peer->handshake.chaining_key, zero, 32);
	assert_memory_equal(peer->handshake.ephemeral_private, zero, 32);
	assert_int_equal(wgc_endpoint_next_deadline(A->ep), UINT64_MAX);

	/* Traffic afterwards simply starts a new handshake. */
	assert_int_equal(h_send(&net, 0, 9), WGC_VERDICT_STAGE);
	h_run_for(&net, 1 * SEC);
	assert_int_equal(B->delivered, 2);
}

static void test_retransmit_with_jitter_and_give_up(void **state)
{
	bool jitter_varies = false;

	(void)state;
	net.is_down[1] = true;
	assert_int_equal(h_send(&net, 0, 1), WGC_VERDICT_STAGE);
	h_run_for(&net, 200 * SEC);
	/* The first initiation plus 19 retries, then give up and purge the staged packet. */
	assert_int_equal(A->sent_by_type[1], 20);
	for (int i = 1; i < A->send_times_count; i++) {
		uint64_t gap = A->send_times[i] - A->send_times[i - 1];

		assert_true(gap >= REKEY_TIMEOUT);
		assert_true(gap < REKEY_TIMEOUT + REKEY_TIMEOUT_JITTER_MAX_MS * MSEC);
		if (i > 1 && gap != A->send_times[i - 1] - A->send_times[i - 2])
			jitter_varies = true;
	}
	assert_true(jitter_varies);
	assert_true(A->send_times[19] - A->send_times[0] >= 95 * SEC);
	assert_int_equal(A->purges, 1);
	assert_int_equal(A->staged_count, 0);

	/* New traffic later starts a fresh attempt at once, with a fresh count. */
	net.is_down[1] = false;
	assert_int_equal(h_send(&net, 0, 2), WGC_VERDICT_STAGE);
	assert_int_equal(A->sent_by_type[1], 21);
	h_run_for(&net, 1 * SEC);
	assert_int_equal(B->delivered, 1);
}

static void test_passive_keepalive_and_dead_peer(void **state)
{
	(void)state;
	establish();
	assert_int_equal(B->keepalives_sent, 0);
	/* B got data and sends nothing back: it owes a keepalive after KEEPALIVE_TIMEOUT
	 * (establish() already ran 1 s of it). */
	h_run_for(&net, KEEPALIVE_TIMEOUT - 1500 * MSEC);
	assert_int_equal(B->keepalives_sent, 0);
	h_run_for(&net, 1 * SEC);
	assert_int_equal(B->keepalives_sent, 1);
	/* A keepalive is not data: A does not answer it, and nothing more is sent when idle. */
	h_run_for(&net, 60 * SEC);
	assert_int_equal(A->keepalives_sent, 1);
	assert_int_equal(B->keepalives_sent, 1);

	/* Dead peer: A sends data and hears nothing for KEEPALIVE_TIMEOUT + REKEY_TIMEOUT. */
	net.is_down[1] = true;
	h_send(&net, 0, 5);
	h_run_for(&net, KEEPALIVE_TIMEOUT + REKEY_TIMEOUT - 100 * MSEC);
	assert_int_equal(A->sent_by_type[1], 1);
	h_run_for(&net, 500 * MSEC);
	assert_int_equal(A->sent_by_type[1], 2);
}

static void test_persistent_keepalive(void **state)
{
	struct wgc_action list[4];
	uint8_t scratch[512];
	struct wgc_actions out = { list, 4, 0, scratch, sizeof(scratch), 0 };
	uint64_t rx_before;

	(void)state;
	establish();
	h_run_for(&net, 20 * SEC);
	assert_int_equal(A->keepalives_sent, 1);
	rx_before = h_stats(B).rx_bytes;
	/* Turning it on sends one at once. */
	wgc_peer_set_persistent_keepalive(A->ep, A->peer, 25, net.now, &out);
	h_run_actions(&net, 0, &out);
	assert_int_equal(A->keepalives_sent, 2);
	assert_int_equal(wgc_peer_get_persistent_keepalive(A->peer), 25);
	/* Stay below REKEY_AFTER_TIME: a rekey would add its own confirmation keepalive. */
	h_run_for(&net, 80 * SEC);
	assert_int_equal(A->keepalives_sent, 5);
	assert_int_equal(h_stats(B).rx_bytes, rx_before + 4 * WGC_KEEPALIVE_MESSAGE_LEN);
	/* Off again: silence. */
	wgc_peer_set_persistent_keepalive(A->ep, A->peer, 0, net.now, NULL);
	h_run_for(&net, 100 * SEC);
	assert_int_equal(A->keepalives_sent, 5);
}

static bool report_load_on_b(struct h_net *n, int from, struct h_datagram *d)
{
	(void)from;
	if (d->to == 1)
		wgc_endpoint_report_load(n->node[1].ep, n->now);
	return true;
}

static void test_cookie_under_load(void **state)
{
	(void)state;
	net.filter = report_load_on_b;
	assert_int_equal(h_send(&net, 0, 1), WGC_VERDICT_STAGE);
	h_run_for(&net, 1 * SEC);
	/* Under load, the first initiation (no mac2) earns a cookie reply, not a response. */
	assert_int_equal(h_drops(B, WGC_DROP_COOKIE_SENT), 1);
	assert_int_equal(B->sent_by_type[3], 1);
	assert_int_equal(B->sent_by_type[2], 0);
	assert_int_equal(B->delivered, 0);
	/* The retry carries mac2 from the cookie and is answered. */
	h_run_for(&net, 6 * SEC);
	assert_int_equal(A->sent_by_type[1], 2);
	assert_int_equal(B->sent_by_type[2], 1);
	assert_int_equal(B->delivered, 1);
	assert_int_equal(h_drops(B, WGC_DROP_COOKIE_SENT), 1);
}

static void test_flood_does_not_lock_out_legitimate_peer(void **state)
{
	struct wgc_addr attacker = { .family = WGC_AF_INET, .port = 666, .ip = { 198, 51, 100, 7 } };
	uint8_t initiation[148];
	int i;

	(void)state;
	/* Capture a real initiation (valid mac1 for B) and replay it from another source as fast as
	 * possible: the built-in load detector trips and the flood only earns cookie replies. */
	net.is_down[1] = true;
	h_send(&net, 0, 1);
	assert_int_equal(net.inflight_count, 1);
	memcpy(initiation, net.inflight[0].data, sizeof(initiation));
	net.inflight_count = 0;
	net.is_down[1] = false;
	for (i = 0; i < 3000; i++) {
		enum wgc_drop_reason reason;

		h_inject(&net, 1, initiation, sizeof(initiation), &attacker, &reason);
		net.now += 100 * 1000; /* 10,000 per second */
	}
	/* Answers to the one source stay within its bucket (a burst of 5, then 20 a second over
	 * these 0.3 s); the rest die unanswered. */
	assert_true(h_drops(B, WGC_DROP_COOKIE_SENT) >= 5);
	assert_true(h_drops(B, WGC_DROP_COOKIE_SENT) <= 5 + 7);
	/* (The first 1024 came before the load switch.) */
	assert_true(h_drops(B, WGC_DROP_COOKIE_LIMITED) > 3000 - 1025 - 12);
	/* Replays processed before the load switch are refused as replays, never answered twice. */
	assert_true(B->sent_by_type[2] <= 1);
	/* Keep the flood going while A retries: A gets a cookie and then a handshake. */
	for (i = 0; i < 12000; i++) {
		h_inject(&net, 1, initiation, sizeof(initiation), &attacker, NULL);
		h_run_for(&net, 1 * MSEC);
	}
	assert_int_equal(B->delivered, 1);
	assert_true(h_stats(A).has_session);
}

/* A flood from many sources (one message each, so no source's bucket runs dry) is answered at
 * most at the endpoint's cookie-reply budget: 4096/s plus a tenth of a second saved up. */
static void test_cookie_replies_budgeted_in_all(void **state)
{
	struct wgc_addr from = { .family = WGC_AF_INET, .port = 666 };
	uint8_t initiation[148];
	uint64_t sent;
	uint64_t limited;
	int i;

	(void)state;
	net.is_down[1] = true;
	h_send(&net, 0, 1);
	memcpy(initiation, net.inflight[0].data, sizeof(initiation));
	net.inflight_count = 0;
	wgc_endpoint_report_load(B->ep, net.now);
	for (i = 0; i < 12000; i++) {
		from.ip[0] = 10;
		from.ip[1] = (uint8_t)(i >> 16);
		from.ip[2] = (uint8_t)(i >> 8);
		from.ip[3] = (uint8_t)i;
		h_inject(&net, 1, initiation, sizeof(initiation), &from, NULL);
		net.now += 50 * 1000; /* 20,000 per second for 0.6 s */
	}
	sent = h_drops(B, WGC_DROP_COOKIE_SENT);
	limited = h_drops(B, WGC_DROP_COOKIE_LIMITED);
	assert_int_equal(sent + limited, 12000);
	assert_true(sent <= WGC_DEFAULT_COOKIE_REPLIES_PER_S * 6 / 10 +
			     WGC_DEFAULT_COOKIE_REPLIES_PER_S / 10 + 1);
	assert_true(sent >= WGC_DEFAULT_COOKIE_REPLIES_PER_S / 2);
	assert_int_equal(B->sent_by_type[3], sent);
}

/* Captures a valid-mac1 initiation of A's (for a flood), then lets A's retry under load earn a
 * cookie, so that A's next initiations carry a valid mac2. */
static void capture_and_get_cookie(uint8_t initiation[148])
{
	net.is_down[1] = true;
	h_send(&net, 0, 1);
	memcpy(initiation, net.inflight[0].data, 148);
	net.inflight_count = 0;
	net.is_down[1] = false;
	net.filter = report_load_on_b;
	h_run_for(&net, 6 * SEC);
	assert_int_equal(B->sent_by_type[3], 1); /* A holds a cookie now */
	assert_int_equal(B->sent_by_type[2], 0);
	h_run_for(&net, 123457); /* the flood starts off the harness's millisecond grid */
}

/* An off-path spoofer using A's own address and port (it knows B's public key, not A's cookie)
 * floods B at 10,000/s. Its messages cost no bucket that A's mac2-valid retries need: A gets
 * its session at its next retry. (Charging cookie replies to the handshake bucket, as a first
 * version did, kept A out for good; found in review.) */
static void test_spoofing_a_peer_does_not_lock_it_out(void **state)
{
	uint8_t initiation[148];
	struct wgc_addr victim;
	int i;

	(void)state;
	capture_and_get_cookie(initiation);
	victim = A->addr;
	for (i = 0; i < 15 * 10000 && !B->delivered; i++) { /* up to 15 s */
		h_inject(&net, 1, initiation, sizeof(initiation), &victim, NULL);
		h_run_for(&net, 100 * 1000 - 9);
	}
	assert_int_equal(B->delivered, 1);
	assert_true(h_drops(B, WGC_DROP_COOKIE_LIMITED) > 0);
	assert_int_equal(h_drops(B, WGC_DROP_RATE_LIMITED), 0);
}

/* Injects the initiation into B from per_ms new sources each millisecond (10.x.y.z, port 666)
 * for up to 15 s, until B has delivered a packet (A's session is up). */
static void flood_from_new_sources(const uint8_t initiation[148], int per_ms)
{
	struct wgc_addr from = { .family = WGC_AF_INET, .port = 666 };
	uint32_t n = 0;

	for (int i = 0; i < 15 * 1000 && !B->delivered; i++) {
		for (int j = 0; j < per_ms; j++, n++) {
			from.ip[0] = 10;
			from.ip[1] = (uint8_t)(n >> 16);
			from.ip[2] = (uint8_t)(n >> 8);
			from.ip[3] = (uint8_t)n;
			h_inject(&net, 1, initiation, 148, &from, NULL);
		}
		h_run_for(&net, 1 * MSEC - 9);
	}
}

/* A flood from 250,000 spoofed sources a second fills the cookie-reply table, never the
 * handshake limiter's (only mac2-valid sources enter that one): A, holding a cookie, gets its
 * session at its next retry. */
static void test_many_sources_do_not_fill_the_handshake_limiter(void **state)
{
	uint8_t initiation[148];

	(void)state;
	capture_and_get_cookie(initiation);
	flood_from_new_sources(initiation, 250); /* 250,000 sources a second */
	assert_int_equal(B->delivered, 1);
	assert_int_equal(h_drops(B, WGC_DROP_RATE_LIMITED), 0);
}

/* A peer without a cookie, under a flood from 10,000 new sources a second (below the
 * endpoint's budget, so every source is answered): the full cookie table evicts instead of
 * refusing, A gets its cookie at once and its session at the retry. */
static void test_new_peer_gets_a_cookie_under_many_source_flood(void **state)
{
	uint8_t initiation[148];
	uint64_t start = net.now;

	(void)state;
	net.is_down[1] = true;
	h_send(&net, 0, 1);
	memcpy(initiation, net.inflight[0].data, sizeof(initiation));
	net.inflight_count = 0;
	net.is_down[1] = false;
	net.filter = report_load_on_b;
	flood_from_new_sources(initiation, 10);
	assert_int_equal(B->delivered, 1);
	/* The first initiation was lost, the retry earned the cookie, the next one the session. */
	assert_true(net.now - start < 12 * SEC);
}

static void test_roaming(void **state)
{
	struct wgc_addr seen;
	struct wgc_addr old;

	(void)state;
	establish();
	old = A->addr;
	A->addr.ip[3] = 99;
	A->addr.port = 4242;
	h_send(&net, 0, 2);
	h_run_for(&net, 1 * SEC);
	assert_true(wgc_peer_get_endpoint(B->peer, &seen));
	assert_memory_equal(seen.ip, A->addr.ip, 4);
	assert_int_equal(seen.port, 4242);
	/* An unauthenticated datagram claiming to be from the old address changes nothing. */
	{
		uint8_t junk[64] = { 4, 0, 0, 0 };

		memcpy(junk + 4, &B->peer->keypairs.current->entry.index, 4);
		junk[9] = 1; /* a counter not seen yet, so it is tried and fails to decrypt */
		h_inject(&net, 1, junk, sizeof(junk), &old, NULL);
		assert_true(wgc_peer_get_endpoint(B->peer, &seen));
		assert_int_equal(seen.port, 4242);
		assert_int_equal(h_drops(B, WGC_DROP_DECRYPT_FAILED), 1);
	}
	/* B's replies follow A. */
	h_send(&net, 1, 3);
	assert_int_equal(net.inflight[net.inflight_count - 1].to, 0);
	h_run_for(&net, 1 * SEC);
	assert_int_equal(A->delivered, 1);
}

static struct h_datagram held_datagram;
static bool hold_first_data(struct h_net *n, int from, struct h_datagram *d)
{
	(void)n;
	if (from == 0 && d->data[0] == 4 && d->len > 32 && held_datagram.len == 0) {
		held_datagram = *d;
		return false;
	}
	return true;
}

static void test_replay_and_reorder_end_to_end(void **state)
{
	enum wgc_drop_reason reason;
	uint64_t delivered;

	(void)state;
	establish();
	/* Duplicate of a delivered datagram is refused. */
	net.filter = hold_first_data;
	h_send(&net, 0, 2);
	net.filter = NULL;
	assert_int_equal(h_inject(&net, 1, held_datagram.data, held_datagram.len, &A->addr,
				  &reason), WGC_VERDICT_DONE);
	assert_int_equal(h_inject(&net, 1, held_datagram.data, held_datagram.len, &A->addr,
				  &reason), WGC_VERDICT_DROP);
	assert_int_equal(reason, WGC_DROP_REPLAYED);

	/* Heavy reordering within the window: every packet exactly once. */
	net.jitter_ns = 200 * MSEC;
	delivered = B->delivered;
	for (uint16_t i = 100; i < 600; i++)
		h_send(&net, 0, i);
	h_run_for(&net, 2 * SEC);
	assert_int_equal(B->delivered, delivered + 500);
	assert_int_equal(B->duplicates_delivered, 0);

	/* A packet held back while more than 8128 newer ones arrive is too old. */
	net.jitter_ns = 0;
	memset(&held_datagram, 0, sizeof(held_datagram));
	net.filter = hold_first_data;
	for (uint16_t i = 1000; i < 1000 + 8200; i++) {
		h_send(&net, 0, i);
		if (i % 500 == 0)
			h_run_for(&net, 20 * MSEC);
	}
	net.filter = NULL;
	h_run_for(&net, 1 * SEC);
	assert_int_equal(h_inject(&net, 1, held_datagram.data, held_datagram.len, &A->addr,
				  &reason), WGC_VERDICT_DROP);
	assert_int_equal(reason, WGC_DROP_REPLAYED);
}

static void test_lossy_duplicating_network(void **state)
{
	(void)state;
	net.drop_permille = 100;
	net.dup_permille = 50;
	net.jitter_ns = 30 * MSEC;
	for (uint16_t i = 1; i <= 1000; i++) {
		h_send(&net, 0, i);
		h_run_for(&net, 10 * MSEC);
	}
	h_run_for(&net, 30 * SEC);
	assert_int_equal(B->duplicates_delivered, 0);
	assert_true(B->delivered >= 800);
	assert_true(B->delivered <= 1000);
	assert_true(h_drops(B, WGC_DROP_REPLAYED) > 0); /* the duplicates were seen and refused */
}

static void test_allowed_ips_routing_and_source_check(void **state)
{
	struct wgc_prefix a6 = { .family = WGC_AF_INET6, .cidr = 128, .ip = { 0xfd, [15] = 1 } };
	struct wgc_prefix b6 = { .family = WGC_AF_INET6, .cidr = 128, .ip = { 0xfd, [15] = 2 } };
	static uint8_t buf[H_BUF];
	struct wgc_action list[4];
	uint8_t scratch[512];
	struct wgc_actions out = { list, 4, 0, scratch, sizeof(scratch), 0 };

	(void)state;
	establish();
	/* No peer owns 10.0.0.9. */
	assert_int_equal(h_send_ip(&net, 0, 1, 9, 2, 0), WGC_VERDICT_DROP);
	assert_int_equal(h_drops(A, WGC_DROP_NO_ROUTE), 1);
	/* A sends with an inner source B does not allow for A. */
	assert_int_equal(h_send_ip(&net, 0, 7, 2, 3, 0), WGC_VERDICT_DONE);
	h_run_for(&net, 1 * SEC);
	assert_int_equal(B->delivered, 1);
	assert_int_equal(h_drops(B, WGC_DROP_SOURCE_NOT_ALLOWED), 1);

	/* IPv6 inside the tunnel, routed and checked the same way. */
	assert_int_equal(wgc_allowedip_insert(A->ep, A->peer, &b6), WGC_OK);
	assert_int_equal(wgc_allowedip_insert(B->ep, B->peer, &a6), WGC_OK);
	memset(buf, 0, sizeof(buf));
	buf[16] = 0x60;
	buf[16 + 5] = 8;    /* payload length */
	buf[16 + 6] = 253;  /* next header */
	buf[16 + 7] = 64;
	memcpy(buf + 16 + 8, a6.ip, 16);
	memcpy(buf + 16 + 24, b6.ip, 16);
	assert_int_equal(wgc_send(A->ep, net.now, NULL, buf, sizeof(buf), 48, &out),
			 WGC_VERDICT_DONE);
	h_run_actions(&net, 0, &out);
	h_run_for(&net, 1 * SEC);
	assert_int_equal(B->delivered, 2);
	assert_int_equal(B->last_delivered_len, 48);
	assert_int_equal(B->last_delivered[0] >> 4, 6);
}

static void test_peer_without_endpoint_learns_it(void **state)
{
	struct wgc_addr none = { .family = WGC_AF_NONE };

	(void)state;
	assert_int_equal(wgc_peer_set_endpoint(A->peer, &none), WGC_OK);
	/* A cannot reach B: the packet is dropped at once (the caller answers it with ICMP, as
	 * the kernel does) and no initiation goes anywhere. */
	assert_int_equal(h_send(&net, 0, 1), WGC_VERDICT_DROP);
	assert_int_equal(h_drops(A, WGC_DROP_NO_ENDPOINT), 1);
	assert_int_equal(A->sent_by_type[1], 0);
	/* B initiates; A answers to B's source, so it has learnt B's endpoint. */
	h_send(&net, 1, 1);
	h_run_for(&net, 1 * SEC);
	assert_int_equal(A->delivered, 1);
	assert_int_equal(B->delivered, 0);
	/* ... and reaches B from now on. */
	h_send(&net, 0, 1);
	h_run_for(&net, 1 * SEC);
	assert_int_equal(B->delivered, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(test_handshake_initiated_by_a),
		T(test_handshake_initiated_by_b),
		T(test_simultaneous_initiation),
		T(test_data_both_ways),
		T(test_rekey_after_time_by_initiator),
		T(test_rekey_from_receive_side),
		T(test_rekey_after_messages),
		T(test_expiry_and_key_zeroing),
		T(test_retransmit_with_jitter_and_give_up),
		T(test_passive_keepalive_and_dead_peer),
		T(test_persistent_keepalive),
		T(test_cookie_under_load),
		T(test_cookie_replies_budgeted_in_all),
		T(test_flood_does_not_lock_out_legitimate_peer),
		T(test_spoofing_a_peer_does_not_lock_it_out),
		T(test_many_sources_do_not_fill_the_handshake_limiter),
		T(test_new_peer_gets_a_cookie_under_many_source_flood),
		T(test_roaming),
		T(test_replay_and_reorder_end_to_end),
		T(test_lossy_duplicating_network),
		T(test_allowed_ips_routing_and_source_check),
		T(test_peer_without_endpoint_learns_it),
#undef T
	};

	return cmocka_run_group_tests_name("session", tests, NULL, NULL);
}
