/* SPDX-License-Identifier: MIT */
/*
 * proxy/conn: one client connection of wgc-proxy and the contracts between the four files that
 * share it. Each file owns one part of a connection's life:
 *
 *   conn.c       lifetime (new, free, abort, close), epoll events, the connect through lwIP
 *                (names through the resolver), the sweep of stalled connections
 *   negotiate.c  the client's protocol before RELAY: SOCKS5 (greeting, auth, request, UDP
 *                ASSOCIATE) and the HTTP proxy head, and the replies for success and failure
 *   relay.c      RELAY: the bounded copy between the client's socket and the lwIP tcp_pcb
 *   listen.c     listeners (host sockets; lwIP pcbs for server tunnels), [STDIOTunnel],
 *                conn_start and conn_stop
 *
 *   state        events                          next
 *   GREETING     greeting parsed                 AUTH (user/password) or REQUEST
 *   AUTH         credentials match               REQUEST      (else reply 1/1, close)
 *   REQUEST      CONNECT parsed, a literal       CONNECTING   (else SOCKS error reply, close)
 *                CONNECT parsed, a name          RESOLVING
 *                UDP ASSOCIATE                   UDP_ASSOC
 *   (HTTP head)  CONNECT or a forwarded request  RESOLVING or CONNECTING (else 4xx/501, close)
 *   RESOLVING    the name resolved               CONNECTING   (else "host unreachable", close)
 *   CONNECTING   lwIP connected                  RELAY        (SOCKS: reply "succeeded")
 *                error / CONNECT_TIMEOUT         closed       (SOCKS: reply refused/unreachable)
 *   DIALING      the host socket connected       RELAY        (else reset the tunnel side)
 *   RELAY        both directions finished        closed (tcp_close);  error: closed (abort)
 *   UDP_ASSOC    the TCP connection ends         closed (with its association)
 *
 * Client tunnels and [STDIOTunnel] start at CONNECTING (or RESOLVING); [TCPServerTunnel] runs
 * the other way: lwIP accepts on the tunnel address and the connection starts in DIALING (a
 * non-blocking connect of a host socket to Target; what the tunnel side sends meanwhile waits in
 * lwIP's window).
 *
 * All of it runs on the loop's one thread; a connection freed inside an lwIP callback or an
 * event handler stays allocated until conn_reap.
 */
#ifndef WGC_PROXY_CONN_H
#define WGC_PROXY_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "lwip/ip_addr.h"
#include "lwip/err.h"
#include "proxy/proxy.h"
#include "proxy/socks5.h"
#include "proxy/socks5_udp.h"

struct tcp_pcb;
struct pbuf;
struct resolver_query;

enum {
	HANDSHAKE_TIMEOUT_S = 10, /* from accept to a complete SOCKS request */
	CONNECT_TIMEOUT_S = 10,   /* from the request to lwIP's connected callback */
	CONN_MAX_DEFAULT = 4096,
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
	ip_addr_t target; /* TCPClientTunnel, STDIOTunnel: resolved at start, unless by DNS */
	bool target_by_dns; /* a name, resolved per connection by the tunnel's DNS */
	u16_t target_port;
	struct sockaddr_storage host_target; /* TCPServerTunnel: resolved at start */
	socklen_t host_target_len;
};

struct conn {
	struct watch w; /* the client's socket (STDIO: standard input); first, for the callback */
	/* STDIO only: standard output (the socket w serves both directions otherwise; fd -1) */
	struct watch out;
	struct proxy *px;
	const struct listener *ls;
	struct conn *prev;
	struct conn *next;
	struct tcp_pcb *pcb; /* NULL once lwIP freed it or we closed it */
	enum conn_state state;
	bool is_socks;
	bool is_http;
	bool is_stdio;     /* [STDIOTunnel]: its end ends the program */
	int stdio_flags[2]; /* STDIO: the fds' file status flags before O_NONBLOCK */
	bool is_clean_end; /* STDIO: ended by the remote's FIN or both directions finished */
	bool client_eof;   /* the client shut down its sending side */
	bool fin_sent;     /* tcp_shutdown(tx) done */
	bool remote_eof;   /* the target sent FIN */
	bool shut_wr_done; /* shutdown(fd, SHUT_WR) done (STDIO: standard output closed) */
	bool is_dead;      /* freed: waits in px->dead until the loop's iteration ends */
	bool is_flush_queued; /* on px->flush_list: pending data to write this loop turn */
	struct conn *flush_next;
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

/* ---- conn.c: lifetime ---- */

/* A new connection of listener ls, linked into px->conns, in state GREETING with no fd; NULL
 * (counted as rejected_full) at the connection limit or without memory. */
struct conn *conn_new(struct proxy *px, const struct listener *ls);
/* Unlinks c, closes its fds, frees its buffers (the negotiation's wiped) and queues its memory
 * for conn_reap. Leaves c->pcb to lwIP without callbacks: the caller closes or aborts it first
 * (conn_abort, conn_maybe_done) or lwIP already freed it. */
void conn_free(struct conn *c);
/* Ends c with a reset on both sides (an error, a stall, shutdown). */
void conn_abort(struct conn *c);
/* Closes c gracefully if both directions are finished (RELAY); otherwise does nothing. */
void conn_maybe_done(struct conn *c);
/* STDIO: closes standard output (the reader sees the end of the stream); no-op if closed. */
void conn_close_stdout(struct conn *c);
/* Wipes and frees the negotiation buffer (it may hold a password). */
void conn_free_hs(struct conn *c);
/* Sets the epoll events c's fds wait for from its state. */
void conn_update_events(struct conn *c);
/* The fd the tunnel's data is written to: standard output for STDIO, else the socket. */
static inline int conn_out_fd(const struct conn *c)
{
	return c->is_stdio ? c->out.fd : c->w.fd;
}

/* Queues c for conn_flush_queued (relay_flush, then conn_maybe_done) at the end of this loop
 * turn; once per turn however often it is called. */
void conn_queue_flush(struct conn *c);

/* ---- conn.c: connecting ---- */

/* Connects c through lwIP to ip:port (CONNECTING), or fails it with the protocol's reply. */
void conn_connect(struct conn *c, const ip_addr_t *ip, u16_t port);
/* Connects c to host (a literal, or a name: through the tunnel's DNS when one is configured,
 * else the system resolver), port. */
void conn_resolve_and_connect(struct conn *c, const char *host, u16_t port);
/* Gives pcb to c: c is its callbacks' argument; Nagle off. */
void conn_attach_pcb(struct conn *c, struct tcp_pcb *pcb);

/* ---- negotiate.c ---- */

/* The client's socket is readable before RELAY. Returns false if the connection ended (or
 * moved on to connecting: the caller must not touch it either way). */
bool negotiate_read(struct conn *c);
/* lwIP connected c: the protocol's success reply (SOCKS5 "succeeded", HTTP 200 for CONNECT). */
void negotiate_connected(struct conn *c);
/* A connect through the tunnel failed: the protocol's answer (rep for SOCKS5; HTTP 504 on a
 * timeout, else 502), then c is freed. */
void negotiate_failed(struct conn *c, enum socks5_reply rep, bool is_timeout);

/* ---- relay.c ---- */

/* lwIP's tcp_recv callback: queues the tunnel's data for the client and writes it (RELAY). */
err_t relay_on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err);
/* lwIP's tcp_sent callback: lwIP's send buffer has room again. */
err_t relay_on_sent(void *arg, struct tcp_pcb *pcb, u16_t len);
/* Writes pending tunnel data to the client. Returns false if the connection was freed. */
bool relay_flush(struct conn *c);
/* Sends the ACK relay_on_recv held back during the batch, if tcp_recved did not already. */
void relay_ack(struct conn *c);
/* The client is readable during RELAY. Returns false if the connection was freed. */
bool relay_read(struct conn *c);
/* How many bytes tcp_write takes now without ERR_MEM (send buffer and queue length). */
size_t relay_room(struct tcp_pcb *pcb);
/* Keeps a copy of data[0..len) to go into the tunnel once lwIP takes it. False: no memory. */
bool relay_stash(struct conn *c, const uint8_t *data, size_t len);
/* Moves the stash into lwIP as far as it goes. */
void relay_flush_stash(struct conn *c);

#endif
