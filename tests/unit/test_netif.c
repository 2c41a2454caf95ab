/* SPDX-License-Identifier: MIT */
/*
 * netif/wgcif over the real lwIP (Debian's liblwip): one lwIP stack with the wgc interface, and
 * plain wgc endpoints in the same process as its remote peers, joined by an in-memory queue and
 * driven by a fake clock. Covers staging until the handshake and the flush after it, ICMP echo
 * answered by lwIP through the tunnel, cryptokey routing to several peers (IPv4 and IPv6), and
 * drops: no route, a source outside the sender's allowed IPs, packets over the MTU.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lwip/init.h"
#include "lwip/ip_addr.h"
#include "lwip/udp.h"
#include "netif/wgcif.h"
#include "wgc.h"

enum { MAX_QUEUE = 64, DGRAM_MAX = 2048, REMOTES = 2 };

struct datagram {
	struct wgc_addr from;
	struct wgc_addr to;
	size_t len;
	uint8_t data[DGRAM_MAX];
};

struct remote {
	void *mem;
	struct wgc_endpoint *ep;
	struct wgc_peer *peer; /* the lwIP side, as this remote's peer */
	struct wgc_peer *local_peer; /* this remote, as the lwIP side's peer */
	struct wgcif_peer slot;
	struct wgc_addr addr;
	int delivered_count;
	size_t delivered_len;
	uint8_t delivered[DGRAM_MAX];
};

static uint64_t fake_now = UINT64_C(1000) * 1000000000u;
static uint64_t rng_state = 0x9e3779b97f4a7c15u;
static struct datagram queue[MAX_QUEUE];
static int queue_count;
static struct remote remotes[REMOTES];
static void *local_mem;
static struct wgc_endpoint *local_ep;
static struct wgcif wi;
static const struct wgc_addr local_addr = { .family = WGC_AF_INET, .port = 51820,
					    .ip = { 192, 0, 2, 1 } };

static bool test_random(void *ctx, void *buf, size_t len)
{
	uint8_t *p = buf;

	(void)ctx;
	for (size_t i = 0; i < len; i++) {
		rng_state ^= rng_state << 13;
		rng_state ^= rng_state >> 7;
		rng_state ^= rng_state << 17;
		p[i] = (uint8_t)rng_state;
	}
	return true;
}

static uint64_t test_wall(void *ctx)
{
	(void)ctx;
	return UINT64_C(1700000000) * 1000000000u + fake_now;
}

static uint64_t test_now(void *ctx)
{
	(void)ctx;
	return fake_now;
}

static void enqueue(const struct wgc_addr *from, const struct wgc_addr *to, const uint8_t *data,
		    size_t len)
{
	struct datagram *d;

	assert_true(queue_count < MAX_QUEUE);
	assert_true(len <= DGRAM_MAX);
	d = &queue[queue_count++];
	d->from = *from;
	d->to = *to;
	d->len = len;
	memcpy(d->data, data, len);
}

static bool test_send(void *ctx, const struct wgc_addr *addr, const uint8_t *data, size_t len)
{
	(void)ctx;
	enqueue(&local_addr, addr, data, len);
	return true;
}

static const struct wgcif_ops ops = { .send = test_send, .now_ns = test_now };

static struct wgc_endpoint *make_endpoint(void **mem)
{
	struct wgc_config cfg = {
		.limits = { .max_peers = 4, .max_allowed_ips = 16 },
		.random = test_random,
		.wall_clock = test_wall,
	};
	size_t size = wgc_endpoint_size(&cfg.limits);
	struct wgc_endpoint *ep;
	uint8_t key[WGC_KEY_LEN];

	*mem = aligned_alloc(64, (size + 63) & ~(size_t)63);
	assert_non_null(*mem);
	memset(*mem, 0, size);
	assert_int_equal(wgc_endpoint_init(*mem, size, &cfg, fake_now, &ep), WGC_OK);
	test_random(NULL, key, sizeof(key));
	assert_int_equal(wgc_endpoint_set_private_key(ep, key, fake_now), WGC_OK);
	return ep;
}

static void add_route(struct wgc_endpoint *ep, struct wgc_peer *peer, uint8_t family,
		      const uint8_t *ip, uint8_t cidr)
{
	struct wgc_prefix prefix = { .family = family, .cidr = cidr };

	memcpy(prefix.ip, ip, family == WGC_AF_INET ? 4 : 16);
	assert_int_equal(wgc_allowedip_insert(ep, peer, &prefix), WGC_OK);
}

static const uint8_t v6_prefix[14] = { 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };

static void v6_addr(uint8_t out[16], uint8_t last)
{
	memcpy(out, v6_prefix, sizeof(v6_prefix));
	out[14] = 0;
	out[15] = last;
}

/* Remote r is 10.0.0.(2 + r) and fd00::(2 + r) inside, 192.0.2.(2 + r):51820 outside. */
static void setup_remote(int r)
{
	struct remote *rm = &remotes[r];
	uint8_t pub[WGC_KEY_LEN];
	uint8_t ip4[4] = { 10, 0, 0, (uint8_t)(2 + r) };
	uint8_t ip6[16];

	memset(rm, 0, sizeof(*rm));
	rm->ep = make_endpoint(&rm->mem);
	rm->addr = (struct wgc_addr){ .family = WGC_AF_INET, .port = 51820,
				      .ip = { 192, 0, 2, (uint8_t)(2 + r) } };
	v6_addr(ip6, (uint8_t)(2 + r));
	/* the remote knows the lwIP side as 10.0.0.1 / fd00::1 */
	wgc_endpoint_get_public_key(local_ep, pub);
	assert_int_equal(wgc_peer_add(rm->ep, pub, fake_now, &rm->peer), WGC_OK);
	assert_int_equal(wgc_peer_set_endpoint(rm->peer, &local_addr), WGC_OK);
	add_route(rm->ep, rm->peer, WGC_AF_INET, (const uint8_t[]){ 10, 0, 0, 1 }, 32);
	/* the lwIP side knows the remote by its own addresses */
	wgc_endpoint_get_public_key(rm->ep, pub);
	assert_int_equal(wgc_peer_add(local_ep, pub, fake_now, &rm->local_peer), WGC_OK);
	assert_int_equal(wgc_peer_set_endpoint(rm->local_peer, &rm->addr), WGC_OK);
	add_route(local_ep, rm->local_peer, WGC_AF_INET, ip4, 32);
	add_route(local_ep, rm->local_peer, WGC_AF_INET6, ip6, 128);
	wgcif_peer_attach(&rm->slot, rm->local_peer);
	{
		uint8_t mine[16];

		v6_addr(mine, 1);
		add_route(rm->ep, rm->peer, WGC_AF_INET6, mine, 128);
	}
}

static void remote_actions(struct remote *rm, struct wgc_actions *out)
{
	for (size_t i = 0; i < out->count; i++) {
		struct wgc_action *a = &out->list[i];

		if (a->kind == WGC_ACTION_SEND) {
			enqueue(&rm->addr, &a->addr, a->data, a->len);
		} else if (a->kind == WGC_ACTION_DELIVER) {
			rm->delivered_count++;
			rm->delivered_len = a->len;
			memcpy(rm->delivered, a->data, a->len);
		}
	}
}

#define ACTIONS(name)                                                                   \
	struct wgc_action name##_list[8];                                               \
	uint8_t name##_scratch[8 * WGC_MAX_CONTROL_MESSAGE_LEN];                        \
	struct wgc_actions name = { name##_list, 8, 0, name##_scratch,                  \
				    sizeof(name##_scratch), 0 }

/* Delivers queued datagrams until the network is quiet. */
static void pump(void)
{
	while (queue_count > 0) {
		struct datagram d = queue[0];

		memmove(queue, queue + 1, sizeof(queue[0]) * (size_t)--queue_count);
		if (memcmp(d.to.ip, local_addr.ip, 4) == 0) {
			struct pbuf *p = pbuf_alloc(PBUF_RAW, (u16_t)d.len, PBUF_RAM);

			assert_non_null(p);
			memcpy(p->payload, d.data, d.len);
			wgcif_input(&wi, p, &d.from);
			continue;
		}
		for (int r = 0; r < REMOTES; r++) {
			ACTIONS(out);

			if (memcmp(d.to.ip, remotes[r].addr.ip, 4) != 0)
				continue;
			(void)wgc_receive(remotes[r].ep, fake_now, d.data, d.len, &d.from, &out);
			remote_actions(&remotes[r], &out);
		}
	}
}

static int setup(void **state)
{
	static bool lwip_ready;
	ip4_addr_t a4;
	ip6_addr_t a6;

	(void)state;
	if (!lwip_ready) {
		lwip_init();
		lwip_ready = true;
	}
	queue_count = 0;
	local_ep = make_endpoint(&local_mem);
	assert_int_equal(wgcif_add(&wi, local_ep, &ops, NULL, 1420), ERR_OK);
	for (int r = 0; r < REMOTES; r++)
		setup_remote(r);
	IP4_ADDR(&a4, 10, 0, 0, 1);
	wgcif_set_ip4(&wi, &a4, 24);
	IP6_ADDR(&a6, PP_HTONL(0xfd000000), 0, 0, PP_HTONL(1));
	assert_int_equal(wgcif_add_ip6(&wi, &a6), ERR_OK);
	wgcif_up(&wi, true);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	wgcif_remove(&wi);
	for (int r = 0; r < REMOTES; r++) {
		wgc_endpoint_clear(remotes[r].ep);
		free(remotes[r].mem);
	}
	wgc_endpoint_clear(local_ep);
	free(local_mem);
	return 0;
}

/* Sends a UDP datagram from lwIP to dst:port carrying text. */
static void lwip_udp_send(const ip_addr_t *dst, uint16_t port, const char *text)
{
	struct udp_pcb *pcb = udp_new_ip_type(IP_GET_TYPE(dst));
	struct pbuf *p = pbuf_alloc(PBUF_TRANSPORT, (u16_t)strlen(text), PBUF_RAM);

	assert_non_null(pcb);
	assert_non_null(p);
	memcpy(p->payload, text, strlen(text));
	assert_int_equal(udp_sendto(pcb, p, dst, port), ERR_OK);
	pbuf_free(p);
	udp_remove(pcb);
}

static uint16_t checksum(const uint8_t *data, size_t len)
{
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(data[i] << 8 | data[i + 1]);
	if (len & 1)
		sum += (uint32_t)data[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* Remote r sends an ICMP echo request from 10.0.0.src_octet to 10.0.0.1. */
static void remote_ping(int r, uint8_t src_octet)
{
	uint8_t buf[256] = { 0 };
	uint8_t *ip = buf + WGC_DATA_HEADROOM;
	uint16_t sum;
	ACTIONS(out);

	ip[0] = 0x45;
	ip[3] = 20 + 8 + 4;
	ip[8] = 64;
	ip[9] = 1;
	memcpy(ip + 12, (uint8_t[]){ 10, 0, 0, src_octet }, 4);
	memcpy(ip + 16, (uint8_t[]){ 10, 0, 0, 1 }, 4);
	sum = checksum(ip, 20);
	ip[10] = (uint8_t)(sum >> 8);
	ip[11] = (uint8_t)sum;
	ip[20] = 8; /* echo request */
	ip[24] = 0x12;
	ip[25] = 0x34;
	memcpy(ip + 28, "ping", 4);
	sum = checksum(ip + 20, 12);
	ip[22] = (uint8_t)(sum >> 8);
	ip[23] = (uint8_t)sum;
	assert_int_equal(wgc_send(remotes[r].ep, fake_now, NULL, buf, sizeof(buf), 32, &out),
			 WGC_VERDICT_DONE);
	remote_actions(&remotes[r], &out);
}

static void test_stage_then_flush(void **state)
{
	ip_addr_t dst;

	(void)state;
	IP_ADDR4(&dst, 10, 0, 0, 2);
	lwip_udp_send(&dst, 9, "first");
	lwip_udp_send(&dst, 9, "second");
	assert_int_equal(wi.stats.staged, 2);
	assert_int_equal(queue_count, 1); /* the handshake initiation */
	pump();
	assert_int_equal(wi.stats.tx_packets, 2);
	assert_int_equal(remotes[0].delivered_count, 2);
	/* the last one: IPv4/UDP from 10.0.0.1 to 10.0.0.2:9 carrying "second" */
	assert_int_equal(remotes[0].delivered[0], 0x45);
	assert_int_equal(remotes[0].delivered[9], 17);
	assert_memory_equal(remotes[0].delivered + 12, ((uint8_t[]){ 10, 0, 0, 1 }), 4);
	assert_memory_equal(remotes[0].delivered + 16, ((uint8_t[]){ 10, 0, 0, 2 }), 4);
	assert_int_equal(remotes[0].delivered_len, 28 + 6);
	assert_memory_equal(remotes[0].delivered + 28, "second", 6);
	assert_int_equal(remotes[1].delivered_count, 0);
}

static void test_ping_through_tunnel(void **state)
{
	ip_addr_t dst;

	(void)state;
	IP_ADDR4(&dst, 10, 0, 0, 2);
	lwip_udp_send(&dst, 9, "hello"); /* brings the session up */
	pump();
	remotes[0].delivered_count = 0;
	remote_ping(0, 2);
	pump();
	assert_int_equal(wi.stats.rx_packets, 1);
	assert_int_equal(remotes[0].delivered_count, 1);
	assert_int_equal(remotes[0].delivered[9], 1);
	assert_int_equal(remotes[0].delivered[20], 0); /* echo reply */
	assert_memory_equal(remotes[0].delivered + 28, "ping", 4);
}

static void test_routes_to_each_peer(void **state)
{
	ip_addr_t dst;

	(void)state;
	IP_ADDR4(&dst, 10, 0, 0, 3);
	lwip_udp_send(&dst, 9, "to-b");
	pump();
	assert_int_equal(remotes[1].delivered_count, 1);
	assert_int_equal(remotes[0].delivered_count, 0);
	IP_ADDR6(&dst, PP_HTONL(0xfd000000), 0, 0, PP_HTONL(3));
	lwip_udp_send(&dst, 9, "to-b-v6");
	pump();
	assert_int_equal(remotes[1].delivered_count, 2);
	assert_int_equal(remotes[1].delivered[0] >> 4, 6);
	assert_int_equal(remotes[1].delivered[6], 17);
	assert_memory_equal(remotes[1].delivered + 48, "to-b-v6", 7);
	IP_ADDR6(&dst, PP_HTONL(0xfd000000), 0, 0, PP_HTONL(2));
	lwip_udp_send(&dst, 9, "to-a-v6");
	pump();
	assert_int_equal(remotes[0].delivered_count, 1);
	assert_int_equal(remotes[1].delivered_count, 2);
}

static void test_drops(void **state)
{
	ip_addr_t dst;
	uint64_t drops[WGC_DROP__COUNT];
	char big[1500];

	(void)state;
	IP_ADDR4(&dst, 10, 0, 0, 99);
	lwip_udp_send(&dst, 9, "nobody");
	assert_int_equal(wi.stats.tx_dropped, 1);
	assert_int_equal(queue_count, 0);
	/* a session with remote 0, then remote 0 claims remote 1's address as its source */
	IP_ADDR4(&dst, 10, 0, 0, 2);
	lwip_udp_send(&dst, 9, "up");
	pump();
	remote_ping(0, 3);
	pump();
	(void)wgc_endpoint_get_drops(local_ep, drops, WGC_DROP__COUNT);
	assert_int_equal(drops[WGC_DROP_SOURCE_NOT_ALLOWED], 1);
	assert_int_equal(wi.stats.rx_dropped, 1);
	assert_int_equal(wi.stats.rx_packets, 0);
	/* over the MTU (lwIP fragments IPv4 to the MTU, so nothing is too big on the wire) */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	lwip_udp_send(&dst, 9, big);
	pump();
	assert_int_equal(wi.stats.tx_too_big, 0);
	assert_int_equal(remotes[0].delivered_count, 1 + 2);
}

static void test_purge_after_giving_up(void **state)
{
	ip_addr_t dst;

	(void)state;
	IP_ADDR4(&dst, 10, 0, 0, 2);
	lwip_udp_send(&dst, 9, "lost");
	assert_int_equal(remotes[0].slot.staged_count, 1);
	queue_count = 0; /* the initiation is lost, and every retry after it */
	for (int i = 0; i < 200 && remotes[0].slot.staged_count > 0; i++) {
		fake_now += 1000000000u;
		(void)wgcif_tick(&wi);
		queue_count = 0;
	}
	assert_int_equal(remotes[0].slot.staged_count, 0);
	assert_int_equal(wi.stats.stage_dropped, 1);
}

static void test_stage_is_bounded(void **state)
{
	ip_addr_t dst;

	(void)state;
	IP_ADDR4(&dst, 10, 0, 0, 3);
	for (int i = 0; i < WGCIF_STAGE_MAX + 5; i++)
		lwip_udp_send(&dst, 9, "many");
	assert_int_equal(remotes[1].slot.staged_count, WGCIF_STAGE_MAX);
	assert_int_equal(wi.stats.stage_dropped, 5);
	pump();
	assert_int_equal(remotes[1].delivered_count, WGCIF_STAGE_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_stage_then_flush, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ping_through_tunnel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_routes_to_each_peer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_purge_after_giving_up, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stage_is_bounded, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
