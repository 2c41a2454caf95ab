/* SPDX-License-Identifier: MIT */
/*
 * proxy/http: the request head of an HTTP proxy client ([http] in wireproxy's format), as a
 * pure function over the bytes received so far: CONNECT host:port, or an absolute-form request
 * (GET http://host[:port]/path ...) to forward, with Basic proxy credentials. Also builds the
 * head sent on to the target for a forwarded request. Nothing here does I/O.
 */
#ifndef WGC_PROXY_HTTP_H
#define WGC_PROXY_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	HTTP_HEAD_MAX = 8192, /* a longer request head is refused with 431 */
	HTTP_HOST_MAX = 255,
	HTTP_CRED_MAX = 255,
};

enum http_result {
	HTTP_NEED_MORE,
	HTTP_OK,
	HTTP_BAD_REQUEST,    /* 400: malformed request line, header or target */
	HTTP_TOO_LARGE,      /* 431: no end of the head within HTTP_HEAD_MAX bytes */
	HTTP_NOT_SUPPORTED,  /* 501: a scheme other than http:// in absolute form, HTTP/2+ */
};

struct http_request {
	bool is_connect;
	char host[HTTP_HOST_MAX + 1]; /* name or literal, without brackets */
	uint16_t port;
	size_t head_len;   /* bytes of the head, CRLFCRLF included; the body (if any) follows */
	bool has_credentials; /* a well-formed Proxy-Authorization: Basic */
	char user[HTTP_CRED_MAX + 1];
	char password[HTTP_CRED_MAX + 1];
};

/* Parses the head in buf[0..len). On OK, req is filled. */
enum http_result http_parse_request(const char *buf, size_t len, struct http_request *req);

/*
 * For a forwarded (non-CONNECT) request: writes to out (out_size bytes) the head to send to the
 * target: the request line in origin form, the client's headers without Proxy-Authorization,
 * Proxy-Connection, Connection and Keep-Alive, then "Connection: close". Returns its length, or
 * 0 if it does not fit. buf/len as given to http_parse_request (which returned OK).
 */
size_t http_forward_head(const char *buf, size_t len, char *out, size_t out_size);

#endif
