/* SPDX-License-Identifier: MIT */
/*
 * Bad input: every received datagram of every type and length is dropped with one specific,
 * counted reason, emits no action (in particular no reply to anything that fails mac1), and leaves
 * every observable piece of state as it was. Length sweeps per message type, byte-by-byte tamper
 * sweeps of real handshake, cookie and data messages, replayed and flooded initiations, an
 * initiation from a stranger that knows our public key, and configuration calls with invalid
 * arguments.
 *
 * Which bytes may be changed without rejection: only mac2 (the last 16 bytes of an initiation or a
 * response) when the receiver is not under load, because mac2 is then not checked at all
 * (whitepaper 5.3). Under load a changed mac2 is answered with a cookie reply instead. Every other
 * byte of every message is covered by mac1, an AEAD tag, or the type/length check.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/cookie.h"
#include "core/messages.h"
#include "core/ratelimiter.h"
#include "crypto/crypto.h"
#include "harness.h"

enum { SEED = 11, BIG = 65535 };

struct fixture {
	struct h_net net;
	struct wgc_action list[16];
	uint8_t scratch[2048];
	struct wgc_actions out;
	uint8_t buf[H_BUF];
};

static struct fixture fx;
/* Received datagrams are decrypted in place, so every feed works on a copy here. */
static uint8_t rx[BIG + 64];
static uint8_t msg[BIG + 64];

static const struct wgc_addr stranger4 = {
    .family = WGC_AF_INET, .port = 4444, .ip = {198, 51, 100, 7}};
static const struct wgc_addr stranger6 = {
    .family = WGC_AF_INET6,
    .port = 5555,
    .ip = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9},
};

static int setup(void **state)
{
	memset(&fx, 0, sizeof(fx));
	h_net_init(&fx.net, SEED);
	*state = &fx;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	h_net_free(&fx.net);
	return 0;
}

/* Starts over with the same seed: every message below comes out byte for byte the same again. */
static void restart(void)
{
	h_net_free(&fx.net);
	memset(&fx, 0, sizeof(fx));
	h_net_init(&fx.net, SEED);
}

static void reset_out(void)
{
	fx.out = (struct wgc_actions){fx.list, 16, 0, fx.scratch, sizeof(fx.scratch), 0};
}

static struct h_node *node(int id)
{
	return &fx.net.node[id];
}

/* The address node id's datagrams come from. */
static const struct wgc_addr *addr_of(int id)
{
	return &fx.net.node[id].addr;
}

/* ---- observable state ---- */

struct snapshot {
	struct wgc_peer_stats stats;
	bool has_endpoint;
	struct wgc_addr endpoint;
	uint64_t deadline;
	uint32_t peer_count;
	uint64_t drops[WGC_DROP__COUNT];
};

static void snap(int id, struct snapshot *s)
{
	memset(s, 0, sizeof(*s));
	wgc_peer_get_stats(node(id)->peer, &s->stats);
	s->has_endpoint = wgc_peer_get_endpoint(node(id)->peer, &s->endpoint);
	s->deadline = wgc_endpoint_next_deadline(node(id)->ep);
	s->peer_count = wgc_endpoint_peer_count(node(id)->ep);
	(void)wgc_endpoint_get_drops(node(id)->ep, s->drops, WGC_DROP__COUNT);
}

/* NULL if b equals a except drops[counted] one higher; else what differs. counted NONE: any one
 * counter one higher. */
static const char *snap_diff(const struct snapshot *a, const struct snapshot *b,
                             enum wgc_drop_reason counted)
{
	int bumped = -1;

	if (a->stats.rx_bytes != b->stats.rx_bytes || a->stats.tx_bytes != b->stats.tx_bytes)
		return "peer byte counters";
	if (a->stats.has_handshake != b->stats.has_handshake ||
	    a->stats.last_handshake_ns != b->stats.last_handshake_ns ||
	    a->stats.last_handshake_wall_ns != b->stats.last_handshake_wall_ns)
		return "peer handshake time";
	if (a->stats.has_session != b->stats.has_session)
		return "peer session";
	if (a->has_endpoint != b->has_endpoint || a->endpoint.family != b->endpoint.family ||
	    a->endpoint.port != b->endpoint.port || a->endpoint.scope_id != b->endpoint.scope_id ||
	    memcmp(a->endpoint.ip, b->endpoint.ip, sizeof(a->endpoint.ip)) != 0)
		return "peer endpoint";
	if (a->deadline != b->deadline)
		return "next deadline";
	if (a->peer_count != b->peer_count)
		return "peer count";
	for (int r = 0; r < WGC_DROP__COUNT; r++) {
		if (a->drops[r] == b->drops[r])
			continue;
		if (b->drops[r] != a->drops[r] + 1 || bumped >= 0)
			return "drop counters";
		bumped = r;
	}
	if (bumped < 0)
		return "drop counters (nothing counted)";
	if (counted != WGC_DROP_NONE && bumped != (int)counted)
		return "drop counters (another reason counted)";
	return NULL;
}

/* ---- feeding ---- */

/* Runs prepare (+ open + commit) on a copy of m; returns the verdict and the job's reason. */
static enum wgc_verdict receive(int id, const uint8_t *m, size_t len, const struct wgc_addr *src,
                                enum wgc_drop_reason *reason)
{
	struct wgc_receive_job job;
	enum wgc_verdict v;

	reset_out();
	memcpy(rx, m, len);
	v = wgc_receive_prepare(node(id)->ep, fx.net.now, rx, len, src, &job, &fx.out);
	if (v == WGC_VERDICT_CRYPTO) {
		wgc_receive_open(&job);
		v = wgc_receive_commit(node(id)->ep, fx.net.now, &job, &fx.out);
	}
	*reason = job.drop;
	return v;
}

/*
 * Requires m to be dropped by node id with reason want (NONE: any reason), with no action and no
 * change but that one counter. what and n name the case in a failure message.
 */
static void expect_drop(int id, const uint8_t *m, size_t len, const struct wgc_addr *src,
                        enum wgc_drop_reason want, const char *what, long n)
{
	struct snapshot before;
	struct snapshot after;
	enum wgc_drop_reason got;
	enum wgc_verdict v;
	const char *diff;

	snap(id, &before);
	v = receive(id, m, len, src, &got);
	snap(id, &after);
	if (v != WGC_VERDICT_DROP || (want != WGC_DROP_NONE && got != want))
		fail_msg("%s, case %ld (len %zu): verdict %d, drop %s; want drop %s", what, n, len,
		         v, wgc_drop_reason_str(got), wgc_drop_reason_str(want));
	if (fx.out.count != 0)
		fail_msg("%s, case %ld (len %zu): %zu action(s) emitted, the first of kind %d",
		         what, n, len, fx.out.count, fx.out.list[0].kind);
	diff = snap_diff(&before, &after, got);
	if (diff)
		fail_msg("%s, case %ld (len %zu): %s changed", what, n, len, diff);
}

static enum wgc_verdict feed(int id, const uint8_t *m, size_t len, const struct wgc_addr *src)
{
	enum wgc_drop_reason reason;

	return receive(id, m, len, src, &reason);
}

/* Asks node id to send a 22-byte IPv4 packet to the other node. */
static enum wgc_verdict send_packet(int id, uint16_t seq)
{
	uint8_t *p = fx.buf + WGC_DATA_HEADROOM;

	memset(fx.buf, 0, sizeof(fx.buf));
	p[0] = 0x45;
	p[3] = 22;
	p[8] = 64;
	p[9] = 253;
	p[12] = 10, p[15] = (uint8_t)(id + 1);
	p[16] = 10, p[19] = (uint8_t)(2 - id);
	p[20] = (uint8_t)(seq >> 8);
	p[21] = (uint8_t)seq;
	reset_out();
	return wgc_send(node(id)->ep, fx.net.now, NULL, fx.buf, sizeof(fx.buf), 22, &fx.out);
}

/* Copies action i, which must be a SEND of len bytes, to dst. */
static void take_send(size_t i, uint8_t *dst, size_t len)
{
	assert_true(fx.out.count > i);
	assert_int_equal(fx.out.list[i].kind, WGC_ACTION_SEND);
	assert_int_equal(fx.out.list[i].len, len);
	memcpy(dst, fx.out.list[i].data, len);
}

static void tick(int id)
{
	reset_out();
	wgc_endpoint_tick(node(id)->ep, fx.net.now, &fx.out);
}

/* ---- a real exchange, step by step (node 0 initiates) ---- */

struct exchange {
	uint8_t init[INIT_LEN];
	uint8_t resp[RESP_LEN];
	uint8_t keepalive[DATA_MIN_LEN];
	uint8_t data[64]; /* node 1 -> node 0, counter 0 under the new session */
};

static void capture_initiation(struct exchange *x)
{
	assert_int_equal(send_packet(0, 1), WGC_VERDICT_STAGE);
	assert_int_equal(fx.out.count, 1);
	take_send(0, x->init, INIT_LEN);
}

static void capture_response(struct exchange *x)
{
	assert_int_equal(feed(1, x->init, INIT_LEN, addr_of(0)), WGC_VERDICT_DONE);
	assert_int_equal(fx.out.count, 1);
	take_send(0, x->resp, RESP_LEN);
}

static void capture_keepalive(struct exchange *x)
{
	assert_int_equal(feed(0, x->resp, RESP_LEN, addr_of(1)), WGC_VERDICT_DONE);
	assert_int_equal(fx.out.count, 2);
	take_send(0, x->keepalive, DATA_MIN_LEN);
	assert_int_equal(fx.out.list[1].kind, WGC_ACTION_FLUSH);
}

static void capture_data(struct exchange *x)
{
	assert_int_equal(feed(1, x->keepalive, DATA_MIN_LEN, addr_of(0)), WGC_VERDICT_DONE);
	assert_int_equal(send_packet(1, 2), WGC_VERDICT_DONE);
	assert_int_equal(fx.out.count, 1);
	take_send(0, x->data, sizeof(x->data));
}

static void capture_all(struct exchange *x)
{
	capture_initiation(x);
	capture_response(x);
	capture_keepalive(x);
	capture_data(x);
}

/* ---- (a) length sweeps ---- */

/* The drop the spec requires for a datagram whose content authenticates nothing: the type and
 * length checks first, then mac1 for handshakes, the receiver index for cookie replies and data. */
static enum wgc_drop_reason garbage_reason(const uint8_t *m, size_t len)
{
	if (len < 4)
		return WGC_DROP_SHORT;
	switch (wgc_load_le32(m)) {
	case MESSAGE_HANDSHAKE_INITIATION:
		return len == INIT_LEN ? WGC_DROP_BAD_MAC1 : WGC_DROP_BAD_LENGTH;
	case MESSAGE_HANDSHAKE_RESPONSE:
		return len == RESP_LEN ? WGC_DROP_BAD_MAC1 : WGC_DROP_BAD_LENGTH;
	case MESSAGE_HANDSHAKE_COOKIE:
		return len == COOKIE_REPLY_LEN ? WGC_DROP_UNKNOWN_INDEX : WGC_DROP_BAD_LENGTH;
	case MESSAGE_DATA:
		return len < DATA_MIN_LEN ? WGC_DROP_SHORT : WGC_DROP_UNKNOWN_INDEX;
	default:
		return WGC_DROP_BAD_TYPE;
	}
}

static const uint8_t headers[][4] = {
    {1, 0, 0, 0}, {2, 0, 0, 0},   {3, 0, 0, 0}, {4, 0, 0, 0},    {0, 0, 0, 0},
    {5, 0, 0, 0}, {255, 0, 0, 0}, {1, 1, 0, 0}, {1, 0, 0, 0x80}, {4, 0, 1, 0},
};

static const size_t big_lengths[] = {201, 255, 256, 511, 1024, 1420, 1500, 2048, 4096, 9000, BIG};

/* Every header, every length 0..200 and some up to 65535, zero and random filling, from a
 * stranger and from the peer's own address. */
static void sweep_lengths(int id, const char *what)
{
	const size_t small = 201;
	const size_t count = small + sizeof(big_lengths) / sizeof(big_lengths[0]);
	struct h_rng fill;
	long n = 0;

	h_rng_seed(&fill, 77);
	for (size_t h = 0; h < sizeof(headers) / sizeof(headers[0]); h++) {
		for (size_t k = 0; k < count; k++) {
			size_t len = k < small ? k : big_lengths[k - small];

			for (int pattern = 0; pattern < 2; pattern++) {
				const struct wgc_addr *src = pattern ? addr_of(1 - id) : &stranger4;

				if (pattern)
					for (size_t i = 0; i < len; i++)
						msg[i] = (uint8_t)h_rng_next(&fill);
				else
					memset(msg, 0, len);
				memcpy(msg, headers[h], len < 4 ? len : 4);
				expect_drop(id, msg, len, src, garbage_reason(msg, len), what, ++n);
			}
		}
	}
}

static void test_length_sweep_fresh(void **state)
{
	(void)state;
	sweep_lengths(0, "fresh node 0");
	sweep_lengths(1, "fresh node 1");
}

static void test_length_sweep_pending_handshake(void **state)
{
	struct exchange x;

	(void)state;
	capture_initiation(&x);
	sweep_lengths(0, "initiator waiting for a response");
	/* The handshake is still intact. */
	capture_response(&x);
	capture_keepalive(&x);
}

static void test_length_sweep_live_session(void **state)
{
	struct exchange x;

	(void)state;
	capture_all(&x);
	sweep_lengths(0, "live session, node 0");
	sweep_lengths(1, "live session, node 1");
	/* Under load nothing changes: none of this passes mac1, so no cookie reply goes out. */
	wgc_endpoint_report_load(node(1)->ep, fx.net.now);
	sweep_lengths(1, "live session, node 1 under load");
	assert_int_equal(feed(0, x.data, sizeof(x.data), addr_of(1)), WGC_VERDICT_DONE);
	assert_int_equal(fx.out.count, 1);
	assert_int_equal(fx.out.list[0].kind, WGC_ACTION_DELIVER);
}

/* Without a private key no handshake message is read at all. */
static void test_no_identity(void **state)
{
	struct exchange x;
	uint8_t key[WGC_KEY_LEN];

	(void)state;
	capture_initiation(&x);
	assert_int_equal(wgc_endpoint_set_private_key(node(1)->ep, NULL, fx.net.now), WGC_OK);
	assert_false(wgc_endpoint_get_public_key(node(1)->ep, key));
	expect_drop(1, x.init, INIT_LEN, addr_of(0), WGC_DROP_NO_IDENTITY, "no key, initiation", 1);
	memset(msg, 0xa5, INIT_LEN);
	memcpy(msg, headers[0], 4);
	expect_drop(1, msg, INIT_LEN, addr_of(0), WGC_DROP_NO_IDENTITY, "no key, garbage init", 2);
	memcpy(msg, headers[1], 4);
	expect_drop(1, msg, RESP_LEN, addr_of(0), WGC_DROP_NO_IDENTITY, "no key, garbage resp", 3);
	memcpy(msg, headers[2], 4);
	expect_drop(1, msg, COOKIE_REPLY_LEN, addr_of(0), WGC_DROP_UNKNOWN_INDEX, "no key, cookie",
	            4);
	memcpy(msg, headers[3], 4);
	expect_drop(1, msg, 48, addr_of(0), WGC_DROP_UNKNOWN_INDEX, "no key, data", 5);
}

/* Stamps a valid mac1 for the receiver's public key on a handshake message of len bytes. */
static void stamp_mac1(uint8_t *m, size_t len, const uint8_t receiver_public[WGC_KEY_LEN])
{
	struct wgc_cookie_maker maker;

	wgc_cookie_maker_init(&maker, receiver_public);
	wgc_cookie_add_macs(&maker, m, len, 0);
}

/* Content that gets past the index lookup or mac1 and fails later, each reason on its own. */
static void test_garbage_past_the_first_checks(void **state)
{
	struct exchange x;
	uint32_t pending;
	uint32_t session0;
	uint32_t session1;
	long n = 0;

	(void)state;
	capture_initiation(&x);
	pending = wgc_load_le32(x.init + INIT_OFF_SENDER);

	/* Addressed to node 0's pending handshake: a cookie reply that does not decrypt, data (a
	 * handshake index is not a session), a response with good mac1 but bad content. */
	memset(msg, 0x5a, BIG);
	wgc_store_le32(msg, MESSAGE_HANDSHAKE_COOKIE);
	wgc_store_le32(msg + COOKIE_OFF_RECEIVER, pending);
	expect_drop(0, msg, COOKIE_REPLY_LEN, addr_of(1), WGC_DROP_COOKIE_INVALID, "cookie", ++n);
	wgc_store_le32(msg, MESSAGE_DATA);
	for (size_t len = DATA_MIN_LEN; len <= 200; len++)
		expect_drop(0, msg, len, addr_of(1), WGC_DROP_UNEXPECTED, "data to handshake",
		            ++n);
	wgc_store_le32(msg, MESSAGE_HANDSHAKE_RESPONSE);
	wgc_store_le32(msg + RESP_OFF_RECEIVER, pending);
	stamp_mac1(msg, RESP_LEN, node(0)->public_key);
	expect_drop(0, msg, RESP_LEN, addr_of(1), WGC_DROP_HANDSHAKE_INVALID, "response", ++n);
	memset(msg + RESP_OFF_EPHEMERAL, 0, NOISE_PUBLIC_KEY_LEN); /* a zero DH */
	stamp_mac1(msg, RESP_LEN, node(0)->public_key);
	expect_drop(0, msg, RESP_LEN, addr_of(1), WGC_DROP_HANDSHAKE_INVALID, "response e=0", ++n);
	/* Each of these takes a keypair from the pool of 12 and must give it back. */
	for (int i = 0; i < 40; i++) {
		msg[RESP_OFF_EPHEMERAL] = (uint8_t)(i + 1);
		msg[RESP_OFF_EPHEMERAL + 1] = 9;
		stamp_mac1(msg, RESP_LEN, node(0)->public_key);
		expect_drop(0, msg, RESP_LEN, addr_of(1), WGC_DROP_HANDSHAKE_INVALID,
		            "response loop", ++n);
	}
	wgc_store_le32(msg + RESP_OFF_RECEIVER, pending ^ 1);
	stamp_mac1(msg, RESP_LEN, node(0)->public_key);
	expect_drop(0, msg, RESP_LEN, addr_of(1), WGC_DROP_UNKNOWN_INDEX, "response index", ++n);

	/* Initiations with a good mac1 but nothing valid behind it. */
	memset(msg, 0x3c, INIT_LEN);
	wgc_store_le32(msg, MESSAGE_HANDSHAKE_INITIATION);
	stamp_mac1(msg, INIT_LEN, node(1)->public_key);
	expect_drop(1, msg, INIT_LEN, addr_of(0), WGC_DROP_HANDSHAKE_INVALID, "initiation", ++n);
	memset(msg + INIT_OFF_EPHEMERAL, 0, NOISE_PUBLIC_KEY_LEN);
	stamp_mac1(msg, INIT_LEN, node(1)->public_key);
	expect_drop(1, msg, INIT_LEN, &stranger6, WGC_DROP_HANDSHAKE_INVALID, "initiation e=0",
	            ++n);

	/* The real exchange still completes. */
	capture_response(&x);
	capture_keepalive(&x);
	capture_data(&x);
	session0 = wgc_load_le32(x.data + DATA_OFF_RECEIVER);
	session1 = wgc_load_le32(x.resp + RESP_OFF_SENDER);

	/* Data under live sessions: too high a counter, a bad tag, from the peer and strangers. */
	memset(msg, 0x77, BIG);
	wgc_store_le32(msg, MESSAGE_DATA);
	wgc_store_le32(msg + DATA_OFF_RECEIVER, session0);
	for (size_t len = DATA_MIN_LEN; len <= 200; len += 7) {
		wgc_store_le64(msg + DATA_OFF_COUNTER, len);
		expect_drop(0, msg, len, addr_of(1), WGC_DROP_DECRYPT_FAILED, "bad tag", ++n);
		expect_drop(0, msg, len, &stranger4, WGC_DROP_DECRYPT_FAILED, "bad tag 4", ++n);
		expect_drop(0, msg, len, &stranger6, WGC_DROP_DECRYPT_FAILED, "bad tag 6", ++n);
	}
	expect_drop(0, msg, BIG, &stranger4, WGC_DROP_DECRYPT_FAILED, "bad tag, 64 KiB", ++n);
	wgc_store_le64(msg + DATA_OFF_COUNTER, REJECT_AFTER_MESSAGES);
	expect_drop(0, msg, 48, &stranger4, WGC_DROP_EXPIRED_KEYPAIR, "counter at limit", ++n);
	wgc_store_le64(msg + DATA_OFF_COUNTER, UINT64_MAX);
	expect_drop(0, msg, 48, &stranger4, WGC_DROP_EXPIRED_KEYPAIR, "counter max", ++n);
	wgc_store_le64(msg + DATA_OFF_COUNTER, 0); /* the real counter-0 message was delivered */
	assert_int_equal(feed(0, x.data, sizeof(x.data), addr_of(1)), WGC_VERDICT_DONE);
	expect_drop(0, msg, 48, &stranger4, WGC_DROP_REPLAYED, "counter seen", ++n);
	wgc_store_le32(msg + DATA_OFF_RECEIVER, session1);
	wgc_store_le64(msg + DATA_OFF_COUNTER, 5);
	expect_drop(1, msg, 64, &stranger4, WGC_DROP_DECRYPT_FAILED, "bad tag at node 1", ++n);

	/* A cookie reply addressed to a session index: found, but does not decrypt. */
	memset(msg, 0x42, COOKIE_REPLY_LEN);
	wgc_store_le32(msg, MESSAGE_HANDSHAKE_COOKIE);
	wgc_store_le32(msg + COOKIE_OFF_RECEIVER, session0);
	expect_drop(0, msg, COOKIE_REPLY_LEN, &stranger4, WGC_DROP_COOKIE_INVALID, "cookie", ++n);
	wgc_store_le32(msg + COOKIE_OFF_RECEIVER, session1);
	expect_drop(1, msg, COOKIE_REPLY_LEN, &stranger4, WGC_DROP_COOKIE_INVALID, "cookie", ++n);
	/* A response addressed to a session index is not awaited. */
	memset(msg, 0x42, RESP_LEN);
	wgc_store_le32(msg, MESSAGE_HANDSHAKE_RESPONSE);
	wgc_store_le32(msg + RESP_OFF_RECEIVER, session0);
	stamp_mac1(msg, RESP_LEN, node(0)->public_key);
	expect_drop(0, msg, RESP_LEN, addr_of(1), WGC_DROP_UNEXPECTED, "response", ++n);
}

/* ---- (b) tamper sweeps ---- */

static const uint8_t masks[] = {0x01, 0x80, 0xff};
enum { MASKS = sizeof(masks) };

/* A flip in the type/reserved bytes makes an unknown type or a known type of the wrong length. */
static enum wgc_drop_reason header_flip_reason(const uint8_t *m, size_t len)
{
	enum wgc_drop_reason r = garbage_reason(m, len);

	assert_true(r == WGC_DROP_BAD_TYPE || r == WGC_DROP_BAD_LENGTH);
	return r;
}

/*
 * Flips byte i of m (len bytes) with each mask and requires the reason reason_of(i) from node id.
 * reason_of returning NONE skips the byte (checked elsewhere).
 */
static void sweep_bytes(int id, const uint8_t *m, size_t len, const struct wgc_addr *src,
                        enum wgc_drop_reason (*reason_of)(size_t i), const char *what)
{
	static uint8_t t[H_BUF];

	for (size_t i = 0; i < len; i++) {
		for (int k = 0; k < MASKS; k++) {
			enum wgc_drop_reason want;

			memcpy(t, m, len);
			t[i] ^= masks[k];
			want = i < 4 ? header_flip_reason(t, len) : reason_of(i);
			if (want == WGC_DROP_NONE)
				continue;
			expect_drop(id, t, len, src, want, what, (long)(i * MASKS + (size_t)k));
		}
	}
}

static enum wgc_drop_reason initiation_reason(size_t i)
{
	return i < INIT_OFF_MAC2 ? WGC_DROP_BAD_MAC1 : WGC_DROP_NONE;
}

static enum wgc_drop_reason response_reason(size_t i)
{
	return i < RESP_OFF_MAC2 ? WGC_DROP_BAD_MAC1 : WGC_DROP_NONE;
}

static enum wgc_drop_reason cookie_reason(size_t i)
{
	return i < COOKIE_OFF_NONCE ? WGC_DROP_UNKNOWN_INDEX : WGC_DROP_COOKIE_INVALID;
}

static enum wgc_drop_reason data_reason(size_t i)
{
	/* Counter bytes: the counter is the AEAD nonce, so a changed one fails the tag. (A flip
	 * cannot reach REJECT_AFTER_MESSAGES or a seen counter: the message carries counter 0.) */
	return i < DATA_OFF_COUNTER ? WGC_DROP_UNKNOWN_INDEX : WGC_DROP_DECRYPT_FAILED;
}

static void test_tamper_initiation(void **state)
{
	struct exchange x;

	(void)state;
	capture_initiation(&x);
	sweep_bytes(1, x.init, INIT_LEN, addr_of(0), initiation_reason, "initiation byte");
	/* Nothing was consumed: the real message is answered as if first seen. */
	capture_response(&x);
}

/* Not under load mac2 is not read: an initiation or response with any mac2 is processed exactly
 * as the original (same reply, byte for byte, since the run is deterministic). */
static void test_tamper_mac2_ignored_when_not_under_load(void **state)
{
	struct exchange ref;
	struct exchange x;

	(void)state;
	capture_all(&ref);
	for (size_t i = INIT_OFF_MAC2; i < INIT_LEN; i++) {
		for (int k = 0; k < MASKS; k++) {
			restart();
			capture_initiation(&x);
			assert_memory_equal(x.init, ref.init, INIT_LEN);
			x.init[i] ^= masks[k];
			capture_response(&x);
			if (memcmp(x.resp, ref.resp, RESP_LEN) != 0)
				fail_msg("initiation mac2 byte %zu mask %02x: different response",
				         i, masks[k]);
		}
	}
	for (size_t i = RESP_OFF_MAC2; i < RESP_LEN; i++) {
		for (int k = 0; k < MASKS; k++) {
			restart();
			capture_initiation(&x);
			capture_response(&x);
			x.resp[i] ^= masks[k];
			capture_keepalive(&x);
			if (memcmp(x.keepalive, ref.keepalive, DATA_MIN_LEN) != 0)
				fail_msg("response mac2 byte %zu mask %02x: different keepalive", i,
				         masks[k]);
		}
	}
}

static void test_tamper_response(void **state)
{
	struct exchange x;

	(void)state;
	capture_initiation(&x);
	capture_response(&x);
	sweep_bytes(0, x.resp, RESP_LEN, addr_of(1), response_reason, "response byte");
	capture_keepalive(&x);
}

static void test_tamper_data(void **state)
{
	struct exchange x;
	long n = 0;

	(void)state;
	capture_all(&x);
	sweep_bytes(0, x.data, sizeof(x.data), addr_of(1), data_reason, "data byte");
	/* The same from an address the peer has never used: no roaming on unauthenticated data. */
	sweep_bytes(0, x.data, sizeof(x.data), &stranger6, data_reason, "data byte, new address");
	/* Cut short or padded out: the tag no longer matches (or it is too short to be data). */
	memset(msg, 0, sizeof(x.data) + 64);
	memcpy(msg, x.data, sizeof(x.data));
	for (size_t len = 0; len <= sizeof(x.data) + 64; len++) {
		if (len == sizeof(x.data))
			continue;
		expect_drop(0, msg, len, addr_of(1),
		            len < 4 || len < DATA_MIN_LEN ? WGC_DROP_SHORT
		                                          : WGC_DROP_DECRYPT_FAILED,
		            "data length", ++n);
	}
	/* The real one is delivered, once; a copy from a new address is a replay and moves
	 * nothing. */
	assert_int_equal(feed(0, x.data, sizeof(x.data), addr_of(1)), WGC_VERDICT_DONE);
	assert_int_equal(fx.out.count, 1);
	assert_int_equal(fx.out.list[0].kind, WGC_ACTION_DELIVER);
	expect_drop(0, x.data, sizeof(x.data), &stranger4, WGC_DROP_REPLAYED, "replayed data", ++n);
	expect_drop(0, x.keepalive, DATA_MIN_LEN, &stranger4, WGC_DROP_UNKNOWN_INDEX,
	            "keepalive sent to the other side", ++n);
	expect_drop(1, x.keepalive, DATA_MIN_LEN, &stranger4, WGC_DROP_REPLAYED,
	            "replayed keepalive", ++n);
}

/* The responder keeps a new session as "next" until the first data under it: a tampered copy of
 * that confirming keepalive must not promote it (the snapshot's has_session stays false). */
static void test_tamper_confirming_keepalive(void **state)
{
	struct exchange x;

	(void)state;
	capture_initiation(&x);
	capture_response(&x);
	capture_keepalive(&x);
	assert_false(h_stats(node(1)).has_session);
	sweep_bytes(1, x.keepalive, DATA_MIN_LEN, addr_of(0), data_reason, "confirming keepalive");
	sweep_bytes(1, x.keepalive, DATA_MIN_LEN, &stranger4, data_reason, "keepalive, stranger");
	assert_false(h_stats(node(1)).has_session);
	assert_int_equal(feed(1, x.keepalive, DATA_MIN_LEN, addr_of(0)), WGC_VERDICT_DONE);
	assert_int_equal(fx.out.count, 1);
	assert_int_equal(fx.out.list[0].kind, WGC_ACTION_FLUSH);
	assert_true(h_stats(node(1)).has_session);
}

/* The same data message prepared twice before either commit (a duplicate in flight through the
 * worker pipeline): the second commit is the replay, and it must not move the peer's endpoint. */
static void test_duplicate_in_flight(void **state)
{
	static uint8_t copy[2][H_BUF];
	const struct wgc_addr *src[2] = {addr_of(1), &stranger4};
	struct wgc_receive_job job[2];
	struct exchange x;
	struct snapshot before;
	struct snapshot after;
	struct wgc_addr ep;

	(void)state;
	capture_all(&x);
	for (int order = 0; order < 2; order++) {
		if (order == 1) {
			restart();
			capture_all(&x);
		}
		for (int i = 0; i < 2; i++) {
			memcpy(copy[i], x.data, sizeof(x.data));
			reset_out();
			assert_int_equal(wgc_receive_prepare(node(0)->ep, fx.net.now, copy[i],
			                                     sizeof(x.data), src[i ^ order],
			                                     &job[i], &fx.out),
			                 WGC_VERDICT_CRYPTO);
			assert_int_equal(fx.out.count, 0);
		}
		wgc_receive_open(&job[1]);
		wgc_receive_open(&job[0]);
		reset_out();
		assert_int_equal(wgc_receive_commit(node(0)->ep, fx.net.now, &job[0], &fx.out),
		                 WGC_VERDICT_DONE);
		assert_int_equal(fx.out.count, 1);
		assert_int_equal(fx.out.list[0].kind, WGC_ACTION_DELIVER);
		/* The first one is authentic: the endpoint is where it came from. */
		assert_true(wgc_peer_get_endpoint(node(0)->peer, &ep));
		assert_memory_equal(&ep, src[order], sizeof(ep));
		snap(0, &before);
		reset_out();
		assert_int_equal(wgc_receive_commit(node(0)->ep, fx.net.now, &job[1], &fx.out),
		                 WGC_VERDICT_DROP);
		assert_int_equal(job[1].drop, WGC_DROP_REPLAYED);
		assert_int_equal(fx.out.count, 0);
		snap(0, &after);
		if (snap_diff(&before, &after, WGC_DROP_REPLAYED))
			fail_msg("order %d: the replayed commit changed %s", order,
			         snap_diff(&before, &after, WGC_DROP_REPLAYED));
	}
}

/* wgc_receive_precheck, the filter in front of a caller's handshake queue: it refuses, and counts
 * as prepare would, exactly what prepare refuses at its first checks (length, identity, mac1),
 * passes the rest, and changes nothing else: the message still works in prepare afterwards. */
static void test_precheck(void **state)
{
	struct exchange x;
	uint8_t t[INIT_LEN];
	uint8_t data[DATA_MIN_LEN] = { 4 };
	uint8_t cookie[COOKIE_REPLY_LEN] = { 3 };
	uint8_t key[WGC_KEY_LEN];
	struct snapshot before;
	struct snapshot after;
	const char *diff;

	(void)state;
	capture_initiation(&x);
	snap(1, &before);
	assert_int_equal(wgc_receive_precheck(node(1)->ep, x.init, INIT_LEN), WGC_DROP_NONE);
	/* Not its business: */
	assert_int_equal(wgc_receive_precheck(node(1)->ep, data, sizeof(data)), WGC_DROP_NONE);
	assert_int_equal(wgc_receive_precheck(node(1)->ep, cookie, sizeof(cookie)), WGC_DROP_NONE);
	assert_int_equal(wgc_receive_precheck(node(1)->ep, data, 2), WGC_DROP_NONE); /* SHORT */
	snap(1, &after);
	assert_memory_equal(before.drops, after.drops, sizeof(before.drops)); /* nothing counted */
	assert_true(before.deadline == after.deadline);
	/* Every single-bit change of mac1 is refused and counted as BAD_MAC1, nothing else. */
	for (size_t i = INIT_OFF_MAC1; i < INIT_OFF_MAC2; i++) {
		for (int bit = 0; bit < 8; bit++) {
			memcpy(t, x.init, INIT_LEN);
			t[i] ^= (uint8_t)(1u << bit);
			snap(1, &before);
			if (wgc_receive_precheck(node(1)->ep, t, INIT_LEN) != WGC_DROP_BAD_MAC1)
				fail_msg("mac1 byte %zu bit %d passed the precheck", i, bit);
			snap(1, &after);
			diff = snap_diff(&before, &after, WGC_DROP_BAD_MAC1);
			if (diff)
				fail_msg("mac1 byte %zu bit %d: %s changed", i, bit, diff);
		}
	}
	assert_int_equal(wgc_receive_precheck(node(1)->ep, x.init, INIT_LEN - 1),
			 WGC_DROP_BAD_LENGTH);
	assert_int_equal(wgc_receive_precheck(node(1)->ep, x.init, RESP_LEN), /* init, resp size */
			 WGC_DROP_BAD_LENGTH);
	assert_int_equal(wgc_receive_precheck(node(1)->ep, cookie, sizeof(cookie) + 1),
			 WGC_DROP_BAD_LENGTH);
	/* The untouched initiation still goes through prepare and is answered. */
	assert_int_equal(feed(1, x.init, INIT_LEN, addr_of(0)), WGC_VERDICT_DONE);
	assert_int_equal(fx.out.count, 1);
	assert_int_equal(fx.out.list[0].len, RESP_LEN);
	/* Without a private key: NO_IDENTITY, as prepare. */
	assert_int_equal(wgc_endpoint_set_private_key(node(1)->ep, NULL, fx.net.now), WGC_OK);
	assert_false(wgc_endpoint_get_public_key(node(1)->ep, key));
	snap(1, &before);
	assert_int_equal(wgc_receive_precheck(node(1)->ep, x.init, INIT_LEN), WGC_DROP_NO_IDENTITY);
	snap(1, &after);
	assert_null(snap_diff(&before, &after, WGC_DROP_NO_IDENTITY));
}

/* The cookie exchange under load: tampered cookie replies are refused, a changed mac2 under load
 * is answered with a cookie reply (and nothing else), anything before mac2 gets no reply at all. */
static void test_tamper_cookie_and_mac2_under_load(void **state)
{
	struct exchange x;
	uint8_t reply[COOKIE_REPLY_LEN];
	uint8_t init2[INIT_LEN];
	uint8_t t[INIT_LEN];
	struct snapshot before;
	struct snapshot after;

	(void)state;
	wgc_endpoint_report_load(node(1)->ep, fx.net.now);
	capture_initiation(&x);
	assert_int_equal(feed(1, x.init, INIT_LEN, addr_of(0)), WGC_VERDICT_DROP);
	assert_int_equal(h_drops(node(1), WGC_DROP_COOKIE_SENT), 1);
	take_send(0, reply, COOKIE_REPLY_LEN);
	assert_null(fx.out.list[0].peer);

	sweep_bytes(0, reply, COOKIE_REPLY_LEN, addr_of(1), cookie_reason, "cookie reply byte");
	sweep_bytes(0, reply, COOKIE_REPLY_LEN, &stranger4, cookie_reason,
	            "cookie reply, stranger");
	assert_int_equal(feed(0, reply, COOKIE_REPLY_LEN, addr_of(1)), WGC_VERDICT_DONE);
	assert_int_equal(fx.out.count, 0);

	/* The retry carries mac2. */
	fx.net.now += 6 * SEC;
	tick(0);
	take_send(0, init2, INIT_LEN);
	wgc_endpoint_report_load(node(1)->ep, fx.net.now);
	sweep_bytes(1, init2, INIT_LEN, addr_of(0), initiation_reason, "initiation under load");
	for (size_t i = INIT_OFF_MAC2; i < INIT_LEN; i++) {
		for (int k = 0; k < MASKS; k++) {
			enum wgc_drop_reason got;
			const char *diff;

			memcpy(t, init2, INIT_LEN);
			t[i] ^= masks[k];
			/* One per 50 ms: within the source's budget for cookie replies. */
			fx.net.now += SEC / RATELIMIT_PACKETS_PER_SECOND;
			wgc_endpoint_report_load(node(1)->ep, fx.net.now);
			snap(1, &before);
			if (receive(1, t, INIT_LEN, addr_of(0), &got) != WGC_VERDICT_DROP ||
			    got != WGC_DROP_COOKIE_SENT)
				fail_msg("mac2 byte %zu mask %02x under load: drop %s", i, masks[k],
				         wgc_drop_reason_str(got));
			snap(1, &after);
			diff = snap_diff(&before, &after, WGC_DROP_COOKIE_SENT);
			if (diff)
				fail_msg("mac2 byte %zu mask %02x under load: %s changed", i,
				         masks[k], diff);
			assert_int_equal(fx.out.count, 1);
			assert_int_equal(fx.out.list[0].kind, WGC_ACTION_SEND);
			assert_int_equal(fx.out.list[0].len, COOKIE_REPLY_LEN);
			assert_int_equal(fx.out.list[0].data[0], MESSAGE_HANDSHAKE_COOKIE);
			assert_memory_equal(fx.out.list[0].data + COOKIE_OFF_RECEIVER,
			                    init2 + INIT_OFF_SENDER, 4);
			assert_memory_equal(&fx.out.list[0].addr, addr_of(0),
			                    sizeof(struct wgc_addr));
		}
	}
	/* The untouched retry is accepted under load. */
	assert_int_equal(feed(1, init2, INIT_LEN, addr_of(0)), WGC_VERDICT_DONE);
	assert_int_equal(fx.out.count, 1);
	assert_int_equal(fx.out.list[0].len, RESP_LEN);
}

/* Under load a cookie reply needs randomness; if it fails, nothing is sent. */
static void test_cookie_reply_random_failure(void **state)
{
	struct exchange x;

	(void)state;
	capture_initiation(&x);
	wgc_endpoint_report_load(node(1)->ep, fx.net.now);
	node(1)->rng.fail = true;
	expect_drop(1, x.init, INIT_LEN, addr_of(0), WGC_DROP_RANDOM_FAILED, "random fails", 1);
	node(1)->rng.fail = false;
	assert_int_equal(feed(1, x.init, INIT_LEN, addr_of(0)), WGC_VERDICT_DROP);
	assert_int_equal(fx.out.count, 1);
	assert_int_equal(fx.out.list[0].len, COOKIE_REPLY_LEN);
}

/* An initiation that could not be answered (no room for the response) is not consumed. */
static void test_initiation_without_room_is_not_consumed(void **state)
{
	struct exchange x;
	struct wgc_actions tiny = {fx.list, 0, 0, fx.scratch, sizeof(fx.scratch), 0};
	struct snapshot before;
	struct snapshot after;

	(void)state;
	capture_initiation(&x);
	snap(1, &before);
	memcpy(rx, x.init, INIT_LEN);
	assert_int_equal(wgc_receive(node(1)->ep, fx.net.now, rx, INIT_LEN, addr_of(0), &tiny),
	                 WGC_VERDICT_DROP);
	assert_int_equal(tiny.count, 0);
	snap(1, &after);
	assert_null(snap_diff(&before, &after, WGC_DROP_NO_MEMORY));
	capture_response(&x);
}

/* ---- (c) garbage changes nothing; the endpoints still work afterwards ---- */

static uint8_t recorded[2][H_BUF];
static size_t recorded_len[2];

/* h_filter_fn: keeps a copy of the last data message each node sent; lets everything through. */
static bool record_data(struct h_net *net, int from, struct h_datagram *d)
{
	(void)net;
	if (d->len >= DATA_MIN_LEN && d->data[0] == MESSAGE_DATA) {
		memcpy(recorded[from], d->data, d->len);
		recorded_len[from] = d->len;
	}
	return true;
}

/* Random datagrams of every shape: random or valid headers, random or known receiver indexes. */
static void spray(int id, struct h_rng *rng, int count, const uint32_t *indexes, int index_count,
                  const char *what)
{
	static const struct wgc_addr *const sources[] = {&stranger4, &stranger6, NULL};

	for (int n = 0; n < count; n++) {
		uint64_t r = h_rng_next(rng);
		size_t len;
		const struct wgc_addr *src = sources[r % 3] ? sources[r % 3] : addr_of(1 - id);

		switch ((r >> 8) % 4) {
		case 0:
			len = (r >> 16) % 220;
			break;
		case 1:
			len = (size_t[]){
			    INIT_LEN, RESP_LEN, COOKIE_REPLY_LEN, 32, 48, 64}[(r >> 16) % 6];
			break;
		case 2:
			len = (r >> 16) % 1600;
			break;
		default:
			len = (r >> 16) % (BIG + 1);
			break;
		}
		for (size_t i = 0; i < len; i += 8) {
			uint64_t v = h_rng_next(rng);

			memcpy(msg + i, &v, len - i < 8 ? len - i : 8);
		}
		if (len >= 4 && (r >> 40) % 4 != 0)
			wgc_store_le32(msg, (uint32_t)(1 + (r >> 42) % 4));
		if (len >= 8 && index_count && (r >> 50) % 2)
			wgc_store_le32(msg + 4, indexes[(r >> 51) % (uint64_t)index_count]);
		expect_drop(id, msg, len, src, WGC_DROP_NONE, what, n);
	}
}

static void test_garbage_changes_nothing(void **state)
{
	struct h_net *net = &fx.net;
	struct h_rng rng;
	uint32_t indexes[4];
	struct wgc_addr ep0;
	struct wgc_addr ep1;
	uint8_t other_key[WGC_KEY_LEN];
	uint64_t initiations;

	(void)state;
	h_rng_seed(&rng, 2024);
	net->filter = record_data;

	/* Before any handshake. */
	spray(0, &rng, 1500, NULL, 0, "spray fresh node 0");
	spray(1, &rng, 1500, NULL, 0, "spray fresh node 1");

	/* While node 0 waits for a response: its pending index is known. */
	assert_int_equal(h_send(net, 0, 1), WGC_VERDICT_STAGE);
	assert_int_equal(net->inflight_count, 1);
	indexes[0] = wgc_load_le32(net->inflight[0].data + INIT_OFF_SENDER);
	spray(0, &rng, 1500, indexes, 1, "spray pending node 0");

	/* The handshake completes and data passes. */
	h_run_for(net, 1 * SEC);
	assert_int_equal(node(1)->delivered, 1);
	assert_int_equal(h_send(net, 1, 2), WGC_VERDICT_DONE);
	h_run_for(net, 1 * SEC);
	assert_int_equal(node(0)->delivered, 1);
	assert_true(wgc_peer_get_endpoint(node(0)->peer, &ep0));
	assert_true(wgc_peer_get_endpoint(node(1)->peer, &ep1));

	/* With live sessions: their indexes are known, and the timers are armed. */
	indexes[1] = wgc_load_le32(recorded[0] + DATA_OFF_RECEIVER); /* node 1's session */
	indexes[2] = wgc_load_le32(recorded[1] + DATA_OFF_RECEIVER); /* node 0's session */
	indexes[3] = indexes[0];
	assert_true(wgc_endpoint_next_deadline(node(0)->ep) != UINT64_MAX);
	spray(0, &rng, 3000, indexes, 4, "spray live node 0");
	spray(1, &rng, 3000, indexes, 4, "spray live node 1");
	/* Old genuine data replayed from strangers: authentic but replayed, so no roaming. */
	expect_drop(1, recorded[0], recorded_len[0], &stranger4, WGC_DROP_REPLAYED, "replay", 1);
	expect_drop(0, recorded[1], recorded_len[1], &stranger6, WGC_DROP_REPLAYED, "replay", 2);
	assert_true(wgc_peer_get_endpoint(node(0)->peer, &ep0));
	assert_memory_equal(&ep0, addr_of(1), sizeof(ep0));

	/* Data still flows both ways on the same sessions... */
	initiations = node(0)->sent_by_type[1] + node(1)->sent_by_type[1];
	assert_int_equal(h_send(net, 0, 3), WGC_VERDICT_DONE);
	assert_int_equal(h_send(net, 1, 4), WGC_VERDICT_DONE);
	h_run_for(net, 1 * SEC);
	assert_int_equal(node(1)->delivered, 2);
	assert_int_equal(node(0)->delivered, 2);
	assert_int_equal(node(0)->sent_by_type[1] + node(1)->sent_by_type[1], initiations);

	/* ...and a fresh handshake completes: expire node 0's sessions by a key round trip. */
	memset(other_key, 0x61, sizeof(other_key));
	assert_int_equal(wgc_endpoint_set_private_key(node(0)->ep, other_key, net->now), WGC_OK);
	assert_int_equal(wgc_endpoint_set_private_key(node(0)->ep, node(0)->private_key, net->now),
	                 WGC_OK);
	assert_int_equal(h_send(net, 0, 5), WGC_VERDICT_STAGE);
	h_run_for(net, 1 * SEC);
	assert_int_equal(node(0)->sent_by_type[1], initiations + 1);
	assert_int_equal(node(1)->delivered, 3);
	assert_int_equal(node(0)->duplicates_delivered + node(1)->duplicates_delivered, 0);
}

/* ---- (d) replayed and flooded initiations ---- */

static void test_initiation_replay(void **state)
{
	struct exchange x;

	(void)state;
	capture_initiation(&x);
	capture_response(&x);
	expect_drop(1, x.init, INIT_LEN, addr_of(0), WGC_DROP_HANDSHAKE_REPLAYED, "replay at once",
	            1);
	fx.net.now += 30 * MSEC;
	expect_drop(1, x.init, INIT_LEN, addr_of(0), WGC_DROP_HANDSHAKE_REPLAYED, "replay 30 ms",
	            2);
	expect_drop(1, x.init, INIT_LEN, &stranger4, WGC_DROP_HANDSHAKE_REPLAYED, "replay moved",
	            3);
	capture_keepalive(&x);
	capture_data(&x);
	fx.net.now += 10 * SEC;
	expect_drop(1, x.init, INIT_LEN, addr_of(0), WGC_DROP_HANDSHAKE_REPLAYED, "replay 10 s", 4);
	/* The session it made is untouched: data still flows. */
	assert_int_equal(feed(0, x.data, sizeof(x.data), addr_of(1)), WGC_VERDICT_DONE);
	assert_int_equal(fx.out.list[0].kind, WGC_ACTION_DELIVER);
}

static void test_initiation_flood(void **state)
{
	struct exchange x;
	uint8_t init2[INIT_LEN];
	uint8_t resp2[RESP_LEN];
	uint64_t accepted_at;

	(void)state;
	capture_initiation(&x);
	/* The retransmission is a new initiation with a newer timestamp. */
	fx.net.now += 6 * SEC;
	tick(0);
	take_send(0, init2, INIT_LEN);
	assert_memory_not_equal(init2, x.init, INIT_LEN);

	capture_response(&x);
	accepted_at = fx.net.now;
	fx.net.now = accepted_at + 5 * MSEC;
	expect_drop(1, init2, INIT_LEN, addr_of(0), WGC_DROP_HANDSHAKE_FLOOD, "flood 5 ms", 1);
	fx.net.now = accepted_at + 20 * MSEC - 1;
	expect_drop(1, init2, INIT_LEN, addr_of(0), WGC_DROP_HANDSHAKE_FLOOD, "flood 20 ms - 1", 2);
	/* 1/50 s later the same message is accepted: the flood drops left no trace. */
	fx.net.now = accepted_at + 20 * MSEC;
	assert_int_equal(feed(1, init2, INIT_LEN, addr_of(0)), WGC_VERDICT_DONE);
	take_send(0, resp2, RESP_LEN);
	/* Both are old now, whatever the timing. */
	fx.net.now += 1 * SEC;
	expect_drop(1, x.init, INIT_LEN, addr_of(0), WGC_DROP_HANDSHAKE_REPLAYED, "older", 3);
	expect_drop(1, init2, INIT_LEN, addr_of(0), WGC_DROP_HANDSHAKE_REPLAYED, "again", 4);
	/* The answer to the first initiation is stale at node 0 (it abandoned that attempt); the
	 * answer to the retry completes the handshake. */
	expect_drop(0, x.resp, RESP_LEN, addr_of(1), WGC_DROP_UNKNOWN_INDEX, "stale response", 5);
	assert_int_equal(feed(0, resp2, RESP_LEN, addr_of(1)), WGC_VERDICT_DONE);
}

/* ---- (e) an initiation from a static key we do not know ---- */

static struct h_node third;

static void test_unknown_static_key(void **state)
{
	struct wgc_config cfg = {
	    .limits = {.max_peers = 2, .max_allowed_ips = 2},
	    .random = h_rng_fill,
	    .wall_clock = h_wall_clock,
	    .ctx = &third,
	};
	size_t size = wgc_endpoint_size(&cfg.limits);
	struct wgc_peer *peer;
	uint8_t init[INIT_LEN];
	uint8_t *buf;
	uint8_t *mem;

	(void)state;
	memset(&third, 0, sizeof(third));
	third.net = &fx.net;
	h_rng_seed(&third.rng, 4242);
	mem = aligned_alloc(64, (size + 63) & ~(size_t)63);
	assert_non_null(mem);
	memset(mem, 0, size);
	assert_int_equal(wgc_endpoint_init(mem, size, &cfg, fx.net.now, &third.ep), WGC_OK);
	memset(third.private_key, 0x33, WGC_KEY_LEN);
	assert_int_equal(wgc_endpoint_set_private_key(third.ep, third.private_key, fx.net.now),
	                 WGC_OK);
	assert_int_equal(wgc_peer_add(third.ep, node(1)->public_key, fx.net.now, &peer), WGC_OK);
	assert_int_equal(wgc_peer_set_endpoint(peer, addr_of(1)), WGC_OK);

	/* A keepalive with no session starts a handshake. */
	reset_out();
	buf = fx.buf;
	assert_int_equal(wgc_send(third.ep, fx.net.now, peer, buf, sizeof(fx.buf), 0, &fx.out),
	                 WGC_VERDICT_STAGE);
	take_send(0, init, INIT_LEN);
	expect_drop(1, init, INIT_LEN, &stranger4, WGC_DROP_UNKNOWN_PEER, "stranger's initiation",
	            1);
	/* Even from the address of a real peer. */
	fx.net.now += 1 * SEC;
	expect_drop(1, init, INIT_LEN, addr_of(0), WGC_DROP_UNKNOWN_PEER, "from a peer's address",
	            2);

	wgc_endpoint_clear(third.ep);
	free(mem);
}

/* ---- (f) configuration calls with invalid arguments ---- */

/* A source address of no known family is the caller's mistake: refused before anything is read,
 * so an authentic packet cannot make the peer roam to nowhere. */
static void test_bad_source_address(void **state)
{
	static const struct wgc_addr none = { .family = WGC_AF_NONE };
	static const struct wgc_addr odd = { .family = 5, .port = 1 };
	uint8_t bad[INIT_LEN];
	long n = 0;

	(void)state;
	memset(bad, 0, sizeof(bad));
	wgc_store_le32(bad, MESSAGE_HANDSHAKE_INITIATION);
	expect_drop(1, bad, INIT_LEN, &none, WGC_DROP_BAD_ADDRESS, "init, no family", ++n);
	expect_drop(1, bad, INIT_LEN, &odd, WGC_DROP_BAD_ADDRESS, "init, family 5", ++n);
	wgc_store_le32(bad, MESSAGE_DATA);
	expect_drop(1, bad, 64, &none, WGC_DROP_BAD_ADDRESS, "data, no family", ++n);
	expect_drop(1, bad, 0, &odd, WGC_DROP_BAD_ADDRESS, "empty, family 5", ++n);
}

static void test_config_peers(void **state)
{
	uint8_t zero[WGC_KEY_LEN] = {0};
	uint8_t key[WGC_KEY_LEN];
	uint8_t clamped[WGC_KEY_LEN];
	uint8_t public_key[WGC_KEY_LEN];
	struct wgc_peer *peer = NULL;
	struct wgc_peer *extra[3];
	struct wgc_endpoint *ep = node(0)->ep;

	(void)state;
	assert_int_equal(wgc_endpoint_peer_count(ep), 1);
	assert_int_equal(wgc_peer_add(ep, zero, fx.net.now, &peer), WGC_ERR_INVALID);
	assert_int_equal(wgc_peer_add(ep, node(0)->public_key, fx.net.now, &peer), WGC_ERR_INVALID);
	assert_int_equal(wgc_endpoint_peer_count(ep), 1);
	assert_null(wgc_peer_lookup(ep, zero));
	assert_null(wgc_peer_lookup(ep, node(0)->public_key));
	assert_int_equal(wgc_peer_add(ep, node(1)->public_key, fx.net.now, &peer), WGC_ERR_EXISTS);
	assert_ptr_equal(peer, node(0)->peer);
	assert_int_equal(wgc_endpoint_peer_count(ep), 1);
	assert_ptr_equal(wgc_peer_next(ep, NULL), node(0)->peer);
	assert_null(wgc_peer_next(ep, node(0)->peer));

	/* The pool holds four peers; the fifth does not fit and changes nothing. */
	for (int i = 0; i < 3; i++) {
		memset(key, 0x10 + i, sizeof(key));
		assert_int_equal(wgc_peer_add(ep, key, fx.net.now, &extra[i]), WGC_OK);
	}
	memset(key, 0x20, sizeof(key));
	assert_int_equal(wgc_peer_add(ep, key, fx.net.now, &peer), WGC_ERR_NO_SPACE);
	assert_int_equal(wgc_endpoint_peer_count(ep), 4);
	assert_null(wgc_peer_lookup(ep, key));

	/* Taking a peer's key as our own is refused while that peer exists (documented: the caller
	 * removes it first, with its own state), and changes nothing. */
	wgc_peer_remove(ep, extra[2]);
	memset(key, 0x44, sizeof(key));
	memcpy(clamped, key, sizeof(key));
	wgc_x25519_clamp(clamped);
	wgc_x25519_public(public_key, clamped);
	assert_int_equal(wgc_peer_add(ep, public_key, fx.net.now, &extra[2]), WGC_OK);
	assert_int_equal(wgc_endpoint_peer_count(ep), 4);
	assert_int_equal(wgc_endpoint_set_private_key(ep, key, fx.net.now), WGC_ERR_EXISTS);
	assert_int_equal(wgc_endpoint_peer_count(ep), 4);
	assert_true(wgc_endpoint_get_public_key(ep, clamped));
	assert_memory_equal(clamped, node(0)->public_key, WGC_KEY_LEN);
	wgc_peer_remove(ep, extra[2]);
	assert_int_equal(wgc_endpoint_set_private_key(ep, key, fx.net.now), WGC_OK);
	assert_int_equal(wgc_endpoint_peer_count(ep), 3);
	assert_null(wgc_peer_lookup(ep, public_key));
	wgc_public_key(clamped, key);
	assert_memory_equal(clamped, public_key, WGC_KEY_LEN);
	assert_ptr_equal(wgc_peer_lookup(ep, node(1)->public_key), node(0)->peer);
	memset(key, 0x10, sizeof(key));
	assert_ptr_equal(wgc_peer_lookup(ep, key), extra[0]);
	/* And now our own public key cannot be added back. */
	assert_int_equal(wgc_peer_add(ep, public_key, fx.net.now, &peer), WGC_ERR_INVALID);
}

static void test_config_allowed_ips(void **state)
{
	struct wgc_endpoint *ep = node(0)->ep;
	struct wgc_peer *peer = node(0)->peer;
	struct wgc_peer *other;
	struct wgc_prefix list[20];
	uint8_t key[WGC_KEY_LEN];
	const uint8_t ip2[4] = {10, 0, 0, 2};
	const struct wgc_prefix bad[] = {
	    {.family = WGC_AF_INET, .cidr = 33, .ip = {10, 0, 0, 2}},
	    {.family = WGC_AF_INET, .cidr = 255, .ip = {10, 0, 0, 2}},
	    {.family = WGC_AF_INET6, .cidr = 129, .ip = {0xfd}},
	    {.family = WGC_AF_INET6, .cidr = 200},
	    {.family = WGC_AF_NONE, .cidr = 0},
	    {.family = 5, .cidr = 8, .ip = {10}},
	    {.family = 255, .cidr = 0},
	};
	struct wgc_prefix p;
	int added = 0;

	(void)state;
	memset(key, 0x55, sizeof(key));
	assert_int_equal(wgc_peer_add(ep, key, fx.net.now, &other), WGC_OK);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (wgc_allowedip_insert(ep, peer, &bad[i]) != WGC_ERR_INVALID)
			fail_msg("bad prefix %zu: insert not INVALID", i);
		if (wgc_allowedip_insert(ep, other, &bad[i]) != WGC_ERR_INVALID)
			fail_msg("bad prefix %zu: insert not INVALID", i);
		if (wgc_allowedip_remove(ep, peer, &bad[i]) != WGC_ERR_INVALID)
			fail_msg("bad prefix %zu: remove not INVALID", i);
	}
	assert_int_equal(wgc_peer_get_allowedips(peer, list, 20), 1);
	assert_int_equal(wgc_peer_get_allowedips(other, list, 20), 0);
	assert_ptr_equal(wgc_allowedips_lookup(ep, WGC_AF_INET, ip2), peer);

	/* Removing what the peer does not own exactly: NOT_FOUND, the route stays. */
	p = (struct wgc_prefix){.family = WGC_AF_INET, .cidr = 32, .ip = {10, 0, 0, 2}};
	assert_int_equal(wgc_allowedip_remove(ep, other, &p), WGC_ERR_NOT_FOUND);
	p.cidr = 31;
	assert_int_equal(wgc_allowedip_remove(ep, peer, &p), WGC_ERR_NOT_FOUND);
	p = (struct wgc_prefix){.family = WGC_AF_INET, .cidr = 32, .ip = {10, 0, 0, 3}};
	assert_int_equal(wgc_allowedip_remove(ep, peer, &p), WGC_ERR_NOT_FOUND);
	p = (struct wgc_prefix){.family = WGC_AF_INET6, .cidr = 128, .ip = {10, 0, 0, 2}};
	assert_int_equal(wgc_allowedip_remove(ep, peer, &p), WGC_ERR_NOT_FOUND);
	assert_int_equal(wgc_peer_get_allowedips(peer, list, 20), 1);
	assert_ptr_equal(wgc_allowedips_lookup(ep, WGC_AF_INET, ip2), peer);

	/* The exact owner of a prefix: host bits ignored; a covering or covered prefix is not it. */
	p = (struct wgc_prefix){.family = WGC_AF_INET, .cidr = 32, .ip = {10, 0, 0, 2}};
	assert_ptr_equal(wgc_allowedip_owner(ep, &p), peer);
	p.cidr = 31;
	assert_null(wgc_allowedip_owner(ep, &p));
	p = (struct wgc_prefix){.family = WGC_AF_INET, .cidr = 24, .ip = {10, 0, 0, 77}};
	assert_int_equal(wgc_allowedip_insert(ep, other, &p), WGC_OK);
	p.ip[3] = 5;
	assert_ptr_equal(wgc_allowedip_owner(ep, &p), other);
	assert_int_equal(wgc_allowedip_remove(ep, other, &p), WGC_OK);
	assert_null(wgc_allowedip_owner(ep, &p));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_null(wgc_allowedip_owner(ep, &bad[i]));

	/* Fill the route pool (16 prefixes in all); the one that does not fit changes nothing. */
	for (int i = 0; i < 64; i++) {
		enum wgc_status s;

		p = (struct wgc_prefix){
		    .family = WGC_AF_INET, .cidr = 32, .ip = {10, 1, (uint8_t)i, 1}};
		s = wgc_allowedip_insert(ep, other, &p);
		if (s == WGC_ERR_NO_SPACE)
			break;
		assert_int_equal(s, WGC_OK);
		added++;
	}
	assert_true(added >= 15);
	assert_true(added < 64);
	assert_null(wgc_allowedips_lookup(ep, WGC_AF_INET, p.ip));
	assert_int_equal(wgc_peer_get_allowedips(other, list, 20), (size_t)added);
	assert_int_equal(wgc_peer_get_allowedips(peer, list, 20), 1);
	assert_ptr_equal(wgc_allowedips_lookup(ep, WGC_AF_INET, ip2), peer);
	/* Clearing gives the room back. */
	wgc_allowedips_clear_peer(ep, other);
	assert_int_equal(wgc_peer_get_allowedips(other, list, 20), 0);
	assert_int_equal(wgc_allowedip_insert(ep, other, &p), WGC_OK);
}

static void test_config_endpoint_address(void **state)
{
	struct wgc_peer *peer = node(0)->peer;
	struct wgc_addr bad = {.family = 5, .port = 1, .ip = {1, 2, 3, 4}};
	struct wgc_addr got;
	struct wgc_addr none = {.family = WGC_AF_NONE};

	(void)state;
	assert_int_equal(wgc_peer_set_endpoint(peer, &bad), WGC_ERR_INVALID);
	bad.family = 255;
	assert_int_equal(wgc_peer_set_endpoint(peer, &bad), WGC_ERR_INVALID);
	assert_true(wgc_peer_get_endpoint(peer, &got));
	assert_memory_equal(&got, addr_of(1), sizeof(got));
	assert_int_equal(wgc_peer_set_endpoint(peer, &none), WGC_OK);
	assert_false(wgc_peer_get_endpoint(peer, &got));
	/* Nowhere to send: the packet is dropped at once as no_endpoint (the caller answers with
	 * ICMP, as the kernel does), and no initiation is attempted. */
	assert_int_equal(send_packet(0, 1), WGC_VERDICT_DROP);
	assert_int_equal(fx.out.count, 0);
	assert_int_equal(h_drops(node(0), WGC_DROP_NO_ENDPOINT), 1);
}

static void test_config_endpoint_size(void **state)
{
	const struct wgc_limits bad[] = {
	    {.max_peers = 0},
	    {.max_peers = 0, .max_keypairs = 10, .max_allowed_ips = 10},
	    {.max_peers = UINT32_MAX},
	    {.max_peers = (UINT32_C(1) << 24) + 1},
	    {.max_peers = 1, .max_keypairs = UINT32_MAX},
	    {.max_peers = 1, .max_allowed_ips = UINT32_MAX},
	    {.max_peers = 1, .max_ratelimit_entries = UINT32_MAX},
	    {.max_peers = UINT32_MAX,
	     .max_keypairs = UINT32_MAX,
	     .max_allowed_ips = UINT32_MAX,
	     .max_ratelimit_entries = UINT32_MAX},
	};
	const struct wgc_limits one = {.max_peers = 1};
	const struct wgc_limits two = {.max_peers = 2};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (wgc_endpoint_size(&bad[i]) != 0)
			fail_msg("limits case %zu: size %zu, want 0", i,
			         wgc_endpoint_size(&bad[i]));
	assert_true(wgc_endpoint_size(&one) > 0);
	assert_true(wgc_endpoint_size(&two) > wgc_endpoint_size(&one));
}

static bool is_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

static void test_config_endpoint_init(void **state)
{
	struct h_node ctx;
	struct wgc_config cfg = {
	    .limits = {.max_peers = 4, .max_allowed_ips = 8},
	    .random = h_rng_fill,
	    .wall_clock = h_wall_clock,
	    .ctx = &ctx,
	};
	struct wgc_config c;
	size_t size = wgc_endpoint_size(&cfg.limits);
	size_t alloc = (size + 128 + 63) & ~(size_t)63;
	struct wgc_endpoint *sentinel = (struct wgc_endpoint *)(void *)&ctx;
	struct wgc_endpoint *ep = sentinel;
	uint8_t *mem = aligned_alloc(64, alloc);

	(void)state;
	assert_non_null(mem);
	memset(mem, 0, alloc);
	memset(&ctx, 0, sizeof(ctx));
	ctx.net = &fx.net;
	h_rng_seed(&ctx.rng, 5);

	assert_int_equal(wgc_endpoint_init(mem + 1, size, &cfg, 0, &ep), WGC_ERR_INVALID);
	assert_int_equal(wgc_endpoint_init(mem + 8, size, &cfg, 0, &ep), WGC_ERR_INVALID);
	assert_int_equal(wgc_endpoint_init(mem + 32, size, &cfg, 0, &ep), WGC_ERR_INVALID);
	assert_int_equal(wgc_endpoint_init(mem, size - 1, &cfg, 0, &ep), WGC_ERR_INVALID);
	assert_int_equal(wgc_endpoint_init(mem, 0, &cfg, 0, &ep), WGC_ERR_INVALID);
	assert_int_equal(wgc_endpoint_init(NULL, size, &cfg, 0, &ep), WGC_ERR_INVALID);
	assert_int_equal(wgc_endpoint_init(mem, size, NULL, 0, &ep), WGC_ERR_INVALID);
	assert_int_equal(wgc_endpoint_init(mem, size, &cfg, 0, NULL), WGC_ERR_INVALID);
	c = cfg;
	c.random = NULL;
	assert_int_equal(wgc_endpoint_init(mem, size, &c, 0, &ep), WGC_ERR_INVALID);
	c = cfg;
	c.wall_clock = NULL;
	assert_int_equal(wgc_endpoint_init(mem, size, &c, 0, &ep), WGC_ERR_INVALID);
	c = cfg;
	c.limits.max_peers = 0;
	assert_int_equal(wgc_endpoint_init(mem, size, &c, 0, &ep), WGC_ERR_INVALID);
	c = cfg;
	c.limits.max_peers = 5; /* needs more memory than size */
	assert_int_equal(wgc_endpoint_init(mem, size, &c, 0, &ep), WGC_ERR_INVALID);
	ctx.rng.fail = true;
	assert_int_equal(wgc_endpoint_init(mem, size, &cfg, 0, &ep), WGC_ERR_RANDOM);
	/* None of that touched the memory or the output. */
	assert_true(is_zero(mem, alloc));
	assert_ptr_equal(ep, sentinel);

	ctx.rng.fail = false;
	assert_int_equal(wgc_endpoint_init(mem, size, &cfg, 0, &ep), WGC_OK);
	assert_ptr_equal(ep, mem);
	assert_int_equal(wgc_endpoint_peer_count(ep), 0);
	assert_int_equal(wgc_endpoint_next_deadline(ep), UINT64_MAX);
	wgc_endpoint_clear(ep);
	free(mem);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_length_sweep_fresh),
	    T(test_length_sweep_pending_handshake),
	    T(test_length_sweep_live_session),
	    T(test_no_identity),
	    T(test_garbage_past_the_first_checks),
	    T(test_tamper_initiation),
	    T(test_tamper_mac2_ignored_when_not_under_load),
	    T(test_tamper_response),
	    T(test_tamper_data),
	    T(test_tamper_confirming_keepalive),
	    T(test_duplicate_in_flight),
	    T(test_precheck),
	    T(test_tamper_cookie_and_mac2_under_load),
	    T(test_cookie_reply_random_failure),
	    T(test_initiation_without_room_is_not_consumed),
	    T(test_garbage_changes_nothing),
	    T(test_initiation_replay),
	    T(test_initiation_flood),
	    T(test_unknown_static_key),
	    T(test_bad_source_address),
	    T(test_config_peers),
	    T(test_config_allowed_ips),
	    T(test_config_endpoint_address),
	    T(test_config_endpoint_size),
	    T(test_config_endpoint_init),
	};
#undef T

	return cmocka_run_group_tests_name("badinput", tests, NULL, NULL);
}
