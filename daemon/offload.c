/* SPDX-License-Identifier: MIT */
/*
 * Userspace TSO/USO and GRO for the TUN device. Splitting follows the kernel's tcp_gso_segment and
 * __udp_gso_segment (per segment: IPv4 ID + 1, sequence + gso_size, FIN/PSH on the last only, CWR on
 * the first only); coalescing follows tcp_gro_receive's rules (identical headers but for the
 * sequence number and PSH, equal sizes but for a shorter last segment, checksums verified before
 * two packets merge), as wireguard-go's tun offload does. Checksums are RFC 1071 sums kept in
 * network byte order as they sit in memory, so no byte swapping is needed on either endianness.
 */
#include "daemon/offload.h"

#include <stdlib.h>
#include <string.h>

#include "base/bytes.h"
#include "base/ip.h"

bool offload_is_disabled(void)
{
	const char *v = getenv("WGC_NO_OFFLOAD");

	return v && strcmp(v, "1") == 0;
}

/* ---- checksums ---- */

/* A one's-complement sum of data's 16-bit words as they lie in memory: folding it and storing the
 * result with memcpy gives network byte order on any host (RFC 1071, "byte order independence").
 * Words are added 64 bits at a time with the end-around carries counted and added back at the
 * end, which folds to the same 16-bit sum because 2^64 - 1 is a multiple of 2^16 - 1 (RFC 1071,
 * "deferred carries" and "parallel summation"); two chains of additions run side by side. */
static uint64_t sum_partial(const uint8_t *p, size_t len, uint64_t sum)
{
	uint64_t s0 = sum;
	uint64_t s1 = 0;
	uint64_t c0 = 0;
	uint64_t c1 = 0;
	uint64_t w0;
	uint64_t w1;
	uint32_t w32;
	uint16_t w16;

	/* one 8-byte load per word: copying 32 bytes to an array goes through the stack */
	while (len >= 4 * 8) {
		memcpy(&w0, p, 8);
		memcpy(&w1, p + 8, 8);
		s0 += w0;
		c0 += s0 < w0;
		s1 += w1;
		c1 += s1 < w1;
		memcpy(&w0, p + 16, 8);
		memcpy(&w1, p + 24, 8);
		s0 += w0;
		c0 += s0 < w0;
		s1 += w1;
		c1 += s1 < w1;
		p += 4 * 8;
		len -= 4 * 8;
	}
	while (len >= 8) {
		memcpy(&w0, p, 8);
		s0 += w0;
		c0 += s0 < w0;
		p += 8;
		len -= 8;
	}
	if (len >= 4) {
		memcpy(&w32, p, 4);
		s1 += w32;
		c1 += s1 < w32;
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		memcpy(&w16, p, 2);
		s1 += w16;
		c1 += s1 < w16;
		p += 2;
		len -= 2;
	}
	if (len) {
		uint8_t last[2] = { p[0], 0 };

		memcpy(&w16, last, 2);
		s1 += w16;
		c1 += s1 < w16;
	}
	s0 += s1;
	c0 += (s0 < s1) + c1;
	s0 += c0;
	/* a wrap here leaves s0 below c0, so adding its carry cannot wrap again */
	return s0 + (s0 < c0);
}

static uint16_t fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* Stores a folded in-memory sum's complement at p (network byte order). */
static void put_csum(uint8_t *p, uint16_t folded_complement)
{
	memcpy(p, &folded_complement, 2);
}

static uint64_t pseudo_sum(const uint8_t *ip, uint8_t proto, size_t l4_len)
{
	uint8_t tail[4] = { 0, proto, (uint8_t)(l4_len >> 8), (uint8_t)l4_len };
	uint64_t sum;

	/* source and destination addresses, which lie next to each other in both families */
	if (wgc_ip_version(ip) == WGC_IP_VERSION_4)
		sum = sum_partial(ip + WGC_IPV4_OFF_SRC, 2 * WGC_IPV4_ADDR_LEN, 0);
	else
		sum = sum_partial(ip + WGC_IPV6_OFF_SRC, 2 * WGC_IPV6_ADDR_LEN, 0);
	return sum_partial(tail, 4, sum);
}

uint16_t offload_checksum(const uint8_t *data, size_t len)
{
	uint16_t c = (uint16_t)~fold(sum_partial(data, len, 0));
	uint8_t out[2];

	memcpy(out, &c, 2);
	return wgc_load_be16(out);
}

uint16_t offload_l4_checksum(const uint8_t *ip, const uint8_t *l4, size_t l4_len, uint8_t proto)
{
	uint16_t c = (uint16_t)~fold(sum_partial(l4, l4_len, pseudo_sum(ip, proto, l4_len)));
	uint8_t out[2];

	memcpy(out, &c, 2);
	return wgc_load_be16(out);
}

static void set_ipv4_csum(uint8_t *ip, size_t ip_len)
{
	wgc_store_be16(ip + WGC_IPV4_OFF_CHECKSUM, 0);
	put_csum(ip + WGC_IPV4_OFF_CHECKSUM, (uint16_t)~fold(sum_partial(ip, ip_len, 0)));
}

/* ---- segmentation ---- */

/* NEEDS_CSUM without GSO: the field at csum_start + csum_offset holds the pseudo-header sum; sum
 * from csum_start to the end over it and store the complement, as skb_checksum_help does. */
static bool complete_csum(const struct virtio_net_hdr *hdr, uint8_t *pkt, size_t len)
{
	size_t start = hdr->csum_start;
	size_t field = start + hdr->csum_offset;
	uint16_t c;

	if (start >= len || field + 2 > len)
		return false;
	c = (uint16_t)~fold(sum_partial(pkt + start, len - start, 0));
	if (c == 0)
		c = 0xffff;
	put_csum(pkt + field, c);
	return true;
}

/* The IP layer of a GSO packet: header length, the length it states (which bounds the packet) and
 * the L4 protocol. IPv4 fragments and IPv6 extension headers are refused. */
static bool parse_ip(struct offload_split *s, size_t *len, uint8_t *proto)
{
	const uint8_t *ip = s->pkt;
	size_t stated;

	if (*len < WGC_IPV4_HEADER_MIN_LEN)
		return false;
	if (wgc_ip_version(ip) == WGC_IP_VERSION_4) {
		s->ip_len = wgc_ipv4_header_len(ip);
		stated = wgc_load_be16(ip + WGC_IPV4_OFF_TOTAL_LEN);
		if (s->ip_len < WGC_IPV4_HEADER_MIN_LEN ||
		    (wgc_load_be16(ip + WGC_IPV4_OFF_FRAG) & WGC_IPV4_FRAG_MF_OFFSET) != 0)
			return false;
		*proto = ip[WGC_IPV4_OFF_PROTOCOL];
	} else if (wgc_ip_version(ip) == WGC_IP_VERSION_6) {
		if (*len < WGC_IPV6_HEADER_LEN)
			return false;
		s->ip_len = WGC_IPV6_HEADER_LEN;
		s->is_v6 = true;
		stated = WGC_IPV6_HEADER_LEN + (size_t)wgc_load_be16(ip + WGC_IPV6_OFF_PAYLOAD_LEN);
		*proto = ip[WGC_IPV6_OFF_NEXT_HEADER];
	} else {
		return false;
	}
	if (stated < s->ip_len || stated > *len)
		return false;
	*len = stated;
	return true;
}

enum offload_verdict offload_split_init(struct offload_split *s, const struct virtio_net_hdr *hdr,
					uint8_t *pkt, size_t *len)
{
	unsigned gso = hdr->gso_type & (unsigned)~VIRTIO_NET_HDR_GSO_ECN;
	size_t payload;
	uint8_t proto;

	memset(s, 0, sizeof(*s));
	s->pkt = pkt;
	if (gso == VIRTIO_NET_HDR_GSO_NONE) {
		if (*len == 0)
			return OFFLOAD_DROP;
		if ((hdr->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && !complete_csum(hdr, pkt, *len))
			return OFFLOAD_DROP;
		return OFFLOAD_SINGLE;
	}
	if (hdr->gso_size == 0 || !parse_ip(s, len, &proto))
		return OFFLOAD_DROP;
	if (gso == VIRTIO_NET_HDR_GSO_TCPV4 && (s->is_v6 || proto != WGC_IPPROTO_TCP))
		return OFFLOAD_DROP;
	if (gso == VIRTIO_NET_HDR_GSO_TCPV6 && (!s->is_v6 || proto != WGC_IPPROTO_TCP))
		return OFFLOAD_DROP;
	if (gso == VIRTIO_NET_HDR_GSO_UDP_L4 && proto != WGC_IPPROTO_UDP)
		return OFFLOAD_DROP;
	if (gso != VIRTIO_NET_HDR_GSO_TCPV4 && gso != VIRTIO_NET_HDR_GSO_TCPV6 &&
	    gso != VIRTIO_NET_HDR_GSO_UDP_L4)
		return OFFLOAD_DROP;
	s->is_udp = proto == WGC_IPPROTO_UDP;
	if (s->is_udp) {
		s->l4_len = WGC_UDP_HEADER_LEN;
	} else {
		if (*len < s->ip_len + WGC_TCP_HEADER_MIN_LEN)
			return OFFLOAD_DROP;
		s->l4_len = wgc_tcp_header_len(pkt + s->ip_len);
		if (s->l4_len < WGC_TCP_HEADER_MIN_LEN)
			return OFFLOAD_DROP;
	}
	if (s->ip_len + s->l4_len > *len)
		return OFFLOAD_DROP;
	s->len = *len;
	payload = *len - s->ip_len - s->l4_len;
	s->seg_payload = hdr->gso_size;
	s->count = payload == 0 ? 1 : (unsigned)((payload + s->seg_payload - 1) / s->seg_payload);
	return OFFLOAD_SEGMENTS;
}

/* Writes the full L4 checksum at l4 + csum_offset (the field is zeroed first) of a segment whose
 * payload (payload_len bytes, after the l4_hdr_len bytes of header at l4) may lie elsewhere: the
 * header's length is even, so the two sums chain. UDP's zero becomes 0xffff (RFC 768); for TCP
 * the two are the same value. */
static void set_l4_csum_split(const uint8_t *ip, uint8_t *l4, size_t l4_hdr_len,
			      const uint8_t *payload, size_t payload_len, uint8_t proto,
			      size_t csum_offset)
{
	size_t l4_len = l4_hdr_len + payload_len;
	uint64_t sum;
	uint16_t c;

	wgc_store_be16(l4 + csum_offset, 0);
	sum = sum_partial(l4, l4_hdr_len, pseudo_sum(ip, proto, l4_len));
	c = (uint16_t)~fold(sum_partial(payload, payload_len, sum));
	if (c == 0)
		c = 0xffff;
	put_csum(l4 + csum_offset, c);
}

size_t offload_split_header(const struct offload_split *s, unsigned i, uint8_t *out,
			    const uint8_t **payload, size_t *payload_len)
{
	size_t hdrs = s->ip_len + s->l4_len;
	size_t offset = (size_t)i * s->seg_payload;
	size_t chunk = s->len - hdrs - offset;
	size_t total;
	uint8_t *l4 = out + s->ip_len;
	const uint8_t *data = s->pkt + hdrs + offset;

	if (chunk > s->seg_payload)
		chunk = s->seg_payload;
	total = hdrs + chunk;
	*payload = data;
	*payload_len = chunk;
	memcpy(out, s->pkt, hdrs);
	if (s->is_v6) {
		wgc_store_be16(out + WGC_IPV6_OFF_PAYLOAD_LEN, (uint16_t)(total - WGC_IPV6_HEADER_LEN));
	} else {
		wgc_store_be16(out + WGC_IPV4_OFF_TOTAL_LEN, (uint16_t)total);
		wgc_store_be16(out + WGC_IPV4_OFF_ID,
			       (uint16_t)(wgc_load_be16(s->pkt + WGC_IPV4_OFF_ID) + i));
		set_ipv4_csum(out, s->ip_len);
	}
	if (s->is_udp) {
		wgc_store_be16(l4 + WGC_UDP_OFF_LEN, (uint16_t)(WGC_UDP_HEADER_LEN + chunk));
		set_l4_csum_split(out, l4, WGC_UDP_HEADER_LEN, data, chunk, WGC_IPPROTO_UDP,
				  WGC_UDP_OFF_CHECKSUM);
		return hdrs;
	}
	wgc_store_be32(l4 + WGC_TCP_OFF_SEQ,
		       wgc_load_be32(s->pkt + s->ip_len + WGC_TCP_OFF_SEQ) + (uint32_t)offset);
	if (i + 1 < s->count)
		l4[WGC_TCP_OFF_FLAGS] &= (uint8_t)~(WGC_TCP_FLAG_FIN | WGC_TCP_FLAG_PSH);
	if (i > 0)
		l4[WGC_TCP_OFF_FLAGS] &= (uint8_t)~WGC_TCP_FLAG_CWR;
	set_l4_csum_split(out, l4, s->l4_len, data, chunk, WGC_IPPROTO_TCP, WGC_TCP_OFF_CHECKSUM);
	return hdrs;
}

size_t offload_split_segment(const struct offload_split *s, unsigned i, uint8_t *out)
{
	const uint8_t *payload;
	size_t payload_len;
	size_t hdrs = offload_split_header(s, i, out, &payload, &payload_len);

	memcpy(out + hdrs, payload, payload_len);
	return hdrs + payload_len;
}

/* ---- coalescing ---- */

/* A TCP or UDP packet's layout, or ip_len 0 when the packet is neither over IPv4/IPv6 as we can
 * parse it. tcp_len is the L4 header's length (8 for UDP). */
struct tcp_view {
	size_t ip_len;
	size_t tcp_len;
	size_t payload;
	uint8_t proto;     /* WGC_IPPROTO_TCP or WGC_IPPROTO_UDP */
	bool is_v6;
	bool is_candidate; /* may be coalesced at all */
};

/* IPv4 without options or fragments, or IPv6 without extension headers: the only packets merged. */
static bool ip_is_plain(const uint8_t *p, const struct tcp_view *v)
{
	return v->is_v6 || (v->ip_len == WGC_IPV4_HEADER_MIN_LEN &&
			    (wgc_load_be16(p + WGC_IPV4_OFF_FRAG) & WGC_IPV4_FRAG_MF_OFFSET) == 0);
}

/* has_uso: UDP datagrams may be merged too (the TUN device takes USO writes). */
static void view_packet(const uint8_t *p, size_t len, bool has_uso, struct tcp_view *v)
{
	size_t stated;
	uint8_t flags;

	memset(v, 0, sizeof(*v));
	if (len < WGC_IPV4_HEADER_MIN_LEN)
		return;
	if (wgc_ip_version(p) == WGC_IP_VERSION_4) {
		v->proto = p[WGC_IPV4_OFF_PROTOCOL];
		v->ip_len = wgc_ipv4_header_len(p);
		stated = wgc_load_be16(p + WGC_IPV4_OFF_TOTAL_LEN);
		if (v->ip_len < WGC_IPV4_HEADER_MIN_LEN)
			v->ip_len = 0;
	} else if (wgc_ip_version(p) == WGC_IP_VERSION_6 && len >= WGC_IPV6_HEADER_LEN) {
		v->proto = p[WGC_IPV6_OFF_NEXT_HEADER];
		v->ip_len = WGC_IPV6_HEADER_LEN;
		v->is_v6 = true;
		stated = WGC_IPV6_HEADER_LEN + (size_t)wgc_load_be16(p + WGC_IPV6_OFF_PAYLOAD_LEN);
	} else {
		return;
	}
	if (v->ip_len == 0 || stated != len ||
	    !(v->proto == WGC_IPPROTO_TCP || (v->proto == WGC_IPPROTO_UDP && has_uso))) {
		v->ip_len = 0;
		return;
	}
	if (v->proto == WGC_IPPROTO_UDP) {
		/* the stated UDP length must be the packet's; a zero checksum (none, IPv4) is not
		 * merged: the merged packet's would be computed, changing what the sender sent */
		if (len < v->ip_len + WGC_UDP_HEADER_LEN ||
		    wgc_load_be16(p + v->ip_len + WGC_UDP_OFF_LEN) != len - v->ip_len) {
			v->ip_len = 0;
			return;
		}
		v->tcp_len = WGC_UDP_HEADER_LEN;
		v->payload = len - v->ip_len - WGC_UDP_HEADER_LEN;
		v->is_candidate = v->payload > 0 && ip_is_plain(p, v) &&
				  wgc_load_be16(p + v->ip_len + WGC_UDP_OFF_CHECKSUM) != 0;
		return;
	}
	if (len < v->ip_len + WGC_TCP_HEADER_MIN_LEN) {
		v->ip_len = 0;
		return;
	}
	v->tcp_len = wgc_tcp_header_len(p + v->ip_len);
	if (v->tcp_len < WGC_TCP_HEADER_MIN_LEN || v->ip_len + v->tcp_len > len) {
		v->ip_len = 0;
		return;
	}
	v->payload = len - v->ip_len - v->tcp_len;
	flags = p[v->ip_len + WGC_TCP_OFF_FLAGS];
	v->is_candidate = v->payload > 0 &&
			  (flags == WGC_TCP_FLAG_ACK || flags == (WGC_TCP_FLAG_ACK | WGC_TCP_FLAG_PSH)) &&
			  ip_is_plain(p, v);
}

/* Same protocol, addresses and ports (the flow), for the ordering rule. */
static bool same_flow(const uint8_t *a, size_t a_ip_len, uint8_t a_proto, const uint8_t *b,
		      size_t b_ip_len, uint8_t b_proto)
{
	if (wgc_ip_version(a) != wgc_ip_version(b) || a_proto != b_proto)
		return false;
	if (wgc_ip_version(a) == WGC_IP_VERSION_4) {
		if (memcmp(a + WGC_IPV4_OFF_SRC, b + WGC_IPV4_OFF_SRC, 2 * WGC_IPV4_ADDR_LEN) != 0)
			return false;
	} else if (memcmp(a + WGC_IPV6_OFF_SRC, b + WGC_IPV6_OFF_SRC, 2 * WGC_IPV6_ADDR_LEN) != 0) {
		return false;
	}
	/* source and destination ports: the first four bytes of TCP's and of UDP's header */
	return memcmp(a + a_ip_len + WGC_TCP_OFF_SRC_PORT, b + b_ip_len + WGC_TCP_OFF_SRC_PORT,
		      WGC_TCP_OFF_SEQ - WGC_TCP_OFF_SRC_PORT) == 0;
}

/* Whether packet p (view v) continues group grp exactly. */
static bool can_append(const struct offload_gro *g, const struct offload_gro_group *grp,
		       const uint8_t *p, const struct tcp_view *v)
{
	const uint8_t *f = g->data[grp->first];
	const uint8_t *l = g->data[grp->last];
	const uint8_t *ft = f + grp->ip_len;
	const uint8_t *lt = l + grp->ip_len;
	const uint8_t *pt = p + v->ip_len;
	size_t l_payload = g->len[grp->last] - grp->ip_len - grp->tcp_len;

	if (!grp->is_open || v->ip_len != grp->ip_len || v->tcp_len != grp->tcp_len ||
	    v->payload > grp->seg_payload || grp->count >= OFFLOAD_GRO_SEGMENTS_MAX ||
	    grp->total_len + v->payload > OFFLOAD_PACKET_MAX)
		return false;
	if (v->is_v6) {
		/* version, traffic class, flow label (one 32-bit word); next header; hop limit */
		if (memcmp(f + WGC_IPV6_OFF_VERSION_CLASS_FLOW, p + WGC_IPV6_OFF_VERSION_CLASS_FLOW,
			   sizeof(uint32_t)) != 0 ||
		    f[WGC_IPV6_OFF_NEXT_HEADER] != p[WGC_IPV6_OFF_NEXT_HEADER] ||
		    f[WGC_IPV6_OFF_HOP_LIMIT] != p[WGC_IPV6_OFF_HOP_LIMIT])
			return false;
	} else {
		uint16_t ff = wgc_load_be16(f + WGC_IPV4_OFF_FRAG);

		/* TOS, flags (DF), TTL, protocol; without DF the IDs must count up */
		if (f[WGC_IPV4_OFF_TOS] != p[WGC_IPV4_OFF_TOS] ||
		    ff != wgc_load_be16(p + WGC_IPV4_OFF_FRAG) ||
		    f[WGC_IPV4_OFF_TTL] != p[WGC_IPV4_OFF_TTL] ||
		    f[WGC_IPV4_OFF_PROTOCOL] != p[WGC_IPV4_OFF_PROTOCOL])
			return false;
		if (!(ff & WGC_IPV4_FRAG_DF) && wgc_load_be16(p + WGC_IPV4_OFF_ID) !=
						    (uint16_t)(wgc_load_be16(l + WGC_IPV4_OFF_ID) + 1))
			return false;
	}
	/* UDP: a shorter datagram ends the group (can_append's size test and append) */
	if (v->proto == WGC_IPPROTO_UDP)
		return true;
	/* ACK number and data offset (up to the flags), window, and urgent pointer and options (to
	 * the end of the header) identical; the flags are ACK(+PSH), checked by view_packet */
	if (memcmp(ft + WGC_TCP_OFF_ACK, pt + WGC_TCP_OFF_ACK,
		   WGC_TCP_OFF_FLAGS - WGC_TCP_OFF_ACK) != 0 ||
	    memcmp(ft + WGC_TCP_OFF_WINDOW, pt + WGC_TCP_OFF_WINDOW,
		   WGC_TCP_OFF_CHECKSUM - WGC_TCP_OFF_WINDOW) != 0 ||
	    memcmp(ft + WGC_TCP_OFF_URGENT, pt + WGC_TCP_OFF_URGENT,
		   grp->tcp_len - WGC_TCP_OFF_URGENT) != 0)
		return false;
	return wgc_load_be32(pt + WGC_TCP_OFF_SEQ) ==
	       wgc_load_be32(lt + WGC_TCP_OFF_SEQ) + (uint32_t)l_payload;
}

/* Whether the IPv4 header checksum (as the kernel's inet_gro_receive requires) and the TCP or UDP
 * checksum of packet p verify. A merged packet's headers and checksum are rebuilt from scratch (IPv4 header
 * checksum recomputed, TCP left to NEEDS_CSUM), so a segment corrupted before the sender encrypted
 * it would otherwise come out looking valid. */
static bool sums_verify(const uint8_t *p, size_t ip_len, size_t len, uint8_t proto)
{
	if (wgc_ip_version(p) == WGC_IP_VERSION_4 && fold(sum_partial(p, ip_len, 0)) != 0xffff)
		return false;
	return fold(sum_partial(p + ip_len, len - ip_len, pseudo_sum(p, proto, len - ip_len))) ==
	       0xffff;
}

void offload_gro_reset(struct offload_gro *g)
{
	g->count = 0;
	g->groups = 0;
}

static void start_group(struct offload_gro *g, unsigned idx, const struct tcp_view *v)
{
	struct offload_gro_group *grp = &g->group[g->groups++];
	const uint8_t *p = g->data[idx];

	memset(grp, 0, sizeof(*grp));
	grp->first = (uint16_t)idx;
	grp->last = (uint16_t)idx;
	grp->count = 1;
	grp->total_len = (uint32_t)g->len[idx];
	if (!v->is_candidate)
		return;
	grp->ip_len = (uint8_t)v->ip_len;
	grp->tcp_len = (uint8_t)v->tcp_len;
	grp->proto = v->proto;
	grp->seg_payload = (uint32_t)v->payload;
	grp->has_psh = v->proto == WGC_IPPROTO_TCP &&
		       (p[v->ip_len + WGC_TCP_OFF_FLAGS] & WGC_TCP_FLAG_PSH);
	grp->is_open = !grp->has_psh;
}

static void append(struct offload_gro *g, struct offload_gro_group *grp, unsigned idx,
		   const struct tcp_view *v)
{
	g->next[grp->last] = (int16_t)idx;
	grp->last = (uint16_t)idx;
	grp->count++;
	grp->total_len += (uint32_t)v->payload;
	grp->has_psh = v->proto == WGC_IPPROTO_TCP &&
		       (g->data[idx][v->ip_len + WGC_TCP_OFF_FLAGS] & WGC_TCP_FLAG_PSH);
	grp->is_open = !grp->has_psh && v->payload == grp->seg_payload;
}

bool offload_gro_add(struct offload_gro *g, uint8_t *data, size_t len)
{
	struct tcp_view v;
	unsigned idx = g->count;
	unsigned k;

	if (g->count == OFFLOAD_GRO_PACKETS_MAX)
		return false;
	g->data[idx] = data;
	g->len[idx] = len;
	g->next[idx] = -1;
	g->count++;
	view_packet(data, len, g->has_uso, &v);
	if (v.ip_len == 0) {
		start_group(g, idx, &v);
		return true;
	}
	/* The flow's latest group is the only one that can be open. */
	for (k = g->groups; k-- > 0;) {
		struct offload_gro_group *grp = &g->group[k];

		if (grp->ip_len == 0 || !same_flow(g->data[grp->first], grp->ip_len, grp->proto,
						   data, v.ip_len, v.proto))
			continue;
		if (!v.is_candidate || !can_append(g, grp, data, &v)) {
			grp->is_open = false;
			break;
		}
		/* Checksums are verified only now that two packets would merge, as wireguard-go's
		 * coalesceTCPPackets and coalesceUDPPackets do: a packet left alone is written as it is and the kernel
		 * checks it. Each is summed once: a group's first packet on its first append
		 * (count 1), then each packet appended. One that fails closes its group. */
		if (grp->count == 1 &&
		    !sums_verify(g->data[grp->first], grp->ip_len, g->len[grp->first], grp->proto)) {
			grp->is_open = false;
			break;
		}
		if (!sums_verify(data, v.ip_len, len, v.proto)) {
			v.is_candidate = false;
			grp->is_open = false;
			break;
		}
		append(g, grp, idx, &v);
		return true;
	}
	start_group(g, idx, &v);
	/* A packet that is TCP (or UDP) but not coalescable (or failed its checksums) still closes
	 * its flow (above) and stays alone, yet later packets of the flow must see it as the flow's
	 * latest group. */
	if (!v.is_candidate) {
		g->group[g->groups - 1].ip_len = (uint8_t)v.ip_len;
		g->group[g->groups - 1].tcp_len = (uint8_t)v.tcp_len;
		g->group[g->groups - 1].proto = v.proto;
	}
	return true;
}

unsigned offload_gro_finish(struct offload_gro *g, unsigned k, struct virtio_net_hdr *hdr,
			    struct iovec *iov)
{
	struct offload_gro_group *grp = &g->group[k];
	uint8_t *f = g->data[grp->first];
	size_t hdrs = (size_t)grp->ip_len + grp->tcp_len;
	uint8_t *t = f + grp->ip_len;
	uint64_t sum;
	unsigned n = 1;
	int idx;

	memset(hdr, 0, sizeof(*hdr));
	iov[0].iov_base = f;
	iov[0].iov_len = g->len[grp->first];
	if (grp->count < 2)
		return 1;
	for (idx = g->next[grp->first]; idx >= 0; idx = g->next[idx]) {
		iov[n].iov_base = g->data[idx] + hdrs;
		iov[n].iov_len = g->len[idx] - hdrs;
		n++;
	}
	if (grp->has_psh)
		t[WGC_TCP_OFF_FLAGS] |= WGC_TCP_FLAG_PSH;
	if (grp->proto == WGC_IPPROTO_UDP)
		wgc_store_be16(t + WGC_UDP_OFF_LEN, (uint16_t)(grp->total_len - grp->ip_len));
	if (wgc_ip_version(f) == WGC_IP_VERSION_4) {
		wgc_store_be16(f + WGC_IPV4_OFF_TOTAL_LEN, (uint16_t)grp->total_len);
		set_ipv4_csum(f, grp->ip_len);
	} else {
		wgc_store_be16(f + WGC_IPV6_OFF_PAYLOAD_LEN,
			       (uint16_t)(grp->total_len - WGC_IPV6_HEADER_LEN));
	}
	/* CHECKSUM_PARTIAL convention: the field holds the folded pseudo-header sum, uncomplemented. */
	sum = pseudo_sum(f, grp->proto, grp->total_len - grp->ip_len);
	hdr->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	hdr->hdr_len = (uint16_t)hdrs;
	hdr->gso_size = (uint16_t)grp->seg_payload;
	hdr->csum_start = grp->ip_len;
	if (grp->proto == WGC_IPPROTO_UDP) {
		/* the kernel splits it into datagrams of gso_size again (USO), each with its own
		 * length and checksum: the receiving socket sees what the sender sent */
		hdr->gso_type = VIRTIO_NET_HDR_GSO_UDP_L4;
		hdr->csum_offset = WGC_UDP_OFF_CHECKSUM;
	} else {
		hdr->gso_type = wgc_ip_version(f) == WGC_IP_VERSION_4 ? VIRTIO_NET_HDR_GSO_TCPV4
								       : VIRTIO_NET_HDR_GSO_TCPV6;
		hdr->csum_offset = WGC_TCP_OFF_CHECKSUM;
	}
	put_csum(t + hdr->csum_offset, fold(sum));
	return n;
}
