/* SPDX-License-Identifier: MIT */
/*
 * TUN offloads in userspace: splitting the TCP (and UDP) super-packets a TUN device with
 * IFF_VNET_HDR and TUNSETOFFLOAD hands us into MTU-sized segments (what the kernel's TSO/USO would
 * have done), completing partial checksums, and the reverse on the way in, a userspace GRO that
 * coalesces consecutive segments of one TCP flow into one super-packet for a single TUN write.
 * Everything here is a pure function over byte buffers (no I/O, no allocation), so it is unit tested
 * on its own (tests/unit/test_offload.c); tun.c and the pipeline do the reads and writes. It knows
 * nothing of WireGuard.
 */
#ifndef WGC_DAEMON_OFFLOAD_H
#define WGC_DAEMON_OFFLOAD_H

#include <linux/virtio_net.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#ifndef VIRTIO_NET_HDR_GSO_UDP_L4
#define VIRTIO_NET_HDR_GSO_UDP_L4 5
#endif

enum {
	OFFLOAD_VNET_HDR_LEN = sizeof(struct virtio_net_hdr),
	/* A super-packet never exceeds what the IPv4 total length (or IPv6 payload length) holds. */
	OFFLOAD_PACKET_MAX = 65535,
	/* Packets one GRO table holds (a batch of deliveries), and segments per coalesced packet. */
	OFFLOAD_GRO_PACKETS_MAX = 256,
	OFFLOAD_GRO_SEGMENTS_MAX = 64,
};

/* True when the environment variable WGC_NO_OFFLOAD is "1": every offload stays off (tun.c and
 * udp.c ask at open time), so the tests can run the plain path too. */
bool offload_is_disabled(void);

/* ---- TUN reads: segmentation and checksum completion ---- */

enum offload_verdict {
	OFFLOAD_DROP,     /* malformed header or packet: count it and drop it */
	OFFLOAD_SINGLE,   /* one packet, usable in place (its checksum completed if it was partial) */
	OFFLOAD_SEGMENTS, /* a GSO super-packet: build its segments with offload_split_segment */
};

/* A parsed super-packet. Borrowed pointer: pkt must outlive every offload_split_segment call
 * (and every use of a payload offload_split_header pointed into it). */
struct offload_split {
	uint8_t *pkt;
	size_t len;         /* packet bytes (IP header to the end of the payload) */
	size_t ip_len;      /* IP header bytes */
	size_t l4_len;      /* TCP or UDP header bytes */
	size_t seg_payload; /* payload bytes per segment (gso_size); the last may be shorter */
	unsigned count;     /* segments */
	bool is_v6;
	bool is_udp;
};

/* Classifies the packet read with hdr (pkt, len bytes, writable). SINGLE: pkt[0..*len) is the packet
 * to use, its checksum completed at csum_start + csum_offset when hdr asked for it; *len may shrink to
 * the IP length. SEGMENTS: s describes the split. DROP: the header or packet is malformed (bad
 * lengths, gso_size 0, csum_start or csum_offset outside the packet, a GSO type that does not match
 * the packet, IPv4 fragments or IPv6 extension headers under GSO). */
enum offload_verdict offload_split_init(struct offload_split *s, const struct virtio_net_hdr *hdr,
					uint8_t *pkt, size_t *len);
/* Writes segment i (< s->count) to out (room for s->ip_len + s->l4_len + s->seg_payload bytes): the
 * headers copied and fixed (IPv4 total length, ID + i and header checksum; IPv6 payload length; TCP
 * sequence number, FIN/PSH only on the last segment, CWR only on the first; UDP length) and the full
 * TCP/UDP checksum. Copies the payload once. Returns the segment's length. */
size_t offload_split_segment(const struct offload_split *s, unsigned i, uint8_t *out);
/* The same without the copy: writes only segment i's headers to out (s->ip_len + s->l4_len bytes,
 * the checksum already covering the payload) and points *payload at its payload inside the
 * super-packet (*payload_len bytes), which follows the headers in the segment. Returns the
 * headers' length. For sealing a segment straight from the super-packet
 * (wgc_send_prepare_gather). */
size_t offload_split_header(const struct offload_split *s, unsigned i, uint8_t *out,
			    const uint8_t **payload, size_t *payload_len);

/* ---- checksums (RFC 1071), exposed for the tests ---- */

/* The Internet checksum of data (already complemented, in network byte order). */
uint16_t offload_checksum(const uint8_t *data, size_t len);
/* The TCP/UDP checksum of the L4 segment l4 (l4_len bytes, checksum field included as it is) with
 * the pseudo-header of the IP packet ip (version from ip[0]). Network byte order. */
uint16_t offload_l4_checksum(const uint8_t *ip, const uint8_t *l4, size_t l4_len, uint8_t proto);

/* ---- TUN writes: userspace GRO ---- */

/* One output packet: the first packet's buffer (headers fixed up when it grew) and, after it, the
 * payloads of the segments appended to it. */
struct offload_gro_group {
	uint16_t first;    /* packet index of the first segment (its headers are the template) */
	uint16_t last;     /* packet index of the last segment appended */
	uint16_t count;    /* segments */
	bool is_open;      /* may take more segments */
	bool has_psh;      /* the last segment carries PSH */
	uint8_t ip_len;    /* IP header bytes; 0 for a packet that is neither TCP nor UDP we parse */
	uint8_t tcp_len;   /* L4 header bytes (TCP's, or 8 for UDP) */
	uint8_t proto;     /* WGC_IPPROTO_TCP or WGC_IPPROTO_UDP */
	uint32_t total_len; /* bytes of the coalesced packet */
	uint32_t seg_payload; /* payload bytes of the first segment, the GSO size */
};

/* The packets of one batch of deliveries and how they group. Caller memory; reset per batch. */
struct offload_gro {
	bool has_uso;    /* UDP datagrams are merged too (the device takes USO); kept across resets */
	unsigned count;  /* packets added */
	unsigned groups; /* groups, in the order of their first packet */
	uint8_t *data[OFFLOAD_GRO_PACKETS_MAX];
	size_t len[OFFLOAD_GRO_PACKETS_MAX];
	int16_t next[OFFLOAD_GRO_PACKETS_MAX]; /* next packet of the same group, -1 at the end */
	struct offload_gro_group group[OFFLOAD_GRO_PACKETS_MAX];
};

void offload_gro_reset(struct offload_gro *g);
/* Adds one IP packet (data borrowed and written to by offload_gro_finish until the batch is
 * written). It joins the open group of its TCP flow when it continues it exactly (same addresses,
 * ports, IP fields, ACK, window and options; contiguous sequence; only ACK, and PSH on the last; equal
 * payload sizes but for a shorter last; IPv4 without options or fragments, DF set or consecutive IDs;
 * IPv6 without extension headers), or with has_uso the open group of its UDP flow (same addresses,
 * ports and IP fields, the same rules for IP, equal payload sizes but for a shorter last, a
 * non-zero checksum), and both it and, on the first join, the group's first packet have a valid
 * TCP/UDP checksum and (IPv4) header checksum; otherwise it starts a group of its own and
 * closes its flow's previous group, so no packet of a flow is ever written before an earlier one. A
 * packet that fails the checksums is never merged: it is written alone, as it came (a zeroed hdr,
 * so the kernel checks and drops it). The checksums are summed only for packets that would merge,
 * each packet at most once. Returns false when the table is full (write it out, reset, add
 * again). */
bool offload_gro_add(struct offload_gro *g, uint8_t *data, size_t len);
/* Prepares group k for writing: a group of several segments gets its first packet's headers fixed
 * (IPv4 total length and header checksum; IPv6 payload length; PSH if the last had it; the UDP
 * length; the TCP/UDP checksum field set to the pseudo-header sum) and hdr says GSO TCPV4/TCPV6
 * or UDP_L4 with NEEDS_CSUM; a
 * single packet gets a zeroed hdr. Fills iov (room for OFFLOAD_GRO_SEGMENTS_MAX entries) with the
 * packet's pieces and returns how many. */
unsigned offload_gro_finish(struct offload_gro *g, unsigned k, struct virtio_net_hdr *hdr,
			    struct iovec *iov);

#endif
