/* SPDX-License-Identifier: MIT */
/*
 * The crypto worker pool: a batch-parallel "for" over the seal or open jobs of one batch. The
 * caller publishes the batch (a task), wakes as many workers as the batch's size pays for, claims
 * jobs from a shared counter like every woken worker does, and waits until the woken workers have
 * left the batch. Nothing here orders packets; see daemon/pipeline.h for why order holds.
 *
 * Synchronisation is three atomics and two futex words, no lock:
 *   worker.seq   bumped (release) by the caller to hand that worker the current task; the worker
 *                sleeps in futex_wait on it. The acquire load that sees a new value makes the task
 *                and the jobs' prepared contents visible to the worker.
 *   pool.next    index of the next unclaimed job of the task; fetch_add claims one job, so each job
 *                is sealed/opened by exactly one thread. Relaxed: it orders nothing else.
 *   pool.pending woken workers that have not finished the task. A worker's decrement (release)
 *                publishes its jobs' results; the caller's acquire load of 0 sees them all. The
 *                last worker out wakes the caller if it sleeps on it.
 * The task itself is written only by the caller while pending is 0 (no worker is inside it).
 */
#include "daemon/workers.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

enum {
	CACHE_LINE = 64,
	/* Below this much payload in a batch, the whole batch runs inline: sealing 16 KiB takes
	 * about 10 µs, the order of a futex wake plus the woken thread's scheduling latency. */
	PARALLEL_BYTES_MIN = 16 * 1024,
	PARALLEL_JOBS_MIN = 4,
	/* Each thread taking part (the caller included) should get at least this much work. */
	SHARE_BYTES_MIN = 8 * 1024,
	SHARE_JOBS_MIN = 2,
	/* Polls of pending before the caller sleeps on it: a few microseconds, so a batch whose
	 * last job is about to finish costs no syscall, while a worker the scheduler delays (on a
	 * machine with fewer cores than threads) gets the caller's CPU instead of a spinning caller. */
	WAIT_SPINS = 2000,
};

enum task_kind {
	TASK_SEAL,
	TASK_OPEN,
};

/* One batch. Written by the caller only while no worker is inside it (pending == 0). */
struct task {
	enum task_kind kind;
	struct wgc_send_job *send_jobs;
	struct wgc_receive_job *recv_jobs;
	const bool *is_selected; /* TASK_OPEN: which recv_jobs to open; NULL = all */
	unsigned n;
};

struct worker {
	/* Bumped by the caller to hand this worker the current task (futex word). On a cache line of
	 * its own so that waking one worker does not disturb the others. */
	_Alignas(CACHE_LINE) _Atomic uint32_t seq;
	struct workers *pool;
	pthread_t thread;
};

struct workers {
	unsigned count;
	struct task task;
	struct workers_stats stats; /* caller's thread only */
	_Atomic bool is_stopping; /* set before the final seq bump; read by workers after waking */
	_Alignas(CACHE_LINE) _Atomic unsigned next;     /* next unclaimed job index of the task */
	_Alignas(CACHE_LINE) _Atomic uint32_t pending; /* woken workers still in the task (futex word) */
	struct worker workers[];
};

/* ---- futex ---- */

static void futex_wait(_Atomic uint32_t *word, uint32_t expected)
{
	/* Returns at once (EAGAIN) if *word != expected; spurious wake-ups are handled by callers,
	 * which always re-check their condition. */
	(void)syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_PRIVATE, expected, NULL, NULL, 0);
}

static void futex_wake(_Atomic uint32_t *word, int count)
{
	(void)syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE_PRIVATE, count, NULL, NULL, 0);
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

/* ---- the shared "for" ---- */

/* Claims and runs jobs of the current task until none is left. Any participating thread. */
static void run_share(struct workers *pool)
{
	const struct task *t = &pool->task;
	unsigned i;

	for (;;) {
		i = atomic_fetch_add_explicit(&pool->next, 1, memory_order_relaxed);
		if (i >= t->n)
			return;
		if (t->kind == TASK_SEAL)
			wgc_send_seal(&t->send_jobs[i]);
		else if (!t->is_selected || t->is_selected[i])
			wgc_receive_open(&t->recv_jobs[i]);
	}
}

static void *worker_main(void *arg)
{
	struct worker *self = arg;
	struct workers *pool = self->pool;
	uint32_t seen = 0;
	uint32_t seq;

	for (;;) {
		while ((seq = atomic_load_explicit(&self->seq, memory_order_acquire)) == seen)
			futex_wait(&self->seq, seen);
		seen = seq;
		if (atomic_load_explicit(&pool->is_stopping, memory_order_acquire))
			return NULL;
		run_share(pool);
		/* The last one out wakes the caller; a wake with nobody asleep is a cheap syscall. */
		if (atomic_fetch_sub_explicit(&pool->pending, 1, memory_order_acq_rel) == 1)
			futex_wake(&pool->pending, 1);
	}
}

/* Waits until every woken worker has left the task. */
static void wait_done(struct workers *pool)
{
	uint32_t left;
	int spin;

	for (spin = 0; spin < WAIT_SPINS; spin++) {
		if (atomic_load_explicit(&pool->pending, memory_order_acquire) == 0)
			return;
		cpu_relax();
	}
	while ((left = atomic_load_explicit(&pool->pending, memory_order_acquire)) != 0)
		futex_wait(&pool->pending, left);
}

/* How many workers a batch of n jobs and bytes is worth waking (0: run it inline). */
static unsigned helpers_for(const struct workers *pool, unsigned n, size_t bytes)
{
	size_t shares;

	if (!pool || pool->count == 0 || n < PARALLEL_JOBS_MIN || bytes < PARALLEL_BYTES_MIN)
		return 0;
	shares = bytes / SHARE_BYTES_MIN;
	if (shares > n / SHARE_JOBS_MIN)
		shares = n / SHARE_JOBS_MIN;
	if (shares <= 1)
		return 0;
	return shares - 1 < pool->count ? (unsigned)(shares - 1) : pool->count;
}

static void count_inline(struct workers *pool)
{
	if (pool)
		pool->stats.inline_batches++;
}

/* Runs the published task on the caller and helpers workers, and waits for them. */
static void run_task(struct workers *pool, unsigned helpers)
{
	unsigned i;

	pool->stats.parallel_batches++;
	pool->stats.helpers_woken += helpers;
	atomic_store_explicit(&pool->next, 0, memory_order_relaxed);
	atomic_store_explicit(&pool->pending, helpers, memory_order_relaxed);
	for (i = 0; i < helpers; i++) {
		/* release: the task, next, pending and the prepared jobs are visible to the worker
		 * once it sees the new seq. */
		atomic_fetch_add_explicit(&pool->workers[i].seq, 1, memory_order_release);
		futex_wake(&pool->workers[i].seq, 1);
	}
	run_share(pool);
	wait_done(pool);
}

void workers_seal(struct workers *w, struct wgc_send_job *jobs, unsigned n)
{
	size_t bytes = 0;
	unsigned helpers;
	unsigned i;

	for (i = 0; i < n; i++)
		bytes += jobs[i].plain_len;
	helpers = helpers_for(w, n, bytes);
	if (helpers == 0) {
		for (i = 0; i < n; i++)
			wgc_send_seal(&jobs[i]);
		count_inline(w);
		return;
	}
	w->task = (struct task){ .kind = TASK_SEAL, .send_jobs = jobs, .n = n };
	run_task(w, helpers);
}

void workers_open(struct workers *w, struct wgc_receive_job *jobs, const bool *is_crypto,
		  unsigned n)
{
	size_t bytes = 0;
	unsigned selected = 0;
	unsigned helpers;
	unsigned i;

	for (i = 0; i < n; i++) {
		if (is_crypto && !is_crypto[i])
			continue;
		bytes += jobs[i].len;
		selected++;
	}
	helpers = helpers_for(w, selected, bytes);
	if (helpers == 0) {
		for (i = 0; i < n; i++)
			if (!is_crypto || is_crypto[i])
				wgc_receive_open(&jobs[i]);
		count_inline(w);
		return;
	}
	w->task = (struct task){
		.kind = TASK_OPEN, .recv_jobs = jobs, .is_selected = is_crypto, .n = n
	};
	run_task(w, helpers);
}

/* ---- setup ---- */

unsigned workers_choose_count(const char *env_value, long online_cpus, bool *is_invalid)
{
	unsigned long value;
	char *end;

	if (is_invalid)
		*is_invalid = false;
	if (env_value && *env_value) {
		errno = 0;
		value = strtoul(env_value, &end, 10);
		if (*end == '\0' && errno == 0 && env_value[0] != '-')
			return value > WORKERS_MAX ? WORKERS_MAX : (unsigned)value;
		if (is_invalid)
			*is_invalid = true;
	}
	/* Default: one worker per CPU beyond the event loop's, which takes a share of every batch
	 * itself; but none below 3 CPUs. On 2 CPUs the other core is busy with the kernel's half of
	 * the tunnel (TUN, UDP, the TCP stacks, the applications), so a worker only competes with it
	 * and the event loop waits for a worker the scheduler has not run yet: measured with
	 * bench/tunnel.sh (QUICK=1 RUNS=3, veth offloads off, 2-core EPYC), one worker gave 0.80-0.91x
	 * the TCP goodput of inline crypto and no gain elsewhere. */
	if (online_cpus < 3)
		return 0;
	return online_cpus - 1 > WORKERS_MAX ? WORKERS_MAX : (unsigned)(online_cpus - 1);
}

unsigned workers_count(const struct workers *w)
{
	return w ? w->count : 0;
}

void workers_get_stats(const struct workers *w, struct workers_stats *out)
{
	if (w)
		*out = w->stats;
	else
		memset(out, 0, sizeof(*out));
}

static void stop_threads(struct workers *pool, unsigned started)
{
	unsigned i;

	atomic_store_explicit(&pool->is_stopping, true, memory_order_release);
	for (i = 0; i < started; i++) {
		atomic_fetch_add_explicit(&pool->workers[i].seq, 1, memory_order_release);
		futex_wake(&pool->workers[i].seq, 1);
	}
	for (i = 0; i < started; i++)
		pthread_join(pool->workers[i].thread, NULL);
}

int workers_create(unsigned count, struct workers **out)
{
	size_t size = sizeof(struct workers) + (size_t)count * sizeof(struct worker);
	struct workers *pool;
	sigset_t all;
	sigset_t old;
	unsigned i;
	int ret = 0;

	if (count > WORKERS_MAX)
		return -EINVAL;
	size = (size + CACHE_LINE - 1) / CACHE_LINE * CACHE_LINE;
	pool = aligned_alloc(CACHE_LINE, size);
	if (!pool)
		return -ENOMEM;
	memset(pool, 0, size);
	pool->count = count;
	/* Workers inherit a mask that blocks every signal: signals belong to the event loop's
	 * signalfd, and a handler must never run on a crypto thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (i = 0; i < count; i++) {
		pool->workers[i].pool = pool;
		ret = -pthread_create(&pool->workers[i].thread, NULL, worker_main,
				      &pool->workers[i]);
		if (ret < 0)
			break;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret < 0) {
		stop_threads(pool, i);
		free(pool);
		return ret;
	}
	*out = pool;
	return 0;
}

void workers_destroy(struct workers *w)
{
	if (!w)
		return;
	stop_threads(w, w->count);
	free(w);
}
