/* SPDX-License-Identifier: MIT */
/*
 * The client's protocol before the relay: the SOCKS5 negotiation (RFC 1928 greeting, RFC 1929
 * user/password, the request: CONNECT and UDP ASSOCIATE) and the HTTP proxy's request head
 * (CONNECT, or a forwarded http:// request), and the replies each protocol has for success and
 * for every failure. The wire formats are proxy/socks5 and proxy/http (pure); this file turns
 * their results into replies, counters and calls to conn.c's connect.
 */
#include "proxy/conn.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "lwip/tcp.h"
#include "proxy/http.h"

/* Writes a short negotiation reply; such a write never blocks on a fresh socket. */
static void send_small(struct conn *c, const uint8_t *data, size_t len)
{
	(void)!write(c->w.fd, data, len);
}

static void socks_fail(struct conn *c, enum socks5_reply rep)
{
	uint8_t out[SOCKS5_REPLY_MAX];

	send_small(c, out, socks5_reply(out, rep, NULL, 0, 0));
	conn_free(c);
}

static void http_fail(struct conn *c, int code);
static bool http_advance(struct conn *c);

/* ---- SOCKS5 negotiation ---- */

static void consume_hs(struct conn *c, size_t used)
{
	memmove(c->hs, c->hs + used, c->hs_len - used);
	c->hs_len -= used;
}

/* Counts a bad message and ends the connection with the reply the protocol has for it. */
static void socks_bad(struct conn *c, enum socks5_result r)
{
	struct proxy_stats *st = &c->px->stats;

	switch (r) {
	case SOCKS5_BAD_VERSION:
		st->socks_bad_version++;
		conn_free(c); /* not SOCKS5: no reply we could give makes sense */
		return;
	case SOCKS5_BAD_COMMAND:
		st->socks_bad_command++;
		socks_fail(c, SOCKS5_REP_COMMAND_NOT_SUPPORTED);
		return;
	case SOCKS5_BAD_ADDRESS_TYPE:
		st->socks_bad_address_type++;
		socks_fail(c, SOCKS5_REP_ADDRESS_TYPE_NOT_SUPPORTED);
		return;
	default:
		st->socks_bad_format++;
		socks_fail(c, SOCKS5_REP_GENERAL_FAILURE);
		return;
	}
}

static bool check_auth(const struct config_service *svc, const uint8_t *user, size_t user_len,
		       const uint8_t *pass, size_t pass_len)
{
	size_t ulen = strlen(svc->username);
	size_t plen = strlen(svc->password);
	/* compare both fields whole, in constant time for a given length */
	int bad = (ulen != user_len) | (plen != pass_len);

	if (!bad) {
		bad |= sodium_memcmp(user, svc->username, ulen) != 0;
		bad |= sodium_memcmp(pass, svc->password, plen) != 0;
	}
	return !bad;
}

/* UDP ASSOCIATE: a UDP socket on the address the client reached us at, replied as BND. The
 * request's DST (where the client will send from) is not needed: only the TCP peer's IP may
 * use the association, and its first datagram fixes the port. */
static void socks_associate(struct conn *c)
{
	struct sockaddr_storage local;
	struct sockaddr_storage peer;
	struct sockaddr_storage bound;
	socklen_t llen = sizeof(local);
	socklen_t plen = sizeof(peer);
	uint8_t out[SOCKS5_REPLY_MAX];
	size_t len;

	if (getsockname(c->w.fd, (struct sockaddr *)&local, &llen) != 0 ||
	    getpeername(c->w.fd, (struct sockaddr *)&peer, &plen) != 0 ||
	    !socks5_assoc_open(&c->assoc, c->px, &local, &peer, &bound)) {
		c->px->stats.connect_failed++;
		socks_fail(c, SOCKS5_REP_GENERAL_FAILURE);
		return;
	}
	if (bound.ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)&bound;

		len = socks5_reply(out, SOCKS5_REP_SUCCEEDED, (const uint8_t *)&sin->sin_addr, 4,
				   ntohs(sin->sin_port));
	} else {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&bound;

		len = socks5_reply(out, SOCKS5_REP_SUCCEEDED, (const uint8_t *)&sin6->sin6_addr,
				   16, ntohs(sin6->sin6_port));
	}
	send_small(c, out, len);
	c->px->stats.socks_ok++;
	conn_free_hs(c);
	c->state = CONN_UDP_ASSOC;
	conn_update_events(c);
}

static void socks_request(struct conn *c, const struct socks5_request *req)
{
	ip_addr_t ip;

	if (req->command == SOCKS5_CMD_UDP_ASSOCIATE) {
		socks_associate(c);
		return;
	}
	if (req->command != SOCKS5_CMD_CONNECT) {
		c->px->stats.socks_bad_command++;
		socks_fail(c, SOCKS5_REP_COMMAND_NOT_SUPPORTED);
		return;
	}
	if (req->address_type == SOCKS5_ATYP_IPV4) {
		IP_ADDR4(&ip, req->ip[0], req->ip[1], req->ip[2], req->ip[3]);
	} else if (req->address_type == SOCKS5_ATYP_IPV6) {
		ip_addr_set_zero_ip6(&ip);
		memcpy(ip_2_ip6(&ip)->addr, req->ip, 16);
	} else {
		if (c->hs_len > 0 && !relay_stash(c, c->hs, c->hs_len)) {
			conn_free(c);
			return;
		}
		conn_free_hs(c);
		conn_resolve_and_connect(c, req->host, req->port);
		return;
	}
	if ((IP_IS_V4(&ip) && !c->px->has_ip4) || (IP_IS_V6(&ip) && !c->px->has_ip6)) {
		c->px->stats.connect_no_route++;
		socks_fail(c, SOCKS5_REP_NETWORK_UNREACHABLE);
		return;
	}
	/* bytes the client sent after its request go out once connected */
	if (c->hs_len > 0 && !relay_stash(c, c->hs, c->hs_len)) {
		conn_free(c);
		return;
	}
	conn_free_hs(c);
	conn_connect(c, &ip, req->port);
}

/* Advances the negotiation over the bytes in c->hs. Returns false if the connection ended. */
static bool socks_advance(struct conn *c)
{
	const struct config_service *svc = c->ls->svc;
	enum socks5_result r;
	size_t used;

	for (;;) {
		if (c->state == CONN_GREETING) {
			uint8_t method;
			uint8_t reply[2] = { SOCKS5_VERSION, 0 };

			r = socks5_parse_greeting(c->hs, c->hs_len, svc->has_auth, &used, &method);
			if (r == SOCKS5_NEED_MORE)
				return true;
			if (r == SOCKS5_NO_METHOD) {
				c->px->stats.socks_no_method++;
				reply[1] = SOCKS5_METHOD_UNACCEPTABLE;
				send_small(c, reply, 2);
				conn_free(c);
				return false;
			}
			if (r == SOCKS5_BAD_VERSION) {
				socks_bad(c, r);
				return false;
			}
			if (r != SOCKS5_OK) {
				/* a malformed greeting gets the greeting's only refusal */
				c->px->stats.socks_bad_format++;
				reply[1] = SOCKS5_METHOD_UNACCEPTABLE;
				send_small(c, reply, 2);
				conn_free(c);
				return false;
			}
			reply[1] = method;
			send_small(c, reply, 2);
			consume_hs(c, used);
			c->state = svc->has_auth ? CONN_AUTH : CONN_REQUEST;
		} else if (c->state == CONN_AUTH) {
			const uint8_t *user;
			const uint8_t *pass;
			size_t ulen;
			size_t plen;
			uint8_t reply[2] = { SOCKS5_AUTH_VERSION, 0 };

			r = socks5_parse_auth(c->hs, c->hs_len, &used, &user, &ulen, &pass, &plen);
			if (r == SOCKS5_NEED_MORE)
				return true;
			if (r != SOCKS5_OK || !check_auth(svc, user, ulen, pass, plen)) {
				c->px->stats.socks_bad_auth++;
				reply[1] = 1;
				send_small(c, reply, 2);
				conn_free(c);
				return false;
			}
			send_small(c, reply, 2);
			consume_hs(c, used);
			c->state = CONN_REQUEST;
		} else if (c->state == CONN_REQUEST) {
			struct socks5_request req;

			r = socks5_parse_request(c->hs, c->hs_len, &used, &req);
			if (r == SOCKS5_NEED_MORE)
				return true;
			if (r != SOCKS5_OK) {
				socks_bad(c, r);
				return false;
			}
			consume_hs(c, used);
			socks_request(c, &req);
			return false; /* c may be gone; the caller re-reads nothing */
		} else {
			return true;
		}
	}
}

/* The client's socket is readable before RELAY. Returns false if the connection ended. */
bool negotiate_read(struct conn *c)
{
	ssize_t n;

	if (c->hs_len == c->hs_size) {
		/* SOCKS5: cannot happen for well-formed messages, each fits; HTTP: the parser
		 * has already answered 431 */
		c->px->stats.socks_bad_format++;
		socks_fail(c, SOCKS5_REP_GENERAL_FAILURE);
		return false;
	}
	n = read(c->w.fd, c->hs + c->hs_len, c->hs_size - c->hs_len);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return true;
		c->px->stats.socks_truncated++;
		conn_free(c);
		return false;
	}
	if (n == 0) {
		if (c->is_http)
			c->px->stats.http_truncated++;
		else
			c->px->stats.socks_truncated++;
		conn_free(c);
		return false;
	}
	c->hs_len += (size_t)n;
	return c->is_http ? http_advance(c) : socks_advance(c);
}

/* ---- HTTP proxy negotiation ---- */

static void http_fail(struct conn *c, int code)
{
	char out[256];
	const char *text = code == 400 ? "Bad Request" :
			   code == 407 ? "Proxy Authentication Required" :
			   code == 431 ? "Request Header Fields Too Large" :
			   code == 501 ? "Not Implemented" :
			   code == 502 ? "Bad Gateway" :
			   code == 504 ? "Gateway Timeout" : "Error";
	int n = snprintf(out, sizeof(out),
			 "HTTP/1.1 %d %s\r\n%sContent-Length: 0\r\nConnection: close\r\n\r\n",
			 code, text,
			 code == 407 ? "Proxy-Authenticate: Basic realm=\"wgc-proxy\"\r\n" : "");

	if (n > 0 && (size_t)n < sizeof(out))
		send_small(c, (const uint8_t *)out, (size_t)n);
	conn_free(c);
}

static bool http_auth_ok(const struct config_service *svc, const struct http_request *req)
{
	if (!svc->has_auth)
		return true;
	if (!req->has_credentials)
		return false;
	return check_auth(svc, (const uint8_t *)req->user, strlen(req->user),
			  (const uint8_t *)req->password, strlen(req->password));
}

/* Advances over the head in c->hs. Returns false if the connection ended or is connecting. */
static bool http_advance(struct conn *c)
{
	struct proxy_stats *st = &c->px->stats;
	struct http_request req;
	enum http_result r = http_parse_request((const char *)c->hs, c->hs_len, &req);
	bool ok;

	switch (r) {
	case HTTP_NEED_MORE:
		return true;
	case HTTP_OK:
		break;
	case HTTP_TOO_LARGE:
		st->http_bad_request++;
		http_fail(c, 431);
		return false;
	case HTTP_NOT_SUPPORTED:
		st->http_bad_request++;
		http_fail(c, 501);
		return false;
	case HTTP_BAD_REQUEST:
		st->http_bad_request++;
		http_fail(c, 400);
		return false;
	}
	ok = http_auth_ok(c->ls->svc, &req);
	sodium_memzero(req.password, sizeof(req.password));
	if (!ok) {
		st->http_bad_auth++;
		http_fail(c, 407);
		return false;
	}
	if (req.is_connect) {
		/* bytes after the head go out once connected; hs_len 1 marks CONNECT */
		if (c->hs_len > req.head_len &&
		    !relay_stash(c, c->hs + req.head_len, c->hs_len - req.head_len)) {
			conn_free(c);
			return false;
		}
		c->hs_len = 1;
	} else {
		char head[HTTP_HEAD_MAX + 64];
		size_t n = http_forward_head((const char *)c->hs, c->hs_len, head, sizeof(head));
		size_t body = c->hs_len - req.head_len;
		uint8_t *s;

		if (n == 0) {
			st->http_bad_request++;
			http_fail(c, 400);
			return false;
		}
		s = malloc(n + body);
		if (!s) {
			conn_free(c);
			return false;
		}
		memcpy(s, head, n);
		memcpy(s + n, c->hs + req.head_len, body);
		sodium_memzero(head, sizeof(head));
		c->stash = s;
		c->stash_len = n + body;
		c->stash_off = 0;
		c->hs_len = 0;
	}
	conn_resolve_and_connect(c, req.host, req.port);
	return false;
}


/* ---- the outcome of the connect ---- */

void negotiate_connected(struct conn *c)
{
	struct tcp_pcb *pcb = c->pcb;

	if (c->is_socks) {
		uint8_t out[SOCKS5_REPLY_MAX];
		size_t len;

		if (IP_IS_V4(&pcb->local_ip))
			len = socks5_reply(out, SOCKS5_REP_SUCCEEDED,
					   (const uint8_t *)&ip_2_ip4(&pcb->local_ip)->addr, 4,
					   pcb->local_port);
		else
			len = socks5_reply(out, SOCKS5_REP_SUCCEEDED,
					   (const uint8_t *)ip_2_ip6(&pcb->local_ip)->addr, 16,
					   pcb->local_port);
		send_small(c, out, len);
		c->px->stats.socks_ok++;
	} else if (c->is_http && c->hs_len == 1) {
		/* CONNECT (hs_len marks it; a forwarded request's head is in the stash) */
		static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";

		send_small(c, (const uint8_t *)ok, sizeof(ok) - 1);
		c->px->stats.http_ok++;
	} else if (c->is_http) {
		c->px->stats.http_ok++;
	}
}

void negotiate_failed(struct conn *c, enum socks5_reply rep, bool is_timeout)
{
	if (c->is_socks)
		socks_fail(c, rep);
	else if (c->is_http)
		http_fail(c, is_timeout ? 504 : 502);
	else
		conn_free(c);
}
