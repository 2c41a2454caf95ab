/* SPDX-License-Identifier: MIT */
/*
 * Prometheus text exposition of wgc-proxy's counters. The response is built in memory and
 * written at once to a fresh non-blocking socket (a few KiB fit in its buffer); a client that
 * does not read it simply loses it.
 */
#include "proxy/metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proxy/config.h"

struct metrics {
	struct watch w;
	struct proxy *px;
};

static void counter(FILE *f, const char *name, const char *help, uint64_t v)
{
	fprintf(f, "# HELP wgc_proxy_%s %s\n# TYPE wgc_proxy_%s counter\nwgc_proxy_%s %llu\n", name,
		help, name, name, (unsigned long long)v);
}

void metrics_write(struct proxy *px, FILE *f)
{
	const struct proxy_stats *s = &px->stats;
	const struct wgcif_stats *t = &px->wi.stats;

	fprintf(f, "# HELP wgc_proxy_connections Client connections open now.\n"
		   "# TYPE wgc_proxy_connections gauge\nwgc_proxy_connections %zu\n",
		px->conn_count);
	counter(f, "accepted_total", "Client connections accepted.", s->accepted);
	counter(f, "rejected_total", "Connections refused at the connection limit.",
		s->rejected_full);
	counter(f, "relay_resets_total", "Relayed connections ended by an error.", s->relay_resets);
	counter(f, "bytes_up_total", "Bytes from clients into the tunnel.", s->bytes_up);
	counter(f, "bytes_down_total", "Bytes from the tunnel to clients.", s->bytes_down);
	counter(f, "socks_ok_total", "SOCKS5 requests that succeeded.", s->socks_ok);
	counter(f, "socks_bad_total", "Bad SOCKS5 input of any kind.",
		s->socks_bad_version + s->socks_no_method + s->socks_bad_auth +
			s->socks_bad_format + s->socks_bad_command + s->socks_bad_address_type +
			s->socks_truncated);
	counter(f, "http_ok_total", "HTTP proxy requests connected.", s->http_ok);
	counter(f, "http_bad_total", "Bad HTTP proxy requests (400, 407, 431, 501).",
		s->http_bad_request + s->http_bad_auth + s->http_truncated);
	counter(f, "handshake_timeouts_total", "Clients that stalled before their request.",
		s->handshake_timeouts);
	counter(f, "connect_failures_total", "Connects that failed (no route, refused, timeout).",
		s->connect_no_route + s->connect_refused + s->connect_timeouts +
			s->connect_failed);
	counter(f, "resolve_failures_total", "Names that did not resolve.", s->resolve_failed);
	counter(f, "udp_datagrams_up_total", "UDP datagrams into the tunnel.", s->udp_up);
	counter(f, "udp_datagrams_down_total", "UDP datagrams out of the tunnel.", s->udp_down);
	counter(f, "udp_dropped_total", "UDP datagrams dropped.", s->udp_dropped);
	counter(f, "tunnel_rx_packets_total", "Packets from the tunnel to lwIP.", t->rx_packets);
	counter(f, "tunnel_tx_packets_total", "Packets from lwIP sealed and sent.", t->tx_packets);
	counter(f, "tunnel_drops_total", "Packets the WireGuard core dropped.",
		t->rx_dropped + t->tx_dropped);
	fprintf(f, "# HELP wgc_proxy_peer_rx_bytes_total Bytes received from a peer.\n"
		   "# TYPE wgc_proxy_peer_rx_bytes_total counter\n"
		   "# HELP wgc_proxy_peer_tx_bytes_total Bytes sent to a peer.\n"
		   "# TYPE wgc_proxy_peer_tx_bytes_total counter\n"
		   "# HELP wgc_proxy_peer_last_handshake_seconds Wall time of the last handshake.\n"
		   "# TYPE wgc_proxy_peer_last_handshake_seconds gauge\n");
	for (struct wgc_peer *peer = wgc_peer_next(px->ep, NULL); peer;
	     peer = wgc_peer_next(px->ep, peer)) {
		struct wgc_peer_stats st;
		char b64[PROXY_KEY_B64_SIZE];

		wgc_peer_get_stats(peer, &st);
		wire_peer_key_b64(peer, b64);
		fprintf(f, "wgc_proxy_peer_rx_bytes_total{public_key=\"%s\"} %llu\n", b64,
			(unsigned long long)st.rx_bytes);
		fprintf(f, "wgc_proxy_peer_tx_bytes_total{public_key=\"%s\"} %llu\n", b64,
			(unsigned long long)st.tx_bytes);
		fprintf(f, "wgc_proxy_peer_last_handshake_seconds{public_key=\"%s\"} %llu\n", b64,
			(unsigned long long)(st.has_handshake ?
						     st.last_handshake_wall_ns / 1000000000u : 0));
	}
}

static void on_accept(struct watch *w, uint32_t events)
{
	struct metrics *m = (struct metrics *)w;

	(void)events;
	for (int i = 0; i < 16; i++) {
		int fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		char *body = NULL;
		size_t len = 0;
		FILE *f;
		char head[128];
		int n;

		if (fd < 0)
			return;
		f = open_memstream(&body, &len);
		if (f) {
			metrics_write(m->px, f);
			fclose(f);
			n = snprintf(head, sizeof(head),
				     "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
				     "Content-Length: %zu\r\nConnection: close\r\n\r\n",
				     len);
			(void)!write(fd, head, (size_t)n);
			(void)!write(fd, body, len);
			free(body);
		}
		close(fd);
	}
}

bool metrics_start(struct proxy *px, const char *addr, char *err, size_t err_size)
{
	struct config_hostport hp;
	struct sockaddr_storage ss;
	socklen_t sl;
	struct metrics *m;
	const char *colon = strrchr(addr, ':');
	size_t host_len = colon ? (size_t)(colon - addr) : 0;
	int one = 1;
	int fd;

	memset(&ss, 0, sizeof(ss));
	if (!colon || host_len == 0 || host_len > CONFIG_HOST_MAX) {
		snprintf(err, err_size, "--metrics %.100s: expected IP:PORT", addr);
		return false;
	}
	if (addr[0] == '[' && host_len >= 2 && addr[host_len - 1] == ']') {
		memcpy(hp.host, addr + 1, host_len - 2);
		hp.host[host_len - 2] = '\0';
	} else {
		memcpy(hp.host, addr, host_len);
		hp.host[host_len] = '\0';
	}
	hp.port = (uint16_t)atoi(colon + 1);
	if (inet_pton(AF_INET, hp.host, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		((struct sockaddr_in *)&ss)->sin_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port = htons(hp.port);
		sl = sizeof(struct sockaddr_in);
	} else if (inet_pton(AF_INET6, hp.host, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(hp.port);
		sl = sizeof(struct sockaddr_in6);
	} else {
		snprintf(err, err_size, "--metrics %.100s: expected IP:PORT", addr);
		return false;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, 16) != 0) {
		snprintf(err, err_size, "--metrics %.100s: %s", addr, strerror(errno));
		if (fd >= 0)
			close(fd);
		return false;
	}
	m = calloc(1, sizeof(*m));
	if (!m) {
		close(fd);
		snprintf(err, err_size, "out of memory");
		return false;
	}
	m->w.fd = fd;
	m->w.fn = on_accept;
	m->px = px;
	px->metrics = m;
	return proxy_watch(px, &m->w, EPOLLIN);
}

void metrics_stop(struct proxy *px)
{
	struct metrics *m = px->metrics;

	if (!m)
		return;
	proxy_unwatch(px, &m->w);
	close(m->w.fd);
	free(m);
	px->metrics = NULL;
}
