/* SPDX-License-Identifier: MIT */
/*
 * The parts of crypto.h that are the same whichever backend is built: X25519 clamping, the
 * constant-time zero test, and TAI64N encoding (whitepaper 5.1), which needs nothing but byte
 * stores.
 */
#include "crypto/crypto.h"

#include "base/bytes.h"

#include <string.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	/* Cleared nanosecond bits: 2^24 ns (~16.8 ms) is the largest power of two below the
	 * 1/50 s minimum spacing of initiations, as in the Linux and Go implementations. */
	TAI64N_NS_MASK = 0xFFFFFF,
};

/* TAI64 label for the Unix epoch: 2^62 plus the 10 s TAI-UTC offset of 1970. */
#define TAI64_EPOCH 0x400000000000000aULL

/* ---- X25519 ---- */

void wgc_x25519_clamp(uint8_t private_key[WGC_KEY_LEN])
{
	private_key[0] &= 248;
	private_key[31] &= 127;
	private_key[31] |= 64;
}

/* ---- TAI64N ---- */

void wgc_tai64n(uint8_t out[WGC_TAI64N_LEN], uint64_t wall_ns)
{
	uint64_t seconds = wall_ns / WGC_NSEC_PER_SEC;
	uint32_t ns = (uint32_t)(wall_ns % WGC_NSEC_PER_SEC);

	wgc_store_be64(out, TAI64_EPOCH + seconds);
	wgc_store_be32(out + 8, ns & ~(uint32_t)TAI64N_NS_MASK);
}

/* ---- constant time ---- */

bool wgc_ct_is_zero(const void *p, size_t len)
{
	const uint8_t *bytes = p;
	/* volatile so the compiler cannot turn the OR into a loop that exits at the first
	 * non-zero byte. */
	volatile uint8_t acc = 0;
	size_t i;

	for (i = 0; i < len; i++)
		acc |= bytes[i];
	/* (acc - 1) >> 8 has bit 0 set exactly when acc was 0, without a data-dependent branch. */
	return (1U & (((unsigned int)acc - 1U) >> 8)) != 0;
}

/* ---- AEAD ---- */

void wgc_aead_seal_parts_by_copy(uint8_t *dst, size_t head_len, const uint8_t *tail,
				 size_t tail_len, size_t pad_len, uint64_t counter,
				 const uint8_t key[WGC_KEY_LEN])
{
	if (tail_len)
		memcpy(dst + head_len, tail, tail_len);
	if (pad_len)
		memset(dst + head_len + tail_len, 0, pad_len);
	wgc_aead_seal(dst, dst, head_len + tail_len + pad_len, NULL, 0, counter, key);
}
