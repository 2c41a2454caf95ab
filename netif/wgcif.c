/* SPDX-License-Identifier: MIT */
/*
 * The lwIP interface over a wgc endpoint: output seals (copying the packet once into the
 * transmit buffer), input opens in place and passes the same pbuf up, and the core's actions are
 * carried out here (SEND through the host's callback, DELIVER to ip_input, FLUSH/PURGE on the
 * per-peer staged queue). Nothing here knows about sockets, threads or a clock.
 */
#include "netif/wgcif.h"

#include <string.h>

#include "lwip/ip.h"

enum {
	/* Actions one call may emit: a few per peer for send/receive; a tick that fills the list
	 * returns "now" and is simply called again. */
	ACTIONS_MAX = 8,
	SCRATCH_SIZE = ACTIONS_MAX * WGC_MAX_CONTROL_MESSAGE_LEN,
};

struct action_space {
	struct wgc_action list[ACTIONS_MAX];
	uint8_t scratch[SCRATCH_SIZE];
	struct wgc_actions out;
};

static void action_space_init(struct action_space *s)
{
	s->out = (struct wgc_actions){ .list = s->list, .cap = ACTIONS_MAX, .scratch = s->scratch,
				       .scratch_size = sizeof(s->scratch) };
}

static struct wgcif *wgcif_of(struct netif *netif)
{
	return (struct wgcif *)netif->state;
}

static void transmit(struct wgcif *wi, const struct wgc_addr *addr, const uint8_t *data,
		     size_t len)
{
	if (!wi->ops->send(wi->ctx, addr, data, len))
		wi->stats.send_errors++;
}

/* ---- staging ---- */

static void stage(struct wgcif *wi, struct wgc_peer *peer, const uint8_t *packet, size_t len)
{
	struct wgcif_peer *slot = peer ? wgc_peer_get_user(peer) : NULL;
	struct pbuf *p;

	if (slot == NULL) {
		wi->stats.stage_dropped++;
		return;
	}
	if (slot->staged_count >= WGCIF_STAGE_MAX) {
		struct pbuf *old = slot->staged_head;

		slot->staged_head = old->next;
		old->next = NULL;
		pbuf_free(old);
		slot->staged_count--;
		if (slot->staged_head == NULL)
			slot->staged_tail = NULL;
		wi->stats.stage_dropped++;
	}
	p = pbuf_alloc(PBUF_RAW, (u16_t)len, PBUF_RAM);
	if (p == NULL) {
		wi->stats.no_memory++;
		return;
	}
	memcpy(p->payload, packet, len);
	/* The queue links single pbufs through ->next; each is unlinked before lwIP sees it. */
	if (slot->staged_tail)
		slot->staged_tail->next = p;
	else
		slot->staged_head = p;
	slot->staged_tail = p;
	slot->staged_count++;
	wi->stats.staged++;
}

/* Detaches the peer's whole staged list and returns its head. */
static struct pbuf *take_staged(struct wgc_peer *peer)
{
	struct wgcif_peer *slot = peer ? wgc_peer_get_user(peer) : NULL;
	struct pbuf *head;

	if (slot == NULL)
		return NULL;
	head = slot->staged_head;
	slot->staged_head = NULL;
	slot->staged_tail = NULL;
	slot->staged_count = 0;
	return head;
}

static void purge(struct wgcif *wi, struct wgc_peer *peer)
{
	struct pbuf *p = take_staged(peer);

	while (p) {
		struct pbuf *next = p->next;

		p->next = NULL;
		pbuf_free(p);
		wi->stats.stage_dropped++;
		wgc_endpoint_count_drop(wi->ep, WGC_DROP_PEER_GONE);
		p = next;
	}
}

/* ---- sending ---- */

static void run_actions(struct wgcif *wi, const struct wgc_actions *out);

/*
 * Seals and sends the packet at wi->tx_buf + WGC_DATA_HEADROOM (len bytes) to peer, or to the
 * peer its destination routes to when peer is NULL.
 */
static void send_plain(struct wgcif *wi, struct wgc_peer *peer, size_t len)
{
	struct action_space s;
	struct wgc_send_job job;
	enum wgc_verdict v;

	action_space_init(&s);
	v = wgc_send_prepare(wi->ep, wi->ops->now_ns(wi->ctx), peer, wi->tx_buf,
			     sizeof(wi->tx_buf), len, &job, &s.out);
	switch (v) {
	case WGC_VERDICT_CRYPTO:
		wgc_send_seal(&job);
		transmit(wi, &job.addr, wi->tx_buf, job.message_len);
		wi->stats.tx_packets++;
		wi->stats.tx_bytes += len;
		break;
	case WGC_VERDICT_STAGE:
		stage(wi, job.peer, wi->tx_buf + WGC_DATA_HEADROOM, len);
		break;
	case WGC_VERDICT_DROP:
		wi->stats.tx_dropped++;
		break;
	case WGC_VERDICT_DONE:
		break;
	}
	run_actions(wi, &s.out);
}

/* A session is up: resend what waited for it, in order. Packets that must wait again (the
 * session died meanwhile) are staged anew. */
static void flush(struct wgcif *wi, struct wgc_peer *peer)
{
	struct pbuf *p = take_staged(peer);

	while (p) {
		struct pbuf *next = p->next;
		size_t len = p->len;

		p->next = NULL;
		memcpy(wi->tx_buf + WGC_DATA_HEADROOM, p->payload, len);
		pbuf_free(p);
		send_plain(wi, peer, len);
		p = next;
	}
}

static err_t output(struct netif *netif, struct pbuf *p)
{
	struct wgcif *wi = wgcif_of(netif);

	/* A drop here is loss on the link, as for any interface: lwIP's TCP retransmits. */
	if (p->tot_len > wi->mtu) {
		wi->stats.tx_too_big++;
		return ERR_OK;
	}
	pbuf_copy_partial(p, wi->tx_buf + WGC_DATA_HEADROOM, p->tot_len, 0);
	send_plain(wi, NULL, p->tot_len);
	return ERR_OK;
}

#if LWIP_IPV4
static err_t output_ip4(struct netif *netif, struct pbuf *p, const ip4_addr_t *next_hop)
{
	(void)next_hop; /* the core routes by the packet's own destination */
	return output(netif, p);
}
#endif

#if LWIP_IPV6
static err_t output_ip6(struct netif *netif, struct pbuf *p, const ip6_addr_t *next_hop)
{
	(void)next_hop;
	return output(netif, p);
}
#endif

/* ---- receiving ---- */

/* Hands the plaintext at data[0..len), which lies inside p, to lwIP in p itself. */
static void deliver(struct wgcif *wi, struct pbuf *p, const uint8_t *data, size_t len)
{
	size_t offset = (size_t)(data - (const uint8_t *)p->payload);

	if (pbuf_remove_header(p, offset) != 0) {
		pbuf_free(p);
		return;
	}
	pbuf_realloc(p, (u16_t)len);
	wi->stats.rx_packets++;
	wi->stats.rx_bytes += len;
	if (wi->netif.input(p, &wi->netif) != ERR_OK)
		pbuf_free(p);
}

/* Carries out every action but DELIVER (only the receive path has one; it handles it last). */
static void run_actions(struct wgcif *wi, const struct wgc_actions *out)
{
	for (size_t i = 0; i < out->count; i++) {
		const struct wgc_action *a = &out->list[i];

		switch (a->kind) {
		case WGC_ACTION_SEND:
			transmit(wi, &a->addr, a->data, a->len);
			break;
		case WGC_ACTION_FLUSH:
			flush(wi, a->peer);
			break;
		case WGC_ACTION_PURGE:
			purge(wi, a->peer);
			break;
		case WGC_ACTION_DELIVER:
			break;
		}
	}
}

void wgcif_input(struct wgcif *wi, struct pbuf *p, const struct wgc_addr *src)
{
	struct action_space s;
	const struct wgc_action *deliver_action = NULL;

	if (p->next != NULL) {
		struct pbuf *q = pbuf_clone(PBUF_RAW, PBUF_RAM, p);

		pbuf_free(p);
		if (q == NULL) {
			wi->stats.no_memory++;
			return;
		}
		p = q;
	}
	action_space_init(&s);
	if (wgc_receive(wi->ep, wi->ops->now_ns(wi->ctx), p->payload, p->len, src, &s.out) ==
	    WGC_VERDICT_DROP)
		wi->stats.rx_dropped++;
	for (size_t i = 0; i < s.out.count; i++)
		if (s.out.list[i].kind == WGC_ACTION_DELIVER)
			deliver_action = &s.out.list[i];
	/* Replies and flushes first: they never point into p, and p leaves our hands below. */
	run_actions(wi, &s.out);
	if (deliver_action != NULL)
		deliver(wi, p, deliver_action->data, deliver_action->len);
	else
		pbuf_free(p);
}

uint64_t wgcif_tick(struct wgcif *wi)
{
	uint64_t now;
	uint64_t next;
	struct action_space s;
	int rounds = 0;

	/* A tick whose action list fills up returns now: run what it made and tick again (a
	 * bounded number of times; the caller's next call picks up any rest). */
	do {
		now = wi->ops->now_ns(wi->ctx);
		action_space_init(&s);
		next = wgc_endpoint_tick(wi->ep, now, &s.out);
		run_actions(wi, &s.out);
	} while (next <= now && ++rounds < 64);
	return next;
}

/* ---- lifetime and peers ---- */

static err_t init_netif(struct netif *netif)
{
	struct wgcif *wi = wgcif_of(netif);

	netif->name[0] = 'w';
	netif->name[1] = 'g';
	netif->mtu = wi->mtu;
#if LWIP_IPV4
	netif->output = output_ip4;
#endif
#if LWIP_IPV6
	netif->output_ip6 = output_ip6;
#if LWIP_ND6_ALLOW_RA_UPDATES
	netif->mtu6 = wi->mtu;
#endif
#if LWIP_IPV6_SEND_ROUTER_SOLICIT
	netif->rs_count = 0; /* no routers on a tunnel */
#endif
#endif
	/* Point to point: no ARP, no broadcast, no multicast groups. */
	netif->flags = 0;
	return ERR_OK;
}

err_t wgcif_add(struct wgcif *wi, struct wgc_endpoint *ep, const struct wgcif_ops *ops, void *ctx,
		uint16_t mtu)
{
	if (mtu == 0)
		mtu = WGC_DEFAULT_MTU;
	if (mtu > WGCIF_MTU_MAX || mtu < 576)
		return ERR_ARG;
	memset(wi, 0, sizeof(*wi));
	wi->ep = ep;
	wi->ops = ops;
	wi->ctx = ctx;
	wi->mtu = mtu;
	wgc_endpoint_set_mtu(ep, mtu);
	if (netif_add_noaddr(&wi->netif, wi, init_netif, ip_input) == NULL)
		return ERR_IF;
	return ERR_OK;
}

void wgcif_set_ip4(struct wgcif *wi, const ip4_addr_t *addr, uint8_t prefix_len)
{
#if LWIP_IPV4
	ip4_addr_t mask;
	uint32_t bits = prefix_len == 0 ? 0 : 0xffffffffu << (32 - (prefix_len > 32 ? 32 : prefix_len));

	ip4_addr_set_u32(&mask, lwip_htonl(bits));
	netif_set_addr(&wi->netif, addr, &mask, IP4_ADDR_ANY4);
#else
	(void)wi;
	(void)addr;
	(void)prefix_len;
#endif
}

err_t wgcif_add_ip6(struct wgcif *wi, const ip6_addr_t *addr)
{
#if LWIP_IPV6
	s8_t index;
	err_t err = netif_add_ip6_address(&wi->netif, addr, &index);

	if (err != ERR_OK)
		return err;
	netif_ip6_addr_set_state(&wi->netif, index, IP6_ADDR_PREFERRED);
	return ERR_OK;
#else
	(void)wi;
	(void)addr;
	return ERR_ARG;
#endif
}

void wgcif_up(struct wgcif *wi, bool is_default)
{
	netif_set_up(&wi->netif);
	netif_set_link_up(&wi->netif);
	if (is_default)
		netif_set_default(&wi->netif);
}

void wgcif_remove(struct wgcif *wi)
{
	for (struct wgc_peer *peer = wgc_peer_next(wi->ep, NULL); peer;
	     peer = wgc_peer_next(wi->ep, peer))
		purge(wi, peer);
	netif_remove(&wi->netif);
}

void wgcif_peer_attach(struct wgcif_peer *slot, struct wgc_peer *peer)
{
	memset(slot, 0, sizeof(*slot));
	wgc_peer_set_user(peer, slot);
}

void wgcif_peer_detach(struct wgcif *wi, struct wgc_peer *peer)
{
	purge(wi, peer);
	wgc_peer_set_user(peer, NULL);
}

void wgcif_peer_set_keepalive(struct wgcif *wi, struct wgc_peer *peer, uint16_t interval_s)
{
	struct action_space s;

	action_space_init(&s);
	wgc_peer_set_persistent_keepalive(wi->ep, peer, interval_s, wi->ops->now_ns(wi->ctx),
					  &s.out);
	run_actions(wi, &s.out);
}
