/* SPDX-License-Identifier: MIT */
/*
 * proxy/http: CONNECT and absolute-form heads, Basic credentials, incomplete heads (every
 * prefix is NEED_MORE), the head forwarded to the target, and a numbered table of bad heads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proxy/http.h"

static void test_connect(void **state)
{
	static const char h[] = "CONNECT [fd00::1]:443 HTTP/1.1\r\nHost: [fd00::1]:443\r\n"
				"Proxy-Authorization: Basic YWxpY2U6czNjcmV0IHBhc3M=\r\n\r\nEARLY";
	struct http_request req;
	size_t head = sizeof(h) - 1 - 5;

	(void)state;
	for (size_t len = 0; len < head; len++)
		assert_int_equal(http_parse_request(h, len, &req), HTTP_NEED_MORE);
	assert_int_equal(http_parse_request(h, sizeof(h) - 1, &req), HTTP_OK);
	assert_true(req.is_connect);
	assert_string_equal(req.host, "fd00::1");
	assert_int_equal(req.port, 443);
	assert_int_equal(req.head_len, head);
	assert_true(req.has_credentials);
	assert_string_equal(req.user, "alice");
	assert_string_equal(req.password, "s3cret pass");
}

static void test_forward(void **state)
{
	static const char h[] = "GET http://web.wgc.test:8000/blob?x=1 HTTP/1.1\r\n"
				"Host: web.wgc.test:8000\r\nProxy-Connection: Keep-Alive\r\n"
				"User-Agent: t\r\nConnection: keep-alive\r\n\r\n";
	static const char want[] = "GET /blob?x=1 HTTP/1.1\r\nHost: web.wgc.test:8000\r\n"
				   "User-Agent: t\r\nConnection: close\r\n\r\n";
	static const char bare[] = "HEAD http://10.0.0.1 HTTP/1.0\r\n\r\n";
	struct http_request req;
	char out[512];
	size_t n;

	(void)state;
	assert_int_equal(http_parse_request(h, sizeof(h) - 1, &req), HTTP_OK);
	assert_false(req.is_connect);
	assert_false(req.has_credentials);
	assert_string_equal(req.host, "web.wgc.test");
	assert_int_equal(req.port, 8000);
	n = http_forward_head(h, sizeof(h) - 1, out, sizeof(out));
	assert_int_equal(n, sizeof(want) - 1);
	assert_memory_equal(out, want, n);
	assert_int_equal(http_parse_request(bare, sizeof(bare) - 1, &req), HTTP_OK);
	assert_int_equal(req.port, 80);
	n = http_forward_head(bare, sizeof(bare) - 1, out, sizeof(out));
	out[n] = '\0';
	assert_string_equal(out, "HEAD / HTTP/1.0\r\nConnection: close\r\n\r\n");
	assert_int_equal(http_forward_head(bare, sizeof(bare) - 1, out, 10), 0);
}

static const struct {
	const char *head;
	enum http_result want;
} bad[] = {
	/* 0 */ { "GET / HTTP/1.1\r\nHost: x\r\n\r\n", HTTP_BAD_REQUEST },
	/* 1 */ { "GET https://x/ HTTP/1.1\r\n\r\n", HTTP_NOT_SUPPORTED },
	/* 2 */ { "CONNECT x HTTP/1.1\r\n\r\n", HTTP_BAD_REQUEST },
	/* 3 */ { "CONNECT x:0 HTTP/1.1\r\n\r\n", HTTP_BAD_REQUEST },
	/* 4 */ { "CONNECT x:65536 HTTP/1.1\r\n\r\n", HTTP_BAD_REQUEST },
	/* 5 */ { "CONNECT fd00::1:443 HTTP/1.1\r\n\r\n", HTTP_BAD_REQUEST },
	/* 6 */ { "CONNECT  x:1 HTTP/1.1\r\n\r\n", HTTP_BAD_REQUEST },
	/* 7 */ { "CONNECT x:1 HTTP/2.0\r\n\r\n", HTTP_NOT_SUPPORTED },
	/* 8 */ { "CONNECT x:1 SPDY\r\n\r\n", HTTP_BAD_REQUEST },
	/* 9 */ { "CONNECT x:1 HTTP/1.1\r\nNoColon\r\n\r\n", HTTP_BAD_REQUEST },
	/* 10 */ { "CONNECT x:1 HTTP/1.1\r\n folded: y\r\n\r\n", HTTP_BAD_REQUEST },
	/* 11 */ { "GET http://u@x/ HTTP/1.1\r\n\r\n", HTTP_BAD_REQUEST },
	/* 12 */ { "GET http://x$y/ HTTP/1.1\r\n\r\n", HTTP_BAD_REQUEST },
	/* 13 */ { "G(T http://x/ HTTP/1.1\r\n\r\n", HTTP_BAD_REQUEST },
	/* 14 */ { "CONNECT x:1 HTTP/1.1\r\nBad Name: y\r\n\r\n", HTTP_BAD_REQUEST },
};

static void test_bad_heads(void **state)
{
	static char big[HTTP_HEAD_MAX + 10];
	struct http_request req;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		enum http_result r = http_parse_request(bad[i].head, strlen(bad[i].head), &req);

		if (r != bad[i].want)
			fail_msg("case %zu: got %d, want %d", i, r, bad[i].want);
	}
	memset(big, 'a', sizeof(big));
	assert_int_equal(http_parse_request(big, sizeof(big), &req), HTTP_TOO_LARGE);
	/* malformed credentials are simply absent (the proxy answers 407) */
	static const char junk[] = "CONNECT x:1 HTTP/1.1\r\nProxy-Authorization: Basic !!!\r\n\r\n";
	static const char nocolon[] = "CONNECT x:1 HTTP/1.1\r\nProxy-Authorization: Basic "
				      "bm9jb2xvbg==\r\n\r\n";

	assert_int_equal(http_parse_request(junk, sizeof(junk) - 1, &req), HTTP_OK);
	assert_false(req.has_credentials);
	assert_int_equal(http_parse_request(nocolon, sizeof(nocolon) - 1, &req), HTTP_OK);
	assert_false(req.has_credentials);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_connect),
		cmocka_unit_test(test_forward),
		cmocka_unit_test(test_bad_heads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
