/* SPDX-License-Identifier: MIT */
/*
 * The portable backend (CRYPTO=portable): crypto.h's AEADs, X25519, comparison and wiping on our
 * own primitives in crypto/portable/, for targets without libsodium. It implements exactly the
 * functions crypto/sodium.c implements, with the same contracts, so the core cannot tell which one
 * it was linked with. No global state, nothing to initialise.
 */
#include "crypto/crypto.h"

#include "base/bytes.h"
#include "crypto/portable/portable.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* WireGuard's AEAD nonce: 32 zero bits, then the counter as a 64-bit little-endian integer. */
static void make_nonce(uint8_t nonce[WGC_CHACHA20_NONCE_LEN], uint64_t counter)
{
	memset(nonce, 0, 4);
	wgc_store_le64(nonce + 4, counter);
}

void wgc_crypto_init(void)
{
}

/* One ChaCha20-Poly1305 implementation here: ours. */
void wgc_crypto_settle(void)
{
}

const char *wgc_crypto_aead_name(void)
{
	return "portable";
}

enum wgc_status wgc_crypto_aead_select(const char *name)
{
	return strcmp(name, "portable") == 0 ? WGC_OK : WGC_ERR_INVALID;
}

/* ---- AEAD ---- */

void wgc_aead_seal(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad, size_t ad_len,
		   uint64_t counter, const uint8_t key[WGC_KEY_LEN])
{
	uint8_t nonce[WGC_CHACHA20_NONCE_LEN];

	make_nonce(nonce, counter);
	wgc_chacha20poly1305_seal(dst, src, len, ad, ad_len, nonce, key);
}

void wgc_aead_seal_parts(uint8_t *dst, size_t head_len, const uint8_t *tail, size_t tail_len,
			 size_t pad_len, uint64_t counter, const uint8_t key[WGC_KEY_LEN])
{
	wgc_aead_seal_parts_by_copy(dst, head_len, tail, tail_len, pad_len, counter, key);
}

bool wgc_aead_open(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad, size_t ad_len,
		   uint64_t counter, const uint8_t key[WGC_KEY_LEN])
{
	uint8_t nonce[WGC_CHACHA20_NONCE_LEN];

	make_nonce(nonce, counter);
	return wgc_chacha20poly1305_open(dst, src, len, ad, ad_len, nonce, key);
}

void wgc_xaead_seal(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad, size_t ad_len,
		    const uint8_t nonce[WGC_XAEAD_NONCE_LEN], const uint8_t key[WGC_KEY_LEN])
{
	wgc_xchacha20poly1305_seal(dst, src, len, ad, ad_len, nonce, key);
}

bool wgc_xaead_open(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad, size_t ad_len,
		    const uint8_t nonce[WGC_XAEAD_NONCE_LEN], const uint8_t key[WGC_KEY_LEN])
{
	return wgc_xchacha20poly1305_open(dst, src, len, ad, ad_len, nonce, key);
}

/* ---- X25519 ---- */

void wgc_x25519_public(uint8_t public_key[WGC_KEY_LEN], const uint8_t private_key[WGC_KEY_LEN])
{
	wgc_x25519_scalarmult_base(public_key, private_key);
}

bool wgc_x25519(uint8_t shared[WGC_KEY_LEN], const uint8_t private_key[WGC_KEY_LEN],
		const uint8_t public_key[WGC_KEY_LEN])
{
	uint8_t zero[WGC_KEY_LEN] = { 0 };
	uint32_t is_zero;
	size_t i;

	/*
	 * An all-zero result means a low-order peer point. Whether that happens depends only on
	 * the public point, but the result is computed from the private key, so the test and the
	 * wipe are masks, not branches: the secret never reaches a branch inside crypto/ (the
	 * caller's branch on the returned bool is on public information).
	 */
	wgc_x25519_scalarmult(shared, private_key, public_key);
	is_zero = wgc_portable_equal_mask(shared, zero, WGC_KEY_LEN);
	for (i = 0; i < WGC_KEY_LEN; i++)
		shared[i] = (uint8_t)(shared[i] & ~is_zero);
	return (is_zero & 1u) == 0;
}

/* ---- constant time and wiping ---- */

bool wgc_ct_equal(const void *a, const void *b, size_t len)
{
	return (wgc_portable_equal_mask(a, b, len) & 1u) != 0;
}

void wgc_memzero(void *p, size_t len)
{
	wgc_portable_wipe(p, len);
}
