/* SPDX-License-Identifier: MIT */
/*
 * The ChaCha20-Poly1305 backends of the Linux (libsodium) build and the one switch between them.
 * wgc_aead_seal/open (crypto.h) dispatch here; tests and benchmarks call each backend directly to
 * compare them. Every backend produces the same bytes (RFC 8439), so which one runs for a packet is
 * invisible except in time. The XChaCha20-Poly1305 cookie AEAD is not dispatched: it stays on
 * libsodium (one cookie reply per handshake under load, never a data-path cost).
 */
#ifndef WGC_CRYPTO_AEAD_BACKEND_H
#define WGC_CRYPTO_AEAD_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/crypto.h"

enum wgc_aead_backend {
	WGC_AEAD_SODIUM = 0, /* libsodium; the default and the fallback of every other backend */
	WGC_AEAD_OPENSSL,    /* OpenSSL 3 EVP, one context per thread (crypto/openssl.c) */
	WGC_AEAD_OPENSSL_DIRECT, /* the same OpenSSL code through its provider functions */
	WGC_AEAD_BACKEND__COUNT,
};

enum {
	/*
	 * Shorter messages go to libsodium whatever the backend: OpenSSL's fixed cost per call
	 * (re-key through the provider, Poly1305 key block, final, the tag as a parameter) is
	 * 0.45-0.6 us driven directly and ~0.75 us through EVP here, against libsodium's
	 * ~0.25 us, and it wins only where its faster bulk code has made up the difference.
	 * make bench here (AVX-512 Xeon, medians of 3 runs): at 1024 B libsodium beats EVP by
	 * ~15% and ties with the direct driver; at 1280 B and 1420 B the direct driver is
	 * 1.1-1.3x libsodium; at 64 KiB 2.4x. Keepalives, handshakes, TCP ACKs and mid-size
	 * packets stay on libsodium; full-size packets (1420 B at the default MTU) go to OpenSSL.
	 */
	WGC_AEAD_OPENSSL_MIN_LEN = 1280,
};

/* The backend wgc_aead_seal/open use for messages of at least WGC_AEAD_OPENSSL_MIN_LEN bytes,
 * settled first (wgc_crypto_settle). Callable from any thread. */
enum wgc_aead_backend wgc_aead_backend_get(void);
/* Its name ("libsodium", "openssl"). */
const char *wgc_aead_backend_name(enum wgc_aead_backend backend);
/* Makes wgc_aead_seal/open use backend from now on. Returns false, changing nothing, if backend
 * is out of range or cannot run here. Configuration-time only: call it before any thread
 * seals or opens (wgc_crypto_init's own choice is made the same way). */
WGC_MUST_CHECK bool wgc_aead_backend_set(enum wgc_aead_backend backend);

/* ---- libsodium (crypto/sodium.c) ---- */

void wgc_sodium_aead_seal(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
			  size_t ad_len, uint64_t counter, const uint8_t key[WGC_KEY_LEN]);
WGC_MUST_CHECK bool wgc_sodium_aead_open(uint8_t *dst, const uint8_t *src, size_t len,
					 const uint8_t *ad, size_t ad_len, uint64_t counter,
					 const uint8_t key[WGC_KEY_LEN]);

/* ---- OpenSSL 3 EVP (crypto/openssl.c) ---- */

/*
 * Loads libcrypto's ChaCha20-Poly1305 once (thread-safe, idempotent) and checks it against an
 * RFC 8439 vector. Returns true when the backend can run. Does not choose it: see
 * wgc_openssl_aead_preferred.
 */
bool wgc_openssl_aead_init(void);
/* True when this CPU is one where OpenSSL (either driver) was measured faster than libsodium
 * for full-size packets: x86-64 with AVX-512F and AVX-512VL, whose ChaCha20 and Poly1305 code
 * libsodium 1.0.18 lacks. */
bool wgc_openssl_aead_preferred(void);
/*
 * Same contracts as wgc_aead_seal/open (crypto.h), any length. The calling thread's EVP context
 * is created on its first call (one allocation inside libcrypto, never again on that thread)
 * and freed, key schedule wiped, when the thread exits. Where that context cannot be had
 * (init failed, out of memory, len above INT_MAX) these fall back to libsodium for the call.
 */
void wgc_openssl_aead_seal(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
			   size_t ad_len, uint64_t counter, const uint8_t key[WGC_KEY_LEN]);
WGC_MUST_CHECK bool wgc_openssl_aead_open(uint8_t *dst, const uint8_t *src, size_t len,
					  const uint8_t *ad, size_t ad_len, uint64_t counter,
					  const uint8_t key[WGC_KEY_LEN]);
/* wgc_aead_seal_parts (crypto.h) on each driver: the three parts fed to the cipher one after the
 * other, so tail is read once, straight into dst. Same fallbacks as the calls above. */
void wgc_openssl_aead_seal_parts(uint8_t *dst, size_t head_len, const uint8_t *tail,
				 size_t tail_len, size_t pad_len, uint64_t counter,
				 const uint8_t key[WGC_KEY_LEN]);
void wgc_openssl_direct_aead_seal_parts(uint8_t *dst, size_t head_len, const uint8_t *tail,
					size_t tail_len, size_t pad_len, uint64_t counter,
					const uint8_t key[WGC_KEY_LEN]);
/* True when the calling thread has its EVP context, i.e. its seal/open really ran on OpenSSL
 * (tests use it to tell a working backend from a silent fallback). */
bool wgc_openssl_aead_thread_has_ctx(void);

/*
 * The same OpenSSL implementation driven through its provider's function table (provider-cipher(7))
 * instead of EVP, which saves EVP's per-call checks and parameter queries. Same contracts as the
 * EVP pair: one provider context per thread, made on first use, freed and cleansed at thread
 * exit, key zeroed after each call, libsodium where it cannot run.
 */
void wgc_openssl_direct_aead_seal(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
				  size_t ad_len, uint64_t counter, const uint8_t key[WGC_KEY_LEN]);
WGC_MUST_CHECK bool wgc_openssl_direct_aead_open(uint8_t *dst, const uint8_t *src, size_t len,
						 const uint8_t *ad, size_t ad_len,
						 uint64_t counter,
						 const uint8_t key[WGC_KEY_LEN]);
/* True when the direct driver loaded and passed its start-up check (runs wgc_openssl_aead_init). */
bool wgc_openssl_direct_ready(void);
bool wgc_openssl_direct_thread_has_ctx(void);

#endif
