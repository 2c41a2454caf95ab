/* SPDX-License-Identifier: MIT */
/*
 * Byte order and other small helpers that crypto/, core/ and daemon/ all need: little- and
 * big-endian loads and stores (byte by byte, so alignment- and aliasing-safe and correct on any
 * host), one container_of, and the nanoseconds in a second. Header-only, freestanding, and it
 * knows nothing of WireGuard.
 */
#ifndef WGC_BASE_BYTES_H
#define WGC_BASE_BYTES_H

#include <stddef.h>
#include <stdint.h>

/* ---- little-endian (WireGuard's wire order, BLAKE2s words, the AEAD nonce) ---- */

static inline uint16_t wgc_load_le16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] | (unsigned)p[1] << 8);
}

static inline uint32_t wgc_load_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t wgc_load_le64(const uint8_t *p)
{
	return (uint64_t)wgc_load_le32(p) | (uint64_t)wgc_load_le32(p + 4) << 32;
}

static inline void wgc_store_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void wgc_store_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static inline void wgc_store_le64(uint8_t *p, uint64_t v)
{
	wgc_store_le32(p, (uint32_t)v);
	wgc_store_le32(p + 4, (uint32_t)(v >> 32));
}

/* ---- big-endian (network order: IP and UDP headers, addresses, TAI64N) ---- */

static inline uint16_t wgc_load_be16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | (unsigned)p[1]);
}

static inline uint32_t wgc_load_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static inline uint64_t wgc_load_be64(const uint8_t *p)
{
	return (uint64_t)wgc_load_be32(p) << 32 | (uint64_t)wgc_load_be32(p + 4);
}

static inline void wgc_store_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void wgc_store_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline void wgc_store_be64(uint8_t *p, uint64_t v)
{
	wgc_store_be32(p, (uint32_t)(v >> 32));
	wgc_store_be32(p + 4, (uint32_t)v);
}

/* ---- structures and units ---- */

/*
 * The object of type `type` whose field `member` ptr points to (ptr evaluated once). For intrusive
 * entries: the index table's, the timer heap's and the allowed-IPs owner embedded in a peer or a
 * keypair. The cast through void * is safe because the result is where a `type` was laid out.
 */
#define WGC_CONTAINER_OF(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

/* Nanoseconds per second: every time in the tree is uint64_t nanoseconds. */
#define WGC_NSEC_PER_SEC UINT64_C(1000000000)

#endif
