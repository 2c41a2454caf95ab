/* SPDX-License-Identifier: MIT */
/*
 * The replay window (core/replay.h) on its own: a table of numbered cases for the edges (window
 * limit, word boundaries, jumps longer than the ring, REJECT_AFTER_MESSAGES), and a seeded
 * differential test against a deliberately naive model that remembers every accepted counter.
 *
 * The rule both sides implement (PROTOCOL.md, "counters more than 8128 behind the highest accepted
 * are rejected"): with g the greatest counter accepted so far, a counter c is accepted exactly once
 * if c < REJECT_AFTER_MESSAGES and c >= g - 8128; g - 8129 and below are rejected.
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
#include "core/replay.h"

/* The window as PROTOCOL.md states it, independent of how replay.h spells it: an 8192-bit ring
 * and 8128 counters. make unit-small-window builds this file again with a smaller ring
 * (WGC_REPLAY_BITS of 512 or more, and WGC_TEST_SMALL_WINDOW to say so). */
#ifdef WGC_TEST_SMALL_WINDOW
#define RING ((uint64_t)WGC_REPLAY_BITS)
#else
#define RING UINT64_C(8192)
_Static_assert(REPLAY_WINDOW_SIZE == 8128, "window size as in the whitepaper's references");
#endif
#define WINDOW (RING - 64)
#define REJECT (UINT64_MAX - (UINT64_C(1) << 13)) /* 2^64 - 2^13 - 1 */

_Static_assert(REPLAY_WINDOW_SIZE == WINDOW, "the window is one word short of the ring");
_Static_assert(REJECT_AFTER_MESSAGES == REJECT, "REJECT_AFTER_MESSAGES is 2^64 - 2^13 - 1");

/* ---- table of cases ---- */

enum { MAX_STEPS = 24 };

struct step {
	uint64_t counter;
	bool accept;
};

struct replay_case {
	const char *what;
	struct step steps[MAX_STEPS];
	int count;
};

#define G1 UINT64_C(1000000)
#define W64 UINT64_C(64)
#define T40 (UINT64_C(1) << 40)

static const struct replay_case cases[] = {
    {"in order from zero", {{0, true}, {1, true}, {2, true}, {3, true}, {4, true}}, 5},
    {"duplicates",
     {{0, true}, {0, false}, {5, true}, {5, false}, {0, false}, {4, true}, {4, false}},
     7},
    {"reordering within the window, each once",
     {{10, true},
      {3, true},
      {7, true},
      {3, false},
      {7, false},
      {9, true},
      {0, true},
      {0, false},
      {10, false},
      {11, true},
      {1, true}},
     11},
    {"first counter far from zero",
     {{G1, true}, {G1, false}, {G1 - 1, true}, {G1 + 1, true}, {0, false}},
     5},
    {"edge from zero: greatest = window keeps 0",
     {{WINDOW, true}, {0, true}, {0, false}, {1, true}},
     4},
    {"edge from zero: greatest = window + 1 drops 0",
     {{WINDOW + 1, true}, {0, false}, {1, true}, {1, false}},
     4},
    {"edge: greatest - window accepted, greatest - window - 1 rejected",
     {{G1, true},
      {G1 - WINDOW, true},
      {G1 - WINDOW - 1, false},
      {G1 - WINDOW + 1, true},
      {G1 - WINDOW, false}},
     5},
    {"edge when greatest ends a 64-bit word",
     {{64 * 500 + 62, true}, {64 * 500 + 62 - WINDOW, true}, {64 * 500 + 62 - WINDOW - 1, false}},
     3},
    {"edge when greatest starts a 64-bit word",
     {{64 * 500 - 1, true}, {64 * 500 - 1 - WINDOW, true}, {64 * 500 - 1 - WINDOW - 1, false}},
     3},
    {"edge when greatest is the second bit of a word",
     {{64 * 500, true}, {64 * 500 - WINDOW, true}, {64 * 500 - WINDOW - 1, false}},
     3},
    {"window moves with each new greatest",
     {{G1, true},
      {G1 + 1, true},
      {G1 - WINDOW, false},
      {G1 - WINDOW + 1, true},
      {G1 + 64, true},
      {G1 + 64 - WINDOW - 1, false},
      {G1 + 64 - WINDOW, true}},
     7},
    {"older than the window is rejected even if never seen",
     {{20000, true}, {100, false}, {20000 - WINDOW - 1, false}, {20000 - WINDOW, true}},
     4},
    {"jump of exactly one ring: the aliased bit is free again",
     {{5, true}, {5 + RING, true}, {5 + RING, false}, {6 + RING, true}, {4 + RING, true}},
     5},
    {"jump of one ring plus a little: old bits do not alias",
     {{100, true},
      {150, true},
      {200, true},
      {RING + 300, true},
      {RING + 100, true},
      {RING + 150, true},
      {RING + 200, true},
      {RING + 100, false}},
     8},
    {"jump of a ring less one word: the current word keeps an in-window bit",
     {{190, true},
      {200, true},
      {200 + (RING / W64 - 1) * W64, true},
      {200 + (RING / W64 - 1) * W64 - 1, true},
      {200, false},
      {201, true},
      {199, false},
      {190, false}},
     8},
    {"huge jump forward: old bits do not alias new counters",
     {{1, true},
      {2, true},
      {3, true},
      {T40 + 100, true},
      {T40 + 1, true},
      {T40 + 2, true},
      {T40 + 2, false},
      {T40 + 3, true},
      {T40 + 100 - WINDOW, true},
      {T40 + 100 - WINDOW - 1, false}},
     10},
    {"jump by a multiple of the ring: aliased counters are new",
     {{7, true},
      {8, true},
      {9, true},
      {7 + RING * 50 + 10, true},
      {7 + RING * 50, true},
      {8 + RING * 50, true},
      {9 + RING * 50, true},
      {9 + RING * 50, false},
      {7 + RING * 49, false}},
     9},
    {"REJECT_AFTER_MESSAGES itself rejected, one below accepted",
     {{REJECT, false},
      {REJECT - 1, true},
      {REJECT - 1, false},
      {REJECT, false},
      {UINT64_MAX, false},
      {REJECT - 2, true}},
     6},
    {"window edge at the top of the counter space",
     {{REJECT - 1, true},
      {REJECT - 1 - WINDOW, true},
      {REJECT - 2 - WINDOW, false},
      {REJECT - 1 - WINDOW + 1, true}},
     4},
    {"counters beyond the limit on a fresh window",
     {{UINT64_MAX, false},
      {UINT64_MAX - 1, false},
      {REJECT + 1, false},
      {REJECT, false},
      {0, true}},
     5},
    {"counters beyond the limit leave the window alone",
     {{50, true}, {UINT64_MAX, false}, {REJECT, false}, {49, true}, {51, true}},
     5},
};

static void test_cases(void **state)
{
	(void)state;
	for (size_t n = 0; n < sizeof(cases) / sizeof(cases[0]); n++) {
		const struct replay_case *c = &cases[n];
		struct wgc_replay_window window;
		struct wgc_replay_window before;

		wgc_replay_init(&window);
		for (int s = 0; s < c->count; s++) {
			const struct step *st = &c->steps[s];
			bool checked;
			bool updated;

			before = window;
			checked = wgc_replay_check(&window, st->counter);
			if (memcmp(&before, &window, sizeof(window)) != 0)
				fail_msg(
				    "case %zu (%s) step %d: wgc_replay_check changed the window",
				    n + 1, c->what, s + 1);
			updated = wgc_replay_update(&window, st->counter);
			if (checked != st->accept || updated != st->accept)
				fail_msg("case %zu (%s) step %d: counter %llu: check %d update %d, "
				         "want %d",
				         n + 1, c->what, s + 1, (unsigned long long)st->counter,
				         checked, updated, st->accept);
			if (!updated && memcmp(&before, &window, sizeof(window)) != 0)
				fail_msg(
				    "case %zu (%s) step %d: a rejected counter changed the window",
				    n + 1, c->what, s + 1);
		}
	}
}

/* Every counter from g - WINDOW to g is accepted exactly once, in any order, then none again. */
static void test_full_window_exactly_once(void **state)
{
	const uint64_t bases[] = {WINDOW, WINDOW + 1, 64 * 1000, 64 * 1000 + 63, REJECT - 1};

	(void)state;
	for (size_t b = 0; b < sizeof(bases) / sizeof(bases[0]); b++) {
		uint64_t g = bases[b];
		struct wgc_replay_window window;

		wgc_replay_init(&window);
		assert_true(wgc_replay_update(&window, g));
		/* Descending, odd offsets first, then even ones: every order class is visited. */
		for (int parity = 1; parity >= 0; parity--) {
			for (uint64_t d = WINDOW; d >= 1; d--) {
				if ((int)(d & 1) != parity)
					continue;
				if (!wgc_replay_update(&window, g - d))
					fail_msg("base %zu: g - %llu rejected on first sight",
					         b + 1, (unsigned long long)d);
			}
		}
		for (uint64_t d = 0; d <= WINDOW + 64; d++) {
			if (d > g)
				break;
			if (wgc_replay_check(&window, g - d) || wgc_replay_update(&window, g - d))
				fail_msg("base %zu: g - %llu accepted twice or too old", b + 1,
				         (unsigned long long)d);
		}
	}
}

/* ---- differential test against a naive model ---- */

struct model {
	uint64_t *slots; /* open addressing; UINT64_MAX = empty (never an acceptable counter) */
	size_t mask;
	bool has_greatest;
	uint64_t greatest;
};

static bool model_contains(const struct model *m, uint64_t c)
{
	size_t i = (size_t)((c * UINT64_C(0x9e3779b97f4a7c15)) >> 20) & m->mask;

	while (m->slots[i] != UINT64_MAX) {
		if (m->slots[i] == c)
			return true;
		i = (i + 1) & m->mask;
	}
	return false;
}

static void model_add(struct model *m, uint64_t c)
{
	size_t i = (size_t)((c * UINT64_C(0x9e3779b97f4a7c15)) >> 20) & m->mask;

	while (m->slots[i] != UINT64_MAX)
		i = (i + 1) & m->mask;
	m->slots[i] = c;
}

static bool model_would_accept(const struct model *m, uint64_t c)
{
	if (c >= REJECT)
		return false;
	if (m->has_greatest && c + WINDOW < m->greatest)
		return false;
	return !model_contains(m, c);
}

static bool model_update(struct model *m, uint64_t c)
{
	if (!model_would_accept(m, c))
		return false;
	model_add(m, c);
	if (!m->has_greatest || c > m->greatest) {
		m->greatest = c;
		m->has_greatest = true;
	}
	return true;
}

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* A counter chosen to hit the interesting places relative to the model's greatest. Jumps stay
 * modest so a run explores one region of the counter space (a jump to the top would end it). */
static uint64_t pick_counter(uint64_t *rng, const struct model *m)
{
	uint64_t g = m->has_greatest ? m->greatest : 0;
	unsigned kind = (unsigned)(splitmix(rng) % 100);
	uint64_t x = splitmix(rng);
	uint64_t back;

	if (kind < 55) { /* mostly recent: a little ahead, or up to a bit past the window behind */
		back = (x >> 32) % (WINDOW + 200);
		return (back > g ? 0 : g - back) + x % 64;
	}
	if (kind < 70) /* right at the edge: g - WINDOW - 2 .. g - WINDOW + 2 */
		return g >= WINDOW + 2 ? g - WINDOW - 2 + x % 5 : x % (WINDOW + 3);
	if (kind < 80) /* duplicates of the newest few */
		return g - (g < 8 ? g : x % 8);
	if (kind < 88) /* in order */
		return g + 1;
	if (kind < 94) /* jumps of about one ring */
		return g + RING - 130 + x % 260;
	if (kind < 97) /* longer jumps */
		return g + x % (UINT64_C(1) << 20);
	if (kind < 98) /* past the limit */
		return REJECT + x % 8192;
	return x % (g + 1); /* anything at or below the greatest */
}

static void run_differential(uint64_t seed, uint64_t start, int steps)
{
	struct model m = {0};
	struct wgc_replay_window window;
	struct wgc_replay_window before;
	uint64_t rng = seed;
	size_t cap = 1;
	int accepted = 0;

	while (cap < (size_t)steps * 2)
		cap <<= 1;
	m.slots = malloc(cap * sizeof(*m.slots));
	assert_non_null(m.slots);
	memset(m.slots, 0xff, cap * sizeof(*m.slots));
	m.mask = cap - 1;
	wgc_replay_init(&window);
	if (start) {
		assert_true(wgc_replay_update(&window, start));
		assert_true(model_update(&m, start));
	}
	for (int i = 0; i < steps; i++) {
		uint64_t c = pick_counter(&rng, &m);
		bool want = model_would_accept(&m, c);
		bool checked;
		bool got;

		before = window;
		checked = wgc_replay_check(&window, c);
		if (memcmp(&before, &window, sizeof(window)) != 0)
			fail_msg("seed %llu step %d: wgc_replay_check changed the window",
			         (unsigned long long)seed, i);
		got = wgc_replay_update(&window, c);
		if (got != want || checked != want)
			fail_msg("seed %llu start %llu step %d: counter %llu (greatest %llu): "
			         "check %d update %d, model %d",
			         (unsigned long long)seed, (unsigned long long)start, i,
			         (unsigned long long)c, (unsigned long long)m.greatest, checked,
			         got, want);
		if (model_update(&m, c))
			accepted++;
	}
	/* The generator must keep the run interesting: a good share accepted and rejected (a
	 * small ring accepts fewer of its jumps). */
	if (accepted < steps / (RING < 8192 ? 100 : 10) || accepted > steps - steps / 10)
		fail_msg("seed %llu: %d of %d accepted: the generator is off",
		         (unsigned long long)seed, accepted, steps);
	free(m.slots);
}

static uint64_t test_seed(void)
{
	const char *env = getenv("WGC_TEST_SEED");

	return env ? strtoull(env, NULL, 0) : UINT64_C(0x5eed0f2e91a7);
}

static void test_differential(void **state)
{
	uint64_t seed = test_seed();

	(void)state;
	print_message("replay differential seed %llu (set WGC_TEST_SEED to repeat)\n",
	              (unsigned long long)seed);
	run_differential(seed, 0, 200000);
	run_differential(seed + 1, 64 * 12345 + 17, 200000);
	run_differential(seed + 2, REJECT - 300000, 100000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cases),
	    cmocka_unit_test(test_full_window_exactly_once),
	    cmocka_unit_test(test_differential),
	};

	return cmocka_run_group_tests_name("replay", tests, NULL, NULL);
}
