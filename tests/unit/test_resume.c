/* SPDX-License-Identifier: MIT */
/*
 * Resume from suspend (issue 8, part 5). The daemon's clock is CLOCK_BOOTTIME, so a laptop that
 * wakes after ten minutes finds every timer overdue at once, the 540 s wipe among them. Whatever
 * the caller does first after the jump (tick, send, or receive the other side's packet), the first
 * packet must go through after one handshake round trip, with no retransmission, and the old
 * session's keys must be gone.
 *
 * The fake clock is shared, so "one side jumps" is modelled as that side sleeping: it neither
 * ticks nor receives (datagrams to it are lost) while the other side runs its timers on time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/endpoint.h"
#include "core/messages.h"
#include "harness.h"

static struct h_net net;

#define A (&net.node[0])
#define B (&net.node[1])

enum sleeper { SLEEPER_A, SLEEPER_B, SLEEPER_BOTH };
enum first_event { TICK_FIRST, SEND_FIRST, RECEIVE_FIRST };

struct variant {
	uint64_t sleep_ns;
	enum sleeper sleeper;
	uint64_t latency_ns;
};

/* Asleep nodes neither tick nor receive; a node that wakes on a packet takes that packet as its
 * first event after the jump, before any tick. */
static bool is_awake[2];
static bool wakes_on_packet[2];
static char variant_name[128];

static int failures;

/* Reports the variant and gives up on it; the test fails after every variant has run. */
#define CHECK(cond)                                                                       \
	do {                                                                              \
		if (!(cond)) {                                                            \
			print_error("%s: %s (line %d)\n", variant_name, #cond, __LINE__); \
			failures++;                                                       \
			h_net_free(&net);                                                 \
			return;                                                           \
		}                                                                         \
	} while (0)

static void tick_node(int id)
{
	struct wgc_action list[64];
	static uint8_t scratch[64 * 200];
	struct wgc_actions out = { list, 64, 0, scratch, sizeof(scratch), 0 };

	wgc_endpoint_tick(net.node[id].ep, net.now, &out);
	h_run_actions(&net, id, &out);
}

static void deliver_due(void)
{
	static struct h_datagram d;

	for (int i = 0; i < net.inflight_count;) {
		if (net.inflight[i].deliver_at > net.now) {
			i++;
			continue;
		}
		d = net.inflight[i];
		memmove(&net.inflight[i], &net.inflight[i + 1],
			sizeof(d) * (size_t)(net.inflight_count - i - 1));
		net.inflight_count--;
		if (!is_awake[d.to] && wakes_on_packet[d.to]) {
			is_awake[d.to] = true;
			wakes_on_packet[d.to] = false;
		}
		if (is_awake[d.to])
			h_inject(&net, d.to, d.data, d.len, &d.from, NULL);
		i = 0;
	}
}

/* h_run_until for awake nodes only; stops early once watch has delivered `target` packets. */
static void run_until(uint64_t until, const struct h_node *watch, uint64_t target)
{
	for (;;) {
		uint64_t next = until;

		for (int i = 0; i < net.inflight_count; i++)
			if (net.inflight[i].deliver_at < next)
				next = net.inflight[i].deliver_at;
		for (int id = 0; id < 2; id++) {
			uint64_t deadline = wgc_endpoint_next_deadline(net.node[id].ep);

			if (is_awake[id] && deadline < next)
				next = deadline;
		}
		if (next > net.now)
			net.now = next;
		deliver_due();
		if (watch && watch->delivered >= target)
			return;
		for (int id = 0; id < 2; id++)
			if (is_awake[id])
				tick_node(id);
		if (watch && watch->delivered >= target)
			return;
		if (net.now >= until)
			return;
	}
}

static uint64_t initiations(int id)
{
	return net.node[id].sent_by_type[MESSAGE_HANDSHAKE_INITIATION];
}

/* Whether any keypair in the node's pool still holds one of these keys. */
static bool keys_survive(int id, const uint8_t send_key[32], const uint8_t recv_key[32])
{
	const struct wgc_keypair_pool *pool = &net.node[id].ep->keypairs;

	for (uint32_t i = 0; i < pool->high; i++) {
		const struct wgc_keypair *kp = &pool->slots[i];

		if (memcmp(kp->send_key, send_key, 32) == 0 || memcmp(kp->recv_key, recv_key, 32) == 0)
			return true;
	}
	return false;
}

static void run_variant(const struct variant *v, enum first_event first)
{
	static const char *const sleepers[] = { "A sleeps", "B sleeps", "both sleep" };
	static const char *const firsts[] = { "tick first", "send first", "receive first" };
	uint8_t old_send[2][32];
	uint8_t old_recv[2][32];
	uint64_t inits_before[2];
	uint64_t resume;
	uint64_t delivered_before;
	int r = v->sleeper == SLEEPER_B ? 1 : 0; /* the node that resumes and acts (or receives) */
	int o = 1 - r;
	struct h_node *watch;
	enum wgc_verdict verdict;

	snprintf(variant_name, sizeof(variant_name), "%s %llu s, latency %llu ms, %s",
		 sleepers[v->sleeper], (unsigned long long)(v->sleep_ns / SEC),
		 (unsigned long long)(v->latency_ns / MSEC), firsts[first]);
	h_net_init(&net, 42);

	/* A session, then a quiet state: B's passive keepalive at 10 s answered A's data. */
	CHECK(h_send(&net, 0, 1) == WGC_VERDICT_STAGE);
	h_run_for(&net, 12 * SEC);
	CHECK(B->delivered == 1);
	for (int id = 0; id < 2; id++) {
		const struct wgc_keypair *kp = net.node[id].peer->keypairs.current;

		CHECK(kp != NULL);
		memcpy(old_send[id], kp->send_key, 32);
		memcpy(old_recv[id], kp->recv_key, 32);
	}

	/* The last thing before the suspend: A sends data, so A's dead-peer timer runs. If B is the
	 * one that sleeps it has the data and owes a passive keepalive. If both sleep the packet is
	 * lost (otherwise both would owe something and start racing handshakes at resume, which is
	 * the protocol's simultaneous-initiation case, not this one). */
	CHECK(h_send(&net, 0, 2) == WGC_VERDICT_DONE);
	is_awake[0] = is_awake[1] = true;
	wakes_on_packet[0] = wakes_on_packet[1] = false;
	if (v->sleeper == SLEEPER_B) {
		run_until(net.now + 20 * MSEC, NULL, 0);
		CHECK(B->delivered == 2);
	} else if (v->sleeper == SLEEPER_BOTH) {
		net.inflight_count = 0;
	}

	/* The suspend: the sleeper's clock jumps; the other side lives through it on time. */
	is_awake[0] = v->sleeper == SLEEPER_B;
	is_awake[1] = v->sleeper == SLEEPER_A;
	run_until(net.now + v->sleep_ns, NULL, 0);
	resume = net.now;
	net.latency_ns = v->latency_ns;
	inits_before[0] = initiations(0);
	inits_before[1] = initiations(1);

	is_awake[0] = is_awake[1] = true;
	switch (first) {
	case TICK_FIRST:
		tick_node(r);
		verdict = h_send(&net, r, 100);
		watch = &net.node[o];
		break;
	case SEND_FIRST:
		verdict = h_send(&net, r, 100);
		watch = &net.node[o];
		break;
	case RECEIVE_FIRST:
	default:
		is_awake[r] = false;
		wakes_on_packet[r] = true;
		verdict = h_send(&net, o, 100);
		watch = &net.node[r];
		break;
	}
	CHECK(verdict == WGC_VERDICT_STAGE);
	delivered_before = watch->delivered;
	run_until(resume + REKEY_TIMEOUT - 1 * MSEC, watch, delivered_before + 1);

	/* One round trip (initiation, response, the packet), never a retransmission. */
	CHECK(watch->delivered == delivered_before + 1);
	CHECK(net.now <= resume + 3 * v->latency_ns);
	CHECK(initiations(r) - inits_before[r] == (first == RECEIVE_FIRST ? 0 : 1));
	CHECK(initiations(o) - inits_before[o] == (first == RECEIVE_FIRST ? 1 : 0));
	CHECK(A->staged_count == 0 && B->staged_count == 0);

	/* Nothing orphaned: no retransmission follows later either. */
	run_until(net.now + 2 * REKEY_TIMEOUT, NULL, 0);
	CHECK(initiations(r) + initiations(o) == inits_before[r] + inits_before[o] + 1);
	CHECK(h_stats(A).has_session || h_stats(B).has_session);

	/* Past 3 * REJECT_AFTER_TIME the old session is wiped on both sides. */
	if (v->sleep_ns + 12 * SEC > ZERO_KEYS_AFTER) {
		CHECK(!keys_survive(0, old_send[0], old_recv[0]));
		CHECK(!keys_survive(1, old_send[1], old_recv[1]));
	}
	h_net_free(&net);
}

/* Ten minutes (past the 540 s wipe) and four (past REJECT_AFTER_TIME, before the wipe), with the
 * usual 10 ms one-way latency and with everything happening in the same instant. */
static const struct variant variants[] = {
	{ 600 * SEC, SLEEPER_A, 10 * MSEC },    { 600 * SEC, SLEEPER_A, 0 },
	{ 600 * SEC, SLEEPER_B, 10 * MSEC },    { 600 * SEC, SLEEPER_B, 0 },
	{ 600 * SEC, SLEEPER_BOTH, 10 * MSEC }, { 600 * SEC, SLEEPER_BOTH, 0 },
	{ 240 * SEC, SLEEPER_A, 10 * MSEC },    { 240 * SEC, SLEEPER_A, 0 },
	{ 240 * SEC, SLEEPER_B, 10 * MSEC },    { 240 * SEC, SLEEPER_B, 0 },
	{ 240 * SEC, SLEEPER_BOTH, 10 * MSEC }, { 240 * SEC, SLEEPER_BOTH, 0 },
};

static void run_all(enum first_event first)
{
	failures = 0;
	for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++)
		run_variant(&variants[i], first);
	assert_int_equal(failures, 0);
}

static void test_resume_tick_then_send(void **state)
{
	(void)state;
	run_all(TICK_FIRST);
}

static void test_resume_send_without_tick(void **state)
{
	(void)state;
	run_all(SEND_FIRST);
}

static void test_resume_receive_first(void **state)
{
	(void)state;
	run_all(RECEIVE_FIRST);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resume_tick_then_send),
		cmocka_unit_test(test_resume_send_without_tick),
		cmocka_unit_test(test_resume_receive_first),
	};

	return cmocka_run_group_tests_name("resume", tests, NULL, NULL);
}
