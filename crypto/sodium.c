/* SPDX-License-Identifier: MIT */
/*
 * The libsodium backend (the default, CRYPTO=sodium): ChaCha20-Poly1305 and XChaCha20-Poly1305
 * AEAD (RFC 8439, draft-irtf-cfrg-xchacha), X25519 (RFC 7748), constant-time comparison and
 * wiping. This is the only file that includes <sodium.h>; crypto/portable.c is the other backend
 * and implements the same functions. What does not depend on the backend (TAI64N, clamping, the
 * zero test) is in crypto/common.c. It also owns the choice of ChaCha20-Poly1305 implementation
 * (aead_backend.h): wgc_aead_seal/open dispatch between libsodium and, where it was measured
 * faster, OpenSSL 3 (crypto/openssl.c), which falls back to libsodium by itself when it cannot run.
 */
#include "crypto/crypto.h"

#include "crypto/aead_backend.h"

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

/*
 * The backend for messages of WGC_AEAD_OPENSSL_MIN_LEN bytes and more. Changed only at
 * configuration time (wgc_crypto_init, wgc_aead_backend_set) and read by every seal/open: the
 * OpenSSL functions reach their own state through pthread_once, so a plain atomic suffices here.
 * Every value gives the same bytes, so a thread that still reads the old one during a change (or
 * while two first calls of wgc_crypto_init race) is merely slower or faster, never wrong.
 */
static enum wgc_aead_backend aead_backend = WGC_AEAD_SODIUM;
/* Set by the first wgc_crypto_init, whose choice only that call makes. */
static bool has_chosen;
/* The choice is OpenSSL, not yet loaded: the first full-size seal or open (or a question about
 * the choice) loads and checks it, and a failure there falls back to libsodium. So a process
 * that never moves a full-size packet (an idle wgc-proxy) never maps libcrypto's pages in. */
static bool is_tentative;

static const char *const backend_names[WGC_AEAD_BACKEND__COUNT] = {
	[WGC_AEAD_SODIUM] = "libsodium",
	[WGC_AEAD_OPENSSL] = "openssl",
	[WGC_AEAD_OPENSSL_DIRECT] = "openssl-direct",
};

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
	/*
	 * The AEAD backend is chosen by CPU, not timed here (crypto/ has no clock): OpenSSL where
	 * it was measured faster, driven through its provider functions (~20% faster at 1420 B
	 * than through EVP, make bench); libsodium otherwise. OpenSSL is loaded and self-checked
	 * later, on first use (is_tentative): if it fails then, its calls fall back to libsodium,
	 * and wgc_aead_backend_get settles on EVP or libsodium. Repeated calls choose the same; a
	 * choice made by wgc_aead_backend_set is kept.
	 */
	if (!__atomic_exchange_n(&has_chosen, true, __ATOMIC_ACQ_REL)) {
		if (wgc_openssl_aead_preferred()) {
			__atomic_store_n(&is_tentative, true, __ATOMIC_RELEASE);
			__atomic_store_n(&aead_backend, WGC_AEAD_OPENSSL_DIRECT, __ATOMIC_RELEASE);
		}
	}
}

void wgc_crypto_settle(void)
{
	enum wgc_aead_backend tentative = WGC_AEAD_OPENSSL_DIRECT;
	enum wgc_aead_backend choice = WGC_AEAD_SODIUM;

	wgc_crypto_init();
	if (!__atomic_exchange_n(&is_tentative, false, __ATOMIC_ACQ_REL))
		return;
	if (wgc_openssl_aead_init())
		choice = wgc_openssl_direct_ready() ? WGC_AEAD_OPENSSL_DIRECT : WGC_AEAD_OPENSSL;
	/* Only if no wgc_aead_backend_set came in between. */
	(void)__atomic_compare_exchange_n(&aead_backend, &tentative, choice, false,
					  __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

enum wgc_aead_backend wgc_aead_backend_get(void)
{
	wgc_crypto_settle();
	return __atomic_load_n(&aead_backend, __ATOMIC_ACQUIRE);
}

const char *wgc_aead_backend_name(enum wgc_aead_backend backend)
{
	if ((unsigned int)backend >= WGC_AEAD_BACKEND__COUNT)
		return "unknown";
	return backend_names[backend];
}

bool wgc_aead_backend_set(enum wgc_aead_backend backend)
{
	if ((unsigned int)backend >= WGC_AEAD_BACKEND__COUNT)
		return false;
	wgc_crypto_init(); /* makes the start-up choice first, so it cannot undo this one later */
	if (backend == WGC_AEAD_OPENSSL && !wgc_openssl_aead_init())
		return false;
	if (backend == WGC_AEAD_OPENSSL_DIRECT && !wgc_openssl_direct_ready())
		return false;
	__atomic_store_n(&is_tentative, false, __ATOMIC_RELEASE); /* an explicit choice */
	__atomic_store_n(&aead_backend, backend, __ATOMIC_RELEASE);
	return true;
}

const char *wgc_crypto_aead_name(void)
{
	return wgc_aead_backend_name(wgc_aead_backend_get());
}

enum wgc_status wgc_crypto_aead_select(const char *name)
{
	for (int b = 0; b < WGC_AEAD_BACKEND__COUNT; b++) {
		if (strcmp(name, backend_names[b]) == 0)
			return wgc_aead_backend_set((enum wgc_aead_backend)b) ? WGC_OK
									     : WGC_ERR_STATE;
	}
	return WGC_ERR_INVALID;
}

/* ---- AEAD ---- */

/*
 * The detached forms are used because they write ciphertext and tag separately: with dst == src
 * the stream cipher works in place, and the tag lands after the ciphertext without libsodium
 * needing to move anything. Their return values are always 0 for encryption.
 */
void wgc_sodium_aead_seal(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
			  size_t ad_len, uint64_t counter, const uint8_t key[WGC_KEY_LEN])
{
	uint8_t nonce[AEAD_NONCE_LEN];

	make_nonce(nonce, counter);
	(void)crypto_aead_chacha20poly1305_ietf_encrypt_detached(dst, dst + len, NULL, src, len, ad,
								 ad_len, NULL, nonce, key);
}

bool wgc_sodium_aead_open(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
			  size_t ad_len, uint64_t counter, const uint8_t key[WGC_KEY_LEN])
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

/* The backend for a message of plain_len bytes: short ones always take libsodium
 * (WGC_AEAD_OPENSSL_MIN_LEN says why). One predictable branch per message. */
static enum wgc_aead_backend backend_for(size_t plain_len)
{
	if (plain_len < WGC_AEAD_OPENSSL_MIN_LEN)
		return WGC_AEAD_SODIUM;
	return __atomic_load_n(&aead_backend, __ATOMIC_ACQUIRE);
}

void wgc_aead_seal(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad, size_t ad_len,
		   uint64_t counter, const uint8_t key[WGC_KEY_LEN])
{
	switch (backend_for(len)) {
	case WGC_AEAD_OPENSSL:
		wgc_openssl_aead_seal(dst, src, len, ad, ad_len, counter, key);
		return;
	case WGC_AEAD_OPENSSL_DIRECT:
		wgc_openssl_direct_aead_seal(dst, src, len, ad, ad_len, counter, key);
		return;
	default:
		wgc_sodium_aead_seal(dst, src, len, ad, ad_len, counter, key);
		return;
	}
}

void wgc_aead_seal_parts(uint8_t *dst, size_t head_len, const uint8_t *tail, size_t tail_len,
			 size_t pad_len, uint64_t counter, const uint8_t key[WGC_KEY_LEN])
{
	switch (backend_for(head_len + tail_len + pad_len)) {
	case WGC_AEAD_OPENSSL:
		wgc_openssl_aead_seal_parts(dst, head_len, tail, tail_len, pad_len, counter, key);
		return;
	case WGC_AEAD_OPENSSL_DIRECT:
		wgc_openssl_direct_aead_seal_parts(dst, head_len, tail, tail_len, pad_len, counter,
						   key);
		return;
	default:
		wgc_aead_seal_parts_by_copy(dst, head_len, tail, tail_len, pad_len, counter, key);
		return;
	}
}

bool wgc_aead_open(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad, size_t ad_len,
		   uint64_t counter, const uint8_t key[WGC_KEY_LEN])
{
	/* The threshold counts plaintext bytes, as in wgc_aead_seal. */
	switch (backend_for(len >= WGC_AEAD_TAG_LEN ? len - WGC_AEAD_TAG_LEN : 0)) {
	case WGC_AEAD_OPENSSL:
		return wgc_openssl_aead_open(dst, src, len, ad, ad_len, counter, key);
	case WGC_AEAD_OPENSSL_DIRECT:
		return wgc_openssl_direct_aead_open(dst, src, len, ad, ad_len, counter, key);
	default:
		return wgc_sodium_aead_open(dst, src, len, ad, ad_len, counter, key);
	}
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
