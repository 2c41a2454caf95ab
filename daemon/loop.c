/* SPDX-License-Identifier: MIT */
/*
 * The event loop (see loop.h). epoll's data pointer is the source itself; a source removed while
 * a batch is being dispatched is also wiped from the rest of that batch, which is what lets a
 * callback close and free another source (the UAPI idle timer closing clients, the device
 * replacing its UDP sockets) without a use-after-free.
 */
#include "daemon/loop.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "base/bytes.h"
#include "daemon/log.h"

enum { EPOLL_EVENTS = 16 };

struct loop {
	int epoll_fd;
	struct loop_source timer;  /* timerfd, CLOCK_BOOTTIME */
	struct loop_source signal; /* signalfd: SIGINT, SIGTERM, SIGHUP, SIGQUIT */
	loop_fn timer_fn;
	void *timer_ctx;
	uint64_t armed_ns; /* deadline the timerfd is set to; UINT64_MAX = none */
	loop_fn end_fn;
	void *end_ctx;
	uint64_t now_ns;
	bool is_stopping;
	bool is_busy; /* loop_busy: poll, do not sleep, at the next wait */
	int exit_status;
	/* The batch being dispatched, so loop_remove can wipe a removed source's pending events. */
	struct epoll_event events[EPOLL_EVENTS];
	int pending_from;
	int pending_to;
	/* Held from the end of each wait to the end of the batch (loop_set_round_lock), or NULL. */
	pthread_mutex_t *round_lock;
};

uint64_t loop_clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * WGC_NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

int loop_add(struct loop *loop, struct loop_source *src, int fd, uint32_t events, loop_fn fn,
	     void *ctx)
{
	struct epoll_event ev = { .events = events, .data.ptr = src };
	int err;

	src->fd = -1;
	src->fn = fn;
	src->ctx = ctx;
	src->events = events;
	if (fd < 0)
		return 0;
	if (epoll_ctl(loop->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		err = errno;
		log_error("watching fd %d: %s", fd, strerror(err));
		return -err;
	}
	src->fd = fd;
	return 0;
}

int loop_modify(struct loop *loop, struct loop_source *src, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = src };

	if (src->fd < 0)
		return -EBADF;
	if (epoll_ctl(loop->epoll_fd, EPOLL_CTL_MOD, src->fd, &ev) < 0)
		return -errno;
	src->events = events;
	return 0;
}

void loop_remove(struct loop *loop, struct loop_source *src)
{
	int i;

	if (src->fd < 0)
		return;
	(void)epoll_ctl(loop->epoll_fd, EPOLL_CTL_DEL, src->fd, NULL);
	src->fd = -1;
	for (i = loop->pending_from; i < loop->pending_to; i++)
		if (loop->events[i].data.ptr == src)
			loop->events[i].data.ptr = NULL;
}

/* ---- timer and signals ---- */

static void on_timer(void *ctx, uint32_t events)
{
	struct loop *loop = ctx;
	uint64_t expirations;

	(void)events;
	if (read(loop->timer.fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		log_error("reading the timer: %s", strerror(errno));
	loop->armed_ns = UINT64_MAX;
	if (loop->timer_fn)
		loop->timer_fn(loop->timer_ctx, 0);
}

void loop_timer_init(struct loop *loop, loop_fn fn, void *ctx)
{
	loop->timer_fn = fn;
	loop->timer_ctx = ctx;
}

void loop_timer_arm(struct loop *loop, uint64_t deadline)
{
	struct itimerspec its;

	if (deadline >= loop->armed_ns)
		return;
	memset(&its, 0, sizeof(its));
	if (deadline == 0)
		deadline = 1; /* an all-zero it_value would disarm */
	its.it_value.tv_sec = (time_t)(deadline / WGC_NSEC_PER_SEC);
	its.it_value.tv_nsec = (long)(deadline % WGC_NSEC_PER_SEC);
	if (timerfd_settime(loop->timer.fd, TFD_TIMER_ABSTIME, &its, NULL) < 0) {
		log_error("arming the timer: %s", strerror(errno));
		return;
	}
	loop->armed_ns = deadline;
}

static void on_signal(void *ctx, uint32_t events)
{
	struct loop *loop = ctx;
	struct signalfd_siginfo info;

	(void)events;
	while (read(loop->signal.fd, &info, sizeof(info)) == (ssize_t)sizeof(info)) {
		if (info.ssi_signo == SIGINT || info.ssi_signo == SIGTERM ||
		    info.ssi_signo == SIGHUP || info.ssi_signo == SIGQUIT) {
			log_verbose("shutting down on signal %u", info.ssi_signo);
			loop_stop(loop, 0);
		}
	}
}

void loop_set_end_of_batch(struct loop *loop, loop_fn fn, void *ctx)
{
	loop->end_fn = fn;
	loop->end_ctx = ctx;
}

/* ---- running ---- */

void loop_stop(struct loop *loop, int status)
{
	if (loop->is_stopping)
		return;
	loop->is_stopping = true;
	loop->exit_status = status;
}

void loop_set_round_lock(struct loop *loop, pthread_mutex_t *lock)
{
	loop->round_lock = lock;
}

void loop_busy(struct loop *loop)
{
	loop->is_busy = true;
}

uint64_t loop_now(const struct loop *loop)
{
	return loop->now_ns;
}

static void round_begin(struct loop *loop)
{
	if (loop->round_lock)
		pthread_mutex_lock(loop->round_lock);
}

static void round_end(struct loop *loop)
{
	if (loop->round_lock)
		pthread_mutex_unlock(loop->round_lock);
}

int loop_run(struct loop *loop)
{
	struct loop_source *src;
	uint32_t events;
	bool is_stopping;
	int err;
	int n;

	round_begin(loop);
	loop->now_ns = loop_clock_ns(CLOCK_BOOTTIME);
	if (loop->end_fn)
		loop->end_fn(loop->end_ctx, 0);
	is_stopping = loop->is_stopping;
	round_end(loop);
	while (!is_stopping) {
		/* Only the wait is outside the round: whoever holds the round lock may change
		 * anything of this loop's (and of what its callbacks own) meanwhile. */
		n = epoll_wait(loop->epoll_fd, loop->events, EPOLL_EVENTS, loop->is_busy ? 0 : -1);
		round_begin(loop);
		if (n < 0 && errno == EINTR) { /* (a stop/continue wakes it without a handler) */
			is_stopping = loop->is_stopping; /* busy stays set: the work is still there */
			round_end(loop);
			continue;
		}
		loop->is_busy = false;
		if (n < 0) {
			err = errno;
			log_error("waiting for events: %s", strerror(err));
			loop_stop(loop, -err);
			round_end(loop);
			break;
		}
		loop->now_ns = loop_clock_ns(CLOCK_BOOTTIME);
		for (loop->pending_to = n, loop->pending_from = 0;
		     loop->pending_from < n && !loop->is_stopping;) {
			src = loop->events[loop->pending_from].data.ptr;
			events = loop->events[loop->pending_from].events;
			loop->pending_from++;
			if (src)
				src->fn(src->ctx, events);
		}
		loop->pending_from = loop->pending_to = 0;
		if (loop->end_fn)
			loop->end_fn(loop->end_ctx, 0);
		is_stopping = loop->is_stopping;
		round_end(loop);
	}
	return loop->exit_status;
}

/* ---- setup ---- */

static void close_fd(int fd)
{
	if (fd >= 0)
		close(fd);
}

static int create(bool has_signals, struct loop **out)
{
	struct loop *loop = calloc(1, sizeof(*loop));
	sigset_t mask;
	int timer_fd = -1;
	int signal_fd = -1;
	int err;

	if (!loop) {
		log_error("allocating the event loop: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	loop->armed_ns = UINT64_MAX;
	loop->timer.fd = loop->signal.fd = -1;
	loop->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epoll_fd < 0)
		goto fail;
	timer_fd = timerfd_create(CLOCK_BOOTTIME, TFD_NONBLOCK | TFD_CLOEXEC);
	if (timer_fd < 0)
		goto fail;
	if (!has_signals) {
		err = loop_add(loop, &loop->timer, timer_fd, EPOLLIN, on_timer, loop);
		if (err < 0) {
			close_fd(timer_fd);
			loop->timer.fd = -1;
			loop_destroy(loop);
			return err;
		}
		goto done;
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGQUIT);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		goto fail;
	signal_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (signal_fd < 0)
		goto fail;
	err = loop_add(loop, &loop->timer, timer_fd, EPOLLIN, on_timer, loop);
	if (err == 0)
		err = loop_add(loop, &loop->signal, signal_fd, EPOLLIN, on_signal, loop);
	if (err < 0) {
		close_fd(timer_fd);
		close_fd(signal_fd);
		loop->timer.fd = loop->signal.fd = -1;
		loop_destroy(loop);
		return err;
	}
done:
	loop->now_ns = loop_clock_ns(CLOCK_BOOTTIME);
	*out = loop;
	return 0;
fail:
	err = errno;
	log_error("creating the event loop's descriptors: %s", strerror(err));
	close_fd(timer_fd);
	close_fd(signal_fd);
	loop_destroy(loop);
	return -err;
}

int loop_create(struct loop **out)
{
	return create(true, out);
}

int loop_create_lane(struct loop **out)
{
	return create(false, out);
}

void loop_destroy(struct loop *loop)
{
	if (!loop)
		return;
	close_fd(loop->timer.fd);
	close_fd(loop->signal.fd);
	close_fd(loop->epoll_fd);
	free(loop);
}
