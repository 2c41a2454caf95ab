/* SPDX-License-Identifier: MIT */
/*
 * A full handshake, first data both ways and a cookie exchange, byte for byte against vectors
 * computed independently of our code (tests/vectors/gen_handshake.py, from the whitepaper's
 * formulas with Python's cryptography and hashlib, and checked once against wireguard-go). A mistake
 * that both of our endpoints make alike passes the two-endpoint tests but fails here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "handshake_vectors.h"
#include "harness.h"

struct fixture {
	struct h_net net;
	struct wgc_action list[8];
	uint8_t scratch[1024];
	struct wgc_actions out;
	uint8_t buf[H_BUF];
};

static void reset_out(struct fixture *f)
{
	f->out = (struct wgc_actions){ f->list, 8, 0, f->scratch, sizeof(f->scratch), 0 };
}

static void script_indexes(struct h_node *node, uint32_t index, const uint8_t *ephemeral)
{
	uint8_t le[4] = { (uint8_t)index, (uint8_t)(index >> 8), (uint8_t)(index >> 16),
			  (uint8_t)(index >> 24) };

	h_rng_script(&node->rng, ephemeral, 32);
	h_rng_script(&node->rng, le, 4);
}

static int setup(void **state)
{
	static struct fixture f;

	memset(&f, 0, sizeof(f));
	h_net_init(&f.net, 7);
	h_node_init(&f.net, 0, VEC_I_STATIC_PRIV);
	h_node_init(&f.net, 1, VEC_R_STATIC_PRIV);
	assert_memory_equal(f.net.node[0].public_key, VEC_I_STATIC_PUB, 32);
	assert_memory_equal(f.net.node[1].public_key, VEC_R_STATIC_PUB, 32);
	h_net_link(&f.net);
	wgc_peer_set_preshared_key(f.net.node[0].peer, VEC_PSK);
	wgc_peer_set_preshared_key(f.net.node[1].peer, VEC_PSK);
	f.net.node[0].wall_fixed_ns = VEC_WALL_NS;
	script_indexes(&f.net.node[0], VEC_I_SENDER_INDEX, VEC_I_EPHEMERAL_PRIV);
	script_indexes(&f.net.node[1], VEC_R_SENDER_INDEX, VEC_R_EPHEMERAL_PRIV);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	h_net_free(&f->net);
	return 0;
}

/* Feeds msg to node id (from the other node's address) and returns the verdict. */
static enum wgc_verdict feed(struct fixture *f, int id, const uint8_t *msg, size_t len)
{
	reset_out(f);
	memcpy(f->buf, msg, len);
	return wgc_receive(f->net.node[id].ep, f->net.now, f->buf, len, &f->net.node[1 - id].addr,
			   &f->out);
}

static void assert_send(const struct fixture *f, size_t i, const uint8_t *expected, size_t len)
{
	assert_true(f->out.count > i);
	assert_int_equal(f->out.list[i].kind, WGC_ACTION_SEND);
	assert_int_equal(f->out.list[i].len, len);
	assert_memory_equal(f->out.list[i].data, expected, len);
}

static enum wgc_verdict send_plain(struct fixture *f, int id, const uint8_t *plain, size_t len)
{
	reset_out(f);
	memset(f->buf, 0, sizeof(f->buf));
	memcpy(f->buf + WGC_DATA_HEADROOM, plain, len);
	return wgc_send(f->net.node[id].ep, f->net.now, NULL, f->buf, sizeof(f->buf), len, &f->out);
}

static void test_handshake_and_data_match_vectors(void **state)
{
	struct fixture *f = *state;
	uint8_t initiation[148], response[92];

	/* Initiator: first packet is staged and the initiation goes out. */
	assert_int_equal(send_plain(f, 0, VEC_DATA_PLAIN, sizeof(VEC_DATA_PLAIN)), WGC_VERDICT_STAGE);
	assert_int_equal(f->out.count, 1);
	assert_send(f, 0, VEC_INITIATION, sizeof(VEC_INITIATION));
	memcpy(initiation, f->out.list[0].data, sizeof(initiation));

	/* Responder answers with exactly the expected response. */
	assert_int_equal(feed(f, 1, initiation, sizeof(initiation)), WGC_VERDICT_DONE);
	assert_int_equal(f->out.count, 1);
	assert_send(f, 0, VEC_RESPONSE, sizeof(VEC_RESPONSE));
	memcpy(response, f->out.list[0].data, sizeof(response));

	/* Initiator confirms with keepalive counter 0, then may flush. */
	assert_int_equal(feed(f, 0, response, sizeof(response)), WGC_VERDICT_DONE);
	assert_int_equal(f->out.count, 2);
	assert_send(f, 0, VEC_KEEPALIVE_I0, sizeof(VEC_KEEPALIVE_I0));
	assert_int_equal(f->out.list[1].kind, WGC_ACTION_FLUSH);

	/* The staged packet goes out as counter 1, padded to 48. */
	assert_int_equal(send_plain(f, 0, VEC_DATA_PLAIN, sizeof(VEC_DATA_PLAIN)), WGC_VERDICT_DONE);
	assert_send(f, 0, VEC_DATA_I1, sizeof(VEC_DATA_I1));

	/* Responder: the keepalive confirms the session, the data is delivered trimmed. */
	assert_int_equal(feed(f, 1, VEC_KEEPALIVE_I0, sizeof(VEC_KEEPALIVE_I0)), WGC_VERDICT_DONE);
	assert_int_equal(f->out.count, 1);
	assert_int_equal(f->out.list[0].kind, WGC_ACTION_FLUSH);
	assert_int_equal(feed(f, 1, VEC_DATA_I1, sizeof(VEC_DATA_I1)), WGC_VERDICT_DONE);
	assert_int_equal(f->out.count, 1);
	assert_int_equal(f->out.list[0].kind, WGC_ACTION_DELIVER);
	assert_int_equal(f->out.list[0].len, sizeof(VEC_DATA_PLAIN));
	assert_memory_equal(f->out.list[0].data, VEC_DATA_PLAIN, sizeof(VEC_DATA_PLAIN));

	/* Responder's first data uses counter 0 under its send key. */
	assert_int_equal(send_plain(f, 1, VEC_DATA_PLAIN2, sizeof(VEC_DATA_PLAIN2)),
			 WGC_VERDICT_DONE);
	assert_send(f, 0, VEC_DATA_R0, sizeof(VEC_DATA_R0));
	assert_int_equal(feed(f, 0, VEC_DATA_R0, sizeof(VEC_DATA_R0)), WGC_VERDICT_DONE);
	assert_int_equal(f->out.list[0].kind, WGC_ACTION_DELIVER);
	assert_memory_equal(f->out.list[0].data, VEC_DATA_PLAIN2, sizeof(VEC_DATA_PLAIN2));
}

static void test_cookie_reply_and_mac2_match_vectors(void **state)
{
	struct fixture *f = *state;
	struct h_node *responder = &f->net.node[1];
	uint8_t reply[64];

	/* The responder's cookie secret is drawn when it is stale; make it stale and script it. */
	f->net.now += 121 * SEC;
	responder->rng.script_count = 0;
	h_rng_script(&responder->rng, VEC_COOKIE_SECRET, 32);
	h_rng_script(&responder->rng, VEC_COOKIE_NONCE, 24);
	assert_memory_equal(f->net.node[0].addr.ip, VEC_COOKIE_SRC_IP4, 4);
	assert_int_equal(f->net.node[0].addr.port, VEC_COOKIE_SRC_PORT);

	assert_int_equal(send_plain(f, 0, VEC_DATA_PLAIN, sizeof(VEC_DATA_PLAIN)), WGC_VERDICT_STAGE);
	assert_send(f, 0, VEC_INITIATION, sizeof(VEC_INITIATION));

	wgc_endpoint_report_load(responder->ep, f->net.now);
	assert_int_equal(feed(f, 1, VEC_INITIATION, sizeof(VEC_INITIATION)), WGC_VERDICT_DROP);
	assert_int_equal(h_drops(responder, WGC_DROP_COOKIE_SENT), 1);
	assert_send(f, 0, VEC_COOKIE_REPLY, sizeof(VEC_COOKIE_REPLY));
	assert_null(f->out.list[0].peer);
	memcpy(reply, f->out.list[0].data, sizeof(reply));

	/* The initiator takes the cookie; its retry (same scripted ephemeral, index and timestamp)
	 * carries exactly the expected mac2. */
	assert_int_equal(feed(f, 0, reply, sizeof(reply)), WGC_VERDICT_DONE);
	/* A second cookie reply to the same message is refused (a cookie answers one message). */
	assert_int_equal(feed(f, 0, reply, sizeof(reply)), WGC_VERDICT_DROP);
	assert_int_equal(h_drops(&f->net.node[0], WGC_DROP_COOKIE_INVALID), 1);
	script_indexes(&f->net.node[0], VEC_I_SENDER_INDEX, VEC_I_EPHEMERAL_PRIV);
	f->net.now += 6 * SEC;
	reset_out(f);
	wgc_endpoint_tick(f->net.node[0].ep, f->net.now, &f->out);
	assert_send(f, 0, VEC_INITIATION_MAC2, sizeof(VEC_INITIATION_MAC2));

	/* Still under load, the responder now accepts it. */
	wgc_endpoint_report_load(responder->ep, f->net.now);
	assert_int_equal(feed(f, 1, VEC_INITIATION_MAC2, sizeof(VEC_INITIATION_MAC2)),
			 WGC_VERDICT_DONE);
	assert_int_equal(f->out.list[0].kind, WGC_ACTION_SEND);
	assert_int_equal(f->out.list[0].len, 92);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_handshake_and_data_match_vectors, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_cookie_reply_and_mac2_match_vectors, setup,
						teardown),
	};

	return cmocka_run_group_tests_name("vectors", tests, NULL, NULL);
}
