/* SPDX-License-Identifier: MIT */
/*
 * X25519 (RFC 7748 5): the Montgomery ladder over GF(2^255 - 19) with a constant-time swap, in
 * 32-bit limbs and 32x32->64 multiplies.
 *
 * A field element is ten unsigned limbs in radix 2^25.5: limb i holds bits from ceil(25.5 i), 26
 * bits wide for even i and 25 for odd i. "Reduced" means every limb is within its width, except
 * that limb 1 may exceed it by a carry (< 2^16); every function below takes and returns
 * reduced elements. Then 2 f_i < 2^27.1 and 19 g_j < 2^30.3, so a product is < 2^57.4 and the ten
 * in a column sum to < 2^61: a 64-bit column never overflows. Subtraction adds 2p first (its limbs
 * exceed any reduced limb), so no limb ever goes negative and every shift is of an unsigned value.
 *
 * Nothing branches on or indexes by a scalar bit or a field value: the ladder's swap is a masked
 * XOR, the final reduction a carry chain, and loops run a fixed number of times.
 */
#include "crypto/portable/portable.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

enum { LIMBS = 10 };

#define MASK26 0x3ffffffu
#define MASK25 0x1ffffffu

struct fe {
	uint32_t v[LIMBS];
};

/* Width in bits of limb i, and the mask of that many bits. */
static inline unsigned int limb_bits(int i)
{
	return (i & 1) ? 25u : 26u;
}

static inline uint32_t limb_mask(int i)
{
	return (i & 1) ? MASK25 : MASK26;
}

/*
 * One carry pass over the columns of a product (each < 2^61), unrolled so that every shift is by
 * a constant: limb i keeps its low 26 or 25 bits and passes the rest up; the carry out of limb 9
 * is worth 2^255 = 19 and goes back into limb 0, whose own carry goes once more into limb 1. Leaves
 * limb 0 within 26 bits and limb 1 at most 2^15 above 25 bits: reduced.
 */
#define CARRY64(i, bits)                                               \
	do {                                                           \
		out->v[i] = (uint32_t)h[i] & ((1u << (bits)) - 1u);    \
		h[(i) + 1] += h[i] >> (bits);                          \
	} while (0)

static void carry64(struct fe *out, uint64_t h[LIMBS])
{
	uint64_t t;

	CARRY64(0, 26);
	CARRY64(1, 25);
	CARRY64(2, 26);
	CARRY64(3, 25);
	CARRY64(4, 26);
	CARRY64(5, 25);
	CARRY64(6, 26);
	CARRY64(7, 25);
	CARRY64(8, 26);
	out->v[9] = (uint32_t)h[9] & MASK25;
	t = (uint64_t)out->v[0] + (h[9] >> 25) * 19;
	out->v[0] = (uint32_t)t & MASK26;
	out->v[1] += (uint32_t)(t >> 26);
}

/* The same for the sums and differences of reduced elements (each limb < 2^28), in 32 bits. */
#define CARRY32(i, bits)                                               \
	do {                                                           \
		h[(i) + 1] += h[i] >> (bits);                          \
		h[i] &= (1u << (bits)) - 1u;                           \
	} while (0)

static void fe_carry32(struct fe *out, uint32_t h[LIMBS])
{
	CARRY32(0, 26);
	CARRY32(1, 25);
	CARRY32(2, 26);
	CARRY32(3, 25);
	CARRY32(4, 26);
	CARRY32(5, 25);
	CARRY32(6, 26);
	CARRY32(7, 25);
	CARRY32(8, 26);
	h[0] += (h[9] >> 25) * 19;
	h[9] &= MASK25;
	h[1] += h[0] >> 26;
	h[0] &= MASK26;
	memcpy(out->v, h, sizeof(out->v));
}

static void fe_zero(struct fe *h)
{
	memset(h, 0, sizeof(*h));
}

static void fe_one(struct fe *h)
{
	fe_zero(h);
	h->v[0] = 1;
}

static void fe_add(struct fe *out, const struct fe *f, const struct fe *g)
{
	uint32_t h[LIMBS];
	int i;

	for (i = 0; i < LIMBS; i++)
		h[i] = f->v[i] + g->v[i];
	fe_carry32(out, h);
}

/* f - g as f + 2p - g: 2p's limbs are 2^27 - 38, then 2^26 - 2 (odd) and 2^27 - 2 (even). */
static void fe_sub(struct fe *out, const struct fe *f, const struct fe *g)
{
	uint32_t h[LIMBS];
	int i;

	h[0] = f->v[0] + (2 * MASK26 - 36) - g->v[0];
	for (i = 1; i < LIMBS; i++)
		h[i] = f->v[i] + 2 * limb_mask(i) - g->v[i];
	fe_carry32(out, h);
}

static void fe_mul(struct fe *out, const struct fe *f, const struct fe *g)
{
	const uint32_t f0 = f->v[0], g0 = g->v[0];
	const uint32_t f1 = f->v[1], g1 = g->v[1];
	const uint32_t f2 = f->v[2], g2 = g->v[2];
	const uint32_t f3 = f->v[3], g3 = g->v[3];
	const uint32_t f4 = f->v[4], g4 = g->v[4];
	const uint32_t f5 = f->v[5], g5 = g->v[5];
	const uint32_t f6 = f->v[6], g6 = g->v[6];
	const uint32_t f7 = f->v[7], g7 = g->v[7];
	const uint32_t f8 = f->v[8], g8 = g->v[8];
	const uint32_t f9 = f->v[9], g9 = g->v[9];
	const uint32_t f2_1 = 2 * f1;
	const uint32_t f2_3 = 2 * f3;
	const uint32_t f2_5 = 2 * f5;
	const uint32_t f2_7 = 2 * f7;
	const uint32_t f2_9 = 2 * f9;
	const uint32_t g19_1 = 19 * g1;
	const uint32_t g19_2 = 19 * g2;
	const uint32_t g19_3 = 19 * g3;
	const uint32_t g19_4 = 19 * g4;
	const uint32_t g19_5 = 19 * g5;
	const uint32_t g19_6 = 19 * g6;
	const uint32_t g19_7 = 19 * g7;
	const uint32_t g19_8 = 19 * g8;
	const uint32_t g19_9 = 19 * g9;
	uint64_t h[LIMBS];

	/* Column k: f_i g_j with i + j = k (mod 10), times 19 when i + j >= 10, times 2 when i and j
	 * are both odd (their offsets sum to one more than the column's). */
	h[0] = (uint64_t)f0 * g0 + (uint64_t)f2_1 * g19_9 + (uint64_t)f2 * g19_8 +
	       (uint64_t)f2_3 * g19_7 + (uint64_t)f4 * g19_6 + (uint64_t)f2_5 * g19_5 +
	       (uint64_t)f6 * g19_4 + (uint64_t)f2_7 * g19_3 + (uint64_t)f8 * g19_2 +
	       (uint64_t)f2_9 * g19_1;
	h[1] = (uint64_t)f0 * g1 + (uint64_t)f1 * g0 + (uint64_t)f2 * g19_9 +
	       (uint64_t)f3 * g19_8 + (uint64_t)f4 * g19_7 + (uint64_t)f5 * g19_6 +
	       (uint64_t)f6 * g19_5 + (uint64_t)f7 * g19_4 + (uint64_t)f8 * g19_3 +
	       (uint64_t)f9 * g19_2;
	h[2] = (uint64_t)f0 * g2 + (uint64_t)f2_1 * g1 + (uint64_t)f2 * g0 +
	       (uint64_t)f2_3 * g19_9 + (uint64_t)f4 * g19_8 + (uint64_t)f2_5 * g19_7 +
	       (uint64_t)f6 * g19_6 + (uint64_t)f2_7 * g19_5 + (uint64_t)f8 * g19_4 +
	       (uint64_t)f2_9 * g19_3;
	h[3] = (uint64_t)f0 * g3 + (uint64_t)f1 * g2 + (uint64_t)f2 * g1 +
	       (uint64_t)f3 * g0 + (uint64_t)f4 * g19_9 + (uint64_t)f5 * g19_8 +
	       (uint64_t)f6 * g19_7 + (uint64_t)f7 * g19_6 + (uint64_t)f8 * g19_5 +
	       (uint64_t)f9 * g19_4;
	h[4] = (uint64_t)f0 * g4 + (uint64_t)f2_1 * g3 + (uint64_t)f2 * g2 +
	       (uint64_t)f2_3 * g1 + (uint64_t)f4 * g0 + (uint64_t)f2_5 * g19_9 +
	       (uint64_t)f6 * g19_8 + (uint64_t)f2_7 * g19_7 + (uint64_t)f8 * g19_6 +
	       (uint64_t)f2_9 * g19_5;
	h[5] = (uint64_t)f0 * g5 + (uint64_t)f1 * g4 + (uint64_t)f2 * g3 +
	       (uint64_t)f3 * g2 + (uint64_t)f4 * g1 + (uint64_t)f5 * g0 +
	       (uint64_t)f6 * g19_9 + (uint64_t)f7 * g19_8 + (uint64_t)f8 * g19_7 +
	       (uint64_t)f9 * g19_6;
	h[6] = (uint64_t)f0 * g6 + (uint64_t)f2_1 * g5 + (uint64_t)f2 * g4 +
	       (uint64_t)f2_3 * g3 + (uint64_t)f4 * g2 + (uint64_t)f2_5 * g1 +
	       (uint64_t)f6 * g0 + (uint64_t)f2_7 * g19_9 + (uint64_t)f8 * g19_8 +
	       (uint64_t)f2_9 * g19_7;
	h[7] = (uint64_t)f0 * g7 + (uint64_t)f1 * g6 + (uint64_t)f2 * g5 +
	       (uint64_t)f3 * g4 + (uint64_t)f4 * g3 + (uint64_t)f5 * g2 +
	       (uint64_t)f6 * g1 + (uint64_t)f7 * g0 + (uint64_t)f8 * g19_9 +
	       (uint64_t)f9 * g19_8;
	h[8] = (uint64_t)f0 * g8 + (uint64_t)f2_1 * g7 + (uint64_t)f2 * g6 +
	       (uint64_t)f2_3 * g5 + (uint64_t)f4 * g4 + (uint64_t)f2_5 * g3 +
	       (uint64_t)f6 * g2 + (uint64_t)f2_7 * g1 + (uint64_t)f8 * g0 +
	       (uint64_t)f2_9 * g19_9;
	h[9] = (uint64_t)f0 * g9 + (uint64_t)f1 * g8 + (uint64_t)f2 * g7 +
	       (uint64_t)f3 * g6 + (uint64_t)f4 * g5 + (uint64_t)f5 * g4 +
	       (uint64_t)f6 * g3 + (uint64_t)f7 * g2 + (uint64_t)f8 * g1 +
	       (uint64_t)f9 * g0;
	carry64(out, h);
}

static void fe_sq(struct fe *out, const struct fe *f)
{
	const uint32_t f0 = f->v[0];
	const uint32_t f1 = f->v[1];
	const uint32_t f2 = f->v[2];
	const uint32_t f3 = f->v[3];
	const uint32_t f4 = f->v[4];
	const uint32_t f5 = f->v[5];
	const uint32_t f6 = f->v[6];
	const uint32_t f7 = f->v[7];
	const uint32_t f8 = f->v[8];
	const uint32_t f9 = f->v[9];
	const uint32_t f2_0 = 2 * f0;
	const uint32_t f2_1 = 2 * f1;
	const uint32_t f2_2 = 2 * f2;
	const uint32_t f2_3 = 2 * f3;
	const uint32_t f2_4 = 2 * f4;
	const uint32_t f2_5 = 2 * f5;
	const uint32_t f2_6 = 2 * f6;
	const uint32_t f2_7 = 2 * f7;
	const uint32_t f2_8 = 2 * f8;
	const uint32_t f2_9 = 2 * f9;
	const uint32_t f4_1 = 4 * f1;
	const uint32_t f4_3 = 4 * f3;
	const uint32_t f4_5 = 4 * f5;
	const uint32_t f4_7 = 4 * f7;
	const uint32_t f19_5 = 19 * f5;
	const uint32_t f19_6 = 19 * f6;
	const uint32_t f19_7 = 19 * f7;
	const uint32_t f19_8 = 19 * f8;
	const uint32_t f19_9 = 19 * f9;
	uint64_t h[LIMBS];

	/* fe_mul(f, f) with each cross product taken once and doubled. */
	h[0] = (uint64_t)f0 * f0 + (uint64_t)f4_1 * f19_9 + (uint64_t)f2_2 * f19_8 +
	       (uint64_t)f4_3 * f19_7 + (uint64_t)f2_4 * f19_6 + (uint64_t)f2_5 * f19_5;
	h[1] = (uint64_t)f2_0 * f1 + (uint64_t)f2_2 * f19_9 + (uint64_t)f2_3 * f19_8 +
	       (uint64_t)f2_4 * f19_7 + (uint64_t)f2_5 * f19_6;
	h[2] = (uint64_t)f2_0 * f2 + (uint64_t)f2_1 * f1 + (uint64_t)f4_3 * f19_9 +
	       (uint64_t)f2_4 * f19_8 + (uint64_t)f4_5 * f19_7 + (uint64_t)f6 * f19_6;
	h[3] = (uint64_t)f2_0 * f3 + (uint64_t)f2_1 * f2 + (uint64_t)f2_4 * f19_9 +
	       (uint64_t)f2_5 * f19_8 + (uint64_t)f2_6 * f19_7;
	h[4] = (uint64_t)f2_0 * f4 + (uint64_t)f4_1 * f3 + (uint64_t)f2 * f2 +
	       (uint64_t)f4_5 * f19_9 + (uint64_t)f2_6 * f19_8 + (uint64_t)f2_7 * f19_7;
	h[5] = (uint64_t)f2_0 * f5 + (uint64_t)f2_1 * f4 + (uint64_t)f2_2 * f3 +
	       (uint64_t)f2_6 * f19_9 + (uint64_t)f2_7 * f19_8;
	h[6] = (uint64_t)f2_0 * f6 + (uint64_t)f4_1 * f5 + (uint64_t)f2_2 * f4 +
	       (uint64_t)f2_3 * f3 + (uint64_t)f4_7 * f19_9 + (uint64_t)f8 * f19_8;
	h[7] = (uint64_t)f2_0 * f7 + (uint64_t)f2_1 * f6 + (uint64_t)f2_2 * f5 +
	       (uint64_t)f2_3 * f4 + (uint64_t)f2_8 * f19_9;
	h[8] = (uint64_t)f2_0 * f8 + (uint64_t)f4_1 * f7 + (uint64_t)f2_2 * f6 +
	       (uint64_t)f4_3 * f5 + (uint64_t)f4 * f4 + (uint64_t)f2_9 * f19_9;
	h[9] = (uint64_t)f2_0 * f9 + (uint64_t)f2_1 * f8 + (uint64_t)f2_2 * f7 +
	       (uint64_t)f2_3 * f6 + (uint64_t)f2_4 * f5;
	carry64(out, h);
}

static void fe_sq_times(struct fe *out, const struct fe *f, int n)
{
	int i;

	fe_sq(out, f);
	for (i = 1; i < n; i++)
		fe_sq(out, out);
}

/* out = f * 121665, the ladder's (A - 2) / 4. */
static void fe_mul_a24(struct fe *out, const struct fe *f)
{
	uint64_t h[LIMBS];
	int i;

	for (i = 0; i < LIMBS; i++)
		h[i] = (uint64_t)f->v[i] * 121665u;
	carry64(out, h);
}

/* Swaps f and g when swap is 1, leaves them when 0, with the same operations either way. */
static void fe_cswap(struct fe *f, struct fe *g, uint32_t swap)
{
	uint32_t mask = 0u - swap;
	uint32_t x;
	int i;

	for (i = 0; i < LIMBS; i++) {
		x = mask & (f->v[i] ^ g->v[i]);
		f->v[i] ^= x;
		g->v[i] ^= x;
	}
}

/* z^(p - 2) = z^(2^255 - 21) = 1 / z (0 for z = 0), by the usual chain of 254 squarings and 11
 * multiplications: exponents 2^k - 1 are built up, then shifted into place. */
static void fe_invert(struct fe *out, const struct fe *z)
{
	struct fe z2, z9, z11, z_5_0, z_10_0, z_20_0, z_50_0, z_100_0, t;

	fe_sq(&z2, z);                    /* 2 */
	fe_sq_times(&t, &z2, 2);          /* 8 */
	fe_mul(&z9, &t, z);               /* 9 */
	fe_mul(&z11, &z9, &z2);           /* 11 */
	fe_sq(&t, &z11);                  /* 22 */
	fe_mul(&z_5_0, &t, &z9);          /* 2^5 - 1 */
	fe_sq_times(&t, &z_5_0, 5);
	fe_mul(&z_10_0, &t, &z_5_0);      /* 2^10 - 1 */
	fe_sq_times(&t, &z_10_0, 10);
	fe_mul(&z_20_0, &t, &z_10_0);     /* 2^20 - 1 */
	fe_sq_times(&t, &z_20_0, 20);
	fe_mul(&t, &t, &z_20_0);          /* 2^40 - 1 */
	fe_sq_times(&t, &t, 10);
	fe_mul(&z_50_0, &t, &z_10_0);     /* 2^50 - 1 */
	fe_sq_times(&t, &z_50_0, 50);
	fe_mul(&z_100_0, &t, &z_50_0);    /* 2^100 - 1 */
	fe_sq_times(&t, &z_100_0, 100);
	fe_mul(&t, &t, &z_100_0);         /* 2^200 - 1 */
	fe_sq_times(&t, &t, 50);
	fe_mul(&t, &t, &z_50_0);          /* 2^250 - 1 */
	fe_sq_times(&t, &t, 5);           /* 2^255 - 32 */
	fe_mul(out, &t, &z11);            /* 2^255 - 21 */

	wgc_portable_wipe(&z2, sizeof(z2));
	wgc_portable_wipe(&z9, sizeof(z9));
	wgc_portable_wipe(&z11, sizeof(z11));
	wgc_portable_wipe(&z_5_0, sizeof(z_5_0));
	wgc_portable_wipe(&z_10_0, sizeof(z_10_0));
	wgc_portable_wipe(&z_20_0, sizeof(z_20_0));
	wgc_portable_wipe(&z_50_0, sizeof(z_50_0));
	wgc_portable_wipe(&z_100_0, sizeof(z_100_0));
	wgc_portable_wipe(&t, sizeof(t));
}

/* Bits [off, off + width) of the 32-byte little-endian string s (width <= 26). */
static uint32_t load_bits(const uint8_t s[WGC_X25519_LEN], unsigned int off, unsigned int width)
{
	uint64_t v = 0;
	unsigned int byte = off / 8;
	unsigned int k;

	for (k = 0; k < 5 && byte + k < WGC_X25519_LEN; k++)
		v |= (uint64_t)s[byte + k] << (8 * k);
	return (uint32_t)((v >> (off % 8)) & ((1u << width) - 1u));
}

/* RFC 7748 5's decodeUCoordinate: the top bit is ignored; values >= p are used as they are
 * (all arithmetic is mod p anyway). */
static void fe_frombytes(struct fe *h, const uint8_t s[WGC_X25519_LEN])
{
	unsigned int off = 0;
	int i;

	for (i = 0; i < LIMBS; i++) {
		h->v[i] = load_bits(s, off, limb_bits(i));
		off += limb_bits(i);
	}
}

/* The canonical encoding: h mod p, little-endian. h is reduced, so h < 2^255 + 2^42 < 2p and
 * q = floor((h + 19) / 2^255) is 0 or 1 exactly when h < p or h >= p; h + 19q - 2^255 q is the
 * result. Both chains are exact carries, no comparison. */
static void fe_tobytes(uint8_t s[WGC_X25519_LEN], const struct fe *f)
{
	uint32_t h[LIMBS];
	uint32_t q, c;
	uint64_t acc = 0;
	unsigned int acc_bits = 0;
	size_t pos = 0;
	int i;

	memcpy(h, f->v, sizeof(h));
	q = (h[0] + 19) >> 26;
	for (i = 1; i < LIMBS; i++)
		q = (h[i] + q) >> limb_bits(i);
	h[0] += 19 * q;
	for (i = 0; i < LIMBS - 1; i++) {
		c = h[i] >> limb_bits(i);
		h[i] &= limb_mask(i);
		h[i + 1] += c;
	}
	h[9] &= MASK25; /* drops q * 2^255 */

	for (i = 0; i < LIMBS; i++) {
		acc |= (uint64_t)h[i] << acc_bits;
		acc_bits += limb_bits(i);
		while (acc_bits >= 8) {
			s[pos++] = (uint8_t)acc;
			acc >>= 8;
			acc_bits -= 8;
		}
	}
	s[pos] = (uint8_t)acc; /* the last 7 bits; bit 255 is 0 */
	wgc_portable_wipe(h, sizeof(h));
}

/* The ladder's state and temporaries, together so that one wipe clears them all. */
struct ladder {
	struct fe x1, x2, z2, x3, z3;
	struct fe a, aa, b, bb, e, c, d, da, cb;
};

/* One step of RFC 7748 5's ladder, line for line (after the conditional swap). */
static void ladder_step(struct ladder *l)
{
	fe_add(&l->a, &l->x2, &l->z2);    /* A = x_2 + z_2 */
	fe_sq(&l->aa, &l->a);             /* AA = A^2 */
	fe_sub(&l->b, &l->x2, &l->z2);    /* B = x_2 - z_2 */
	fe_sq(&l->bb, &l->b);             /* BB = B^2 */
	fe_sub(&l->e, &l->aa, &l->bb);    /* E = AA - BB */
	fe_add(&l->c, &l->x3, &l->z3);    /* C = x_3 + z_3 */
	fe_sub(&l->d, &l->x3, &l->z3);    /* D = x_3 - z_3 */
	fe_mul(&l->da, &l->d, &l->a);     /* DA = D * A */
	fe_mul(&l->cb, &l->c, &l->b);     /* CB = C * B */
	fe_add(&l->x3, &l->da, &l->cb);
	fe_sq(&l->x3, &l->x3);            /* x_3 = (DA + CB)^2 */
	fe_sub(&l->z3, &l->da, &l->cb);
	fe_sq(&l->z3, &l->z3);
	fe_mul(&l->z3, &l->z3, &l->x1);   /* z_3 = x_1 * (DA - CB)^2 */
	fe_mul(&l->x2, &l->aa, &l->bb);   /* x_2 = AA * BB */
	fe_mul_a24(&l->z2, &l->e);
	fe_add(&l->z2, &l->z2, &l->aa);
	fe_mul(&l->z2, &l->z2, &l->e);    /* z_2 = E * (AA + a24 * E) */
}

void wgc_x25519_scalarmult(uint8_t out[WGC_X25519_LEN], const uint8_t scalar[WGC_X25519_LEN],
			   const uint8_t u[WGC_X25519_LEN])
{
	uint8_t k[WGC_X25519_LEN];
	struct ladder l;
	uint32_t swap = 0;
	uint32_t bit;
	int pos;

	/* decodeScalar25519 */
	memcpy(k, scalar, sizeof(k));
	k[0] &= 248;
	k[31] &= 127;
	k[31] |= 64;

	fe_frombytes(&l.x1, u);
	fe_one(&l.x2);
	fe_zero(&l.z2);
	l.x3 = l.x1;
	fe_one(&l.z3);
	for (pos = 254; pos >= 0; pos--) {
		bit = (uint32_t)(k[pos / 8] >> (pos & 7)) & 1u;
		swap ^= bit;
		fe_cswap(&l.x2, &l.x3, swap);
		fe_cswap(&l.z2, &l.z3, swap);
		swap = bit;
		ladder_step(&l);
	}
	fe_cswap(&l.x2, &l.x3, swap);
	fe_cswap(&l.z2, &l.z3, swap);

	/* x_2 * z_2^(p - 2) */
	fe_invert(&l.z2, &l.z2);
	fe_mul(&l.x2, &l.x2, &l.z2);
	fe_tobytes(out, &l.x2);

	wgc_portable_wipe(k, sizeof(k));
	wgc_portable_wipe(&l, sizeof(l));
}

void wgc_x25519_scalarmult_base(uint8_t out[WGC_X25519_LEN], const uint8_t scalar[WGC_X25519_LEN])
{
	static const uint8_t base[WGC_X25519_LEN] = { 9 };

	wgc_x25519_scalarmult(out, scalar, base);
}
