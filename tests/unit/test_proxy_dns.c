/* SPDX-License-Identifier: MIT */
/*
 * proxy/dns: the query's exact bytes, answers found behind a CNAME, NXDOMAIN and NODATA, and
 * responses that must be ignored (another id, another question, truncated, a pointer loop).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proxy/dns.h"

static const uint8_t query_web[] = { 0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
				     3, 'w', 'e', 'b', 4, 't', 'e', 's', 't', 0, 0, 1, 0, 1 };

static void test_query(void **state)
{
	uint8_t out[DNS_QUERY_MAX];
	char long_label[80];

	(void)state;
	assert_int_equal(dns_build_query(out, sizeof(out), 0x1234, "web.test", DNS_TYPE_A),
			 sizeof(query_web));
	assert_memory_equal(out, query_web, sizeof(query_web));
	assert_int_equal(dns_build_query(out, sizeof(out), 0x1234, "web.test.", DNS_TYPE_A),
			 sizeof(query_web));
	assert_int_equal(dns_build_query(out, sizeof(out), 1, "a..b", DNS_TYPE_A), 0);
	assert_int_equal(dns_build_query(out, sizeof(out), 1, "", DNS_TYPE_A), 0);
	memset(long_label, 'a', 64);
	long_label[64] = '\0';
	assert_int_equal(dns_build_query(out, sizeof(out), 1, long_label, DNS_TYPE_A), 0);
	assert_int_equal(dns_build_query(out, 10, 1, "web.test", DNS_TYPE_A), 0);
}

/* A response to query_web: header, the question, then answers appended by the test. */
static size_t response(uint8_t *msg, uint8_t rcode, uint16_t answers)
{
	memcpy(msg, query_web, sizeof(query_web));
	msg[2] = 0x81;
	msg[3] = (uint8_t)(0x80 | rcode);
	msg[7] = (uint8_t)answers;
	return sizeof(query_web);
}

static void test_answers(void **state)
{
	uint8_t msg[512];
	uint8_t addr[16];
	size_t n;
	/* CNAME web.test -> x.test (pointer to offset 12 for the owner), then x.test A */
	static const uint8_t cname[] = { 0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 8,
					 1, 'x', 4, 't', 'e', 's', 't', 0 };
	static const uint8_t a_rec[] = { 0xc0, 38, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 200, 0, 1 };

	(void)state;
	n = response(msg, 0, 2);
	memcpy(msg + n, cname, sizeof(cname));
	n += sizeof(cname);
	memcpy(msg + n, a_rec, sizeof(a_rec));
	n += sizeof(a_rec);
	assert_int_equal(dns_parse_response(msg, n, 0x1234, "web.test", DNS_TYPE_A, addr),
			 DNS_ANSWER);
	assert_memory_equal(addr, ((uint8_t[]){ 10, 200, 0, 1 }), 4);
	/* the same bytes asked for as AAAA: no answer of that type */
	msg[sizeof(query_web) - 3] = DNS_TYPE_AAAA;
	assert_int_equal(dns_parse_response(msg, n, 0x1234, "web.test", DNS_TYPE_AAAA, addr),
			 DNS_NO_ANSWER);
	msg[sizeof(query_web) - 3] = DNS_TYPE_A;
	/* every truncation is malformed or answerless, never read past the end */
	for (size_t len = 0; len < n; len++)
		assert_int_not_equal(dns_parse_response(msg, len, 0x1234, "web.test", DNS_TYPE_A,
							addr),
				     DNS_ANSWER);
	/* someone else's answer */
	assert_int_equal(dns_parse_response(msg, n, 0x4321, "web.test", DNS_TYPE_A, addr), DNS_BAD);
	assert_int_equal(dns_parse_response(msg, n, 0x1234, "other.test", DNS_TYPE_A, addr),
			 DNS_BAD);
	/* NXDOMAIN */
	n = response(msg, 3, 0);
	assert_int_equal(dns_parse_response(msg, n, 0x1234, "WEB.test", DNS_TYPE_A, addr),
			 DNS_NO_ANSWER);
	/* not a response (QR clear) */
	msg[2] = 0x01;
	assert_int_equal(dns_parse_response(msg, n, 0x1234, "web.test", DNS_TYPE_A, addr), DNS_BAD);
}

static void test_pointer_loop(void **state)
{
	uint8_t msg[64] = { 0x12, 0x34, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1 };
	uint8_t addr[16];

	(void)state;
	/* the question's name points at itself */
	assert_int_equal(dns_parse_response(msg, 18, 0x1234, "web.test", DNS_TYPE_A, addr),
			 DNS_BAD);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_query),
		cmocka_unit_test(test_answers),
		cmocka_unit_test(test_pointer_loop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
