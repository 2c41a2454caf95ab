/* SPDX-License-Identifier: MIT */
/*
 * The primitives WireGuard needs, behind one small interface: BLAKE2s (plain, keyed), HMAC-BLAKE2s
 * and the WireGuard KDF (our own code, RFC 7693 / RFC 2104), ChaCha20-Poly1305 and XChaCha20-Poly1305
 * AEAD, X25519 (libsodium), TAI64N, constant-time comparison and secure wipe. Nothing here knows of
 * WireGuard messages. Every function is callable from any thread.
 *
 * ChaCha20-Poly1305 has two implementations in the Linux build (crypto/aead_backend.h), chosen
 * once per process by wgc_crypto_init: OpenSSL 3 (crypto/openssl.c) on x86-64 CPUs with AVX-512,
 * for messages of WGC_AEAD_OPENSSL_MIN_LEN (1280) bytes and more, driven through its provider's
 * functions (measured here ~1.25x libsodium's speed at 1420 B and ~2.4x on 64 KiB; through
 * EVP, the other driver, 1.0-1.1x at 1420 B); libsodium for everything else, and wherever OpenSSL does
 * not load, fails its start-up check against libsodium, or cannot get a context. All give the
 * same bytes. Global state: libsodium's one-time init, the choice (written at configuration
 * time), and for OpenSSL one cipher context per thread that seals or opens. That context is the
 * one allocation in crypto/: made inside libcrypto on the thread's first full-size seal/open,
 * never again on that thread, freed (cleansed) when the thread exits; the main thread's lives
 * until the process ends. After each call its key is overwritten with zeros, so an idle thread
 * keeps no session key beyond the core's own wipe of it.
 */
#ifndef WGC_CRYPTO_CRYPTO_H
#define WGC_CRYPTO_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wgc.h"

enum {
	WGC_BLAKE2S_OUT_LEN = 32,   /* HASH() output and the largest BLAKE2s digest */
	WGC_BLAKE2S_BLOCK_LEN = 64, /* compression block, also the HMAC block size */
	WGC_BLAKE2S_KEY_MAX = 32,
	WGC_AEAD_TAG_LEN = 16,
	WGC_XAEAD_NONCE_LEN = 24,
	WGC_TAI64N_LEN = 12,
};

/* ---- one-time setup ---- */

/*
 * Initialises the AEAD/X25519 backend and chooses the ChaCha20-Poly1305 implementation (see the
 * AEAD section). Idempotent and thread-safe; wgc_endpoint_init calls it.
 */
void wgc_crypto_init(void);
/* Makes the choice definite: where wgc_crypto_init chose OpenSSL, loads and self-checks it now
 * (else that happens at the first full-size seal or open), falling back as the AEAD section
 * says. A program that sandboxes itself calls this (wgc_aead_backend does) before it may no
 * longer read OpenSSL's configuration. Idempotent and thread-safe. */
void wgc_crypto_settle(void);
/* The name of the ChaCha20-Poly1305 implementation full-size messages use ("libsodium",
 * "openssl-direct", "openssl"; a build with other backends has other names). Any thread. */
const char *wgc_crypto_aead_name(void);
/* Forces that implementation by name (not NULL). Returns WGC_OK, or, changing nothing,
 * WGC_ERR_INVALID for a name this build does not have and WGC_ERR_STATE for one that cannot run
 * here. Configuration-time only: before any thread seals or opens. */
WGC_MUST_CHECK enum wgc_status wgc_crypto_aead_select(const char *name);

/* ---- BLAKE2s (RFC 7693) ---- */

/* Streaming state. Holds key material when keyed: finalising wipes it. */
struct wgc_blake2s {
	uint32_t h[8];
	uint32_t t[2];
	uint32_t f[2];
	uint8_t buf[WGC_BLAKE2S_BLOCK_LEN];
	size_t buf_len;
	size_t out_len;
};

/* Starts an unkeyed hash with out_len bytes of output (1..32). */
void wgc_blake2s_init(struct wgc_blake2s *state, size_t out_len);
/* Starts a keyed hash (MAC); key_len 1..32, out_len 1..32. */
void wgc_blake2s_init_key(struct wgc_blake2s *state, size_t out_len, const uint8_t *key,
			  size_t key_len);
/* Like wgc_blake2s_init_key, but compresses the key block at once: a state to copy and reuse for
 * many messages under one long-lived key (mac1), one compression cheaper per message. Every
 * message hashed from it must be at least one byte long. Holds key material: wipe copies. */
void wgc_blake2s_init_key_absorbed(struct wgc_blake2s *state, size_t out_len, const uint8_t *key,
				   size_t key_len);
void wgc_blake2s_update(struct wgc_blake2s *state, const uint8_t *in, size_t in_len);
/* Writes state->out_len bytes to out and wipes the state. */
void wgc_blake2s_final(struct wgc_blake2s *state, uint8_t *out);
/* One-shot; key may be NULL with key_len 0. */
void wgc_blake2s(uint8_t *out, size_t out_len, const uint8_t *in, size_t in_len, const uint8_t *key,
		 size_t key_len);

/* HMAC(key, in) over BLAKE2s-256 with a 64-byte block (RFC 2104). key_len may exceed 64. */
void wgc_hmac_blake2s(uint8_t out[WGC_BLAKE2S_OUT_LEN], const uint8_t *key, size_t key_len,
		      const uint8_t *in, size_t in_len);

/*
 * The WireGuard KDF (whitepaper 5.4): t0 = HMAC(chaining_key, in); t1 = HMAC(t0, 0x1);
 * t2 = HMAC(t0, t1 || 0x2); t3 = HMAC(t0, t2 || 0x3). Writes t1 to out1 and, when non-NULL, t2 to
 * out2 and t3 to out3 (out3 requires out2). Outputs may alias chaining_key. t0 is wiped.
 */
void wgc_kdf(uint8_t out1[WGC_KEY_LEN], uint8_t *out2, uint8_t *out3,
	     const uint8_t chaining_key[WGC_KEY_LEN], const uint8_t *in, size_t in_len);

/* ---- AEAD (RFC 8439), nonce = 32 zero bits || counter as 64-bit little-endian ---- */

/*
 * Encrypts len bytes of src into dst and appends the 16-byte tag (dst holds len + 16). dst == src
 * is allowed (in place); other overlaps are not. Callable from any thread, concurrently; with
 * OpenSSL chosen, a thread's first call of at least WGC_AEAD_OPENSSL_MIN_LEN bytes allocates its
 * EVP context (see above). Never fails: a backend that cannot run hands the call to libsodium.
 */
void wgc_aead_seal(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad, size_t ad_len,
		   uint64_t counter, const uint8_t key[WGC_KEY_LEN]);
/*
 * wgc_aead_seal of a plaintext in three parts, without AD: head_len bytes already at dst (sealed in
 * place), then tail_len bytes at tail (read from there: they must not overlap dst's message), then
 * pad_len zero bytes. The message is dst[0 .. head_len + tail_len + pad_len) and the tag after it;
 * the zeros are written by the call. Where the backend streams (OpenSSL) it is one pass over the
 * bytes, the cipher's read of tail being the copy; elsewhere tail is copied to its place first.
 * Threads as wgc_aead_seal.
 */
void wgc_aead_seal_parts(uint8_t *dst, size_t head_len, const uint8_t *tail, size_t tail_len,
			 size_t pad_len, uint64_t counter, const uint8_t key[WGC_KEY_LEN]);
/* The same by copying tail and writing the zeros, then sealing in place (every backend's fallback;
 * crypto/common.c). */
void wgc_aead_seal_parts_by_copy(uint8_t *dst, size_t head_len, const uint8_t *tail,
				 size_t tail_len, size_t pad_len, uint64_t counter,
				 const uint8_t key[WGC_KEY_LEN]);
/* Checks and decrypts src (len bytes, tag included) into dst (len - 16 bytes). Returns false, with dst
 * unspecified (OpenSSL: zeroed; it never holds unauthenticated plaintext), if len < 16 or the tag
 * does not verify. dst == src allowed. Threads as wgc_aead_seal. */
WGC_MUST_CHECK bool wgc_aead_open(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
				  size_t ad_len, uint64_t counter, const uint8_t key[WGC_KEY_LEN]);

/* XChaCha20-Poly1305 with a 24-byte nonce; same conventions as above. Always libsodium (cookie
 * replies only, never on the data path). */
void wgc_xaead_seal(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad, size_t ad_len,
		    const uint8_t nonce[WGC_XAEAD_NONCE_LEN], const uint8_t key[WGC_KEY_LEN]);
WGC_MUST_CHECK bool wgc_xaead_open(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
				   size_t ad_len, const uint8_t nonce[WGC_XAEAD_NONCE_LEN],
				   const uint8_t key[WGC_KEY_LEN]);

/* ---- X25519 (RFC 7748) ---- */

/* Clamps a private scalar in place (bits 0-2 and 255 cleared, bit 254 set). */
void wgc_x25519_clamp(uint8_t private_key[WGC_KEY_LEN]);
/* Derives the public key of a private key (clamped internally). */
void wgc_x25519_public(uint8_t public_key[WGC_KEY_LEN], const uint8_t private_key[WGC_KEY_LEN]);
/* shared = X25519(private_key, public_key). Returns false (shared zeroed) when the result is all
 * zeros (a low-order point): the caller must reject the message. */
WGC_MUST_CHECK bool wgc_x25519(uint8_t shared[WGC_KEY_LEN], const uint8_t private_key[WGC_KEY_LEN],
			       const uint8_t public_key[WGC_KEY_LEN]);

/* ---- TAI64N ---- */

/* Encodes wall-clock time (ns since the Unix epoch) as TAI64N: big-endian 0x400000000000000a +
 * seconds, then big-endian nanoseconds with the low 24 bits cleared (whitepaper 5.1, so the
 * timestamp does not leak fine timing). */
void wgc_tai64n(uint8_t out[WGC_TAI64N_LEN], uint64_t wall_ns);

/* ---- constant time and wiping ---- */

/* True when a and b are equal; time depends only on len. */
bool wgc_ct_equal(const void *a, const void *b, size_t len);
/* True when all len bytes are zero; time depends only on len. */
bool wgc_ct_is_zero(const void *p, size_t len);
/* Wipes len bytes in a way the compiler cannot elide. */
void wgc_memzero(void *p, size_t len);

#endif
