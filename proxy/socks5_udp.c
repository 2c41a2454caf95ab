/* SPDX-License-Identifier: MIT */
/*
 * SOCKS5 UDP ASSOCIATE relay: unwrap the client's datagrams into lwIP, wrap lwIP's answers for
 * the client. Datagrams are copied once each way and queued only while their destination's
 * name resolves (at most SOCKS5_UDP_WAITING_MAX per association).
 */
#include "proxy/socks5_udp.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "lwip/udp.h"
#include "proxy/resolver.h"
#include "proxy/socks5.h"

/* A destination name and what it resolved to. */
struct udp_name {
	struct socks5_assoc *a;
	char host[256];
	bool is_used;
	bool is_resolved;
	ip_addr_t ip;
	uint64_t expires_ns; /* resolved: look it up again after this */
	struct resolver_query *q; /* resolving through the tunnel's DNS */
};

/* A datagram for a name still resolving. */
struct udp_waiting {
	struct pbuf *p; /* NULL: a free slot */
	struct udp_name *name;
	u16_t port;
};

struct socks5_udp_names {
	struct udp_name names[SOCKS5_UDP_NAMES_MAX];
	struct udp_waiting waiting[SOCKS5_UDP_WAITING_MAX];
};

enum { DGRAM_MAX = 65535, READS_PER_WAKE = 64 };

static uint8_t dgram[DGRAM_MAX + SOCKS5_REPLY_MAX];

static bool same_ip(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return memcmp(&((const struct sockaddr_in *)a)->sin_addr,
			      &((const struct sockaddr_in *)b)->sin_addr, 4) == 0;
	return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		      &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
}

/* An answer from the tunnel: wrapped with its source, to the client. */
static void on_lwip_recv(void *arg, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *addr,
			 u16_t port)
{
	struct socks5_assoc *a = arg;
	size_t h;
	u16_t n;

	(void)pcb;
	if (!a->is_open || !a->has_client) {
		pbuf_free(p);
		return;
	}
	if (IP_IS_V4(addr))
		h = socks5_udp_header(dgram, (const uint8_t *)&ip_2_ip4(addr)->addr, 4, port);
	else
		h = socks5_udp_header(dgram, (const uint8_t *)ip_2_ip6(addr)->addr, 16, port);
	n = pbuf_copy_partial(p, dgram + h, p->tot_len, 0);
	pbuf_free(p);
	if (sendto(a->w.fd, dgram, h + n, 0, (struct sockaddr *)&a->client, a->client_len) < 0)
		a->px->stats.udp_dropped++;
	else
		a->px->stats.udp_down++;
}

/* Sends p (the datagram's data) into the tunnel and frees it. */
static void send_to_ip(struct socks5_assoc *a, struct pbuf *p, const ip_addr_t *ip, u16_t port)
{
	if (udp_sendto(a->pcb, p, ip, port) == ERR_OK)
		a->px->stats.udp_up++;
	else
		a->px->stats.udp_dropped++;
	pbuf_free(p);
}

/* The lookup of name n finished: its waiting datagrams go out, or are dropped. */
static void on_name_resolved(void *arg, bool ok, const ip_addr_t *ip)
{
	struct udp_name *n = arg;
	struct socks5_assoc *a = n->a;

	n->q = NULL;
	if (ok) {
		n->is_resolved = true;
		n->ip = *ip;
		n->expires_ns = proxy_now_ns() + (uint64_t)SOCKS5_UDP_NAME_TTL_S * 1000000000u;
	}
	for (size_t i = 0; i < SOCKS5_UDP_WAITING_MAX; i++) {
		struct udp_waiting *wt = &a->names->waiting[i];

		if (wt->p == NULL || wt->name != n)
			continue;
		if (ok) {
			send_to_ip(a, wt->p, &n->ip, wt->port);
		} else {
			pbuf_free(wt->p);
			a->px->stats.udp_dropped++;
		}
		wt->p = NULL;
	}
	if (!ok) {
		a->px->stats.resolve_failed++;
		n->is_used = false;
	}
}

/* The entry for host: its own, else a free one, else the resolved one that expires first;
 * NULL when every entry is still resolving. A new entry is returned unused (is_used false). */
static struct udp_name *find_name(struct socks5_udp_names *t, const char *host)
{
	struct udp_name *victim = NULL;

	for (size_t i = 0; i < SOCKS5_UDP_NAMES_MAX; i++) {
		struct udp_name *n = &t->names[i];

		if (n->is_used && strcasecmp(n->host, host) == 0)
			return n;
	}
	for (size_t i = 0; i < SOCKS5_UDP_NAMES_MAX; i++) {
		struct udp_name *n = &t->names[i];

		if (!n->is_used)
			return n;
		if (n->is_resolved && (!victim || n->expires_ns < victim->expires_ns))
			victim = n;
	}
	if (victim)
		victim->is_used = false;
	return victim;
}

/* Sends p to host:port: at once if the name is known, else once it resolves. Frees p. */
static void send_to_name(struct socks5_assoc *a, struct pbuf *p, const char *host, u16_t port)
{
	struct udp_name *n;
	struct udp_waiting *slot = NULL;

	if (!a->names && !(a->names = calloc(1, sizeof(*a->names)))) {
		pbuf_free(p);
		a->px->stats.udp_dropped++;
		return;
	}
	n = find_name(a->names, host);
	if (n && n->is_used && n->is_resolved && proxy_now_ns() >= n->expires_ns)
		n->is_used = false; /* expired: look it up again */
	if (n && n->is_used && n->is_resolved) {
		send_to_ip(a, p, &n->ip, port);
		return;
	}
	for (size_t i = 0; i < SOCKS5_UDP_WAITING_MAX && !slot; i++)
		if (a->names->waiting[i].p == NULL)
			slot = &a->names->waiting[i];
	if (!n || !slot) {
		pbuf_free(p); /* every name is resolving, or too much waits */
		a->px->stats.udp_dropped++;
		return;
	}
	if (!n->is_used) {
		memset(n, 0, sizeof(*n));
		n->a = a;
		snprintf(n->host, sizeof(n->host), "%s", host);
		n->is_used = true;
		if (a->px->resolver == NULL) {
			/* no tunnel DNS: the system resolver, as CONNECT uses it then */
			if (!wire_resolve(a->px, host, &n->ip)) {
				n->is_used = false;
				pbuf_free(p);
				a->px->stats.resolve_failed++;
				a->px->stats.udp_dropped++;
				return;
			}
			n->is_resolved = true;
			n->expires_ns = proxy_now_ns() + (uint64_t)SOCKS5_UDP_NAME_TTL_S * 1000000000u;
			send_to_ip(a, p, &n->ip, port);
			return;
		}
		n->q = resolver_lookup(a->px, host, on_name_resolved, n);
		if (n->q == NULL) {
			n->is_used = false;
			pbuf_free(p);
			a->px->stats.resolve_failed++;
			a->px->stats.udp_dropped++;
			return;
		}
	}
	slot->p = p;
	slot->name = n;
	slot->port = port;
}

static void on_socket(struct watch *w, uint32_t events)
{
	struct socks5_assoc *a = (struct socks5_assoc *)w;

	(void)events;
	for (int i = 0; i < READS_PER_WAKE && a->is_open; i++) {
		struct sockaddr_storage from;
		socklen_t from_len = sizeof(from);
		struct socks5_request dst;
		size_t h;
		ip_addr_t ip;
		struct pbuf *p;
		ssize_t n = recvfrom(w->fd, dgram, DGRAM_MAX, 0, (struct sockaddr *)&from,
				     &from_len);

		if (n < 0)
			return;
		if (!same_ip(&from, &a->peer) ||
		    (a->has_client && (from_len != a->client_len ||
				       memcmp(&from, &a->client, from_len) != 0))) {
			a->px->stats.udp_dropped++; /* not our client */
			continue;
		}
		if (socks5_parse_udp(dgram, (size_t)n, &h, &dst) != SOCKS5_OK) {
			a->px->stats.udp_dropped++;
			continue;
		}
		if (!a->has_client) {
			memcpy(&a->client, &from, from_len);
			a->client_len = from_len;
			a->has_client = true;
		}
		p = pbuf_alloc(PBUF_TRANSPORT, (u16_t)((size_t)n - h), PBUF_RAM);
		if (!p) {
			a->px->stats.udp_dropped++;
			continue;
		}
		memcpy(p->payload, dgram + h, (size_t)n - h);
		if (dst.address_type == SOCKS5_ATYP_DOMAIN) {
			send_to_name(a, p, dst.host, dst.port);
			continue;
		}
		if (dst.address_type == SOCKS5_ATYP_IPV4) {
			IP_ADDR4(&ip, dst.ip[0], dst.ip[1], dst.ip[2], dst.ip[3]);
		} else {
			ip_addr_set_zero_ip6(&ip);
			memcpy(ip_2_ip6(&ip)->addr, dst.ip, 16);
		}
		send_to_ip(a, p, &ip, dst.port);
	}
}

bool socks5_assoc_open(struct socks5_assoc *a, struct proxy *px,
		       const struct sockaddr_storage *local, const struct sockaddr_storage *peer,
		       struct sockaddr_storage *bound)
{
	struct sockaddr_storage ss = *local;
	socklen_t len = ss.ss_family == AF_INET ? sizeof(struct sockaddr_in) :
						  sizeof(struct sockaddr_in6);

	memset(a, 0, sizeof(*a));
	a->px = px;
	a->peer = *peer;
	if (ss.ss_family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_port = 0;
	else
		((struct sockaddr_in6 *)&ss)->sin6_port = 0;
	a->w.fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (a->w.fd < 0)
		return false;
	if (bind(a->w.fd, (struct sockaddr *)&ss, len) != 0 ||
	    getsockname(a->w.fd, (struct sockaddr *)bound, &len) != 0) {
		close(a->w.fd);
		a->w.fd = -1;
		return false;
	}
	a->pcb = udp_new_ip_type(IPADDR_TYPE_ANY);
	if (!a->pcb) {
		close(a->w.fd);
		a->w.fd = -1;
		return false;
	}
	udp_recv(a->pcb, on_lwip_recv, a);
	a->w.fn = on_socket;
	a->is_open = true;
	if (!proxy_watch(px, &a->w, EPOLLIN)) {
		socks5_assoc_close(a);
		return false;
	}
	px->stats.udp_flows++;
	return true;
}

void socks5_assoc_close(struct socks5_assoc *a)
{
	if (!a->is_open)
		return;
	a->is_open = false;
	if (a->names) {
		for (size_t i = 0; i < SOCKS5_UDP_NAMES_MAX; i++)
			resolver_cancel(a->names->names[i].q);
		for (size_t i = 0; i < SOCKS5_UDP_WAITING_MAX; i++)
			if (a->names->waiting[i].p)
				pbuf_free(a->names->waiting[i].p);
		free(a->names);
		a->names = NULL;
	}
	udp_remove(a->pcb);
	a->pcb = NULL;
	proxy_unwatch(a->px, &a->w);
	close(a->w.fd);
	a->w.fd = -1;
}
