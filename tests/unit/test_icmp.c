/* SPDX-License-Identifier: MIT */
/*
 * The daemon's ICMP Destination Unreachable (daemon/icmp.c): every field of the IPv4 and IPv6
 * errors built for TCP SYN, UDP and echo packets, checksums checked against a byte-at-a-time
 * RFC 1071 sum written here (with the IPv6 pseudo-header), the quote against the original's
 * bytes; every refusal rule (errors about errors, later fragments, sources that name no single
 * host, group destinations, malformed packets at every length, a short output buffer); and the
 * token bucket over a simulated ten seconds.
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/icmp.h"

enum { BUF = 2048, V4_QUOTE_MAX = 576 - 28, V6_QUOTE_MAX = 1280 - 48 };

static uint8_t pkt[BUF];
static uint8_t err[BUF];

static const uint8_t v4_host[4] = { 10, 0, 0, 1 };   /* the offending packet's source */
static const uint8_t v4_far[4] = { 10, 9, 8, 7 };    /* where it was going */
static const uint8_t v4_iface[4] = { 10, 0, 0, 254 }; /* the error's source */
static const uint8_t v6_host[16] = { 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
static const uint8_t v6_far[16] = { 0xfd, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7 };
static const uint8_t v6_iface[16] = { 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xfe };

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void wr16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* ---- the reference checksum: one byte at a time, high byte first (RFC 1071) ---- */

static uint32_t ref_sum(const uint8_t *p, size_t len, uint32_t sum)
{
	size_t i;

	for (i = 0; i < len; i++)
		sum += (i & 1) ? p[i] : (uint32_t)p[i] << 8;
	return sum;
}

static uint16_t ref_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* ---- packet builders ---- */

/* An IPv4 header (no options) for l4_len bytes of protocol proto; header checksum valid. */
static size_t make_v4(uint8_t *p, const uint8_t src[4], const uint8_t dst[4], uint8_t proto,
		      size_t l4_len)
{
	memset(p, 0, 20);
	p[0] = 0x45;
	p[1] = 0x10;
	wr16(p + 2, (uint32_t)(20 + l4_len));
	wr16(p + 4, 0xbeef);
	wr16(p + 6, 0x4000);
	p[8] = 63;
	p[9] = proto;
	memcpy(p + 12, src, 4);
	memcpy(p + 16, dst, 4);
	wr16(p + 10, (uint16_t)~ref_fold(ref_sum(p, 20, 0)));
	return 20 + l4_len;
}

static size_t make_v6(uint8_t *p, const uint8_t src[16], const uint8_t dst[16], uint8_t next,
		      size_t l4_len)
{
	memset(p, 0, 40);
	p[0] = 0x6a; /* traffic class 0xa5, flow label 0x12345 */
	p[1] = 0x51;
	p[2] = 0x23;
	p[3] = 0x45;
	wr16(p + 4, (uint32_t)l4_len);
	p[6] = next;
	p[7] = 63;
	memcpy(p + 8, src, 16);
	memcpy(p + 24, dst, 16);
	return 40 + l4_len;
}

static void fill(uint8_t *p, size_t len, uint8_t seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(seed + i * 13);
}

/* A 40-byte TCP SYN (MSS, SACK permitted, timestamps, window scale options). */
static size_t tcp_syn(uint8_t *l4)
{
	static const uint8_t opts[20] = { 2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0,
					  0x12, 0x34, 0, 0, 0, 0, 1, 3, 3, 7 };

	memset(l4, 0, 20);
	wr16(l4, 40000);
	wr16(l4 + 2, 443);
	l4[4] = 0xde;
	l4[5] = 0xad;
	l4[12] = 10 << 4;
	l4[13] = 0x02;
	wr16(l4 + 14, 64240);
	l4[16] = 0x5a; /* any checksum: nothing above the IP layer is checked */
	memcpy(l4 + 20, opts, sizeof(opts));
	return 40;
}

static size_t udp(uint8_t *l4, size_t payload_len)
{
	wr16(l4, 5353);
	wr16(l4 + 2, 53);
	wr16(l4 + 4, (uint32_t)(8 + payload_len));
	wr16(l4 + 6, 0x1234);
	fill(l4 + 8, payload_len, 7);
	return 8 + payload_len;
}

/* An ICMP or ICMPv6 message of type and code with an identifier, sequence and payload. */
static size_t icmp_msg(uint8_t *l4, uint8_t type, uint8_t code, size_t payload_len)
{
	l4[0] = type;
	l4[1] = code;
	wr16(l4 + 2, 0xcafe);
	wr16(l4 + 4, 77);
	wr16(l4 + 6, 1);
	fill(l4 + 8, payload_len, 99);
	return 8 + payload_len;
}

static size_t v4_tcp_syn(uint8_t *p)
{
	return make_v4(p, v4_host, v4_far, 6, tcp_syn(p + 20));
}

static size_t v4_udp(uint8_t *p, size_t payload_len)
{
	return make_v4(p, v4_host, v4_far, 17, udp(p + 20, payload_len));
}

static size_t v4_icmp(uint8_t *p, uint8_t type, size_t payload_len)
{
	return make_v4(p, v4_host, v4_far, 1, icmp_msg(p + 20, type, 0, payload_len));
}

static size_t v6_tcp_syn(uint8_t *p)
{
	return make_v6(p, v6_host, v6_far, 6, tcp_syn(p + 40));
}

static size_t v6_udp(uint8_t *p, size_t payload_len)
{
	return make_v6(p, v6_host, v6_far, 17, udp(p + 40, payload_len));
}

static size_t v6_icmp(uint8_t *p, uint8_t type, size_t payload_len)
{
	return make_v6(p, v6_host, v6_far, 58, icmp_msg(p + 40, type, 0, payload_len));
}

/* ---- checking an error field by field ---- */

static size_t min_size(size_t a, size_t b)
{
	return a < b ? a : b;
}

/* The error for orig (orig_len bytes, of which stated are the packet) from src, or with src NULL
 * from orig's destination. */
static void check_v4_error_from(const uint8_t *orig, size_t orig_len, size_t stated,
				const uint8_t *src)
{
	size_t err_len = 0;
	size_t quote_len = min_size(stated, V4_QUOTE_MAX);
	size_t ihl = (size_t)(orig[0] & 15) * 4;

	memset(err, 0xaa, sizeof(err));
	assert_int_equal(icmp_classify(orig, orig_len), ICMP_BUILT);
	assert_int_equal(icmp_build_unreachable(orig, orig_len, src, err, sizeof(err), &err_len),
			 ICMP_BUILT);
	assert_int_equal(err_len, 28 + quote_len);
	assert_true(err_len <= 576);
	assert_true(quote_len >= min_size(stated, ihl + 8)); /* RFC 792 */
	assert_int_equal(err[0], 0x45);
	assert_int_equal(err[1], 0xc0);
	assert_int_equal(rd16(err + 2), err_len);
	assert_int_equal(rd16(err + 4), 0);
	assert_int_equal(rd16(err + 6), 0); /* DF clear, not a fragment */
	assert_int_equal(err[8], 64);
	assert_int_equal(err[9], 1);
	assert_int_equal(ref_fold(ref_sum(err, 20, 0)), 0xffff);
	assert_memory_equal(err + 12, src ? src : orig + 16, 4);
	assert_memory_equal(err + 16, orig + 12, 4);
	assert_int_equal(err[20], 3);
	assert_int_equal(err[21], 1);
	assert_int_equal(ref_fold(ref_sum(err + 20, err_len - 20, 0)), 0xffff);
	assert_int_equal(rd16(err + 22), (uint16_t)~ref_fold(ref_sum(err + 20, 2, 0) +
							       ref_sum(err + 24, err_len - 24, 0)));
	assert_memory_equal(err + 24, "\0\0\0\0", 4);
	assert_memory_equal(err + 28, orig, quote_len);
	assert_int_equal(err[err_len], 0xaa); /* nothing written past the end */
}

static void check_v6_error_from(const uint8_t *orig, size_t orig_len, size_t stated,
				const uint8_t *src)
{
	size_t err_len = 0;
	size_t quote_len = min_size(stated, V6_QUOTE_MAX);
	uint32_t pseudo;

	memset(err, 0xaa, sizeof(err));
	assert_int_equal(icmp_classify(orig, orig_len), ICMP_BUILT);
	assert_int_equal(icmp_build_unreachable(orig, orig_len, src, err, sizeof(err), &err_len),
			 ICMP_BUILT);
	assert_int_equal(err_len, 48 + quote_len);
	assert_true(err_len <= 1280);
	assert_memory_equal(err, "\x60\0\0\0", 4); /* version 6, traffic class 0, flow label 0 */
	assert_int_equal(rd16(err + 4), err_len - 40);
	assert_int_equal(err[6], 58);
	assert_int_equal(err[7], 64);
	assert_memory_equal(err + 8, src ? src : orig + 24, 16);
	assert_memory_equal(err + 24, orig + 8, 16);
	assert_int_equal(err[40], 1);
	assert_int_equal(err[41], 3);
	/* pseudo-header: addresses, the 32-bit ICMPv6 length, 3 zero bytes and next header 58 */
	pseudo = ref_sum(err + 8, 32, 0);
	pseudo += (uint32_t)((err_len - 40) >> 16) + (uint32_t)((err_len - 40) & 0xffff) + 58;
	assert_int_equal(ref_fold(ref_sum(err + 40, err_len - 40, pseudo)), 0xffff);
	assert_int_equal(rd16(err + 42), (uint16_t)~ref_fold(ref_sum(err + 40, 2, pseudo) +
							       ref_sum(err + 44, err_len - 44, 0)));
	assert_memory_equal(err + 44, "\0\0\0\0", 4);
	assert_memory_equal(err + 48, orig, quote_len);
	assert_int_equal(err[err_len], 0xaa);
}

/* Each error is checked from an interface address and from the unreachable destination. */
static void check_v4_error(const uint8_t *orig, size_t orig_len, size_t stated)
{
	check_v4_error_from(orig, orig_len, stated, v4_iface);
	check_v4_error_from(orig, orig_len, stated, NULL);
}

static void check_v6_error(const uint8_t *orig, size_t orig_len, size_t stated)
{
	check_v6_error_from(orig, orig_len, stated, v6_iface);
	check_v6_error_from(orig, orig_len, stated, NULL);
}

/* ---- what is answered ---- */

static void test_v4_tcp_syn(void **state)
{
	size_t len = v4_tcp_syn(pkt);

	(void)state;
	check_v4_error(pkt, len, len);
}

static void test_v4_udp(void **state)
{
	size_t len;

	(void)state;
	len = v4_udp(pkt, 0);
	check_v4_error(pkt, len, len); /* header + 8 bytes exactly */
	len = v4_udp(pkt, 100);
	check_v4_error(pkt, len, len);
}

/* Echo and the other queries (and replies) are answered: only errors are refused. */
static void test_v4_echo(void **state)
{
	static const uint8_t types[] = { 0, 8, 9, 10, 13, 14, 15, 16, 17, 18 };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(types); i++) {
		size_t len = v4_icmp(pkt, types[i], 56);

		check_v4_error(pkt, len, len);
	}
}

/* IP options are quoted as they were, with 8 bytes past them. */
static void test_v4_options(void **state)
{
	size_t l4_len = udp(pkt + 24, 20);
	size_t len = 24 + l4_len;

	(void)state;
	make_v4(pkt, v4_host, v4_far, 17, 4 + l4_len); /* writes pkt[0..20) only */
	pkt[0] = 0x46;
	memcpy(pkt + 20, "\x94\x04\0\0", 4); /* router alert */
	wr16(pkt + 10, 0);
	wr16(pkt + 10, (uint16_t)~ref_fold(ref_sum(pkt, 24, 0)));
	check_v4_error(pkt, len, len);
}

/* RFC 1812 4.3.2.3: as much as fits in 576 bytes; the first fragment of a longer packet too. */
static void test_v4_long(void **state)
{
	size_t len = v4_udp(pkt, 1400 - 28);

	(void)state;
	assert_int_equal(len, 1400);
	check_v4_error(pkt, len, len);
	wr16(pkt + 6, 0x2000); /* MF, offset 0 */
	check_v4_error(pkt, len, len);
	wr16(pkt + 6, 0x0000);
	len = v4_udp(pkt, V4_QUOTE_MAX - 28 + 1);
	check_v4_error(pkt, len, len);
}

/* Bytes past the stated length (padding) are not packet and are not quoted. */
static void test_padding_not_quoted(void **state)
{
	size_t len;

	(void)state;
	len = v4_udp(pkt, 12);
	memset(pkt + len, 0xee, 30);
	check_v4_error(pkt, len + 30, len);
	len = v6_udp(pkt, 12);
	memset(pkt + len, 0xee, 30);
	check_v6_error(pkt, len + 30, len);
}

static void test_v6_tcp_syn(void **state)
{
	size_t len = v6_tcp_syn(pkt);

	(void)state;
	check_v6_error(pkt, len, len);
}

static void test_v6_udp(void **state)
{
	size_t len;

	(void)state;
	len = v6_udp(pkt, 0);
	check_v6_error(pkt, len, len);
	len = v6_udp(pkt, 333);
	check_v6_error(pkt, len, len);
}

/* Every informational type (128-255: echo request and reply, neighbour discovery, ...). */
static void test_v6_echo(void **state)
{
	unsigned type;

	(void)state;
	for (type = 128; type < 256; type++) {
		size_t len = v6_icmp(pkt, (uint8_t)type, 56);

		check_v6_error(pkt, len, len);
	}
}

/* RFC 4443 2.4 (c): as much as fits in 1280; one byte more than fits, and exactly fitting. */
static void test_v6_long(void **state)
{
	size_t len;

	(void)state;
	len = v6_udp(pkt, 1400 - 48);
	assert_int_equal(len, 1400);
	check_v6_error(pkt, len, len);
	len = v6_udp(pkt, V6_QUOTE_MAX - 48);
	check_v6_error(pkt, len, len);
	len = v6_udp(pkt, V6_QUOTE_MAX - 48 + 1);
	check_v6_error(pkt, len, len);
}

/* ---- what is refused ---- */

static void expect(const uint8_t *p, size_t len, enum icmp_verdict want, const char *what,
		   unsigned n)
{
	enum icmp_verdict got = icmp_classify(p, len);
	size_t out_len = 12345;

	if (got != want)
		fail_msg("%s, case %u (len %zu): %s, want %s", what, n, len, icmp_verdict_str(got),
			 icmp_verdict_str(want));
	if (want == ICMP_BUILT)
		return;
	/* a refusal writes nothing */
	memset(err, 0xaa, sizeof(err));
	got = icmp_build_unreachable(p, len, v6_iface, err, sizeof(err), &out_len);
	if (got != want || out_len != 12345 || err[0] != 0xaa || err[sizeof(err) - 1] != 0xaa)
		fail_msg("%s, case %u (len %zu): build gave %s, out_len %zu", what, n, len,
			 icmp_verdict_str(got), out_len);
}

static void test_refuse_v4_icmp_errors(void **state)
{
	unsigned type;
	size_t len;

	(void)state;
	for (type = 0; type < 256; type++) {
		bool is_error = type == 3 || type == 4 || type == 5 || type == 11 || type == 12 ||
				type > 18;

		len = v4_icmp(pkt, (uint8_t)type, 20);
		expect(pkt, len, is_error ? ICMP_REFUSE_ABOUT_ICMP_ERROR : ICMP_BUILT, "v4 type",
		       type);
	}
	/* an error about an error quoting an echo: still an error */
	(void)v4_icmp(pkt, 3, 0);
	make_v4(pkt + 28, v4_far, v4_host, 1, icmp_msg(pkt + 48, 8, 0, 0));
	make_v4(pkt, v4_host, v4_far, 1, 8 + 28);
	expect(pkt, 20 + 8 + 28, ICMP_REFUSE_ABOUT_ICMP_ERROR, "v4 nested", 0);
	/* protocol ICMP without its type byte: cannot tell, so silent */
	len = make_v4(pkt, v4_host, v4_far, 1, 0);
	expect(pkt, len, ICMP_REFUSE_ABOUT_ICMP_ERROR, "v4 no type", 0);
	/* one byte is enough to tell */
	len = make_v4(pkt, v4_host, v4_far, 1, 1);
	pkt[20] = 8;
	expect(pkt, len, ICMP_BUILT, "v4 type only", 0);
	pkt[20] = 11;
	expect(pkt, len, ICMP_REFUSE_ABOUT_ICMP_ERROR, "v4 type only", 1);
}

static void test_refuse_v6_icmp_errors(void **state)
{
	unsigned type;
	size_t len;

	(void)state;
	for (type = 0; type < 256; type++) {
		len = v6_icmp(pkt, (uint8_t)type, 20);
		expect(pkt, len, type < 128 ? ICMP_REFUSE_ABOUT_ICMP_ERROR : ICMP_BUILT, "v6 type",
		       type);
	}
	len = make_v6(pkt, v6_host, v6_far, 58, 0);
	expect(pkt, len, ICMP_REFUSE_ABOUT_ICMP_ERROR, "v6 no type", 0);
}

/* Extension headers are walked to the ICMPv6 header, as the kernel's is_ineligible does. */
static void test_v6_extension_headers(void **state)
{
	uint8_t *x = pkt + 40;
	size_t len;

	(void)state;
	/* hop-by-hop (8) -> destination options (16) -> ICMPv6 type t */
	memset(x, 0, 24);
	x[0] = 60;
	x[8] = 58;
	x[9] = 1;
	len = make_v6(pkt, v6_host, v6_far, 0, 24 + icmp_msg(x + 24, 1, 4, 8));
	expect(pkt, len, ICMP_REFUSE_ABOUT_ICMP_ERROR, "hbh+dst+error", 0);
	x[24] = 128;
	expect(pkt, len, ICMP_BUILT, "hbh+dst+echo", 0);
	check_v6_error(pkt, len, len);
	/* routing (8) -> AH (payload len 1: (1 + 2) * 4 = 12 bytes) -> ICMPv6 */
	memset(x, 0, 20);
	x[0] = 51;
	x[8] = 58;
	x[9] = 1;
	len = make_v6(pkt, v6_host, v6_far, 43, 20 + icmp_msg(x + 20, 2, 0, 8));
	expect(pkt, len, ICMP_REFUSE_ABOUT_ICMP_ERROR, "rt+ah+error", 0);
	/* a first fragment (offset 0, M set) holding an ICMPv6 error */
	memset(x, 0, 8);
	x[0] = 58;
	wr16(x + 2, 0x0001);
	len = make_v6(pkt, v6_host, v6_far, 44, 8 + icmp_msg(x + 8, 3, 0, 8));
	expect(pkt, len, ICMP_REFUSE_ABOUT_ICMP_ERROR, "first fragment", 0);
	/* the same first fragment ending before the type byte: answered (RFC 8200 4.5) */
	len = make_v6(pkt, v6_host, v6_far, 44, 8);
	expect(pkt, len, ICMP_BUILT, "first fragment, no type", 0);
	/* a later fragment: its bytes are not the ICMPv6 header, answered as the kernel does */
	wr16(x + 2, 185 << 3);
	len = make_v6(pkt, v6_host, v6_far, 44, 8 + icmp_msg(x + 8, 3, 0, 8));
	expect(pkt, len, ICMP_BUILT, "later fragment", 0);
	/* a chain cut short, and No Next Header: no ICMPv6 header, answered */
	len = make_v6(pkt, v6_host, v6_far, 0, 1);
	x[0] = 58;
	expect(pkt, len, ICMP_BUILT, "truncated hbh", 0);
	/* destination options claiming 32 bytes of which 8 are there: the ICMPv6 header they
	 * name lies past the end, so (as the kernel) no type to read means silence; UDP is
	 * answered */
	memset(x, 0, 8);
	x[0] = 58;
	x[1] = 3;
	len = make_v6(pkt, v6_host, v6_far, 60, 8);
	expect(pkt, len, ICMP_REFUSE_ABOUT_ICMP_ERROR, "options past the end, icmpv6", 0);
	x[0] = 17;
	expect(pkt, len, ICMP_BUILT, "options past the end, udp", 0);
	len = make_v6(pkt, v6_host, v6_far, 59, 8);
	expect(pkt, len, ICMP_BUILT, "no next header", 0);
}

static void test_refuse_v4_fragments(void **state)
{
	static const struct {
		uint16_t frag;
		enum icmp_verdict want;
	} c[] = {
		{ 0x0000, ICMP_BUILT },           { 0x4000, ICMP_BUILT }, /* DF */
		{ 0x2000, ICMP_BUILT },           /* MF, offset 0: the first fragment */
		{ 0x0001, ICMP_REFUSE_FRAGMENT }, { 0x2001, ICMP_REFUSE_FRAGMENT },
		{ 0x1fff, ICMP_REFUSE_FRAGMENT }, { 0x3fff, ICMP_REFUSE_FRAGMENT },
		{ 0x0100, ICMP_REFUSE_FRAGMENT },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		size_t len = v4_udp(pkt, 30);

		wr16(pkt + 6, c[i].frag);
		expect(pkt, len, c[i].want, "v4 fragment", (unsigned)i);
		/* a later fragment of an ICMP error is a fragment first */
		len = v4_icmp(pkt, 3, 8);
		wr16(pkt + 6, c[i].frag);
		expect(pkt, len, c[i].want == ICMP_BUILT ? ICMP_REFUSE_ABOUT_ICMP_ERROR : c[i].want,
		       "v4 fragment of an error", (unsigned)i);
	}
}

static void test_refuse_sources(void **state)
{
	static const struct {
		uint8_t a[4];
		bool ok;
	} c4[] = {
		{ { 0, 0, 0, 0 }, false },        { { 0, 1, 2, 3 }, false },
		{ { 127, 0, 0, 1 }, false },      { { 127, 255, 255, 254 }, false },
		{ { 224, 0, 0, 1 }, false },      { { 239, 255, 255, 255 }, false },
		{ { 255, 255, 255, 255 }, false }, { { 1, 0, 0, 0 }, true },
		{ { 126, 255, 255, 255 }, true }, { { 128, 0, 0, 0 }, true },
		{ { 223, 255, 255, 255 }, true }, { { 240, 0, 0, 1 }, true },
		{ { 255, 255, 255, 254 }, true }, { { 192, 168, 1, 255 }, true },
	};
	static const struct {
		uint8_t a[16];
		bool ok;
	} c6[] = {
		{ { 0 }, false },
		{ { [15] = 1 }, false },
		{ { 0xff, 0x02, [15] = 1 }, false },
		{ { 0xff, 0x0e, [15] = 0x42 }, false },
		{ { 0xff }, false },
		{ { [15] = 2 }, true },
		{ { [14] = 1 }, true },
		{ { [0] = 1 }, true },
		{ { 0xfe, 0x80, [15] = 1 }, true },
		{ { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 }, true },
		{ { 0xfe, 0xff, [15] = 1 }, true },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(c4) / sizeof(c4[0]); i++) {
		size_t len = make_v4(pkt, c4[i].a, v4_far, 17, udp(pkt + 20, 4));

		expect(pkt, len, c4[i].ok ? ICMP_BUILT : ICMP_REFUSE_SRC_NOT_UNICAST, "v4 source",
		       (unsigned)i);
	}
	for (i = 0; i < sizeof(c6) / sizeof(c6[0]); i++) {
		size_t len = make_v6(pkt, c6[i].a, v6_far, 17, udp(pkt + 40, 4));

		expect(pkt, len, c6[i].ok ? ICMP_BUILT : ICMP_REFUSE_SRC_NOT_UNICAST, "v6 source",
		       (unsigned)i);
	}
}

static void test_refuse_destinations(void **state)
{
	static const struct {
		uint8_t a[4];
		bool ok;
	} c4[] = {
		{ { 224, 0, 0, 1 }, false },      { { 224, 0, 0, 251 }, false },
		{ { 239, 1, 2, 3 }, false },      { { 255, 255, 255, 255 }, false },
		{ { 0, 0, 0, 0 }, false },        { { 127, 0, 0, 1 }, false },
		{ { 223, 255, 255, 255 }, true }, { { 240, 0, 0, 0 }, true },
		{ { 1, 2, 3, 4 }, true },
	};
	static const struct {
		uint8_t a[16];
		bool ok;
	} c6[] = {
		{ { 0xff, 0x02, [15] = 1 }, false },
		{ { 0xff, 0x02, [11] = 1, 0xff, 0, 0, 7 }, false }, /* solicited-node */
		{ { 0xff, 0x0e, [15] = 0x42 }, false },
		{ { 0 }, false },
		{ { [15] = 1 }, false },
		{ { 0xfe, 0x80, [15] = 1 }, true },
		{ { 0xfe, 0xff, [15] = 1 }, true },
		{ { [15] = 2 }, true },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(c4) / sizeof(c4[0]); i++) {
		size_t len = make_v4(pkt, v4_host, c4[i].a, 17, udp(pkt + 20, 4));

		expect(pkt, len, c4[i].ok ? ICMP_BUILT : ICMP_REFUSE_DST_NOT_UNICAST, "v4 dest",
		       (unsigned)i);
		/* the destination is checked before the source */
		memset(pkt + 12, 0, 4);
		expect(pkt, len,
		       c4[i].ok ? ICMP_REFUSE_SRC_NOT_UNICAST : ICMP_REFUSE_DST_NOT_UNICAST,
		       "v4 dest, zero source", (unsigned)i);
	}
	for (i = 0; i < sizeof(c6) / sizeof(c6[0]); i++) {
		size_t len = make_v6(pkt, v6_host, c6[i].a, 17, udp(pkt + 40, 4));

		expect(pkt, len, c6[i].ok ? ICMP_BUILT : ICMP_REFUSE_DST_NOT_UNICAST, "v6 dest",
		       (unsigned)i);
	}
}

/* Every length from 0 to header + 8 (and one stated length past it), every bad version and
 * IHL, and stated lengths below the header or beyond the bytes read. */
static void test_refuse_malformed(void **state)
{
	size_t full;
	size_t len;
	unsigned v;

	(void)state;
	full = v4_udp(pkt, 0); /* 28: header + 8 */
	for (len = 0; len < full; len++)
		expect(pkt, len, ICMP_REFUSE_MALFORMED, "v4 truncated", (unsigned)len);
	expect(pkt, full, ICMP_BUILT, "v4 whole", 0);
	full = v4_udp(pkt, 40);
	for (len = 0; len < full; len++)
		expect(pkt, len, ICMP_REFUSE_MALFORMED, "v4 truncated longer", (unsigned)len);
	full = v6_udp(pkt, 0); /* 48 */
	for (len = 0; len < full; len++)
		expect(pkt, len, ICMP_REFUSE_MALFORMED, "v6 truncated", (unsigned)len);
	expect(pkt, full, ICMP_BUILT, "v6 whole", 0);
	full = v6_icmp(pkt, 128, 40);
	for (len = 0; len < full; len++)
		expect(pkt, len, ICMP_REFUSE_MALFORMED, "v6 echo truncated", (unsigned)len);

	for (v = 0; v < 16; v++) {
		full = v4_udp(pkt, 40);
		pkt[0] = (uint8_t)(v << 4 | 5);
		/* as IPv6 it states a payload (the ID, 0xbeef) beyond len */
		expect(pkt, full, v == 4 ? ICMP_BUILT : ICMP_REFUSE_MALFORMED, "version", v);
	}
	for (v = 0; v < 16; v++) {
		full = v4_udp(pkt, 60);
		pkt[0] = (uint8_t)(0x40 | v);
		expect(pkt, full, v < 5 ? ICMP_REFUSE_MALFORMED : ICMP_BUILT, "ihl", v);
	}
	/* IHL 15 (60 bytes) and a total length that holds only that */
	full = v4_udp(pkt, 60);
	pkt[0] = 0x4f;
	wr16(pkt + 2, 60);
	expect(pkt, full, ICMP_BUILT, "ihl 15, no payload", 0);
	wr16(pkt + 2, 59);
	expect(pkt, full, ICMP_REFUSE_MALFORMED, "total below ihl", 0);
	full = v4_udp(pkt, 10);
	wr16(pkt + 2, 0);
	expect(pkt, full, ICMP_REFUSE_MALFORMED, "total 0", 0);
	wr16(pkt + 2, (uint32_t)full + 1);
	expect(pkt, full, ICMP_REFUSE_MALFORMED, "total past len", 0);
	full = v6_udp(pkt, 10);
	wr16(pkt + 4, (uint32_t)(full - 40 + 1));
	expect(pkt, full, ICMP_REFUSE_MALFORMED, "v6 payload past len", 0);
	wr16(pkt + 4, 0xffff);
	expect(pkt, full, ICMP_REFUSE_MALFORMED, "v6 payload 65535", 0);
}

/* Every capacity below the error's length is refused without a write; the exact one works. */
static void test_refuse_no_space(void **state)
{
	size_t lens[2];
	size_t need[2];
	size_t k;

	(void)state;
	for (k = 0; k < 2; k++) {
		size_t cap;
		size_t out_len = 0;

		lens[k] = k == 0 ? v4_udp(pkt, 1000) : v6_udp(pkt, 1000);
		need[k] = k == 0 ? 576 : 48 + lens[k];
		for (cap = 0; cap < need[k]; cap++) {
			size_t got_len = 777;

			memset(err, 0xaa, sizeof(err));
			if (icmp_build_unreachable(pkt, lens[k], k == 0 ? v4_iface : v6_iface, err,
						   cap, &got_len) != ICMP_REFUSE_NO_SPACE ||
			    got_len != 777 || err[0] != 0xaa)
				fail_msg("family %zu, cap %zu: not refused cleanly", k, cap);
		}
		assert_int_equal(icmp_build_unreachable(pkt, lens[k], k == 0 ? v4_iface : v6_iface,
							err, need[k], &out_len), ICMP_BUILT);
		assert_int_equal(out_len, need[k]);
		assert_true(need[k] <= ICMP_ERROR_MAX_LEN);
	}
}

static void test_verdict_names(void **state)
{
	const char *seen[ICMP_REFUSE_NO_SPACE + 1];
	int v;
	int w;

	(void)state;
	assert_string_equal(icmp_verdict_str(ICMP_BUILT), "built");
	for (v = ICMP_BUILT; v <= ICMP_REFUSE_NO_SPACE; v++) {
		seen[v] = icmp_verdict_str((enum icmp_verdict)v);
		assert_non_null(seen[v]);
		assert_string_not_equal(seen[v], "unknown");
		for (w = 0; w < v; w++)
			assert_string_not_equal(seen[v], seen[w]);
	}
	assert_string_equal(icmp_verdict_str((enum icmp_verdict)99), "unknown");
}

/* ---- the rate limit ---- */

static const uint64_t NS = 1000000000u;

/* Ten simulated seconds of a caller that, every step_ns, sends as many errors as it is allowed:
 * the count allowed by each time t never exceeds burst + rate * t, and is exactly that while a
 * step's refill always fits in the drained bucket (burst > 1 + rate * step). */
static void run_greedy(uint32_t rate, uint32_t burst, uint64_t step_ns)
{
	bool is_exact = (uint64_t)rate * step_ns < (uint64_t)(burst - 1) * NS;
	struct icmp_limiter lim;
	uint64_t allowed = 0;
	uint64_t t;

	icmp_limiter_init(&lim, rate, burst);
	for (t = 0; t <= 10 * NS; t += step_ns) {
		uint64_t bound = burst + (uint64_t)rate * t / NS;

		while (icmp_limiter_allow(&lim, 1000 * NS + t))
			allowed++;
		if (allowed > bound || (is_exact && allowed != bound))
			fail_msg("rate %u burst %u step %" PRIu64 " at %" PRIu64 " ns: %" PRIu64
				 " allowed, bound %" PRIu64, rate, burst, step_ns, t, allowed,
				 bound);
	}
	/* a bucket of one loses what accrues while it is full, never more than half here */
	assert_true(allowed >= 5 * (uint64_t)rate);
}

/* Ten seconds of irregular attempts (gaps up to 3 ms, up to 5 at once): the bound holds. */
static void run_irregular(uint32_t rate, uint32_t burst, uint32_t seed)
{
	struct icmp_limiter lim;
	uint64_t allowed = 0;
	uint64_t t = 0;

	icmp_limiter_init(&lim, rate, burst);
	while (t <= 10 * NS) {
		unsigned n;

		seed = seed * 1103515245u + 12345u;
		for (n = (seed >> 16) % 6; n > 0; n--)
			if (icmp_limiter_allow(&lim, t))
				allowed++;
		if (allowed > burst + (uint64_t)rate * t / NS)
			fail_msg("rate %u burst %u seed %u at %" PRIu64 " ns: %" PRIu64 " allowed",
				 rate, burst, seed, t, allowed);
		t += (seed >> 8) % 3000000;
	}
}

static void test_limiter_burst_then_rate(void **state)
{
	struct icmp_limiter lim;
	unsigned i;

	(void)state;
	icmp_limiter_init(&lim, ICMP_DEFAULT_PER_S, ICMP_DEFAULT_BURST);
	for (i = 0; i < ICMP_DEFAULT_BURST; i++)
		assert_true(icmp_limiter_allow(&lim, 5 * NS));
	assert_false(icmp_limiter_allow(&lim, 5 * NS));
	/* one token per 1 ms at 1000/s */
	assert_false(icmp_limiter_allow(&lim, 5 * NS + NS / 1000 - 1));
	assert_true(icmp_limiter_allow(&lim, 5 * NS + NS / 1000));
	assert_false(icmp_limiter_allow(&lim, 5 * NS + NS / 1000));

	run_greedy(ICMP_DEFAULT_PER_S, ICMP_DEFAULT_BURST, 100000);
	run_greedy(ICMP_DEFAULT_PER_S, ICMP_DEFAULT_BURST, 999999);
	run_greedy(ICMP_DEFAULT_PER_S, ICMP_DEFAULT_BURST, 30000001);
	run_greedy(7, 3, 1000000);
	run_greedy(100, 1, 3333333);
	run_greedy(1, 1, 50000000);
	run_irregular(ICMP_DEFAULT_PER_S, ICMP_DEFAULT_BURST, 1);
	run_irregular(ICMP_DEFAULT_PER_S, ICMP_DEFAULT_BURST, 2);
	run_irregular(333, 7, 3);
}

/* However long the silence (or a clock near its end), the bucket holds burst tokens, no more. */
static void test_limiter_refill_caps(void **state)
{
	static const uint64_t gaps[] = { 60 * 1000000000ull, 3600 * 1000000000ull, UINT64_MAX / 2,
					 UINT64_MAX - 1 };
	struct icmp_limiter lim;
	size_t g;
	unsigned i;

	(void)state;
	for (g = 0; g < sizeof(gaps) / sizeof(gaps[0]); g++) {
		icmp_limiter_init(&lim, UINT32_MAX, 4);
		for (i = 0; i < 4; i++)
			assert_true(icmp_limiter_allow(&lim, 1));
		assert_false(icmp_limiter_allow(&lim, 1));
		for (i = 0; i < 4; i++)
			assert_true(icmp_limiter_allow(&lim, 1 + gaps[g]));
		assert_false(icmp_limiter_allow(&lim, 1 + gaps[g]));
	}
}

/* A clock read that goes back refills nothing, and the refill resumes from the latest time. */
static void test_limiter_time_backwards(void **state)
{
	struct icmp_limiter lim;

	(void)state;
	icmp_limiter_init(&lim, 10, 1);
	assert_true(icmp_limiter_allow(&lim, 10 * NS));
	assert_false(icmp_limiter_allow(&lim, 1 * NS));
	assert_false(icmp_limiter_allow(&lim, 10 * NS + NS / 10 - 1));
	assert_true(icmp_limiter_allow(&lim, 10 * NS + NS / 10));
	assert_false(icmp_limiter_allow(&lim, 0));
}

static void test_limiter_off_and_zero_burst(void **state)
{
	struct icmp_limiter lim;
	unsigned i;

	(void)state;
	icmp_limiter_init(&lim, 0, 0);
	for (i = 0; i < 100000; i++)
		assert_true(icmp_limiter_allow(&lim, 0));
	icmp_limiter_init(&lim, 1, 0);
	assert_true(icmp_limiter_allow(&lim, 0));
	assert_false(icmp_limiter_allow(&lim, NS - 1));
	assert_true(icmp_limiter_allow(&lim, NS));
	/* a bucket of one holds one token after 4 s idle, not four */
	assert_true(icmp_limiter_allow(&lim, 5 * NS));
	assert_false(icmp_limiter_allow(&lim, 5 * NS));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v4_tcp_syn),
		cmocka_unit_test(test_v4_udp),
		cmocka_unit_test(test_v4_echo),
		cmocka_unit_test(test_v4_options),
		cmocka_unit_test(test_v4_long),
		cmocka_unit_test(test_padding_not_quoted),
		cmocka_unit_test(test_v6_tcp_syn),
		cmocka_unit_test(test_v6_udp),
		cmocka_unit_test(test_v6_echo),
		cmocka_unit_test(test_v6_long),
		cmocka_unit_test(test_refuse_v4_icmp_errors),
		cmocka_unit_test(test_refuse_v6_icmp_errors),
		cmocka_unit_test(test_v6_extension_headers),
		cmocka_unit_test(test_refuse_v4_fragments),
		cmocka_unit_test(test_refuse_sources),
		cmocka_unit_test(test_refuse_destinations),
		cmocka_unit_test(test_refuse_malformed),
		cmocka_unit_test(test_refuse_no_space),
		cmocka_unit_test(test_verdict_names),
		cmocka_unit_test(test_limiter_burst_then_rate),
		cmocka_unit_test(test_limiter_refill_caps),
		cmocka_unit_test(test_limiter_time_backwards),
		cmocka_unit_test(test_limiter_off_and_zero_burst),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
