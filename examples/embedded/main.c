/* SPDX-License-Identifier: MIT */
/*
 * libwgc on a Cortex-M4 with no heap and no OS: two endpoints, alice and bob, in one firmware
 * image with static memory, joined by an in-memory network, run under qemu-system-arm (MPS2
 * AN386) by `make embedded`. In order:
 *
 *   1. a handshake (instruction counts of each step, stack high-water mark of the whole of it),
 *   2. 1,000 data packets each way, one of them delivered 400 packets late (inside the window),
 *   3. replays refused: a packet already seen, and the first packet, now behind the window,
 *   4. a rekey driven by the clock (REKEY_AFTER_TIME passes while the device sleeps),
 *   5. a cookie round trip while bob reports load (cookie reply, then an initiation with mac2),
 *   6. more data on the new session, the counters, and the memory figures,
 *
 * and exits through semihosting with status 0 only if every check passed (qemu passes the status
 * on, so make and CI read it). This file includes only wgc.h from the library; board.c is the
 * board's clock and stack glue.
 */
#include "wgc.h"

#include "board.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
	MTU = WGC_DEFAULT_MTU,
	BUF_SIZE = WGC_DATA_HEADROOM + MTU + WGC_DATA_TAILROOM,
	MAX_DATAGRAMS = 8,
	MAX_ACTIONS = 8,
	SCRATCH = 2 * WGC_ACTION_SCRATCH_MIN,
	MAX_STAGED = 4,
	PACKETS = 1000,
	LATE_PACKET = 500,    /* this data message to bob is held back ... */
	LATE_RELEASE = 900,   /* ... until this one has been delivered */
	ARENA_SIZE = 8 * 1024, /* per endpoint; checked against wgc_endpoint_size at start */
	MSG_INITIATION = 1,
	MSG_RESPONSE = 2,
	MSG_COOKIE = 3,
	MSG_DATA = 4,
	IP_HEADER = 20,
	UDP_HEADER = 8,
	SEQ_OFF = IP_HEADER + UDP_HEADER,
};

#define NSEC_PER_SEC 1000000000ull
#define REKEY_AFTER_TIME_NS (120 * NSEC_PER_SEC) /* whitepaper 6.1 */
#define REKEY_TIMEOUT_NS (5 * NSEC_PER_SEC)
#define WALL_EPOCH_NS 1764547200000000000ull /* 2025-12-01: no RTC on this board */

/* The memory configuration of this device: one peer each, small rate-limiter table. */
static const struct wgc_limits limits = {
	.max_peers = 1,
	.max_allowed_ips = 1,
	.max_ratelimit_entries = 8,
};

struct node {
	const char *name;
	struct wgc_endpoint *ep;
	struct wgc_peer *peer;
	struct wgc_addr addr;
	uint8_t octet; /* tunnel address 10.0.0.octet */
	uint8_t staged[MAX_STAGED][BUF_SIZE];
	size_t staged_len[MAX_STAGED];
	int staged_count;
	uint8_t seen[PACKETS]; /* data sequence numbers delivered to this node */
	uint32_t delivered;
	uint32_t duplicates;
};

struct datagram {
	int to;
	struct wgc_addr from;
	size_t len;
	uint8_t data[BUF_SIZE];
};

static uint8_t arena[2][ARENA_SIZE] __attribute__((aligned(64)));
static struct node nodes[2];
static struct datagram net[MAX_DATAGRAMS];
static int net_count;
static uint32_t messages[5];        /* by type, as carried by the network */
static struct datagram first_data_to_bob, last_data_to_bob, held;
static bool has_first, has_held;
static uint32_t data_to_bob;
static uint8_t packet[BUF_SIZE];
static int failures;

#define CHECK(cond, what)                                                              \
	do {                                                                           \
		if (!(cond)) {                                                         \
			printf("FAIL: %s (line %d)\n", (what), __LINE__);              \
			failures++;                                                    \
		}                                                                      \
	} while (0)

/* ---- the two callbacks libwgc needs ---- */

/*
 * Random bytes. A real device reads its TRNG here (and returns false if it fails); this test
 * image uses a fixed-seed generator (splitmix64) so that every run is the same.
 */
static bool random_cb(void *ctx, void *buf, size_t len)
{
	static uint64_t state = 0x0123456789abcdefull;
	uint8_t *out = buf;
	size_t i, take;
	uint64_t z;

	(void)ctx;
	for (i = 0; i < len; i += take) {
		z = (state += 0x9e3779b97f4a7c15ull);
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
		z ^= z >> 31;
		take = len - i < 8 ? len - i : 8;
		memcpy(out + i, &z, take);
	}
	return true;
}

/* Wall clock for TAI64N timestamps: a fixed epoch plus the monotonic clock. */
static uint64_t wall_cb(void *ctx)
{
	(void)ctx;
	return WALL_EPOCH_NS + board_now_ns();
}

/* ---- the network and the actions ---- */

static void run_actions(struct node *n, struct wgc_actions *out);

static void actions_init(struct wgc_actions *out, struct wgc_action *list, uint8_t *scratch)
{
	memset(out, 0, sizeof(*out));
	out->list = list;
	out->cap = MAX_ACTIONS;
	out->scratch = scratch;
	out->scratch_size = SCRATCH;
}

static void net_push(const struct node *from, const struct wgc_action *a)
{
	struct datagram *d;

	if (net_count == MAX_DATAGRAMS || a->len > BUF_SIZE) {
		printf("FAIL: network queue full\n");
		failures++;
		return;
	}
	d = &net[net_count++];
	d->to = from == &nodes[0] ? 1 : 0;
	d->from = from->addr;
	d->len = a->len;
	memcpy(d->data, a->data, a->len);
	if (d->data[0] < 5)
		messages[d->data[0]]++;
}

/* The packet alice or bob sends: IPv4/UDP 10.0.0.src -> 10.0.0.dst, a sequence number, filler. */
static size_t make_packet(uint8_t *buf, uint8_t src, uint8_t dst, uint32_t seq, size_t len)
{
	uint8_t *p = buf + WGC_DATA_HEADROOM;

	memset(p, 0, len);
	p[0] = 0x45;
	p[2] = (uint8_t)(len >> 8);
	p[3] = (uint8_t)len;
	p[8] = 64;
	p[9] = 17;
	p[12] = 10;
	p[15] = src;
	p[16] = 10;
	p[19] = dst;
	memcpy(p + SEQ_OFF, &seq, sizeof(seq));
	for (size_t i = SEQ_OFF + sizeof(seq); i < len; i++)
		p[i] = (uint8_t)(seq + i);
	return len;
}

static enum wgc_verdict send_buf(struct node *n, uint8_t *buf, size_t len)
{
	struct wgc_action list[MAX_ACTIONS];
	uint8_t scratch[SCRATCH];
	struct wgc_actions out;
	enum wgc_verdict v;

	actions_init(&out, list, scratch);
	v = wgc_send(n->ep, board_now_ns(), NULL, buf, BUF_SIZE, len, &out);
	if (v == WGC_VERDICT_STAGE && n->staged_count < MAX_STAGED) {
		memcpy(n->staged[n->staged_count], buf, BUF_SIZE);
		n->staged_len[n->staged_count++] = len;
	}
	run_actions(n, &out);
	return v;
}

static enum wgc_verdict send_seq(struct node *n, uint32_t seq, size_t len)
{
	const struct node *other = n == &nodes[0] ? &nodes[1] : &nodes[0];

	return send_buf(n, packet, make_packet(packet, n->octet, other->octet, seq, len));
}

static void on_deliver(struct node *n, const struct wgc_action *a)
{
	uint32_t seq;

	if (a->len < SEQ_OFF + sizeof(seq)) {
		printf("FAIL: %s got a short packet\n", n->name);
		failures++;
		return;
	}
	memcpy(&seq, a->data + SEQ_OFF, sizeof(seq));
	if (seq >= PACKETS)
		return; /* packets of the later phases */
	if (n->seen[seq])
		n->duplicates++;
	n->seen[seq] = 1;
	n->delivered++;
}

static void run_actions(struct node *n, struct wgc_actions *out)
{
	for (size_t i = 0; i < out->count; i++) {
		const struct wgc_action *a = &out->list[i];

		switch (a->kind) {
		case WGC_ACTION_SEND:
			net_push(n, a);
			break;
		case WGC_ACTION_DELIVER:
			on_deliver(n, a);
			break;
		case WGC_ACTION_FLUSH:
			for (int s = 0; s < n->staged_count; s++)
				(void)send_buf(n, n->staged[s], n->staged_len[s]);
			n->staged_count = 0;
			break;
		case WGC_ACTION_PURGE:
			n->staged_count = 0;
			break;
		}
	}
}

static enum wgc_verdict receive(struct node *n, struct datagram *d)
{
	struct wgc_action list[MAX_ACTIONS];
	uint8_t scratch[SCRATCH];
	struct wgc_actions out;
	enum wgc_verdict v;

	actions_init(&out, list, scratch);
	v = wgc_receive(n->ep, board_now_ns(), d->data, d->len, &d->from, &out);
	run_actions(n, &out);
	return v;
}

/* Delivers the oldest datagram; data messages to bob are recorded for the replay tests, and one
 * is held back to arrive late. */
static void deliver_one(void)
{
	struct datagram d = net[0];

	memmove(net, net + 1, sizeof(net[0]) * (size_t)--net_count);
	if (d.to == 1 && d.data[0] == MSG_DATA && d.len > WGC_KEEPALIVE_MESSAGE_LEN) {
		if (!has_first) {
			first_data_to_bob = d;
			has_first = true;
		}
		last_data_to_bob = d;
		if (data_to_bob++ == LATE_PACKET) {
			held = d;
			has_held = true;
			return;
		}
	}
	(void)receive(&nodes[d.to], &d);
	if (has_held && data_to_bob == LATE_RELEASE + 1) {
		CHECK(receive(&nodes[1], &held) != WGC_VERDICT_DROP,
		      "a packet 400 behind is inside the window");
		has_held = false;
	}
}

static void pump(void)
{
	while (net_count > 0)
		deliver_one();
}

static void tick_both(void)
{
	for (int i = 0; i < 2; i++) {
		struct wgc_action list[MAX_ACTIONS];
		uint8_t scratch[SCRATCH];
		struct wgc_actions out;

		actions_init(&out, list, scratch);
		(void)wgc_endpoint_tick(nodes[i].ep, board_now_ns(), &out);
		run_actions(&nodes[i], &out);
	}
	pump();
}

static uint64_t drops(const struct node *n, enum wgc_drop_reason reason)
{
	uint64_t counts[WGC_DROP__COUNT];

	(void)wgc_endpoint_get_drops(n->ep, counts, WGC_DROP__COUNT);
	return counts[reason];
}

static uint64_t last_handshake(const struct node *n)
{
	struct wgc_peer_stats st;

	wgc_peer_get_stats(n->peer, &st);
	return st.has_handshake ? st.last_handshake_ns : 0;
}

/* ---- setup ---- */

static void node_init(struct node *n, int i, const char *name)
{
	struct wgc_config cfg = {
		.limits = limits,
		.random = random_cb,
		.wall_clock = wall_cb,
	};
	uint8_t key[WGC_KEY_LEN];
	size_t size = wgc_endpoint_size(&limits);

	n->name = name;
	n->octet = (uint8_t)(i + 1);
	n->addr = (struct wgc_addr){ .family = WGC_AF_INET, .port = 51820,
				     .ip = { 192, 0, 2, (uint8_t)(i + 1) } };
	if (size > ARENA_SIZE) {
		printf("FAIL: endpoint needs %zu bytes, arena has %d\n", size, ARENA_SIZE);
		exit(1);
	}
	if (wgc_endpoint_init(arena[i], size, &cfg, board_now_ns(), &n->ep) != WGC_OK ||
	    !random_cb(NULL, key, sizeof(key)) ||
	    wgc_endpoint_set_private_key(n->ep, key, board_now_ns()) != WGC_OK) {
		printf("FAIL: %s: endpoint setup\n", name);
		exit(1);
	}
	memset(key, 0, sizeof(key));
}

static void node_add_peer(struct node *n, const struct node *other)
{
	uint8_t pub[WGC_KEY_LEN];
	struct wgc_prefix prefix = { .family = WGC_AF_INET, .cidr = 32,
				     .ip = { 10, 0, 0, other->octet } };

	if (!wgc_endpoint_get_public_key(other->ep, pub) ||
	    wgc_peer_add(n->ep, pub, board_now_ns(), &n->peer) != WGC_OK ||
	    wgc_peer_set_endpoint(n->peer, &other->addr) != WGC_OK ||
	    wgc_allowedip_insert(n->ep, n->peer, &prefix) != WGC_OK) {
		printf("FAIL: %s: peer setup\n", n->name);
		exit(1);
	}
}

/* ---- the phases ---- */

struct figures {
	uint64_t initiation, response, confirm; /* instructions per handshake step */
	size_t handshake_stack;
	uint64_t seal_1420, open_1420;
};

static void phase_handshake(struct figures *f)
{
	struct node *alice = &nodes[0], *bob = &nodes[1];
	uint64_t t;

	board_stack_paint();
	t = board_now_ns();
	CHECK(send_seq(alice, 0, 100) == WGC_VERDICT_STAGE, "first packet waits for a session");
	f->initiation = board_now_ns() - t;
	CHECK(net_count == 1 && net[0].data[0] == MSG_INITIATION, "alice sent an initiation");
	t = board_now_ns();
	deliver_one();
	f->response = board_now_ns() - t;
	CHECK(net_count == 1 && net[0].data[0] == MSG_RESPONSE, "bob answered with a response");
	t = board_now_ns();
	{
		/* only the core's work: deliver the response without the staged packet's send */
		struct datagram d = net[0];

		memmove(net, net + 1, sizeof(net[0]) * (size_t)--net_count);
		(void)receive(alice, &d);
	}
	f->confirm = board_now_ns() - t;
	f->handshake_stack = board_stack_used_bytes();
	pump();
	CHECK(last_handshake(alice) != 0 && last_handshake(bob) != 0, "handshake complete");
	CHECK(bob->seen[0], "the staged packet arrived");
}

static void phase_data(struct figures *f)
{
	struct node *alice = &nodes[0], *bob = &nodes[1];
	uint32_t seq;
	uint64_t t, seal = 0, open = 0;
	int measured = 0;

	for (seq = 1; seq < PACKETS; seq++) {
		size_t len = SEQ_OFF + 4 + (seq * 37u) % (MTU - SEQ_OFF - 4 + 1);

		if (seq % 100 == 50) {
			/* a full-size packet, timed: seal (alice) and open (bob) */
			struct wgc_send_job job;
			struct wgc_action list[MAX_ACTIONS];
			uint8_t scratch[SCRATCH];
			struct wgc_actions out;
			struct datagram d;

			actions_init(&out, list, scratch);
			len = make_packet(packet, 1, 2, seq, MTU);
			t = board_now_ns();
			if (wgc_send_prepare(alice->ep, t, NULL, packet, BUF_SIZE, len, &job, &out) ==
			    WGC_VERDICT_CRYPTO)
				wgc_send_seal(&job);
			seal += board_now_ns() - t;
			d.to = 1;
			d.from = alice->addr;
			d.len = job.message_len;
			memcpy(d.data, packet, job.message_len);
			data_to_bob++;
			t = board_now_ns();
			CHECK(receive(bob, &d) == WGC_VERDICT_DONE, "a full-size packet opens");
			open += board_now_ns() - t;
			measured++;
		} else {
			CHECK(send_seq(alice, seq, len) == WGC_VERDICT_DONE, "alice sends");
		}
		CHECK(send_seq(bob, seq, len) == WGC_VERDICT_DONE, "bob sends");
		pump();
	}
	/* bob's seq 0 was never sent (alice's was the staged one): send it now */
	CHECK(send_seq(bob, 0, 100) == WGC_VERDICT_DONE, "bob sends");
	pump();
	f->seal_1420 = seal / (uint64_t)measured;
	f->open_1420 = open / (uint64_t)measured;
	CHECK(alice->delivered == PACKETS && alice->duplicates == 0, "1,000 packets bob -> alice");
	CHECK(bob->delivered == PACKETS && bob->duplicates == 0, "1,000 packets alice -> bob");
	CHECK(!has_held, "the late packet was delivered");
}

static void phase_replay(void)
{
	struct node *bob = &nodes[1];
	uint64_t before = drops(bob, WGC_DROP_REPLAYED);
	uint32_t delivered = bob->delivered;
	struct datagram d;

	d = last_data_to_bob;
	CHECK(receive(bob, &d) == WGC_VERDICT_DROP, "a replayed packet is refused");
	d = first_data_to_bob;
	CHECK(receive(bob, &d) == WGC_VERDICT_DROP, "a packet behind the window is refused");
	CHECK(drops(bob, WGC_DROP_REPLAYED) == before + 2, "both counted as replayed");
	CHECK(bob->delivered == delivered, "nothing delivered twice");
}

static bool rekeyed_since(uint64_t before)
{
	return last_handshake(&nodes[0]) > before && last_handshake(&nodes[1]) > before;
}

/*
 * The device's main loop for a while: tick both endpoints, deliver what they send, sleep half a
 * second; until both have completed a handshake newer than `before` or 30 s have passed. When
 * both sides' timers fire at once their initiations cross and both fail (as in every WireGuard);
 * the retransmission after REKEY_TIMEOUT, with its random jitter, settles it.
 */
static bool run_until_rekeyed(uint64_t before, bool bob_under_load)
{
	for (int step = 0; step < 60; step++) {
		if (bob_under_load)
			wgc_endpoint_report_load(nodes[1].ep, board_now_ns());
		tick_both();
		if (rekeyed_since(before))
			return true;
		board_sleep_ns(NSEC_PER_SEC / 2);
	}
	return false;
}

static void phase_rekey(void)
{
	struct node *alice = &nodes[0], *bob = &nodes[1];
	uint64_t before = last_handshake(alice) > last_handshake(bob) ? last_handshake(alice)
								      : last_handshake(bob);
	uint32_t initiations = messages[MSG_INITIATION];

	/* REKEY_AFTER_TIME passes while the device sleeps: the timers and the send path start a
	 * new handshake by themselves. */
	board_sleep_ns(REKEY_AFTER_TIME_NS + NSEC_PER_SEC);
	CHECK(send_seq(alice, PACKETS + 1, 200) == WGC_VERDICT_DONE, "send on the old session");
	pump();
	CHECK(run_until_rekeyed(before, false), "rekeyed by the clock");
	CHECK(messages[MSG_INITIATION] > initiations, "new initiations");
	CHECK(send_seq(alice, PACKETS + 2, 300) == WGC_VERDICT_DONE, "alice sends on the new session");
	CHECK(send_seq(bob, PACKETS + 2, 300) == WGC_VERDICT_DONE, "bob sends on the new session");
	pump();
}

static void phase_cookie(void)
{
	struct node *alice = &nodes[0], *bob = &nodes[1];
	uint64_t before = last_handshake(alice) > last_handshake(bob) ? last_handshake(alice)
								      : last_handshake(bob);
	uint32_t cookies = messages[MSG_COOKIE];
	uint64_t cookie_drops = drops(bob, WGC_DROP_COOKIE_SENT);

	/* Bob is under load from here on: handshake messages without a valid mac2 get a cookie
	 * reply; alice must come back with the cookie's mac2 to get a session. */
	board_sleep_ns(REKEY_AFTER_TIME_NS + NSEC_PER_SEC);
	wgc_endpoint_report_load(bob->ep, board_now_ns());
	CHECK(send_seq(alice, PACKETS + 3, 200) == WGC_VERDICT_DONE, "send starts a rekey");
	pump();
	CHECK(messages[MSG_COOKIE] > cookies, "bob sent a cookie reply");
	CHECK(drops(bob, WGC_DROP_COOKIE_SENT) > cookie_drops, "counted as cookie sent");
	CHECK(!rekeyed_since(before), "no handshake without the cookie");
	CHECK(run_until_rekeyed(before, true), "handshake with mac2 accepted under load");
	CHECK(send_seq(alice, PACKETS + 4, 400) == WGC_VERDICT_DONE, "alice sends after the cookie");
	CHECK(send_seq(bob, PACKETS + 4, 400) == WGC_VERDICT_DONE, "bob sends after the cookie");
	pump();
}

/* ---- the report ---- */

static size_t size_with(uint32_t peers, uint32_t keypairs)
{
	struct wgc_limits l = limits;

	l.max_peers = peers;
	l.max_allowed_ips = peers;
	l.max_keypairs = keypairs;
	return wgc_endpoint_size(&l);
}

static void print_node(const struct node *n)
{
	struct wgc_peer_stats st;
	uint64_t counts[WGC_DROP__COUNT];

	wgc_peer_get_stats(n->peer, &st);
	(void)wgc_endpoint_get_drops(n->ep, counts, WGC_DROP__COUNT);
	printf("  %s: tx %llu B, rx %llu B, delivered %lu of the 1,000, session %s\n", n->name,
	       (unsigned long long)st.tx_bytes, (unsigned long long)st.rx_bytes,
	       (unsigned long)n->delivered, st.has_session ? "up" : "down");
	for (int r = 1; r < WGC_DROP__COUNT; r++)
		if (counts[r])
			printf("  %s: dropped %llu (%s)\n", n->name, (unsigned long long)counts[r],
			       wgc_drop_reason_str((enum wgc_drop_reason)r));
}

static void print_report(const struct figures *f)
{
	size_t idle = size_with(11, 30) - size_with(10, 30);
	size_t keypair = size_with(10, 31) - size_with(10, 30);
	uint32_t fit = 1;

	while (size_with(fit + 1, 2 * (fit + 1)) <= 48 * 1024)
		fit++;
	printf("\ncounters:\n");
	print_node(&nodes[0]);
	print_node(&nodes[1]);
	printf("  network: %lu initiations, %lu responses, %lu cookie replies, %lu data\n",
	       (unsigned long)messages[MSG_INITIATION], (unsigned long)messages[MSG_RESPONSE],
	       (unsigned long)messages[MSG_COOKIE], (unsigned long)messages[MSG_DATA]);

	printf("\nfigures (instructions: qemu -icount shift=0, one per virtual ns, read through "
	       "SysTick, +-40; not cycles):\n");
	printf("  handshake, initiator creates initiation  %8llu instructions\n",
	       (unsigned long long)f->initiation);
	printf("  handshake, responder consumes + responds %8llu instructions\n",
	       (unsigned long long)f->response);
	printf("  handshake, initiator consumes response   %8llu instructions\n",
	       (unsigned long long)f->confirm);
	printf("  handshake, all three steps               %8llu instructions\n",
	       (unsigned long long)(f->initiation + f->response + f->confirm));
	printf("  seal a 1420-byte packet (prepare + seal) %8llu instructions\n",
	       (unsigned long long)f->seal_1420);
	printf("  open a 1420-byte packet (wgc_receive)    %8llu instructions\n",
	       (unsigned long long)f->open_1420);
	printf("  stack high-water mark, full handshake    %8zu bytes (of %zu)\n", f->handshake_stack,
	       board_stack_size_bytes());
	printf("  endpoint memory, this configuration      %8zu bytes (1 peer, 3 keypairs, 8 "
	       "rate-limiter entries)\n",
	       wgc_endpoint_size(&limits));
	printf("  RAM per idle peer                        %8zu bytes (with one allowed IP)\n", idle);
	printf("  RAM per session (keypair)                %8zu bytes; a live peer holds 1-3, "
	       "2 after a rekey\n",
	       keypair);
	printf("  RAM per peer with a live session         %8zu bytes (idle peer + 2 keypairs)\n",
	       idle + 2 * keypair);
	printf("  peers with live sessions in 48 KiB       %8lu\n", (unsigned long)fit);
}

int main(void)
{
	struct figures f = { 0 };

	board_clock_init();
	node_init(&nodes[0], 0, "alice");
	node_init(&nodes[1], 1, "bob");
	node_add_peer(&nodes[0], &nodes[1]);
	node_add_peer(&nodes[1], &nodes[0]);
	printf("wgc embedded: two endpoints on a Cortex-M4, static memory, no heap\n");

	phase_handshake(&f);
	printf("  handshake: %s\n", failures ? "FAILED" : "ok");
	phase_data(&f);
	printf("  1,000 packets each way: %s\n", failures ? "FAILED" : "ok");
	phase_replay();
	printf("  replays refused: %s\n", failures ? "FAILED" : "ok");
	phase_rekey();
	printf("  rekey by the clock: %s\n", failures ? "FAILED" : "ok");
	phase_cookie();
	printf("  cookie round trip under load: %s\n", failures ? "FAILED" : "ok");

	print_report(&f);
	wgc_endpoint_clear(nodes[0].ep);
	wgc_endpoint_clear(nodes[1].ep);
	printf("\nembedded: %s (%d failed checks)\n", failures ? "FAILED" : "all checks passed",
	       failures);
	exit(failures ? 1 : 0);
}

