/* SPDX-License-Identifier: MIT */
/*
 * HTTP proxy request heads (RFC 9110, 9112): the request line, the authority of CONNECT or of
 * an absolute-form target, and Basic proxy credentials. Strict where a lenient reading would
 * let one request smuggle another (CRLF line ends, single spaces, no obsolete line folding).
 */
#include "proxy/http.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "proxy/base64.h"

struct span {
	const char *p;
	size_t len;
};

static bool span_eq_ci(struct span s, const char *lit)
{
	size_t n = strlen(lit);

	return s.len == n && strncasecmp(s.p, lit, n) == 0;
}

static const char *find_crlf(const char *p, const char *end)
{
	for (; p + 1 < end; p++)
		if (p[0] == '\r' && p[1] == '\n')
			return p;
	return NULL;
}

static bool is_token_char(unsigned char c)
{
	return isalnum(c) || (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* host[:port] or [v6][:port]; default_port 0 means the port is required. */
static bool parse_authority(struct span a, uint16_t default_port, struct http_request *req)
{
	const char *host = a.p;
	size_t host_len;
	const char *port = NULL;
	size_t port_len = 0;
	unsigned long v = 0;

	if (a.len == 0)
		return false;
	if (a.p[0] == '[') {
		const char *close = memchr(a.p, ']', a.len);

		if (!close)
			return false;
		host = a.p + 1;
		host_len = (size_t)(close - host);
		if ((size_t)(close + 1 - a.p) < a.len) {
			if (close[1] != ':')
				return false;
			port = close + 2;
			port_len = a.len - (size_t)(port - a.p);
		}
	} else {
		const char *colon = memchr(a.p, ':', a.len);

		host_len = colon ? (size_t)(colon - a.p) : a.len;
		if (colon) {
			port = colon + 1;
			port_len = a.len - (size_t)(port - a.p);
			if (memchr(port, ':', port_len))
				return false; /* an IPv6 literal needs brackets */
		}
	}
	if (host_len == 0 || host_len > HTTP_HOST_MAX)
		return false;
	for (size_t i = 0; i < host_len; i++) {
		unsigned char c = (unsigned char)host[i];

		if (!isalnum(c) && c != '.' && c != '-' && c != '_' && (c != ':' || a.p[0] != '['))
			return false;
	}
	if (port) {
		if (port_len == 0 || port_len > 5)
			return false;
		for (size_t i = 0; i < port_len; i++) {
			if (!isdigit((unsigned char)port[i]))
				return false;
			v = v * 10 + (unsigned long)(port[i] - '0');
		}
		if (v == 0 || v > 65535)
			return false;
	} else if (default_port == 0) {
		return false;
	} else {
		v = default_port;
	}
	memcpy(req->host, host, host_len);
	req->host[host_len] = '\0';
	req->port = (uint16_t)v;
	return true;
}

/* "Basic <base64 of user:password>" into req; false if malformed. */
static bool parse_basic(struct span v, struct http_request *req)
{
	char out[HTTP_CRED_MAX * 2 + 2];
	size_t n = 0;
	uint32_t acc = 0;
	int bits = 0;
	size_t i = 0;
	char *colon;

	if (v.len < 6 || strncasecmp(v.p, "Basic ", 6) != 0)
		return false;
	for (i = 6; i < v.len && v.p[i] == ' '; i++)
		;
	for (; i < v.len && v.p[i] != '='; i++) {
		int d = base64_value((unsigned char)v.p[i]);

		if (d < 0)
			return false;
		acc = acc << 6 | (uint32_t)d;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n == sizeof(out) - 1)
				return false;
			out[n++] = (char)(acc >> bits & 0xff);
		}
	}
	for (; i < v.len; i++)
		if (v.p[i] != '=')
			return false;
	out[n] = '\0';
	if (memchr(out, '\0', n))
		return false;
	colon = strchr(out, ':');
	if (!colon || (size_t)(colon - out) > HTTP_CRED_MAX || strlen(colon + 1) > HTTP_CRED_MAX)
		return false;
	*colon = '\0';
	strcpy(req->user, out);
	strcpy(req->password, colon + 1);
	req->has_credentials = true;
	return true;
}

/* Splits the request line into method, target and version. */
static bool split_request_line(const char *p, const char *eol, struct span parts[3])
{
	const char *sp1 = memchr(p, ' ', (size_t)(eol - p));
	const char *sp2;

	if (!sp1)
		return false;
	sp2 = memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1));
	if (!sp2 || memchr(sp2 + 1, ' ', (size_t)(eol - sp2 - 1)))
		return false;
	parts[0] = (struct span){ p, (size_t)(sp1 - p) };
	parts[1] = (struct span){ sp1 + 1, (size_t)(sp2 - sp1 - 1) };
	parts[2] = (struct span){ sp2 + 1, (size_t)(eol - sp2 - 1) };
	if (parts[0].len == 0 || parts[1].len == 0)
		return false;
	for (size_t i = 0; i < parts[0].len; i++)
		if (!is_token_char((unsigned char)parts[0].p[i]))
			return false;
	return true;
}

/* The authority of "http://authority/path"; *path is set to where the path starts. */
static enum http_result parse_absolute(struct span t, struct http_request *req, struct span *path)
{
	struct span a;
	size_t i;

	if (t.len < 7 || strncasecmp(t.p, "http://", 7) != 0) {
		for (i = 0; i + 2 < t.len; i++)
			if (memcmp(t.p + i, "://", 3) == 0)
				return HTTP_NOT_SUPPORTED;
		return HTTP_BAD_REQUEST; /* origin form: not a proxy request */
	}
	a.p = t.p + 7;
	for (i = 0; i < t.len - 7 && a.p[i] != '/' && a.p[i] != '?'; i++)
		;
	a.len = i;
	if (memchr(a.p, '@', a.len))
		return HTTP_BAD_REQUEST;
	if (!parse_authority(a, 80, req))
		return HTTP_BAD_REQUEST;
	*path = (struct span){ a.p + a.len, t.len - 7 - a.len };
	return HTTP_OK;
}

enum http_result http_parse_request(const char *buf, size_t len, struct http_request *req)
{
	const char *end;
	const char *head_end = NULL;
	const char *eol;
	const char *p;
	struct span parts[3];
	struct span path;
	enum http_result r;

	memset(req, 0, sizeof(*req));
	for (size_t i = 0; i + 3 < len && i + 4 <= HTTP_HEAD_MAX; i++) {
		if (memcmp(buf + i, "\r\n\r\n", 4) == 0) {
			head_end = buf + i + 4;
			break;
		}
	}
	if (!head_end)
		return len >= HTTP_HEAD_MAX ? HTTP_TOO_LARGE : HTTP_NEED_MORE;
	end = head_end - 2; /* the last header line's CRLF stays inside */
	if (memchr(buf, '\0', (size_t)(head_end - buf)))
		return HTTP_BAD_REQUEST;
	eol = find_crlf(buf, end);
	if (!eol || !split_request_line(buf, eol, parts))
		return HTTP_BAD_REQUEST;
	if (!span_eq_ci(parts[2], "HTTP/1.1") && !span_eq_ci(parts[2], "HTTP/1.0"))
		return parts[2].len > 5 && strncmp(parts[2].p, "HTTP/", 5) == 0 ?
			       HTTP_NOT_SUPPORTED : HTTP_BAD_REQUEST;
	req->is_connect = span_eq_ci(parts[0], "CONNECT");
	if (req->is_connect) {
		if (!parse_authority(parts[1], 0, req))
			return HTTP_BAD_REQUEST;
	} else {
		r = parse_absolute(parts[1], req, &path);
		if (r != HTTP_OK)
			return r;
	}
	for (p = eol + 2; p < end; p = eol + 2) {
		const char *colon;
		struct span name;
		struct span value;

		eol = find_crlf(p, end + 2);
		if (!eol)
			return HTTP_BAD_REQUEST;
		colon = memchr(p, ':', (size_t)(eol - p));
		if (!colon || colon == p)
			return HTTP_BAD_REQUEST; /* also rejects obsolete folding (leading space) */
		name = (struct span){ p, (size_t)(colon - p) };
		for (size_t i = 0; i < name.len; i++)
			if (!is_token_char((unsigned char)name.p[i]))
				return HTTP_BAD_REQUEST;
		value.p = colon + 1;
		while (value.p < eol && (*value.p == ' ' || *value.p == '\t'))
			value.p++;
		value.len = (size_t)(eol - value.p);
		while (value.len > 0 && (value.p[value.len - 1] == ' ' || value.p[value.len - 1] == '\t'))
			value.len--;
		if (span_eq_ci(name, "Proxy-Authorization"))
			(void)parse_basic(value, req);
	}
	req->head_len = (size_t)(head_end - buf);
	return HTTP_OK;
}

static bool is_hop_header(struct span name)
{
	return span_eq_ci(name, "Proxy-Authorization") || span_eq_ci(name, "Proxy-Connection") ||
	       span_eq_ci(name, "Connection") || span_eq_ci(name, "Keep-Alive");
}

size_t http_forward_head(const char *buf, size_t len, char *out, size_t out_size)
{
	struct http_request req;
	struct span parts[3];
	struct span path;
	const char *eol;
	const char *end;
	size_t n;
	int w;

	if (http_parse_request(buf, len, &req) != HTTP_OK || req.is_connect)
		return 0;
	end = buf + req.head_len - 2;
	eol = find_crlf(buf, end);
	if (!split_request_line(buf, eol, parts) || parse_absolute(parts[1], &req, &path) != HTTP_OK)
		return 0;
	w = snprintf(out, out_size, "%.*s %s%.*s %.*s\r\n", (int)parts[0].len, parts[0].p,
		     path.len == 0 || path.p[0] == '?' ? "/" : "", (int)path.len, path.p,
		     (int)parts[2].len, parts[2].p);
	if (w < 0 || (size_t)w >= out_size)
		return 0;
	n = (size_t)w;
	for (const char *p = eol + 2; p < end; p = eol + 2) {
		const char *colon;

		eol = find_crlf(p, end + 2);
		colon = memchr(p, ':', (size_t)(eol - p));
		if (is_hop_header((struct span){ p, (size_t)(colon - p) }))
			continue;
		if (n + (size_t)(eol + 2 - p) >= out_size)
			return 0;
		memcpy(out + n, p, (size_t)(eol + 2 - p));
		n += (size_t)(eol + 2 - p);
	}
	w = snprintf(out + n, out_size - n, "Connection: close\r\n\r\n");
	if (w < 0 || (size_t)w >= out_size - n)
		return 0;
	return n + (size_t)w;
}
