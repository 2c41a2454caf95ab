/* SPDX-License-Identifier: MIT */
/*
 * The libsodium backend (the default, CRYPTO=sodium): ChaCha20-Poly1305 and XChaCha20-Poly1305
 * AEAD (RFC 8439, draft-irtf-cfrg-xchacha), X25519 (RFC 7748), constant-time comparison and
 * wiping. This is the only file that includes <sodium.h>; crypto/portable.c is the other backend
 * and implements exactly the same functions. What does not depend on the backend (TAI64N, clamping,
 * the zero test) is in crypto/common.c.
 */
#include "crypto/crypto.h"

#include "base/bytes.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <sodium.h>

enum {
	AEAD_NONCE_LEN = 12,
};

/* WireGuard's AEAD nonce: 32 zero bits, then the counter as a 64-bit little-endian integer. */
static void make_nonce(uint8_t nonce[AEAD_NONCE_LEN], uint64_t counter)
{
	memset(nonce, 0, 4);
	wgc_store_le64(nonce + 4, counter);
}

void wgc_crypto_init(void)
{
	int rc;

	/*
	 * For the functions we use, sodium_init only selects CPU-specific implementations; it is
	 * idempotent and takes its own lock, so repeated and concurrent calls are fine. Its -1
	 * cannot be reported through this void interface and needs no handling: without it those
	 * functions run libsodium's portable code, and we never use its random generator.
	 */
	rc = sodium_init();
	(void)rc; /* a plain (void) cast does not silence warn_unused_result in GCC */
}

/* ---- AEAD ---- */

/*
 * The detached forms are used because they write ciphertext and tag separately: with dst == src
 * the stream cipher works in place, and the tag lands after the ciphertext without libsodium
 * needing to move anything. Their return values are always 0 for encryption.
 */
void wgc_aead_seal(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad, size_t ad_len,
		   uint64_t counter, const uint8_t key[WGC_KEY_LEN])
{
	uint8_t nonce[AEAD_NONCE_LEN];

	make_nonce(nonce, counter);
	(void)crypto_aead_chacha20poly1305_ietf_encrypt_detached(dst, dst + len, NULL, src, len, ad,
								 ad_len, NULL, nonce, key);
}

bool wgc_aead_open(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad, size_t ad_len,
		   uint64_t counter, const uint8_t key[WGC_KEY_LEN])
{
	uint8_t nonce[AEAD_NONCE_LEN];

	if (len < WGC_AEAD_TAG_LEN)
		return false;
	make_nonce(nonce, counter);
	/* libsodium checks the tag (in constant time) before it decrypts anything. */
	return crypto_aead_chacha20poly1305_ietf_decrypt_detached(
		       dst, NULL, src, len - WGC_AEAD_TAG_LEN, src + len - WGC_AEAD_TAG_LEN, ad,
		       ad_len, nonce, key) == 0;
}

void wgc_xaead_seal(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad, size_t ad_len,
		    const uint8_t nonce[WGC_XAEAD_NONCE_LEN], const uint8_t key[WGC_KEY_LEN])
{
	(void)crypto_aead_xchacha20poly1305_ietf_encrypt_detached(dst, dst + len, NULL, src, len,
								  ad, ad_len, NULL, nonce, key);
}

bool wgc_xaead_open(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad, size_t ad_len,
		    const uint8_t nonce[WGC_XAEAD_NONCE_LEN], const uint8_t key[WGC_KEY_LEN])
{
	if (len < WGC_AEAD_TAG_LEN)
		return false;
	return crypto_aead_xchacha20poly1305_ietf_decrypt_detached(
		       dst, NULL, src, len - WGC_AEAD_TAG_LEN, src + len - WGC_AEAD_TAG_LEN, ad,
		       ad_len, nonce, key) == 0;
}

/* ---- X25519 ---- */

void wgc_x25519_public(uint8_t public_key[WGC_KEY_LEN], const uint8_t private_key[WGC_KEY_LEN])
{
	/* libsodium clamps the scalar itself, and a clamped scalar times the base point is never
	 * the identity, so the return value carries no information. */
	(void)crypto_scalarmult_base(public_key, private_key);
}

bool wgc_x25519(uint8_t shared[WGC_KEY_LEN], const uint8_t private_key[WGC_KEY_LEN],
		const uint8_t public_key[WGC_KEY_LEN])
{
	int rc;
	bool ok;

	/*
	 * libsodium returns -1 for an all-zero result, and some of its implementations return -1
	 * for a known low-order input before writing shared at all. So the output is checked here
	 * too and zeroed on failure, whatever libsodium left in it. Whether the result is zero
	 * depends only on the (public) peer point having low order, so branching on it leaks
	 * nothing about the private key.
	 */
	rc = crypto_scalarmult(shared, private_key, public_key);
	ok = (rc == 0) & !wgc_ct_is_zero(shared, WGC_KEY_LEN);
	if (!ok) {
		wgc_memzero(shared, WGC_KEY_LEN);
		return false;
	}
	return true;
}

/* ---- constant time and wiping ---- */

bool wgc_ct_equal(const void *a, const void *b, size_t len)
{
	return sodium_memcmp(a, b, len) == 0;
}

void wgc_memzero(void *p, size_t len)
{
	sodium_memzero(p, len);
}
