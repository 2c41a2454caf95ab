/* SPDX-License-Identifier: MIT */
/*
 * The daemon's TUN offloads (daemon/offload.c): TSO/USO splitting, partial checksum completion,
 * userspace GRO (TCP, and UDP into USO writes), its ordering rule and its refusal to merge segments
 * whose checksums fail, and malformed virtio-net headers. Every checksum is checked against an independent, byte-at-a-time
 * RFC 1071 implementation written here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/offload.h"

enum { BIG = 70000 };

static uint8_t super[BIG];
static uint8_t segs[80][2048];
static size_t seg_lens[80];

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void wr16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void wr32(uint8_t *p, uint32_t v)
{
	wr16(p, v >> 16);
	wr16(p + 2, v);
}

/* The reference: a plain big-endian word sum. */
static uint32_t ref_sum(const uint8_t *p, size_t len, uint32_t sum)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t ref_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static uint32_t ref_pseudo(const uint8_t *ip, uint8_t proto, size_t l4_len)
{
	uint32_t sum = ip[0] >> 4 == 4 ? ref_sum(ip + 12, 8, 0) : ref_sum(ip + 8, 32, 0);

	return sum + proto + (uint32_t)l4_len;
}

/* True when the L4 checksum over the segment verifies (sums to 0xffff). */
static bool l4_ok(const uint8_t *ip, size_t ip_len, size_t total, uint8_t proto)
{
	return ref_fold(ref_sum(ip + ip_len, total - ip_len,
				ref_pseudo(ip, proto, total - ip_len))) == 0xffff;
}

static bool ipv4_hdr_ok(const uint8_t *ip)
{
	return ref_fold(ref_sum(ip, (size_t)(ip[0] & 15) * 4, 0)) == 0xffff;
}

/* The IP header of a total-byte packet of proto from 10.0.0.1 (fd00::1) to 10.0.0.2 (fd00::2):
 * IPv4 with DF, this ID and a valid header checksum; the header bytes must be zero. */
static void make_ip(uint8_t *p, bool v6, uint8_t proto, uint16_t id, size_t total)
{
	if (v6) {
		p[0] = 0x60;
		wr16(p + 4, (uint32_t)(total - 40));
		p[6] = proto;
		p[7] = 64;
		p[8] = 0xfd;
		p[23] = 1;
		p[24] = 0xfd;
		p[39] = 2;
		return;
	}
	p[0] = 0x45;
	wr16(p + 2, (uint32_t)total);
	wr16(p + 4, id);
	wr16(p + 6, 0x4000);
	p[8] = 64;
	p[9] = proto;
	p[12] = 10;
	p[15] = 1;
	p[16] = 10;
	p[19] = 2;
	wr16(p + 10, (uint16_t)~ref_fold(ref_sum(p, 20, 0)));
}

/* An IPv4 or IPv6 TCP packet with 12 bytes of options (timestamps), flags and payload_len bytes of
 * a pattern starting at seq. Checksums valid; with partial, the TCP field holds the pseudo sum. */
static size_t make_tcp(uint8_t *p, bool v6, uint16_t sport, uint32_t seq, uint8_t flags,
		       size_t payload_len, bool partial)
{
	size_t ip_len = v6 ? 40 : 20;
	size_t tcp_len = 32;
	size_t total = ip_len + tcp_len + payload_len;
	uint8_t *t = p + ip_len;
	size_t i;

	memset(p, 0, ip_len + tcp_len);
	make_ip(p, v6, 6, 0x1234, total);
	wr16(t, sport);
	wr16(t + 2, 80);
	wr32(t + 4, seq);
	wr32(t + 8, 5000);
	t[12] = 8 << 4;
	t[13] = flags;
	wr16(t + 14, 512);
	t[20] = 1;
	t[21] = 1;
	t[22] = 8;
	t[23] = 10;
	wr32(t + 24, 777);
	wr32(t + 28, 888);
	for (i = 0; i < payload_len; i++)
		t[tcp_len + i] = (uint8_t)((seq + i) * 7);
	if (partial)
		wr16(t + 16, ref_fold(ref_pseudo(p, 6, total - ip_len)));
	else
		wr16(t + 16, (uint16_t)~ref_fold(ref_sum(t, total - ip_len,
							 ref_pseudo(p, 6, total - ip_len))));
	return total;
}

static struct virtio_net_hdr gso_hdr(uint8_t type, uint16_t gso_size, uint16_t csum_start,
				     uint16_t csum_offset)
{
	struct virtio_net_hdr h;

	memset(&h, 0, sizeof(h));
	h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h.gso_type = type;
	h.gso_size = gso_size;
	h.csum_start = csum_start;
	h.csum_offset = csum_offset;
	return h;
}

static unsigned split_all(const struct virtio_net_hdr *h, uint8_t *pkt, size_t len,
			  struct offload_split *s)
{
	unsigned i;

	assert_int_equal(offload_split_init(s, h, pkt, &len), OFFLOAD_SEGMENTS);
	assert_true(s->count <= 80);
	for (i = 0; i < s->count; i++) {
		static uint8_t head[256];
		const uint8_t *payload = NULL;
		size_t payload_len = 0;
		size_t head_len;

		seg_lens[i] = offload_split_segment(s, i, segs[i]);
		/* the copy-free variant: the same headers (checksum included), the payload in place */
		memset(head, 0xa5, sizeof(head));
		head_len = offload_split_header(s, i, head, &payload, &payload_len);
		assert_int_equal(head_len, s->ip_len + s->l4_len);
		assert_int_equal(head_len + payload_len, seg_lens[i]);
		assert_memory_equal(head, segs[i], head_len);
		assert_ptr_equal(payload, pkt + head_len + (size_t)i * s->seg_payload);
		assert_memory_equal(payload, segs[i] + head_len, payload_len);
	}
	return s->count;
}

static void check_tcp_split(bool v6)
{
	size_t ip_len = v6 ? 40 : 20;
	size_t hdrs = ip_len + 32;
	uint8_t flags = 0x10 | 0x08 | 0x01 | 0x80; /* ACK PSH FIN CWR */
	size_t len = make_tcp(super, v6, 1111, 0xfffff000u, flags, 4500, true);
	struct virtio_net_hdr h = gso_hdr(v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4,
					  1000, (uint16_t)ip_len, 16);
	struct offload_split s;
	unsigned n = split_all(&h, super, len, &s);
	unsigned i;

	assert_int_equal(n, 5);
	for (i = 0; i < n; i++) {
		const uint8_t *q = segs[i];
		size_t chunk = i < 4 ? 1000 : 500;

		assert_int_equal(seg_lens[i], hdrs + chunk);
		if (v6) {
			assert_int_equal(rd16(q + 4), seg_lens[i] - 40);
		} else {
			assert_int_equal(rd16(q + 2), seg_lens[i]);
			assert_int_equal(rd16(q + 4), 0x1234 + i);
			assert_true(ipv4_hdr_ok(q));
		}
		assert_int_equal(rd32(q + ip_len + 4), 0xfffff000u + 1000 * i);
		assert_int_equal(rd32(q + ip_len + 8), 5000);
		assert_int_equal(q[ip_len + 13],
				 0x10 | (i == 4 ? 0x09 : 0) | (i == 0 ? 0x80 : 0));
		assert_memory_equal(q + ip_len + 20, super + ip_len + 20, 12);
		assert_memory_equal(q + hdrs, super + hdrs + 1000 * i, chunk);
		assert_true(l4_ok(q, ip_len, seg_lens[i], 6));
	}
}

static void test_split_tcpv4(void **state)
{
	(void)state;
	check_tcp_split(false);
}

static void test_split_tcpv6(void **state)
{
	(void)state;
	check_tcp_split(true);
}

static void test_split_udp(void **state)
{
	size_t len = 20 + 8 + 3000;
	struct virtio_net_hdr h = gso_hdr(VIRTIO_NET_HDR_GSO_UDP_L4, 1400, 20, 6);
	struct offload_split s;
	unsigned i;

	(void)state;
	memset(super, 0, 28);
	super[0] = 0x45;
	wr16(super + 2, (uint32_t)len);
	wr16(super + 4, 7);
	super[8] = 64;
	super[9] = 17;
	super[12] = 10;
	super[19] = 2;
	wr16(super + 20, 4000);
	wr16(super + 22, 4001);
	wr16(super + 24, (uint32_t)(len - 20));
	for (i = 28; i < len; i++)
		super[i] = (uint8_t)i;
	assert_int_equal(split_all(&h, super, len, &s), 3);
	for (i = 0; i < 3; i++) {
		size_t chunk = i < 2 ? 1400 : 200;

		assert_int_equal(seg_lens[i], 28 + chunk);
		assert_int_equal(rd16(segs[i] + 2), 28 + chunk);
		assert_int_equal(rd16(segs[i] + 4), 7 + i);
		assert_int_equal(rd16(segs[i] + 24), 8 + chunk);
		assert_true(ipv4_hdr_ok(segs[i]));
		assert_true(l4_ok(segs[i], 20, seg_lens[i], 17));
		assert_memory_equal(segs[i] + 28, super + 28 + 1400 * i, chunk);
	}
}

static void test_needs_csum(void **state)
{
	size_t len = make_tcp(super, false, 1, 42, 0x18, 333, true);
	struct virtio_net_hdr h = gso_hdr(VIRTIO_NET_HDR_GSO_NONE, 0, 20, 16);
	struct offload_split s;

	(void)state;
	assert_false(l4_ok(super, 20, len, 6));
	assert_int_equal(offload_split_init(&s, &h, super, &len), OFFLOAD_SINGLE);
	assert_true(l4_ok(super, 20, len, 6));
	/* No flag: untouched */
	h.flags = 0;
	len = make_tcp(super, true, 1, 42, 0x18, 333, false);
	assert_int_equal(offload_split_init(&s, &h, super, &len), OFFLOAD_SINGLE);
	assert_true(l4_ok(super, 40, len, 6));
	assert_int_equal(offload_checksum((const uint8_t *)"\x45\x00", 2),
			 (uint16_t)~ref_fold(0x4500));
}

/* Flattens group k into out; returns its length. */
static size_t flatten(struct offload_gro *g, unsigned k, struct virtio_net_hdr *h, uint8_t *out)
{
	struct iovec iov[OFFLOAD_GRO_SEGMENTS_MAX];
	unsigned n = offload_gro_finish(g, k, h, iov);
	size_t len = 0;
	unsigned i;

	for (i = 0; i < n; i++) {
		memcpy(out + len, iov[i].iov_base, iov[i].iov_len);
		len += iov[i].iov_len;
	}
	return len;
}

static struct offload_gro gro;
static uint8_t flat[BIG];
static uint8_t orig[BIG];

static void check_round_trip(bool v6, size_t payload, uint16_t gso_size)
{
	size_t ip_len = v6 ? 40 : 20;
	size_t len = make_tcp(super, v6, 2222, 100, 0x18, payload, true);
	struct virtio_net_hdr h = gso_hdr(v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4,
					  gso_size, (uint16_t)ip_len, 16);
	struct virtio_net_hdr out;
	struct offload_split s;
	unsigned n;
	unsigned i;

	memcpy(orig, super, len);
	n = split_all(&h, super, len, &s);
	offload_gro_reset(&gro);
	for (i = 0; i < n; i++)
		assert_true(offload_gro_add(&gro, segs[i], seg_lens[i]));
	assert_int_equal(gro.groups, 1);
	assert_int_equal(flatten(&gro, 0, &out, flat), len);
	assert_memory_equal(flat, orig, len);
	assert_int_equal(out.gso_type, h.gso_type);
	assert_int_equal(out.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	assert_int_equal(out.gso_size, gso_size);
	assert_int_equal(out.hdr_len, ip_len + 32);
	assert_int_equal(out.csum_start, ip_len);
	assert_int_equal(out.csum_offset, 16);
}

static void test_round_trip(void **state)
{
	(void)state;
	check_round_trip(false, 4500, 1000);
	check_round_trip(true, 4000, 1000);
	check_round_trip(false, 1368 * 40, 1368);
	check_round_trip(true, 1348 * 48 + 17, 1348);
}

/* Adds packets made by make_tcp into segs[] and runs the GRO; returns the group count. */
static unsigned add(unsigned i, bool v6, uint16_t sport, uint32_t seq, uint8_t flags, size_t pay)
{
	seg_lens[i] = make_tcp(segs[i], v6, sport, seq, flags, pay, false);
	assert_true(offload_gro_add(&gro, segs[i], seg_lens[i]));
	return gro.groups;
}

static void test_no_coalesce(void **state)
{
	struct virtio_net_hdr h;
	unsigned g;

	(void)state;
	/* Numbered cases: each expects the second packet to start a new group. */
	offload_gro_reset(&gro);
	add(0, false, 1, 0, 0x10, 100);
	assert_int_equal(add(1, false, 2, 100, 0x10, 100), 2); /* 1: other flow */
	assert_int_equal(add(2, false, 1, 201, 0x10, 100), 3); /* 2: gap in sequence */
	assert_int_equal(add(3, false, 1, 301, 0x11, 100), 4); /* 3: FIN */
	assert_int_equal(add(4, false, 1, 401, 0x10, 100), 5); /* 4: after FIN, flow closed */
	seg_lens[5] = make_tcp(segs[5], false, 1, 501, 0x10, 100, false);
	segs[5][20 + 24] ^= 1; /* 5: different options (timestamp) */
	assert_true(offload_gro_add(&gro, segs[5], seg_lens[5]));
	assert_int_equal(gro.groups, 6);
	assert_int_equal(add(6, true, 1, 601, 0x10, 100), 7); /* 6: IPv6 is another flow */
	assert_int_equal(add(7, false, 1, 601, 0x10, 200), 8); /* 7: bigger than the first */
	assert_int_equal(add(8, false, 1, 801, 0x10, 100), 8); /* 8: a shorter last joins 7 */
	assert_int_equal(add(9, false, 1, 901, 0x10, 100), 9); /* 9: nothing after a short last */
	for (g = 0; g < gro.groups; g++)
		(void)flatten(&gro, g, &h, flat);
	assert_int_equal(gro.group[7].count, 2);
	assert_int_equal(h.gso_type, VIRTIO_NET_HDR_GSO_NONE);
}

/* An IPv4 or IPv6 UDP datagram from sport to 4001 with payload_len bytes of a pattern starting at
 * tag; checksums valid (or a zero UDP checksum: none, IPv4). */
static size_t make_udp(uint8_t *p, bool v6, uint16_t sport, uint32_t tag, size_t payload_len,
		       bool no_csum)
{
	size_t ip_len = v6 ? 40 : 20;
	size_t total = ip_len + 8 + payload_len;
	uint8_t *u = p + ip_len;
	size_t i;

	memset(p, 0, ip_len + 8);
	make_ip(p, v6, 17, 0x4321, total);
	wr16(u, sport);
	wr16(u + 2, 4001);
	wr16(u + 4, (uint32_t)(total - ip_len));
	for (i = 0; i < payload_len; i++)
		u[8 + i] = (uint8_t)((tag + i) * 13);
	if (!no_csum)
		wr16(u + 6, (uint16_t)~ref_fold(ref_sum(u, total - ip_len,
							ref_pseudo(p, 17, total - ip_len))));
	return total;
}

static uint8_t udp_orig[64][2048];
static size_t udp_orig_lens[64];

/* n datagrams of one flow (the last `last` bytes, others `size`) merge into one USO write, and
 * the kernel's split of it (offload_split, as the TUN device's USO does) gives them back byte for
 * byte, checksums included. */
static void check_udp_round_trip(bool v6, unsigned n, size_t size, size_t last)
{
	size_t ip_len = v6 ? 40 : 20;
	struct virtio_net_hdr h;
	struct offload_split s;
	size_t len;
	unsigned i;

	offload_gro_reset(&gro);
	gro.has_uso = true;
	for (i = 0; i < n; i++) {
		udp_orig_lens[i] = make_udp(udp_orig[i], v6, 5000, i * 1000, i + 1 < n ? size : last,
					    false);
		seg_lens[i] = udp_orig_lens[i];
		memcpy(segs[i], udp_orig[i], seg_lens[i]);
		assert_true(offload_gro_add(&gro, segs[i], seg_lens[i]));
	}
	assert_int_equal(gro.groups, 1);
	len = flatten(&gro, 0, &h, flat);
	assert_int_equal(len, ip_len + 8 + (n - 1) * size + last);
	assert_int_equal(h.gso_type, VIRTIO_NET_HDR_GSO_UDP_L4);
	assert_int_equal(h.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	assert_int_equal(h.gso_size, size);
	assert_int_equal(h.hdr_len, ip_len + 8);
	assert_int_equal(h.csum_start, ip_len);
	assert_int_equal(h.csum_offset, 6);
	assert_int_equal(rd16(flat + ip_len + 4), len - ip_len);
	if (!v6)
		assert_true(ipv4_hdr_ok(flat));
	memcpy(super, flat, len);
	assert_int_equal(split_all(&h, super, len, &s), n);
	for (i = 0; i < n; i++) {
		assert_int_equal(seg_lens[i], udp_orig_lens[i]);
		if (v6) {
			assert_memory_equal(segs[i], udp_orig[i], seg_lens[i]);
		} else { /* the split numbers the IDs up from the first, as the kernel's USO does */
			assert_memory_equal(segs[i] + 20, udp_orig[i] + 20, seg_lens[i] - 20);
			assert_int_equal(rd16(segs[i] + 4), (0x4321 + i) & 0xffff);
			assert_true(ipv4_hdr_ok(segs[i]));
		}
		assert_true(l4_ok(segs[i], ip_len, seg_lens[i], 17));
	}
}

static void test_udp_gro_round_trip(void **state)
{
	(void)state;
	check_udp_round_trip(false, 5, 64, 64);
	check_udp_round_trip(true, 5, 64, 20);
	check_udp_round_trip(false, 64, 1000, 1000); /* 64 segments, the most a group takes */
	check_udp_round_trip(true, 40, 1392, 1);
}

/* Adds a datagram made by make_udp; returns the group count. */
static unsigned add_udp(unsigned i, bool v6, uint16_t sport, size_t pay, bool no_csum)
{
	seg_lens[i] = make_udp(segs[i], v6, sport, i, pay, no_csum);
	assert_true(offload_gro_add(&gro, segs[i], seg_lens[i]));
	return gro.groups;
}

static void test_udp_gro_no_coalesce(void **state)
{
	struct virtio_net_hdr h;
	unsigned g;

	(void)state;
	/* Without USO, UDP is never merged. */
	offload_gro_reset(&gro);
	gro.has_uso = false;
	add_udp(0, false, 1, 100, false);
	assert_int_equal(add_udp(1, false, 1, 100, false), 2);
	/* With it, numbered cases: each expects the packet to start a new group, or join one. */
	offload_gro_reset(&gro);
	gro.has_uso = true;
	add_udp(0, false, 1, 100, false);
	assert_int_equal(add_udp(1, false, 1, 100, false), 1);  /* 1: joins */
	assert_int_equal(add_udp(2, false, 2, 100, false), 2);  /* 2: other port */
	assert_int_equal(add_udp(3, true, 1, 100, false), 3);   /* 3: IPv6 is another flow */
	assert_int_equal(add_udp(4, false, 1, 200, false), 4);  /* 4: bigger than the group's */
	assert_int_equal(add_udp(5, false, 1, 200, true), 5);   /* 5: no checksum: alone */
	assert_int_equal(add_udp(6, false, 1, 200, false), 6);  /* 6: ... and it closed the flow */
	assert_int_equal(add_udp(7, false, 1, 50, false), 6);   /* 7: a shorter last joins 6 */
	assert_int_equal(add_udp(8, false, 1, 50, false), 7);   /* 8: nothing after a short last */
	seg_lens[9] = make_udp(segs[9], false, 1, 9, 50, false);
	segs[9][30] ^= 1; /* 9: corrupted before encryption: not merged, written as it came */
	assert_true(offload_gro_add(&gro, segs[9], seg_lens[9]));
	assert_int_equal(gro.groups, 8);
	assert_int_equal(add(10, false, 1, 0, 0x10, 100), 9); /* 10: TCP with the same ports */
	assert_int_equal(add_udp(11, false, 1, 50, false), 10); /* 11: UDP after it, a new group */
	assert_int_equal(add_udp(12, false, 1, 50, false), 10); /* 12: joins 11 */
	for (g = 0; g < gro.groups; g++)
		(void)flatten(&gro, g, &h, flat);
	assert_int_equal(gro.group[0].count, 2);
	assert_int_equal(gro.group[5].count, 2);
	assert_int_equal(gro.group[7].count, 1);
	assert_false(l4_ok(segs[9], 20, seg_lens[9], 17));
	assert_int_equal(gro.group[9].count, 2);
	assert_int_equal(h.gso_type, VIRTIO_NET_HDR_GSO_UDP_L4);
}

static void test_order(void **state)
{
	(void)state;
	/* A1 B1 A2 B2 A(gap) B3: A and B coalesce; A's gap starts a new group after both */
	offload_gro_reset(&gro);
	add(0, false, 1, 0, 0x10, 100);
	add(1, false, 2, 0, 0x10, 100);
	add(2, false, 1, 100, 0x10, 100);
	add(3, false, 2, 100, 0x10, 100);
	add(4, false, 1, 300, 0x10, 100);
	add(5, false, 2, 200, 0x18, 100);
	assert_int_equal(gro.groups, 3);
	assert_int_equal(gro.group[0].first, 0);
	assert_int_equal(gro.group[0].count, 2);
	assert_int_equal(gro.group[1].first, 1);
	assert_int_equal(gro.group[1].count, 3);
	assert_true(gro.group[1].has_psh);
	assert_int_equal(gro.group[2].first, 4);
	/* A pure ACK (no payload) of flow A closes A's group: A's next data starts a new one */
	offload_gro_reset(&gro);
	add(0, false, 1, 0, 0x10, 100);
	add(1, false, 1, 100, 0x10, 0);
	add(2, false, 1, 100, 0x10, 100);
	assert_int_equal(gro.groups, 3);
	/* Non-TCP packets stay alone and in place */
	offload_gro_reset(&gro);
	memset(segs[0], 0, 28);
	segs[0][0] = 0x45;
	segs[0][9] = 17;
	wr16(segs[0] + 2, 28);
	assert_true(offload_gro_add(&gro, segs[0], 28));
	add(1, false, 1, 0, 0x10, 100);
	assert_int_equal(gro.groups, 2);
}

/* How the bad segment is corrupted "before encryption": a payload bit (the TCP checksum no longer
 * verifies) or a bit of the IPv4 ID, which the GRO does not compare under DF (the header checksum
 * no longer verifies). Neither checksum is fixed. */
enum corruption { FLIP_PAYLOAD, FLIP_IPV4_ID };

/* Five 100-byte segments of one flow, segment bad corrupted. The GRO must write the bad one alone
 * and as it came, and coalesce the good ones before and after it without it, in order: groups
 * [0, bad), [bad], (bad, 5). Returns NULL, or what went wrong. */
static const char *check_bad_segment(bool v6, unsigned bad, enum corruption c)
{
	enum { N = 5, PAY = 100, SEQ = 1000 };
	size_t ip_len = v6 ? 40 : 20;
	size_t hdrs = ip_len + 32;
	unsigned first[3];
	unsigned count[3];
	unsigned groups = 0;
	struct virtio_net_hdr zero;
	struct virtio_net_hdr h;
	unsigned k;
	unsigned i;

	if (bad > 0) {
		first[groups] = 0;
		count[groups++] = bad;
	}
	first[groups] = bad;
	count[groups++] = 1;
	if (bad + 1 < N) {
		first[groups] = bad + 1;
		count[groups++] = N - bad - 1;
	}
	memset(&zero, 0, sizeof(zero));
	offload_gro_reset(&gro);
	for (i = 0; i < N; i++) {
		seg_lens[i] = make_tcp(segs[i], v6, 3333, SEQ + PAY * i, 0x10, PAY, false);
		if (i == bad) {
			if (c == FLIP_PAYLOAD)
				segs[i][hdrs + 37] ^= 0x20;
			else
				segs[i][5] ^= 0x01;
			memcpy(orig, segs[i], seg_lens[i]);
		}
		assert_true(offload_gro_add(&gro, segs[i], seg_lens[i]));
	}
	if (gro.groups != groups)
		return "wrong number of groups";
	for (k = 0; k < groups; k++) {
		size_t len = flatten(&gro, k, &h, flat);
		size_t want;

		if (gro.group[k].first != first[k] || gro.group[k].count != count[k])
			return "groups not [0, bad), [bad], (bad, 5) in order";
		if (first[k] == bad) {
			if (len != seg_lens[bad] || memcmp(flat, orig, len) != 0)
				return "the bad segment was not written as it came";
			if (memcmp(&h, &zero, sizeof(h)) != 0)
				return "the bad segment's virtio header is not zero";
			if (c == FLIP_PAYLOAD ? l4_ok(flat, ip_len, len, 6) : ipv4_hdr_ok(flat))
				return "the bad segment's checksum was repaired";
			continue;
		}
		/* A lone good segment comes out as it went in; a group as the one packet it stands
		 * for, its TCP checksum field holding the pseudo-header sum (NEEDS_CSUM). */
		want = make_tcp(super, v6, 3333, SEQ + PAY * first[k], 0x10, PAY * count[k],
				count[k] > 1);
		if (len != want || memcmp(flat, super, len) != 0)
			return "a good group's bytes differ from the packet it stands for";
		if (count[k] == 1 ? memcmp(&h, &zero, sizeof(h)) != 0
				  : h.flags != VIRTIO_NET_HDR_F_NEEDS_CSUM || h.gso_size != PAY)
			return "a good group's virtio header is wrong";
	}
	return NULL;
}

static void check_bad_segments(bool v6, enum corruption c, const char *what)
{
	const char *err;
	unsigned bad;

	for (bad = 0; bad < 5; bad++) {
		err = check_bad_segment(v6, bad, c);
		if (err)
			fail_msg("%s, bad segment %u of 5: %s", what, bad, err);
	}
}

static void test_gro_bad_tcp_csum_v4(void **state)
{
	(void)state;
	check_bad_segments(false, FLIP_PAYLOAD, "IPv4, payload byte flipped");
}

static void test_gro_bad_tcp_csum_v6(void **state)
{
	(void)state;
	check_bad_segments(true, FLIP_PAYLOAD, "IPv6, payload byte flipped");
}

static void test_gro_bad_ipv4_hdr_csum(void **state)
{
	(void)state;
	check_bad_segments(false, FLIP_IPV4_ID, "IPv4 ID bit flipped");
}

static void test_gro_bad_csum_keeps_order(void **state)
{
	(void)state;
	/* A1 A2 A3(bad) A3(good copy, a retransmission): the copy continues A1 A2 exactly, yet it
	 * must not join them and so be written before the bad A3: the bad one closed the flow. */
	offload_gro_reset(&gro);
	add(0, false, 1, 0, 0x10, 100);
	add(1, false, 1, 100, 0x10, 100);
	seg_lens[2] = make_tcp(segs[2], false, 1, 200, 0x10, 100, false);
	segs[2][20 + 32 + 99] ^= 0x80;
	assert_true(offload_gro_add(&gro, segs[2], seg_lens[2]));
	assert_int_equal(add(3, false, 1, 200, 0x10, 100), 3);
	assert_int_equal(gro.group[0].count, 2);
	assert_int_equal(gro.group[1].first, 2);
	assert_int_equal(gro.group[1].count, 1);
	assert_int_equal(gro.group[2].first, 3);
}

/* Every length and alignment through the word loops and the tails, on data whose sums carry out of
 * 64 bits on every word (all ones) and on a pattern. */
static void test_checksum_lengths(void **state)
{
	size_t off;
	size_t len;
	size_t i;
	int pass;

	(void)state;
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < 512; i++)
			super[i] = pass == 0 ? 0xff : (uint8_t)(i * 131 + 17);
		for (off = 0; off < 8; off++) {
			for (len = 0; len <= 300; len++) {
				uint16_t want = (uint16_t)~ref_fold(ref_sum(super + off, len, 0));

				if (offload_checksum(super + off, len) != want)
					fail_msg("pass %d, offset %zu, length %zu: wrong checksum",
						 pass, off, len);
			}
		}
	}
}

static void test_malformed(void **state)
{
	struct offload_split s;
	struct virtio_net_hdr h;
	size_t len;
	size_t l;

	(void)state;
	len = make_tcp(super, false, 1, 0, 0x10, 3000, true);
	h = gso_hdr(VIRTIO_NET_HDR_GSO_TCPV4, 0, 20, 16); /* gso_size 0 */
	l = len;
	assert_int_equal(offload_split_init(&s, &h, super, &l), OFFLOAD_DROP);
	h = gso_hdr(VIRTIO_NET_HDR_GSO_TCPV6, 1000, 20, 16); /* type does not match */
	l = len;
	assert_int_equal(offload_split_init(&s, &h, super, &l), OFFLOAD_DROP);
	h = gso_hdr(VIRTIO_NET_HDR_GSO_UDP, 1000, 20, 16); /* UFO: not offered */
	l = len;
	assert_int_equal(offload_split_init(&s, &h, super, &l), OFFLOAD_DROP);
	h = gso_hdr(VIRTIO_NET_HDR_GSO_TCPV4, 1000, 20, 16);
	l = len - 1; /* total length beyond the packet */
	assert_int_equal(offload_split_init(&s, &h, super, &l), OFFLOAD_DROP);
	l = 30; /* truncated TCP header */
	assert_int_equal(offload_split_init(&s, &h, super, &l), OFFLOAD_DROP);
	l = 0;
	assert_int_equal(offload_split_init(&s, &h, super, &l), OFFLOAD_DROP);
	super[20 + 12] = 4 << 4; /* data offset 16 bytes */
	l = len;
	assert_int_equal(offload_split_init(&s, &h, super, &l), OFFLOAD_DROP);
	super[20 + 12] = 15 << 4; /* 60 bytes: fits, but mismatched with the options: still parses */
	l = len;
	assert_int_equal(offload_split_init(&s, &h, super, &l), OFFLOAD_SEGMENTS);
	super[0] = 0x55; /* version 5 */
	l = len;
	assert_int_equal(offload_split_init(&s, &h, super, &l), OFFLOAD_DROP);
	len = make_tcp(super, false, 1, 0, 0x10, 100, true);
	h = gso_hdr(VIRTIO_NET_HDR_GSO_NONE, 0, (uint16_t)len, 16); /* csum_start at the end */
	l = len;
	assert_int_equal(offload_split_init(&s, &h, super, &l), OFFLOAD_DROP);
	h = gso_hdr(VIRTIO_NET_HDR_GSO_NONE, 0, 20, (uint16_t)(len - 21)); /* field past the end */
	l = len;
	assert_int_equal(offload_split_init(&s, &h, super, &l), OFFLOAD_DROP);
	h = gso_hdr(VIRTIO_NET_HDR_GSO_NONE, 0, 0xffff, 0xffff);
	l = len;
	assert_int_equal(offload_split_init(&s, &h, super, &l), OFFLOAD_DROP);
	wr16(super + 6, 0x2000); /* MF: a fragment cannot be segmented */
	h = gso_hdr(VIRTIO_NET_HDR_GSO_TCPV4, 50, 20, 16);
	l = len;
	assert_int_equal(offload_split_init(&s, &h, super, &l), OFFLOAD_DROP);
	/* Bad packets given to the GRO stay alone and are written as they are */
	offload_gro_reset(&gro);
	assert_true(offload_gro_add(&gro, super, 3));
	assert_true(offload_gro_add(&gro, super, len - 5));
	assert_int_equal(gro.groups, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_tcpv4),   cmocka_unit_test(test_split_tcpv6),
		cmocka_unit_test(test_split_udp),     cmocka_unit_test(test_needs_csum),
		cmocka_unit_test(test_round_trip),    cmocka_unit_test(test_no_coalesce),
		cmocka_unit_test(test_order),         cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_gro_bad_tcp_csum_v4),
		cmocka_unit_test(test_gro_bad_tcp_csum_v6),
		cmocka_unit_test(test_gro_bad_ipv4_hdr_csum),
		cmocka_unit_test(test_gro_bad_csum_keeps_order),
		cmocka_unit_test(test_checksum_lengths),
		cmocka_unit_test(test_udp_gro_round_trip),
		cmocka_unit_test(test_udp_gro_no_coalesce),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
