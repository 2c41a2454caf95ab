/* SPDX-License-Identifier: MIT */
/*
 * Embedding libwgc: two endpoints in one process, joined by an in-memory "network". This is the
 * shape every caller has: feed datagrams and packets in, carry out the actions that come back,
 * stage packets while a handshake runs, and call the tick when the deadline says so.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "wgc.h"

enum { MAX_QUEUE = 64, BUF_SIZE = 2048, MAX_ACTIONS = 16, SCRATCH = 1024 };

struct datagram {
	struct wgc_addr from;
	struct wgc_addr to;
	size_t len;
	uint8_t data[BUF_SIZE];
};

struct host {
	const char *name;
	struct wgc_endpoint *ep;
	void *mem;
	struct wgc_addr addr;
	struct wgc_peer *peer;
	/* packets staged while the handshake runs (plaintext at WGC_DATA_HEADROOM) */
	uint8_t staged[4][BUF_SIZE];
	size_t staged_len[4];
	int staged_count;
};

static struct datagram network[MAX_QUEUE];
static int network_count;
static struct datagram last_to_bob; /* kept to show that a replay is refused */

static bool random_cb(void *ctx, void *buf, size_t len)
{
	(void)ctx;
	return getrandom(buf, len, 0) == (ssize_t)len;
}

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t wall_cb(void *ctx)
{
	(void)ctx;
	return clock_ns(CLOCK_REALTIME);
}

static uint64_t now(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

static void print_key(const char *label, const uint8_t key[WGC_KEY_LEN])
{
	printf("  %s ", label);
	for (int i = 0; i < 8; i++)
		printf("%02x", key[i]);
	printf("...\n");
}

static void host_init(struct host *h, const char *name, uint8_t last_octet)
{
	struct wgc_config cfg = {
		.limits = { .max_peers = 4, .max_allowed_ips = 16 },
		.random = random_cb,
		.wall_clock = wall_cb,
	};
	uint8_t key[WGC_KEY_LEN];
	size_t size = wgc_endpoint_size(&cfg.limits);

	memset(h, 0, sizeof(*h));
	h->name = name;
	h->mem = aligned_alloc(64, (size + 63) & ~(size_t)63);
	memset(h->mem, 0, size);
	if (wgc_endpoint_init(h->mem, size, &cfg, now(), &h->ep) != WGC_OK)
		exit(1);
	random_cb(NULL, key, sizeof(key));
	if (wgc_endpoint_set_private_key(h->ep, key, now()) != WGC_OK)
		exit(1);
	h->addr = (struct wgc_addr){ .family = WGC_AF_INET, .port = 51820,
				     .ip = { 192, 0, 2, last_octet } };
}

static void host_add_peer(struct host *h, const struct host *other, uint8_t tunnel_octet)
{
	uint8_t pub[WGC_KEY_LEN];
	struct wgc_prefix prefix = { .family = WGC_AF_INET, .cidr = 32,
				     .ip = { 10, 0, 0, tunnel_octet } };

	wgc_endpoint_get_public_key(other->ep, pub);
	if (wgc_peer_add(h->ep, pub, now(), &h->peer) != WGC_OK ||
	    wgc_peer_set_endpoint(h->peer, &other->addr) != WGC_OK ||
	    wgc_allowedip_insert(h->ep, h->peer, &prefix) != WGC_OK)
		exit(1);
}

static const char *kind_name(enum wgc_action_kind kind)
{
	static const char *names[] = { "SEND", "DELIVER", "FLUSH", "PURGE" };
	return names[kind];
}

static void send_packet(struct host *h, uint8_t *buf, size_t len);

static void run_actions(struct host *h, struct wgc_actions *out)
{
	for (size_t i = 0; i < out->count; i++) {
		struct wgc_action *a = &out->list[i];
		struct datagram *d;

		printf("  %s: %s %zu bytes\n", h->name, kind_name(a->kind), a->len);
		switch (a->kind) {
		case WGC_ACTION_SEND:
			if (network_count == MAX_QUEUE)
				break;
			d = &network[network_count++];
			d->from = h->addr;
			d->to = a->addr;
			d->len = a->len;
			memcpy(d->data, a->data, a->len);
			break;
		case WGC_ACTION_DELIVER:
			printf("  %s: delivered an IPv%d packet from 10.0.0.%d: \"%.*s\"\n", h->name,
			       a->data[0] >> 4, a->data[15], (int)(a->len - 28), a->data + 28);
			break;
		case WGC_ACTION_FLUSH:
			for (int s = 0; s < h->staged_count; s++)
				send_packet(h, h->staged[s], h->staged_len[s]);
			h->staged_count = 0;
			break;
		case WGC_ACTION_PURGE:
			h->staged_count = 0;
			break;
		}
	}
}

static void send_packet(struct host *h, uint8_t *buf, size_t len)
{
	struct wgc_action list[MAX_ACTIONS];
	uint8_t scratch[SCRATCH];
	struct wgc_actions out = { list, MAX_ACTIONS, 0, scratch, sizeof(scratch), 0 };
	enum wgc_verdict v = wgc_send(h->ep, now(), NULL, buf, BUF_SIZE, len, &out);

	if (v == WGC_VERDICT_STAGE && h->staged_count < 4) {
		printf("  %s: no session yet, packet staged\n", h->name);
		memcpy(h->staged[h->staged_count], buf, BUF_SIZE);
		h->staged_len[h->staged_count++] = len;
	}
	run_actions(h, &out);
}

/* Delivers queued datagrams until the network is quiet. */
static void pump(struct host *a, struct host *b)
{
	while (network_count > 0) {
		struct datagram d = network[0];
		struct host *to = memcmp(d.to.ip, a->addr.ip, 4) == 0 ? a : b;
		struct wgc_action list[MAX_ACTIONS];
		uint8_t scratch[SCRATCH];
		struct wgc_actions out = { list, MAX_ACTIONS, 0, scratch, sizeof(scratch), 0 };

		memmove(network, network + 1, sizeof(network[0]) * (size_t)--network_count);
		if (to == b)
			last_to_bob = d;
		printf("  net: %zu bytes (type %u) to %s\n", d.len, d.data[0], to->name);
		if (wgc_receive(to->ep, now(), d.data, d.len, &d.from, &out) == WGC_VERDICT_DROP)
			printf("  %s: dropped\n", to->name);
		run_actions(to, &out);
	}
}

/* A minimal IPv4/UDP-ish packet 10.0.0.src -> 10.0.0.dst carrying text. */
static size_t make_packet(uint8_t *buf, uint8_t src, uint8_t dst, const char *text)
{
	uint8_t *p = buf + WGC_DATA_HEADROOM;
	size_t len = 28 + strlen(text);

	memset(p, 0, 28);
	p[0] = 0x45;
	p[2] = (uint8_t)(len >> 8);
	p[3] = (uint8_t)len;
	p[8] = 64;
	p[9] = 17;
	memcpy(p + 12, (uint8_t[]){ 10, 0, 0, src }, 4);
	memcpy(p + 16, (uint8_t[]){ 10, 0, 0, dst }, 4);
	memcpy(p + 28, text, strlen(text));
	return len;
}

static void print_counters(struct host *h)
{
	struct wgc_peer_stats st;
	uint64_t drops[WGC_DROP__COUNT];

	wgc_peer_get_stats(h->peer, &st);
	(void)wgc_endpoint_get_drops(h->ep, drops, WGC_DROP__COUNT);
	printf("  %s: tx %llu bytes, rx %llu bytes, handshake %s, session %s\n", h->name,
	       (unsigned long long)st.tx_bytes, (unsigned long long)st.rx_bytes,
	       st.has_handshake ? "done" : "none", st.has_session ? "up" : "down");
	for (int r = 1; r < WGC_DROP__COUNT; r++)
		if (drops[r])
			printf("  %s: dropped %llu (%s)\n", h->name, (unsigned long long)drops[r],
			       wgc_drop_reason_str((enum wgc_drop_reason)r));
}

int main(void)
{
	static struct host alice, bob;
	static uint8_t buf[BUF_SIZE];
	uint8_t pub[WGC_KEY_LEN];

	host_init(&alice, "alice", 1);
	host_init(&bob, "bob", 2);
	host_add_peer(&alice, &bob, 2);
	host_add_peer(&bob, &alice, 1);
	printf("two endpoints, in memory:\n");
	wgc_endpoint_get_public_key(alice.ep, pub);
	print_key("alice public key", pub);
	wgc_endpoint_get_public_key(bob.ep, pub);
	print_key("bob public key  ", pub);

	printf("\nalice sends to 10.0.0.2 (this starts the handshake):\n");
	send_packet(&alice, buf, make_packet(buf, 1, 2, "hello bob"));
	pump(&alice, &bob);

	printf("\nbob answers:\n");
	send_packet(&bob, buf, make_packet(buf, 2, 1, "hello alice"));
	pump(&alice, &bob);

	printf("\na packet to an address no peer owns:\n");
	send_packet(&alice, buf, make_packet(buf, 1, 9, "nobody"));

	printf("\nbob receives a replayed copy of the last datagram he got, and some junk:\n");
	{
		uint8_t junk[64] = { 4, 0, 0, 0 };
		struct wgc_actions out = { 0 };
		enum wgc_verdict v;

		v = wgc_receive(bob.ep, now(), last_to_bob.data, last_to_bob.len, &alice.addr, &out);
		printf("  replay: %s\n", v == WGC_VERDICT_DROP ? "dropped" : "accepted?!");
		wgc_receive(bob.ep, now(), junk, sizeof(junk), &alice.addr, &out);
		wgc_receive(bob.ep, now(), junk, 3, &alice.addr, &out);
	}

	printf("\ncounters:\n");
	print_counters(&alice);
	print_counters(&bob);
	printf("\nnext timer deadline for alice in %.1f s\n",
	       (double)(wgc_endpoint_next_deadline(alice.ep) - now()) / 1e9);
	wgc_endpoint_clear(alice.ep);
	wgc_endpoint_clear(bob.ep);
	free(alice.mem);
	free(bob.mem);
	return 0;
}
