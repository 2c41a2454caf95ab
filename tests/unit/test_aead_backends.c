/* SPDX-License-Identifier: MIT */
/*
 * Differential tests of every ChaCha20-Poly1305 backend (crypto/aead_backend.h) against libsodium:
 * random keys, counters, AD and lengths 0-1600 plus 64 KiB messages, in place and out of place;
 * each backend must produce libsodium's bytes, open libsodium's messages, and reject every tampered
 * tag, ciphertext, AD and counter. Also the dispatch of wgc_aead_seal/open and concurrent use from
 * threads (each with its own EVP context, freed at thread exit: ASan's leak check sees a miss),
 * and the three-part seal (wgc_aead_seal_parts: head in place, tail from elsewhere, zero padding)
 * of every driver against libsodium's seal of the same plaintext, split at random points.
 * The seed is printed; WGC_TEST_SEED=N replays a run.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <pthread.h>

#include <cmocka.h>

#include "crypto/aead_backend.h"
#include "crypto/crypto.h"

enum {
	MAX_LEN = 1600,
	BIG_LEN = 64 * 1024,
	AD_MAX = 64,
	TAG = WGC_AEAD_TAG_LEN,
	THREADS = 4,
	THREAD_ROUNDS = 300,
};

typedef void seal_fn(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad, size_t ad_len,
		     uint64_t counter, const uint8_t key[WGC_KEY_LEN]);
typedef bool open_fn(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
		     size_t ad_len, uint64_t counter, const uint8_t key[WGC_KEY_LEN]);

struct backend {
	const char *name;
	seal_fn *seal;
	open_fn *open;
};

/* Every backend other than the reference; a new backend adds a row here. */
static const struct backend backends[] = {
	{"openssl", wgc_openssl_aead_seal, wgc_openssl_aead_open},
	{"openssl-direct", wgc_openssl_direct_aead_seal, wgc_openssl_direct_aead_open},
	/* the dispatching entry points, whatever backend this machine chose */
	{"dispatch", wgc_aead_seal, wgc_aead_open},
};

static uint64_t seed;

static uint64_t next_random(uint64_t *state)
{
	uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static void fill(uint64_t *state, uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)next_random(state);
}

struct message {
	uint8_t key[WGC_KEY_LEN];
	uint8_t ad[AD_MAX];
	size_t ad_len;
	uint64_t counter;
	size_t len;
};

static void random_message(uint64_t *state, struct message *m, size_t len)
{
	fill(state, m->key, sizeof(m->key));
	m->ad_len = (size_t)(next_random(state) % 3 == 0 ? 0 : next_random(state) % (AD_MAX + 1));
	fill(state, m->ad, m->ad_len);
	m->counter = next_random(state);
	if (m->counter % 4 == 0)
		m->counter = m->counter % 16; /* small counters too, as on a fresh session */
	m->len = len;
}

/*
 * One message through backend b against libsodium: seal out of place and in place (both equal to
 * libsodium's bytes), open libsodium's message both ways, then flip one random bit of the tag, of
 * the ciphertext (if any), of the AD (if any) and the counter: every one must fail, and the
 * output of a failed open must not hold the plaintext.
 */
static void check_message(const struct backend *b, uint64_t *state, const struct message *m,
			  uint8_t *plain, uint8_t *ref, uint8_t *buf, uint8_t *out)
{
	size_t len = m->len;
	size_t bit;
	uint8_t ad[AD_MAX];

	fill(state, plain, len);
	wgc_sodium_aead_seal(ref, plain, len, m->ad, m->ad_len, m->counter, m->key);

	b->seal(buf, plain, len, m->ad, m->ad_len, m->counter, m->key);
	if (memcmp(buf, ref, len + TAG) != 0)
		fail_msg("%s: out-of-place seal differs, len %zu ad %zu (seed %llu)", b->name, len,
			 m->ad_len, (unsigned long long)seed);
	memcpy(buf, plain, len);
	b->seal(buf, buf, len, m->ad, m->ad_len, m->counter, m->key);
	if (memcmp(buf, ref, len + TAG) != 0)
		fail_msg("%s: in-place seal differs, len %zu (seed %llu)", b->name, len,
			 (unsigned long long)seed);

	if (!b->open(out, ref, len + TAG, m->ad, m->ad_len, m->counter, m->key) ||
	    memcmp(out, plain, len) != 0)
		fail_msg("%s: out-of-place open failed, len %zu (seed %llu)", b->name, len,
			 (unsigned long long)seed);
	memcpy(buf, ref, len + TAG);
	if (!b->open(buf, buf, len + TAG, m->ad, m->ad_len, m->counter, m->key) ||
	    memcmp(buf, plain, len) != 0)
		fail_msg("%s: in-place open failed, len %zu (seed %llu)", b->name, len,
			 (unsigned long long)seed);

	/* the tag */
	memcpy(buf, ref, len + TAG);
	bit = (size_t)(next_random(state) % (TAG * 8));
	buf[len + bit / 8] ^= (uint8_t)(1U << (bit % 8));
	if (b->open(buf, buf, len + TAG, m->ad, m->ad_len, m->counter, m->key))
		fail_msg("%s: tampered tag accepted, len %zu (seed %llu)", b->name, len,
			 (unsigned long long)seed);
	if (len >= 16 && memcmp(buf, plain, len) == 0)
		fail_msg("%s: a failed open left the plaintext, len %zu", b->name, len);
	/* the ciphertext, out of place */
	if (len > 0) {
		memcpy(buf, ref, len + TAG);
		bit = (size_t)(next_random(state) % (len * 8));
		buf[bit / 8] ^= (uint8_t)(1U << (bit % 8));
		if (b->open(out, buf, len + TAG, m->ad, m->ad_len, m->counter, m->key))
			fail_msg("%s: tampered ciphertext accepted, len %zu (seed %llu)", b->name,
				 len, (unsigned long long)seed);
	}
	/* the AD */
	if (m->ad_len > 0) {
		memcpy(ad, m->ad, m->ad_len);
		bit = (size_t)(next_random(state) % (m->ad_len * 8));
		ad[bit / 8] ^= (uint8_t)(1U << (bit % 8));
		if (b->open(out, ref, len + TAG, ad, m->ad_len, m->counter, m->key))
			fail_msg("%s: tampered AD accepted (seed %llu)", b->name,
				 (unsigned long long)seed);
	}
	/* the counter (nonce) */
	if (b->open(out, ref, len + TAG, m->ad, m->ad_len, m->counter ^ 1, m->key))
		fail_msg("%s: wrong counter accepted (seed %llu)", b->name, (unsigned long long)seed);
	/* too short to hold a tag */
	if (b->open(out, ref, len < TAG ? len : TAG - 1, m->ad, m->ad_len, m->counter, m->key))
		fail_msg("%s: message shorter than a tag accepted", b->name);
}

typedef void seal_parts_fn(uint8_t *dst, size_t head_len, const uint8_t *tail, size_t tail_len,
			   size_t pad_len, uint64_t counter, const uint8_t key[WGC_KEY_LEN]);

static const struct {
	const char *name;
	seal_parts_fn *seal_parts;
} parts_drivers[] = {
	{"openssl", wgc_openssl_aead_seal_parts},
	{"openssl-direct", wgc_openssl_direct_aead_seal_parts},
	{"by-copy", wgc_aead_seal_parts_by_copy},
	{"dispatch", wgc_aead_seal_parts},
};

/* Random splits head | tail | pad of random plaintexts (the pad part zeros), lengths 0-1600 and
 * 64 KiB, with the head's bytes in place, the tail in a buffer of its own (left unchanged), and
 * stale bytes where the pad goes: every driver must give libsodium's seal of head||tail||zeros. */
static void test_seal_parts(void **unused)
{
	static uint8_t plain[BIG_LEN];
	static uint8_t tail[BIG_LEN];
	static uint8_t ref[BIG_LEN + TAG];
	static uint8_t buf[BIG_LEN + TAG];
	uint64_t state = seed ^ 0x5eed5;
	struct message m;

	(void)unused;
	for (size_t d = 0; d < sizeof(parts_drivers) / sizeof(parts_drivers[0]); d++) {
		for (unsigned round = 0; round < 3000; round++) {
			size_t len = round == 0 ? BIG_LEN : (size_t)(next_random(&state) % (MAX_LEN + 1));
			size_t head = len ? (size_t)(next_random(&state) % (len + 1)) : 0;
			size_t rest = len - head;
			size_t tail_len = rest ? (size_t)(next_random(&state) % (rest + 1)) : 0;
			size_t pad = rest - tail_len;

			if (round % 5 == 0) { /* the daemon's shape: short head, long tail, pad < 16 */
				pad = len % 16;
				head = len - pad < 60 ? len - pad : 20 + (size_t)(next_random(&state) % 41);
				tail_len = len - pad - head;
			}
			random_message(&state, &m, len);
			fill(&state, plain, head + tail_len);
			memset(plain + head + tail_len, 0, pad);
			wgc_sodium_aead_seal(ref, plain, len, NULL, 0, m.counter, m.key);
			fill(&state, buf, len + TAG); /* stale bytes everywhere but the head */
			memcpy(buf, plain, head);
			memcpy(tail, plain + head, tail_len);
			parts_drivers[d].seal_parts(buf, head, tail, tail_len, pad, m.counter, m.key);
			if (memcmp(buf, ref, len + TAG) != 0)
				fail_msg("%s: seal_parts differs, head %zu tail %zu pad %zu (seed %llu)",
					 parts_drivers[d].name, head, tail_len, pad,
					 (unsigned long long)seed);
			if (memcmp(tail, plain + head, tail_len) != 0)
				fail_msg("%s: seal_parts wrote to its tail", parts_drivers[d].name);
			if (!wgc_sodium_aead_open(buf, buf, len + TAG, NULL, 0, m.counter, m.key) ||
			    memcmp(buf, plain, len) != 0)
				fail_msg("%s: libsodium does not open seal_parts' message",
					 parts_drivers[d].name);
		}
	}
	/* and it really ran on OpenSSL on this thread, not a silent fallback */
	if (wgc_openssl_aead_init())
		assert_true(wgc_openssl_direct_thread_has_ctx() && wgc_openssl_aead_thread_has_ctx());
}

static void test_openssl_loads(void **unused)
{
	(void)unused;
	/* libssl-dev is a build dependency: on the machines we build on, the backend must run. */
	assert_true(wgc_openssl_aead_init());
	assert_true(wgc_openssl_aead_init()); /* idempotent */
	assert_true(wgc_openssl_direct_ready());
	printf("aead backend chosen here: %s (AVX-512 preferred: %s)\n",
	       wgc_aead_backend_name(wgc_aead_backend_get()),
	       wgc_openssl_aead_preferred() ? "yes" : "no");
}

/* Every length 0..MAX_LEN with fresh random key, counter and AD, for every backend. */
static void test_every_length(void **unused)
{
	static uint8_t plain[MAX_LEN], ref[MAX_LEN + TAG], buf[MAX_LEN + TAG], out[MAX_LEN + TAG];
	uint64_t state = seed;
	struct message m;

	(void)unused;
	for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
		for (size_t len = 0; len <= MAX_LEN; len++) {
			random_message(&state, &m, len);
			check_message(&backends[i], &state, &m, plain, ref, buf, out);
		}
	}
	/* the OpenSSL rows really ran on OpenSSL, not on its libsodium fallback */
	assert_true(wgc_openssl_aead_thread_has_ctx());
	assert_true(wgc_openssl_direct_thread_has_ctx());
}

/* 64 KiB messages (a GSO batch's worth) and random lengths up to it. */
static void test_big(void **unused)
{
	uint8_t *plain = malloc(BIG_LEN);
	uint8_t *ref = malloc(BIG_LEN + TAG);
	uint8_t *buf = malloc(BIG_LEN + TAG);
	uint8_t *out = malloc(BIG_LEN + TAG);
	uint64_t state = seed ^ UINT64_C(0xb16);
	struct message m;

	(void)unused;
	assert_non_null(plain);
	assert_non_null(ref);
	assert_non_null(buf);
	assert_non_null(out);
	for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
		for (int r = 0; r < 8; r++) {
			size_t len = r < 2 ? BIG_LEN - (size_t)r : next_random(&state) % BIG_LEN;

			random_message(&state, &m, len);
			check_message(&backends[i], &state, &m, plain, ref, buf, out);
		}
	}
	free(plain);
	free(ref);
	free(buf);
	free(out);
}

/* wgc_aead_seal/open give libsodium's bytes with each backend forced, on both sides of the
 * length threshold, and the choice can be put back. */
static void test_dispatch(void **unused)
{
	static uint8_t plain[MAX_LEN], ref[MAX_LEN + TAG], buf[MAX_LEN + TAG], out[MAX_LEN + TAG];
	static const size_t lens[] = {0, 1, 64, WGC_AEAD_OPENSSL_MIN_LEN - 1,
				      WGC_AEAD_OPENSSL_MIN_LEN, 1420, MAX_LEN};
	const struct backend dispatch = {"dispatch", wgc_aead_seal, wgc_aead_open};
	enum wgc_aead_backend chosen = wgc_aead_backend_get();
	uint64_t state = seed ^ UINT64_C(0xd15);
	struct message m;

	(void)unused;
	for (int b = 0; b < WGC_AEAD_BACKEND__COUNT; b++) {
		assert_true(wgc_aead_backend_set((enum wgc_aead_backend)b));
		assert_int_equal(wgc_aead_backend_get(), b);
		for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
			random_message(&state, &m, lens[i]);
			check_message(&dispatch, &state, &m, plain, ref, buf, out);
		}
	}
	assert_false(wgc_aead_backend_set(WGC_AEAD_BACKEND__COUNT));
	assert_string_equal(wgc_aead_backend_name(WGC_AEAD_SODIUM), "libsodium");
	assert_string_equal(wgc_aead_backend_name(WGC_AEAD_OPENSSL), "openssl");
	assert_string_equal(wgc_aead_backend_name(WGC_AEAD_OPENSSL_DIRECT), "openssl-direct");
	/* the public names */
	assert_int_equal(wgc_set_aead_backend("no-such-aead"), WGC_ERR_INVALID);
	assert_int_equal(wgc_set_aead_backend(NULL), WGC_ERR_INVALID);
	assert_int_equal(wgc_set_aead_backend("libsodium"), WGC_OK);
	assert_string_equal(wgc_aead_backend(), "libsodium");
	assert_int_equal(wgc_set_aead_backend("openssl"), WGC_OK);
	assert_string_equal(wgc_aead_backend(), "openssl");
	assert_true(wgc_aead_backend_set(chosen));
	wgc_crypto_init(); /* keeps the choice made above */
	assert_int_equal(wgc_aead_backend_get(), chosen);
}

struct thread_arg {
	uint64_t seed;
	int failures;
};

/* Seals and opens with both OpenSSL drivers on a fresh thread (its own context, made on first use
 * and freed at exit), checking every message against libsodium. */
static void *thread_main(void *p)
{
	static _Thread_local uint8_t plain[MAX_LEN], ref[MAX_LEN + TAG], buf[MAX_LEN + TAG];
	struct thread_arg *arg = p;
	uint64_t state = arg->seed;
	struct message m;

	for (int r = 0; r < THREAD_ROUNDS; r++) {
		random_message(&state, &m, (size_t)(next_random(&state) % (MAX_LEN + 1)));
		fill(&state, plain, m.len);
		wgc_sodium_aead_seal(ref, plain, m.len, m.ad, m.ad_len, m.counter, m.key);
		wgc_openssl_aead_seal(buf, plain, m.len, m.ad, m.ad_len, m.counter, m.key);
		if (memcmp(buf, ref, m.len + TAG) != 0)
			arg->failures++;
		if (!wgc_openssl_aead_open(buf, buf, m.len + TAG, m.ad, m.ad_len, m.counter,
					   m.key) ||
		    memcmp(buf, plain, m.len) != 0)
			arg->failures++;
		wgc_openssl_direct_aead_seal(buf, plain, m.len, m.ad, m.ad_len, m.counter, m.key);
		if (memcmp(buf, ref, m.len + TAG) != 0)
			arg->failures++;
		if (!wgc_openssl_direct_aead_open(buf, buf, m.len + TAG, m.ad, m.ad_len,
						  m.counter, m.key) ||
		    memcmp(buf, plain, m.len) != 0)
			arg->failures++;
	}
	if (!wgc_openssl_aead_thread_has_ctx() || !wgc_openssl_direct_thread_has_ctx())
		arg->failures++;
	return NULL;
}

static void test_threads(void **unused)
{
	pthread_t threads[THREADS];
	struct thread_arg args[THREADS];

	(void)unused;
	for (int round = 0; round < 2; round++) { /* the second round reuses freed contexts' memory */
		for (int i = 0; i < THREADS; i++) {
			args[i] = (struct thread_arg){.seed = seed + (uint64_t)(round * THREADS + i)};
			assert_int_equal(pthread_create(&threads[i], NULL, thread_main, &args[i]), 0);
		}
		for (int i = 0; i < THREADS; i++) {
			assert_int_equal(pthread_join(threads[i], NULL), 0);
			if (args[i].failures)
				fail_msg("thread %d: %d mismatches (seed %llu)", i, args[i].failures,
					 (unsigned long long)seed);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_openssl_loads), cmocka_unit_test(test_every_length),
		cmocka_unit_test(test_big),           cmocka_unit_test(test_dispatch),
		cmocka_unit_test(test_threads),       cmocka_unit_test(test_seal_parts),
	};
	const char *env = getenv("WGC_TEST_SEED");

	seed = env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL);
	printf("test_aead_backends: seed %llu (WGC_TEST_SEED=%llu replays it)\n",
	       (unsigned long long)seed, (unsigned long long)seed);
	wgc_crypto_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
