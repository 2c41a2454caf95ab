/* SPDX-License-Identifier: MIT */
/*
 * Many peers and live reconfiguration. An endpoint with 100,000 peers (add, look up, remove every
 * other one, re-add, allowed IPs, insertion-order iteration, an idle tick that does nothing); peers
 * added and removed next to a live session; preshared key, persistent keepalive and private key
 * changes on a live session; a peer removed while its data is in flight, before and after the
 * serial prepare step.
 *
 * The 100,000-peer endpoint has no private key on purpose: with one, every wgc_peer_add
 * precomputes the static-static X25519 (about 50 us each, 5 s for 100,000), and nothing tested
 * there depends on it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/messages.h"
#include "crypto/crypto.h"
#include "harness.h"

enum { MANY = 100000 };

/* ---- an endpoint of any size over the harness's callbacks ---- */

struct big_endpoint {
	void *raw;
	struct wgc_endpoint *ep;
};

/* calloc leaves untouched pages unmapped, as the API promises for unused pool entries. */
static void big_init(struct big_endpoint *b, const struct wgc_limits *limits, struct h_node *ctx)
{
	struct wgc_config cfg = {
	    .limits = *limits,
	    .random = h_rng_fill,
	    .wall_clock = h_wall_clock,
	    .ctx = ctx,
	};
	size_t size = wgc_endpoint_size(limits);
	uintptr_t aligned;

	assert_true(size > 0);
	b->raw = calloc(1, size + 64);
	assert_non_null(b->raw);
	aligned = ((uintptr_t)b->raw + 63) & ~(uintptr_t)63;
	assert_int_equal(wgc_endpoint_init((void *)aligned, size, &cfg, H_EPOCH, &b->ep), WGC_OK);
}

static void big_free(struct big_endpoint *b)
{
	wgc_endpoint_clear(b->ep);
	free(b->raw);
}

/*
 * Gives harness node id a bigger endpoint (the harness makes room for 4 peers) with the same
 * identity, callbacks and link to the other node. Call right after h_net_init.
 */
static void regrow(struct h_net *net, int id, const struct wgc_limits *limits)
{
	struct h_node *n = &net->node[id];
	struct wgc_config cfg = {
	    .limits = *limits,
	    .random = h_rng_fill,
	    .wall_clock = h_wall_clock,
	    .ctx = n,
	};
	size_t size = (wgc_endpoint_size(limits) + 63) & ~(size_t)63;
	struct wgc_prefix prefix = {
	    .family = WGC_AF_INET, .cidr = 32, .ip = {10, 0, 0, (uint8_t)(2 - id)}};

	wgc_endpoint_clear(n->ep);
	free(n->mem);
	n->mem = aligned_alloc(64, size);
	assert_non_null(n->mem);
	memset(n->mem, 0, size);
	assert_int_equal(wgc_endpoint_init(n->mem, size, &cfg, net->now, &n->ep), WGC_OK);
	assert_int_equal(wgc_endpoint_set_private_key(n->ep, n->private_key, net->now), WGC_OK);
	assert_int_equal(wgc_peer_add(n->ep, net->node[1 - id].public_key, net->now, &n->peer),
	                 WGC_OK);
	assert_int_equal(wgc_peer_set_endpoint(n->peer, &net->node[1 - id].addr), WGC_OK);
	assert_int_equal(wgc_allowedip_insert(n->ep, n->peer, &prefix), WGC_OK);
}

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* 32 random bytes, never all zero. */
static void random_key(uint64_t *rng, uint8_t key[WGC_KEY_LEN])
{
	for (int i = 0; i < WGC_KEY_LEN; i += 8) {
		uint64_t v = splitmix(rng);

		memcpy(key + i, &v, 8);
	}
	key[0] |= 1;
}

static void prefixes_of(uint32_t i, struct wgc_prefix *v4, struct wgc_prefix *v6)
{
	*v4 = (struct wgc_prefix){.family = WGC_AF_INET,
	                          .cidr = 32,
	                          .ip = {10, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i}};
	*v6 = (struct wgc_prefix){.family = WGC_AF_INET6, .cidr = 128, .ip = {0xfd, 0x42}};
	v6->ip[12] = (uint8_t)(i >> 24);
	v6->ip[13] = (uint8_t)(i >> 16);
	v6->ip[14] = (uint8_t)(i >> 8);
	v6->ip[15] = (uint8_t)i;
}

/* ---- 100,000 peers ---- */

static uint8_t keys[MANY][WGC_KEY_LEN];
static struct wgc_peer *peers[MANY];
static struct h_node quiet; /* callbacks' context for endpoints outside a harness network */

static void expect_routes(const struct wgc_endpoint *ep, uint32_t i, const struct wgc_peer *want)
{
	struct wgc_prefix v4;
	struct wgc_prefix v6;
	struct wgc_peer *got4;
	struct wgc_peer *got6;

	prefixes_of(i, &v4, &v6);
	got4 = wgc_allowedips_lookup(ep, WGC_AF_INET, v4.ip);
	got6 = wgc_allowedips_lookup(ep, WGC_AF_INET6, v6.ip);
	if (got4 != want || got6 != want)
		fail_msg("peer %u: routes lead to %p / %p, want %p", i, (void *)got4, (void *)got6,
		         (const void *)want);
}

static void add_with_routes(struct wgc_endpoint *ep, uint32_t i)
{
	struct wgc_prefix v4;
	struct wgc_prefix v6;
	enum wgc_status s = wgc_peer_add(ep, keys[i], H_EPOCH, &peers[i]);

	if (s != WGC_OK)
		fail_msg("peer %u: add returned %s", i, wgc_status_str(s));
	wgc_peer_set_user(peers[i], keys[i]);
	prefixes_of(i, &v4, &v6);
	if (wgc_allowedip_insert(ep, peers[i], &v4) != WGC_OK ||
	    wgc_allowedip_insert(ep, peers[i], &v6) != WGC_OK)
		fail_msg("peer %u: allowed IPs not inserted", i);
}

/* Iteration yields exactly order[0..count) and then NULL. */
static void expect_iteration(const struct wgc_endpoint *ep, const uint32_t *order, uint32_t count)
{
	const struct wgc_peer *p = NULL;

	for (uint32_t k = 0; k < count; k++) {
		p = wgc_peer_next(ep, p);
		if (p != peers[order[k]])
			fail_msg("iteration step %u: got %p, want peer %u", k, (const void *)p,
			         order[k]);
	}
	assert_null(wgc_peer_next(ep, p));
}

static void expect_idle(struct wgc_endpoint *ep)
{
	struct wgc_action list[4];
	uint8_t scratch[512];
	struct wgc_actions out = {list, 4, 0, scratch, sizeof(scratch), 0};

	assert_int_equal(wgc_endpoint_next_deadline(ep), UINT64_MAX);
	assert_int_equal(wgc_endpoint_tick(ep, H_EPOCH + 1000 * SEC, &out), UINT64_MAX);
	assert_int_equal(out.count, 0);
	assert_int_equal(out.scratch_used, 0);
}

static void test_hundred_thousand_peers(void **state)
{
	static uint32_t order[MANY];
	const struct wgc_limits limits = {
	    .max_peers = MANY, .max_keypairs = 16, .max_allowed_ips = 2 * MANY};
	struct big_endpoint b;
	struct wgc_prefix list[4];
	struct wgc_prefix v4;
	struct wgc_prefix v6;
	uint8_t extra[WGC_KEY_LEN];
	uint8_t got[WGC_KEY_LEN];
	struct wgc_peer *peer;
	uint64_t rng = 0xe9d;
	uint32_t k;

	(void)state;
	memset(&quiet, 0, sizeof(quiet));
	quiet.wall_fixed_ns = UINT64_C(1700000000) * SEC;
	h_rng_seed(&quiet.rng, 1);
	big_init(&b, &limits, &quiet);
	for (uint32_t i = 0; i < MANY; i++)
		random_key(&rng, keys[i]);
	random_key(&rng, extra);

	for (uint32_t i = 0; i < MANY; i++)
		add_with_routes(b.ep, i);
	assert_int_equal(wgc_endpoint_peer_count(b.ep), MANY);
	assert_int_equal(wgc_peer_add(b.ep, extra, H_EPOCH, &peer), WGC_ERR_NO_SPACE);
	assert_int_equal(wgc_endpoint_peer_count(b.ep), MANY);
	expect_idle(b.ep);

	for (uint32_t i = 0; i < MANY; i++) {
		peer = wgc_peer_lookup(b.ep, keys[i]);
		if (peer != peers[i] || wgc_peer_get_user(peer) != keys[i])
			fail_msg("peer %u: lookup %p, want %p", i, (void *)peer, (void *)peers[i]);
		wgc_peer_get_public_key(peer, got);
		if (memcmp(got, keys[i], WGC_KEY_LEN) != 0)
			fail_msg("peer %u: public key differs", i);
		expect_routes(b.ep, i, peers[i]);
		order[i] = i;
	}
	assert_null(wgc_peer_lookup(b.ep, extra));
	prefixes_of(12345, &v4, &v6);
	assert_int_equal(wgc_peer_get_allowedips(peers[12345], list, 4), 2);
	assert_true((list[0].family == WGC_AF_INET && !memcmp(list[0].ip, v4.ip, 4) &&
	             list[1].family == WGC_AF_INET6 && !memcmp(list[1].ip, v6.ip, 16)) ||
	            (list[1].family == WGC_AF_INET && !memcmp(list[1].ip, v4.ip, 4) &&
	             list[0].family == WGC_AF_INET6 && !memcmp(list[0].ip, v6.ip, 16)));
	expect_iteration(b.ep, order, MANY);

	/* Remove every other peer: the others are untouched, the removed ones are gone with
	 * their routes. */
	for (uint32_t i = 0; i < MANY; i += 2)
		wgc_peer_remove(b.ep, peers[i]);
	assert_int_equal(wgc_endpoint_peer_count(b.ep), MANY / 2);
	for (uint32_t i = 0; i < MANY; i++) {
		peer = wgc_peer_lookup(b.ep, keys[i]);
		if (peer != (i % 2 ? peers[i] : NULL))
			fail_msg("after removal, peer %u: lookup %p", i, (void *)peer);
		expect_routes(b.ep, i, i % 2 ? peers[i] : NULL);
	}
	for (k = 0; k < MANY / 2; k++)
		order[k] = 2 * k + 1;
	expect_iteration(b.ep, order, MANY / 2);
	expect_idle(b.ep);

	/* Re-add them, newest last in iteration order, in reverse key order. */
	for (uint32_t i = MANY; i-- > 0;) {
		if (i % 2)
			continue;
		add_with_routes(b.ep, i);
		order[k++] = i;
	}
	assert_int_equal(k, MANY);
	assert_int_equal(wgc_endpoint_peer_count(b.ep), MANY);
	for (uint32_t i = 0; i < MANY; i++) {
		if (wgc_peer_lookup(b.ep, keys[i]) != peers[i])
			fail_msg("after re-adding, peer %u not found", i);
		expect_routes(b.ep, i, peers[i]);
	}
	assert_int_equal(wgc_peer_add(b.ep, keys[7], H_EPOCH, &peer), WGC_ERR_EXISTS);
	assert_ptr_equal(peer, peers[7]);
	assert_int_equal(wgc_peer_add(b.ep, keys[8], H_EPOCH, &peer), WGC_ERR_EXISTS);
	assert_ptr_equal(peer, peers[8]);
	assert_int_equal(wgc_peer_add(b.ep, extra, H_EPOCH, &peer), WGC_ERR_NO_SPACE);
	expect_iteration(b.ep, order, MANY);
	expect_idle(b.ep);

	/* Remove all of them. */
	for (uint32_t i = 0; i < MANY; i++)
		wgc_peer_remove(b.ep, peers[i]);
	assert_int_equal(wgc_endpoint_peer_count(b.ep), 0);
	assert_null(wgc_peer_next(b.ep, NULL));
	assert_null(wgc_peer_lookup(b.ep, keys[0]));
	expect_routes(b.ep, 0, NULL);
	expect_routes(b.ep, MANY - 1, NULL);
	big_free(&b);
}

/* ---- live sessions and reconfiguration ---- */

static struct h_net net;

static int setup(void **state)
{
	h_net_init(&net, 3);
	*state = &net;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	h_net_free(&net);
	return 0;
}

static struct h_node *node(int id)
{
	return &net.node[id];
}

static uint64_t initiations(void)
{
	return node(0)->sent_by_type[1] + node(1)->sent_by_type[1];
}

/* Sends a packet each way and requires both to arrive. */
static void exchange(uint16_t seq)
{
	uint64_t delivered0 = node(0)->delivered;
	uint64_t delivered1 = node(1)->delivered;

	assert_int_equal(h_send(&net, 0, seq), WGC_VERDICT_DONE);
	assert_int_equal(h_send(&net, 1, (uint16_t)(seq + 1)), WGC_VERDICT_DONE);
	h_run_for(&net, 100 * MSEC);
	assert_int_equal(node(1)->delivered, delivered1 + 1);
	assert_int_equal(node(0)->delivered, delivered0 + 1);
}

static void establish(void)
{
	assert_int_equal(h_send(&net, 0, 1), WGC_VERDICT_STAGE);
	h_run_for(&net, 1 * SEC);
	assert_int_equal(node(1)->delivered, 1);
	assert_true(h_stats(node(0)).has_session);
}

static void test_peer_churn_next_to_live_session(void **state)
{
	enum { ROUNDS = 5, PER_ROUND = 200 };
	const struct wgc_limits limits = {
	    .max_peers = 1 + ROUNDS * PER_ROUND, .max_keypairs = 24, .max_allowed_ips = 2100};
	static struct wgc_peer *extra[ROUNDS * PER_ROUND];
	static uint8_t extra_key[ROUNDS * PER_ROUND][WGC_KEY_LEN];
	const uint8_t ip2[4] = {10, 0, 0, 2};
	uint64_t rng = 77;
	uint64_t before;
	uint32_t live = 1;
	int added = 0;

	(void)state;
	regrow(&net, 0, &limits);
	establish();
	before = initiations();

	for (int r = 0; r < ROUNDS; r++) {
		for (int i = 0; i < PER_ROUND; i++, added++) {
			struct wgc_prefix v4;
			struct wgc_prefix v6;
			struct wgc_addr where = {.family = WGC_AF_INET,
			                         .port = (uint16_t)(1000 + added),
			                         .ip = {203, 0, 113, (uint8_t)added}};

			random_key(&rng, extra_key[added]);
			assert_int_equal(
			    wgc_peer_add(node(0)->ep, extra_key[added], net.now, &extra[added]),
			    WGC_OK);
			assert_int_equal(wgc_peer_set_endpoint(extra[added], &where), WGC_OK);
			prefixes_of((uint32_t)(0x20000 + added), &v4, &v6);
			assert_int_equal(wgc_allowedip_insert(node(0)->ep, extra[added], &v4),
			                 WGC_OK);
			assert_int_equal(wgc_allowedip_insert(node(0)->ep, extra[added], &v6),
			                 WGC_OK);
			live++;
		}
		assert_int_equal(wgc_endpoint_peer_count(node(0)->ep), live);
		exchange((uint16_t)(100 + 4 * r));
		/* Remove every other extra peer that is still there. */
		for (int i = r % 2; i < added; i += 2) {
			if (!extra[i])
				continue;
			wgc_peer_remove(node(0)->ep, extra[i]);
			extra[i] = NULL;
			live--;
		}
		assert_int_equal(wgc_endpoint_peer_count(node(0)->ep), live);
		exchange((uint16_t)(102 + 4 * r));
	}
	for (int i = 0; i < added; i++) {
		struct wgc_prefix v4;
		struct wgc_prefix v6;

		assert_ptr_equal(wgc_peer_lookup(node(0)->ep, extra_key[i]), extra[i]);
		prefixes_of((uint32_t)(0x20000 + i), &v4, &v6);
		assert_ptr_equal(wgc_allowedips_lookup(node(0)->ep, WGC_AF_INET, v4.ip), extra[i]);
		if (extra[i])
			wgc_peer_remove(node(0)->ep, extra[i]);
	}
	assert_int_equal(wgc_endpoint_peer_count(node(0)->ep), 1);
	assert_ptr_equal(wgc_peer_next(node(0)->ep, NULL), node(0)->peer);
	assert_ptr_equal(wgc_allowedips_lookup(node(0)->ep, WGC_AF_INET, ip2), node(0)->peer);
	exchange(200);
	/* All of it on the first session: no handshake, nothing lost or duplicated. */
	assert_int_equal(initiations(), before);
	assert_int_equal(node(0)->duplicates_delivered + node(1)->duplicates_delivered, 0);
}

/* Expires node 0's sessions without changing its identity (a key round trip). */
static void expire_node0_sessions(void)
{
	uint8_t other[WGC_KEY_LEN];

	memset(other, 0x5c, sizeof(other));
	assert_int_equal(wgc_endpoint_set_private_key(node(0)->ep, other, net.now), WGC_OK);
	assert_int_equal(wgc_endpoint_set_private_key(node(0)->ep, node(0)->private_key, net.now),
	                 WGC_OK);
}

static void test_preshared_key_change_keeps_session(void **state)
{
	uint8_t psk[WGC_KEY_LEN];
	uint8_t got[WGC_KEY_LEN];
	uint64_t before;
	uint64_t delivered;

	(void)state;
	establish();
	before = initiations();
	memset(psk, 0xa7, sizeof(psk));
	wgc_peer_set_preshared_key(node(0)->peer, psk);
	assert_true(wgc_peer_get_preshared_key(node(0)->peer, got));
	assert_memory_equal(got, psk, sizeof(psk));
	exchange(10);
	h_run_for(&net, 20 * SEC);
	exchange(12);
	assert_int_equal(initiations(), before);
	assert_true(h_stats(node(0)).has_session);

	/* It applies to the next handshake: with only one side changed, that one fails... */
	expire_node0_sessions();
	delivered = node(1)->delivered;
	assert_int_equal(h_send(&net, 0, 14), WGC_VERDICT_STAGE);
	h_run_for(&net, 1 * SEC);
	assert_int_equal(initiations(), before + 1);
	assert_true(h_drops(node(0), WGC_DROP_HANDSHAKE_INVALID) >= 1);
	assert_int_equal(node(1)->delivered, delivered);
	/* ...and once both sides agree, the retry succeeds and the staged packet goes through. */
	wgc_peer_set_preshared_key(node(1)->peer, psk);
	h_run_for(&net, 6 * SEC);
	assert_int_equal(node(1)->delivered, delivered + 1);
	exchange(16);
	/* Clearing it (NULL) is "none" again. */
	wgc_peer_set_preshared_key(node(0)->peer, NULL);
	assert_false(wgc_peer_get_preshared_key(node(0)->peer, got));
	assert_true(wgc_ct_is_zero(got, sizeof(got)));
}

static void test_persistent_keepalive_change_keeps_session(void **state)
{
	struct wgc_action list[8];
	uint8_t scratch[512];
	struct wgc_actions out = {list, 8, 0, scratch, sizeof(scratch), 0};
	uint64_t before;
	uint64_t keepalives;

	(void)state;
	establish();
	/* Let node 1's passive keepalive (owed for the first packet) go by: any authenticated
	 * packet restarts the persistent interval, and this test counts intervals. */
	h_run_for(&net, 15 * SEC);
	before = initiations();
	keepalives = node(0)->keepalives_sent;

	/* Turning it on sends one keepalive at once, on the live session. */
	wgc_peer_set_persistent_keepalive(node(0)->ep, node(0)->peer, 25, net.now, &out);
	assert_int_equal(wgc_peer_get_persistent_keepalive(node(0)->peer), 25);
	assert_int_equal(out.count, 1);
	assert_int_equal(out.list[0].kind, WGC_ACTION_SEND);
	assert_int_equal(out.list[0].len, WGC_KEEPALIVE_MESSAGE_LEN);
	h_run_actions(&net, 0, &out);
	assert_int_equal(node(0)->keepalives_sent, keepalives + 1);
	h_run_for(&net, 26 * SEC);
	assert_int_equal(node(0)->keepalives_sent, keepalives + 2);

	/* Changing the interval sends nothing at once and keeps the session. */
	out.count = 0;
	out.scratch_used = 0;
	wgc_peer_set_persistent_keepalive(node(0)->ep, node(0)->peer, 10, net.now, &out);
	assert_int_equal(out.count, 0);
	h_run_for(&net, 11 * SEC);
	assert_int_equal(node(0)->keepalives_sent, keepalives + 3);

	/* Off: no more keepalives. */
	wgc_peer_set_persistent_keepalive(node(0)->ep, node(0)->peer, 0, net.now, &out);
	assert_int_equal(out.count, 0);
	h_run_for(&net, 30 * SEC);
	assert_int_equal(node(0)->keepalives_sent, keepalives + 3);

	exchange(20);
	assert_int_equal(initiations(), before);
}

static void test_same_private_key_changes_nothing(void **state)
{
	struct wgc_peer_stats st0;
	struct wgc_peer_stats st1;
	uint64_t deadline;
	uint64_t before;
	uint8_t copy[WGC_KEY_LEN];

	(void)state;
	establish();
	h_run_for(&net, 2 * SEC);
	before = initiations();
	st0 = h_stats(node(0));
	deadline = wgc_endpoint_next_deadline(node(0)->ep);
	memcpy(copy, node(0)->private_key, sizeof(copy));
	assert_int_equal(wgc_endpoint_set_private_key(node(0)->ep, copy, net.now), WGC_OK);
	st1 = h_stats(node(0));
	assert_true(st1.has_session && st1.has_handshake);
	assert_int_equal(st1.rx_bytes, st0.rx_bytes);
	assert_int_equal(st1.tx_bytes, st0.tx_bytes);
	assert_int_equal(st1.last_handshake_ns, st0.last_handshake_ns);
	assert_int_equal(st1.last_handshake_wall_ns, st0.last_handshake_wall_ns);
	assert_int_equal(wgc_endpoint_next_deadline(node(0)->ep), deadline);
	assert_int_equal(wgc_peer_lookup(node(0)->ep, node(1)->public_key), node(0)->peer);
	exchange(30);
	assert_int_equal(initiations(), before);
}

static void test_new_private_key_expires_sessions(void **state)
{
	uint8_t other[WGC_KEY_LEN];
	uint64_t before;
	uint64_t delivered;

	(void)state;
	establish();
	before = initiations();
	delivered = node(1)->delivered;

	memset(other, 0x71, sizeof(other));
	assert_int_equal(wgc_endpoint_set_private_key(node(0)->ep, other, net.now), WGC_OK);
	assert_false(h_stats(node(0)).has_session);
	/* The next packet starts a handshake under the new identity, which node 1 does not
	 * know. */
	assert_int_equal(h_send(&net, 0, 40), WGC_VERDICT_STAGE);
	assert_int_equal(node(0)->sent_by_type[1], before + 1);
	h_run_for(&net, 1 * SEC);
	assert_true(h_drops(node(1), WGC_DROP_UNKNOWN_PEER) >= 1);
	assert_int_equal(node(1)->delivered, delivered);

	/* Back to the old identity: a fresh handshake at once, and the staged packets arrive. */
	assert_int_equal(wgc_endpoint_set_private_key(node(0)->ep, node(0)->private_key, net.now),
	                 WGC_OK);
	assert_int_equal(h_send(&net, 0, 41), WGC_VERDICT_STAGE);
	h_run_for(&net, 1 * SEC);
	assert_int_equal(node(1)->delivered, delivered + 2);
	assert_true(h_stats(node(0)).has_session);
	exchange(42);
}

/* A peer removed while its data is on the wire: the data finds no index. */
static void test_remove_peer_with_data_in_flight(void **state)
{
	uint64_t delivered;

	(void)state;
	establish();
	exchange(50);
	delivered = node(1)->delivered;
	assert_int_equal(h_send(&net, 0, 52), WGC_VERDICT_DONE);
	assert_int_equal(net.inflight_count, 1);
	wgc_peer_remove(node(1)->ep, node(1)->peer);
	node(1)->peer = NULL;
	assert_int_equal(wgc_endpoint_peer_count(node(1)->ep), 0);
	h_run_for(&net, 100 * MSEC);
	assert_int_equal(h_drops(node(1), WGC_DROP_UNKNOWN_INDEX), 1);
	assert_int_equal(node(1)->delivered, delivered);
}

/*
 * A peer removed between wgc_receive_prepare and wgc_receive_commit: the job finishes with
 * peer_gone and gives its keypair reference back. Done 20 times over a pool of 12 keypairs, so a
 * leaked reference would starve the later handshakes.
 */
static void test_remove_peer_with_job_prepared(void **state)
{
	static uint8_t buf[H_BUF];
	const struct wgc_prefix allowed = {.family = WGC_AF_INET, .cidr = 32, .ip = {10, 0, 0, 1}};
	struct wgc_action list[8];
	uint8_t scratch[512];
	struct wgc_actions out;
	struct wgc_receive_job job;
	uint8_t *p = buf + WGC_DATA_HEADROOM;
	size_t len;

	(void)state;
	establish();
	for (int round = 0; round < 20; round++) {
		uint64_t delivered = node(0)->delivered;

		/* Node 0 seals a packet under its current session. */
		memset(buf, 0, sizeof(buf));
		p[0] = 0x45, p[3] = 22, p[9] = 253, p[12] = 10, p[15] = 1, p[16] = 10, p[19] = 2;
		out = (struct wgc_actions){list, 8, 0, scratch, sizeof(scratch), 0};
		assert_int_equal(wgc_send(node(0)->ep, net.now, NULL, buf, sizeof(buf), 22, &out),
		                 WGC_VERDICT_DONE);
		assert_int_equal(out.count, 1);
		len = out.list[0].len;

		/* Node 1 prepares it, then the peer goes, then the worker opens it. */
		out = (struct wgc_actions){list, 8, 0, scratch, sizeof(scratch), 0};
		assert_int_equal(
		    wgc_receive_prepare(node(1)->ep, net.now, buf, len, &node(0)->addr, &job, &out),
		    WGC_VERDICT_CRYPTO);
		wgc_peer_remove(node(1)->ep, node(1)->peer);
		node(1)->peer = NULL;
		wgc_receive_open(&job);
		assert_true(job.is_authentic);
		assert_int_equal(wgc_receive_commit(node(1)->ep, net.now, &job, &out),
		                 WGC_VERDICT_DROP);
		assert_int_equal(job.drop, WGC_DROP_PEER_GONE);
		assert_null(job.keypair);
		assert_int_equal(out.count, 0);
		assert_int_equal(h_drops(node(1), WGC_DROP_PEER_GONE), (uint64_t)round + 1);

		/* Configured again, node 1 starts a new session itself. */
		assert_int_equal(
		    wgc_peer_add(node(1)->ep, node(0)->public_key, net.now, &node(1)->peer),
		    WGC_OK);
		assert_int_equal(wgc_peer_set_endpoint(node(1)->peer, &node(0)->addr), WGC_OK);
		assert_int_equal(wgc_allowedip_insert(node(1)->ep, node(1)->peer, &allowed),
		                 WGC_OK);
		assert_int_equal(h_send(&net, 1, (uint16_t)(60 + round)), WGC_VERDICT_STAGE);
		h_run_for(&net, 1 * SEC);
		if (node(0)->delivered != delivered + 1)
			fail_msg("round %d: node 1's new session did not come up", round);
	}
}

/* The drop counters cross the ABI with a length: a caller with a shorter array (an older header)
 * gets the reasons both know, one with a longer array zeros past the library's, n = 0 asks. */
static void test_get_drops_takes_a_length(void **state)
{
	struct wgc_endpoint *ep = net.node[0].ep;
	uint64_t all[WGC_DROP__COUNT];
	uint64_t longer[WGC_DROP__COUNT + 4];
	uint64_t shorter[3] = { 0 };

	(void)state;
	wgc_endpoint_count_drop(ep, WGC_DROP_SHORT);       /* index 1: within the short copy */
	wgc_endpoint_count_drop(ep, WGC_DROP_QUEUE_FULL);  /* the last reason */
	assert_int_equal(wgc_endpoint_get_drops(ep, NULL, 0), WGC_DROP__COUNT);
	assert_int_equal(wgc_endpoint_get_drops(ep, all, WGC_DROP__COUNT), WGC_DROP__COUNT);
	assert_true(all[WGC_DROP_SHORT] == 1);
	assert_true(all[WGC_DROP_QUEUE_FULL] == 1);
	memset(longer, 0xff, sizeof(longer));
	assert_int_equal(wgc_endpoint_get_drops(ep, longer, WGC_DROP__COUNT + 4), WGC_DROP__COUNT);
	assert_memory_equal(longer, all, sizeof(all));
	for (size_t i = WGC_DROP__COUNT; i < WGC_DROP__COUNT + 4; i++)
		assert_true(longer[i] == 0);
	shorter[2] = 77;
	(void)wgc_endpoint_get_drops(ep, shorter, 2);
	assert_true(shorter[WGC_DROP_SHORT] == 1);
	assert_true(shorter[2] == 77); /* nothing written past n */
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hundred_thousand_peers),
	    T(test_peer_churn_next_to_live_session),
	    T(test_preshared_key_change_keeps_session),
	    T(test_persistent_keepalive_change_keeps_session),
	    T(test_same_private_key_changes_nothing),
	    T(test_new_private_key_expires_sessions),
	    T(test_remove_peer_with_data_in_flight),
	    T(test_remove_peer_with_job_prepared),
	    T(test_get_drops_takes_a_length),
	};
#undef T

	return cmocka_run_group_tests_name("endpoint", tests, NULL, NULL);
}
