/* SPDX-License-Identifier: MIT */
/*
 * Client connections: listeners for [Socks5] and [TCPClientTunnel], the SOCKS5 negotiation, the
 * connect through lwIP, and the relay between the client's socket and the lwIP TCP connection.
 *
 * Memory per connection is bounded by lwIP's windows, not by the peers' speed: data from the
 * tunnel is kept (as lwIP's pbufs) only until the client's socket takes it, and lwIP's receive
 * window is reopened (tcp_recved) only for bytes the socket took, so at most TCP_WND bytes wait;
 * data from the client is read only while lwIP's send buffer has room (tcp_sndbuf), so at most
 * TCP_SND_BUF bytes wait, plus one read's worth in the stash when lwIP refuses a write.
 *
 *   state        events                          next
 *   GREETING     greeting parsed                 AUTH (user/password) or REQUEST
 *   AUTH         credentials match               REQUEST      (else reply 1/1, close)
 *   REQUEST      CONNECT parsed, routable        CONNECTING   (else SOCKS error reply, close)
 *   CONNECTING   lwIP connected                  RELAY        (SOCKS: reply "succeeded")
 *                error / CONNECT_TIMEOUT         closed       (SOCKS: reply refused/unreachable)
 *   RELAY        both directions finished        closed (tcp_close);  error: closed (abort)
 *
 * [TCPServerTunnel] runs the other way: lwIP accepts on the tunnel address, the connection
 * starts in DIALING (a non-blocking connect of a host socket to Target; what the tunnel side sends
 * meanwhile waits in lwIP's window) and moves to RELAY when the socket connects, or is reset.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <sodium.h>

#include "lwip/tcp.h"
#include "proxy/http.h"
#include "proxy/proxy.h"
#include "proxy/resolver.h"
#include "proxy/socks5.h"
#include "proxy/socks5_udp.h"

enum {
	HANDSHAKE_TIMEOUT_S = 10, /* from accept to a complete SOCKS request */
	CONNECT_TIMEOUT_S = 10,   /* from the request to lwIP's connected callback */
	CONN_MAX_DEFAULT = 4096,
	READ_CHUNK = 65536,
	IOV_MAX_USED = 32,
	LISTEN_BACKLOG = 512,
};

enum conn_state {
	CONN_GREETING,
	CONN_AUTH,
	CONN_REQUEST,
	CONN_RESOLVING, /* a name is being looked up through the tunnel's DNS */
	CONN_CONNECTING,
	CONN_DIALING, /* server tunnel: the host socket is connecting to Target */
	CONN_RELAY,
	CONN_UDP_ASSOC, /* SOCKS5 UDP ASSOCIATE: the TCP connection only keeps it alive */
};

struct listener {
	struct watch w;   /* client tunnels and SOCKS5: the listening socket */
	struct tcp_pcb *lpcb; /* server tunnels: lwIP's listening pcb */
	struct proxy *px;
	const struct config_service *svc;
	ip_addr_t target; /* TCPClientTunnel: resolved at start, unless target_by_dns */
	bool target_by_dns; /* TCPClientTunnel: a name, resolved per connection by the tunnel's DNS */
	u16_t target_port;
	struct sockaddr_storage host_target; /* TCPServerTunnel: resolved at start */
	socklen_t host_target_len;
};

struct conn {
	struct watch w; /* the client's socket */
	struct proxy *px;
	const struct listener *ls;
	struct conn *prev;
	struct conn *next;
	struct tcp_pcb *pcb; /* NULL once lwIP freed it or we closed it */
	enum conn_state state;
	bool is_socks;
	bool is_http;
	bool client_eof;   /* the client shut down its sending side */
	bool fin_sent;     /* tcp_shutdown(tx) done */
	bool remote_eof;   /* the target sent FIN */
	bool shut_wr_done; /* shutdown(fd, SHUT_WR) done */
	bool is_dead;      /* freed: waits in px->dead until the loop's iteration ends */
	struct resolver_query *dns; /* RESOLVING */
	struct socks5_assoc assoc;  /* UDP_ASSOC */
	u16_t dns_port;    /* the port to connect to once resolved */
	uint64_t deadline_ns; /* GREETING..CONNECTING */
	/* tunnel -> client: lwIP's pbufs not yet written to the socket (<= TCP_WND bytes) */
	struct pbuf *pending;
	/* client -> tunnel: bytes read but not taken by tcp_write (SOCKS early data, ERR_MEM) */
	uint8_t *stash;
	size_t stash_len;
	size_t stash_off;
	/* the negotiation's bytes so far (SOCKS5: 513 bytes, HTTP: the head, 8 KiB), freed
	 * once the connection relays */
	uint8_t *hs;
	size_t hs_len;
	size_t hs_size;
};

static uint8_t read_buf[READ_CHUNK];

static void conn_update_events(struct conn *c);

/* The negotiation buffer may hold a password: wiped before it goes. */
static void free_hs(struct conn *c)
{
	if (c->hs) {
		sodium_memzero(c->hs, c->hs_size);
		free(c->hs);
	}
	c->hs = NULL;
	c->hs_len = 0;
	c->hs_size = 0;
}
static struct conn *conn_new(struct proxy *px, const struct listener *ls);

/* ---- lifetime ---- */

static void conn_free(struct conn *c)
{
	struct proxy *px = c->px;

	if (c->pcb) {
		tcp_arg(c->pcb, NULL);
		tcp_recv(c->pcb, NULL);
		tcp_sent(c->pcb, NULL);
		tcp_err(c->pcb, NULL);
	}
	resolver_cancel(c->dns);
	c->dns = NULL;
	socks5_assoc_close(&c->assoc);
	if (c->w.fd >= 0) {
		proxy_unwatch(px, &c->w);
		close(c->w.fd);
	}
	if (c->pending)
		pbuf_free(c->pending);
	c->pending = NULL;
	free(c->stash);
	c->stash = NULL;
	if (c->prev)
		c->prev->next = c->next;
	else
		px->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	px->conn_count--;
	free_hs(c);
	/* epoll may still hold an event for c in this iteration's batch: the memory stays
	 * until conn_reap */
	c->is_dead = true;
	c->w.fd = -1;
	c->next = px->dead;
	px->dead = c;
}

void conn_reap(struct proxy *px)
{
	while (px->dead) {
		struct conn *c = px->dead;

		px->dead = c->next;
		free(c);
	}
}

/* Ends the connection with a reset on both sides (an error, a stall, shutdown). */
static void conn_abort(struct conn *c)
{
	if (c->pcb) {
		struct tcp_pcb *pcb = c->pcb;

		tcp_arg(pcb, NULL);
		tcp_recv(pcb, NULL);
		tcp_sent(pcb, NULL);
		tcp_err(pcb, NULL);
		c->pcb = NULL;
		tcp_abort(pcb);
	}
	if (c->w.fd >= 0) {
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };

		(void)setsockopt(c->w.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	conn_free(c);
}

/* Both directions are finished: close lwIP's side gracefully and the socket. */
static void conn_maybe_done(struct conn *c)
{
	if (!(c->client_eof && c->fin_sent && c->remote_eof && c->pending == NULL &&
	      c->shut_wr_done))
		return;
	if (c->pcb) {
		struct tcp_pcb *pcb = c->pcb;

		tcp_arg(pcb, NULL);
		tcp_recv(pcb, NULL);
		tcp_sent(pcb, NULL);
		tcp_err(pcb, NULL);
		c->pcb = NULL;
		if (tcp_close(pcb) != ERR_OK)
			tcp_abort(pcb);
	}
	conn_free(c);
}

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

/* A connect through the tunnel failed: the protocol's answer, then close. */
static void connect_failed(struct conn *c, enum socks5_reply rep, bool is_timeout)
{
	if (c->is_socks)
		socks_fail(c, rep);
	else if (c->is_http)
		http_fail(c, is_timeout ? 504 : 502);
	else
		conn_free(c);
}

/* ---- tunnel -> client ---- */

/* Reopens lwIP's receive window for bytes the client took. */
static void recved(struct tcp_pcb *pcb, size_t n)
{
	while (n > 0) {
		u16_t chunk = n > 0xffff ? 0xffff : (u16_t)n;

		tcp_recved(pcb, chunk);
		n -= chunk;
	}
}

/* Writes pending data to the socket. Returns false if the connection was freed. */
static bool flush_pending(struct conn *c)
{
	while (c->pending) {
		struct iovec iov[IOV_MAX_USED];
		size_t total = 0;
		int n = 0;
		ssize_t w;

		for (struct pbuf *q = c->pending; q && n < IOV_MAX_USED; q = q->next) {
			if (q->len == 0)
				continue;
			iov[n].iov_base = q->payload;
			iov[n].iov_len = q->len;
			total += q->len;
			n++;
		}
		if (n == 0) {
			pbuf_free(c->pending);
			c->pending = NULL;
			break;
		}
		w = writev(c->w.fd, iov, n);
		if (w < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			c->px->stats.relay_resets++;
			conn_abort(c);
			return false;
		}
		c->px->stats.bytes_down += (uint64_t)w;
		c->pending = pbuf_free_header(c->pending, (u16_t)w);
		if (c->pcb)
			recved(c->pcb, (size_t)w);
		if ((size_t)w < total)
			break;
	}
	if (c->pending == NULL && c->remote_eof && !c->shut_wr_done) {
		shutdown(c->w.fd, SHUT_WR);
		c->shut_wr_done = true;
	}
	conn_update_events(c);
	return true;
}

static err_t on_tcp_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
	struct conn *c = arg;

	(void)pcb;
	if (c == NULL) {
		if (p)
			pbuf_free(p);
		return ERR_OK;
	}
	if (p == NULL || err != ERR_OK) {
		c->remote_eof = true;
		if (p)
			pbuf_free(p);
	} else if (c->pending) {
		/* Together at most TCP_WND (65535) bytes: the window is reopened only for
		 * bytes written, so the chain's 16-bit tot_len cannot overflow. */
		pbuf_cat(c->pending, p);
	} else {
		c->pending = p;
	}
	if (c->state != CONN_RELAY) {
		conn_update_events(c);
		return ERR_OK; /* server tunnel still dialing: the data waits in the window */
	}
	if (!flush_pending(c))
		return ERR_ABRT;
	conn_maybe_done(c);
	/* freed or not, lwIP's pcb is fine: conn_maybe_done closes it without aborting */
	return ERR_OK;
}

/* ---- client -> tunnel ---- */

/* How many bytes tcp_write takes now without ERR_MEM (send buffer and queue length). */
static size_t tcp_room(struct tcp_pcb *pcb)
{
	size_t room = tcp_sndbuf(pcb);
	size_t queue = tcp_sndqueuelen(pcb);
	size_t mss = tcp_mss(pcb) ? tcp_mss(pcb) : 536;

	if (queue + 8 >= TCP_SND_QUEUELEN)
		return 0;
	if (room > (TCP_SND_QUEUELEN - 8 - queue) / 2 * mss)
		room = (TCP_SND_QUEUELEN - 8 - queue) / 2 * mss;
	return room;
}

/* Moves the stash into lwIP as far as it goes. */
static void flush_stash(struct conn *c)
{
	while (c->pcb && c->stash_off < c->stash_len) {
		size_t n = c->stash_len - c->stash_off;
		size_t room = tcp_room(c->pcb);

		if (room == 0)
			break;
		if (n > room)
			n = room;
		if (n > 0xffff)
			n = 0xffff;
		if (tcp_write(c->pcb, c->stash + c->stash_off, (u16_t)n, TCP_WRITE_FLAG_COPY) !=
		    ERR_OK)
			break;
		c->stash_off += n;
		c->px->stats.bytes_up += n;
	}
	if (c->stash_off == c->stash_len) {
		free(c->stash);
		c->stash = NULL;
		c->stash_len = 0;
		c->stash_off = 0;
	}
	if (c->pcb)
		tcp_output(c->pcb);
}

static bool stash_bytes(struct conn *c, const uint8_t *data, size_t len)
{
	uint8_t *s = malloc(len);

	if (!s)
		return false;
	memcpy(s, data, len);
	c->stash = s;
	c->stash_len = len;
	c->stash_off = 0;
	return true;
}

static void send_fin_if_due(struct conn *c)
{
	if (c->client_eof && !c->fin_sent && c->stash == NULL && c->pcb) {
		if (tcp_shutdown(c->pcb, 0, 1) == ERR_OK)
			c->fin_sent = true;
	}
}

/* The client's socket is readable during RELAY. Returns false if the connection was freed. */
static bool relay_read(struct conn *c)
{
	size_t room;
	ssize_t n;

	if (c->stash || c->client_eof || !c->pcb)
		return true;
	room = tcp_room(c->pcb);
	if (room == 0)
		return true;
	if (room > sizeof(read_buf))
		room = sizeof(read_buf);
	if (room > 0xffff)
		room = 0xffff;
	n = read(c->w.fd, read_buf, room);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return true;
		c->px->stats.relay_resets++;
		conn_abort(c);
		return false;
	}
	if (n == 0) {
		c->client_eof = true;
		send_fin_if_due(c);
		tcp_output(c->pcb);
		return true;
	}
	if (tcp_write(c->pcb, read_buf, (u16_t)n, TCP_WRITE_FLAG_COPY) == ERR_OK) {
		c->px->stats.bytes_up += (uint64_t)n;
	} else if (!stash_bytes(c, read_buf, (size_t)n)) {
		conn_abort(c);
		return false;
	}
	tcp_output(c->pcb);
	return true;
}

static err_t on_tcp_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
	struct conn *c = arg;

	(void)pcb;
	(void)len;
	if (c == NULL)
		return ERR_OK;
	if (c->stash)
		flush_stash(c);
	send_fin_if_due(c);
	conn_update_events(c);
	return ERR_OK;
}

/* lwIP freed the pcb (reset, timeout, abort): the connection ends. */
static void on_tcp_err(void *arg, err_t err)
{
	struct conn *c = arg;

	if (c == NULL)
		return;
	c->pcb = NULL;
	if (c->state == CONN_DIALING) {
		c->px->stats.relay_resets++;
		conn_abort(c);
		return;
	}
	if (c->state == CONN_CONNECTING) {
		if (err == ERR_RST) {
			c->px->stats.connect_refused++;
			connect_failed(c, SOCKS5_REP_CONNECTION_REFUSED, false);
		} else {
			c->px->stats.connect_failed++;
			connect_failed(c, SOCKS5_REP_HOST_UNREACHABLE, false);
		}
		return;
	}
	c->px->stats.relay_resets++;
	/* what the target sent before its reset is lost with the socket; the client sees a
	 * reset too */
	conn_abort(c);
}

static err_t on_tcp_connected(void *arg, struct tcp_pcb *pcb, err_t err)
{
	struct conn *c = arg;

	(void)err; /* always ERR_OK in lwIP 2.1 */
	if (c == NULL)
		return ERR_OK;
	c->state = CONN_RELAY;
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
	free_hs(c);
	if (c->stash)
		flush_stash(c);
	conn_update_events(c);
	return ERR_OK;
}

/* ---- connecting ---- */

static void start_connect(struct conn *c, const ip_addr_t *ip, u16_t port)
{
	struct proxy *px = c->px;
	bool no_route;
	struct tcp_pcb *pcb;

	if (!wire_routable(px, ip, &no_route)) {
		if (no_route)
			px->stats.connect_no_route++;
		else
			px->stats.connect_failed++;
		connect_failed(c, no_route ? SOCKS5_REP_NETWORK_UNREACHABLE :
					     SOCKS5_REP_HOST_UNREACHABLE, false);
		return;
	}
	pcb = tcp_new_ip_type(IP_GET_TYPE(ip));
	if (pcb == NULL) {
		px->stats.connect_failed++;
		connect_failed(c, SOCKS5_REP_GENERAL_FAILURE, false);
		return;
	}
	tcp_nagle_disable(pcb);
	tcp_arg(pcb, c);
	tcp_recv(pcb, on_tcp_recv);
	tcp_sent(pcb, on_tcp_sent);
	tcp_err(pcb, on_tcp_err);
	c->pcb = pcb;
	c->state = CONN_CONNECTING;
	c->deadline_ns = proxy_now_ns() + (uint64_t)CONNECT_TIMEOUT_S * 1000000000u;
	if (tcp_connect(pcb, ip, port, on_tcp_connected) != ERR_OK) {
		px->stats.connect_failed++;
		c->pcb = NULL;
		tcp_arg(pcb, NULL);
		tcp_err(pcb, NULL);
		tcp_abort(pcb);
		connect_failed(c, SOCKS5_REP_GENERAL_FAILURE, false);
		return;
	}
	conn_update_events(c);
}

static void on_resolved(void *arg, bool ok, const ip_addr_t *ip)
{
	struct conn *c = arg;

	c->dns = NULL;
	if (!ok) {
		c->px->stats.resolve_failed++;
		connect_failed(c, SOCKS5_REP_HOST_UNREACHABLE, false);
		return;
	}
	start_connect(c, ip, c->dns_port);
}

/* Connects to host (a literal, or a name: through the tunnel's DNS when one is configured,
 * else the system resolver), port. */
static void resolve_and_connect(struct conn *c, const char *host, u16_t port)
{
	ip_addr_t ip;

	if (ipaddr_aton(host, &ip) || c->px->resolver == NULL) {
		if (!wire_resolve(c->px, host, &ip)) {
			c->px->stats.resolve_failed++;
			connect_failed(c, SOCKS5_REP_HOST_UNREACHABLE, false);
			return;
		}
		start_connect(c, &ip, port);
		return;
	}
	c->state = CONN_RESOLVING;
	c->dns_port = port;
	/* the resolver gives up by itself; this only backs it up */
	c->deadline_ns = proxy_now_ns() + (uint64_t)(RESOLVER_TIMEOUT_S + 5) * 1000000000u;
	c->dns = resolver_lookup(c->px, host, on_resolved, c);
	if (c->dns == NULL) {
		c->px->stats.resolve_failed++;
		connect_failed(c, SOCKS5_REP_HOST_UNREACHABLE, false);
		return;
	}
	conn_update_events(c);
}

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
	free_hs(c);
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
		if (c->hs_len > 0 && !stash_bytes(c, c->hs, c->hs_len)) {
			conn_free(c);
			return;
		}
		free_hs(c);
		resolve_and_connect(c, req->host, req->port);
		return;
	}
	if ((IP_IS_V4(&ip) && !c->px->has_ip4) || (IP_IS_V6(&ip) && !c->px->has_ip6)) {
		c->px->stats.connect_no_route++;
		socks_fail(c, SOCKS5_REP_NETWORK_UNREACHABLE);
		return;
	}
	/* bytes the client sent after its request go out once connected */
	if (c->hs_len > 0 && !stash_bytes(c, c->hs, c->hs_len)) {
		conn_free(c);
		return;
	}
	free_hs(c);
	start_connect(c, &ip, req->port);
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
static bool negotiate_read(struct conn *c)
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
		    !stash_bytes(c, c->hs + req.head_len, c->hs_len - req.head_len)) {
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
	resolve_and_connect(c, req.host, req.port);
	return false;
}

/* ---- socket events ---- */

/* What epoll should wait for, from the connection's state. */
static void conn_update_events(struct conn *c)
{
	uint32_t ev = 0;

	switch (c->state) {
	case CONN_GREETING:
	case CONN_AUTH:
	case CONN_REQUEST:
		ev = EPOLLIN;
		break;
	case CONN_RESOLVING:
	case CONN_CONNECTING:
		ev = 0; /* early data waits in the socket buffer (the stash holds what came along) */
		break;
	case CONN_DIALING:
		ev = EPOLLOUT;
		break;
	case CONN_UDP_ASSOC:
		ev = EPOLLIN;
		break;
	case CONN_RELAY:
		if (!c->client_eof && !c->stash && c->pcb && tcp_room(c->pcb) > 0)
			ev |= EPOLLIN;
		if (c->pending)
			ev |= EPOLLOUT;
		break;
	}
	/* events 0 takes the socket out of the epoll set, so a hung-up client cannot spin the
	 * loop with EPOLLHUP while the tunnel side finishes */
	if (ev != c->w.events)
		(void)proxy_watch(c->px, &c->w, ev);
}

static void on_client(struct watch *w, uint32_t events)
{
	struct conn *c = (struct conn *)w;

	if (c->is_dead)
		return;
	if (c->state == CONN_UDP_ASSOC) {
		/* nothing is expected on the connection: its end ends the association */
		ssize_t n = read(c->w.fd, read_buf, sizeof(read_buf));

		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			conn_free(c);
		return;
	}
	if (c->state == CONN_DIALING) {
		int soerr = 0;
		socklen_t len = sizeof(soerr);

		if (getsockopt(c->w.fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0 || soerr != 0) {
			c->px->stats.connect_failed++;
			conn_abort(c);
			return;
		}
		c->state = CONN_RELAY;
		if (c->pending && !flush_pending(c))
			return;
		conn_update_events(c);
		conn_maybe_done(c);
		return;
	}
	if (c->state != CONN_RELAY) {
		if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
			(void)negotiate_read(c);
		return;
	}
	if ((events & EPOLLERR) && !(events & EPOLLIN)) {
		c->px->stats.relay_resets++;
		conn_abort(c);
		return;
	}
	if (events & EPOLLOUT) {
		if (!flush_pending(c))
			return;
	}
	if (events & (EPOLLIN | EPOLLHUP)) {
		if (!relay_read(c))
			return;
	}
	conn_update_events(c);
	conn_maybe_done(c);
}

static void on_listener(struct watch *w, uint32_t events)
{
	struct listener *ls = (struct listener *)w;
	struct proxy *px = ls->px;

	(void)events;
	for (int i = 0; i < 64; i++) {
		int fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct conn *c;
		int one = 1;

		if (fd < 0)
			return;
		px->stats.accepted++;
		c = conn_new(px, ls);
		if (c == NULL) {
			close(fd);
			continue;
		}
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c->w.fd = fd;
		c->deadline_ns = proxy_now_ns() + (uint64_t)HANDSHAKE_TIMEOUT_S * 1000000000u;
		if (ls->svc->kind == SERVICE_SOCKS5 || ls->svc->kind == SERVICE_HTTP) {
			c->is_socks = ls->svc->kind == SERVICE_SOCKS5;
			c->is_http = !c->is_socks;
			c->hs_size = c->is_socks ? SOCKS5_MESSAGE_MAX : HTTP_HEAD_MAX;
			c->hs = malloc(c->hs_size);
			if (c->hs == NULL) {
				conn_free(c);
				continue;
			}
			c->state = CONN_GREETING;
			conn_update_events(c);
		} else if (ls->target_by_dns) {
			resolve_and_connect(c, ls->svc->target.host, ls->target_port);
		} else {
			start_connect(c, &ls->target, ls->target_port);
		}
	}
}

/* ---- server tunnels: lwIP accepts, a host socket dials Target ---- */

static struct conn *conn_new(struct proxy *px, const struct listener *ls)
{
	struct conn *c;

	if (px->conn_count >= px->conn_max || !(c = calloc(1, sizeof(*c)))) {
		px->stats.rejected_full++;
		return NULL;
	}
	c->w.fd = -1;
	c->w.fn = on_client;
	c->px = px;
	c->ls = ls;
	c->next = px->conns;
	if (px->conns)
		px->conns->prev = c;
	px->conns = c;
	px->conn_count++;
	return c;
}

static err_t on_tcp_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
	struct listener *ls = arg;
	struct proxy *px = ls->px;
	struct conn *c;
	int fd;

	if (err != ERR_OK || pcb == NULL)
		return ERR_VAL;
	px->stats.accepted++;
	c = conn_new(px, ls);
	if (c == NULL) {
		tcp_abort(pcb);
		return ERR_ABRT;
	}
	fd = socket(ls->host_target.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || (connect(fd, (const struct sockaddr *)&ls->host_target,
			       ls->host_target_len) != 0 && errno != EINPROGRESS)) {
		px->stats.connect_failed++;
		if (fd >= 0)
			close(fd);
		conn_free(c);
		tcp_abort(pcb);
		return ERR_ABRT;
	}
	c->w.fd = fd;
	c->pcb = pcb;
	tcp_nagle_disable(pcb);
	tcp_arg(pcb, c);
	tcp_recv(pcb, on_tcp_recv);
	tcp_sent(pcb, on_tcp_sent);
	tcp_err(pcb, on_tcp_err);
	c->state = CONN_DIALING;
	c->deadline_ns = proxy_now_ns() + (uint64_t)CONNECT_TIMEOUT_S * 1000000000u;
	conn_update_events(c);
	return ERR_OK;
}

static bool resolve_host_target(struct listener *ls, char *err, size_t err_size)
{
	const struct config_service *svc = ls->svc;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res;
	char port[8];
	int rc;

	snprintf(port, sizeof(port), "%u", svc->target.port);
	rc = getaddrinfo(svc->target.host, port, &hints, &res);
	if (rc != 0 || res->ai_addrlen > sizeof(ls->host_target)) {
		snprintf(err, err_size, "%s:%d: Target %.100s: %s", svc->file, svc->line,
			 svc->target.host, rc ? gai_strerror(rc) : "address too long");
		if (rc == 0)
			freeaddrinfo(res);
		return false;
	}
	memcpy(&ls->host_target, res->ai_addr, res->ai_addrlen);
	ls->host_target_len = res->ai_addrlen;
	freeaddrinfo(res);
	return true;
}

static bool open_tunnel_listener(struct proxy *px, struct listener *ls, char *err,
				 size_t err_size)
{
	const struct config_service *svc = ls->svc;
	struct tcp_pcb *pcb;
	err_t e;

	(void)px;
	if (!resolve_host_target(ls, err, err_size))
		return false;
	pcb = tcp_new_ip_type(IPADDR_TYPE_ANY);
	if (pcb == NULL) {
		snprintf(err, err_size, "%s:%d: out of memory", svc->file, svc->line);
		return false;
	}
	e = tcp_bind(pcb, IP_ANY_TYPE, svc->listen_port);
	if (e != ERR_OK) {
		tcp_close(pcb);
		snprintf(err, err_size, "%s:%d: ListenPort %u: taken twice?", svc->file, svc->line,
			 svc->listen_port);
		return false;
	}
	ls->lpcb = tcp_listen_with_backlog(pcb, TCP_DEFAULT_LISTEN_BACKLOG);
	if (ls->lpcb == NULL) {
		tcp_close(pcb);
		snprintf(err, err_size, "%s:%d: out of memory", svc->file, svc->line);
		return false;
	}
	tcp_arg(ls->lpcb, ls);
	tcp_accept(ls->lpcb, on_tcp_accept);
	return true;
}

/* ---- start, sweep, stop ---- */

static bool open_listener(struct proxy *px, struct listener *ls, char *err, size_t err_size)
{
	const struct config_service *svc = ls->svc;
	struct sockaddr_storage ss;
	socklen_t sl;
	int one = 1;
	int fd;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, svc->bind.host, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		((struct sockaddr_in *)&ss)->sin_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port = htons(svc->bind.port);
		sl = sizeof(struct sockaddr_in);
	} else if (inet_pton(AF_INET6, svc->bind.host,
			     &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(svc->bind.port);
		sl = sizeof(struct sockaddr_in6);
	} else {
		snprintf(err, err_size, "%s:%d: BindAddress must be an IP address", svc->file,
			 svc->line);
		return false;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, LISTEN_BACKLOG) != 0) {
		snprintf(err, err_size, "%s:%d: BindAddress %s:%u: %s", svc->file, svc->line,
			 svc->bind.host, svc->bind.port, strerror(errno));
		if (fd >= 0)
			close(fd);
		return false;
	}
	ls->w.fd = fd;
	ls->w.fn = on_listener;
	return proxy_watch(px, &ls->w, EPOLLIN);
}

bool conn_start(struct proxy *px, char *err, size_t err_size)
{
	const struct config *cfg = px->cfg;

	px->conn_max = CONN_MAX_DEFAULT;
	px->listeners = calloc(cfg->service_count ? cfg->service_count : 1,
			       sizeof(*px->listeners));
	if (!px->listeners) {
		snprintf(err, err_size, "out of memory");
		return false;
	}
	for (size_t i = 0; i < cfg->service_count; i++) {
		const struct config_service *svc = &cfg->services[i];
		struct listener *ls = &px->listeners[px->listener_count];

		if (svc->kind == SERVICE_UDP_CLIENT || svc->kind == SERVICE_UDP_SERVER)
			continue; /* proxy/udp_tunnel.c */
		if (svc->kind != SERVICE_SOCKS5 && svc->kind != SERVICE_TCP_CLIENT &&
		    svc->kind != SERVICE_TCP_SERVER && svc->kind != SERVICE_HTTP) {
			snprintf(err, err_size, "%s:%d: [%s] is not supported yet", svc->file,
				 svc->line, config_service_name(svc->kind));
			return false;
		}
		ls->px = px;
		ls->svc = svc;
		ls->w.fd = -1;
		if (svc->kind == SERVICE_TCP_SERVER) {
			if (!open_tunnel_listener(px, ls, err, err_size))
				return false;
			px->listener_count++;
			continue;
		}
		if (svc->kind == SERVICE_TCP_CLIENT) {
			ip_addr_t literal;

			ls->target_port = svc->target.port;
			ls->target_by_dns = px->resolver != NULL &&
					    !ipaddr_aton(svc->target.host, &literal);
		}
		if (svc->kind == SERVICE_TCP_CLIENT && !ls->target_by_dns) {
			if (!wire_resolve(px, svc->target.host, &ls->target)) {
				snprintf(err, err_size,
					 "%s:%d: Target %s does not resolve to an address of a "
					 "family the tunnel has",
					 svc->file, svc->line, svc->target.host);
				return false;
			}
			ls->target_port = svc->target.port;
		}
		if (!open_listener(px, ls, err, err_size))
			return false;
		px->listener_count++;
	}
	return true;
}

void conn_sweep(struct proxy *px, uint64_t now)
{
	struct conn *next;

	for (struct conn *c = px->conns; c; c = next) {
		next = c->next;
		if (c->state == CONN_RELAY || c->state == CONN_UDP_ASSOC || now < c->deadline_ns)
			continue;
		if (c->state == CONN_DIALING) {
			px->stats.connect_timeouts++;
			conn_abort(c);
		} else if (c->state == CONN_CONNECTING) {
			px->stats.connect_timeouts++;
			if (c->pcb) {
				struct tcp_pcb *pcb = c->pcb;

				tcp_arg(pcb, NULL);
				tcp_err(pcb, NULL);
				tcp_recv(pcb, NULL);
				tcp_sent(pcb, NULL);
				c->pcb = NULL;
				tcp_abort(pcb);
			}
			connect_failed(c, SOCKS5_REP_HOST_UNREACHABLE, true);
		} else {
			px->stats.handshake_timeouts++;
			conn_free(c);
		}
	}
}

void conn_stop(struct proxy *px)
{
	while (px->conns)
		conn_abort(px->conns);
	for (size_t i = 0; i < px->listener_count; i++) {
		struct listener *ls = &px->listeners[i];

		if (ls->lpcb) {
			tcp_arg(ls->lpcb, NULL);
			tcp_accept(ls->lpcb, NULL);
			tcp_close(ls->lpcb);
			ls->lpcb = NULL;
			continue;
		}
		proxy_unwatch(px, &ls->w);
		close(ls->w.fd);
	}
	free(px->listeners);
	px->listeners = NULL;
	px->listener_count = 0;
	conn_reap(px);
}
