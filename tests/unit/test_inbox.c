/* SPDX-License-Identifier: MIT */
/*
 * A lane's inbox (daemon/inbox.c): sizes refused, alignment, untouched slots not resident, fill
 * to capacity, FIFO, many laps round the ring, claim order kept when publishes come out of
 * order, wake-ups coalesced (one eventfd write per arm), the calls allowed under the daemon's
 * seccomp filter, and a threaded stress: 4 producers × 200k messages into a small inbox, one
 * consumer sleeping on the eventfd, checking per-producer order, no loss and no duplicates.
 * Also built under ThreadSanitizer (make tsan-inbox).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon/inbox.h"

static void put_u32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, sizeof(v));
}

static uint32_t get_u32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* The eventfd's count, read (and so reset); 0 when not readable. */
static uint64_t take_eventfd(const struct inbox *ib)
{
	uint64_t count = 0;

	if (read(inbox_fd(ib), &count, sizeof(count)) != (ssize_t)sizeof(count))
		return 0;
	return count;
}

static void push(struct inbox *ib, uint32_t value)
{
	struct inbox_slot *s = inbox_claim(ib);

	assert_non_null(s);
	s->len = sizeof(value);
	s->kind = (uint16_t)value;
	put_u32(s->data, value);
	inbox_publish(ib, s);
}

static uint32_t pop(struct inbox *ib)
{
	struct inbox_slot *s = inbox_peek(ib);
	uint32_t value;

	assert_non_null(s);
	assert_int_equal(s->len, sizeof(value));
	value = get_u32(s->data);
	assert_int_equal(s->kind, (uint16_t)value);
	inbox_release(ib, s);
	return value;
}

static void test_create_refuses_bad_sizes(void **state)
{
	static const struct {
		uint32_t slots;
		uint32_t slot_bytes;
	} bad[] = {
		{ 0, 64 }, { 1, 64 }, { 3, 64 }, { 1000, 64 }, { INBOX_SLOTS_MAX * 2u, 64 },
		{ 8, INBOX_SLOT_BYTES_MAX + 1 }, { 0x80000000u, 64 },
	};
	struct inbox *ib = (struct inbox *)&ib; /* a marker: must stay untouched */

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (inbox_create(bad[i].slots, bad[i].slot_bytes, &ib) != -EINVAL)
			fail_msg("case %zu: %u slots of %u bytes accepted", i, bad[i].slots,
				 bad[i].slot_bytes);
		assert_ptr_equal(ib, (struct inbox *)&ib);
	}
	inbox_destroy(NULL);
}

static void test_layout_and_properties(void **state)
{
	struct inbox *ib;
	struct inbox_slot *s[16];

	(void)state;
	assert_int_equal(inbox_create(16, 1500, &ib), 0);
	assert_int_equal(inbox_slot_bytes(ib), 1500);
	assert_true(inbox_fd(ib) >= 0);
	assert_int_equal(inbox_wakeups(ib), 0);
	assert_null(inbox_peek(ib));
	for (int i = 0; i < 16; i++) {
		s[i] = inbox_claim(ib);
		assert_non_null(s[i]);
		assert_int_equal((uintptr_t)s[i] % 64, 0);
		/* The whole data area is ours and no two slots overlap. */
		memset(s[i]->data, i, 1500);
		s[i]->len = 1500;
		if (i > 0)
			assert_true((uint8_t *)s[i] >= s[i - 1]->data + 1500);
	}
	for (int i = 0; i < 16; i++)
		inbox_publish(ib, s[i]);
	for (int i = 0; i < 16; i++) {
		struct inbox_slot *got = inbox_peek(ib);

		assert_ptr_equal(got, s[i]);
		for (int b = 0; b < 1500; b++)
			assert_int_equal(got->data[b], i);
		inbox_release(ib, got);
	}
	inbox_destroy(ib);
}

static void test_fill_fifo_and_wrap(void **state)
{
	enum { SLOTS = 8, LAPS = 1000 };
	struct inbox *ib;
	uint32_t next_in = 0;
	uint32_t next_out = 0;

	(void)state;
	assert_int_equal(inbox_create(SLOTS, 16, &ib), 0);
	/* Filled to capacity, then refused, with nothing changed by the refusal. */
	for (int i = 0; i < SLOTS; i++)
		push(ib, next_in++);
	assert_null(inbox_claim(ib));
	assert_null(inbox_claim(ib));
	for (int i = 0; i < SLOTS; i++)
		assert_int_equal(pop(ib), next_out++);
	assert_null(inbox_peek(ib));
	/* Many laps, in bursts of every size from 1 to SLOTS, so the positions wrap at every
	 * offset; after each burst the inbox is full exactly when the burst was SLOTS. */
	for (int lap = 0; lap < LAPS; lap++) {
		int burst = lap % SLOTS + 1;

		for (int i = 0; i < burst; i++)
			push(ib, next_in++);
		if (burst == SLOTS)
			assert_null(inbox_claim(ib));
		else
			assert_non_null(inbox_peek(ib));
		for (int i = 0; i < burst; i++)
			assert_int_equal(pop(ib), next_out++);
		assert_null(inbox_peek(ib));
	}
	/* Half full across the wrap, kept half full for a while: FIFO throughout. */
	for (int i = 0; i < SLOTS / 2; i++)
		push(ib, next_in++);
	for (int i = 0; i < 10 * SLOTS; i++) {
		push(ib, next_in++);
		assert_int_equal(pop(ib), next_out++);
	}
	for (int i = 0; i < SLOTS / 2; i++)
		assert_int_equal(pop(ib), next_out++);
	assert_int_equal(next_in, next_out);
	assert_null(inbox_peek(ib));
	inbox_destroy(ib);
}

/* Resident pages of this process (/proc/self/statm, second field). */
static long resident_pages(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long size = 0;
	long resident = -1;

	assert_non_null(f);
	assert_int_equal(fscanf(f, "%ld %ld", &size, &resident), 2);
	fclose(f);
	return resident;
}

/* Creating touches no slot (the zero pages are an empty queue); using a few touches a few. */
static void test_untouched_slots_cost_no_rss(void **state)
{
	enum { SLOTS = 1u << 16, SLOT_BYTES = 2048, USED = 64 };
	const long page = sysconf(_SC_PAGESIZE);
	/* 65536 slots of 2048 + 128 bytes: 136 MiB mapped. */
	const long mapped_pages = (long)SLOTS * (SLOT_BYTES + 128) / page;
	struct inbox *ib;
	long before;
	long grown;

	(void)state;
	before = resident_pages();
	assert_int_equal(inbox_create(SLOTS, SLOT_BYTES, &ib), 0);
	for (uint32_t i = 0; i < USED; i++)
		push(ib, i);
	for (uint32_t i = 0; i < USED; i++)
		assert_int_equal(pop(ib), i);
	grown = resident_pages() - before;
	/* USED slots are 34 pages; allow the allocator and the test's own pages some slack. */
	if (grown > 256)
		fail_msg("%ld pages became resident of %ld mapped", grown, mapped_pages);
	inbox_destroy(ib);
}

/* Claim order, not publish order: an unpublished slot holds back the later published ones. */
static void test_claim_order_blocks(void **state)
{
	struct inbox *ib;
	struct inbox_slot *a;
	struct inbox_slot *b;
	struct inbox_slot *c;

	(void)state;
	assert_int_equal(inbox_create(4, 8, &ib), 0);
	a = inbox_claim(ib);
	b = inbox_claim(ib);
	c = inbox_claim(ib);
	assert_true(a && b && c);
	a->kind = 1;
	b->kind = 2;
	c->kind = 3;
	inbox_publish(ib, c);
	assert_int_equal(take_eventfd(ib), 1); /* it starts armed: c's publish woke it */
	inbox_publish(ib, b);
	assert_null(inbox_peek(ib));
	/* Claimed but unpublished at the head: empty to the consumer, and it may arm. */
	assert_true(inbox_arm(ib));
	inbox_publish(ib, a);
	assert_int_equal(take_eventfd(ib), 1); /* a's publish woke it */
	assert_int_equal(inbox_peek(ib)->kind, 1);
	inbox_release(ib, a);
	assert_int_equal(inbox_peek(ib)->kind, 2);
	inbox_release(ib, b);
	assert_int_equal(inbox_peek(ib)->kind, 3);
	inbox_release(ib, c);
	assert_null(inbox_peek(ib));
	inbox_destroy(ib);
}

static void test_wakeups_coalesce(void **state)
{
	struct inbox *ib;
	int n;

	(void)state;
	assert_int_equal(inbox_create(256, 8, &ib), 0);
	assert_int_equal(take_eventfd(ib), 0);
	/* It starts armed: the first publish wakes, the next 99 do not. */
	for (int i = 0; i < 100; i++)
		push(ib, (uint32_t)i);
	assert_int_equal(inbox_wakeups(ib), 1);
	assert_int_equal(take_eventfd(ib), 1);
	/* Not re-armed: more publishes, no write. */
	for (int i = 100; i < 200; i++)
		push(ib, (uint32_t)i);
	assert_int_equal(inbox_wakeups(ib), 1);
	assert_int_equal(take_eventfd(ib), 0);
	/* Arming with messages waiting refuses and stays unarmed. */
	assert_false(inbox_arm(ib));
	push(ib, 200);
	assert_int_equal(inbox_wakeups(ib), 1);
	for (n = 0; inbox_peek(ib); n++)
		assert_int_equal(pop(ib), (uint32_t)n);
	assert_int_equal(n, 201);
	/* Empty: arming succeeds; the next publish wakes once more, and only once. */
	assert_true(inbox_arm(ib));
	assert_true(inbox_arm(ib)); /* arming twice is still one arm */
	for (int i = 0; i < 50; i++)
		push(ib, (uint32_t)i);
	assert_int_equal(inbox_wakeups(ib), 2);
	/* clear_wakeup reads the count; the fd is then not readable. */
	inbox_clear_wakeup(ib);
	assert_int_equal(take_eventfd(ib), 0);
	inbox_clear_wakeup(ib); /* nothing to read: fine */
	inbox_destroy(ib);
}

#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif

#ifndef UNDER_TSAN
#include "daemon/syscall_filter.h"

/* Every call the consumer and producers make while running, under the daemon's seccomp filter
 * (in a child: the filter cannot be unloaded). A forbidden call kills it with
 * SYSCALL_FILTER_EXIT_VIOLATION. */
static void test_allowed_in_sandbox(void **state)
{
	struct inbox *ib;
	pid_t pid;
	int status;

	(void)state;
	assert_int_equal(inbox_create(8, 64, &ib), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		bool is_loaded;
		unsigned rules;
		struct inbox_slot *s;

		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
		    syscall_filter_prepare(NULL, false) < 0 ||
		    syscall_filter_load(&is_loaded, &rules) < 0)
			_exit(2);
		s = inbox_claim(ib);
		inbox_publish(ib, s); /* eventfd write: armed at start */
		inbox_clear_wakeup(ib);
		inbox_clear_wakeup(ib); /* EAGAIN path */
		if (inbox_peek(ib) != s)
			_exit(3);
		inbox_release(ib, s);
		if (!inbox_arm(ib) || inbox_wakeups(ib) != 1)
			_exit(4);
		inbox_destroy(ib); /* close, munmap */
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	inbox_destroy(ib);
}
#endif /* not under ThreadSanitizer, whose runtime makes calls the filter refuses */

/* ---- threaded stress ---- */

enum {
	PRODUCERS = 4,
	PER_PRODUCER = 200000,
	STRESS_SLOTS = 64, /* small, so producers meet a full inbox often */
	STRESS_WAIT_MS = 10000,
};

struct stress {
	struct inbox *ib;
	uint32_t id;
	uint64_t full_retries;
};

static void *produce(void *arg)
{
	struct stress *p = arg;

	for (uint32_t seq = 0; seq < PER_PRODUCER; seq++) {
		struct inbox_slot *s;

		while (!(s = inbox_claim(p->ib))) {
			p->full_retries++;
			sched_yield(); /* 2 cores: let the consumer run */
		}
		put_u32(s->data, p->id);
		put_u32(s->data + 4, seq);
		/* A copy in the header too: torn or stale slots show as a mismatch. */
		s->len = 8;
		s->kind = (uint16_t)p->id;
		s->flags = (uint16_t)seq;
		inbox_publish(p->ib, s);
	}
	return NULL;
}

static void test_threaded_stress(void **state)
{
	struct stress producers[PRODUCERS];
	pthread_t threads[PRODUCERS];
	uint32_t next_seq[PRODUCERS] = { 0 };
	uint64_t received = 0;
	uint64_t sleeps = 0;
	uint64_t arms = 0;
	uint64_t retries = 0;
	struct inbox *ib;

	(void)state;
	assert_int_equal(inbox_create(STRESS_SLOTS, 64, &ib), 0);
	for (uint32_t i = 0; i < PRODUCERS; i++) {
		producers[i] = (struct stress){ .ib = ib, .id = i };
		assert_int_equal(pthread_create(&threads[i], NULL, produce, &producers[i]), 0);
	}
	while (received < (uint64_t)PRODUCERS * PER_PRODUCER) {
		struct inbox_slot *s = inbox_peek(ib);
		struct pollfd pfd = { .fd = inbox_fd(ib), .events = POLLIN };
		uint32_t id;
		uint32_t seq;

		if (s) {
			id = get_u32(s->data);
			seq = get_u32(s->data + 4);
			if (id >= PRODUCERS || seq != next_seq[id] || s->len != 8 ||
			    s->kind != (uint16_t)id || s->flags != (uint16_t)seq)
				fail_msg("message %llu: producer %u sequence %u (expected %u)",
					 (unsigned long long)received, id, seq,
					 id < PRODUCERS ? next_seq[id] : 0);
			next_seq[id]++;
			received++;
			inbox_release(ib, s);
			continue;
		}
		arms++;
		if (!inbox_arm(ib))
			continue;
		/* Armed and empty: sleep as the event loop would. A lost wake-up times out. */
		sleeps++;
		if (poll(&pfd, 1, STRESS_WAIT_MS) != 1)
			fail_msg("no wake-up within %d ms after %llu messages (lost wake-up)",
				 STRESS_WAIT_MS, (unsigned long long)received);
		inbox_clear_wakeup(ib);
	}
	for (uint32_t i = 0; i < PRODUCERS; i++) {
		assert_int_equal(pthread_join(threads[i], NULL), 0);
		assert_int_equal(next_seq[i], PER_PRODUCER);
		retries += producers[i].full_retries;
	}
	/* Nothing beyond: no duplicates left over. */
	assert_null(inbox_peek(ib));
	assert_non_null(inbox_claim(ib)); /* not full */
	/* At most one wake-up per arm (and the one it starts with). */
	assert_true(inbox_wakeups(ib) <= arms + 1);
	printf("inbox stress: %llu messages, %llu sleeps, %llu wake-ups, %llu retries on full\n",
	       (unsigned long long)received, (unsigned long long)sleeps,
	       (unsigned long long)inbox_wakeups(ib), (unsigned long long)retries);
	inbox_destroy(ib);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_refuses_bad_sizes),
		cmocka_unit_test(test_layout_and_properties),
		cmocka_unit_test(test_fill_fifo_and_wrap),
		cmocka_unit_test(test_untouched_slots_cost_no_rss),
		cmocka_unit_test(test_claim_order_blocks),
		cmocka_unit_test(test_wakeups_coalesce),
#ifndef UNDER_TSAN
		cmocka_unit_test(test_allowed_in_sandbox),
#endif
		cmocka_unit_test(test_threaded_stress),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
