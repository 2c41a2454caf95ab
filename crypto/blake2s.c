/* SPDX-License-Identifier: MIT */
/*
 * BLAKE2s (RFC 7693), plain and keyed, with HMAC-BLAKE2s (RFC 2104) and the WireGuard KDF
 * (whitepaper 5.4) built on it. This is our own portable C: bytes are loaded little-endian one at a
 * time, so it runs unchanged on big-endian hosts. It knows nothing of WireGuard messages; the
 * handshake's HASH, MAC, HMAC and KDFn all come from here.
 */
#include "crypto/crypto.h"

#include "base/bytes.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* RFC 7693 section 2.6: the same IV as SHA-256. */
static const uint32_t blake2s_iv[8] = {
	0x6A09E667UL, 0xBB67AE85UL, 0x3C6EF372UL, 0xA54FF53AUL,
	0x510E527FUL, 0x9B05688CUL, 0x1F83D9ABUL, 0x5BE0CD19UL,
};

/* RFC 7693 section 2.7: message word schedule for the ten rounds. */
static const uint8_t blake2s_sigma[10][16] = {
	{ 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 },
	{ 14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3 },
	{ 11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4 },
	{ 7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8 },
	{ 9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13 },
	{ 2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9 },
	{ 12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11 },
	{ 13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10 },
	{ 6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5 },
	{ 10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0 },
};

enum {
	HMAC_IPAD = 0x36,
	HMAC_OPAD = 0x5c,
};

/* 128-bit vector rounds where the compiler offers them (see compress). */
#if (defined(__GNUC__) || defined(__clang__)) && (defined(__SSE2__) || defined(__ARM_NEON))
#define BLAKE2S_VECTOR 1
#endif

#ifndef BLAKE2S_VECTOR
static inline uint32_t ror32(uint32_t v, unsigned int n)
{
	return (v >> n) | (v << (32 - n));
}

/* The mixing function G (RFC 7693 section 3.1) with BLAKE2s's rotations 16, 12, 8, 7. */
#define G(r, i, a, b, c, d)                                     \
	do {                                                    \
		a = a + b + m[blake2s_sigma[r][2 * (i)]];       \
		d = ror32(d ^ a, 16);                           \
		c = c + d;                                      \
		b = ror32(b ^ c, 12);                           \
		a = a + b + m[blake2s_sigma[r][2 * (i) + 1]];   \
		d = ror32(d ^ a, 8);                            \
		c = c + d;                                      \
		b = ror32(b ^ c, 7);                            \
	} while (0)

/* One round: four column steps, then four diagonal steps. r is a constant at every use, so the
 * compiler resolves each sigma lookup to a fixed message word. */
#define ROUND(r)                                                \
	do {                                                    \
		G(r, 0, v[0], v[4], v[8], v[12]);               \
		G(r, 1, v[1], v[5], v[9], v[13]);               \
		G(r, 2, v[2], v[6], v[10], v[14]);              \
		G(r, 3, v[3], v[7], v[11], v[15]);              \
		G(r, 4, v[0], v[5], v[10], v[15]);              \
		G(r, 5, v[1], v[6], v[11], v[12]);              \
		G(r, 6, v[2], v[7], v[8], v[13]);               \
		G(r, 7, v[3], v[4], v[9], v[14]);               \
	} while (0)
#endif

/*
 * With 128-bit vectors (x86-64 SSE2, AArch64 NEON) a round works on whole rows of the state: the
 * four column steps of G run as one vector step, then the rows are rotated so the diagonals line up
 * as columns, and back. GCC's and clang's generic vector extensions express this without
 * intrinsics or headers; elsewhere the scalar rounds below are used. The results are identical.
 */
#ifdef BLAKE2S_VECTOR
/* A vector type has to be a typedef; it is the one exception to STYLE.md 2 in this file. */
typedef uint32_t v4u32 __attribute__((vector_size(16)));

#if defined(__clang__)
#define LANES(v, n) __builtin_shufflevector(v, v, (n) % 4, ((n) + 1) % 4, ((n) + 2) % 4, ((n) + 3) % 4)
#else
#define LANES(v, n) __builtin_shuffle(v, (v4u32){ (n) % 4, ((n) + 1) % 4, ((n) + 2) % 4, ((n) + 3) % 4 })
#endif

#define VROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

#define VG(a, b, c, d, x, y)                                    \
	do {                                                    \
		a = a + b + x;                                  \
		d = VROR(d ^ a, 16);                            \
		c = c + d;                                      \
		b = VROR(b ^ c, 12);                            \
		a = a + b + y;                                  \
		d = VROR(d ^ a, 8);                             \
		c = c + d;                                      \
		b = VROR(b ^ c, 7);                             \
	} while (0)

#define VWORDS(r, i0, i1, i2, i3)                                                               \
	((v4u32){ m[blake2s_sigma[r][i0]], m[blake2s_sigma[r][i1]], m[blake2s_sigma[r][i2]],      \
		  m[blake2s_sigma[r][i3]] })

#define VROUND(r)                                                            \
	do {                                                                 \
		VG(a, b, c, d, VWORDS(r, 0, 2, 4, 6), VWORDS(r, 1, 3, 5, 7));      \
		b = LANES(b, 1);                                             \
		c = LANES(c, 2);                                             \
		d = LANES(d, 3);                                             \
		VG(a, b, c, d, VWORDS(r, 8, 10, 12, 14), VWORDS(r, 9, 11, 13, 15)); \
		b = LANES(b, 3);                                             \
		c = LANES(c, 2);                                             \
		d = LANES(d, 1);                                             \
	} while (0)
#endif

/*
 * Compresses nblocks consecutive 64-byte blocks into state, adding inc to the byte counter before
 * each one (RFC 7693 section 3.2). Taking a run of blocks lets the message words be wiped once per
 * call instead of once per block: they hold key-derived values for keyed hashes and HMAC, and the
 * wipe is an out-of-line call the compiler cannot drop.
 */
static void compress(struct wgc_blake2s *state, const uint8_t *block, size_t nblocks, uint32_t inc)
{
	uint32_t m[16];
	int i;
#ifdef BLAKE2S_VECTOR
	v4u32 a, b, c, d;
	v4u32 h0, h1;
	const v4u32 iv0 = { blake2s_iv[0], blake2s_iv[1], blake2s_iv[2], blake2s_iv[3] };
	const v4u32 iv1 = { blake2s_iv[4], blake2s_iv[5], blake2s_iv[6], blake2s_iv[7] };
#else
	uint32_t v[16];
#endif

	while (nblocks-- > 0) {
		/* The counter is 64 bits split over two words; carry into t[1] on wrap. */
		state->t[0] += inc;
		state->t[1] += (uint32_t)(state->t[0] < inc);

		for (i = 0; i < 16; i++)
			m[i] = wgc_load_le32(block + 4 * i);
#ifdef BLAKE2S_VECTOR
		memcpy(&h0, &state->h[0], sizeof(h0));
		memcpy(&h1, &state->h[4], sizeof(h1));
		a = h0;
		b = h1;
		c = iv0;
		d = iv1 ^ (v4u32){ state->t[0], state->t[1], state->f[0], state->f[1] };
		VROUND(0);
		VROUND(1);
		VROUND(2);
		VROUND(3);
		VROUND(4);
		VROUND(5);
		VROUND(6);
		VROUND(7);
		VROUND(8);
		VROUND(9);
		h0 ^= a ^ c;
		h1 ^= b ^ d;
		memcpy(&state->h[0], &h0, sizeof(h0));
		memcpy(&state->h[4], &h1, sizeof(h1));
#else
		for (i = 0; i < 8; i++)
			v[i] = state->h[i];
		v[8] = blake2s_iv[0];
		v[9] = blake2s_iv[1];
		v[10] = blake2s_iv[2];
		v[11] = blake2s_iv[3];
		v[12] = blake2s_iv[4] ^ state->t[0];
		v[13] = blake2s_iv[5] ^ state->t[1];
		v[14] = blake2s_iv[6] ^ state->f[0];
		v[15] = blake2s_iv[7] ^ state->f[1];

		ROUND(0);
		ROUND(1);
		ROUND(2);
		ROUND(3);
		ROUND(4);
		ROUND(5);
		ROUND(6);
		ROUND(7);
		ROUND(8);
		ROUND(9);

		for (i = 0; i < 8; i++)
			state->h[i] ^= v[i] ^ v[i + 8];
#endif
		block += WGC_BLAKE2S_BLOCK_LEN;
	}
	wgc_memzero(m, sizeof(m));
#ifndef BLAKE2S_VECTOR
	wgc_memzero(v, sizeof(v));
#endif
}

#undef ROUND
#undef G
#undef VROUND
#undef VG

/* Parameter block word 0 (RFC 7693 section 2.5): digest length, key length, fanout 1, depth 1. */
static void init_param(struct wgc_blake2s *state, size_t out_len, size_t key_len)
{
	int i;

	for (i = 0; i < 8; i++)
		state->h[i] = blake2s_iv[i];
	state->h[0] ^= 0x01010000UL ^ (uint32_t)(key_len << 8) ^ (uint32_t)out_len;
	state->t[0] = 0;
	state->t[1] = 0;
	state->f[0] = 0;
	state->f[1] = 0;
	state->buf_len = 0;
	state->out_len = out_len;
}

void wgc_blake2s_init(struct wgc_blake2s *state, size_t out_len)
{
	init_param(state, out_len, 0);
}

void wgc_blake2s_init_key(struct wgc_blake2s *state, size_t out_len, const uint8_t *key,
			  size_t key_len)
{
	init_param(state, out_len, key_len);
	/* The key, zero-padded to a full block, is the message's first block (RFC 7693 3.3). */
	memset(state->buf, 0, sizeof(state->buf));
	memcpy(state->buf, key, key_len);
	state->buf_len = WGC_BLAKE2S_BLOCK_LEN;
}

void wgc_blake2s_init_key_absorbed(struct wgc_blake2s *state, size_t out_len, const uint8_t *key,
				   size_t key_len)
{
	wgc_blake2s_init_key(state, out_len, key, key_len);
	/* Not the last block, since a non-empty message follows: no final flag. */
	compress(state, state->buf, 1, WGC_BLAKE2S_BLOCK_LEN);
	wgc_memzero(state->buf, sizeof(state->buf));
	state->buf_len = 0;
}

void wgc_blake2s_update(struct wgc_blake2s *state, const uint8_t *in, size_t in_len)
{
	size_t fill = WGC_BLAKE2S_BLOCK_LEN - state->buf_len;
	size_t nblocks;

	if (in_len == 0)
		return;
	/*
	 * The last block is compressed with the final flag set, and only wgc_blake2s_final knows
	 * which block is last. So a full block is compressed only once more input is known to
	 * follow: the buffer is flushed when in_len strictly exceeds what it can take, and direct
	 * compression from in always leaves 1..64 bytes behind for the buffer.
	 */
	if (in_len > fill) {
		memcpy(state->buf + state->buf_len, in, fill);
		compress(state, state->buf, 1, WGC_BLAKE2S_BLOCK_LEN);
		state->buf_len = 0;
		in += fill;
		in_len -= fill;
		if (in_len > WGC_BLAKE2S_BLOCK_LEN) {
			nblocks = (in_len - 1) / WGC_BLAKE2S_BLOCK_LEN;
			compress(state, in, nblocks, WGC_BLAKE2S_BLOCK_LEN);
			in += nblocks * WGC_BLAKE2S_BLOCK_LEN;
			in_len -= nblocks * WGC_BLAKE2S_BLOCK_LEN;
		}
	}
	memcpy(state->buf + state->buf_len, in, in_len);
	state->buf_len += in_len;
}

void wgc_blake2s_final(struct wgc_blake2s *state, uint8_t *out)
{
	uint8_t digest[WGC_BLAKE2S_OUT_LEN];
	int i;

	/* Last block: zero-padded, counter advanced by the real byte count only, final flag set. */
	memset(state->buf + state->buf_len, 0, WGC_BLAKE2S_BLOCK_LEN - state->buf_len);
	state->f[0] = 0xFFFFFFFFUL;
	compress(state, state->buf, 1, (uint32_t)state->buf_len);

	for (i = 0; i < 8; i++)
		wgc_store_le32(digest + 4 * i, state->h[i]);
	memcpy(out, digest, state->out_len);
	wgc_memzero(digest, sizeof(digest));
	wgc_memzero(state, sizeof(*state));
}

void wgc_blake2s(uint8_t *out, size_t out_len, const uint8_t *in, size_t in_len, const uint8_t *key,
		 size_t key_len)
{
	struct wgc_blake2s state;

	if (key_len > 0)
		wgc_blake2s_init_key(&state, out_len, key, key_len);
	else
		wgc_blake2s_init(&state, out_len);
	wgc_blake2s_update(&state, in, in_len);
	wgc_blake2s_final(&state, out);
}

/*
 * HMAC's two keyed states (RFC 2104): BLAKE2s after absorbing key ^ ipad, and after key ^ opad.
 * Each pad block is compressed at once, which is right only when a non-empty message follows (an
 * empty one would make the pad the last block), so hmac_finish requires in_len >= 1. Preparing
 * them once lets several HMACs under one key (the KDF's t1, t2, t3 under t0) cost two
 * compressions each instead of four.
 */
struct hmac_key {
	struct wgc_blake2s inner;
	struct wgc_blake2s outer;
};

/* RFC 2104: the key as one block (hashed when longer than a block, zero-padded when shorter),
 * XORed with the inner pad. */
static void inner_pad(uint8_t pad[WGC_BLAKE2S_BLOCK_LEN], const uint8_t *key, size_t key_len)
{
	int i;

	memset(pad, 0, WGC_BLAKE2S_BLOCK_LEN);
	if (key_len > WGC_BLAKE2S_BLOCK_LEN)
		wgc_blake2s(pad, WGC_BLAKE2S_OUT_LEN, key, key_len, NULL, 0);
	else if (key_len > 0)
		memcpy(pad, key, key_len);
	for (i = 0; i < WGC_BLAKE2S_BLOCK_LEN; i++)
		pad[i] ^= HMAC_IPAD;
}

/* Turns the inner pad into the outer one without keeping the key around separately. */
static void outer_pad(uint8_t pad[WGC_BLAKE2S_BLOCK_LEN])
{
	int i;

	for (i = 0; i < WGC_BLAKE2S_BLOCK_LEN; i++)
		pad[i] ^= HMAC_IPAD ^ HMAC_OPAD;
}

static void hmac_prepare(struct hmac_key *hk, const uint8_t *key, size_t key_len)
{
	uint8_t pad[WGC_BLAKE2S_BLOCK_LEN];

	inner_pad(pad, key, key_len);
	init_param(&hk->inner, WGC_BLAKE2S_OUT_LEN, 0);
	compress(&hk->inner, pad, 1, WGC_BLAKE2S_BLOCK_LEN);
	outer_pad(pad);
	init_param(&hk->outer, WGC_BLAKE2S_OUT_LEN, 0);
	compress(&hk->outer, pad, 1, WGC_BLAKE2S_BLOCK_LEN);
	wgc_memzero(pad, sizeof(pad));
}

static void hmac_finish(uint8_t out[WGC_BLAKE2S_OUT_LEN], const struct hmac_key *hk,
			const uint8_t *in, size_t in_len)
{
	struct wgc_blake2s state = hk->inner;
	uint8_t inner[WGC_BLAKE2S_OUT_LEN];

	/* Caller guarantees in_len >= 1 (see struct hmac_key). */
	wgc_blake2s_update(&state, in, in_len);
	wgc_blake2s_final(&state, inner);
	state = hk->outer;
	wgc_blake2s_update(&state, inner, sizeof(inner));
	/* in is fully consumed by now, so out may alias it. */
	wgc_blake2s_final(&state, out);
	wgc_memzero(inner, sizeof(inner));
}

void wgc_hmac_blake2s(uint8_t out[WGC_BLAKE2S_OUT_LEN], const uint8_t *key, size_t key_len,
		      const uint8_t *in, size_t in_len)
{
	struct wgc_blake2s state;
	uint8_t pad[WGC_BLAKE2S_BLOCK_LEN];
	uint8_t inner[WGC_BLAKE2S_OUT_LEN];

	/* Not hmac_prepare: with an empty message the pad block is the last block. */
	inner_pad(pad, key, key_len);
	wgc_blake2s_init(&state, WGC_BLAKE2S_OUT_LEN);
	wgc_blake2s_update(&state, pad, sizeof(pad));
	wgc_blake2s_update(&state, in, in_len);
	wgc_blake2s_final(&state, inner);

	outer_pad(pad);
	wgc_blake2s_init(&state, WGC_BLAKE2S_OUT_LEN);
	wgc_blake2s_update(&state, pad, sizeof(pad));
	wgc_blake2s_update(&state, inner, sizeof(inner));
	/* key and in are fully consumed by now, so out may alias either of them. */
	wgc_blake2s_final(&state, out);

	wgc_memzero(pad, sizeof(pad));
	wgc_memzero(inner, sizeof(inner));
}

void wgc_kdf(uint8_t out1[WGC_KEY_LEN], uint8_t *out2, uint8_t *out3,
	     const uint8_t chaining_key[WGC_KEY_LEN], const uint8_t *in, size_t in_len)
{
	uint8_t t0[WGC_BLAKE2S_OUT_LEN];
	/* t[n] holds t_{n+1} followed by the counter byte for the next step's input. */
	uint8_t t[3][WGC_BLAKE2S_OUT_LEN + 1];
	struct hmac_key hk;

	wgc_hmac_blake2s(t0, chaining_key, WGC_KEY_LEN, in, in_len);
	hmac_prepare(&hk, t0, sizeof(t0));

	t[0][0] = 0x1;
	hmac_finish(t[0], &hk, t[0], 1);
	if (out2 != NULL) {
		t[0][WGC_BLAKE2S_OUT_LEN] = 0x2;
		hmac_finish(t[1], &hk, t[0], sizeof(t[0]));
	}
	if (out2 != NULL && out3 != NULL) {
		t[1][WGC_BLAKE2S_OUT_LEN] = 0x3;
		hmac_finish(t[2], &hk, t[1], sizeof(t[1]));
	}

	/* Every output is computed before any is written, so outputs may alias chaining_key or
	 * in (the handshake feeds C back as its own output). */
	memcpy(out1, t[0], WGC_KEY_LEN);
	if (out2 != NULL)
		memcpy(out2, t[1], WGC_KEY_LEN);
	if (out2 != NULL && out3 != NULL)
		memcpy(out3, t[2], WGC_KEY_LEN);

	wgc_memzero(t0, sizeof(t0));
	wgc_memzero(t, sizeof(t));
	wgc_memzero(&hk, sizeof(hk));
}
