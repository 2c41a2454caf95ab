/* SPDX-License-Identifier: MIT */
/*
 * Constant-time check of the portable backend by tool (the ctgrind technique): every secret input
 * (keys, scalars, plaintexts) is marked undefined with VALGRIND_MAKE_MEM_UNDEFINED before the
 * call, so memcheck reports any conditional jump, conditional move or memory address that depends
 * on it. Run under valgrind by `make ct`, which requires zero such reports. Results that depend on
 * secrets (tags, shared secrets, "did it verify") are stored, never branched on, here.
 *
 * `ct --leak` runs one deliberately secret-dependent branch instead, so the check can prove that
 * the tool does catch one (make ct expects that run to fail).
 */
#include "crypto/crypto.h"
#include "crypto/portable/portable.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <valgrind/memcheck.h>

#define SECRET(p, len) VALGRIND_MAKE_MEM_UNDEFINED((p), (len))

/* Results go here so that the compiler cannot drop the calls. */
static volatile uint8_t sink_bytes;
static volatile bool sink_bool;

static void consume(const uint8_t *p, size_t len)
{
	uint8_t acc = 0;
	size_t i;

	for (i = 0; i < len; i++)
		acc = (uint8_t)(acc ^ p[i]);
	sink_bytes = acc;
}

static void fill(uint8_t *p, size_t len, uint8_t seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(seed + 13 * i + (i >> 5));
}

static void check_aeads(void)
{
	static const size_t lens[] = { 0, 1, 15, 16, 17, 63, 64, 65, 128, 1420 };
	static uint8_t plain[1420], sealed[1420 + 16], opened[1420];
	uint8_t key[32], nonce[24], ad[13];
	size_t i;

	fill(nonce, sizeof(nonce), 3);
	fill(ad, sizeof(ad), 4);
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		size_t len = lens[i];

		fill(key, sizeof(key), (uint8_t)(1 + i));
		fill(plain, len, (uint8_t)(2 + i));
		SECRET(key, sizeof(key));
		SECRET(plain, len);

		/* ChaCha20-Poly1305: seal, open good, open tampered (nonce public, AD public) */
		wgc_chacha20poly1305_seal(sealed, plain, len, ad, sizeof(ad), nonce, key);
		sink_bool = wgc_chacha20poly1305_open(opened, sealed, len + 16, ad, sizeof(ad),
						      nonce, key);
		consume(opened, len);
		sealed[len / 2] ^= 1;
		sink_bool = wgc_chacha20poly1305_open(opened, sealed, len + 16, ad, sizeof(ad),
						      nonce, key);
		consume(opened, len);

		/* the same through crypto.h (the backend's counter nonce) */
		wgc_aead_seal(sealed, plain, len, ad, sizeof(ad), 42, key);
		sink_bool = wgc_aead_open(sealed, sealed, len + 16, ad, sizeof(ad), 42, key);
		consume(sealed, len);

		/* XChaCha20-Poly1305 */
		wgc_xaead_seal(sealed, plain, len, ad, sizeof(ad), nonce, key);
		sink_bool = wgc_xaead_open(opened, sealed, len + 16, ad, sizeof(ad), nonce, key);
		consume(opened, len);
		sealed[0] ^= 0x80;
		sink_bool = wgc_xaead_open(opened, sealed, len + 16, ad, sizeof(ad), nonce, key);
		consume(opened, len);
	}
}

static void check_parts(void)
{
	uint8_t key[32], msg[100], tag[16], sub[32], block[64], nonce[16] = { 7 };
	struct wgc_poly1305 st;

	fill(key, sizeof(key), 9);
	fill(msg, sizeof(msg), 10);
	SECRET(key, sizeof(key));
	SECRET(msg, sizeof(msg));
	wgc_poly1305(tag, msg, sizeof(msg), key);
	consume(tag, sizeof(tag));
	wgc_poly1305_init(&st, key);
	wgc_poly1305_update(&st, msg, 5);
	wgc_poly1305_update(&st, msg + 5, 90);
	wgc_poly1305_final(&st, tag);
	consume(tag, sizeof(tag));
	wgc_hchacha20(sub, key, nonce);
	consume(sub, sizeof(sub));
	wgc_chacha20_block(block, key, 1, nonce);
	consume(block, sizeof(block));
}

static void check_x25519(void)
{
	static const uint8_t low_order[32] = { 1 };
	uint8_t scalar[32], peer[32], pub[32], shared[32];
	int i;

	for (i = 0; i < 3; i++) {
		fill(scalar, sizeof(scalar), (uint8_t)(20 + i));
		fill(peer, sizeof(peer), (uint8_t)(30 + i));
		SECRET(scalar, sizeof(scalar));
		wgc_x25519_public(pub, scalar);
		consume(pub, sizeof(pub));
		/* The peer's point is public, but nothing may depend on it either. */
		SECRET(peer, sizeof(peer));
		sink_bool = wgc_x25519(shared, scalar, peer);
		consume(shared, sizeof(shared));
		sink_bool = wgc_x25519(shared, scalar, low_order);
		consume(shared, sizeof(shared));
	}
}

static void check_blake2s_and_helpers(void)
{
	uint8_t key[32], msg[200], out[32], out2[32], out3[32];

	fill(key, sizeof(key), 40);
	fill(msg, sizeof(msg), 41);
	SECRET(key, sizeof(key));
	SECRET(msg, sizeof(msg));
	wgc_blake2s(out, sizeof(out), msg, sizeof(msg), key, sizeof(key));
	consume(out, sizeof(out));
	wgc_hmac_blake2s(out, key, sizeof(key), msg, sizeof(msg));
	consume(out, sizeof(out));
	wgc_kdf(out, out2, out3, key, msg, 32);
	consume(out3, sizeof(out3));
	sink_bool = wgc_ct_equal(key, msg, 32);
	sink_bool = wgc_ct_is_zero(key, 32);
	wgc_x25519_clamp(key);
	wgc_memzero(key, sizeof(key));
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--leak") == 0) {
		uint8_t secret[1] = { 1 };

		SECRET(secret, 1);
		if (secret[0] == 1) /* the deliberate leak valgrind must report */
			sink_bytes = 1;
		return 0;
	}
	wgc_crypto_init();
	check_aeads();
	check_parts();
	check_x25519();
	check_blake2s_and_helpers();
	printf("ct: ran every portable primitive with secret inputs marked undefined\n");
	return 0;
}
