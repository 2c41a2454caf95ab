/* SPDX-License-Identifier: MIT */
/*
 * SOCKS5 message parsing and reply building. Lengths are checked before each field is read;
 * an incomplete message is never an error, only NEED_MORE, so a client may send byte by byte.
 */
#include "proxy/socks5.h"

#include <string.h>

enum socks5_result socks5_parse_greeting(const uint8_t *buf, size_t len, bool need_auth,
					 size_t *used, uint8_t *method)
{
	uint8_t want = need_auth ? SOCKS5_METHOD_USERPASS : SOCKS5_METHOD_NONE;
	size_t n;

	if (len < 1)
		return SOCKS5_NEED_MORE;
	if (buf[0] != SOCKS5_VERSION)
		return SOCKS5_BAD_VERSION;
	if (len < 2)
		return SOCKS5_NEED_MORE;
	n = buf[1];
	if (n == 0)
		return SOCKS5_BAD_FORMAT;
	if (len < 2 + n)
		return SOCKS5_NEED_MORE;
	*used = 2 + n;
	*method = SOCKS5_METHOD_UNACCEPTABLE;
	for (size_t i = 0; i < n; i++)
		if (buf[2 + i] == want)
			*method = want;
	return *method == want ? SOCKS5_OK : SOCKS5_NO_METHOD;
}

enum socks5_result socks5_parse_auth(const uint8_t *buf, size_t len, size_t *used,
				     const uint8_t **user, size_t *user_len, const uint8_t **pass,
				     size_t *pass_len)
{
	size_t ulen;
	size_t plen;

	if (len < 1)
		return SOCKS5_NEED_MORE;
	if (buf[0] != SOCKS5_AUTH_VERSION)
		return SOCKS5_BAD_VERSION;
	if (len < 2)
		return SOCKS5_NEED_MORE;
	ulen = buf[1];
	if (ulen == 0)
		return SOCKS5_BAD_FORMAT;
	if (len < 2 + ulen + 1)
		return SOCKS5_NEED_MORE;
	plen = buf[2 + ulen];
	if (len < 3 + ulen + plen)
		return SOCKS5_NEED_MORE;
	*user = buf + 2;
	*user_len = ulen;
	*pass = buf + 3 + ulen;
	*pass_len = plen;
	*used = 3 + ulen + plen;
	return SOCKS5_OK;
}

enum socks5_result socks5_parse_request(const uint8_t *buf, size_t len, size_t *used,
					struct socks5_request *req)
{
	size_t addr_len;
	size_t addr_off = 4;

	if (len < 1)
		return SOCKS5_NEED_MORE;
	if (buf[0] != SOCKS5_VERSION)
		return SOCKS5_BAD_VERSION;
	if (len < 2)
		return SOCKS5_NEED_MORE;
	if (buf[1] != SOCKS5_CMD_CONNECT && buf[1] != SOCKS5_CMD_BIND &&
	    buf[1] != SOCKS5_CMD_UDP_ASSOCIATE)
		return SOCKS5_BAD_COMMAND;
	if (len < 3)
		return SOCKS5_NEED_MORE;
	if (buf[2] != 0)
		return SOCKS5_BAD_FORMAT;
	if (len < 4)
		return SOCKS5_NEED_MORE;
	switch (buf[3]) {
	case SOCKS5_ATYP_IPV4:
		addr_len = 4;
		break;
	case SOCKS5_ATYP_IPV6:
		addr_len = 16;
		break;
	case SOCKS5_ATYP_DOMAIN:
		if (len < 5)
			return SOCKS5_NEED_MORE;
		addr_len = buf[4];
		addr_off = 5;
		if (addr_len == 0)
			return SOCKS5_BAD_FORMAT;
		break;
	default:
		return SOCKS5_BAD_ADDRESS_TYPE;
	}
	if (len < addr_off + addr_len + 2)
		return SOCKS5_NEED_MORE;
	memset(req, 0, sizeof(*req));
	req->command = buf[1];
	req->address_type = buf[3];
	if (buf[3] == SOCKS5_ATYP_DOMAIN) {
		if (memchr(buf + addr_off, '\0', addr_len))
			return SOCKS5_BAD_FORMAT;
		memcpy(req->host, buf + addr_off, addr_len);
	} else {
		memcpy(req->ip, buf + addr_off, addr_len);
	}
	req->port = (uint16_t)(buf[addr_off + addr_len] << 8 | buf[addr_off + addr_len + 1]);
	*used = addr_off + addr_len + 2;
	return SOCKS5_OK;
}

size_t socks5_reply(uint8_t out[SOCKS5_REPLY_MAX], enum socks5_reply rep, const uint8_t *ip,
		    size_t ip_len, uint16_t port)
{
	static const uint8_t zero[4];

	if (ip == NULL || (ip_len != 4 && ip_len != 16)) {
		ip = zero;
		ip_len = 4;
		port = 0;
	}
	out[0] = SOCKS5_VERSION;
	out[1] = (uint8_t)rep;
	out[2] = 0;
	out[3] = ip_len == 4 ? SOCKS5_ATYP_IPV4 : SOCKS5_ATYP_IPV6;
	memcpy(out + 4, ip, ip_len);
	out[4 + ip_len] = (uint8_t)(port >> 8);
	out[5 + ip_len] = (uint8_t)port;
	return 6 + ip_len;
}
