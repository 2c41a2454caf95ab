/* SPDX-License-Identifier: MIT */
/*
 * Our own ChaCha20 (RFC 8439 2.3-2.4), HChaCha20 (draft-irtf-cfrg-xchacha 2.2), Poly1305
 * (RFC 8439 2.5), the two AEADs built from them (RFC 8439 2.8, draft-irtf-cfrg-xchacha 2.3) and
 * X25519 (RFC 7748 5), in portable C11 with 32-bit words and 32x32->64 multiplies. Nothing here
 * allocates, reads a clock or branches on or indexes by a secret; valgrind checks that (make ct).
 *
 * These primitives are compiled into every libwgc build so that the tests and the benchmark can
 * hold them against libsodium; crypto/portable.c maps crypto.h onto them when the library is built
 * with CRYPTO=portable. Every function is pure and callable from any thread.
 */
#ifndef WGC_CRYPTO_PORTABLE_PORTABLE_H
#define WGC_CRYPTO_PORTABLE_PORTABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	WGC_CHACHA20_KEY_LEN = 32,
	WGC_CHACHA20_NONCE_LEN = 12,
	WGC_CHACHA20_BLOCK_LEN = 64,
	WGC_HCHACHA20_NONCE_LEN = 16,
	WGC_HCHACHA20_OUT_LEN = 32,
	WGC_POLY1305_KEY_LEN = 32,
	WGC_POLY1305_BLOCK_LEN = 16,
	WGC_POLY1305_TAG_LEN = 16,
	WGC_XCHACHA20_NONCE_LEN = 24,
	WGC_X25519_LEN = 32,
};

/* ---- ChaCha20 and HChaCha20 ---- */

/* One 64-byte key-stream block for (key, counter, nonce). */
void wgc_chacha20_block(uint8_t out[WGC_CHACHA20_BLOCK_LEN], const uint8_t key[WGC_CHACHA20_KEY_LEN],
			uint32_t counter, const uint8_t nonce[WGC_CHACHA20_NONCE_LEN]);
/* dst = src XOR the key stream starting at block `counter`; dst == src allowed. */
void wgc_chacha20_xor(uint8_t *dst, const uint8_t *src, size_t len,
		      const uint8_t key[WGC_CHACHA20_KEY_LEN], uint32_t counter,
		      const uint8_t nonce[WGC_CHACHA20_NONCE_LEN]);
/* The same with the key stream ANDed with mask (all ones or zero) first: with zero, dst becomes a
 * copy of src, in the same time. */
void wgc_chacha20_xor_masked(uint8_t *dst, const uint8_t *src, size_t len,
			     const uint8_t key[WGC_CHACHA20_KEY_LEN], uint32_t counter,
			     const uint8_t nonce[WGC_CHACHA20_NONCE_LEN], uint32_t mask);
/* The XChaCha20 subkey: 20 rounds over (key, 16-byte nonce), words 0-3 and 12-15. */
void wgc_hchacha20(uint8_t out[WGC_HCHACHA20_OUT_LEN], const uint8_t key[WGC_CHACHA20_KEY_LEN],
		   const uint8_t nonce[WGC_HCHACHA20_NONCE_LEN]);

/* ---- Poly1305 ---- */

/* Streaming state: r and s are the one-time key, h the accumulator; all secret. */
struct wgc_poly1305 {
	uint32_t r[5];
	uint32_t h[5];
	uint32_t s[4];
	uint8_t buf[WGC_POLY1305_BLOCK_LEN];
	size_t buf_len;
};

void wgc_poly1305_init(struct wgc_poly1305 *state, const uint8_t key[WGC_POLY1305_KEY_LEN]);
void wgc_poly1305_update(struct wgc_poly1305 *state, const uint8_t *in, size_t in_len);
/* Writes the tag and wipes the state. */
void wgc_poly1305_final(struct wgc_poly1305 *state, uint8_t tag[WGC_POLY1305_TAG_LEN]);
void wgc_poly1305(uint8_t tag[WGC_POLY1305_TAG_LEN], const uint8_t *in, size_t in_len,
		  const uint8_t key[WGC_POLY1305_KEY_LEN]);

/* ---- AEADs: dst holds len + 16 (seal); open checks src's last 16 bytes ---- */

/*
 * ChaCha20-Poly1305 with a 96-bit nonce. dst == src allowed, other overlaps not. open returns
 * false if len < 16 or the tag does not verify; it takes the same time either way (the key
 * stream is applied under a mask), and on failure dst holds a copy of the ciphertext, so an
 * in-place open that fails leaves the buffer as it was.
 */
void wgc_chacha20poly1305_seal(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
			       size_t ad_len, const uint8_t nonce[WGC_CHACHA20_NONCE_LEN],
			       const uint8_t key[WGC_CHACHA20_KEY_LEN]);
bool wgc_chacha20poly1305_open(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
			       size_t ad_len, const uint8_t nonce[WGC_CHACHA20_NONCE_LEN],
			       const uint8_t key[WGC_CHACHA20_KEY_LEN]);
/* XChaCha20-Poly1305: HChaCha20 subkey from nonce[0..15], then the above with 0^32 || nonce[16..23]. */
void wgc_xchacha20poly1305_seal(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
				size_t ad_len, const uint8_t nonce[WGC_XCHACHA20_NONCE_LEN],
				const uint8_t key[WGC_CHACHA20_KEY_LEN]);
bool wgc_xchacha20poly1305_open(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
				size_t ad_len, const uint8_t nonce[WGC_XCHACHA20_NONCE_LEN],
				const uint8_t key[WGC_CHACHA20_KEY_LEN]);

/* ---- X25519 ---- */

/* The X25519 function of RFC 7748 5: clamps a copy of scalar, ignores u's top bit, accepts
 * non-canonical u (>= 2^255 - 19) and low-order points (their output is all zeros; callers check). */
void wgc_x25519_scalarmult(uint8_t out[WGC_X25519_LEN], const uint8_t scalar[WGC_X25519_LEN],
			   const uint8_t u[WGC_X25519_LEN]);
/* X25519(scalar, 9). */
void wgc_x25519_scalarmult_base(uint8_t out[WGC_X25519_LEN], const uint8_t scalar[WGC_X25519_LEN]);

/* ---- helpers shared by the files above ---- */

/* All-ones when the len bytes of a and b are equal, else zero; time depends only on len. */
uint32_t wgc_portable_equal_mask(const uint8_t *a, const uint8_t *b, size_t len);
/* Wipes len bytes in a way the compiler cannot elide. */
void wgc_portable_wipe(void *p, size_t len);

#endif
