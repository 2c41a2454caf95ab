/* SPDX-License-Identifier: MIT */
/*
 * The AEAD table: ChaCha20-Poly1305 seal and open of one message at a time through every backend of
 * crypto/aead_backend.h (libsodium, OpenSSL 3 through EVP with its per-thread context, the same
 * OpenSSL code through its provider functions, and the dispatching wgc_aead_seal/open as the core
 * calls them) at 0, 64, 512, 1024, 1280, 1420 bytes and 64 KiB, against the bare EVP stream call
 * that `openssl speed -evp chacha20-poly1305` times (EVP_CipherUpdate on a context keyed once: no
 * re-key, no tag). The 0-byte row is each backend's fixed cost per call. Backends alternate
 * within each repetition so the machine's noise hits all alike; figures are medians of REPS runs
 * on the CPU clock. Prints figures, asserts nothing.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "bench/bench_util.h"
#include "crypto/aead_backend.h"
#include "crypto/crypto.h"

enum {
	REPS = 7,
	RING = 32,            /* distinct message buffers, cycled */
	TARGET_BYTES = 1 << 20, /* bytes per timed pass (at least MIN_CALLS calls) */
	MIN_CALLS = 1000,
	BIG = 64 * 1024,
	STRIDE = BIG + 64,
	TAG = WGC_AEAD_TAG_LEN,
};

static const size_t sizes[] = {0, 64, 512, 1024, 1280, 1420, BIG};
enum { SIZES = sizeof(sizes) / sizeof(sizes[0]) };

typedef void seal_fn(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad, size_t ad_len,
		     uint64_t counter, const uint8_t key[WGC_KEY_LEN]);
typedef bool open_fn(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
		     size_t ad_len, uint64_t counter, const uint8_t key[WGC_KEY_LEN]);

struct backend {
	const char *name;
	seal_fn *seal;
	open_fn *open;
};

static const struct backend backends[] = {
	{"libsodium", wgc_sodium_aead_seal, wgc_sodium_aead_open},
	{"openssl (EVP)", wgc_openssl_aead_seal, wgc_openssl_aead_open},
	{"openssl-direct", wgc_openssl_direct_aead_seal, wgc_openssl_direct_aead_open},
	{"wgc_aead (dispatch)", wgc_aead_seal, wgc_aead_open},
};
enum { BACKENDS = sizeof(backends) / sizeof(backends[0]) };

static uint8_t *ring;
static uint8_t key[WGC_KEY_LEN];
static EVP_CIPHER_CTX *raw_ctx;

static void die(const char *what)
{
	fprintf(stderr, "bench_aead: setup failed: %s\n", what);
	exit(1);
}

static size_t calls_for(size_t len)
{
	size_t calls = TARGET_BYTES / (len + TAG);

	return calls < MIN_CALLS ? MIN_CALLS : calls;
}

/* ns per call of `calls` in-place seals of len bytes, cycling through the ring. */
static double time_seal(const struct backend *b, size_t len, size_t calls, uint64_t *counter)
{
	uint64_t t0 = bench_cpu_ns();

	for (size_t i = 0; i < calls; i++) {
		uint8_t *p = ring + (i % RING) * STRIDE;

		b->seal(p, p, len, NULL, 0, (*counter)++, key);
	}
	return (double)(bench_cpu_ns() - t0) / (double)calls;
}

/* ns per call of opening the messages the ring holds (sealed first, untimed). */
static double time_open(const struct backend *b, size_t len, size_t calls, uint64_t *counter,
			uint64_t *bad)
{
	uint64_t first = *counter;
	uint64_t total = 0;

	for (size_t done = 0; done < calls; done += RING) {
		size_t n = calls - done < RING ? calls - done : RING;
		uint64_t t0;

		for (size_t i = 0; i < n; i++) {
			uint8_t *p = ring + i * STRIDE;

			wgc_sodium_aead_seal(p, p, len, NULL, 0, first + done + i, key);
		}
		t0 = bench_cpu_ns();
		for (size_t i = 0; i < n; i++) {
			uint8_t *p = ring + i * STRIDE;

			if (!b->open(p, p, len + TAG, NULL, 0, first + done + i, key))
				(*bad)++;
		}
		total += bench_cpu_ns() - t0;
	}
	*counter = first + calls;
	return (double)total / (double)calls;
}

/* The `openssl speed -evp` figure: one EVP_CipherUpdate per message on a context keyed once. */
static double time_raw(size_t len, size_t calls)
{
	uint64_t t0 = bench_cpu_ns();
	int out_len;

	for (size_t i = 0; i < calls; i++) {
		uint8_t *p = ring + (i % RING) * STRIDE;

		if (len > 0 && EVP_CipherUpdate(raw_ctx, p, &out_len, p, (int)len) != 1)
			die("EVP_CipherUpdate");
	}
	t0 = bench_cpu_ns() - t0;
	/* libcrypto's AVX-512 code leaves the vector registers' upper halves dirty (crypto/openssl.c
	 * cleans after each of its calls); clean them here too, or the next backend timed pays for
	 * it in every legacy-SSE instruction it runs. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
	if (__builtin_cpu_supports("avx"))
		__asm__ volatile("vzeroupper" ::: "memory");
#endif
	return (double)t0 / (double)calls;
}

/*
 * Isolated packets: one 1420-byte seal after sleeping gap_us, on the wall clock, median of
 * COLD_CALLS per backend. A packet that arrives alone finds caches, branch predictors and (on
 * Intel) the upper halves of the AVX-512 units cold; the loops above never do. Each backend runs
 * COLD_RUN calls in a row between sleeps, so what precedes a timed call is its own previous call
 * gap_us earlier (not another OpenSSL driver warming the same code), and backends take turns
 * run by run so the machine's noise hits all alike.
 */
enum { COLD_RUN = 30, COLD_CALLS = 300, COLD_LEN = 1420 };

static void time_cold(long gap_us, uint64_t *counter, double samples[][COLD_CALLS])
{
	for (int run = 0; run < COLD_CALLS / COLD_RUN; run++) {
		for (int b = 0; b < BACKENDS; b++) {
			for (int i = 0; i < COLD_RUN; i++) {
				struct timespec gap = {0, gap_us * 1000};
				uint64_t t0;

				nanosleep(&gap, NULL);
				t0 = bench_now_ns();
				backends[b].seal(ring, ring, COLD_LEN, NULL, 0, (*counter)++, key);
				samples[b][run * COLD_RUN + i] = (double)(bench_now_ns() - t0);
			}
		}
	}
}

static void print_cold(uint64_t *counter)
{
	enum { GAPS = 3 };
	static const long gaps_us[GAPS] = {10, 100, 1000};
	static double samples[GAPS][BACKENDS][COLD_CALLS];

	for (int g = 0; g < GAPS; g++)
		time_cold(gaps_us[g], counter, samples[g]);
	printf("\n  isolated %d-byte seals after a sleep (wall clock, median of %d):\n", COLD_LEN,
	       COLD_CALLS);
	printf("  %-20s", "backend");
	for (int g = 0; g < GAPS; g++)
		printf(" %8ld us", gaps_us[g]);
	printf("\n");
	for (int b = 0; b < BACKENDS; b++) {
		printf("  %-20s", backends[b].name);
		for (int g = 0; g < GAPS; g++)
			printf(" %8.0f ns", bench_median(samples[g][b], COLD_CALLS));
		printf("\n");
	}
}

static double gbps(size_t len, double ns)
{
	return ns > 0 ? (double)len / ns : 0; /* bytes per ns = GB/s */
}

int main(void)
{
	static double seal_ns[BACKENDS][SIZES][REPS], open_ns[BACKENDS][SIZES][REPS];
	static double raw_ns[SIZES][REPS];
	uint8_t nonce[12] = {0};
	uint64_t counter = 1;
	uint64_t bad = 0;
	char cpu[128];
	EVP_CIPHER *cipher;

	wgc_crypto_init();
	if (!wgc_openssl_aead_init())
		die("the OpenSSL backend does not load");
	ring = aligned_alloc(64, (size_t)RING * STRIDE);
	if (!ring)
		die("aligned_alloc");
	memset(ring, 0xa5, (size_t)RING * STRIDE);
	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(i * 13 + 1);
	cipher = EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL);
	raw_ctx = EVP_CIPHER_CTX_new();
	if (!cipher || !raw_ctx || EVP_CipherInit_ex(raw_ctx, cipher, NULL, key, nonce, 1) != 1)
		die("EVP raw context");

	/* warm-up: contexts, caches, clock frequency */
	for (int b = 0; b < BACKENDS; b++)
		for (int s = 0; s < SIZES; s++)
			(void)time_seal(&backends[b], sizes[s], calls_for(sizes[s]) / 4, &counter);
	for (int rep = 0; rep < REPS; rep++) {
		for (int s = 0; s < SIZES; s++) {
			size_t len = sizes[s];
			size_t calls = calls_for(len);

			for (int k = 0; k < BACKENDS; k++) {
				int b = (k + rep) % BACKENDS; /* rotate who goes first */

				seal_ns[b][s][rep] = time_seal(&backends[b], len, calls, &counter);
				open_ns[b][s][rep] =
				    time_open(&backends[b], len, calls, &counter, &bad);
			}
			raw_ns[s][rep] = time_raw(len, calls);
		}
	}
	if (bad)
		die("an open failed");

	bench_cpu_model(cpu, sizeof(cpu));
	printf("\nAEAD: ChaCha20-Poly1305, one message per call, in place (%s; median of %d runs, "
	       "CPU clock)\n",
	       cpu, REPS);
	printf("  chosen backend here: %s (for messages >= %d B; shorter ones libsodium)\n",
	       wgc_aead_backend_name(wgc_aead_backend_get()), WGC_AEAD_OPENSSL_MIN_LEN);
	printf("  %-20s %7s %10s %7s %10s %7s %10s\n", "backend", "bytes", "seal ns", "GB/s",
	       "open ns", "GB/s", "s+o/raw");
	for (int s = 0; s < SIZES; s++) {
		double raw = bench_median(raw_ns[s], REPS);

		for (int b = 0; b < BACKENDS; b++) {
			double sn = bench_median(seal_ns[b][s], REPS);
			double on = bench_median(open_ns[b][s], REPS);

			printf("  %-20s %7zu %10.1f %7.2f %10.1f %7.2f %10.2f\n", backends[b].name,
			       sizes[s], sn, gbps(sizes[s], sn), on, gbps(sizes[s], on),
			       sizes[s] ? (sn + on) / (2 * raw) : 0.0);
		}
		printf("  %-20s %7zu %10.1f %7.2f %10s %7s %10s\n", "EVP update (raw)", sizes[s],
		       raw, gbps(sizes[s], raw), "-", "-", "1.00");
	}
	printf("  s+o/raw: (seal + open) / (2 x raw EVP update), the issue's target is <= 1.2 at "
	       "1420 B;\n  raw is what `openssl speed -evp chacha20-poly1305 -bytes N` reports "
	       "(no re-key, no tag).\n");
	print_cold(&counter);
	EVP_CIPHER_CTX_free(raw_ctx);
	EVP_CIPHER_free(cipher);
	free(ring);
	return 0;
}
