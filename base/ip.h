/* SPDX-License-Identifier: MIT */
/*
 * IPv4 (RFC 791), IPv6 (RFC 8200), TCP (RFC 9293) and UDP (RFC 768) header layouts as byte offsets
 * from the start of each header, for code that reads packets as bytes (multi-byte fields are
 * network order: read them with wgc_load_be16/32 from base/bytes.h). Header-only, freestanding,
 * nothing of WireGuard: the core checks inner packets with it, the daemon's offload code splits
 * and merges TCP/UDP segments with it.
 */
#ifndef WGC_BASE_IP_H
#define WGC_BASE_IP_H

#include <stddef.h>
#include <stdint.h>

/* ---- both families: the version is the high nibble of the first byte ---- */

enum {
	WGC_IP_OFF_VERSION = 0,
	WGC_IP_VERSION_4 = 4,
	WGC_IP_VERSION_6 = 6,
};

/* ---- IPv4 ---- */

enum {
	WGC_IPV4_HEADER_MIN_LEN = 20, /* IHL 5; options make it longer (IHL * 4 bytes) */
	WGC_IPV4_ADDR_LEN = 4,
	WGC_IPV4_OFF_VERSION_IHL = 0, /* version << 4 | IHL (header length in 32-bit words) */
	WGC_IPV4_OFF_TOS = 1,
	WGC_IPV4_OFF_TOTAL_LEN = 2,   /* header and payload, bytes */
	WGC_IPV4_OFF_ID = 4,
	WGC_IPV4_OFF_FRAG = 6,        /* flags << 13 | fragment offset */
	WGC_IPV4_OFF_TTL = 8,
	WGC_IPV4_OFF_PROTOCOL = 9,
	WGC_IPV4_OFF_CHECKSUM = 10,
	WGC_IPV4_OFF_SRC = 12,
	WGC_IPV4_OFF_DST = 16,
	/* Bits of the 16-bit field at WGC_IPV4_OFF_FRAG. */
	WGC_IPV4_FRAG_DF = 0x4000,          /* don't fragment */
	WGC_IPV4_FRAG_MF_OFFSET = 0x3fff,   /* more fragments, and the fragment offset */
};

/* ---- IPv6 ---- */

enum {
	WGC_IPV6_HEADER_LEN = 40, /* the fixed header; extension headers follow it */
	WGC_IPV6_ADDR_LEN = 16,
	WGC_IPV6_OFF_VERSION_CLASS_FLOW = 0, /* version << 28 | traffic class << 20 | flow label */
	WGC_IPV6_OFF_PAYLOAD_LEN = 4, /* bytes after the fixed header */
	WGC_IPV6_OFF_NEXT_HEADER = 6,
	WGC_IPV6_OFF_HOP_LIMIT = 7,
	WGC_IPV6_OFF_SRC = 8,
	WGC_IPV6_OFF_DST = 24,
};

/* ---- protocol numbers (IPv4 protocol, IPv6 next header; IANA) ---- */

enum {
	WGC_IPPROTO_ICMP = 1,
	WGC_IPPROTO_TCP = 6,
	WGC_IPPROTO_UDP = 17,
	WGC_IPPROTO_ICMPV6 = 58,
};

/* ---- TCP ---- */

enum {
	WGC_TCP_HEADER_MIN_LEN = 20,
	WGC_TCP_OFF_SRC_PORT = 0,
	WGC_TCP_OFF_DST_PORT = 2,
	WGC_TCP_OFF_SEQ = 4,
	WGC_TCP_OFF_ACK = 8,
	WGC_TCP_OFF_DATA_OFF = 12, /* data offset (header length in 32-bit words) << 4 */
	WGC_TCP_OFF_FLAGS = 13,
	WGC_TCP_OFF_WINDOW = 14,
	WGC_TCP_OFF_CHECKSUM = 16,
	WGC_TCP_OFF_URGENT = 18,
	/* Bits of the byte at WGC_TCP_OFF_FLAGS. */
	WGC_TCP_FLAG_FIN = 0x01,
	WGC_TCP_FLAG_SYN = 0x02,
	WGC_TCP_FLAG_RST = 0x04,
	WGC_TCP_FLAG_PSH = 0x08,
	WGC_TCP_FLAG_ACK = 0x10,
	WGC_TCP_FLAG_URG = 0x20,
	WGC_TCP_FLAG_ECE = 0x40,
	WGC_TCP_FLAG_CWR = 0x80,
};

/* ---- UDP ---- */

enum {
	WGC_UDP_HEADER_LEN = 8,
	WGC_UDP_OFF_SRC_PORT = 0,
	WGC_UDP_OFF_DST_PORT = 2,
	WGC_UDP_OFF_LEN = 4, /* header and payload, bytes */
	WGC_UDP_OFF_CHECKSUM = 6,
};

/* ---- accessors (the caller has checked that the byte is there) ---- */

/* IP version of the packet at p (4, 6, or anything else for garbage). */
static inline unsigned wgc_ip_version(const uint8_t *p)
{
	return (unsigned)p[WGC_IP_OFF_VERSION] >> 4;
}

/* IPv4 header length in bytes from IHL (may be below the minimum for garbage). */
static inline size_t wgc_ipv4_header_len(const uint8_t *p)
{
	return (size_t)(p[WGC_IPV4_OFF_VERSION_IHL] & 0x0f) * 4;
}

/* TCP header length in bytes from the data offset of the TCP header at tcp. */
static inline size_t wgc_tcp_header_len(const uint8_t *tcp)
{
	return (size_t)(tcp[WGC_TCP_OFF_DATA_OFF] >> 4) * 4;
}

#endif
