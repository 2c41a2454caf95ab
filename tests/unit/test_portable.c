/* SPDX-License-Identifier: MIT */
/*
 * Known-answer tests of the portable primitives (crypto/portable/), called directly so that the
 * RFCs' own nonces and counters can be used, whichever backend libwgc was built with: every test
 * vector of RFC 8439 (sections 2.3.2-2.8.2 and appendix A, including A.3's Poly1305 edge cases;
 * tests/unit/rfc8439_vectors.h is generated from the RFC text), HChaCha20 and XChaCha20-Poly1305
 * (draft-irtf-cfrg-xchacha-03), X25519 (RFC 7748 5.2 and 6.1, the iterated test to 1,000,
 * non-canonical and low-order u). The large randomised comparison with libsodium is
 * tests/crypto/diff.c (make crypto-diff); the million-iteration X25519 test is make check-slow.
 */
#include "crypto/portable/portable.h"

#include "crypto/crypto.h"
#include "rfc8439_vectors.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

enum { MAX_VECTOR = 512 };

static size_t unhex(uint8_t *out, size_t out_size, const char *hex)
{
	size_t len = strlen(hex);
	size_t i;
	unsigned int byte;

	assert_true(len % 2 == 0 && len / 2 <= out_size);
	for (i = 0; i < len / 2; i++) {
		assert_int_equal(sscanf(hex + 2 * i, "%2x", &byte), 1);
		out[i] = (uint8_t)byte;
	}
	return len / 2;
}

static void assert_hex(const uint8_t *got, size_t len, const char *want_hex)
{
	uint8_t want[MAX_VECTOR];

	assert_int_equal(unhex(want, sizeof(want), want_hex), len);
	assert_memory_equal(got, want, len);
}

static void key_0_to_31(uint8_t key[32])
{
	int i;

	for (i = 0; i < 32; i++)
		key[i] = (uint8_t)i;
}

/* ---- ChaCha20 ---- */

/* RFC 8439 2.3.2 and A.1. */
static void test_chacha20_block(void **unused)
{
	uint8_t key[32], nonce[12], out[64];
	size_t i;

	(void)unused;
	key_0_to_31(key);
	unhex(nonce, sizeof(nonce), "000000090000004a00000000");
	wgc_chacha20_block(out, key, 1, nonce);
	assert_hex(out, sizeof(out), rfc_s2.block_232);

	for (i = 0; i < sizeof(rfc_a1) / sizeof(rfc_a1[0]); i++) {
		unhex(key, sizeof(key), rfc_a1[i].key);
		unhex(nonce, sizeof(nonce), rfc_a1[i].nonce);
		wgc_chacha20_block(out, key, rfc_a1[i].counter, nonce);
		assert_hex(out, sizeof(out), rfc_a1[i].keystream);
	}
}

/* RFC 8439 2.4.2 and A.2, out of place, in place, and cut at every offset (the key stream of a
 * later call starts at the next block, so cuts are at block boundaries). */
static void test_chacha20_encrypt(void **unused)
{
	uint8_t key[32], nonce[12], plain[MAX_VECTOR], out[MAX_VECTOR];
	size_t i, len, cut;

	(void)unused;
	key_0_to_31(key);
	unhex(nonce, sizeof(nonce), "000000000000004a00000000");
	len = unhex(plain, sizeof(plain), rfc_s2.plaintext_242);
	wgc_chacha20_xor(out, plain, len, key, 1, nonce);
	assert_hex(out, len, rfc_s2.ciphertext_242);

	for (i = 0; i < sizeof(rfc_a2) / sizeof(rfc_a2[0]); i++) {
		unhex(key, sizeof(key), rfc_a2[i].key);
		unhex(nonce, sizeof(nonce), rfc_a2[i].nonce);
		len = unhex(plain, sizeof(plain), rfc_a2[i].plaintext);
		wgc_chacha20_xor(out, plain, len, key, rfc_a2[i].counter, nonce);
		assert_hex(out, len, rfc_a2[i].ciphertext);
		memcpy(out, plain, len);
		wgc_chacha20_xor(out, out, len, key, rfc_a2[i].counter, nonce);
		assert_hex(out, len, rfc_a2[i].ciphertext);
		for (cut = 0; cut <= len; cut += 64) {
			wgc_chacha20_xor(out, plain, cut, key, rfc_a2[i].counter, nonce);
			wgc_chacha20_xor(out + cut, plain + cut, len - cut, key,
					 rfc_a2[i].counter + (uint32_t)(cut / 64), nonce);
			assert_hex(out, len, rfc_a2[i].ciphertext);
		}
	}
}

/* A zero mask copies src: the decryption half of a failed open. */
static void test_chacha20_masked(void **unused)
{
	uint8_t key[32] = { 1 }, nonce[12] = { 2 }, plain[200], out[200];
	size_t i;

	(void)unused;
	for (i = 0; i < sizeof(plain); i++)
		plain[i] = (uint8_t)(i * 7);
	wgc_chacha20_xor_masked(out, plain, sizeof(plain), key, 1, nonce, 0);
	assert_memory_equal(out, plain, sizeof(plain));
}

/* ---- Poly1305 ---- */

static void check_mac(const char *key_hex, const char *text_hex, const char *tag_hex)
{
	struct wgc_poly1305 st;
	uint8_t key[32], text[MAX_VECTOR], tag[16];
	size_t len, cut, cut2;

	unhex(key, sizeof(key), key_hex);
	len = unhex(text, sizeof(text), text_hex);
	wgc_poly1305(tag, text, len, key);
	assert_hex(tag, sizeof(tag), tag_hex);
	/* Streamed in three pieces cut anywhere (every cut for short texts). */
	for (cut = 0; cut <= len; cut += (len < 80 ? 1 : 13)) {
		for (cut2 = cut; cut2 <= len; cut2 += (len < 80 ? 1 : 29)) {
			wgc_poly1305_init(&st, key);
			wgc_poly1305_update(&st, text, cut);
			wgc_poly1305_update(&st, text + cut, cut2 - cut);
			wgc_poly1305_update(&st, text + cut2, len - cut2);
			wgc_poly1305_final(&st, tag);
			assert_hex(tag, sizeof(tag), tag_hex);
		}
	}
}

/* RFC 8439 2.5.2 and A.3 #1-#11 (#5-#11: partial reduction, s overflow, limb carries, results
 * of exactly 2^130 - 5 and - 6, 131-bit intermediates). */
static void test_poly1305(void **unused)
{
	static const char key_252[] =
		"85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b";
	size_t i;

	(void)unused;
	check_mac(key_252, rfc_s2.text_252, rfc_s2.tag_252);
	for (i = 0; i < sizeof(rfc_a3) / sizeof(rfc_a3[0]); i++)
		check_mac(rfc_a3[i].key, rfc_a3[i].text, rfc_a3[i].tag);
}

/* The final wipe leaves no key or accumulator in the state. */
static void test_poly1305_final_wipes(void **unused)
{
	struct wgc_poly1305 st;
	uint8_t key[32], tag[16];

	(void)unused;
	memset(key, 0x5a, sizeof(key));
	wgc_poly1305_init(&st, key);
	wgc_poly1305_update(&st, key, 7);
	wgc_poly1305_final(&st, tag);
	assert_true(wgc_ct_is_zero(&st, sizeof(st)));
}

/* RFC 8439 2.6.2 and A.4: the one-time key is the first half of block 0. */
static void test_poly1305_keygen(void **unused)
{
	uint8_t key[32], nonce[12], block[64];
	size_t i;

	(void)unused;
	unhex(key, sizeof(key), rfc_s2.key_262);
	unhex(nonce, sizeof(nonce), rfc_s2.nonce_262);
	wgc_chacha20_block(block, key, 0, nonce);
	assert_hex(block, 32, rfc_s2.otk_262);
	for (i = 0; i < sizeof(rfc_a4) / sizeof(rfc_a4[0]); i++) {
		unhex(key, sizeof(key), rfc_a4[i].key);
		unhex(nonce, sizeof(nonce), rfc_a4[i].nonce);
		wgc_chacha20_block(block, key, 0, nonce);
		assert_hex(block, 32, rfc_a4[i].otk);
	}
}

/* ---- ChaCha20-Poly1305 ---- */

/* Opens sealed (len bytes with the tag) and expects plain; then flips each bit of every byte of
 * the message, of the AD and of the nonce in turn and expects a refusal that leaves an in-place
 * buffer as it was. */
static void check_open_and_tamper(const uint8_t *sealed, size_t len, uint8_t *ad, size_t ad_len,
				  uint8_t nonce[12], const uint8_t key[32], const uint8_t *plain)
{
	uint8_t buf[MAX_VECTOR + 16], copy[MAX_VECTOR + 16];
	size_t i;
	int bit;

	assert_true(wgc_chacha20poly1305_open(buf, sealed, len, ad, ad_len, nonce, key));
	assert_memory_equal(buf, plain, len - 16);
	memcpy(buf, sealed, len);
	assert_true(wgc_chacha20poly1305_open(buf, buf, len, ad, ad_len, nonce, key));
	assert_memory_equal(buf, plain, len - 16);

	memcpy(copy, sealed, len);
	for (i = 0; i < len; i++) {
		for (bit = 0; bit < 8; bit += (i < 40 || i + 16 >= len ? 1 : 5)) {
			copy[i] ^= (uint8_t)(1u << bit);
			memcpy(buf, copy, len);
			assert_false(wgc_chacha20poly1305_open(buf, buf, len, ad, ad_len, nonce,
							       key));
			assert_memory_equal(buf, copy, len);
			copy[i] ^= (uint8_t)(1u << bit);
		}
	}
	for (i = 0; i < ad_len; i++) {
		ad[i] ^= 0x04;
		assert_false(wgc_chacha20poly1305_open(buf, sealed, len, ad, ad_len, nonce, key));
		ad[i] ^= 0x04;
	}
	for (i = 0; i < 12; i++) {
		nonce[i] ^= 0x40;
		assert_false(wgc_chacha20poly1305_open(buf, sealed, len, ad, ad_len, nonce, key));
		nonce[i] ^= 0x40;
	}
	for (i = 0; i < 16; i++)
		assert_false(wgc_chacha20poly1305_open(buf, sealed, i, ad, ad_len, nonce, key));
}

/* RFC 8439 2.8.2 (seal) and A.5 (open). */
static void test_aead(void **unused)
{
	uint8_t key[32], nonce[12], ad[16], plain[MAX_VECTOR], sealed[MAX_VECTOR + 16];
	size_t len, ad_len;

	(void)unused;
	unhex(key, sizeof(key), rfc_s2.key_282);
	unhex(nonce, 4, rfc_s2.fixed_282);
	unhex(nonce + 4, 8, rfc_s2.iv_282);
	ad_len = unhex(ad, sizeof(ad), rfc_s2.ad_282);
	len = unhex(plain, sizeof(plain), rfc_s2.plaintext_282);
	wgc_chacha20poly1305_seal(sealed, plain, len, ad, ad_len, nonce, key);
	assert_hex(sealed, len, rfc_s2.ciphertext_282);
	assert_hex(sealed + len, 16, rfc_s2.tag_282);
	check_open_and_tamper(sealed, len + 16, ad, ad_len, nonce, key, plain);

	unhex(key, sizeof(key), rfc_a5.key);
	unhex(nonce, sizeof(nonce), rfc_a5.nonce);
	ad_len = unhex(ad, sizeof(ad), rfc_a5.ad);
	len = unhex(sealed, sizeof(sealed), rfc_a5.ciphertext);
	unhex(sealed + len, 16, rfc_a5.tag);
	unhex(plain, sizeof(plain), rfc_a5.plaintext);
	check_open_and_tamper(sealed, len + 16, ad, ad_len, nonce, key, plain);
	/* And sealing the plaintext gives the RFC's ciphertext and tag back. */
	wgc_chacha20poly1305_seal(sealed, plain, len, ad, ad_len, nonce, key);
	assert_hex(sealed, len, rfc_a5.ciphertext);
	assert_hex(sealed + len, 16, rfc_a5.tag);
}

/* ---- HChaCha20 and XChaCha20-Poly1305 ---- */

/* draft-irtf-cfrg-xchacha-03 2.2.1 and A.3.1. */
static void test_xchacha(void **unused)
{
	static const char sunscreen[] = "Ladies and Gentlemen of the class of '99: If I could "
					"offer you only one tip for the future, sunscreen would "
					"be it.";
	uint8_t key[32], hnonce[16], sub[32], nonce[24], ad[12], sealed[sizeof(sunscreen) + 16];
	uint8_t opened[sizeof(sunscreen)];
	size_t len = sizeof(sunscreen) - 1;
	size_t i;

	(void)unused;
	key_0_to_31(key);
	unhex(hnonce, sizeof(hnonce), "000000090000004a0000000031415927");
	wgc_hchacha20(sub, key, hnonce);
	assert_hex(sub, sizeof(sub),
		   "82413b4227b27bfed30e42508a877d73a0f9e4d58a74a853c12ec41326d3ecdc");

	unhex(key, sizeof(key), "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
	unhex(nonce, sizeof(nonce), "404142434445464748494a4b4c4d4e4f5051525354555657");
	unhex(ad, sizeof(ad), "50515253c0c1c2c3c4c5c6c7");
	wgc_xchacha20poly1305_seal(sealed, (const uint8_t *)sunscreen, len, ad, sizeof(ad), nonce,
				   key);
	assert_hex(sealed, len + 16,
		   "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb"
		   "731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452"
		   "2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9"
		   "21f9664c97637da9768812f615c68b13b52e"
		   "c0875924c1c7987947deafd8780acf49");
	assert_true(wgc_xchacha20poly1305_open(opened, sealed, len + 16, ad, sizeof(ad), nonce, key));
	assert_memory_equal(opened, sunscreen, len);
	for (i = 0; i < len + 16; i++) {
		sealed[i] ^= 0x20;
		assert_false(wgc_xchacha20poly1305_open(opened, sealed, len + 16, ad, sizeof(ad),
							nonce, key));
		sealed[i] ^= 0x20;
	}
	for (i = 0; i < sizeof(nonce); i++) {
		nonce[i] ^= 0x01;
		assert_false(wgc_xchacha20poly1305_open(opened, sealed, len + 16, ad, sizeof(ad),
							nonce, key));
		nonce[i] ^= 0x01;
	}
}

/* ---- X25519 ---- */

/* RFC 7748 5.2 (the second u has its top bit set, which must be ignored) and 6.1. */
static void test_x25519_vectors(void **unused)
{
	static const struct {
		const char *scalar, *u, *out;
	} rows[] = {
		{ "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
		  "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
		  "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552" },
		{ "4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
		  "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
		  "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957" },
		/* 6.1: Alice's and Bob's public keys, and their shared secret both ways */
		{ "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
		  "0900000000000000000000000000000000000000000000000000000000000000",
		  "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a" },
		{ "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb",
		  "0900000000000000000000000000000000000000000000000000000000000000",
		  "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f" },
		{ "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
		  "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f",
		  "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742" },
		{ "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb",
		  "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
		  "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742" },
	};
	uint8_t scalar[32], u[32], out[32];
	size_t r;

	(void)unused;
	for (r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
		unhex(scalar, sizeof(scalar), rows[r].scalar);
		unhex(u, sizeof(u), rows[r].u);
		wgc_x25519_scalarmult(out, scalar, u);
		assert_hex(out, sizeof(out), rows[r].out);
	}
	unhex(scalar, sizeof(scalar), rows[2].scalar);
	wgc_x25519_scalarmult_base(out, scalar);
	assert_hex(out, sizeof(out), rows[2].out);
}

/* RFC 7748 5.2 iterated: k = u = 9, then (k, u) = (X25519(k, u), k), checked after 1 and 1,000
 * iterations (WGC_X25519_ITERATIONS=1000000 adds the third figure: make check-slow). */
static void test_x25519_iterated(void **unused)
{
	uint8_t k[32] = { 9 }, u[32] = { 9 }, out[32];
	const char *env = getenv("WGC_X25519_ITERATIONS");
	unsigned long n = env ? strtoul(env, NULL, 10) : 1000;
	unsigned long i;

	(void)unused;
	for (i = 1; i <= n; i++) {
		wgc_x25519_scalarmult(out, k, u);
		memcpy(u, k, 32);
		memcpy(k, out, 32);
		if (i == 1)
			assert_hex(k, 32, "422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079");
		if (i == 1000)
			assert_hex(k, 32, "684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51");
		if (i == 1000000)
			assert_hex(k, 32, "7c3911e0ab2586fd864497297e575e6f3bc601c0883c30df5f4dd2d24f665424");
	}
	print_message("x25519 iterated: %lu iterations\n", n);
}

/* u >= p (p + k for k = 0..18, and 2^255 - 1) is taken mod p, and bit 255 is ignored: each gives
 * what its reduced value gives, and what libsodium gives. */
static void test_x25519_noncanonical(void **unused)
{
	uint8_t scalar[32], u[32], reduced[32], out[32], want[32], ref[32];
	unsigned int k;
	int top;

	(void)unused;
	unhex(scalar, sizeof(scalar), "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4");
	for (k = 0; k <= 19; k++) {
		/* p + k = 2^255 - 19 + k, and for k = 19 the all-ones 2^255 - 1 + 0 (= 18 mod p) */
		memset(u, 0xff, sizeof(u));
		u[31] = 0x7f;
		u[0] = (uint8_t)(k < 19 ? 0xed + k : 0xff);
		memset(reduced, 0, sizeof(reduced));
		reduced[0] = (uint8_t)(k < 19 ? k : 18);
		wgc_x25519_scalarmult(want, scalar, reduced);
		for (top = 0; top < 2; top++) {
			u[31] = (uint8_t)(top ? 0xff : 0x7f);
			wgc_x25519_scalarmult(out, scalar, u);
			assert_memory_equal(out, want, 32);
			/* libsodium refuses a few low-order encodings outright; compare the rest. */
			if (crypto_scalarmult(ref, scalar, u) == 0)
				assert_memory_equal(out, ref, 32);
		}
	}
	/* Top bit set on an ordinary point: same result as without it. */
	unhex(u, sizeof(u), "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c");
	wgc_x25519_scalarmult(want, scalar, u);
	u[31] |= 0x80;
	wgc_x25519_scalarmult(out, scalar, u);
	assert_memory_equal(out, want, 32);
}

/* Every point of small order, canonical or not (only 0 and 1 have a second encoding below
 * 2^255: p and p + 1), top bit clear or set, gives all zeros: the raw function returns them, the
 * backend's wgc_x25519 refuses and zeroes its output. */
static void test_x25519_low_order(void **unused)
{
	static const char *const points[] = {
		"0000000000000000000000000000000000000000000000000000000000000000", /* 0 */
		"0100000000000000000000000000000000000000000000000000000000000000", /* 1 */
		"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800", /* order 8 */
		"5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157", /* order 8 */
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", /* p - 1 */
		"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", /* p */
		"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", /* p + 1 */
	};
	uint8_t scalar[32], u[32], out[32];
	size_t i, s;
	int top;

	(void)unused;
	for (s = 0; s < 4; s++) {
		memset(scalar, (int)(0x11 * (s + 1)), sizeof(scalar));
		for (i = 0; i < sizeof(points) / sizeof(points[0]); i++) {
			for (top = 0; top < 2; top++) {
				unhex(u, sizeof(u), points[i]);
				u[31] = (uint8_t)(top ? u[31] | 0x80 : u[31] & 0x7f);
				memset(out, 0xaa, sizeof(out));
				wgc_x25519_scalarmult(out, scalar, u);
				if (!wgc_ct_is_zero(out, sizeof(out)))
					fail_msg("low-order point %zu (top %d) gave a non-zero result",
						 i, top);
				memset(out, 0xaa, sizeof(out));
				if (wgc_x25519(out, scalar, u))
					fail_msg("low-order point %zu (top %d) accepted", i, top);
				assert_true(wgc_ct_is_zero(out, sizeof(out)));
			}
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chacha20_block),
		cmocka_unit_test(test_chacha20_encrypt),
		cmocka_unit_test(test_chacha20_masked),
		cmocka_unit_test(test_poly1305),
		cmocka_unit_test(test_poly1305_final_wipes),
		cmocka_unit_test(test_poly1305_keygen),
		cmocka_unit_test(test_aead),
		cmocka_unit_test(test_xchacha),
		cmocka_unit_test(test_x25519_vectors),
		cmocka_unit_test(test_x25519_iterated),
		cmocka_unit_test(test_x25519_noncanonical),
		cmocka_unit_test(test_x25519_low_order),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
