/* SPDX-License-Identifier: MIT */
/*
 * The daemon's event loop (daemon/loop.c) over real descriptors: sources fire with their
 * context, a source removed (and freed) by another callback of the same epoll batch is never
 * called (the UAPI server's idle timer closing a client whose event was already fetched was a
 * use-after-free; ASan catches a regression here), the protocol timer fires at its deadline and
 * only ever moves earlier, the end-of-batch hook runs after each batch, a hook that left work over
 * (loop_busy) is called again at once without any event, and the first stop status wins. A lane's
 * loop (loop_create_lane) works no batch while another thread holds its round lock, and that
 * thread may stop it meanwhile.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon/loop.h"

struct probe {
	struct loop *loop;
	struct loop_source src;
	int fds[2];
	int calls;
	struct probe *victim; /* removed and freed by this probe's callback */
	int stop_status;
};

static struct probe *probe_new(struct loop *loop)
{
	struct probe *p = calloc(1, sizeof(*p));

	assert_non_null(p);
	p->loop = loop;
	assert_int_equal(pipe(p->fds), 0);
	assert_int_equal(write(p->fds[1], "x", 1), 1); /* readable from the start */
	return p;
}

static void probe_free(struct probe *p)
{
	loop_remove(p->loop, &p->src);
	close(p->fds[0]);
	close(p->fds[1]);
	free(p);
}

static void on_probe(void *ctx, uint32_t events)
{
	struct probe *p = ctx;

	assert_true(events & EPOLLIN);
	p->calls++;
	loop_stop(p->loop, p->stop_status);
}

static struct probe *killer; /* the probe whose callback ran, in the removal test */
static int killer_calls;

/* Each of two ready sources frees the other: whichever runs first, the other must not run (it
 * would touch freed memory, which ASan reports, and count a second call). */
static void on_killer(void *ctx, uint32_t events)
{
	struct probe *p = ctx;

	(void)events;
	killer = p;
	killer_calls++;
	probe_free(p->victim);
}

/* Stops the loop at the end of the batch, so the rest of the batch is dispatched first. */
static void on_killer_batch(void *ctx, uint32_t events)
{
	(void)events;
	if (killer_calls > 0)
		loop_stop(ctx, 0);
}

static void test_removed_source_is_not_called(void **state)
{
	struct loop *loop;
	struct probe *a;
	struct probe *b;
	int round;

	(void)state;
	for (round = 0; round < 20; round++) {
		assert_int_equal(loop_create(&loop), 0);
		a = probe_new(loop);
		b = probe_new(loop);
		a->victim = b;
		b->victim = a;
		killer = NULL;
		killer_calls = 0;
		loop_set_end_of_batch(loop, on_killer_batch, loop);
		assert_int_equal(loop_add(loop, &a->src, a->fds[0], EPOLLIN, on_killer, a), 0);
		assert_int_equal(loop_add(loop, &b->src, b->fds[0], EPOLLIN, on_killer, b), 0);
		assert_int_equal(loop_run(loop), 0);
		assert_int_equal(killer_calls, 1);
		assert_true(killer == a || killer == b);
		probe_free(killer);
		loop_destroy(loop);
	}
}

static void test_sources_and_stop_status(void **state)
{
	struct loop *loop;
	struct probe *p;

	(void)state;
	assert_int_equal(loop_create(&loop), 0);
	p = probe_new(loop);
	p->stop_status = -5;
	assert_int_equal(loop_add(loop, &p->src, p->fds[0], EPOLLIN, on_probe, p), 0);
	assert_int_equal(loop_run(loop), -5);
	assert_int_equal(p->calls, 1);
	loop_stop(loop, -7); /* the first status wins */
	assert_int_equal(loop_run(loop), -5);
	/* fd < 0 registers nothing and is not an error (a missing socket family). */
	assert_int_equal(loop_add(loop, &p->src, -1, EPOLLIN, on_probe, p), 0);
	assert_int_equal(p->src.fd, -1);
	probe_free(p);
	loop_destroy(loop);
}

struct timer_probe {
	struct loop *loop;
	int fired;
	int batches;
	uint64_t fired_at;
};

static void on_timer(void *ctx, uint32_t events)
{
	struct timer_probe *t = ctx;

	(void)events;
	t->fired++;
	t->fired_at = loop_clock_ns(CLOCK_BOOTTIME);
	loop_stop(t->loop, 0);
}

static void on_batch(void *ctx, uint32_t events)
{
	struct timer_probe *t = ctx;

	(void)events;
	t->batches++;
}

static void test_timer_fires_and_only_moves_earlier(void **state)
{
	struct timer_probe t = { 0 };
	struct loop *loop;
	uint64_t start;

	(void)state;
	assert_int_equal(loop_create(&loop), 0);
	t.loop = loop;
	loop_timer_init(loop, on_timer, &t);
	loop_set_end_of_batch(loop, on_batch, &t);
	start = loop_clock_ns(CLOCK_BOOTTIME);
	loop_timer_arm(loop, start + 20000000);   /* 20 ms */
	loop_timer_arm(loop, start + 5000000000); /* later: ignored */
	assert_int_equal(loop_run(loop), 0);
	assert_int_equal(t.fired, 1);
	assert_true(t.fired_at >= start + 20000000);
	assert_true(t.fired_at < start + 2000000000);
	/* Once before the first wait, once after the timer's batch. */
	assert_int_equal(t.batches, 2);
	loop_destroy(loop);
}

struct busy_probe {
	struct loop *loop;
	int rounds; /* hook calls to make, each with work left over */
	int calls;
};

static void on_busy_batch(void *ctx, uint32_t events)
{
	struct busy_probe *b = ctx;

	(void)events;
	if (++b->calls < b->rounds)
		loop_busy(b->loop);
	else
		loop_stop(b->loop, 7);
}

/* The handshake queue's contract: with no descriptor ready at all (only the idle timer and
 * signal sources are registered), a hook that calls loop_busy runs again at once, round after
 * round; without loop_busy the loop would sleep for ever and this test would hang. */
static void test_busy_hook_runs_again_without_events(void **state)
{
	struct busy_probe b = { .rounds = 5 };
	struct loop *loop;

	(void)state;
	assert_int_equal(loop_create(&loop), 0);
	b.loop = loop;
	loop_set_end_of_batch(loop, on_busy_batch, &b);
	alarm(10); /* a hang fails the test instead of the run */
	assert_int_equal(loop_run(loop), 7);
	alarm(0);
	assert_int_equal(b.calls, 5);
	loop_destroy(loop);
}

struct lane_probe {
	struct loop *loop;
	pthread_mutex_t lock;
	struct probe *p;
	int status;
};

static void *run_lane(void *arg)
{
	struct lane_probe *l = arg;

	l->status = loop_run(l->loop);
	return NULL;
}

/* A lane's loop with its round lock and one probe (readable or not) registered. */
static void lane_setup(struct lane_probe *l, bool is_readable)
{
	char c;

	l->status = 1;
	assert_int_equal(loop_create_lane(&l->loop), 0);
	assert_int_equal(pthread_mutex_init(&l->lock, NULL), 0);
	loop_set_round_lock(l->loop, &l->lock);
	l->p = probe_new(l->loop);
	if (!is_readable)
		assert_int_equal(read(l->p->fds[0], &c, 1), 1);
	assert_int_equal(loop_add(l->loop, &l->p->src, l->p->fds[0], EPOLLIN, on_probe, l->p), 0);
}

static void lane_teardown(struct lane_probe *l)
{
	probe_free(l->p);
	loop_destroy(l->loop);
	pthread_mutex_destroy(&l->lock);
}

static const struct timespec lane_pause = { 0, 50 * 1000 * 1000 };

/* A ready source's callback waits for the round lock: while the test holds it nothing runs. */
static void test_round_lock_holds_batches(void **state)
{
	struct lane_probe l;
	pthread_t thread;
	int calls;

	(void)state;
	lane_setup(&l, true);
	l.p->stop_status = -3;
	pthread_mutex_lock(&l.lock);
	assert_int_equal(pthread_create(&thread, NULL, run_lane, &l), 0);
	nanosleep(&lane_pause, NULL); /* the pipe is readable all along: only the lock holds it */
	calls = l.p->calls;           /* read under the lock the loop needs to change it */
	assert_int_equal(calls, 0);
	pthread_mutex_unlock(&l.lock);
	assert_int_equal(pthread_join(thread, NULL), 0);
	assert_int_equal(l.status, -3);
	assert_int_equal(l.p->calls, 1);
	lane_teardown(&l);
}

/* Stopped from another thread under the lock while it waits with nothing to do: woken by an
 * event, it stops before calling anything. */
static void test_stop_under_round_lock(void **state)
{
	struct lane_probe l;
	pthread_t thread;

	(void)state;
	lane_setup(&l, false);
	assert_int_equal(pthread_create(&thread, NULL, run_lane, &l), 0);
	nanosleep(&lane_pause, NULL);
	pthread_mutex_lock(&l.lock);
	loop_stop(l.loop, -9);
	pthread_mutex_unlock(&l.lock);
	assert_int_equal(write(l.p->fds[1], "x", 1), 1); /* the wake-up */
	assert_int_equal(pthread_join(thread, NULL), 0);
	assert_int_equal(l.status, -9);
	assert_int_equal(l.p->calls, 0);
	lane_teardown(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_removed_source_is_not_called),
		cmocka_unit_test(test_sources_and_stop_status),
		cmocka_unit_test(test_timer_fires_and_only_moves_earlier),
		cmocka_unit_test(test_busy_hook_runs_again_without_events),
		cmocka_unit_test(test_round_lock_holds_batches),
		cmocka_unit_test(test_stop_under_round_lock),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
