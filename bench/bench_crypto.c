/* SPDX-License-Identifier: MIT */
/*
 * The crypto backends side by side: each primitive the core uses, through raw libsodium, through
 * libwgc's libsodium backend (crypto/sodium.c, wgc_aead_seal and friends) and through our portable
 * primitives (crypto/portable/, called exactly as crypto/portable.c calls them: same counter
 * nonce), as nanoseconds per operation and as a ratio to raw libsodium (lower is faster; 2.0 means
 * twice libsodium's time). AEADs at 1420 B (a full-size packet) and 64 B (a small one), seal and
 * open; XChaCha20-Poly1305 at the cookie's 16 B; X25519 shared secret and public key.
 */
#include "crypto/crypto.h"
#include "crypto/portable/portable.h"

#include "bench_util.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

enum {
	REPS = 7,
	MAX_LEN = 1420,
	TARGET_NS = 20 * 1000 * 1000, /* CPU time per repetition and implementation */
};

enum impl { RAW, WGC_SODIUM, WGC_PORTABLE, IMPLS };

static const char *const impl_names[IMPLS] = { "libsodium", "wgc/sodium", "wgc/portable" };

struct op {
	const char *name;
	size_t len;
	void (*run[IMPLS])(size_t len);
};

static uint8_t key[32], nonce24[24], buf[MAX_LEN + 16], sealed[IMPLS][MAX_LEN + 16];
static uint8_t scalar[32], peer[32], out32[32];
static volatile uint8_t sink;

static void nonce12(uint8_t n[12], uint64_t counter)
{
	memset(n, 0, 4);
	wgc_store_le64(n + 4, counter);
}

/* ---- ChaCha20-Poly1305 ---- */

static void seal_raw(size_t len)
{
	uint8_t n[12];

	nonce12(n, 7);
	crypto_aead_chacha20poly1305_ietf_encrypt_detached(buf, buf + len, NULL, buf, len, NULL, 0,
							   NULL, n, key);
}

static void seal_wgc(size_t len)
{
	wgc_aead_seal(buf, buf, len, NULL, 0, 7, key);
}

static void seal_portable(size_t len)
{
	uint8_t n[12];

	nonce12(n, 7);
	wgc_chacha20poly1305_seal(buf, buf, len, NULL, 0, n, key);
}

/* Opening needs a valid message each time: open out of place from a sealed copy into buf. */
static void open_raw(size_t len)
{
	uint8_t n[12];

	nonce12(n, 7);
	sink ^= (uint8_t)crypto_aead_chacha20poly1305_ietf_decrypt_detached(
		buf, NULL, sealed[RAW], len, sealed[RAW] + len, NULL, 0, n, key);
}

static void open_wgc(size_t len)
{
	sink ^= (uint8_t)wgc_aead_open(buf, sealed[WGC_SODIUM], len + 16, NULL, 0, 7, key);
}

static void open_portable(size_t len)
{
	uint8_t n[12];

	nonce12(n, 7);
	sink ^= (uint8_t)wgc_chacha20poly1305_open(buf, sealed[WGC_PORTABLE], len + 16, NULL, 0, n,
						   key);
}

/* ---- XChaCha20-Poly1305 (cookie replies) ---- */

static void xseal_raw(size_t len)
{
	crypto_aead_xchacha20poly1305_ietf_encrypt_detached(buf, buf + len, NULL, buf, len, buf, 32,
							    NULL, nonce24, key);
}

static void xseal_wgc(size_t len)
{
	wgc_xaead_seal(buf, buf, len, buf, 32, nonce24, key);
}

static void xseal_portable(size_t len)
{
	wgc_xchacha20poly1305_seal(buf, buf, len, buf, 32, nonce24, key);
}

/* ---- X25519 ---- */

static void dh_raw(size_t len)
{
	(void)len;
	sink ^= (uint8_t)crypto_scalarmult(out32, scalar, peer);
}

static void dh_wgc(size_t len)
{
	(void)len;
	sink ^= (uint8_t)wgc_x25519(out32, scalar, peer);
}

static void dh_portable(size_t len)
{
	(void)len;
	wgc_x25519_scalarmult(out32, scalar, peer);
}

static void pub_raw(size_t len)
{
	(void)len;
	crypto_scalarmult_base(out32, scalar);
}

static void pub_wgc(size_t len)
{
	(void)len;
	wgc_x25519_public(out32, scalar);
}

static void pub_portable(size_t len)
{
	(void)len;
	wgc_x25519_scalarmult_base(out32, scalar);
}

/* CPU ns per call of fn over about TARGET_NS. */
static double time_op(void (*fn)(size_t), size_t len, unsigned long n)
{
	uint64_t start = bench_cpu_ns();
	unsigned long i;

	for (i = 0; i < n; i++)
		fn(len);
	return (double)(bench_cpu_ns() - start) / (double)n;
}

static void prepare_open(size_t len)
{
	uint8_t n[12];

	nonce12(n, 7);
	memset(buf, 0x42, len);
	crypto_aead_chacha20poly1305_ietf_encrypt_detached(sealed[RAW], sealed[RAW] + len, NULL,
							   buf, len, NULL, 0, NULL, n, key);
	memcpy(sealed[WGC_SODIUM], sealed[RAW], len + 16);
	memcpy(sealed[WGC_PORTABLE], sealed[RAW], len + 16);
}

int main(void)
{
	static const struct op ops[] = {
		{ "seal 1420 B", 1420, { seal_raw, seal_wgc, seal_portable } },
		{ "open 1420 B", 1420, { open_raw, open_wgc, open_portable } },
		{ "seal 64 B", 64, { seal_raw, seal_wgc, seal_portable } },
		{ "open 64 B", 64, { open_raw, open_wgc, open_portable } },
		{ "xseal 16 B (cookie)", 16, { xseal_raw, xseal_wgc, xseal_portable } },
		{ "x25519 shared", 0, { dh_raw, dh_wgc, dh_portable } },
		{ "x25519 public", 0, { pub_raw, pub_wgc, pub_portable } },
	};
	char cpu[128];
	size_t o;
	int r, im;

	if (sodium_init() < 0)
		return 1;
	wgc_crypto_init();
	randombytes_buf(key, sizeof(key));
	randombytes_buf(nonce24, sizeof(nonce24));
	randombytes_buf(scalar, sizeof(scalar));
	crypto_scalarmult_base(peer, key);
	bench_cpu_model(cpu, sizeof(cpu));
	printf("\nbench_crypto: each primitive per backend, CPU ns per operation (median of %d runs,\n"
	       "implementations alternating within each run), and its ratio to raw libsodium\n"
	       "(lower is faster). wgc/portable is the CRYPTO=portable backend's code path.\n"
	       "cpu: %s\n\n",
	       REPS, cpu);
	printf("%-20s %12s %12s %7s %13s %7s\n", "primitive", "libsodium", "wgc/sodium", "ratio",
	       "wgc/portable", "ratio");
	for (o = 0; o < sizeof(ops) / sizeof(ops[0]); o++) {
		double samples[IMPLS][REPS], med[IMPLS];
		unsigned long n[IMPLS];

		if (ops[o].run[0] == open_raw)
			prepare_open(ops[o].len);
		/* Calibrate each implementation's count to about TARGET_NS. */
		for (im = 0; im < IMPLS; im++) {
			double once = time_op(ops[o].run[im], ops[o].len, 50);

			n[im] = (unsigned long)(TARGET_NS / (once > 1 ? once : 1)) + 1;
		}
		for (r = 0; r < REPS; r++)
			for (im = 0; im < IMPLS; im++)
				samples[im][r] = time_op(ops[o].run[im], ops[o].len, n[im]);
		for (im = 0; im < IMPLS; im++)
			med[im] = bench_median(samples[im], REPS);
		printf("%-20s %9.0f ns %9.0f ns %7.2f %10.0f ns %7.2f\n", ops[o].name, med[RAW],
		       med[WGC_SODIUM], med[WGC_SODIUM] / med[RAW], med[WGC_PORTABLE],
		       med[WGC_PORTABLE] / med[RAW]);
		if (ops[o].len >= 1024)
			printf("%-20s %9.0f MB/s %7.0f MB/s %15.0f MB/s\n", "", ops[o].len * 1e3 / med[RAW],
			       ops[o].len * 1e3 / med[WGC_SODIUM], ops[o].len * 1e3 / med[WGC_PORTABLE]);
	}
	(void)impl_names;
	return 0;
}
