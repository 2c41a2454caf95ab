/* SPDX-License-Identifier: MIT */
/*
 * Where connections come from: the listening sockets of [Socks5], [http] and [TCPClientTunnel],
 * lwIP's listening pcbs of [TCPServerTunnel] (each accepted connection dials Target from the
 * host), and [STDIOTunnel]'s one connection on standard input and output; conn_start opens them
 * all from the configuration, conn_stop closes them.
 */
#include "proxy/conn.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "lwip/priv/tcp_priv.h"
#include "lwip/tcp.h"
#include "proxy/http.h"

enum { LISTEN_BACKLOG = 512 };

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
			conn_resolve_and_connect(c, ls->svc->target.host, ls->target_port);
		} else {
			conn_connect(c, &ls->target, ls->target_port);
		}
	}
}

/* ---- server tunnels: lwIP accepts, a host socket dials Target ---- */

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
	conn_attach_pcb(c, pcb);
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

/* ---- start, stop ---- */

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

/* Where a client tunnel's (or STDIO's) Target goes: resolved now, or per connection by the
 * tunnel's DNS when it is a name and a DNS server is configured. */
static bool resolve_client_target(struct proxy *px, struct listener *ls, char *err,
				  size_t err_size)
{
	const struct config_service *svc = ls->svc;
	ip_addr_t literal;

	ls->target_port = svc->target.port;
	ls->target_by_dns = px->resolver != NULL && !ipaddr_aton(svc->target.host, &literal);
	if (ls->target_by_dns || wire_resolve(px, svc->target.host, &ls->target))
		return true;
	snprintf(err, err_size,
		 "%s:%d: Target %s does not resolve to an address of a family the tunnel has",
		 svc->file, svc->line, svc->target.host);
	return false;
}

/* Takes fd (standard input or output) for the relay: a close-on-exec duplicate, non-blocking
 * (the original flags go to *flags, restored when the connection ends). -1 on failure. */
static int take_stdio_fd(int fd, int *flags)
{
	int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);

	if (dup_fd < 0)
		return -1;
	*flags = fcntl(dup_fd, F_GETFL);
	if (*flags < 0 || fcntl(dup_fd, F_SETFL, *flags | O_NONBLOCK) != 0) {
		close(dup_fd);
		return -1;
	}
	return dup_fd;
}

/*
 * [STDIOTunnel]: the program's standard input and output become one connection to Target. Both
 * fds move to private numbers and fds 0 and 1 become /dev/null and standard error, so nothing
 * else the process prints (lwIP's diagnostics included) can reach the data stream.
 */
static bool start_stdio(struct proxy *px, struct listener *ls, char *err, size_t err_size)
{
	const struct config_service *svc = ls->svc;
	struct conn *c;
	int null_fd;

	if (!resolve_client_target(px, ls, err, err_size))
		return false;
	c = conn_new(px, ls);
	if (c == NULL) {
		snprintf(err, err_size, "%s:%d: out of memory", svc->file, svc->line);
		return false;
	}
	c->is_stdio = true;
	c->w.fd = take_stdio_fd(STDIN_FILENO, &c->stdio_flags[0]);
	c->out.fd = take_stdio_fd(STDOUT_FILENO, &c->stdio_flags[1]);
	null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (c->w.fd < 0 || c->out.fd < 0 || null_fd < 0 || dup2(null_fd, STDIN_FILENO) < 0 ||
	    dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
		snprintf(err, err_size, "%s:%d: STDIOTunnel: standard input and output: %s",
			 svc->file, svc->line, strerror(errno));
		if (null_fd >= 0)
			close(null_fd);
		c->is_clean_end = true; /* not a connection that failed: start-up does */
		conn_free(c);
		px->is_stdio_done = false;
		return false;
	}
	close(null_fd);
	px->stats.accepted++;
	c->deadline_ns = proxy_now_ns() + (uint64_t)HANDSHAKE_TIMEOUT_S * 1000000000u;
	/* a failure here ends the program through conn_free, with its message */
	if (ls->target_by_dns)
		conn_resolve_and_connect(c, svc->target.host, ls->target_port);
	else
		conn_connect(c, &ls->target, ls->target_port);
	return true;
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
		ls->px = px;
		ls->svc = svc;
		ls->w.fd = -1;
		px->listener_count++;
		switch (svc->kind) {
		case SERVICE_TCP_SERVER:
			if (!open_tunnel_listener(px, ls, err, err_size))
				return false;
			break;
		case SERVICE_STDIO:
			if (!start_stdio(px, ls, err, err_size))
				return false;
			break;
		case SERVICE_TCP_CLIENT:
			if (!resolve_client_target(px, ls, err, err_size))
				return false;
			/* fall through */
		default:
			if (!open_listener(px, ls, err, err_size))
				return false;
			break;
		}
	}
	return true;
}

bool conn_lwip_busy(void)
{
	return tcp_active_pcbs != NULL;
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
		if (ls->w.fd >= 0) {
			proxy_unwatch(px, &ls->w);
			close(ls->w.fd);
		}
	}
	free(px->listeners);
	px->listeners = NULL;
	px->listener_count = 0;
	conn_reap(px);
}
