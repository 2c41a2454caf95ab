/* SPDX-License-Identifier: MIT */
/*
 * The pure half of the UAPI protocol: text buffers, the op list a set request parses into, the
 * parser itself and the constant-time hex coding of keys. It touches no device, socket or
 * endpoint and does no I/O (endpoints are numeric, as wireguard-go takes them), so
 * tests/fuzz/fuzz_uapi.c links it with just
 * daemon/addr.c and daemon/log.c.
 */
#ifndef WGC_DAEMON_UAPI_PARSE_H
#define WGC_DAEMON_UAPI_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wgc.h"

enum {
	/* Largest request accepted; a bigger one is answered errno=-EMSGSIZE and the client closed.
	 * A million allowed IPs (the daemon's limit) fit in about 50 MiB of set request. */
	UAPI_REQUEST_MAX = 64 << 20,
	/* All text buffers together (every client's request and reply); past it a client is
	 * answered errno=-ENOMEM and closed. Above one largest request plus one largest reply. */
	UAPI_MEMORY_MAX = 160 << 20,
};

/* A growable text buffer in locked, non-dumpable memory, wiped before it is freed: requests and
 * get replies hold keys. All buffers together stay within UAPI_MEMORY_MAX. */
struct uapi_text {
	char *data;
	size_t len;
	size_t cap;
};

/* Makes room for extra more bytes; false when memory or the UAPI_MEMORY_MAX budget runs out. */
bool uapi_text_reserve(struct uapi_text *text, size_t extra);
/* Appends; false (and the text unchanged) when memory runs out. */
bool uapi_text_append(struct uapi_text *text, const char *bytes, size_t len);
bool uapi_text_printf(struct uapi_text *text, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Drops the first len bytes (wiping the freed tail). */
void uapi_text_consume(struct uapi_text *text, size_t len);
/* Wipes and frees. */
void uapi_text_free(struct uapi_text *text);
/* Bytes all text buffers hold mapped now (for the budget and its tests). */
size_t uapi_text_total(void);

/* One parsed line of a set request, in request order. */
enum uapi_op_kind {
	UAPI_OP_PRIVATE_KEY,
	UAPI_OP_LISTEN_PORT,
	UAPI_OP_FWMARK,
	UAPI_OP_REPLACE_PEERS,
	UAPI_OP_PEER, /* public_key=: the following ops apply to this peer */
	UAPI_OP_REMOVE,
	UAPI_OP_UPDATE_ONLY,
	UAPI_OP_PRESHARED_KEY,
	UAPI_OP_ENDPOINT,
	UAPI_OP_KEEPALIVE,
	UAPI_OP_REPLACE_ALLOWED_IPS,
	UAPI_OP_ALLOWED_IP_ADD,
	UAPI_OP_ALLOWED_IP_REMOVE, /* allowed_ip=-PREFIX */
	UAPI_OP_PROTOCOL_VERSION,
};

struct uapi_op {
	enum uapi_op_kind kind;
	union {
		uint8_t key[WGC_KEY_LEN]; /* private, public or preshared key */
		uint32_t number;          /* port, fwmark, keepalive interval (s) */
		struct wgc_addr addr;     /* endpoint */
		struct wgc_prefix prefix; /* allowed IP */
	} u;
};

/* A parsed set request. ops is owned; free with uapi_request_clear, which wipes keys. */
struct uapi_request {
	struct uapi_op *ops;
	size_t count;
	size_t cap;
};

/*
 * Parses the body of a set request: the key=value lines after "set=1\n", each ending in '\n', not
 * including the blank line that ends the request. Pure: an endpoint must be a numeric address
 * (a host name is -EINVAL, as in wireguard-go; the wg tool resolves names before sending). Returns
 * 0 or the negative errno the reply carries (-EINVAL for any malformed line, -ENOMEM). On failure
 * req is cleared.
 */
int uapi_parse(const char *body, size_t len, struct uapi_request *req);
void uapi_request_clear(struct uapi_request *req);

/* Constant-time hex coding of keys (64 lower-case digits; decoding takes either case). */
void uapi_key_to_hex(char hex[2 * WGC_KEY_LEN + 1], const uint8_t key[WGC_KEY_LEN]);
bool uapi_key_from_hex(uint8_t key[WGC_KEY_LEN], const char *hex, size_t len);

#endif
