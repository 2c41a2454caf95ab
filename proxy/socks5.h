/* SPDX-License-Identifier: MIT */
/*
 * proxy/socks5: the SOCKS5 wire protocol (RFC 1928) and its username/password sub-negotiation
 * (RFC 1929) as pure functions over the bytes a client has sent so far. Each parser says whether
 * the message is complete, how many bytes it used, and what was wrong; the connection code in
 * proxy/conn.c decides the reply and the counters. Nothing here does I/O.
 */
#ifndef WGC_PROXY_SOCKS5_H
#define WGC_PROXY_SOCKS5_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	SOCKS5_VERSION = 5,
	SOCKS5_AUTH_VERSION = 1,
	SOCKS5_METHOD_NONE = 0x00,
	SOCKS5_METHOD_USERPASS = 0x02,
	SOCKS5_METHOD_UNACCEPTABLE = 0xff,
	SOCKS5_CMD_CONNECT = 1,
	SOCKS5_CMD_BIND = 2,
	SOCKS5_CMD_UDP_ASSOCIATE = 3,
	SOCKS5_ATYP_IPV4 = 1,
	SOCKS5_ATYP_DOMAIN = 3,
	SOCKS5_ATYP_IPV6 = 4,
	/* The longest message a client sends before its data: a user/password request. */
	SOCKS5_MESSAGE_MAX = 3 + 255 + 255,
	SOCKS5_REPLY_MAX = 4 + 16 + 2,
};

/* Reply codes (RFC 1928 section 6). */
enum socks5_reply {
	SOCKS5_REP_SUCCEEDED = 0,
	SOCKS5_REP_GENERAL_FAILURE = 1,
	SOCKS5_REP_NOT_ALLOWED = 2,
	SOCKS5_REP_NETWORK_UNREACHABLE = 3,
	SOCKS5_REP_HOST_UNREACHABLE = 4,
	SOCKS5_REP_CONNECTION_REFUSED = 5,
	SOCKS5_REP_TTL_EXPIRED = 6,
	SOCKS5_REP_COMMAND_NOT_SUPPORTED = 7,
	SOCKS5_REP_ADDRESS_TYPE_NOT_SUPPORTED = 8,
};

enum socks5_result {
	SOCKS5_NEED_MORE,    /* the message is not complete yet */
	SOCKS5_OK,           /* complete; *used bytes form it */
	SOCKS5_BAD_VERSION,  /* wrong version byte */
	SOCKS5_NO_METHOD,    /* greeting offers no method we accept */
	SOCKS5_BAD_FORMAT,   /* zero methods, empty user name or host, reserved byte set */
	SOCKS5_BAD_COMMAND,  /* a command other than CONNECT, BIND, UDP ASSOCIATE */
	SOCKS5_BAD_ADDRESS_TYPE,
};

/* Greeting: VER NMETHODS METHODS... On OK, *method is the one to answer with: USERPASS when
 * need_auth, else NONE; NO_METHOD when the client does not offer it. */
enum socks5_result socks5_parse_greeting(const uint8_t *buf, size_t len, bool need_auth,
					 size_t *used, uint8_t *method);

/* RFC 1929: VER ULEN UNAME PLEN PASSWD. On OK, user/pass point into buf (not NUL-terminated). */
enum socks5_result socks5_parse_auth(const uint8_t *buf, size_t len, size_t *used,
				     const uint8_t **user, size_t *user_len, const uint8_t **pass,
				     size_t *pass_len);

struct socks5_request {
	uint8_t command;
	uint8_t address_type;
	uint8_t ip[16];  /* ATYP_IPV4: 4 bytes, ATYP_IPV6: 16 */
	char host[256];  /* ATYP_DOMAIN: NUL-terminated, 1..255 bytes, no NUL inside */
	uint16_t port;   /* host order */
};

/* Request: VER CMD RSV ATYP DST.ADDR DST.PORT. BAD_COMMAND and BAD_ADDRESS_TYPE are reported
 * as soon as the byte is seen (the reply is due without the rest). */
enum socks5_result socks5_parse_request(const uint8_t *buf, size_t len, size_t *used,
					struct socks5_request *req);

/* A UDP ASSOCIATE datagram from the client (RFC 1928 section 7): RSV RSV FRAG ATYP DST.ADDR
 * DST.PORT DATA. On OK, dst holds the destination and the data starts at *header_len.
 * BAD_FORMAT for a short or malformed header and for fragments (FRAG != 0), which we drop. */
enum socks5_result socks5_parse_udp(const uint8_t *buf, size_t len, size_t *header_len,
				    struct socks5_request *dst);
/* The header for a datagram to the client from ip (4 or 16 bytes):port; returns its length. */
size_t socks5_udp_header(uint8_t out[SOCKS5_REPLY_MAX], const uint8_t *ip, size_t ip_len,
			 uint16_t port);

/* Writes a reply with rep and the bound address (ip of ip_len 4 or 16, or NULL for 0.0.0.0:0)
 * to out (SOCKS5_REPLY_MAX bytes); returns its length. */
size_t socks5_reply(uint8_t out[SOCKS5_REPLY_MAX], enum socks5_reply rep, const uint8_t *ip,
		    size_t ip_len, uint16_t port);

#endif
