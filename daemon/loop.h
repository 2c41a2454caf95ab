/* SPDX-License-Identifier: MIT */
/*
 * The event loop: one epoll set on the event-loop thread. Each file descriptor is a source: a
 * callback and its context, registered by the module that owns the descriptor (the device its TUN
 * and UDP sockets and link monitor, the UAPI server its listening socket and clients). The loop
 * also owns the one protocol timer (a timerfd on CLOCK_BOOTTIME, so suspend counts as time
 * passed), SIGINT, SIGTERM, SIGHUP and SIGQUIT (a signalfd: each stops the loop with status 0, so
 * the daemon's normal teardown wipes every key; SIGQUIT does not dump core), the time of the current
 * batch of events, and an end-of-batch hook (the device flushes its send queue there and re-arms
 * the timer). It knows nothing of WireGuard.
 *
 * Thread rule: every function here is for the loop's own thread only, except loop_clock_ns,
 * and except that whoever holds the loop's round lock (loop_set_round_lock) may call any of them
 * on it: the loop holds that lock for every batch of events, from the end of its wait to the end
 * of its end-of-batch hook, so the holder finds it asleep in epoll_wait or about to start a
 * batch. loop_create blocks those signals in the calling thread, so threads started afterwards
 * (the crypto workers, the lanes) inherit the mask and the signals reach only the signalfd.
 */
#ifndef WGC_DAEMON_LOOP_H
#define WGC_DAEMON_LOOP_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

struct loop;

/* Called with the epoll events (EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP) of the source's fd. */
typedef void (*loop_fn)(void *ctx, uint32_t events);

/* One registered descriptor. Caller memory: it must stay put while registered. */
struct loop_source {
	int fd;           /* -1 while not registered */
	uint32_t events;  /* what epoll watches for */
	loop_fn fn;
	void *ctx;
};

/* Creates the epoll set, the timerfd and the signalfd. 0 or -errno (logged). */
int loop_create(struct loop **out);
/* The same for a lane's thread (device.h): no signals (they go to the first loop's signalfd). */
int loop_create_lane(struct loop **out);
/* Closes the loop's own descriptors and frees it (NULL is fine). Registered sources are the
 * owners' to close. */
void loop_destroy(struct loop *loop);

/* Registers fd (>= 0) as src, watching events. fd < 0 is a no-op returning 0 (a missing socket
 * family). 0 or -errno (logged). */
int loop_add(struct loop *loop, struct loop_source *src, int fd, uint32_t events, loop_fn fn,
	     void *ctx);
/* Changes the events src waits for. 0 or -errno. */
int loop_modify(struct loop *loop, struct loop_source *src, uint32_t events);
/* Unregisters src (not registered: a no-op). Events of src already fetched in the current batch
 * are discarded, so its memory may be freed as soon as this returns, even from inside a callback. */
void loop_remove(struct loop *loop, struct loop_source *src);

/* The protocol timer: fn(ctx, 0) runs once CLOCK_BOOTTIME reaches the deadline given to
 * loop_timer_arm. One timer per loop. */
void loop_timer_init(struct loop *loop, loop_fn fn, void *ctx);
/* Pulls the timer to deadline (CLOCK_BOOTTIME ns) if that is earlier than the armed one; a later
 * deadline is ignored (the early wake-up costs one idle call, and the callback re-arms). */
void loop_timer_arm(struct loop *loop, uint64_t deadline);

/* fn(ctx, 0) runs after every batch of events, before the loop sleeps again. One per loop. */
void loop_set_end_of_batch(struct loop *loop, loop_fn fn, void *ctx);

/* lock (borrowed; NULL: none) is held for every batch of events, from the end of the wait to the
 * end of the end-of-batch hook, so another thread holding it can stop the loop, change its
 * sources, its timer or the state its callbacks use, then let it go on. Set before loop_run. */
void loop_set_round_lock(struct loop *loop, pthread_mutex_t *lock);

/* Work is left over (the end-of-batch hook had more to do than its budget): the next wait
 * polls without sleeping, so a new round starts at once, with fresh events first. */
void loop_busy(struct loop *loop);

/* Runs until loop_stop; returns the status given to it (0, or -errno for a fatal error). */
int loop_run(struct loop *loop);
/* Ends loop_run after the current callback; the first status given wins. */
void loop_stop(struct loop *loop, int status);
/* CLOCK_BOOTTIME ns at the start of the current batch of events (at loop_create before the first). */
uint64_t loop_now(const struct loop *loop);

/* The clock id's time in ns. Any thread. */
uint64_t loop_clock_ns(clockid_t id);

#endif
