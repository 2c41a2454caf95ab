/* SPDX-License-Identifier: MIT */
/*
 * The crypto worker pool: a batch-parallel "for" over the seal or open jobs of one batch. The
 * caller publishes the batch (a task), wakes as many workers as the batch's size pays for, and
 * claims jobs from a shared counter as every worker that joins the task does. When no job is left
 * it closes the task and waits only for the workers that joined it: a worker the scheduler has not
 * run yet by then finds the task closed, so the caller never waits for a thread that did no work
 * (on a machine with fewer cores than threads, that wait was most of the cost). Nothing here
 * orders packets; see daemon/pipeline.h for why order holds.
 *
 * Synchronisation is four atomics (two of them futex words), no lock:
 *   worker.seq   bumped (release) by the caller to wake that worker; the worker sleeps in
 *                futex_wait on it. A wake-up is only a hint to try to join the current task.
 *   pool.state   TASK_CLOSED bit plus the number of workers that joined the task. The caller opens
 *                a task by storing 0 (release: the task, next and done are written before it); a
 *                worker joins with a compare-and-swap that fails once the caller has set
 *                TASK_CLOSED (acquire: it then sees the task); the caller's fetch_or of
 *                TASK_CLOSED returns how many joined.
 *   pool.next    index of the next unclaimed job of the task; fetch_add claims one job, so each job
 *                is sealed/opened by exactly one thread. Relaxed: it orders nothing else.
 *   pool.done    workers that joined and finished. A worker's increment (release) publishes its
 *                jobs' results; the caller's acquire load equal to the joined count sees them all.
 *                The caller sleeps on it (futex) if the workers take long.
 * The task, next and done are written only by the caller while the task is closed and every worker
 * that joined it has finished, so no worker is inside it. A worker woken for one batch that runs
 * late may join the next one: it reads the task only after joining, so it simply helps there.
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
#include <sys/mman.h>
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
	/* Polls of done before the caller sleeps on it: a few microseconds, so a batch whose
	 * last job is about to finish costs no syscall, while a worker the scheduler delays (on a
	 * machine with fewer cores than threads) gets the caller's CPU instead of a spinning caller. */
	WAIT_SPINS = 2000,
};

#define TASK_CLOSED UINT32_C(0x80000000)

enum task_kind {
	TASK_SEAL,
	TASK_OPEN,
};

/* One batch. Written by the caller only while it is closed and no worker is inside it. */
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
	_Alignas(CACHE_LINE) _Atomic unsigned next; /* next unclaimed job index of the task */
	_Atomic uint32_t state; /* TASK_CLOSED | workers that joined the task */
	_Alignas(CACHE_LINE) _Atomic uint32_t done; /* joined workers that finished (futex word) */
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

/* True when the worker joined the open task; false when it is closed. */
static bool join_task(struct workers *pool)
{
	uint32_t state = atomic_load_explicit(&pool->state, memory_order_acquire);

	while (!(state & TASK_CLOSED))
		if (atomic_compare_exchange_weak_explicit(&pool->state, &state, state + 1,
							  memory_order_acq_rel,
							  memory_order_acquire))
			return true;
	return false;
}

enum { STACK_LOCK_BYTES = 64 << 10 };

/*
 * Seal and open keep cipher state derived from session keys on this thread's stack: the next
 * STACK_LOCK_BYTES below here are locked in RAM and left out of core dumps, like the endpoint's
 * memory. Best effort and silent (the event loop logs lock failures for the process).
 */
static void __attribute__((noinline)) protect_stack(void)
{
	volatile uint8_t probe[STACK_LOCK_BYTES];
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t start = ((uintptr_t)probe + page - 1) & ~(page - 1);
	size_t len = ((uintptr_t)probe + sizeof(probe) - start) & ~(page - 1);

	memset((void *)probe, 0, sizeof(probe)); /* maps the pages */
	(void)mlock2((void *)start, len, MLOCK_ONFAULT);
	(void)madvise((void *)start, len, MADV_DONTDUMP);
}

static void *worker_main(void *arg)
{
	struct worker *self = arg;
	struct workers *pool = self->pool;
	uint32_t seen = 0;
	uint32_t seq;

	protect_stack();
	for (;;) {
		while ((seq = atomic_load_explicit(&self->seq, memory_order_acquire)) == seen)
			futex_wait(&self->seq, seen);
		seen = seq;
		if (atomic_load_explicit(&pool->is_stopping, memory_order_acquire))
			return NULL;
		if (!join_task(pool))
			continue; /* woken too late: the caller finished the batch without us */
		run_share(pool);
		atomic_fetch_add_explicit(&pool->done, 1, memory_order_release);
		/* A wake with nobody asleep is a cheap syscall. */
		futex_wake(&pool->done, 1);
	}
}

/* Closes the task and waits until every worker that joined it has finished. */
static void close_and_wait(struct workers *pool)
{
	uint32_t joined = atomic_fetch_or_explicit(&pool->state, TASK_CLOSED,
						   memory_order_acq_rel) & ~TASK_CLOSED;
	uint32_t done;
	int spin;

	pool->stats.helpers_joined += joined;
	for (spin = 0; spin < WAIT_SPINS; spin++) {
		if (atomic_load_explicit(&pool->done, memory_order_acquire) == joined)
			return;
		cpu_relax();
	}
	while ((done = atomic_load_explicit(&pool->done, memory_order_acquire)) != joined)
		futex_wait(&pool->done, done);
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
	atomic_store_explicit(&pool->done, 0, memory_order_relaxed);
	/* Opens the task: release makes the task, next, done and the prepared jobs visible to a
	 * worker whose join (acquire) sees it. */
	atomic_store_explicit(&pool->state, 0, memory_order_release);
	for (i = 0; i < helpers; i++) {
		atomic_fetch_add_explicit(&pool->workers[i].seq, 1, memory_order_release);
		futex_wake(&pool->workers[i].seq, 1);
	}
	run_share(pool);
	close_and_wait(pool);
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
	atomic_store_explicit(&pool->state, TASK_CLOSED, memory_order_relaxed);
	/* Workers inherit a mask that blocks every signal: signals belong to the event loop's
	 * signalfd, and a handler must never run on a crypto thread. All but SIGSYS: a seccomp
	 * violation on a worker must reach the sandbox's handler, which reports it (a blocked
	 * SIGSYS would kill the process without a word). */
	sigfillset(&all);
	sigdelset(&all, SIGSYS);
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
