/* SPDX-License-Identifier: MIT */
/*
 * Known-answer and property tests for crypto/: BLAKE2s (RFC 7693), HMAC-BLAKE2s and the WireGuard
 * KDF, ChaCha20-Poly1305 (RFC 8439) with our counter nonce, XChaCha20-Poly1305
 * (draft-irtf-cfrg-xchacha), X25519 (RFC 7748), TAI64N and the constant-time helpers. Vectors no
 * RFC provides were computed with Python (hashlib, hmac, cryptography); the command is next to
 * each.
 */
#include "crypto/crypto.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

/* ---- helpers ---- */

static int hex_nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes hex into out (out_size bytes of room) and returns the byte count; fails the test on a
 * malformed string or one that does not fit. */
static size_t unhex(uint8_t *out, size_t out_size, const char *hex)
{
	size_t len = strlen(hex);
	size_t i;

	assert_true(len % 2 == 0);
	assert_true(len / 2 <= out_size);
	for (i = 0; i < len / 2; i++) {
		int hi = hex_nibble(hex[2 * i]);
		int lo = hex_nibble(hex[2 * i + 1]);

		assert_true(hi >= 0 && lo >= 0);
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return len / 2;
}

static void assert_hex_equal(const uint8_t *got, size_t len, const char *want_hex)
{
	uint8_t want[512];

	assert_int_equal(unhex(want, sizeof(want), want_hex), len);
	assert_memory_equal(got, want, len);
}

static void fill_pattern(uint8_t *p, size_t len, uint8_t seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(seed + i * 31 + (i >> 3));
}

static const char sunscreen[] = "Ladies and Gentlemen of the class of '99: If I could offer you "
				"only one tip for the future, sunscreen would be it.";
#define SUNSCREEN_LEN (sizeof(sunscreen) - 1)

/* ---- BLAKE2s ---- */

/* RFC 7693 Appendix B: BLAKE2s-256("abc"). */
static void test_blake2s_abc(void **unused)
{
	uint8_t out[WGC_BLAKE2S_OUT_LEN];

	(void)unused;
	wgc_blake2s(out, sizeof(out), (const uint8_t *)"abc", 3, NULL, 0);
	assert_hex_equal(out, sizeof(out),
			 "508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982");
}

/* RFC 7693 Appendix E: deterministic input generator of the self-test. */
static void selftest_seq(uint8_t *out, size_t len, uint32_t seed)
{
	uint32_t a = 0xDEAD4BADu * seed;
	uint32_t b = 1;
	uint32_t t;
	size_t i;

	for (i = 0; i < len; i++) {
		t = a + b;
		a = b;
		b = t;
		out[i] = (uint8_t)(t >> 24);
	}
}

/* RFC 7693 Appendix E: the "grand hash" over unkeyed and keyed digests of lengths 16, 20, 28, 32
 * of inputs from 0 to 1024 bytes. */
static void test_blake2s_rfc_selftest(void **unused)
{
	static const size_t md_len[] = { 16, 20, 28, 32 };
	static const size_t in_len[] = { 0, 3, 64, 65, 255, 1024 };
	struct wgc_blake2s grand;
	uint8_t in[1024];
	uint8_t md[32];
	uint8_t key[32];
	uint8_t out[32];
	size_t i;
	size_t j;

	(void)unused;
	wgc_blake2s_init(&grand, 32);
	for (i = 0; i < sizeof(md_len) / sizeof(md_len[0]); i++) {
		size_t outlen = md_len[i];

		for (j = 0; j < sizeof(in_len) / sizeof(in_len[0]); j++) {
			size_t inlen = in_len[j];

			selftest_seq(in, inlen, (uint32_t)inlen);
			wgc_blake2s(md, outlen, in, inlen, NULL, 0);
			wgc_blake2s_update(&grand, md, outlen);

			selftest_seq(key, outlen, (uint32_t)outlen);
			wgc_blake2s(md, outlen, in, inlen, key, outlen);
			wgc_blake2s_update(&grand, md, outlen);
		}
	}
	wgc_blake2s_final(&grand, out);
	assert_hex_equal(out, sizeof(out),
			 "6a411f08ce25adcdfb02aba641451cec53c598b24f4fc787fbdc88797f4c1dfe");
}

/*
 * Every output length 1..32, unkeyed and keyed with a key of the same length, folded into one
 * hash like Appendix E. Computed with (seq as RFC 7693 Appendix E's selftest_seq):
 *   g = hashlib.blake2s()
 *   for n in range(1, 33):
 *       m = seq(n * 7, n)
 *       g.update(hashlib.blake2s(m, digest_size=n).digest())
 *       g.update(hashlib.blake2s(m, digest_size=n, key=seq(n, n + 100)).digest())
 *   print(g.hexdigest())
 */
static void test_blake2s_all_lengths(void **unused)
{
	struct wgc_blake2s grand;
	uint8_t in[32 * 7];
	uint8_t key[32];
	uint8_t md[32];
	uint8_t out[32];
	size_t n;

	(void)unused;
	wgc_blake2s_init(&grand, 32);
	for (n = 1; n <= 32; n++) {
		selftest_seq(in, n * 7, (uint32_t)n);
		wgc_blake2s(md, n, in, n * 7, NULL, 0);
		wgc_blake2s_update(&grand, md, n);
		selftest_seq(key, n, (uint32_t)(n + 100));
		wgc_blake2s(md, n, in, n * 7, key, n);
		wgc_blake2s_update(&grand, md, n);
	}
	wgc_blake2s_final(&grand, out);
	assert_hex_equal(out, sizeof(out),
			 "fa2c19997c9f67c9a24b845af35a417afb17a1500be25bc035283c0bc03be9f3");
}

/* WireGuard's initial chaining key, HASH(CONSTRUCTION), as published by the reference
 * implementations: python3 -c 'import hashlib;
 * print(hashlib.blake2s(b"Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s").hexdigest())' */
static void test_blake2s_construction(void **unused)
{
	static const char construction[] = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
	uint8_t out[WGC_BLAKE2S_OUT_LEN];

	(void)unused;
	wgc_blake2s(out, sizeof(out), (const uint8_t *)construction, sizeof(construction) - 1, NULL,
		    0);
	assert_hex_equal(out, sizeof(out),
			 "60e26daef327efc02ec335e2a025d2d016eb4206f87277f52d38d1988b78cd36");
}

/* Streaming in odd chunk sizes (including empty updates and chunks that end exactly on a block
 * boundary) gives the one-shot digest, keyed and unkeyed. */
static void test_blake2s_streaming(void **unused)
{
	static const size_t chunks[] = { 1, 2, 3, 7, 13, 31, 63, 64, 65, 127, 128, 129, 200, 1000 };
	static const size_t msg_lens[] = { 0, 1, 63, 64, 65, 128, 129, 1000 };
	uint8_t msg[1000];
	uint8_t key[32];
	uint8_t want[32];
	uint8_t got[32];
	size_t c;
	size_t l;
	size_t k;

	(void)unused;
	fill_pattern(msg, sizeof(msg), 7);
	fill_pattern(key, sizeof(key), 99);
	for (k = 0; k <= 32; k += 16) {
		for (l = 0; l < sizeof(msg_lens) / sizeof(msg_lens[0]); l++) {
			size_t len = msg_lens[l];

			wgc_blake2s(want, 32, msg, len, key, k);
			for (c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
				struct wgc_blake2s state;
				size_t off = 0;

				if (k > 0)
					wgc_blake2s_init_key(&state, 32, key, k);
				else
					wgc_blake2s_init(&state, 32);
				while (off < len) {
					size_t n = len - off < chunks[c] ? len - off : chunks[c];

					wgc_blake2s_update(&state, msg + off, n);
					wgc_blake2s_update(&state, msg + off, 0);
					off += n;
				}
				wgc_blake2s_final(&state, got);
				if (memcmp(got, want, 32) != 0)
					fail_msg("key_len %zu msg_len %zu chunk %zu", k, len,
						 chunks[c]);
			}
		}
	}
}

/* A keyed state with its key block absorbed ahead (the mac1 fast path), copied and reused, gives
 * the keyed hash of every non-empty message, for every key and output length, and keeps no key
 * bytes in its buffer. */
static void test_blake2s_absorbed_key(void **unused)
{
	static const size_t key_lens[] = { 1, 16, 31, 32 };
	static const size_t out_lens[] = { 1, 16, 32 };
	uint8_t msg[300];
	uint8_t key[32];
	uint8_t want[32];
	uint8_t got[32];

	(void)unused;
	fill_pattern(msg, sizeof(msg), 3);
	fill_pattern(key, sizeof(key), 44);
	for (size_t k = 0; k < sizeof(key_lens) / sizeof(key_lens[0]); k++) {
		for (size_t o = 0; o < sizeof(out_lens) / sizeof(out_lens[0]); o++) {
			struct wgc_blake2s base;

			wgc_blake2s_init_key_absorbed(&base, out_lens[o], key, key_lens[k]);
			assert_true(wgc_ct_is_zero(base.buf, sizeof(base.buf)));
			for (size_t len = 1; len <= sizeof(msg); len++) {
				struct wgc_blake2s state = base;

				wgc_blake2s(want, out_lens[o], msg, len, key, key_lens[k]);
				wgc_blake2s_update(&state, msg, len);
				wgc_blake2s_final(&state, got);
				if (memcmp(got, want, out_lens[o]) != 0)
					fail_msg("key_len %zu out_len %zu msg_len %zu", key_lens[k],
						 out_lens[o], len);
			}
		}
	}
}

/* Finalising wipes the state, key material included. */
static void test_blake2s_final_wipes(void **unused)
{
	struct wgc_blake2s state;
	uint8_t key[32];
	uint8_t out[32];

	(void)unused;
	memset(key, 0x5a, sizeof(key));
	wgc_blake2s_init_key(&state, 32, key, sizeof(key));
	wgc_blake2s_final(&state, out);
	assert_true(wgc_ct_is_zero(&state, sizeof(state)));
}

/* ---- HMAC-BLAKE2s ---- */

/*
 * python3 -c 'import hmac,hashlib;print(hmac.new(KEY,MSG,hashlib.blake2s).hexdigest())' with
 * KEY, MSG as in each row; the last two rows cover a key of exactly one block and one that is
 * longer than a block (hashed first).
 */
static void test_hmac_vectors(void **unused)
{
	static const struct {
		size_t key_len; /* key = bytes(range(key_len)) */
		const char *msg;
		size_t msg_len; /* msg, or bytes(range(msg_len)) when msg is NULL */
		const char *mac;
	} rows[] = {
		{ 32, "The quick brown fox jumps over the lazy dog", 43,
		  "f4660dee21c6a48e2a3d695ceedc26693e37b64b5ac5227476578517ee87fe6d" },
		{ 0, "", 0, "eaf4bb25938f4d20e72656bbbc7a9bf63c0c18537333c35bdb67db1402661acd" },
		{ 64, NULL, 200,
		  "690ee478866a3698f0ed2e87e8b25fcb63e56f6c2e6baa69acec75b6d645d1ae" },
		{ 100, "abc", 3,
		  "c1b751501db12b753069a918627b623179be55c8cc7ca5c4e14bdf32274ac656" },
	};
	uint8_t key[100];
	uint8_t msg[200];
	uint8_t out[WGC_BLAKE2S_OUT_LEN];
	size_t r;
	size_t i;

	(void)unused;
	for (i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)i;
	for (r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
		if (rows[r].msg != NULL) {
			memcpy(msg, rows[r].msg, rows[r].msg_len);
		} else {
			for (i = 0; i < rows[r].msg_len; i++)
				msg[i] = (uint8_t)i;
		}
		wgc_hmac_blake2s(out, key, rows[r].key_len, msg, rows[r].msg_len);
		assert_hex_equal(out, sizeof(out), rows[r].mac);
	}
}

/* The output may overwrite the key or the message it is computed from. */
static void test_hmac_aliasing(void **unused)
{
	uint8_t buf[43];
	uint8_t key[32];
	uint8_t want[32];
	size_t i;

	(void)unused;
	for (i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)i;
	memcpy(buf, "The quick brown fox jumps over the lazy dog", 43);
	wgc_hmac_blake2s(want, key, sizeof(key), buf, sizeof(buf));

	wgc_hmac_blake2s(key, key, sizeof(key), buf, sizeof(buf));
	assert_memory_equal(key, want, 32);

	for (i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)i;
	wgc_hmac_blake2s(buf, key, sizeof(key), buf, sizeof(buf));
	assert_memory_equal(buf, want, 32);
}

/* ---- KDF ---- */

/*
 * Chaining key bytes(range(32)), input bytes(range(32, 64)) and then empty:
 * python3 -c 'import hmac,hashlib;H=lambda k,m:hmac.new(k,m,hashlib.blake2s).digest();
 *   t0=H(bytes(range(32)),bytes(range(32,64)));t1=H(t0,b"\1");t2=H(t0,t1+b"\2");
 *   t3=H(t0,t2+b"\3");print(t1.hex(),t2.hex(),t3.hex())'
 */
static const char *const kdf_want[2][3] = {
	{ "6a96444e20e8d4c1cee974416acae1c10b3c92886010e54ed94dafb2c3b80ea0",
	  "57af120b0de7acbe7907ec149c5ae870a2dbb74232b65777ba4123f1f7f888f5",
	  "0926c7caabb6e8d73beda759e6f4f0d324ce5b5000bcf8cd784b26db3049faa9" },
	{ "7a38c34bf2b8738d7374ca77c44ecb309a11d2b2528304fa86052c365e722624",
	  "1a17621f346abdc520746a9fb64d8eb03231d674fc15687537b0780fd9c060fd",
	  "4eaf02809ac4b930ef63479de62275f1c55656e61f78a3cc653c18a2223d6c5f" },
};

static void test_kdf_vectors(void **unused)
{
	uint8_t ck[32];
	uint8_t in[32];
	uint8_t t1[32];
	uint8_t t2[32];
	uint8_t t3[32];
	size_t v;
	size_t i;

	(void)unused;
	for (i = 0; i < 32; i++) {
		ck[i] = (uint8_t)i;
		in[i] = (uint8_t)(32 + i);
	}
	for (v = 0; v < 2; v++) {
		size_t in_len = v == 0 ? sizeof(in) : 0;

		wgc_kdf(t1, NULL, NULL, ck, in, in_len);
		assert_hex_equal(t1, 32, kdf_want[v][0]);

		memset(t1, 0, sizeof(t1));
		wgc_kdf(t1, t2, NULL, ck, in, in_len);
		assert_hex_equal(t1, 32, kdf_want[v][0]);
		assert_hex_equal(t2, 32, kdf_want[v][1]);

		memset(t1, 0, sizeof(t1));
		memset(t2, 0, sizeof(t2));
		wgc_kdf(t1, t2, t3, ck, in, in_len);
		assert_hex_equal(t1, 32, kdf_want[v][0]);
		assert_hex_equal(t2, 32, kdf_want[v][1]);
		assert_hex_equal(t3, 32, kdf_want[v][2]);
	}
}

/* The handshake writes the new chaining key over the old one: C = KDF1(C, x) and
 * (C, k) = KDF2(C, x). */
static void test_kdf_aliasing(void **unused)
{
	uint8_t ck[32];
	uint8_t in[32];
	uint8_t k[32];
	uint8_t k2[32];
	size_t i;

	(void)unused;
	for (i = 0; i < 32; i++)
		in[i] = (uint8_t)(32 + i);

	for (i = 0; i < 32; i++)
		ck[i] = (uint8_t)i;
	wgc_kdf(ck, NULL, NULL, ck, in, sizeof(in));
	assert_hex_equal(ck, 32, kdf_want[0][0]);

	for (i = 0; i < 32; i++)
		ck[i] = (uint8_t)i;
	wgc_kdf(ck, k, NULL, ck, in, sizeof(in));
	assert_hex_equal(ck, 32, kdf_want[0][0]);
	assert_hex_equal(k, 32, kdf_want[0][1]);

	/* Second and third outputs may land on the chaining key too. */
	for (i = 0; i < 32; i++)
		ck[i] = (uint8_t)i;
	wgc_kdf(k, k2, ck, ck, in, sizeof(in));
	assert_hex_equal(k, 32, kdf_want[0][0]);
	assert_hex_equal(k2, 32, kdf_want[0][1]);
	assert_hex_equal(ck, 32, kdf_want[0][2]);
}

/* ---- ChaCha20-Poly1305 ---- */

static const char aead_key_hex[] =
	"808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f";
static const char aead_ad_hex[] = "50515253c0c1c2c3c4c5c6c7";

/* RFC 8439 section 2.8.2. Its nonce 07000000 40414243 44454647 has a non-zero first word, which
 * our counter-only nonce cannot express, so this checks the libsodium primitive we build on
 * directly. */
static void test_aead_rfc8439(void **unused)
{
	uint8_t key[32];
	uint8_t nonce[12];
	uint8_t ad[12];
	uint8_t ct[SUNSCREEN_LEN];
	uint8_t pt[SUNSCREEN_LEN];
	uint8_t tag[16];
	unsigned long long tag_len = 0;

	(void)unused;
	unhex(key, sizeof(key), aead_key_hex);
	unhex(nonce, sizeof(nonce), "070000004041424344454647");
	unhex(ad, sizeof(ad), aead_ad_hex);
	assert_int_equal(crypto_aead_chacha20poly1305_ietf_encrypt_detached(
				 ct, tag, &tag_len, (const uint8_t *)sunscreen, SUNSCREEN_LEN, ad,
				 sizeof(ad), NULL, nonce, key),
			 0);
	assert_int_equal(tag_len, 16);
	assert_hex_equal(ct, sizeof(ct),
			 "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6"
			 "3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36"
			 "92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"
			 "3ff4def08e4b7a9de576d26586cec64b6116");
	assert_hex_equal(tag, sizeof(tag), "1ae10b594f09e26a7e902ecbd0600691");
	assert_int_equal(crypto_aead_chacha20poly1305_ietf_decrypt_detached(
				 pt, NULL, ct, sizeof(ct), tag, ad, sizeof(ad), nonce, key),
			 0);
	assert_memory_equal(pt, sunscreen, SUNSCREEN_LEN);
}

/*
 * Our nonce form (4 zero bytes || counter little-endian), same key, text and AD as RFC 8439 2.8.2:
 * /usr/bin/python3 -c 'from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
 *   as C;k=C(bytes(range(0x80,0xa0)));n=lambda c:bytes(4)+c.to_bytes(8,"little");
 *   print(k.encrypt(n(0x0102030405060708),SUNSCREEN,bytes.fromhex("50515253c0c1c2c3c4c5c6c7"))
 *   .hex(),k.encrypt(n(0),b"",None).hex(),k.encrypt(n(2**64-1),bytes(16),None).hex())'
 */
static void test_aead_counter_nonce(void **unused)
{
	static const struct {
		uint64_t counter;
		bool has_text; /* sunscreen with the RFC's AD, else plain_len zero bytes, no AD */
		size_t plain_len;
		const char *sealed;
	} rows[] = {
		{ 0x0102030405060708ULL, true, SUNSCREEN_LEN,
		  "b8d08ad235a97bbc4dd551cc6b1911b3961e31851245f58e7f581dbe0627e811"
		  "f7465bd39dd94d5546bf48ac1a2dd43cbda6f795d215ec93abb888192adfa41a"
		  "10ee4bb956f2bbbe7294b33f513dbeeba962d9c2f8cc18c88a9171bebc9ffb11"
		  "6a4383f49408e055ad9ca5fa75dccb65b94fd963bce6a7bfba85f5b845fd1ee7f5f1" },
		{ 0, false, 0, "3ae5d3f2a376d317eaea5aef0215ba54" },
		{ UINT64_MAX, false, 16,
		  "36e46008eb0307440e53380252ff08ac13442aa3843dbc4bdfee4964a493b96d" },
	};
	uint8_t key[32];
	uint8_t ad[12];
	uint8_t plain[SUNSCREEN_LEN];
	uint8_t sealed[SUNSCREEN_LEN + 16];
	uint8_t opened[SUNSCREEN_LEN];
	size_t r;

	(void)unused;
	unhex(key, sizeof(key), aead_key_hex);
	unhex(ad, sizeof(ad), aead_ad_hex);
	for (r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
		const uint8_t *a = rows[r].has_text ? ad : NULL;
		size_t a_len = rows[r].has_text ? sizeof(ad) : 0;
		size_t len = rows[r].plain_len;

		if (rows[r].has_text)
			memcpy(plain, sunscreen, len);
		else
			memset(plain, 0, len);
		wgc_aead_seal(sealed, plain, len, a, a_len, rows[r].counter, key);
		assert_hex_equal(sealed, len + 16, rows[r].sealed);
		assert_true(wgc_aead_open(opened, sealed, len + 16, a, a_len, rows[r].counter,
					  key));
		assert_memory_equal(opened, plain, len);
	}
}

/* Flipping any bit of ciphertext, tag or AD, or using another counter, makes open fail. */
static void test_aead_tamper(void **unused)
{
	uint8_t key[32];
	uint8_t ad[12];
	uint8_t sealed[SUNSCREEN_LEN + 16];
	uint8_t out[SUNSCREEN_LEN + 16];
	const uint64_t counter = 42;
	size_t i;
	int bit;

	(void)unused;
	unhex(key, sizeof(key), aead_key_hex);
	unhex(ad, sizeof(ad), aead_ad_hex);
	wgc_aead_seal(sealed, (const uint8_t *)sunscreen, SUNSCREEN_LEN, ad, sizeof(ad), counter,
		      key);
	assert_true(wgc_aead_open(out, sealed, sizeof(sealed), ad, sizeof(ad), counter, key));

	for (i = 0; i < sizeof(sealed); i++) {
		for (bit = 0; bit < 8; bit++) {
			sealed[i] ^= (uint8_t)(1u << bit);
			if (wgc_aead_open(out, sealed, sizeof(sealed), ad, sizeof(ad), counter,
					  key))
				fail_msg("accepted with sealed byte %zu bit %d flipped", i, bit);
			sealed[i] ^= (uint8_t)(1u << bit);
		}
	}
	for (i = 0; i < sizeof(ad); i++) {
		for (bit = 0; bit < 8; bit++) {
			ad[i] ^= (uint8_t)(1u << bit);
			if (wgc_aead_open(out, sealed, sizeof(sealed), ad, sizeof(ad), counter,
					  key))
				fail_msg("accepted with ad byte %zu bit %d flipped", i, bit);
			ad[i] ^= (uint8_t)(1u << bit);
		}
	}
	assert_false(wgc_aead_open(out, sealed, sizeof(sealed), ad, sizeof(ad) - 1, counter, key));
	assert_false(wgc_aead_open(out, sealed, sizeof(sealed), NULL, 0, counter, key));
	assert_false(wgc_aead_open(out, sealed, sizeof(sealed), ad, sizeof(ad), counter + 1, key));
	assert_false(wgc_aead_open(out, sealed, sizeof(sealed), ad, sizeof(ad),
				   counter | (1ULL << 63), key));
	key[31] ^= 0x80;
	assert_false(wgc_aead_open(out, sealed, sizeof(sealed), ad, sizeof(ad), counter, key));
	key[31] ^= 0x80;
	/* Truncation: shorter than a tag is refused before anything is read as one. */
	assert_false(wgc_aead_open(out, sealed, sizeof(sealed) - 1, ad, sizeof(ad), counter, key));
	for (i = 0; i < 16; i++)
		assert_false(wgc_aead_open(out, sealed, i, ad, sizeof(ad), counter, key));
	assert_true(wgc_aead_open(out, sealed, sizeof(sealed), ad, sizeof(ad), counter, key));
}

/* Sealing and opening in place (dst == src) match the out-of-place results for many lengths. */
static void test_aead_in_place(void **unused)
{
	uint8_t key[32];
	uint8_t nonce[WGC_XAEAD_NONCE_LEN];
	uint8_t ad[7];
	uint8_t plain[300];
	uint8_t ref[300 + 16];
	uint8_t buf[300 + 16];
	size_t len;

	(void)unused;
	fill_pattern(key, sizeof(key), 1);
	fill_pattern(nonce, sizeof(nonce), 2);
	fill_pattern(ad, sizeof(ad), 3);
	fill_pattern(plain, sizeof(plain), 4);
	for (len = 0; len <= sizeof(plain); len += (len < 70 ? 1 : 37)) {
		wgc_aead_seal(ref, plain, len, ad, sizeof(ad), len, key);
		memcpy(buf, plain, len);
		wgc_aead_seal(buf, buf, len, ad, sizeof(ad), len, key);
		assert_memory_equal(buf, ref, len + 16);
		assert_true(wgc_aead_open(buf, buf, len + 16, ad, sizeof(ad), len, key));
		assert_memory_equal(buf, plain, len);

		wgc_xaead_seal(ref, plain, len, ad, sizeof(ad), nonce, key);
		memcpy(buf, plain, len);
		wgc_xaead_seal(buf, buf, len, ad, sizeof(ad), nonce, key);
		assert_memory_equal(buf, ref, len + 16);
		assert_true(wgc_xaead_open(buf, buf, len + 16, ad, sizeof(ad), nonce, key));
		assert_memory_equal(buf, plain, len);
	}
}

/* ---- XChaCha20-Poly1305 ---- */

/* draft-irtf-cfrg-xchacha-03 Appendix A.3.1. */
static void test_xaead_draft_vector(void **unused)
{
	uint8_t key[32];
	uint8_t nonce[WGC_XAEAD_NONCE_LEN];
	uint8_t ad[12];
	uint8_t sealed[SUNSCREEN_LEN + 16];
	uint8_t opened[SUNSCREEN_LEN];
	size_t i;

	(void)unused;
	unhex(key, sizeof(key), aead_key_hex);
	unhex(nonce, sizeof(nonce), "404142434445464748494a4b4c4d4e4f5051525354555657");
	unhex(ad, sizeof(ad), aead_ad_hex);
	wgc_xaead_seal(sealed, (const uint8_t *)sunscreen, SUNSCREEN_LEN, ad, sizeof(ad), nonce,
		       key);
	assert_hex_equal(sealed, sizeof(sealed),
			 "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb"
			 "731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452"
			 "2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9"
			 "21f9664c97637da9768812f615c68b13b52e"
			 "c0875924c1c7987947deafd8780acf49");
	assert_true(wgc_xaead_open(opened, sealed, sizeof(sealed), ad, sizeof(ad), nonce, key));
	assert_memory_equal(opened, sunscreen, SUNSCREEN_LEN);

	/* Tamper: every byte of the message, the AD and the nonce matters. */
	for (i = 0; i < sizeof(sealed); i++) {
		sealed[i] ^= 0x01;
		assert_false(wgc_xaead_open(opened, sealed, sizeof(sealed), ad, sizeof(ad), nonce,
					    key));
		sealed[i] ^= 0x01;
	}
	for (i = 0; i < sizeof(ad); i++) {
		ad[i] ^= 0x80;
		assert_false(wgc_xaead_open(opened, sealed, sizeof(sealed), ad, sizeof(ad), nonce,
					    key));
		ad[i] ^= 0x80;
	}
	for (i = 0; i < sizeof(nonce); i++) {
		nonce[i] ^= 0x10;
		assert_false(wgc_xaead_open(opened, sealed, sizeof(sealed), ad, sizeof(ad), nonce,
					    key));
		nonce[i] ^= 0x10;
	}
	for (i = 0; i < 16; i++)
		assert_false(wgc_xaead_open(opened, sealed, i, ad, sizeof(ad), nonce, key));
	assert_true(wgc_xaead_open(opened, sealed, sizeof(sealed), ad, sizeof(ad), nonce, key));
}

/* ---- X25519 ---- */

/* RFC 7748 section 5.2: two single scalar multiplications (the second u has its top bit set,
 * which must be masked). */
static void test_x25519_rfc7748(void **unused)
{
	static const struct {
		const char *scalar;
		const char *u;
		const char *out;
	} rows[] = {
		{ "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
		  "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
		  "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552" },
		{ "4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
		  "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
		  "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957" },
	};
	uint8_t scalar[32];
	uint8_t u[32];
	uint8_t out[32];
	size_t r;

	(void)unused;
	for (r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
		unhex(scalar, sizeof(scalar), rows[r].scalar);
		unhex(u, sizeof(u), rows[r].u);
		assert_true(wgc_x25519(out, scalar, u));
		assert_hex_equal(out, sizeof(out), rows[r].out);
	}
}

/* RFC 7748 section 5.2, iterated: k = u = 9; repeatedly (k, u) = (X25519(k, u), k). */
static void test_x25519_iterated(void **unused)
{
	uint8_t k[32];
	uint8_t u[32];
	uint8_t next[32];
	int i;

	(void)unused;
	memset(k, 0, sizeof(k));
	k[0] = 9;
	memcpy(u, k, sizeof(u));
	for (i = 1; i <= 1000; i++) {
		assert_true(wgc_x25519(next, k, u));
		memcpy(u, k, sizeof(u));
		memcpy(k, next, sizeof(k));
		if (i == 1)
			assert_hex_equal(k, 32, "422c8e7a6227d7bca1350b3e2bb7279f"
						"7897b87bb6854b783c60e80311ae3079");
	}
	assert_hex_equal(k, 32, "684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51");
}

/* RFC 7748 section 6.1: Alice and Bob derive their public keys and the same shared secret. */
static void test_x25519_dh(void **unused)
{
	uint8_t alice_priv[32];
	uint8_t bob_priv[32];
	uint8_t pub[32];
	uint8_t alice_pub[32];
	uint8_t bob_pub[32];
	uint8_t shared[32];
	static const char shared_hex[] =
		"4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";

	(void)unused;
	unhex(alice_priv, 32, "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
	unhex(bob_priv, 32, "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
	unhex(alice_pub, 32, "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
	unhex(bob_pub, 32, "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");

	wgc_x25519_public(pub, alice_priv);
	assert_memory_equal(pub, alice_pub, 32);
	wgc_x25519_public(pub, bob_priv);
	assert_memory_equal(pub, bob_pub, 32);

	assert_true(wgc_x25519(shared, alice_priv, bob_pub));
	assert_hex_equal(shared, 32, shared_hex);
	assert_true(wgc_x25519(shared, bob_priv, alice_pub));
	assert_hex_equal(shared, 32, shared_hex);

	/* Clamping first changes nothing: X25519 clamps anyway. */
	wgc_x25519_clamp(alice_priv);
	wgc_x25519_public(pub, alice_priv);
	assert_memory_equal(pub, alice_pub, 32);
	assert_true(wgc_x25519(shared, alice_priv, bob_pub));
	assert_hex_equal(shared, 32, shared_hex);
}

/* Points of small order (and non-canonical encodings of them) give an all-zero result: rejected,
 * output zeroed whatever was in it before. */
static void test_x25519_low_order(void **unused)
{
	static const char *const points[] = {
		/* 0 */
		"0000000000000000000000000000000000000000000000000000000000000000",
		/* 1 */
		"0100000000000000000000000000000000000000000000000000000000000000",
		/* points of order 8 */
		"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
		"5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
		/* p - 1 (order 2), p (= 0), p + 1 (= 1) */
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	};
	uint8_t priv[32];
	uint8_t pub[32];
	uint8_t shared[32];
	size_t i;

	(void)unused;
	unhex(priv, 32, "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
	for (i = 0; i < sizeof(points) / sizeof(points[0]); i++) {
		unhex(pub, 32, points[i]);
		memset(shared, 0xAA, sizeof(shared));
		if (wgc_x25519(shared, priv, pub))
			fail_msg("low-order point %zu accepted", i);
		assert_true(wgc_ct_is_zero(shared, sizeof(shared)));
	}
}

static void test_x25519_clamp(void **unused)
{
	uint8_t k[32];

	(void)unused;
	memset(k, 0xFF, sizeof(k));
	wgc_x25519_clamp(k);
	assert_int_equal(k[0], 0xF8);
	assert_int_equal(k[31], 0x7F);
	assert_int_equal(k[15], 0xFF);
	memset(k, 0, sizeof(k));
	wgc_x25519_clamp(k);
	assert_int_equal(k[0], 0x00);
	assert_int_equal(k[31], 0x40);
}

/* ---- TAI64N ---- */

static void test_tai64n(void **unused)
{
	static const struct {
		uint64_t wall_ns;
		const char *want;
	} rows[] = {
		{ 0, "400000000000000a00000000" },
		/* below 2^24 ns rounds to zero; exactly 2^24 survives */
		{ 16777215, "400000000000000a00000000" },
		{ 16777216, "400000000000000a01000000" },
		/* 1234567890.999999999 s: seconds 0x499602d2; 0x3b9ac9ff ns -> 0x3b000000 */
		{ 1234567890999999999ULL, "40000000499602dc3b000000" },
		{ 1000000000ULL, "400000000000000b00000000" },
		/* UINT64_MAX ns = 18446744073 s + 709551615 ns (0x2a4ae5ff -> 0x2a000000) */
		{ UINT64_MAX, "400000044b82fa132a000000" },
	};
	uint8_t out[WGC_TAI64N_LEN];
	size_t r;

	(void)unused;
	for (r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
		memset(out, 0xAA, sizeof(out));
		wgc_tai64n(out, rows[r].wall_ns);
		assert_hex_equal(out, sizeof(out), rows[r].want);
	}
}

/* Later times never encode smaller: the responder compares timestamps bytewise. */
static void test_tai64n_monotonic(void **unused)
{
	uint8_t prev[WGC_TAI64N_LEN];
	uint8_t cur[WGC_TAI64N_LEN];
	uint64_t t;

	(void)unused;
	wgc_tai64n(prev, 1700000000000000000ULL);
	for (t = 1700000000000000000ULL; t < 1700000003000000000ULL; t += 7000001) {
		wgc_tai64n(cur, t);
		assert_true(memcmp(prev, cur, sizeof(cur)) <= 0);
		memcpy(prev, cur, sizeof(cur));
	}
}

/* ---- constant time helpers ---- */

static void test_ct_equal(void **unused)
{
	uint8_t a[64];
	uint8_t b[64];
	size_t i;
	int bit;

	(void)unused;
	fill_pattern(a, sizeof(a), 5);
	memcpy(b, a, sizeof(b));
	assert_true(wgc_ct_equal(a, b, 0));
	assert_true(wgc_ct_equal(a, b, sizeof(a)));
	assert_true(wgc_ct_equal(a, a, sizeof(a)));
	for (i = 0; i < sizeof(b); i++) {
		for (bit = 0; bit < 8; bit++) {
			b[i] ^= (uint8_t)(1u << bit);
			if (wgc_ct_equal(a, b, sizeof(a)))
				fail_msg("equal despite byte %zu bit %d", i, bit);
			/* a difference beyond len does not count */
			assert_true(wgc_ct_equal(a, b, i));
			b[i] ^= (uint8_t)(1u << bit);
		}
	}
	assert_true(wgc_ct_equal(a, b, sizeof(a)));
}

static void test_ct_is_zero(void **unused)
{
	uint8_t z[64];
	size_t i;
	int v;

	(void)unused;
	memset(z, 0, sizeof(z));
	assert_true(wgc_ct_is_zero(z, 0));
	assert_true(wgc_ct_is_zero(z, sizeof(z)));
	for (i = 0; i < sizeof(z); i++) {
		for (v = 1; v < 256; v++) {
			z[i] = (uint8_t)v;
			if (wgc_ct_is_zero(z, sizeof(z)))
				fail_msg("zero despite byte %zu = %d", i, v);
			assert_true(wgc_ct_is_zero(z, i));
		}
		z[i] = 0;
	}
	assert_true(wgc_ct_is_zero(z, sizeof(z)));
}

static void test_memzero(void **unused)
{
	uint8_t buf[37];

	(void)unused;
	memset(buf, 0xC3, sizeof(buf));
	wgc_memzero(buf + 1, 35);
	assert_int_equal(buf[0], 0xC3);
	assert_true(wgc_ct_is_zero(buf + 1, 35));
	assert_int_equal(buf[36], 0xC3);
	wgc_memzero(buf, 0);
	assert_int_equal(buf[0], 0xC3);
}

/* ---- init ---- */

static void test_crypto_init_repeat(void **unused)
{
	int i;

	(void)unused;
	for (i = 0; i < 100; i++)
		wgc_crypto_init();
}

static int setup_group(void **unused)
{
	(void)unused;
	wgc_crypto_init();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_blake2s_abc),
		cmocka_unit_test(test_blake2s_rfc_selftest),
		cmocka_unit_test(test_blake2s_all_lengths),
		cmocka_unit_test(test_blake2s_construction),
		cmocka_unit_test(test_blake2s_streaming),
		cmocka_unit_test(test_blake2s_final_wipes),
		cmocka_unit_test(test_blake2s_absorbed_key),
		cmocka_unit_test(test_hmac_vectors),
		cmocka_unit_test(test_hmac_aliasing),
		cmocka_unit_test(test_kdf_vectors),
		cmocka_unit_test(test_kdf_aliasing),
		cmocka_unit_test(test_aead_rfc8439),
		cmocka_unit_test(test_aead_counter_nonce),
		cmocka_unit_test(test_aead_tamper),
		cmocka_unit_test(test_aead_in_place),
		cmocka_unit_test(test_xaead_draft_vector),
		cmocka_unit_test(test_x25519_rfc7748),
		cmocka_unit_test(test_x25519_iterated),
		cmocka_unit_test(test_x25519_dh),
		cmocka_unit_test(test_x25519_low_order),
		cmocka_unit_test(test_x25519_clamp),
		cmocka_unit_test(test_tai64n),
		cmocka_unit_test(test_tai64n_monotonic),
		cmocka_unit_test(test_ct_equal),
		cmocka_unit_test(test_ct_is_zero),
		cmocka_unit_test(test_memzero),
		cmocka_unit_test(test_crypto_init_repeat),
	};

	return cmocka_run_group_tests(tests, setup_group, NULL);
}
