/* SPDX-License-Identifier: MIT */
/*
 * Poly1305 (RFC 8439 2.5) over five 26-bit limbs, so that every product fits 64 bits with room
 * for the sums: h = (h + block) * r mod 2^130 - 5, reduced lazily (limbs stay a little above 26
 * bits between blocks, which the bounds below allow), and fully only once, in final, where the
 * choice between h and h - p is made with a mask rather than a branch.
 *
 * Bounds: r's limbs are < 2^26 (clamping clears more), 5 * r_j < 2^28.4; h's limbs are < 2^26 +
 * 2^9 after a block's carry chain and < 2^27 with the next block added, so each of the five
 * products in a column is < 2^55.4 and a column sums to < 2^58.
 */
#include "crypto/portable/portable.h"

#include "base/bytes.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define LIMB_MASK 0x3ffffffu

/* h += block (16 bytes, plus 2^128 when is_full: RFC 8439 2.5.1's appended 0x01 byte of a full
 * block), then h *= r. */
static void absorb(struct wgc_poly1305 *st, const uint8_t block[WGC_POLY1305_BLOCK_LEN],
		   uint32_t high_bit)
{
	const uint32_t r0 = st->r[0], r1 = st->r[1], r2 = st->r[2], r3 = st->r[3], r4 = st->r[4];
	const uint32_t s1 = r1 * 5, s2 = r2 * 5, s3 = r3 * 5, s4 = r4 * 5;
	uint32_t t0 = wgc_load_le32(block), t1 = wgc_load_le32(block + 4);
	uint32_t t2 = wgc_load_le32(block + 8), t3 = wgc_load_le32(block + 12);
	uint64_t h0 = st->h[0] + (t0 & LIMB_MASK);
	uint64_t h1 = st->h[1] + (((t0 >> 26) | (t1 << 6)) & LIMB_MASK);
	uint64_t h2 = st->h[2] + (((t1 >> 20) | (t2 << 12)) & LIMB_MASK);
	uint64_t h3 = st->h[3] + (((t2 >> 14) | (t3 << 18)) & LIMB_MASK);
	uint64_t h4 = st->h[4] + ((t3 >> 8) | high_bit);
	uint64_t d0, d1, d2, d3, d4, c;

	/* Column k collects h_i * r_j with i + j = k, and 5 * h_i * r_j with i + j = k + 5
	 * (2^130 = 5 mod p). */
	d0 = h0 * r0 + h1 * s4 + h2 * s3 + h3 * s2 + h4 * s1;
	d1 = h0 * r1 + h1 * r0 + h2 * s4 + h3 * s3 + h4 * s2;
	d2 = h0 * r2 + h1 * r1 + h2 * r0 + h3 * s4 + h4 * s3;
	d3 = h0 * r3 + h1 * r2 + h2 * r1 + h3 * r0 + h4 * s4;
	d4 = h0 * r4 + h1 * r3 + h2 * r2 + h3 * r1 + h4 * r0;

	c = d0 >> 26;
	d1 += c;
	c = d1 >> 26;
	d2 += c;
	c = d2 >> 26;
	d3 += c;
	c = d3 >> 26;
	d4 += c;
	c = d4 >> 26;
	/* The carry out of the top limb is worth 2^130 = 5. */
	d0 = (d0 & LIMB_MASK) + c * 5;
	st->h[0] = (uint32_t)(d0 & LIMB_MASK);
	st->h[1] = (uint32_t)((d1 & LIMB_MASK) + (d0 >> 26));
	st->h[2] = (uint32_t)(d2 & LIMB_MASK);
	st->h[3] = (uint32_t)(d3 & LIMB_MASK);
	st->h[4] = (uint32_t)(d4 & LIMB_MASK);
}

void wgc_poly1305_init(struct wgc_poly1305 *st, const uint8_t key[WGC_POLY1305_KEY_LEN])
{
	/* r with RFC 8439 2.5's clamp: top four bits of each word and low two bits of the last
	 * three cleared. */
	uint32_t t0 = wgc_load_le32(key) & 0x0fffffffu;
	uint32_t t1 = wgc_load_le32(key + 4) & 0x0ffffffcu;
	uint32_t t2 = wgc_load_le32(key + 8) & 0x0ffffffcu;
	uint32_t t3 = wgc_load_le32(key + 12) & 0x0ffffffcu;
	int i;

	st->r[0] = t0 & LIMB_MASK;
	st->r[1] = ((t0 >> 26) | (t1 << 6)) & LIMB_MASK;
	st->r[2] = ((t1 >> 20) | (t2 << 12)) & LIMB_MASK;
	st->r[3] = ((t2 >> 14) | (t3 << 18)) & LIMB_MASK;
	st->r[4] = t3 >> 8;
	for (i = 0; i < 5; i++)
		st->h[i] = 0;
	for (i = 0; i < 4; i++)
		st->s[i] = wgc_load_le32(key + 16 + 4 * i);
	st->buf_len = 0;
}

void wgc_poly1305_update(struct wgc_poly1305 *st, const uint8_t *in, size_t in_len)
{
	size_t take;

	if (in_len == 0)
		return; /* and in may be NULL */
	if (st->buf_len > 0) {
		take = WGC_POLY1305_BLOCK_LEN - st->buf_len;
		if (take > in_len)
			take = in_len;
		memcpy(st->buf + st->buf_len, in, take);
		st->buf_len += take;
		in += take;
		in_len -= take;
		if (st->buf_len < WGC_POLY1305_BLOCK_LEN)
			return;
		absorb(st, st->buf, 1u << 24);
		st->buf_len = 0;
	}
	while (in_len >= WGC_POLY1305_BLOCK_LEN) {
		absorb(st, in, 1u << 24);
		in += WGC_POLY1305_BLOCK_LEN;
		in_len -= WGC_POLY1305_BLOCK_LEN;
	}
	if (in_len > 0) {
		memcpy(st->buf, in, in_len);
		st->buf_len = in_len;
	}
}

void wgc_poly1305_final(struct wgc_poly1305 *st, uint8_t tag[WGC_POLY1305_TAG_LEN])
{
	uint32_t h0, h1, h2, h3, h4, g0, g1, g2, g3, g4, c, mask;
	uint64_t f;

	/* A partial last block gets its 0x01 byte in the buffer and no 2^128. */
	if (st->buf_len > 0) {
		st->buf[st->buf_len] = 1;
		memset(st->buf + st->buf_len + 1, 0, WGC_POLY1305_BLOCK_LEN - st->buf_len - 1);
		absorb(st, st->buf, 0);
	}

	/* Carry fully: h < 2^130 + 2^10, limbs 26 bits except h1, which may gain one. */
	h0 = st->h[0];
	h1 = st->h[1];
	h2 = st->h[2];
	h3 = st->h[3];
	h4 = st->h[4];
	c = h1 >> 26;
	h1 &= LIMB_MASK;
	h2 += c;
	c = h2 >> 26;
	h2 &= LIMB_MASK;
	h3 += c;
	c = h3 >> 26;
	h3 &= LIMB_MASK;
	h4 += c;
	c = h4 >> 26;
	h4 &= LIMB_MASK;
	h0 += c * 5;
	c = h0 >> 26;
	h0 &= LIMB_MASK;
	h1 += c;

	/* g = h + 5 - 2^130; h >= p exactly when that does not borrow, and then h mod p = g. */
	g0 = h0 + 5;
	c = g0 >> 26;
	g0 &= LIMB_MASK;
	g1 = h1 + c;
	c = g1 >> 26;
	g1 &= LIMB_MASK;
	g2 = h2 + c;
	c = g2 >> 26;
	g2 &= LIMB_MASK;
	g3 = h3 + c;
	c = g3 >> 26;
	g3 &= LIMB_MASK;
	g4 = h4 + c - (1u << 26);
	mask = (g4 >> 31) - 1u; /* all ones when g4 did not go negative */
	h0 = (h0 & ~mask) | (g0 & mask);
	h1 = (h1 & ~mask) | (g1 & mask);
	h2 = (h2 & ~mask) | (g2 & mask);
	h3 = (h3 & ~mask) | (g3 & mask);
	h4 = (h4 & ~mask) | (g4 & mask);

	/* tag = (h + s) mod 2^128, with 64-bit sums so a limb just over 26 bits still adds up. */
	f = (uint64_t)h0 + ((uint64_t)h1 << 26) + st->s[0];
	wgc_store_le32(tag, (uint32_t)f);
	f = (f >> 32) + ((uint64_t)h2 << 20) + st->s[1];
	wgc_store_le32(tag + 4, (uint32_t)f);
	f = (f >> 32) + ((uint64_t)h3 << 14) + st->s[2];
	wgc_store_le32(tag + 8, (uint32_t)f);
	f = (f >> 32) + ((uint64_t)h4 << 8) + st->s[3];
	wgc_store_le32(tag + 12, (uint32_t)f);

	wgc_portable_wipe(st, sizeof(*st));
}

void wgc_poly1305(uint8_t tag[WGC_POLY1305_TAG_LEN], const uint8_t *in, size_t in_len,
		  const uint8_t key[WGC_POLY1305_KEY_LEN])
{
	struct wgc_poly1305 st;

	wgc_poly1305_init(&st, key);
	wgc_poly1305_update(&st, in, in_len);
	wgc_poly1305_final(&st, tag);
}
