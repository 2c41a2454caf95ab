/* SPDX-License-Identifier: MIT */
/*
 * SOCKS5 UDP ASSOCIATE relay: unwrap the client's datagrams into lwIP, wrap lwIP's answers for
 * the client. Datagrams are copied once each way and never queued.
 */
#include "proxy/socks5_udp.h"

#include <netinet/in.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "lwip/udp.h"
#include "proxy/socks5.h"

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
		if (socks5_parse_udp(dgram, (size_t)n, &h, &dst) != SOCKS5_OK ||
		    dst.address_type == SOCKS5_ATYP_DOMAIN) {
			/* TODO(#12): names in UDP datagrams */
			a->px->stats.udp_dropped++;
			continue;
		}
		if (!a->has_client) {
			memcpy(&a->client, &from, from_len);
			a->client_len = from_len;
			a->has_client = true;
		}
		if (dst.address_type == SOCKS5_ATYP_IPV4) {
			IP_ADDR4(&ip, dst.ip[0], dst.ip[1], dst.ip[2], dst.ip[3]);
		} else {
			ip_addr_set_zero_ip6(&ip);
			memcpy(ip_2_ip6(&ip)->addr, dst.ip, 16);
		}
		p = pbuf_alloc(PBUF_TRANSPORT, (u16_t)((size_t)n - h), PBUF_RAM);
		if (!p) {
			a->px->stats.udp_dropped++;
			continue;
		}
		memcpy(p->payload, dgram + h, (size_t)n - h);
		if (udp_sendto(a->pcb, p, &ip, dst.port) == ERR_OK)
			a->px->stats.udp_up++;
		else
			a->px->stats.udp_dropped++;
		pbuf_free(p);
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
	udp_remove(a->pcb);
	a->pcb = NULL;
	proxy_unwatch(a->px, &a->w);
	close(a->w.fd);
	a->w.fd = -1;
}
