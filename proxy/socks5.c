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

/* ATYP DST.ADDR DST.PORT at buf[off..len) into req; *end is where it stops. */
static enum socks5_result parse_address(const uint8_t *buf, size_t len, size_t off, size_t *end,
					struct socks5_request *req)
{
	size_t addr_len;
	size_t addr_off = off + 1;

	if (len < off + 1)
		return SOCKS5_NEED_MORE;
	switch (buf[off]) {
	case SOCKS5_ATYP_IPV4:
		addr_len = 4;
		break;
	case SOCKS5_ATYP_IPV6:
		addr_len = 16;
		break;
	case SOCKS5_ATYP_DOMAIN:
		if (len < off + 2)
			return SOCKS5_NEED_MORE;
		addr_len = buf[off + 1];
		addr_off = off + 2;
		if (addr_len == 0)
			return SOCKS5_BAD_FORMAT;
		break;
	default:
		return SOCKS5_BAD_ADDRESS_TYPE;
	}
	if (len < addr_off + addr_len + 2)
		return SOCKS5_NEED_MORE;
	req->address_type = buf[off];
	if (buf[off] == SOCKS5_ATYP_DOMAIN) {
		if (memchr(buf + addr_off, '\0', addr_len))
			return SOCKS5_BAD_FORMAT;
		memcpy(req->host, buf + addr_off, addr_len);
		req->host[addr_len] = '\0';
	} else {
		memcpy(req->ip, buf + addr_off, addr_len);
	}
	req->port = (uint16_t)(buf[addr_off + addr_len] << 8 | buf[addr_off + addr_len + 1]);
	*end = addr_off + addr_len + 2;
	return SOCKS5_OK;
}

enum socks5_result socks5_parse_request(const uint8_t *buf, size_t len, size_t *used,
					struct socks5_request *req)
{
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
	memset(req, 0, sizeof(*req));
	req->command = buf[1];
	return parse_address(buf, len, 3, used, req);
}

enum socks5_result socks5_parse_udp(const uint8_t *buf, size_t len, size_t *header_len,
				    struct socks5_request *dst)
{
	enum socks5_result r;

	if (len < 4 || buf[0] != 0 || buf[1] != 0)
		return SOCKS5_BAD_FORMAT;
	if (buf[2] != 0)
		return SOCKS5_BAD_FORMAT; /* fragments: not supported (RFC 1928 allows dropping) */
	memset(dst, 0, sizeof(*dst));
	r = parse_address(buf, len, 3, header_len, dst);
	return r == SOCKS5_NEED_MORE ? SOCKS5_BAD_FORMAT : r;
}

size_t socks5_udp_header(uint8_t out[SOCKS5_REPLY_MAX], const uint8_t *ip, size_t ip_len,
			 uint16_t port)
{
	size_t n = socks5_reply(out, SOCKS5_REP_SUCCEEDED, ip, ip_len, port);

	out[0] = 0; /* RSV RSV FRAG, then the same ATYP ADDR PORT as a reply */
	out[1] = 0;
	out[2] = 0;
	return n;
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
