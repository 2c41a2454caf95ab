/* SPDX-License-Identifier: MIT */
/*
 * Lookups through the tunnel's DNS server: one lwIP UDP pcb, a fixed table of queries with
 * random ids (a spoofed answer must guess the id, and comes from inside the tunnel anyway).
 */
#include "proxy/resolver.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "lwip/udp.h"
#include "proxy/dns.h"
#include "proxy/proxy.h"

struct resolver_query {
	bool is_used;
	uint16_t id;
	uint16_t qtype;
	int sends;
	uint64_t sent_ns;
	uint64_t deadline_ns;
	resolver_done_fn done;
	void *arg;
	char name[256];
};

struct resolver {
	struct udp_pcb *pcb;
	ip_addr_t server;
	struct proxy *px;
	struct resolver_query q[RESOLVER_QUERIES_MAX];
};

static void send_query(struct resolver *r, struct resolver_query *q)
{
	uint8_t buf[DNS_QUERY_MAX];
	size_t n = dns_build_query(buf, sizeof(buf), q->id, q->name, q->qtype);
	struct pbuf *p;

	if (n == 0)
		return;
	p = pbuf_alloc(PBUF_TRANSPORT, (u16_t)n, PBUF_RAM);
	if (p == NULL)
		return;
	memcpy(p->payload, buf, n);
	(void)udp_sendto(r->pcb, p, &r->server, 53);
	pbuf_free(p);
	q->sends++;
	q->sent_ns = proxy_now_ns();
}

static void finish(struct resolver_query *q, bool ok, const ip_addr_t *ip)
{
	resolver_done_fn done = q->done;
	void *arg = q->arg;

	q->is_used = false; /* before the callback: it may start another lookup */
	done(arg, ok, ip);
}

/* No answer of this type: try the other family if the tunnel has it, else fail. */
static void next_type_or_fail(struct resolver *r, struct resolver_query *q)
{
	if (q->qtype == DNS_TYPE_A && r->px->has_ip6) {
		q->qtype = DNS_TYPE_AAAA;
		q->sends = 0;
		send_query(r, q);
		return;
	}
	finish(q, false, NULL);
}

static void on_udp(void *arg, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *addr,
		   u16_t port)
{
	struct resolver *r = arg;
	uint8_t msg[1500];
	u16_t len;

	(void)pcb;
	if (port != 53 || !ip_addr_cmp(addr, &r->server) || p->tot_len > sizeof(msg)) {
		pbuf_free(p);
		return;
	}
	len = pbuf_copy_partial(p, msg, p->tot_len, 0);
	pbuf_free(p);
	for (int i = 0; i < RESOLVER_QUERIES_MAX; i++) {
		struct resolver_query *q = &r->q[i];
		uint8_t a[16];
		enum dns_result res;
		ip_addr_t ip;

		if (!q->is_used)
			continue;
		res = dns_parse_response(msg, len, q->id, q->name, q->qtype, a);
		if (res == DNS_BAD)
			continue;
		if (res == DNS_NO_ANSWER) {
			next_type_or_fail(r, q);
			return;
		}
		if (q->qtype == DNS_TYPE_A) {
			IP_ADDR4(&ip, a[0], a[1], a[2], a[3]);
		} else {
			ip_addr_set_zero_ip6(&ip);
			memcpy(ip_2_ip6(&ip)->addr, a, 16);
		}
		finish(q, true, &ip);
		return;
	}
}

bool resolver_start(struct proxy *px)
{
	struct resolver *r = calloc(1, sizeof(*r));
	const struct wgc_addr *dns = &px->cfg->dns[0];

	if (!r)
		return false;
	r->px = px;
	if (dns->family == WGC_AF_INET) {
		IP_ADDR4(&r->server, dns->ip[0], dns->ip[1], dns->ip[2], dns->ip[3]);
	} else {
		ip_addr_set_zero_ip6(&r->server);
		memcpy(ip_2_ip6(&r->server)->addr, dns->ip, 16);
	}
	r->pcb = udp_new_ip_type(IPADDR_TYPE_ANY);
	if (r->pcb == NULL) {
		free(r);
		return false;
	}
	udp_recv(r->pcb, on_udp, r);
	px->resolver = r;
	return true;
}

void resolver_stop(struct proxy *px)
{
	struct resolver *r = px->resolver;

	if (!r)
		return;
	udp_remove(r->pcb);
	free(r);
	px->resolver = NULL;
}

struct resolver_query *resolver_lookup(struct proxy *px, const char *name, resolver_done_fn done,
				       void *arg)
{
	struct resolver *r = px->resolver;
	uint8_t probe[DNS_QUERY_MAX];

	if (!r || strlen(name) >= sizeof(r->q[0].name) ||
	    dns_build_query(probe, sizeof(probe), 0, name, DNS_TYPE_A) == 0)
		return NULL;
	for (int i = 0; i < RESOLVER_QUERIES_MAX; i++) {
		struct resolver_query *q = &r->q[i];

		if (q->is_used)
			continue;
		memset(q, 0, sizeof(*q));
		q->is_used = true;
		if (getrandom(&q->id, sizeof(q->id), 0) != sizeof(q->id))
			q->id = (uint16_t)rand();
		q->qtype = px->has_ip4 ? DNS_TYPE_A : DNS_TYPE_AAAA;
		q->done = done;
		q->arg = arg;
		strcpy(q->name, name);
		q->deadline_ns = proxy_now_ns() + (uint64_t)RESOLVER_TIMEOUT_S * 1000000000u;
		send_query(r, q);
		return q;
	}
	return NULL;
}

void resolver_cancel(struct resolver_query *q)
{
	if (q)
		q->is_used = false;
}

void resolver_sweep(struct proxy *px, uint64_t now)
{
	struct resolver *r = px->resolver;

	if (!r)
		return;
	for (int i = 0; i < RESOLVER_QUERIES_MAX; i++) {
		struct resolver_query *q = &r->q[i];

		if (!q->is_used)
			continue;
		if (now >= q->deadline_ns)
			finish(q, false, NULL);
		else if (q->sends < 2 &&
			 now >= q->sent_ns + (uint64_t)RESOLVER_RETRY_MS * 1000000u)
			send_query(r, q);
	}
}
