/* SPDX-License-Identifier: MIT */
/*
 * ChaCha20-Poly1305 (RFC 8439 2.8) and XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha-03 2.3), and
 * the two small constant-time helpers the portable primitives share.
 *
 * open computes the tag over the ciphertext first and then applies the key stream under a mask
 * derived from the comparison, instead of returning early on a bad tag: no branch depends on the
 * tag (so valgrind's secret tracking sees none), and a failed in-place open leaves the ciphertext
 * untouched. The cost is that a forgery takes as long to reject as a good packet takes to open.
 */
#include "crypto/portable/portable.h"

#include "base/bytes.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static const uint8_t zero_pad[WGC_POLY1305_BLOCK_LEN];

/* RFC 8439 2.6: the Poly1305 key is the first 32 bytes of block 0. */
static void one_time_key(struct wgc_poly1305 *mac, const uint8_t key[WGC_CHACHA20_KEY_LEN],
			 const uint8_t nonce[WGC_CHACHA20_NONCE_LEN])
{
	uint8_t block0[WGC_CHACHA20_BLOCK_LEN];

	wgc_chacha20_block(block0, key, 0, nonce);
	wgc_poly1305_init(mac, block0);
	wgc_portable_wipe(block0, sizeof(block0));
}

static void pad16(struct wgc_poly1305 *mac, size_t len)
{
	size_t rem = len % WGC_POLY1305_BLOCK_LEN;

	if (rem != 0)
		wgc_poly1305_update(mac, zero_pad, WGC_POLY1305_BLOCK_LEN - rem);
}

/* RFC 8439 2.8: tag over AD || pad16 || ciphertext || pad16 || le64(|AD|) || le64(|C|). */
static void compute_tag(uint8_t tag[WGC_POLY1305_TAG_LEN], const uint8_t *ad, size_t ad_len,
			const uint8_t *ct, size_t ct_len, const uint8_t key[WGC_CHACHA20_KEY_LEN],
			const uint8_t nonce[WGC_CHACHA20_NONCE_LEN])
{
	struct wgc_poly1305 mac;
	uint8_t lengths[16];

	one_time_key(&mac, key, nonce);
	wgc_poly1305_update(&mac, ad, ad_len);
	pad16(&mac, ad_len);
	wgc_poly1305_update(&mac, ct, ct_len);
	pad16(&mac, ct_len);
	wgc_store_le64(lengths, (uint64_t)ad_len);
	wgc_store_le64(lengths + 8, (uint64_t)ct_len);
	wgc_poly1305_update(&mac, lengths, sizeof(lengths));
	wgc_poly1305_final(&mac, tag);
}

void wgc_chacha20poly1305_seal(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
			       size_t ad_len, const uint8_t nonce[WGC_CHACHA20_NONCE_LEN],
			       const uint8_t key[WGC_CHACHA20_KEY_LEN])
{
	wgc_chacha20_xor(dst, src, len, key, 1, nonce);
	compute_tag(dst + len, ad, ad_len, dst, len, key, nonce);
}

bool wgc_chacha20poly1305_open(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
			       size_t ad_len, const uint8_t nonce[WGC_CHACHA20_NONCE_LEN],
			       const uint8_t key[WGC_CHACHA20_KEY_LEN])
{
	uint8_t tag[WGC_POLY1305_TAG_LEN];
	uint32_t ok;
	size_t ct_len;

	if (len < WGC_POLY1305_TAG_LEN)
		return false;
	ct_len = len - WGC_POLY1305_TAG_LEN;
	compute_tag(tag, ad, ad_len, src, ct_len, key, nonce);
	ok = wgc_portable_equal_mask(tag, src + ct_len, WGC_POLY1305_TAG_LEN);
	wgc_chacha20_xor_masked(dst, src, ct_len, key, 1, nonce, ok);
	wgc_portable_wipe(tag, sizeof(tag));
	return (ok & 1u) != 0;
}

/* The XChaCha20 key and nonce: HChaCha20 of the first 16 nonce bytes, and 0^32 || the last 8. */
static void derive_x(uint8_t subkey[WGC_CHACHA20_KEY_LEN], uint8_t nonce12[WGC_CHACHA20_NONCE_LEN],
		     const uint8_t nonce[WGC_XCHACHA20_NONCE_LEN],
		     const uint8_t key[WGC_CHACHA20_KEY_LEN])
{
	wgc_hchacha20(subkey, key, nonce);
	memset(nonce12, 0, 4);
	memcpy(nonce12 + 4, nonce + WGC_HCHACHA20_NONCE_LEN, 8);
}

void wgc_xchacha20poly1305_seal(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
				size_t ad_len, const uint8_t nonce[WGC_XCHACHA20_NONCE_LEN],
				const uint8_t key[WGC_CHACHA20_KEY_LEN])
{
	uint8_t subkey[WGC_CHACHA20_KEY_LEN];
	uint8_t nonce12[WGC_CHACHA20_NONCE_LEN];

	derive_x(subkey, nonce12, nonce, key);
	wgc_chacha20poly1305_seal(dst, src, len, ad, ad_len, nonce12, subkey);
	wgc_portable_wipe(subkey, sizeof(subkey));
}

bool wgc_xchacha20poly1305_open(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
				size_t ad_len, const uint8_t nonce[WGC_XCHACHA20_NONCE_LEN],
				const uint8_t key[WGC_CHACHA20_KEY_LEN])
{
	uint8_t subkey[WGC_CHACHA20_KEY_LEN];
	uint8_t nonce12[WGC_CHACHA20_NONCE_LEN];
	bool ok;

	derive_x(subkey, nonce12, nonce, key);
	ok = wgc_chacha20poly1305_open(dst, src, len, ad, ad_len, nonce12, subkey);
	wgc_portable_wipe(subkey, sizeof(subkey));
	return ok;
}

/* ---- shared helpers ---- */

uint32_t wgc_portable_equal_mask(const uint8_t *a, const uint8_t *b, size_t len)
{
	uint32_t acc = 0;
	size_t i;

	for (i = 0; i < len; i++)
		acc |= (uint32_t)(a[i] ^ b[i]);
	/* acc < 256: acc - 1 has its top bit set exactly when acc == 0. */
	return 0u - ((acc - 1u) >> 31);
}

/* A volatile pointer to memset: the compiler must call it and cannot prove the store dead. */
static void *(*const volatile wipe_fn)(void *, int, size_t) = memset;

void wgc_portable_wipe(void *p, size_t len)
{
	wipe_fn(p, 0, len);
}
