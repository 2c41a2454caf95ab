/* SPDX-License-Identifier: MIT */
/*
 * Destination Unreachable for what the TUN device hands us and no peer takes. The refusal rules
 * are RFC 1122 3.2.2 and RFC 4443 2.4 (e) as the kernel reads them in __icmp_send and icmp6_send:
 * no error about an error (or about an ICMP header too short to tell), about a non-first IPv4
 * fragment, about a packet to a group, or to a source that names no single host. The quote is
 * RFC 1812's "as much as fits in 576" for IPv4 and RFC 4443's "as much as fits in 1280" for IPv6.
 * Checksums are RFC 1071 sums of big-endian words: a few hundred bytes per error, at most
 * ICMP_DEFAULT_PER_S times a second, so no word-at-a-time tricks.
 */
#include "daemon/icmp.h"

#include <string.h>

#include "base/bytes.h"
#include "base/ip.h"

enum {
	/* RFC 1812 4.3.2.3: an IPv4 error SHOULD hold as much of the datagram as fits in 576. */
	V4_ERROR_MAX_LEN = 576,
	V6_ERROR_MAX_LEN = ICMP_ERROR_MAX_LEN,
	ICMP_HEADER_LEN = 8,       /* type, code, checksum, 4 unused bytes (both families) */
	ICMP_OFF_TYPE = 0,
	ICMP_OFF_CODE = 1,
	ICMP_OFF_CHECKSUM = 2,
	V4_FRAG_OFFSET_MASK = 0x1fff, /* the offset without the MF flag */
	V4_TOS_PREC_INTERNETCONTROL = 0xc0, /* precedence 6, RFC 1812 4.3.2.5 */
	ERROR_TTL = 64,            /* the kernel's default ip_default_ttl and hop_limit */
	/* ICMP (RFC 792) types: the errors, and the highest type the kernel knows (NR_ICMP_TYPES);
	 * it treats anything above it like an error, since it cannot tell. */
	V4_TYPE_DEST_UNREACH = 3,
	V4_TYPE_SOURCE_QUENCH = 4,
	V4_TYPE_REDIRECT = 5,
	V4_TYPE_TIME_EXCEEDED = 11,
	V4_TYPE_PARAMETER_PROBLEM = 12,
	V4_TYPE_KNOWN_MAX = 18,
	V4_CODE_HOST_UNREACH = 1,
	/* ICMPv6 (RFC 4443): types below 128 are errors (2.1). */
	V6_TYPE_DEST_UNREACH = 1,
	V6_CODE_ADDR_UNREACH = 3,
	V6_TYPE_INFO_MIN = 128,
	/* IPv6 extension headers the kernel's ipv6_skip_exthdr walks (RFC 8200 4, RFC 4302). */
	V6_NEXT_HOP_BY_HOP = 0,
	V6_NEXT_ROUTING = 43,
	V6_NEXT_FRAGMENT = 44,
	V6_NEXT_AUTH = 51,
	V6_NEXT_DEST_OPTS = 60,
	V6_FRAG_HEADER_LEN = 8,
	V6_FRAG_OFF_OFFSET = 2,    /* offset << 3 | reserved | M, within the fragment header */
	V6_FRAG_OFFSET_MASK = 0xfff8,
};

/* ---- checksums (RFC 1071) ---- */

static uint32_t sum_words(const uint8_t *p, size_t len, uint32_t sum)
{
	size_t i;

	/* At most 1280 bytes per call and a few calls per error: no carry can reach bit 31. */
	for (i = 0; i + 1 < len; i += 2)
		sum += wgc_load_be16(p + i);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t sum_complement(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* ---- addresses ---- */

static bool is_all(const uint8_t *a, size_t len, uint8_t byte)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (a[i] != byte)
			return false;
	return true;
}

static bool v4_is_multicast(const uint8_t *a)
{
	return (a[0] & 0xf0) == 0xe0; /* 224.0.0.0/4 */
}

/* RFC 1122 3.2.2: an address that "does not define a single host", as a source to answer or a
 * destination to answer from. 0/8 is this host on this network (3.2.1.3 (a), (b)), valid only as
 * a source while a host learns its address; Class E (240/4) is left alone, as the kernel does,
 * but for the limited broadcast inside it. */
static bool v4_names_one_host(const uint8_t *a)
{
	return a[0] != 0 && a[0] != 127 && !v4_is_multicast(a) &&
	       !is_all(a, WGC_IPV4_ADDR_LEN, 0xff);
}

/* RFC 4443 2.4 (e.3): not the unspecified address, not loopback (RFC 4291 2.5.3), not a group. */
static bool v6_names_one_host(const uint8_t *a)
{
	if (a[0] == 0xff)
		return false;
	if (!is_all(a, WGC_IPV6_ADDR_LEN - 1, 0))
		return true;
	return a[WGC_IPV6_ADDR_LEN - 1] > 1;
}

/* ---- the rules ---- */

/* ICMP errors and types the kernel does not know: answering either could start an error loop. */
static bool v4_type_is_error(uint8_t type)
{
	return type > V4_TYPE_KNOWN_MAX || type == V4_TYPE_DEST_UNREACH ||
	       type == V4_TYPE_SOURCE_QUENCH || type == V4_TYPE_REDIRECT ||
	       type == V4_TYPE_TIME_EXCEEDED || type == V4_TYPE_PARAMETER_PROBLEM;
}

static enum icmp_verdict classify_v4(const uint8_t *pkt, size_t len)
{
	size_t ip_len;
	size_t stated;

	if (len < WGC_IPV4_HEADER_MIN_LEN)
		return ICMP_REFUSE_MALFORMED;
	ip_len = wgc_ipv4_header_len(pkt);
	stated = wgc_load_be16(pkt + WGC_IPV4_OFF_TOTAL_LEN);
	if (ip_len < WGC_IPV4_HEADER_MIN_LEN || stated < ip_len || stated > len)
		return ICMP_REFUSE_MALFORMED;
	/* the kernel stays silent about a group's or a broadcast's packets (RTCF_MULTICAST,
	 * RTCF_BROADCAST); the rest of the test keeps the destination fit to answer from */
	if (!v4_names_one_host(pkt + WGC_IPV4_OFF_DST))
		return ICMP_REFUSE_DST_NOT_UNICAST;
	if (!v4_names_one_host(pkt + WGC_IPV4_OFF_SRC))
		return ICMP_REFUSE_SRC_NOT_UNICAST;
	/* RFC 1122 3.2.2: only about the first fragment, the one whose quote names the flow. */
	if (wgc_load_be16(pkt + WGC_IPV4_OFF_FRAG) & V4_FRAG_OFFSET_MASK)
		return ICMP_REFUSE_FRAGMENT;
	if (pkt[WGC_IPV4_OFF_PROTOCOL] != WGC_IPPROTO_ICMP)
		return ICMP_BUILT;
	/* An ICMP packet without its type byte could be an error: the kernel stays silent too. */
	if (stated <= ip_len + ICMP_OFF_TYPE || v4_type_is_error(pkt[ip_len + ICMP_OFF_TYPE]))
		return ICMP_REFUSE_ABOUT_ICMP_ERROR;
	return ICMP_BUILT;
}

/* RFC 4443 2.4 (e.1) through extension headers, as the kernel's is_ineligible: true when the
 * packet (end bytes, the fixed header checked) carries an ICMPv6 error, or an ICMPv6 header
 * without its type byte in an unfragmented packet. A chain that runs out, ends in No Next
 * Header or an unknown header, or reaches a non-first fragment is no error: it is answered. */
static bool v6_is_about_error(const uint8_t *pkt, size_t end)
{
	size_t off = WGC_IPV6_HEADER_LEN;
	uint8_t next = pkt[WGC_IPV6_OFF_NEXT_HEADER];
	uint16_t frag = 0;
	size_t hdr_len;

	for (;;) {
		switch (next) {
		case WGC_IPPROTO_ICMPV6:
			if (off >= end)
				return frag == 0;
			return pkt[off + ICMP_OFF_TYPE] < V6_TYPE_INFO_MIN;
		case V6_NEXT_HOP_BY_HOP:
		case V6_NEXT_ROUTING:
		case V6_NEXT_DEST_OPTS:
			if (off + 2 > end)
				return false;
			hdr_len = ((size_t)pkt[off + 1] + 1) * 8; /* RFC 8200 4.3: 8-byte units */
			break;
		case V6_NEXT_AUTH:
			if (off + 2 > end)
				return false;
			hdr_len = ((size_t)pkt[off + 1] + 2) * 4; /* RFC 4302 2.2: 4-byte units */
			break;
		case V6_NEXT_FRAGMENT:
			if (off + V6_FRAG_OFF_OFFSET + 2 > end)
				return false;
			frag = wgc_load_be16(pkt + off + V6_FRAG_OFF_OFFSET);
			/* a later fragment: its first bytes are not the upper-layer header */
			if (frag & V6_FRAG_OFFSET_MASK)
				return false;
			hdr_len = V6_FRAG_HEADER_LEN;
			break;
		default:
			return false;
		}
		/* Every header is at least 8 bytes, so the walk ends within end / 8 steps. */
		next = pkt[off];
		off += hdr_len;
	}
}

static enum icmp_verdict classify_v6(const uint8_t *pkt, size_t len)
{
	size_t stated;

	if (len < WGC_IPV6_HEADER_LEN)
		return ICMP_REFUSE_MALFORMED;
	stated = WGC_IPV6_HEADER_LEN + (size_t)wgc_load_be16(pkt + WGC_IPV6_OFF_PAYLOAD_LEN);
	if (stated > len)
		return ICMP_REFUSE_MALFORMED;
	/* RFC 4443 2.4 (e.2) allows a few errors about a group's packets; unreachable is not one */
	if (!v6_names_one_host(pkt + WGC_IPV6_OFF_DST))
		return ICMP_REFUSE_DST_NOT_UNICAST;
	if (!v6_names_one_host(pkt + WGC_IPV6_OFF_SRC))
		return ICMP_REFUSE_SRC_NOT_UNICAST;
	if (v6_is_about_error(pkt, stated))
		return ICMP_REFUSE_ABOUT_ICMP_ERROR;
	return ICMP_BUILT;
}

enum icmp_verdict icmp_classify(const uint8_t *pkt, size_t len)
{
	if (len == 0)
		return ICMP_REFUSE_MALFORMED;
	if (wgc_ip_version(pkt) == WGC_IP_VERSION_4)
		return classify_v4(pkt, len);
	if (wgc_ip_version(pkt) == WGC_IP_VERSION_6)
		return classify_v6(pkt, len);
	return ICMP_REFUSE_MALFORMED;
}

/* ---- the error ---- */

static size_t min_size(size_t a, size_t b)
{
	return a < b ? a : b;
}

static void write_icmp_header(uint8_t *icmp, uint8_t type, uint8_t code)
{
	icmp[ICMP_OFF_TYPE] = type;
	icmp[ICMP_OFF_CODE] = code;
	/* checksum, then 4 unused bytes (RFC 4884's length field: 0, no extension) */
	memset(icmp + ICMP_OFF_CHECKSUM, 0, ICMP_HEADER_LEN - ICMP_OFF_CHECKSUM);
}

static void build_v4(const uint8_t *pkt, size_t quote_len, const uint8_t *src_ip, uint8_t *out)
{
	const size_t ip_len = WGC_IPV4_HEADER_MIN_LEN;
	size_t total = ip_len + ICMP_HEADER_LEN + quote_len;
	uint8_t *icmp = out + ip_len;

	memset(out, 0, ip_len);
	out[WGC_IPV4_OFF_VERSION_IHL] = (uint8_t)(WGC_IP_VERSION_4 << 4 | ip_len / 4);
	out[WGC_IPV4_OFF_TOS] = V4_TOS_PREC_INTERNETCONTROL;
	wgc_store_be16(out + WGC_IPV4_OFF_TOTAL_LEN, (uint16_t)total);
	/* ID 0 and DF clear: the error goes up the local stack, which never fragments it. */
	out[WGC_IPV4_OFF_TTL] = ERROR_TTL;
	out[WGC_IPV4_OFF_PROTOCOL] = WGC_IPPROTO_ICMP;
	memcpy(out + WGC_IPV4_OFF_SRC, src_ip, WGC_IPV4_ADDR_LEN);
	memcpy(out + WGC_IPV4_OFF_DST, pkt + WGC_IPV4_OFF_SRC, WGC_IPV4_ADDR_LEN);
	wgc_store_be16(out + WGC_IPV4_OFF_CHECKSUM, sum_complement(sum_words(out, ip_len, 0)));

	write_icmp_header(icmp, V4_TYPE_DEST_UNREACH, V4_CODE_HOST_UNREACH);
	memcpy(icmp + ICMP_HEADER_LEN, pkt, quote_len);
	wgc_store_be16(icmp + ICMP_OFF_CHECKSUM,
		       sum_complement(sum_words(icmp, ICMP_HEADER_LEN + quote_len, 0)));
}

static void build_v6(const uint8_t *pkt, size_t quote_len, const uint8_t *src_ip, uint8_t *out)
{
	size_t icmp_len = ICMP_HEADER_LEN + quote_len;
	uint8_t *icmp = out + WGC_IPV6_HEADER_LEN;
	uint32_t sum;

	memset(out, 0, WGC_IPV6_HEADER_LEN);
	out[WGC_IPV6_OFF_VERSION_CLASS_FLOW] = WGC_IP_VERSION_6 << 4;
	wgc_store_be16(out + WGC_IPV6_OFF_PAYLOAD_LEN, (uint16_t)icmp_len);
	out[WGC_IPV6_OFF_NEXT_HEADER] = WGC_IPPROTO_ICMPV6;
	out[WGC_IPV6_OFF_HOP_LIMIT] = ERROR_TTL;
	memcpy(out + WGC_IPV6_OFF_SRC, src_ip, WGC_IPV6_ADDR_LEN);
	memcpy(out + WGC_IPV6_OFF_DST, pkt + WGC_IPV6_OFF_SRC, WGC_IPV6_ADDR_LEN);

	write_icmp_header(icmp, V6_TYPE_DEST_UNREACH, V6_CODE_ADDR_UNREACH);
	memcpy(icmp + ICMP_HEADER_LEN, pkt, quote_len);
	/* RFC 8200 8.1 pseudo-header: source, destination, 32-bit length, 3 zeros, next header */
	sum = sum_words(out + WGC_IPV6_OFF_SRC, 2 * WGC_IPV6_ADDR_LEN, 0);
	sum += (uint32_t)icmp_len + WGC_IPPROTO_ICMPV6;
	wgc_store_be16(icmp + ICMP_OFF_CHECKSUM, sum_complement(sum_words(icmp, icmp_len, sum)));
}

enum icmp_verdict icmp_build_unreachable(const uint8_t *pkt, size_t len, const uint8_t *src_ip,
					 uint8_t *out, size_t out_cap, size_t *out_len)
{
	enum icmp_verdict v = icmp_classify(pkt, len);
	size_t headers;
	size_t stated;
	size_t quote_len;
	bool is_v6;

	if (v != ICMP_BUILT)
		return v;
	/* icmp_classify checked the stated length against len and the header */
	is_v6 = wgc_ip_version(pkt) == WGC_IP_VERSION_6;
	if (is_v6) {
		headers = WGC_IPV6_HEADER_LEN + ICMP_HEADER_LEN;
		stated = WGC_IPV6_HEADER_LEN +
			 (size_t)wgc_load_be16(pkt + WGC_IPV6_OFF_PAYLOAD_LEN);
		quote_len = min_size(stated, V6_ERROR_MAX_LEN - headers);
	} else {
		headers = WGC_IPV4_HEADER_MIN_LEN + ICMP_HEADER_LEN;
		stated = wgc_load_be16(pkt + WGC_IPV4_OFF_TOTAL_LEN);
		quote_len = min_size(stated, V4_ERROR_MAX_LEN - headers);
	}
	if (out_cap < headers + quote_len)
		return ICMP_REFUSE_NO_SPACE;
	if (!src_ip)
		src_ip = pkt + (is_v6 ? WGC_IPV6_OFF_DST : WGC_IPV4_OFF_DST);
	if (is_v6)
		build_v6(pkt, quote_len, src_ip, out);
	else
		build_v4(pkt, quote_len, src_ip, out);
	*out_len = headers + quote_len;
	return ICMP_BUILT;
}

const char *icmp_verdict_str(enum icmp_verdict v)
{
	switch (v) {
	case ICMP_BUILT:
		return "built";
	case ICMP_REFUSE_MALFORMED:
		return "malformed";
	case ICMP_REFUSE_DST_NOT_UNICAST:
		return "dst_not_unicast";
	case ICMP_REFUSE_SRC_NOT_UNICAST:
		return "src_not_unicast";
	case ICMP_REFUSE_FRAGMENT:
		return "fragment";
	case ICMP_REFUSE_ABOUT_ICMP_ERROR:
		return "about_icmp_error";
	case ICMP_REFUSE_NO_SPACE:
		return "no_space";
	}
	return "unknown";
}

/* ---- the rate limit ---- */

void icmp_limiter_init(struct icmp_limiter *lim, uint32_t per_second, uint32_t burst)
{
	memset(lim, 0, sizeof(*lim));
	lim->per_second = per_second;
	/* burst (< 2^32) tokens of 10^9 units each stays below 2^62: no overflow below */
	lim->credit_max = (uint64_t)(burst ? burst : 1) * WGC_NSEC_PER_SEC;
	lim->credit = lim->credit_max;
}

bool icmp_limiter_allow(struct icmp_limiter *lim, uint64_t now_ns)
{
	if (lim->per_second == 0)
		return true;
	if (lim->has_last && now_ns > lim->last_ns) {
		uint64_t elapsed_ns = now_ns - lim->last_ns;
		uint64_t room = lim->credit_max - lim->credit;

		/* elapsed_ns * per_second units, compared by division so the product never wraps
		 * and never passes room */
		if (elapsed_ns >= room / lim->per_second + 1)
			lim->credit = lim->credit_max;
		else
			lim->credit += elapsed_ns * lim->per_second;
	}
	if (!lim->has_last || now_ns > lim->last_ns)
		lim->last_ns = now_ns;
	lim->has_last = true;
	if (lim->credit < WGC_NSEC_PER_SEC)
		return false;
	lim->credit -= WGC_NSEC_PER_SEC;
	return true;
}
