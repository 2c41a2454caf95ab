/* SPDX-License-Identifier: MIT */
/*
 * proxy/socks5: every message complete, every prefix of it incomplete (NEED_MORE, never an
 * error), and a numbered table of malformed messages with the result each must give.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proxy/socks5.h"

static void test_greeting(void **state)
{
	static const uint8_t g[] = { 5, 3, 0x01, 0x00, 0x02 };
	size_t used = 0;
	uint8_t method = 0xaa;

	(void)state;
	for (size_t len = 0; len < sizeof(g); len++)
		assert_int_equal(socks5_parse_greeting(g, len, false, &used, &method),
				 SOCKS5_NEED_MORE);
	assert_int_equal(socks5_parse_greeting(g, sizeof(g), false, &used, &method), SOCKS5_OK);
	assert_int_equal(used, 5);
	assert_int_equal(method, SOCKS5_METHOD_NONE);
	assert_int_equal(socks5_parse_greeting(g, sizeof(g), true, &used, &method), SOCKS5_OK);
	assert_int_equal(method, SOCKS5_METHOD_USERPASS);
	assert_int_equal(socks5_parse_greeting((const uint8_t[]){ 5, 1, 0 }, 3, true, &used,
					       &method),
			 SOCKS5_NO_METHOD);
	assert_int_equal(method, SOCKS5_METHOD_UNACCEPTABLE);
	assert_int_equal(socks5_parse_greeting((const uint8_t[]){ 4, 1, 0 }, 3, false, &used,
					       &method),
			 SOCKS5_BAD_VERSION);
	assert_int_equal(socks5_parse_greeting((const uint8_t[]){ 5, 0 }, 2, false, &used, &method),
			 SOCKS5_BAD_FORMAT);
}

static void test_auth(void **state)
{
	static const uint8_t a[] = { 1, 3, 'b', 'o', 'b', 2, 'p', 'w' };
	const uint8_t *user;
	const uint8_t *pass;
	size_t ulen;
	size_t plen;
	size_t used;

	(void)state;
	for (size_t len = 0; len < sizeof(a); len++)
		assert_int_equal(socks5_parse_auth(a, len, &used, &user, &ulen, &pass, &plen),
				 SOCKS5_NEED_MORE);
	assert_int_equal(socks5_parse_auth(a, sizeof(a), &used, &user, &ulen, &pass, &plen),
			 SOCKS5_OK);
	assert_int_equal(used, sizeof(a));
	assert_int_equal(ulen, 3);
	assert_memory_equal(user, "bob", 3);
	assert_int_equal(plen, 2);
	assert_memory_equal(pass, "pw", 2);
	/* an empty password is well-formed (and simply does not match) */
	assert_int_equal(socks5_parse_auth((const uint8_t[]){ 1, 1, 'x', 0 }, 4, &used, &user,
					   &ulen, &pass, &plen),
			 SOCKS5_OK);
	assert_int_equal(plen, 0);
	assert_int_equal(socks5_parse_auth((const uint8_t[]){ 5, 1, 'x', 0 }, 4, &used, &user,
					   &ulen, &pass, &plen),
			 SOCKS5_BAD_VERSION);
	assert_int_equal(socks5_parse_auth((const uint8_t[]){ 1, 0, 0 }, 3, &used, &user, &ulen,
					   &pass, &plen),
			 SOCKS5_BAD_FORMAT);
}

static void test_requests(void **state)
{
	static const uint8_t v4[] = { 5, 1, 0, 1, 10, 200, 0, 1, 0x1f, 0x40 };
	static const uint8_t v6[] = { 5, 1, 0, 4, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
				      0, 1, 0, 80 };
	static const uint8_t name[] = { 5, 1, 0, 3, 7, 'e', 'x', '.', 't', 'e', 's', 't', 1, 0,
					'X' };
	struct socks5_request req;
	size_t used;

	(void)state;
	for (size_t len = 0; len < sizeof(v4); len++)
		assert_int_equal(socks5_parse_request(v4, len, &used, &req), SOCKS5_NEED_MORE);
	assert_int_equal(socks5_parse_request(v4, sizeof(v4), &used, &req), SOCKS5_OK);
	assert_int_equal(used, 10);
	assert_int_equal(req.command, SOCKS5_CMD_CONNECT);
	assert_int_equal(req.address_type, SOCKS5_ATYP_IPV4);
	assert_memory_equal(req.ip, ((uint8_t[]){ 10, 200, 0, 1 }), 4);
	assert_int_equal(req.port, 8000);
	for (size_t len = 0; len < sizeof(v6); len++)
		assert_int_equal(socks5_parse_request(v6, len, &used, &req), SOCKS5_NEED_MORE);
	assert_int_equal(socks5_parse_request(v6, sizeof(v6), &used, &req), SOCKS5_OK);
	assert_int_equal(req.ip[15], 1);
	assert_int_equal(req.port, 80);
	for (size_t len = 0; len < sizeof(name) - 1; len++)
		assert_int_equal(socks5_parse_request(name, len, &used, &req), SOCKS5_NEED_MORE);
	/* early data after the request is left for the caller */
	assert_int_equal(socks5_parse_request(name, sizeof(name), &used, &req), SOCKS5_OK);
	assert_int_equal(used, sizeof(name) - 1);
	assert_string_equal(req.host, "ex.test");
	assert_int_equal(req.port, 256);
}

static const struct {
	uint8_t bytes[12];
	size_t len;
	enum socks5_result want;
} bad_requests[] = {
	/* 0 */ { { 4, 1, 0, 1 }, 4, SOCKS5_BAD_VERSION },
	/* 1 */ { { 5, 0 }, 2, SOCKS5_BAD_COMMAND },
	/* 2 */ { { 5, 9 }, 2, SOCKS5_BAD_COMMAND },
	/* 3 */ { { 5, 1, 1, 1 }, 4, SOCKS5_BAD_FORMAT },
	/* 4 */ { { 5, 1, 0, 2 }, 4, SOCKS5_BAD_ADDRESS_TYPE },
	/* 5 */ { { 5, 1, 0, 0 }, 4, SOCKS5_BAD_ADDRESS_TYPE },
	/* 6 */ { { 5, 1, 0, 3, 0, 0, 80 }, 7, SOCKS5_BAD_FORMAT },
	/* 7 */ { { 5, 1, 0, 3, 2, 'a', 0, 0, 80 }, 9, SOCKS5_BAD_FORMAT },
	/* 8 */ { { 5, 2, 0, 1, 1, 2, 3, 4, 0, 80 }, 10, SOCKS5_OK }, /* BIND parses */
	/* 9 */ { { 5, 3, 0, 1, 1, 2, 3, 4, 0, 80 }, 10, SOCKS5_OK }, /* UDP ASSOCIATE too */
};

static void test_bad_requests(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_requests) / sizeof(bad_requests[0]); i++) {
		struct socks5_request req;
		size_t used;
		enum socks5_result r = socks5_parse_request(bad_requests[i].bytes,
							    bad_requests[i].len, &used, &req);

		if (r != bad_requests[i].want)
			fail_msg("case %zu: got %d, want %d", i, r, bad_requests[i].want);
	}
}

static void test_replies(void **state)
{
	uint8_t out[SOCKS5_REPLY_MAX];
	static const uint8_t ip6[16] = { 0xfd, [15] = 2 };

	(void)state;
	assert_int_equal(socks5_reply(out, SOCKS5_REP_CONNECTION_REFUSED, NULL, 0, 99), 10);
	assert_memory_equal(out, ((uint8_t[]){ 5, 5, 0, 1, 0, 0, 0, 0, 0, 0 }), 10);
	assert_int_equal(socks5_reply(out, SOCKS5_REP_SUCCEEDED, (const uint8_t[]){ 10, 0, 0, 2 },
				      4, 0x1234),
			 10);
	assert_memory_equal(out, ((uint8_t[]){ 5, 0, 0, 1, 10, 0, 0, 2, 0x12, 0x34 }), 10);
	assert_int_equal(socks5_reply(out, SOCKS5_REP_SUCCEEDED, ip6, 16, 1), 22);
	assert_int_equal(out[3], SOCKS5_ATYP_IPV6);
	assert_int_equal(out[19], 2);
	assert_int_equal(out[21], 1);
}

static void test_udp(void **state)
{
	static const uint8_t d4[] = { 0, 0, 0, 1, 10, 200, 0, 1, 0x23, 0xf1, 'h', 'i' };
	static const uint8_t frag[] = { 0, 0, 1, 1, 10, 200, 0, 1, 0x23, 0xf1, 'h', 'i' };
	static const uint8_t rsv[] = { 0, 1, 0, 1, 10, 200, 0, 1, 0x23, 0xf1 };
	struct socks5_request dst;
	uint8_t out[SOCKS5_REPLY_MAX];
	size_t h;

	(void)state;
	assert_int_equal(socks5_parse_udp(d4, sizeof(d4), &h, &dst), SOCKS5_OK);
	assert_int_equal(h, 10);
	assert_int_equal(dst.port, 9201);
	assert_memory_equal(dst.ip, ((uint8_t[]){ 10, 200, 0, 1 }), 4);
	for (size_t len = 0; len < 10; len++)
		assert_int_equal(socks5_parse_udp(d4, len, &h, &dst), SOCKS5_BAD_FORMAT);
	assert_int_equal(socks5_parse_udp(frag, sizeof(frag), &h, &dst), SOCKS5_BAD_FORMAT);
	assert_int_equal(socks5_parse_udp(rsv, sizeof(rsv), &h, &dst), SOCKS5_BAD_FORMAT);
	assert_int_equal(socks5_udp_header(out, d4 + 4, 4, 9201), 10);
	assert_memory_equal(out, d4, 10);
}

/* UDP ASSOCIATE datagrams to a name (ATYP 3): the name comes out NUL-terminated, the data
 * starts after it; an empty name, a name with a NUL and every truncation are refused. */
static void test_udp_names(void **state)
{
	static const uint8_t dn[] = { 0, 0, 0, 3, 13, 'e', 'c', 'h', 'o', '.', 'w', 'g', 'c', '.',
				      't', 'e', 's', 't', 0x23, 0xf1, 'h', 'i' };
	static const uint8_t empty[] = { 0, 0, 0, 3, 0, 0x23, 0xf1, 'h', 'i' };
	static const uint8_t nul[] = { 0, 0, 0, 3, 3, 'a', 0, 'b', 0x23, 0xf1, 'h', 'i' };
	struct socks5_request dst;
	size_t h;

	(void)state;
	assert_int_equal(socks5_parse_udp(dn, sizeof(dn), &h, &dst), SOCKS5_OK);
	assert_int_equal(dst.address_type, SOCKS5_ATYP_DOMAIN);
	assert_string_equal(dst.host, "echo.wgc.test");
	assert_int_equal(dst.port, 9201);
	assert_int_equal(h, 20);
	for (size_t len = 0; len < 20; len++)
		assert_int_equal(socks5_parse_udp(dn, len, &h, &dst), SOCKS5_BAD_FORMAT);
	assert_int_not_equal(socks5_parse_udp(empty, sizeof(empty), &h, &dst), SOCKS5_OK);
	assert_int_not_equal(socks5_parse_udp(nul, sizeof(nul), &h, &dst), SOCKS5_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_greeting),
		cmocka_unit_test(test_udp_names),
		cmocka_unit_test(test_auth),
		cmocka_unit_test(test_requests),
		cmocka_unit_test(test_bad_requests),
		cmocka_unit_test(test_replies),
		cmocka_unit_test(test_udp),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
