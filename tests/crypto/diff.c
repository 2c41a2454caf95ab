/* SPDX-License-Identifier: MIT */
/*
 * Differential test of the portable primitives against libsodium: ChaCha20-Poly1305,
 * XChaCha20-Poly1305 and X25519 on random keys, nonces, associated data and messages of every
 * length from 0 to 1500 bytes (each many times) plus random longer ones, in place and out of
 * place; every sealed message is opened by the other implementation and, with one random bit
 * flipped, refused by both. X25519 takes random 256-bit u (top bit set half the time), a share of
 * non-canonical u in [p, 2^255) and random scalars, and the base-point form.
 *
 * Usage: diff [cases-per-primitive [seed]]; WGC_DIFF_SEED also sets the seed. The seed is printed
 * so that a failure can be replayed. Exit status 0 only when every case agreed; the totals are
 * written to build/results/crypto-diff.txt for scripts/summary.sh.
 */
#include "crypto/portable/portable.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sodium.h>

enum {
	MAX_SHORT = 1500,
	MAX_LONG = 16384,
	MAX_AD = 300,
};

static uint64_t rng_state;

/* splitmix64: small, fast and reproducible from the printed seed. */
static uint64_t rng_next(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void rng_fill(uint8_t *p, size_t len)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		if (i % 8 == 0)
			v = rng_next();
		p[i] = (uint8_t)(v >> (8 * (i % 8)));
	}
}

static unsigned long failures;

static void fail(const char *what, unsigned long n, size_t len)
{
	if (failures++ < 20)
		fprintf(stderr, "crypto-diff: FAIL %s, case %lu, length %zu\n", what, n, len);
}

/* The length of case n: 0..1500 in turn for 19 cases in 20, else a random longer one. */
static size_t case_len(unsigned long n)
{
	if (n % 20 == 19)
		return MAX_SHORT + 1 + (size_t)(rng_next() % (MAX_LONG - MAX_SHORT));
	return (size_t)((n - n / 20) % (MAX_SHORT + 1));
}

static size_t case_ad_len(void)
{
	uint64_t r = rng_next();

	return (r & 3) == 0 ? 0 : (size_t)((r >> 8) % ((r & 4) ? MAX_AD : 33));
}

typedef void (*seal_fn)(uint8_t *, const uint8_t *, size_t, const uint8_t *, size_t,
			const uint8_t *, const uint8_t *);
typedef bool (*open_fn)(uint8_t *, const uint8_t *, size_t, const uint8_t *, size_t,
			const uint8_t *, const uint8_t *);
typedef int (*ref_seal_fn)(unsigned char *, unsigned char *, unsigned long long *,
			   const unsigned char *, unsigned long long, const unsigned char *,
			   unsigned long long, const unsigned char *, const unsigned char *,
			   const unsigned char *);
typedef int (*ref_open_fn)(unsigned char *, unsigned char *, const unsigned char *,
			   unsigned long long, const unsigned char *, const unsigned char *,
			   unsigned long long, const unsigned char *, const unsigned char *);

struct aead {
	const char *name;
	size_t nonce_len;
	seal_fn seal;
	open_fn open;
	ref_seal_fn ref_seal;
	ref_open_fn ref_open;
};

static void seal_ietf(uint8_t *d, const uint8_t *s, size_t l, const uint8_t *a, size_t al,
		      const uint8_t *n, const uint8_t *k)
{
	wgc_chacha20poly1305_seal(d, s, l, a, al, n, k);
}

static bool open_ietf(uint8_t *d, const uint8_t *s, size_t l, const uint8_t *a, size_t al,
		      const uint8_t *n, const uint8_t *k)
{
	return wgc_chacha20poly1305_open(d, s, l, a, al, n, k);
}

static void seal_x(uint8_t *d, const uint8_t *s, size_t l, const uint8_t *a, size_t al,
		   const uint8_t *n, const uint8_t *k)
{
	wgc_xchacha20poly1305_seal(d, s, l, a, al, n, k);
}

static bool open_x(uint8_t *d, const uint8_t *s, size_t l, const uint8_t *a, size_t al,
		   const uint8_t *n, const uint8_t *k)
{
	return wgc_xchacha20poly1305_open(d, s, l, a, al, n, k);
}

static void run_aead(const struct aead *alg, unsigned long cases)
{
	static uint8_t plain[MAX_LONG], ours[MAX_LONG + 16], ref[MAX_LONG + 16], out[MAX_LONG + 16];
	uint8_t key[32], nonce[24], ad[MAX_AD];
	unsigned long n, before = failures;
	size_t len, ad_len, flip;

	for (n = 0; n < cases; n++) {
		len = case_len(n);
		ad_len = case_ad_len();
		rng_fill(key, sizeof(key));
		rng_fill(nonce, sizeof(nonce));
		rng_fill(ad, ad_len);
		rng_fill(plain, len);

		/* Seal: ours (in place every other case) against libsodium's. */
		if (n & 1) {
			memcpy(ours, plain, len);
			alg->seal(ours, ours, len, ad, ad_len, nonce, key);
		} else {
			alg->seal(ours, plain, len, ad, ad_len, nonce, key);
		}
		alg->ref_seal(ref, ref + len, NULL, plain, len, ad, ad_len, NULL, nonce, key);
		if (memcmp(ours, ref, len + 16) != 0)
			fail(alg->name, n, len);

		/* Open each other's output. */
		if (!alg->open(out, ref, len + 16, ad, ad_len, nonce, key) ||
		    memcmp(out, plain, len) != 0)
			fail(alg->name, n, len);
		if (alg->ref_open(out, NULL, ours, len, ours + len, ad, ad_len, nonce, key) != 0 ||
		    memcmp(out, plain, len) != 0)
			fail(alg->name, n, len);

		/* One flipped bit anywhere in ciphertext or tag: both refuse, and our failed
		 * in-place open leaves the bytes as they were. */
		flip = (size_t)(rng_next() % ((len + 16) * 8));
		ours[flip / 8] ^= (uint8_t)(1u << (flip % 8));
		memcpy(out, ours, len + 16);
		if (alg->open(out, out, len + 16, ad, ad_len, nonce, key) ||
		    memcmp(out, ours, len + 16) != 0)
			fail(alg->name, n, len);
		if (alg->ref_open(out, NULL, ours, len, ours + len, ad, ad_len, nonce, key) == 0)
			fail(alg->name, n, len);
	}
	printf("crypto-diff: %-20s %lu cases (lengths 0..%d each %lu times, and %lu longer): %s\n",
	       alg->name, cases, MAX_SHORT, (cases - cases / 20) / (MAX_SHORT + 1), cases / 20,
	       failures == before ? "ok" : "FAILED");
}

static void run_x25519(unsigned long cases)
{
	uint8_t scalar[32], u[32], ours[32], ref[32];
	unsigned long n, before = failures, noncanonical = 0, refused = 0;
	int rc;

	for (n = 0; n < cases; n++) {
		rng_fill(scalar, sizeof(scalar));
		rng_fill(u, sizeof(u));
		if (n % 50 == 7) {
			/* p + k, k in 0..18: non-canonical, top bit random */
			memset(u, 0xff, sizeof(u));
			u[0] = (uint8_t)(0xed + rng_next() % 19);
			u[31] = (uint8_t)((rng_next() & 1) ? 0xff : 0x7f);
			noncanonical++;
		}
		wgc_x25519_scalarmult(ours, scalar, u);
		rc = crypto_scalarmult(ref, scalar, u);
		if (rc == 0) {
			if (memcmp(ours, ref, 32) != 0)
				fail("x25519", n, 32);
		} else {
			/* libsodium refuses low-order u (here p and p + 1); ours must give 0. */
			refused++;
			if (!sodium_is_zero(ours, 32))
				fail("x25519 low order", n, 32);
		}
		if (n % 10 == 0) {
			wgc_x25519_scalarmult_base(ours, scalar);
			crypto_scalarmult_base(ref, scalar);
			if (memcmp(ours, ref, 32) != 0)
				fail("x25519 base", n, 32);
		}
	}
	printf("crypto-diff: %-20s %lu cases (%lu non-canonical u, %lu low-order refused by both, "
	       "%lu base-point): %s\n",
	       "x25519", cases, noncanonical, refused, (cases + 9) / 10,
	       failures == before ? "ok" : "FAILED");
}

int main(int argc, char **argv)
{
	static const struct aead algs[] = {
		{ "chacha20-poly1305", 12, seal_ietf, open_ietf,
		  crypto_aead_chacha20poly1305_ietf_encrypt_detached,
		  crypto_aead_chacha20poly1305_ietf_decrypt_detached },
		{ "xchacha20-poly1305", 24, seal_x, open_x,
		  crypto_aead_xchacha20poly1305_ietf_encrypt_detached,
		  crypto_aead_xchacha20poly1305_ietf_decrypt_detached },
	};
	unsigned long cases = argc > 1 ? strtoul(argv[1], NULL, 0) : 100000;
	const char *env = getenv("WGC_DIFF_SEED");
	uint64_t seed;
	size_t i;
	FILE *f;

	if (sodium_init() < 0)
		return 2;
	if (argc > 2)
		seed = strtoull(argv[2], NULL, 0);
	else if (env)
		seed = strtoull(env, NULL, 0);
	else
		seed = (uint64_t)time(NULL) * 0x100000001b3ULL ^ (uint64_t)clock();
	rng_state = seed;
	printf("crypto-diff: seed 0x%016" PRIx64 " (replay: WGC_DIFF_SEED=0x%016" PRIx64 ")\n", seed,
	       seed);

	for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
		run_aead(&algs[i], cases);
	run_x25519(cases);

	mkdir("build", 0755);
	mkdir("build/results", 0755);
	f = fopen("build/results/crypto-diff.txt", "w");
	if (f) {
		fprintf(f, "%d %d\n", failures ? 0 : 3, failures ? 1 : 0);
		fclose(f);
	}
	printf("crypto-diff: %s (%lu failures)\n", failures ? "FAILED" : "all agree", failures);
	return failures ? 1 : 0;
}
