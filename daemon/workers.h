/* SPDX-License-Identifier: MIT */
/*
 * A small pool of crypto worker threads for the pure halves of libwgc's data path (wgc_send_seal,
 * wgc_receive_open). It offers one operation, a batch-parallel "for": the calling thread (the event
 * loop) splits the jobs of one batch among itself and the workers, does a share itself, and returns
 * only when every job of the batch is done. It knows nothing of sockets, peers or ordering: order is
 * the caller's, kept because a batch is finished before the next one starts and the serial steps
 * around it (prepare, commit, sendmmsg) stay in batch order. See daemon/pipeline.h for the thread
 * model and why no lock is needed.
 */
#ifndef WGC_DAEMON_WORKERS_H
#define WGC_DAEMON_WORKERS_H

#include <stdbool.h>
#include <stdint.h>

#include "wgc.h"

struct workers;

enum {
	/* More threads than this are refused (WGC_WORKERS larger is clamped). */
	WORKERS_MAX = 64,
};

/* ---- setup ---- */

/*
 * How many worker threads to start: WGC_WORKERS from env_value when it is a decimal number (0 = no
 * threads: everything inline, the fallback and a test mode; larger than WORKERS_MAX is clamped),
 * otherwise the default for online_cpus (see workers.c for why). *is_invalid (may be NULL) is set
 * when env_value is present but not a number, so the caller can log it. Pure: any thread.
 */
unsigned workers_choose_count(const char *env_value, long online_cpus, bool *is_invalid);

/*
 * Starts count threads (0 is valid: a pool that runs everything inline on the caller). The threads
 * block every signal and sleep in futex_wait when there is nothing to do (no CPU when idle).
 * Returns 0 and *out, or -errno (nothing is left running). Configuration-time.
 */
int workers_create(unsigned count, struct workers **out);
/* Stops and joins the threads and frees w (NULL is fine). No batch may be running. */
void workers_destroy(struct workers *w);
/* Number of worker threads (not counting the caller). */
unsigned workers_count(const struct workers *w);

/* Batches run so far, by path. Read on the caller's thread (the same one that runs the batches). */
struct workers_stats {
	uint64_t inline_batches;   /* run on the caller alone (small batch, or no threads) */
	uint64_t parallel_batches; /* split with at least one worker */
	uint64_t helpers_woken;    /* worker wake-ups, over all parallel batches */
	uint64_t helpers_joined;   /* of those, workers that joined before the caller had done all */
};
void workers_get_stats(const struct workers *w, struct workers_stats *out);

/* ---- data path (one caller thread at a time: the event loop) ---- */

/*
 * Runs wgc_send_seal on jobs[0..n) and returns when all are sealed. jobs is borrowed for the call;
 * each job must be a WGC_VERDICT_CRYPTO result of wgc_send_prepare. Small batches (few packets or
 * few bytes, where waking a thread costs more than it saves) run inline. w may be NULL (inline).
 * Must not be called concurrently with itself or workers_open on the same pool.
 */
void workers_seal(struct workers *w, struct wgc_send_job *jobs, unsigned n);
/*
 * Runs wgc_receive_open on every jobs[i] with is_crypto[i] true (is_crypto NULL: all of them), i <
 * n, and returns when all are opened. Same rules as workers_seal.
 */
void workers_open(struct workers *w, struct wgc_receive_job *jobs, const bool *is_crypto,
		  unsigned n);

#endif
