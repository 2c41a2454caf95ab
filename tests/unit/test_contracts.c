/* SPDX-License-Identifier: MIT */
/*
 * The contracts between libwgc and its caller that the types cannot express. Abandoning a prepared
 * send or receive job gives its keypair back to the pool, so a caller that drops jobs can still
 * rekey for ever, while a job dropped without abandoning keeps its pool slot until the handshakes
 * starve. In WGC_DEBUG builds (the ASan+UBSan run) the caller's mistakes trap: sealing or opening
 * a job that did not get CRYPTO, using a job twice, committing before opening, two serial calls
 * at once, removing a peer twice, clearing the endpoint under a job. Each of those runs in a forked
 * child that must die of the trap (SIGILL from ud2 on x86-64, SIGTRAP from brk on arm64); in the
 * plain build they are not registered, because there the assertions are compiled out.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#ifdef WGC_DEBUG
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

#include "core/endpoint.h"
#include "core/messages.h"
#include "harness.h"

static struct h_net net;

static int setup(void **state)
{
	(void)state;
	h_net_init(&net, 7);
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

static struct wgc_actions reset_out(struct wgc_action *list, size_t cap, uint8_t *scratch,
				    size_t scratch_size)
{
	return (struct wgc_actions){list, cap, 0, scratch, scratch_size, 0};
}

/* Node 0 sends one packet; the handshake runs; node 1 gets it. */
static void establish(void)
{
	assert_int_equal(h_send(&net, 0, 1), WGC_VERDICT_STAGE);
	h_run_for(&net, 1 * SEC);
	assert_int_equal(node(1)->delivered, 1);
	assert_true(h_stats(node(0)).has_session);
}

/* Asks for a new handshake at once: node 0's key round trip stops its sessions sending, so the
 * next packet stages and starts an initiation. True when node 1 got that packet within a second,
 * i.e. under a new session. */
static bool try_rekey(uint16_t seq)
{
	uint8_t other[WGC_KEY_LEN];
	uint64_t delivered = node(1)->delivered;

	memset(other, 0x5c, sizeof(other));
	assert_int_equal(wgc_endpoint_set_private_key(node(0)->ep, other, net.now), WGC_OK);
	assert_int_equal(wgc_endpoint_set_private_key(node(0)->ep, node(0)->private_key, net.now),
			 WGC_OK);
	assert_int_equal(h_send(&net, 0, seq), WGC_VERDICT_STAGE);
	h_run_for(&net, 1 * SEC);
	return node(1)->delivered == delivered + 1;
}

/*
 * Prepares a keepalive from node 0 to node 1 in buf (DATA_MIN_LEN bytes); true when it got CRYPTO.
 * The helpers the forked children use report instead of asserting: a failed cmocka assertion in a
 * child would jump back into the child's copy of the test runner.
 */
static bool prepare_keepalive(uint8_t *buf, struct wgc_send_job *job)
{
	struct wgc_action list[4];
	uint8_t scratch[WGC_ACTION_SCRATCH_MIN];
	struct wgc_actions out = reset_out(list, 4, scratch, sizeof(scratch));

	return wgc_send_prepare(node(0)->ep, net.now, node(0)->peer, buf, DATA_MIN_LEN, 0, job,
				&out) == WGC_VERDICT_CRYPTO &&
	       job->keypair && out.count == 0;
}

/* Node 1 prepares a fresh, sealed data message from node 0; true when it got CRYPTO. */
static bool prepare_received(uint8_t *buf, struct wgc_receive_job *job)
{
	struct wgc_send_job send;
	struct wgc_action list[4];
	uint8_t scratch[WGC_ACTION_SCRATCH_MIN];
	struct wgc_actions out = reset_out(list, 4, scratch, sizeof(scratch));

	if (!prepare_keepalive(buf, &send))
		return false;
	wgc_send_seal(&send);
	return wgc_receive_prepare(node(1)->ep, net.now, buf, send.message_len, &node(0)->addr,
				   job, &out) == WGC_VERDICT_CRYPTO &&
	       job->keypair;
}

static uint32_t free_keypairs(const struct h_node *n)
{
	return wgc_keypair_pool_free_count(&n->ep->keypairs);
}

/*
 * The free count a pool must have when its keypairs are exactly those in the node's peer's slots
 * plus those held[0..held_count) (jobs the test dropped), each counted once.
 */
static uint32_t expected_free(const struct h_node *n, struct wgc_keypair *const *held,
			      int held_count)
{
	const struct wgc_keypairs *slots = &n->peer->keypairs;
	struct wgc_keypair *const in_slots[3] = {slots->previous, slots->current, slots->next};
	struct wgc_keypair *out[3 + 64];
	int count = 0;

	assert_true(held_count <= 64);
	for (int i = 0; i < 3 + held_count; i++) {
		struct wgc_keypair *k = i < 3 ? in_slots[i] : held[i - 3];
		bool seen = k == NULL;

		for (int j = 0; j < count && !seen; j++)
			seen = out[j] == k;
		if (!seen)
			out[count++] = k;
	}
	return n->ep->keypairs.cap - (uint32_t)count;
}

/* ---- abandon ---- */

/*
 * Every round both nodes prepare jobs and abandon them (receive jobs opened or not, and every job
 * abandoned twice), then node 0 makes a new handshake. Twice as many rounds as the pools have
 * slots: a job that kept its keypair would starve the handshakes long before the end.
 */
static void test_abandoned_jobs_return_keypairs(void **state)
{
	enum { JOBS = 6 };
	static uint8_t send_buf[JOBS][DATA_MIN_LEN];
	static uint8_t recv_buf[JOBS][DATA_MIN_LEN];
	struct wgc_send_job send[JOBS];
	struct wgc_receive_job recv[JOBS];
	uint32_t rounds;

	(void)state;
	establish();
	rounds = 2 * node(0)->ep->keypairs.cap;
	assert_true(rounds >= 2 * node(1)->ep->keypairs.cap);
	for (uint32_t round = 0; round < rounds; round++) {
		for (int i = 0; i < JOBS; i++) {
			assert_true(prepare_keepalive(send_buf[i], &send[i]));
			assert_true(prepare_received(recv_buf[i], &recv[i]));
			if (i % 2)
				wgc_receive_open(&recv[i]);
		}
		for (int i = 0; i < JOBS; i++) {
			wgc_send_abandon(&send[i]);
			assert_null(send[i].keypair);
			wgc_send_abandon(&send[i]);
			wgc_receive_abandon(&recv[i]);
			assert_null(recv[i].keypair);
			wgc_receive_abandon(&recv[i]);
		}
		assert_int_equal(free_keypairs(node(0)), expected_free(node(0), NULL, 0));
		assert_int_equal(free_keypairs(node(1)), expected_free(node(1), NULL, 0));
		if (!try_rekey((uint16_t)(100 + round)))
			fail_msg("round %u: the new handshake did not complete", round);
	}
	assert_int_equal(h_drops(node(0), WGC_DROP_NO_MEMORY), 0);
	assert_int_equal(h_drops(node(1), WGC_DROP_NO_MEMORY), 0);
	/* Traffic both ways under the last session, and nothing left but the slots. */
	assert_int_equal(h_send(&net, 1, 900), WGC_VERDICT_DONE);
	h_run_for(&net, 100 * MSEC);
	assert_int_equal(node(0)->delivered, 1);
	assert_int_equal(free_keypairs(node(0)), expected_free(node(0), NULL, 0));
	assert_int_equal(free_keypairs(node(1)), expected_free(node(1), NULL, 0));
}

/* Abandon after any other verdict, and after seal or commit, changes nothing. */
static void test_abandon_is_a_no_op_without_a_reference(void **state)
{
	static uint8_t buf[H_BUF];
	static uint8_t rx[DATA_MIN_LEN];
	struct wgc_action list[8];
	uint8_t scratch[512];
	struct wgc_actions out = reset_out(list, 8, scratch, sizeof(scratch));
	struct wgc_send_job send;
	struct wgc_receive_job recv;
	uint32_t free0;

	(void)state;
	/* STAGE (no session yet) and DROP (a packet no peer is routed for, a short datagram). */
	memset(buf, 0, sizeof(buf));
	buf[WGC_DATA_HEADROOM] = 0x45;
	assert_int_equal(wgc_send_prepare(node(0)->ep, net.now, node(0)->peer, buf, sizeof(buf), 20,
					  &send, &out),
			 WGC_VERDICT_STAGE);
	wgc_send_abandon(&send);
	assert_int_equal(wgc_send_prepare(node(0)->ep, net.now, NULL, buf, sizeof(buf), 20, &send,
					  &out),
			 WGC_VERDICT_DROP);
	assert_int_equal(send.drop, WGC_DROP_NO_ROUTE);
	wgc_send_abandon(&send);
	assert_int_equal(wgc_receive_prepare(node(1)->ep, net.now, rx, 3, &node(0)->addr, &recv,
					     &out),
			 WGC_VERDICT_DROP);
	wgc_receive_abandon(&recv);
	h_run_actions(&net, 0, &out);
	h_run_for(&net, 1 * SEC);
	assert_true(h_stats(node(0)).has_session);

	/* Sealed and committed jobs hold nothing either. */
	free0 = free_keypairs(node(1));
	assert_true(prepare_received(rx, &recv));
	wgc_receive_open(&recv);
	out = reset_out(list, 8, scratch, sizeof(scratch));
	assert_int_equal(wgc_receive_commit(node(1)->ep, net.now, &recv, &out), WGC_VERDICT_DONE);
	wgc_receive_abandon(&recv);
	assert_true(prepare_keepalive(rx, &send));
	wgc_send_seal(&send);
	wgc_send_abandon(&send);
	assert_int_equal(free_keypairs(node(1)), free0);
	assert_int_equal(free_keypairs(node(0)), expected_free(node(0), NULL, 0));
}

/*
 * The same rounds, but one send job (node 0) and one receive job (node 1) per round are dropped
 * without abandon. Each keeps its keypair out of the pool after the session rotates away, so the
 * free counts fall round by round until a handshake fails for want of a keypair. Abandoning the
 * dropped jobs afterwards gives every slot back and handshakes work again.
 */
static void test_dropped_jobs_keep_keypairs(void **state)
{
	enum { MAX_ROUNDS = 64 };
	static uint8_t send_buf[MAX_ROUNDS][DATA_MIN_LEN];
	static uint8_t recv_buf[MAX_ROUNDS][DATA_MIN_LEN];
	static struct wgc_send_job send[MAX_ROUNDS];
	static struct wgc_receive_job recv[MAX_ROUNDS];
	struct wgc_keypair *held0[MAX_ROUNDS];
	struct wgc_keypair *held1[MAX_ROUNDS];
	int round;

	(void)state;
	establish();
	for (round = 0; round < MAX_ROUNDS; round++) {
		assert_true(prepare_keepalive(send_buf[round], &send[round]));
		assert_true(prepare_received(recv_buf[round], &recv[round]));
		held0[round] = send[round].keypair;
		held1[round] = recv[round].keypair;
		assert_int_equal(free_keypairs(node(0)), expected_free(node(0), held0, round + 1));
		assert_int_equal(free_keypairs(node(1)), expected_free(node(1), held1, round + 1));
		if (!try_rekey((uint16_t)(200 + round)))
			break;
	}
	/* The pools are 12 keypairs each: starved after about ten rounds, well within the limit. */
	assert_true(round < MAX_ROUNDS);
	assert_true(round >= 8);
	assert_true(h_drops(node(0), WGC_DROP_NO_MEMORY) + h_drops(node(1), WGC_DROP_NO_MEMORY) > 0);

	for (int i = 0; i <= round; i++) {
		wgc_send_abandon(&send[i]);
		wgc_receive_abandon(&recv[i]);
	}
	assert_int_equal(free_keypairs(node(0)), expected_free(node(0), NULL, 0));
	assert_int_equal(free_keypairs(node(1)), expected_free(node(1), NULL, 0));
	/* Node 0 keeps retrying its initiation; with keypairs back the handshake completes. */
	h_run_for(&net, 30 * SEC);
	assert_true(h_stats(node(0)).has_session);
	assert_true(try_rekey(999));
}

/* ---- debug assertions: each case must kill a child with the trap ---- */

#ifdef WGC_DEBUG

/* A child's exit status when the steps before the misuse did not go as planned. */
enum { CHILD_SETUP_FAILED = 3 };

/* Runs fn in a child process (on a copy of the harness) and returns its wait status. fn uses no
 * cmocka assertion (see prepare_keepalive). */
static int run_in_child(void (*fn)(void))
{
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		const struct rlimit no_core = {0, 0};

		/* cmocka catches SIGILL to report a crash; the child must die of it instead. */
		signal(SIGILL, SIG_DFL);
		signal(SIGTRAP, SIG_DFL);
		(void)setrlimit(RLIMIT_CORE, &no_core);
		fn();
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

/* fn must die of the trap WGC_ASSERT raises. */
static void expect_trap(void (*fn)(void))
{
	int status = run_in_child(fn);

	if (WIFEXITED(status) && WEXITSTATUS(status) == CHILD_SETUP_FAILED)
		fail_msg("the child could not set up the misuse");
	if (!WIFSIGNALED(status))
		fail_msg("the child exited with status %d instead of trapping", WEXITSTATUS(status));
	if (WTERMSIG(status) != SIGILL && WTERMSIG(status) != SIGTRAP)
		fail_msg("the child died of signal %d, not the trap", WTERMSIG(status));
}

/* fn must run to its end. */
static void expect_no_trap(void (*fn)(void))
{
	int status = run_in_child(fn);

	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("the child did not exit cleanly (wait status %#x)", (unsigned)status);
}

static void seal_after_stage(void)
{
	static uint8_t buf[H_BUF];
	struct wgc_action list[8];
	uint8_t scratch[512];
	struct wgc_actions out = reset_out(list, 8, scratch, sizeof(scratch));
	struct wgc_send_job job;

	/* No session yet: the keepalive stages behind a new initiation. */
	if (wgc_send_prepare(node(0)->ep, net.now, node(0)->peer, buf, sizeof(buf), 0, &job, &out) !=
	    WGC_VERDICT_STAGE)
		_exit(CHILD_SETUP_FAILED);
	wgc_send_seal(&job);
}

static void seal_after_drop(void)
{
	static uint8_t buf[H_BUF];
	struct wgc_action list[8];
	uint8_t scratch[512];
	struct wgc_actions out = reset_out(list, 8, scratch, sizeof(scratch));
	struct wgc_send_job job;

	buf[WGC_DATA_HEADROOM] = 0x45; /* to 0.0.0.0, which no peer is allowed for */
	if (wgc_send_prepare(node(0)->ep, net.now, NULL, buf, sizeof(buf), 20, &job, &out) !=
	    WGC_VERDICT_DROP)
		_exit(CHILD_SETUP_FAILED);
	wgc_send_seal(&job);
}

static void seal_twice(void)
{
	static uint8_t buf[DATA_MIN_LEN];
	struct wgc_send_job job;

	if (!prepare_keepalive(buf, &job))
		_exit(CHILD_SETUP_FAILED);
	wgc_send_seal(&job);
	wgc_send_seal(&job);
}

static void open_after_drop(void)
{
	static uint8_t buf[DATA_MIN_LEN];
	struct wgc_action list[8];
	uint8_t scratch[512];
	struct wgc_actions out = reset_out(list, 8, scratch, sizeof(scratch));
	struct wgc_receive_job job;

	/* A data message to an index no one has. */
	wgc_store_le32(buf, MESSAGE_DATA);
	if (wgc_receive_prepare(node(1)->ep, net.now, buf, sizeof(buf), &node(0)->addr, &job,
				&out) != WGC_VERDICT_DROP)
		_exit(CHILD_SETUP_FAILED);
	wgc_receive_open(&job);
}

static void commit_without_open(void)
{
	static uint8_t buf[DATA_MIN_LEN];
	struct wgc_action list[8];
	uint8_t scratch[512];
	struct wgc_actions out = reset_out(list, 8, scratch, sizeof(scratch));
	struct wgc_receive_job job;

	if (!prepare_received(buf, &job))
		_exit(CHILD_SETUP_FAILED);
	(void)wgc_receive_commit(node(1)->ep, net.now, &job, &out);
}

static void commit_twice(void)
{
	static uint8_t buf[DATA_MIN_LEN];
	struct wgc_action list[8];
	uint8_t scratch[512];
	struct wgc_actions out = reset_out(list, 8, scratch, sizeof(scratch));
	struct wgc_receive_job job;

	if (!prepare_received(buf, &job))
		_exit(CHILD_SETUP_FAILED);
	wgc_receive_open(&job);
	if (wgc_receive_commit(node(1)->ep, net.now, &job, &out) != WGC_VERDICT_DONE)
		_exit(CHILD_SETUP_FAILED);
	(void)wgc_receive_commit(node(1)->ep, net.now, &job, &out);
}

/* The random callback calls back into the endpoint that called it: two serial calls at once. */
static bool random_that_reenters(void *ctx, void *buf, size_t len)
{
	struct h_node *n = ctx;

	wgc_endpoint_set_mtu(n->ep, 1280);
	return h_rng_fill(ctx, buf, len);
}

/* The same detour without the call back in, for the control case. */
static bool random_that_forwards(void *ctx, void *buf, size_t len)
{
	return h_rng_fill(ctx, buf, len);
}

static void serial_calls_overlap(void)
{
	node(0)->ep->random = random_that_reenters;
	/* No session: prepare starts a handshake, which draws an ephemeral key. */
	(void)h_send(&net, 0, 1);
}

static void serial_calls_in_turn(void)
{
	node(0)->ep->random = random_that_forwards;
	(void)h_send(&net, 0, 1);
	/* The tick nests sends inside a serial call, which is the library's own business. */
	h_run_for(&net, 200 * SEC);
	wgc_endpoint_set_mtu(node(0)->ep, 1280);
}

static void jobs_used_once(void)
{
	static uint8_t buf[DATA_MIN_LEN];
	struct wgc_action list[8];
	uint8_t scratch[512];
	struct wgc_actions out = reset_out(list, 8, scratch, sizeof(scratch));
	struct wgc_send_job send;
	struct wgc_receive_job recv;

	if (!prepare_keepalive(buf, &send))
		_exit(CHILD_SETUP_FAILED);
	wgc_send_seal(&send);
	wgc_send_abandon(&send);
	if (!prepare_received(buf, &recv))
		_exit(CHILD_SETUP_FAILED);
	wgc_receive_open(&recv);
	(void)wgc_receive_commit(node(1)->ep, net.now, &recv, &out);
	wgc_receive_abandon(&recv);
	if (!prepare_received(buf, &recv))
		_exit(CHILD_SETUP_FAILED);
	wgc_receive_abandon(&recv);
	wgc_receive_abandon(&recv);
	wgc_endpoint_clear(node(0)->ep);
	wgc_endpoint_clear(node(1)->ep);
}

static void peer_removed_twice(void)
{
	struct wgc_peer *peer = node(1)->peer;

	wgc_peer_remove(node(1)->ep, peer);
	wgc_peer_remove(node(1)->ep, peer);
}

static void clear_under_a_job(void)
{
	static uint8_t buf[DATA_MIN_LEN];
	struct wgc_send_job job;

	if (!prepare_keepalive(buf, &job))
		_exit(CHILD_SETUP_FAILED);
	wgc_endpoint_clear(node(0)->ep);
}

static void test_misused_jobs_trap(void **state)
{
	(void)state;
	expect_trap(seal_after_stage);
	expect_trap(seal_after_drop);
	expect_trap(open_after_drop);
	establish();
	expect_trap(seal_twice);
	expect_trap(commit_without_open);
	expect_trap(commit_twice);
	expect_trap(clear_under_a_job);
}

static void test_overlapping_serial_calls_trap(void **state)
{
	(void)state;
	expect_trap(serial_calls_overlap);
	expect_no_trap(serial_calls_in_turn);
}

static void test_peer_removed_twice_traps(void **state)
{
	(void)state;
	establish();
	expect_trap(peer_removed_twice);
}

/* The same steps done right run through, so the traps above are the contracts' and not the
 * harness's. */
static void test_correct_use_does_not_trap(void **state)
{
	(void)state;
	establish();
	expect_no_trap(jobs_used_once);
}

#endif

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_abandoned_jobs_return_keypairs),
	    T(test_abandon_is_a_no_op_without_a_reference),
	    T(test_dropped_jobs_keep_keypairs),
#ifdef WGC_DEBUG
	    T(test_misused_jobs_trap),
	    T(test_overlapping_serial_calls_trap),
	    T(test_peer_removed_twice_traps),
	    T(test_correct_use_does_not_trap),
#endif
	};
#undef T

	return cmocka_run_group_tests_name("contracts", tests, NULL, NULL);
}
