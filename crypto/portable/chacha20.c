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

/* RFC 8439 2.1: the quarter round on words a, b, c, d of x. */
#define QUARTER_ROUND(x, a, b, c, d)                   \
	do {                                           \
		x[a] += x[b];                          \
		x[d] = rotl32(x[d] ^ x[a], 16);        \
		x[c] += x[d];                          \
		x[b] = rotl32(x[b] ^ x[c], 12);        \
		x[a] += x[b];                          \
		x[d] = rotl32(x[d] ^ x[a], 8);         \
		x[c] += x[d];                          \
		x[b] = rotl32(x[b] ^ x[c], 7);         \
	} while (0)

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

/* The 20 rounds: 10 x (four column rounds, four diagonal rounds), in place. */
static void rounds(uint32_t x[STATE_WORDS])
{
	int i;

	for (i = 0; i < DOUBLE_ROUNDS; i++) {
		QUARTER_ROUND(x, 0, 4, 8, 12);
		QUARTER_ROUND(x, 1, 5, 9, 13);
		QUARTER_ROUND(x, 2, 6, 10, 14);
		QUARTER_ROUND(x, 3, 7, 11, 15);
		QUARTER_ROUND(x, 0, 5, 10, 15);
		QUARTER_ROUND(x, 1, 6, 11, 12);
		QUARTER_ROUND(x, 2, 7, 8, 13);
		QUARTER_ROUND(x, 3, 4, 9, 14);
	}
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
