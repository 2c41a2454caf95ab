/* SPDX-License-Identifier: MIT */
/*
 * A client connection's life: creation, the epoll events its state asks for, the connect
 * through lwIP (a name first through the resolver), lwIP's connected and error callbacks, the
 * graceful close and the reset, the sweep of stalled connections and the deferred free. The
 * state table is in proxy/conn.h; the protocols before RELAY are negotiate.c's, the relay is
 * relay.c's, where connections come from is listen.c's.
 */
#include "proxy/conn.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include "lwip/tcp.h"
#include "proxy/resolver.h"

/* The negotiation buffer may hold a password: wiped before it goes. */
void conn_free_hs(struct conn *c)
{
	if (c->hs) {
		sodium_memzero(c->hs, c->hs_size);
		free(c->hs);
	}
	c->hs = NULL;
	c->hs_len = 0;
	c->hs_size = 0;
}

/* ---- lifetime ---- */

/* Takes c's pcb back from lwIP's callbacks (for a close or an abort); NULL if it has none. */
static struct tcp_pcb *detach_pcb(struct conn *c)
{
	struct tcp_pcb *pcb = c->pcb;

	if (pcb) {
		tcp_arg(pcb, NULL);
		tcp_recv(pcb, NULL);
		tcp_sent(pcb, NULL);
		tcp_err(pcb, NULL);
	}
	c->pcb = NULL;
	return pcb;
}

static void on_client(struct watch *w, uint32_t events);
static void on_stdout(struct watch *w, uint32_t events);

struct conn *conn_new(struct proxy *px, const struct listener *ls)
{
	struct conn *c;

	if (px->conn_count >= px->conn_max || !(c = calloc(1, sizeof(*c)))) {
		px->stats.rejected_full++;
		return NULL;
	}
	c->w.fd = -1;
	c->w.fn = on_client;
	c->out.fd = -1;
	c->out.fn = on_stdout;
	c->px = px;
	c->ls = ls;
	c->next = px->conns;
	if (px->conns)
		px->conns->prev = c;
	px->conns = c;
	px->conn_count++;
	return c;
}

void conn_free(struct conn *c)
{
	struct proxy *px = c->px;

	(void)detach_pcb(c);
	if (c->is_flush_queued) {
		struct conn **pp = &px->flush_list;

		while (*pp != c)
			pp = &(*pp)->flush_next;
		*pp = c->flush_next;
		c->is_flush_queued = false;
	}
	resolver_cancel(c->dns);
	c->dns = NULL;
	socks5_assoc_close(&c->assoc);
	if (c->w.fd >= 0) {
		proxy_unwatch(px, &c->w);
		if (c->is_stdio) /* the file description is shared with whoever started us */
			(void)fcntl(c->w.fd, F_SETFL, c->stdio_flags[0]);
		close(c->w.fd);
	}
	conn_close_stdout(c);
	if (c->is_stdio) {
		/* the program's one connection: its end is the program's (main.c's loop) */
		px->is_stdio_done = true;
		px->exit_status = c->is_clean_end ? 0 : 1;
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
	conn_free_hs(c);
	/* epoll may still hold an event for c in this iteration's batch: the memory stays
	 * until conn_reap */
	c->is_dead = true;
	c->w.fd = -1;
	c->out.fd = -1;
	c->next = px->dead;
	px->dead = c;
}

void conn_close_stdout(struct conn *c)
{
	if (c->out.fd < 0)
		return;
	proxy_unwatch(c->px, &c->out);
	(void)fcntl(c->out.fd, F_SETFL, c->stdio_flags[1]);
	close(c->out.fd);
	c->out.fd = -1;
}

void conn_queue_flush(struct conn *c)
{
	if (c->is_flush_queued)
		return;
	c->is_flush_queued = true;
	c->flush_next = c->px->flush_list;
	c->px->flush_list = c;
}

void conn_flush_queued(struct proxy *px)
{
	while (px->flush_list) {
		struct conn *c = px->flush_list;

		px->flush_list = c->flush_next;
		c->is_flush_queued = false;
		if (!relay_flush(c))
			continue;
		relay_ack(c);
		conn_maybe_done(c);
	}
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
void conn_abort(struct conn *c)
{
	struct tcp_pcb *pcb = detach_pcb(c);

	if (pcb)
		tcp_abort(pcb);
	if (c->w.fd >= 0) {
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };

		(void)setsockopt(c->w.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	conn_free(c);
}

/* Both directions are finished (STDIO: the tunnel's): close lwIP's side gracefully (what is
 * queued still goes out before the FIN) and the socket. */
void conn_maybe_done(struct conn *c)
{
	struct tcp_pcb *pcb;

	if (!(c->remote_eof && c->pending == NULL && c->shut_wr_done))
		return;
	/* STDIO: the remote's close ends the program once standard output has it all */
	if (!c->is_stdio && !(c->client_eof && c->fin_sent))
		return;
	c->is_clean_end = true;
	pcb = detach_pcb(c);
	if (pcb && tcp_close(pcb) != ERR_OK)
		tcp_abort(pcb);
	conn_free(c);
}

/* ---- connecting ---- */

/* A connect through the tunnel failed: the protocol's answer, then close. */
static void connect_failed(struct conn *c, enum socks5_reply rep, bool is_timeout)
{
	if (c->is_stdio) {
		const struct config_service *svc = c->ls->svc;
		const char *why = is_timeout ? "no answer" :
				  rep == SOCKS5_REP_NETWORK_UNREACHABLE ? "no peer routes it" :
				  rep == SOCKS5_REP_CONNECTION_REFUSED ? "connection refused" :
				  rep == SOCKS5_REP_HOST_UNREACHABLE ? "host unreachable" :
								       "failed";

		fprintf(stderr, "wgc-proxy: %s:%d: STDIOTunnel Target %s:%u: %s\n", svc->file,
			svc->line, svc->target.host, svc->target.port, why);
	}
	negotiate_failed(c, rep, is_timeout);
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

	(void)pcb;
	(void)err; /* always ERR_OK in lwIP 2.1 */
	if (c == NULL)
		return ERR_OK;
	c->state = CONN_RELAY;
	negotiate_connected(c);
	conn_free_hs(c);
	if (c->stash)
		relay_flush_stash(c);
	conn_update_events(c);
	return ERR_OK;
}

void conn_connect(struct conn *c, const ip_addr_t *ip, u16_t port)
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
	conn_attach_pcb(c, pcb);
	c->state = CONN_CONNECTING;
	c->deadline_ns = proxy_now_ns() + (uint64_t)CONNECT_TIMEOUT_S * 1000000000u;
	if (tcp_connect(pcb, ip, port, on_tcp_connected) != ERR_OK) {
		px->stats.connect_failed++;
		tcp_abort(detach_pcb(c));
		connect_failed(c, SOCKS5_REP_GENERAL_FAILURE, false);
		return;
	}
	conn_update_events(c);
}

void conn_attach_pcb(struct conn *c, struct tcp_pcb *pcb)
{
	tcp_nagle_disable(pcb);
	tcp_arg(pcb, c);
	tcp_recv(pcb, relay_on_recv);
	tcp_sent(pcb, relay_on_sent);
	tcp_err(pcb, on_tcp_err);
	c->pcb = pcb;
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
	conn_connect(c, ip, c->dns_port);
}

/* Connects to host (a literal, or a name: through the tunnel's DNS when one is configured,
 * else the system resolver), port. */
void conn_resolve_and_connect(struct conn *c, const char *host, u16_t port)
{
	ip_addr_t ip;

	if (ipaddr_aton(host, &ip) || c->px->resolver == NULL) {
		if (!wire_resolve(c->px, host, &ip)) {
			c->px->stats.resolve_failed++;
			connect_failed(c, SOCKS5_REP_HOST_UNREACHABLE, false);
			return;
		}
		conn_connect(c, &ip, port);
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

/* ---- socket events ---- */

/* What epoll should wait for, from the connection's state. */
void conn_update_events(struct conn *c)
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
		if (!c->client_eof && !c->stash && c->pcb && relay_room(c->pcb) > 0)
			ev |= EPOLLIN;
		if (c->pending)
			ev |= EPOLLOUT;
		break;
	}
	/* events 0 takes the socket out of the epoll set, so a hung-up client cannot spin the
	 * loop with EPOLLHUP while the tunnel side finishes */
	if (c->is_stdio) {
		/* reads wait on standard input, writes on standard output */
		if (c->out.fd >= 0 && (ev & EPOLLOUT) != c->out.events)
			(void)proxy_watch(c->px, &c->out, ev & EPOLLOUT);
		ev &= ~(uint32_t)EPOLLOUT;
	}
	if (c->w.fd >= 0 && ev != c->w.events)
		(void)proxy_watch(c->px, &c->w, ev);
}

static void on_client(struct watch *w, uint32_t events)
{
	struct conn *c = (struct conn *)w;

	if (c->is_dead)
		return;
	if (c->state == CONN_UDP_ASSOC) {
		/* nothing is expected on the connection: its end ends the association */
		uint8_t junk[512];
		ssize_t n = read(c->w.fd, junk, sizeof(junk));

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
		if (c->pending && !relay_flush(c))
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
		if (!relay_flush(c))
			return;
	}
	if (events & (EPOLLIN | EPOLLHUP)) {
		if (!relay_read(c))
			return;
	}
	conn_update_events(c);
	conn_maybe_done(c);
}

/* STDIO: standard output is writable (or its reader went away: the write will say). */
static void on_stdout(struct watch *w, uint32_t events)
{
	struct conn *c = (struct conn *)((char *)w - offsetof(struct conn, out));

	(void)events;
	if (!c->is_dead)
		on_client(&c->w, EPOLLOUT);
}

/* ---- sweep ---- */

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
			struct tcp_pcb *pcb = detach_pcb(c);

			if (pcb)
				tcp_abort(pcb);
			connect_failed(c, SOCKS5_REP_HOST_UNREACHABLE, true);
		} else {
			px->stats.handshake_timeouts++;
			conn_free(c);
		}
	}
}
