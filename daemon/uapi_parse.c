/* SPDX-License-Identifier: MIT */
/*
 * The pure part of the UAPI protocol: growable text buffers that wipe what they held, constant-time
 * hex for keys, and the parser that turns a set request into an op list. Nothing here touches the
 * endpoint or the sockets, so the fuzz target (tests/fuzz/fuzz_uapi.c) runs it on raw bytes; the
 * only I/O is getaddrinfo for endpoint names, and only when the caller asks for it.
 */
#include "daemon/uapi_parse.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon/log.h"
#include "daemon/addr.h"

enum {
	ENDPOINT_TEXT_MAX = 1024,
	PREFIX_TEXT_MAX = 64,
};

/* ---- text buffers ---- */

/*
 * Text buffers hold requests and replies, so private and preshared keys pass through them. Each
 * lives in its own anonymous mapping, excluded from core dumps (MADV_DONTDUMP) and locked in RAM
 * as it is touched (mlock2 MLOCK_ONFAULT) so no key reaches swap; the lock is best effort (a
 * lower RLIMIT_MEMLOCK makes it fail, logged once). All buffers together stay within
 * UAPI_MEMORY_MAX, so no number of clients can grow the daemon without bound.
 */
static size_t text_bytes_mapped;

size_t uapi_text_total(void)
{
	return text_bytes_mapped;
}

static void *text_map(size_t size)
{
	static bool is_lock_logged;
	void *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int err;

	if (mem == MAP_FAILED)
		return NULL;
	(void)madvise(mem, size, MADV_DONTDUMP);
	if (mlock2(mem, size, MLOCK_ONFAULT) < 0 && !is_lock_logged) {
		err = errno;
		is_lock_logged = true;
		log_error("locking UAPI buffers in memory: %s (keys in them could be swapped)",
			  strerror(err));
	}
	return mem;
}

static void text_unmap(char *data, size_t cap)
{
	sodium_memzero(data, cap);
	munmap(data, cap);
}

bool uapi_text_reserve(struct uapi_text *text, size_t extra)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t need;
	size_t cap;
	char *data;

	if (extra > UAPI_MEMORY_MAX || text->len > UAPI_MEMORY_MAX - extra)
		return false;
	need = text->len + extra;
	if (need <= text->cap)
		return true;
	/* Grow by half (amortised copies, at most 1.5 times what is needed); near the budget,
	 * take only what is needed. */
	cap = text->cap ? text->cap + text->cap / 2 : 4096;
	if (cap < need)
		cap = need;
	cap = (cap + page - 1) & ~(page - 1);
	if (cap - text->cap > UAPI_MEMORY_MAX - text_bytes_mapped)
		cap = (need + page - 1) & ~(page - 1);
	if (cap - text->cap > UAPI_MEMORY_MAX - text_bytes_mapped)
		return false;
	/* A fresh mapping, not mremap: the old pages may hold a private key and are wiped. */
	data = text_map(cap);
	if (!data)
		return false;
	if (text->data) {
		memcpy(data, text->data, text->len);
		text_unmap(text->data, text->cap);
	}
	text_bytes_mapped += cap - text->cap;
	text->data = data;
	text->cap = cap;
	return true;
}

bool uapi_text_append(struct uapi_text *text, const char *bytes, size_t len)
{
	if (!uapi_text_reserve(text, len + 1))
		return false;
	memcpy(text->data + text->len, bytes, len);
	text->len += len;
	text->data[text->len] = '\0';
	return true;
}

bool uapi_text_printf(struct uapi_text *text, const char *fmt, ...)
{
	char line[256];
	va_list ap;
	int n;

	bool ok;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	ok = n >= 0 && (size_t)n < sizeof(line) && uapi_text_append(text, line, (size_t)n);
	sodium_memzero(line, sizeof(line)); /* the line may be "private_key=..." */
	return ok;
}

void uapi_text_consume(struct uapi_text *text, size_t len)
{
	if (len > text->len)
		len = text->len;
	memmove(text->data, text->data + len, text->len - len);
	sodium_memzero(text->data + text->len - len, len);
	text->len -= len;
}

void uapi_text_free(struct uapi_text *text)
{
	if (text->data) {
		text_unmap(text->data, text->cap);
		text_bytes_mapped -= text->cap;
	}
	memset(text, 0, sizeof(*text));
}

/* ---- constant-time hex ---- */

/* 1 when x < k, else 0, for x and k below 2^31, without a branch. */
static unsigned ct_lt(unsigned x, unsigned k)
{
	return ((x - k) >> 31) & 1u;
}

void uapi_key_to_hex(char hex[2 * WGC_KEY_LEN + 1], const uint8_t key[WGC_KEY_LEN])
{
	unsigned i;
	unsigned n;

	for (i = 0; i < 2 * WGC_KEY_LEN; i++) {
		n = (unsigned)(key[i / 2] >> (i % 2 ? 0 : 4)) & 0xfu;
		/* '0' + n, plus the gap to 'a' when n >= 10 */
		hex[i] = (char)(n + '0' + (39u & (0u - (1u ^ ct_lt(n, 10)))));
	}
	hex[2 * WGC_KEY_LEN] = '\0';
}

/* The value of hex digit c; clears *ok when c is not one. No branch depends on c. */
static unsigned hex_digit(unsigned char c, unsigned *ok)
{
	unsigned lower = (unsigned)c | 0x20u;
	unsigned is_digit = (1u ^ ct_lt(c, '0')) & ct_lt(c, '9' + 1);
	unsigned is_alpha = (1u ^ ct_lt(lower, 'a')) & ct_lt(lower, 'f' + 1);

	*ok &= is_digit | is_alpha;
	return (((unsigned)c - '0') & (0u - is_digit)) | ((lower - 'a' + 10) & (0u - is_alpha));
}

bool uapi_key_from_hex(uint8_t key[WGC_KEY_LEN], const char *hex, size_t len)
{
	unsigned ok = 1;
	unsigned i;

	if (len != 2 * WGC_KEY_LEN)
		return false;
	for (i = 0; i < WGC_KEY_LEN; i++)
		key[i] = (uint8_t)(hex_digit((unsigned char)hex[2 * i], &ok) << 4 |
				   hex_digit((unsigned char)hex[2 * i + 1], &ok));
	if (!ok)
		sodium_memzero(key, WGC_KEY_LEN);
	return ok;
}

/* ---- parsing ---- */

static bool equals(const char *s, size_t len, const char *literal)
{
	return strlen(literal) == len && memcmp(s, literal, len) == 0;
}

/* Decimal digits only, as Go's strconv.ParseUint(s, 10, bits) which wireguard-go uses. */
static bool parse_uint(const char *s, size_t len, uint32_t max, uint32_t *out)
{
	uint64_t value = 0;
	size_t i;

	if (len == 0 || len > 10)
		return false;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		value = value * 10 + (uint64_t)(s[i] - '0');
	}
	if (value > max)
		return false;
	*out = (uint32_t)value;
	return true;
}

/* Copies a value into a NUL-terminated buffer; false if it is too long or holds a NUL. */
static bool copy_value(char *dst, size_t dst_size, const char *s, size_t len)
{
	if (len == 0 || len >= dst_size || memchr(s, '\0', len))
		return false;
	memcpy(dst, s, len);
	dst[len] = '\0';
	return true;
}

/*
 * A numeric address only, as wireguard-go's UAPI takes it: the wg tool resolves names itself
 * before it sends, and a lookup here would stall the event loop (and every packet) for as long as
 * a slow resolver takes, and need files and sockets the sandbox does not grant.
 */
static bool parse_host(const char *host, struct wgc_addr *out)
{
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICHOST };
	struct addrinfo *res = NULL;
	bool ok;

	if (getaddrinfo(host, NULL, &hints, &res) != 0)
		return false;
	ok = addr_from_sockaddr(res->ai_addr, out);
	freeaddrinfo(res);
	return ok;
}

/* host:port, [v6]:port or [v6%scope]:port; a bare IPv6 address needs the brackets. */
static bool parse_endpoint(const char *s, size_t len, struct wgc_addr *out)
{
	char text[ENDPOINT_TEXT_MAX];
	char *host = text;
	char *colon;
	char *close;
	uint32_t port;

	if (!copy_value(text, sizeof(text), s, len))
		return false;
	if (text[0] == '[') {
		close = strchr(text, ']');
		if (!close || close[1] != ':')
			return false;
		host = text + 1;
		*close = '\0';
		colon = close + 1;
	} else {
		colon = strrchr(text, ':');
		if (!colon || memchr(text, ':', (size_t)(colon - text)))
			return false;
		*colon = '\0';
	}
	if (*host == '\0' || !parse_uint(colon + 1, strlen(colon + 1), UINT16_MAX, &port))
		return false;
	if (!parse_host(host, out))
		return false;
	out->port = (uint16_t)port;
	return true;
}

/* ADDRESS/CIDR, numeric only. */
static bool parse_prefix(const char *s, size_t len, struct wgc_prefix *out)
{
	char text[PREFIX_TEXT_MAX];
	char *slash;
	uint32_t cidr;
	int family;

	if (!copy_value(text, sizeof(text), s, len))
		return false;
	slash = strchr(text, '/');
	if (!slash || slash[1] == '\0' || strlen(slash + 1) > 3)
		return false;
	*slash = '\0';
	family = strchr(text, ':') ? AF_INET6 : AF_INET;
	memset(out, 0, sizeof(*out));
	if (inet_pton(family, text, out->ip) != 1)
		return false;
	if (!parse_uint(slash + 1, strlen(slash + 1), family == AF_INET ? 32 : 128, &cidr))
		return false;
	out->family = family == AF_INET ? WGC_AF_INET : WGC_AF_INET6;
	out->cidr = (uint8_t)cidr;
	return true;
}

static int push_op(struct uapi_request *req, const struct uapi_op *op)
{
	struct uapi_op *ops;
	size_t cap;

	if (req->count == req->cap) {
		cap = req->cap ? req->cap * 2 : 64;
		ops = calloc(cap, sizeof(*ops));
		if (!ops)
			return -ENOMEM;
		if (req->ops) {
			memcpy(ops, req->ops, req->count * sizeof(*ops));
			sodium_memzero(req->ops, req->cap * sizeof(*ops));
			free(req->ops);
		}
		req->ops = ops;
		req->cap = cap;
	}
	req->ops[req->count++] = *op;
	return 0;
}

/* Keys wireguard-go accepts before the first public_key. */
static bool parse_device_line(const char *key, size_t key_len, const char *value, size_t len,
			      struct uapi_op *op)
{
	if (equals(key, key_len, "private_key")) {
		op->kind = UAPI_OP_PRIVATE_KEY;
		return uapi_key_from_hex(op->u.key, value, len);
	}
	if (equals(key, key_len, "listen_port")) {
		op->kind = UAPI_OP_LISTEN_PORT;
		return parse_uint(value, len, UINT16_MAX, &op->u.number);
	}
	if (equals(key, key_len, "fwmark")) {
		op->kind = UAPI_OP_FWMARK;
		return parse_uint(value, len, UINT32_MAX, &op->u.number);
	}
	if (equals(key, key_len, "replace_peers")) {
		op->kind = UAPI_OP_REPLACE_PEERS;
		return equals(value, len, "true");
	}
	return false;
}

static bool parse_peer_line(const char *key, size_t key_len, const char *value, size_t len,
			    struct uapi_op *op)
{
	static const struct {
		const char *key;
		enum uapi_op_kind kind;
	} flags[] = {
		{ "remove", UAPI_OP_REMOVE },
		{ "update_only", UAPI_OP_UPDATE_ONLY },
		{ "replace_allowed_ips", UAPI_OP_REPLACE_ALLOWED_IPS },
	};
	size_t i;

	for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		if (equals(key, key_len, flags[i].key)) {
			op->kind = flags[i].kind;
			return equals(value, len, "true");
		}
	}
	if (equals(key, key_len, "preshared_key")) {
		op->kind = UAPI_OP_PRESHARED_KEY;
		return uapi_key_from_hex(op->u.key, value, len);
	}
	if (equals(key, key_len, "endpoint")) {
		op->kind = UAPI_OP_ENDPOINT;
		return parse_endpoint(value, len, &op->u.addr);
	}
	if (equals(key, key_len, "persistent_keepalive_interval")) {
		op->kind = UAPI_OP_KEEPALIVE;
		return parse_uint(value, len, UINT16_MAX, &op->u.number);
	}
	if (equals(key, key_len, "allowed_ip")) {
		bool is_removal = len > 0 && value[0] == '-';

		op->kind = is_removal ? UAPI_OP_ALLOWED_IP_REMOVE : UAPI_OP_ALLOWED_IP_ADD;
		return parse_prefix(value + is_removal, len - is_removal, &op->u.prefix);
	}
	if (equals(key, key_len, "protocol_version")) {
		op->kind = UAPI_OP_PROTOCOL_VERSION;
		return equals(value, len, "1");
	}
	return false;
}

int uapi_parse(const char *body, size_t len, struct uapi_request *req)
{
	const char *line = body;
	const char *end = body + len;
	const char *newline;
	const char *eq;
	struct uapi_op op;
	bool in_peer = false;
	bool ok;
	int ret = 0;

	memset(req, 0, sizeof(*req));
	for (; line < end; line = newline + 1) {
		newline = memchr(line, '\n', (size_t)(end - line));
		if (!newline)
			newline = end;
		eq = memchr(line, '=', (size_t)(newline - line));
		ret = -EINVAL;
		if (!eq)
			goto out;
		memset(&op, 0, sizeof(op));
		if (equals(line, (size_t)(eq - line), "public_key")) {
			op.kind = UAPI_OP_PEER;
			ok = uapi_key_from_hex(op.u.key, eq + 1, (size_t)(newline - eq - 1));
			in_peer = true;
		} else if (in_peer) {
			ok = parse_peer_line(line, (size_t)(eq - line), eq + 1,
					     (size_t)(newline - eq - 1), &op);
		} else {
			ok = parse_device_line(line, (size_t)(eq - line), eq + 1,
					       (size_t)(newline - eq - 1), &op);
		}
		if (!ok) {
			log_verbose("UAPI set: invalid line '%.*s'", (int)(eq - line), line);
			goto out;
		}
		ret = push_op(req, &op);
		if (ret < 0)
			goto out;
	}
	ret = 0;
out:
	sodium_memzero(&op, sizeof(op));
	if (ret < 0)
		uapi_request_clear(req);
	return ret;
}

void uapi_request_clear(struct uapi_request *req)
{
	if (req->ops) {
		sodium_memzero(req->ops, req->cap * sizeof(*req->ops));
		free(req->ops);
	}
	memset(req, 0, sizeof(*req));
}
