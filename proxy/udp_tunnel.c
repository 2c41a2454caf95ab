/* SPDX-License-Identifier: MIT */
/*
 * [UDPClientTunnel] and [UDPServerTunnel]: datagrams relayed between a host UDP socket and an
 * lwIP UDP pcb, with per-flow state and idle expiry.
 *
 *   client tunnel: BindAddress (host socket) --flow per client address--> lwIP pcb -> Target
 *   server tunnel: ListenPort (lwIP pcb) --flow per tunnel-side address--> host socket -> Target
 *
 * A flow is created by its first datagram, lives while datagrams pass either way, and goes after
 * UDP_FLOW_IDLE_S of silence; at most UDP_FLOWS_MAX per tunnel (more are dropped, counted).
 * Datagrams are copied once each way; nothing is queued: a full socket or no memory drops the
 * datagram, as UDP may.
 */
#include "proxy/udp_tunnel.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "lwip/udp.h"

enum {
	UDP_FLOWS_MAX = 1024,
	UDP_FLOW_IDLE_S = 60,
	UDP_DATAGRAM_MAX = 65535,
	UDP_READS_PER_WAKE = 64,
};

struct udp_tunnel;

struct udp_flow {
	struct watch w;            /* server tunnel: the flow's host socket */
	struct udp_tunnel *t;
	struct udp_flow *next;
	struct sockaddr_storage client; /* client tunnel: the client's address */
	socklen_t client_len;
	ip_addr_t remote;          /* server tunnel: the tunnel-side sender */
	u16_t remote_port;
	struct udp_pcb *pcb;       /* client tunnel: the flow's lwIP pcb, connected to Target */
	uint64_t last_ns;
};

struct udp_tunnel {
	struct watch w;            /* client tunnel: the BindAddress socket */
	struct proxy *px;
	const struct config_service *svc;
	bool is_server;
	struct udp_pcb *listen_pcb; /* server tunnel */
	ip_addr_t target;          /* client tunnel */
	struct sockaddr_storage host_target; /* server tunnel */
	socklen_t host_target_len;
	struct udp_flow *flows;
	size_t flow_count;
	struct udp_tunnel *next;
};

static uint8_t dgram[UDP_DATAGRAM_MAX];

static struct udp_flow *new_flow(struct udp_tunnel *t)
{
	struct udp_flow *f;

	if (t->flow_count >= UDP_FLOWS_MAX || !(f = calloc(1, sizeof(*f)))) {
		t->px->stats.udp_dropped++;
		return NULL;
	}
	f->t = t;
	f->w.fd = -1;
	f->next = t->flows;
	t->flows = f;
	t->flow_count++;
	t->px->stats.udp_flows++;
	return f;
}

static void free_flow(struct udp_flow *f)
{
	struct udp_tunnel *t = f->t;

	for (struct udp_flow **pp = &t->flows; *pp; pp = &(*pp)->next) {
		if (*pp == f) {
			*pp = f->next;
			break;
		}
	}
	t->flow_count--;
	if (f->pcb)
		udp_remove(f->pcb);
	if (f->w.fd >= 0) {
		proxy_unwatch(t->px, &f->w);
		close(f->w.fd);
	}
	free(f);
}

/* Hands data to lwIP: on pcb (connected) when to is NULL, else sent from pcb to to:port. */
static void lwip_send(struct proxy *px, struct udp_pcb *pcb, const uint8_t *data, size_t len,
		      const ip_addr_t *to, u16_t port)
{
	struct pbuf *p = pbuf_alloc(PBUF_TRANSPORT, (u16_t)len, PBUF_RAM);
	err_t e;

	if (p == NULL) {
		px->stats.udp_dropped++;
		return;
	}
	memcpy(p->payload, data, len);
	e = to ? udp_sendto(pcb, p, to, port) : udp_send(pcb, p);
	pbuf_free(p);
	if (e != ERR_OK)
		px->stats.udp_dropped++;
	else
		px->stats.udp_up++;
}

/* ---- client tunnels ---- */

/* A datagram from Target through the tunnel: back to the flow's client. */
static void on_flow_recv(void *arg, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *addr,
			 u16_t port)
{
	struct udp_flow *f = arg;
	u16_t n;

	(void)pcb;
	(void)addr;
	(void)port;
	n = pbuf_copy_partial(p, dgram, p->tot_len, 0);
	pbuf_free(p);
	f->last_ns = proxy_now_ns();
	if (sendto(f->t->w.fd, dgram, n, 0, (struct sockaddr *)&f->client, f->client_len) < 0)
		f->t->px->stats.udp_dropped++;
	else
		f->t->px->stats.udp_down++;
}

static struct udp_flow *client_flow(struct udp_tunnel *t, const struct sockaddr_storage *from,
				    socklen_t from_len)
{
	struct udp_flow *f;

	for (f = t->flows; f; f = f->next)
		if (f->client_len == from_len && memcmp(&f->client, from, from_len) == 0)
			return f;
	f = new_flow(t);
	if (!f)
		return NULL;
	memcpy(&f->client, from, from_len);
	f->client_len = from_len;
	f->pcb = udp_new_ip_type(IP_GET_TYPE(&t->target));
	if (f->pcb == NULL || udp_connect(f->pcb, &t->target, t->svc->target.port) != ERR_OK) {
		free_flow(f);
		t->px->stats.udp_dropped++;
		return NULL;
	}
	udp_recv(f->pcb, on_flow_recv, f);
	return f;
}

static void on_client_socket(struct watch *w, uint32_t events)
{
	struct udp_tunnel *t = (struct udp_tunnel *)w;

	(void)events;
	for (int i = 0; i < UDP_READS_PER_WAKE; i++) {
		struct sockaddr_storage from;
		socklen_t from_len = sizeof(from);
		ssize_t n = recvfrom(w->fd, dgram, sizeof(dgram), 0, (struct sockaddr *)&from,
				     &from_len);
		struct udp_flow *f;

		if (n < 0)
			return;
		f = client_flow(t, &from, from_len);
		if (!f)
			continue;
		f->last_ns = proxy_now_ns();
		lwip_send(t->px, f->pcb, dgram, (size_t)n, NULL, 0);
	}
}

/* ---- server tunnels ---- */

/* A reply from Target on the flow's host socket: back into the tunnel to the sender. */
static void on_flow_socket(struct watch *w, uint32_t events)
{
	struct udp_flow *f = (struct udp_flow *)w;

	(void)events;
	for (int i = 0; i < UDP_READS_PER_WAKE; i++) {
		ssize_t n = recv(w->fd, dgram, sizeof(dgram), 0);

		if (n < 0)
			return;
		f->last_ns = proxy_now_ns();
		lwip_send(f->t->px, f->t->listen_pcb, dgram, (size_t)n, &f->remote, f->remote_port);
	}
}

static void on_listen_recv(void *arg, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *addr,
			   u16_t port)
{
	struct udp_tunnel *t = arg;
	struct udp_flow *f;
	u16_t n;

	(void)pcb;
	for (f = t->flows; f; f = f->next)
		if (f->remote_port == port && ip_addr_cmp(&f->remote, addr))
			break;
	if (!f) {
		int fd = socket(t->host_target.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
				0);

		f = fd >= 0 ? new_flow(t) : NULL;
		if (!f || connect(fd, (const struct sockaddr *)&t->host_target,
				  t->host_target_len) != 0) {
			if (fd >= 0)
				close(fd);
			if (f)
				free_flow(f);
			t->px->stats.udp_dropped++;
			pbuf_free(p);
			return;
		}
		f->w.fd = fd;
		f->w.fn = on_flow_socket;
		ip_addr_copy(f->remote, *addr);
		f->remote_port = port;
		if (!proxy_watch(t->px, &f->w, EPOLLIN)) {
			free_flow(f);
			pbuf_free(p);
			return;
		}
	}
	n = pbuf_copy_partial(p, dgram, p->tot_len, 0);
	pbuf_free(p);
	f->last_ns = proxy_now_ns();
	if (send(f->w.fd, dgram, n, 0) < 0)
		t->px->stats.udp_dropped++;
	else
		t->px->stats.udp_down++;
}

/* ---- start, sweep, stop ---- */

static bool host_addr(const struct config_hostport *hp, int socktype, struct sockaddr_storage *ss,
		      socklen_t *len)
{
	struct addrinfo hints = { .ai_socktype = socktype, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res;
	char port[8];

	snprintf(port, sizeof(port), "%u", hp->port);
	if (getaddrinfo(hp->host, port, &hints, &res) != 0)
		return false;
	if (res->ai_addrlen > sizeof(*ss)) {
		freeaddrinfo(res);
		return false;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return true;
}

static bool start_one(struct proxy *px, struct udp_tunnel *t, char *err, size_t err_size)
{
	const struct config_service *svc = t->svc;
	struct sockaddr_storage ss;
	socklen_t len;

	if (t->is_server) {
		if (!host_addr(&svc->target, SOCK_DGRAM, &t->host_target, &t->host_target_len)) {
			snprintf(err, err_size, "%s:%d: Target %.100s does not resolve", svc->file,
				 svc->line, svc->target.host);
			return false;
		}
		t->listen_pcb = udp_new_ip_type(IPADDR_TYPE_ANY);
		if (!t->listen_pcb || udp_bind(t->listen_pcb, IP_ANY_TYPE, svc->listen_port) != ERR_OK) {
			snprintf(err, err_size, "%s:%d: ListenPort %u: taken twice?", svc->file,
				 svc->line, svc->listen_port);
			return false;
		}
		udp_recv(t->listen_pcb, on_listen_recv, t);
		return true;
	}
	if (!wire_resolve(px, svc->target.host, &t->target)) {
		snprintf(err, err_size,
			 "%s:%d: Target %.100s does not resolve to an address of a family the "
			 "tunnel has",
			 svc->file, svc->line, svc->target.host);
		return false;
	}
	if (!host_addr(&svc->bind, SOCK_DGRAM, &ss, &len)) {
		snprintf(err, err_size, "%s:%d: BindAddress must be an IP address", svc->file,
			 svc->line);
		return false;
	}
	t->w.fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (t->w.fd < 0 || bind(t->w.fd, (struct sockaddr *)&ss, len) != 0) {
		snprintf(err, err_size, "%s:%d: BindAddress %.100s:%u: %s", svc->file, svc->line,
			 svc->bind.host, svc->bind.port, strerror(errno));
		return false;
	}
	t->w.fn = on_client_socket;
	return proxy_watch(px, &t->w, EPOLLIN);
}

bool udp_tunnel_start(struct proxy *px, char *err, size_t err_size)
{
	for (size_t i = 0; i < px->cfg->service_count; i++) {
		const struct config_service *svc = &px->cfg->services[i];
		struct udp_tunnel *t;

		if (svc->kind != SERVICE_UDP_CLIENT && svc->kind != SERVICE_UDP_SERVER)
			continue;
		t = calloc(1, sizeof(*t));
		if (!t) {
			snprintf(err, err_size, "out of memory");
			return false;
		}
		t->px = px;
		t->svc = svc;
		t->w.fd = -1;
		t->is_server = svc->kind == SERVICE_UDP_SERVER;
		t->next = px->udp_tunnels;
		px->udp_tunnels = t;
		if (!start_one(px, t, err, err_size))
			return false;
	}
	return true;
}

void udp_tunnel_sweep(struct proxy *px, uint64_t now)
{
	for (struct udp_tunnel *t = px->udp_tunnels; t; t = t->next) {
		struct udp_flow *next;

		for (struct udp_flow *f = t->flows; f; f = next) {
			next = f->next;
			if (now - f->last_ns >= (uint64_t)UDP_FLOW_IDLE_S * 1000000000u) {
				px->stats.udp_flows_expired++;
				free_flow(f);
			}
		}
	}
}

void udp_tunnel_stop(struct proxy *px)
{
	while (px->udp_tunnels) {
		struct udp_tunnel *t = px->udp_tunnels;

		px->udp_tunnels = t->next;
		while (t->flows)
			free_flow(t->flows);
		if (t->listen_pcb)
			udp_remove(t->listen_pcb);
		if (t->w.fd >= 0) {
			proxy_unwatch(px, &t->w);
			close(t->w.fd);
		}
		free(t);
	}
}
