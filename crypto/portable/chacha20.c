/* SPDX-License-Identifier: MIT */
/*
 * ChaCha20 (RFC 8439 2.1-2.4) and HChaCha20 (draft-irtf-cfrg-xchacha-03 2.2). The state is 16
 * 32-bit words: four constants, eight key words, a block counter and three nonce words (HChaCha20
 * puts a 128-bit nonce in the last four). Only additions, XORs and fixed rotations touch the key,
 * so there is nothing here that could branch on a secret.
 */
#include "crypto/portable/portable.h"

#include "base/bytes.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

enum {
	STATE_WORDS = 16,
	DOUBLE_ROUNDS = 10, /* 20 rounds */
};

static inline uint32_t rotl32(uint32_t v, unsigned int n)
{
	return (v << n) | (v >> (32 - n));
}

/* Words 0-11: "expand 32-byte k" and the key (RFC 8439 2.3). */
static void load_key(uint32_t state[STATE_WORDS], const uint8_t key[WGC_CHACHA20_KEY_LEN])
{
	int i;

	state[0] = 0x61707865u;
	state[1] = 0x3320646eu;
	state[2] = 0x79622d32u;
	state[3] = 0x6b206574u;
	for (i = 0; i < 8; i++)
		state[4 + i] = wgc_load_le32(key + 4 * i);
}

/* RFC 8439 2.1: the quarter round on four words held in locals. */
#define QR(a, b, c, d)                        \
	do {                                  \
		a += b;                       \
		d = rotl32(d ^ a, 16);        \
		c += d;                       \
		b = rotl32(b ^ c, 12);        \
		a += b;                       \
		d = rotl32(d ^ a, 8);         \
		c += d;                       \
		b = rotl32(b ^ c, 7);         \
	} while (0)

/* The 20 rounds: 10 x (four column rounds, four diagonal rounds), in place. The words are
 * copied to locals so the compiler can keep what it can in registers. */
static void rounds(uint32_t x[STATE_WORDS])
{
	uint32_t x0 = x[0], x1 = x[1], x2 = x[2], x3 = x[3], x4 = x[4], x5 = x[5], x6 = x[6];
	uint32_t x7 = x[7], x8 = x[8], x9 = x[9], x10 = x[10], x11 = x[11], x12 = x[12];
	uint32_t x13 = x[13], x14 = x[14], x15 = x[15];
	int i;

	for (i = 0; i < DOUBLE_ROUNDS; i++) {
		QR(x0, x4, x8, x12);
		QR(x1, x5, x9, x13);
		QR(x2, x6, x10, x14);
		QR(x3, x7, x11, x15);
		QR(x0, x5, x10, x15);
		QR(x1, x6, x11, x12);
		QR(x2, x7, x8, x13);
		QR(x3, x4, x9, x14);
	}
	x[0] = x0;
	x[1] = x1;
	x[2] = x2;
	x[3] = x3;
	x[4] = x4;
	x[5] = x5;
	x[6] = x6;
	x[7] = x7;
	x[8] = x8;
	x[9] = x9;
	x[10] = x10;
	x[11] = x11;
	x[12] = x12;
	x[13] = x13;
	x[14] = x14;
	x[15] = x15;
}

/* One block of key stream from a prepared state (RFC 8439 2.3: rounds, then add the input). */
static void block_words(uint32_t out[STATE_WORDS], const uint32_t state[STATE_WORDS])
{
	int i;

	memcpy(out, state, STATE_WORDS * sizeof(out[0]));
	rounds(out);
	for (i = 0; i < STATE_WORDS; i++)
		out[i] += state[i];
}

static void init_state(uint32_t state[STATE_WORDS], const uint8_t key[WGC_CHACHA20_KEY_LEN],
		       uint32_t counter, const uint8_t nonce[WGC_CHACHA20_NONCE_LEN])
{
	load_key(state, key);
	state[12] = counter;
	state[13] = wgc_load_le32(nonce);
	state[14] = wgc_load_le32(nonce + 4);
	state[15] = wgc_load_le32(nonce + 8);
}

void wgc_chacha20_block(uint8_t out[WGC_CHACHA20_BLOCK_LEN], const uint8_t key[WGC_CHACHA20_KEY_LEN],
			uint32_t counter, const uint8_t nonce[WGC_CHACHA20_NONCE_LEN])
{
	uint32_t state[STATE_WORDS];
	uint32_t ks[STATE_WORDS];
	int i;

	init_state(state, key, counter, nonce);
	block_words(ks, state);
	for (i = 0; i < STATE_WORDS; i++)
		wgc_store_le32(out + 4 * i, ks[i]);
	wgc_portable_wipe(state, sizeof(state));
	wgc_portable_wipe(ks, sizeof(ks));
}

void wgc_chacha20_xor_masked(uint8_t *dst, const uint8_t *src, size_t len,
			     const uint8_t key[WGC_CHACHA20_KEY_LEN], uint32_t counter,
			     const uint8_t nonce[WGC_CHACHA20_NONCE_LEN], uint32_t mask)
{
	uint32_t state[STATE_WORDS];
	uint32_t ks[STATE_WORDS];
	uint8_t tail[WGC_CHACHA20_BLOCK_LEN];
	size_t i;

	init_state(state, key, counter, nonce);
	/* Whole blocks: XOR word by word through the byte-order helpers (alignment-free). */
	while (len >= WGC_CHACHA20_BLOCK_LEN) {
		block_words(ks, state);
		for (i = 0; i < STATE_WORDS; i++)
			wgc_store_le32(dst + 4 * i, wgc_load_le32(src + 4 * i) ^ (ks[i] & mask));
		state[12]++;
		dst += WGC_CHACHA20_BLOCK_LEN;
		src += WGC_CHACHA20_BLOCK_LEN;
		len -= WGC_CHACHA20_BLOCK_LEN;
	}
	if (len > 0) {
		block_words(ks, state);
		for (i = 0; i < STATE_WORDS; i++)
			wgc_store_le32(tail + 4 * i, ks[i] & mask);
		for (i = 0; i < len; i++)
			dst[i] = (uint8_t)(src[i] ^ tail[i]);
		wgc_portable_wipe(tail, sizeof(tail));
	}
	wgc_portable_wipe(state, sizeof(state));
	wgc_portable_wipe(ks, sizeof(ks));
}

void wgc_chacha20_xor(uint8_t *dst, const uint8_t *src, size_t len,
		      const uint8_t key[WGC_CHACHA20_KEY_LEN], uint32_t counter,
		      const uint8_t nonce[WGC_CHACHA20_NONCE_LEN])
{
	wgc_chacha20_xor_masked(dst, src, len, key, counter, nonce, 0xffffffffu);
}

void wgc_hchacha20(uint8_t out[WGC_HCHACHA20_OUT_LEN], const uint8_t key[WGC_CHACHA20_KEY_LEN],
		   const uint8_t nonce[WGC_HCHACHA20_NONCE_LEN])
{
	uint32_t x[STATE_WORDS];
	int i;

	load_key(x, key);
	for (i = 0; i < 4; i++)
		x[12 + i] = wgc_load_le32(nonce + 4 * i);
	rounds(x);
	/* No feed-forward: the output is words 0-3 and 12-15 of the permuted state. */
	for (i = 0; i < 4; i++) {
		wgc_store_le32(out + 4 * i, x[i]);
		wgc_store_le32(out + 16 + 4 * i, x[12 + i]);
	}
	wgc_portable_wipe(x, sizeof(x));
}
