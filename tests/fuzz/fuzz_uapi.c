/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the daemon's UAPI set parser (daemon/uapi_parse.c): any bytes must parse
 * or fail with -EINVAL without a crash, a leak or a read past the input, and every op of a
 * successful parse must be well formed. Also checks that the
 * constant-time hex coding of keys round-trips.
 */
#include "daemon/uapi_parse.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                            \
	do {                                                                                   \
		if (!(cond))                                                                   \
			__builtin_trap();                                                      \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_op(const struct uapi_op *op)
{
	switch (op->kind) {
	case UAPI_OP_LISTEN_PORT:
	case UAPI_OP_KEEPALIVE:
		CHECK(op->u.number <= UINT16_MAX);
		break;
	case UAPI_OP_ENDPOINT:
		CHECK(op->u.addr.family == WGC_AF_INET || op->u.addr.family == WGC_AF_INET6);
		break;
	case UAPI_OP_ALLOWED_IP_ADD:
	case UAPI_OP_ALLOWED_IP_REMOVE:
		CHECK((op->u.prefix.family == WGC_AF_INET && op->u.prefix.cidr <= 32) ||
		      (op->u.prefix.family == WGC_AF_INET6 && op->u.prefix.cidr <= 128));
		break;
	default:
		CHECK(op->kind <= UAPI_OP_PROTOCOL_VERSION);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size copy, so ASan sees any read past the request. */
	char *body = malloc(size ? size : 1);
	struct uapi_request req;
	char hex[2 * WGC_KEY_LEN + 1];
	uint8_t key[WGC_KEY_LEN];
	size_t i;
	int ret;

	if (!body)
		return 0;
	memcpy(body, data, size);
	ret = uapi_parse(body, size, &req);
	CHECK(ret == 0 || ret == -EINVAL || ret == -ENOMEM);
	if (ret == 0) {
		CHECK(req.count <= size);
		for (i = 0; i < req.count; i++)
			check_op(&req.ops[i]);
	} else {
		CHECK(req.ops == NULL && req.count == 0);
	}
	uapi_request_clear(&req);
	if (size >= WGC_KEY_LEN) {
		uapi_key_to_hex(hex, data);
		CHECK(uapi_key_from_hex(key, hex, 2 * WGC_KEY_LEN));
		CHECK(memcmp(key, data, WGC_KEY_LEN) == 0);
	}
	if (size >= 2 * WGC_KEY_LEN && uapi_key_from_hex(key, body, 2 * WGC_KEY_LEN)) {
		uapi_key_to_hex(hex, key);
		for (i = 0; i < 2 * WGC_KEY_LEN; i++)
			CHECK(hex[i] == (body[i] | ((body[i] >= 'A' && body[i] <= 'F') ? 0x20 : 0)));
	}
	free(body);
	return 0;
}
