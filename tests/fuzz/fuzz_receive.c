/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the receive path, through wgc.h only. An endpoint R (the target) has one
 * real peer I, simulated in-process with its own endpoint, and one configured peer that never
 * talks. The input is a program: fuzzed datagrams to R from a few source addresses, real traffic
 * between I and R (handshakes, data, keepalives, cookies), tampered copies and replays of I's real
 * messages, time steps with timer ticks, under-load reports and failing randomness.
 *
 * Invariants (any violation traps):
 *  - A datagram that does not come from I unmodified, or that is a tampered copy of one (changed
 *    anywhere but mac2 of a handshake message), is dropped with no action at all, exactly one drop
 *    counter goes up by one, and nothing else observable changes (peer stats and endpoints, the
 *    next deadline, the peer count). In particular no SEND, no DELIVER, no roaming.
 *  - A replay of a message R already accepted is dropped the same way, except that under load a
 *    handshake message may earn a cookie reply (a SEND of a 64-byte type-3 message).
 *  - Whatever the real peer puts inside its packets (spoofed or IPv6 sources, lying length
 *    fields, non-IP bytes), a DELIVER is an IPv4 packet from that peer's one allowed address,
 *    trimmed to its header's length.
 * Fuzzed bytes cannot authenticate: mac1 needs BLAKE2s over the message, data needs the session
 * key. Both endpoints are restored from a snapshot of their memory for every input, so a run
 * depends only on its input.
 */
#include "wgc.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/bytes.h"

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			__builtin_trap();                                                          \
	} while (0)

#define SEC WGC_NSEC_PER_SEC
#define MSEC (WGC_NSEC_PER_SEC / 1000)
#define EPOCH (UINT64_C(1000) * SEC)

enum {
	MAX_ACTIONS = 16,
	SCRATCH = 2048,
	DGRAM_MAX = 2048,
	QUEUE_MAX = 64,
	PUMP_STEPS = 64,
	BIG = 65535,
	MAX_INDEXES = 16,
	MAC_LEN = 16,
};

struct node {
	uint8_t *mem;
	uint8_t *pristine; /* mem right after setup */
	size_t size;
	struct wgc_endpoint *ep;
	struct wgc_peer *peer;      /* the other node */
	struct wgc_peer *idle_peer; /* R only: configured, never heard from */
	uint64_t rng;
	uint64_t rng_seed;
	bool rng_fails;
	struct wgc_addr addr;
	uint8_t staged[DGRAM_MAX];
	size_t staged_len;
	bool has_staged;
};

struct dgram {
	struct node *to;
	struct wgc_addr from;
	size_t len;
	uint8_t data[DGRAM_MAX];
};

static struct node R; /* the endpoint under test */
static struct node I; /* its real peer */
static uint64_t now;

static struct dgram queue[QUEUE_MAX];
static int queue_head;
static int queue_count;
static bool lose_next;

/* The last real message that went from I towards R, and what became of it. */
static uint8_t last[DGRAM_MAX];
static size_t last_len;
static bool has_last;
static bool last_was_received; /* not lost on the way */
static bool last_was_accepted; /* R returned DONE for it */

/* Indexes seen in real traffic, offered to the fuzzer as receiver indexes. */
static uint32_t indexes[MAX_INDEXES];
static int index_count;

static uint8_t rx[BIG + 64];
static uint8_t work[BIG + 64];

static const struct wgc_addr stranger4 = {
    .family = WGC_AF_INET, .port = 4444, .ip = {198, 51, 100, 7}};
static const struct wgc_addr stranger6 = {
    .family = WGC_AF_INET6,
    .port = 5555,
    .ip = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9},
};
static struct wgc_addr i_other_port;

/* ---- callbacks ---- */

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static bool fill_random(void *ctx, void *buf, size_t len)
{
	struct node *n = ctx;
	uint8_t *p = buf;

	if (n->rng_fails)
		return false;
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)splitmix(&n->rng);
	return true;
}

static uint64_t wall_clock(void *ctx)
{
	(void)ctx;
	return UINT64_C(1700000000) * SEC + now;
}

/* ---- setup, once; restored from the snapshot for every input ---- */

static void node_init(struct node *n, uint8_t key_byte, uint8_t last_octet, uint64_t seed)
{
	struct wgc_config cfg = {
	    .limits = {.max_peers = 4,
	               .max_keypairs = 12,
	               .max_allowed_ips = 8,
	               .max_ratelimit_entries = 64},
	    .random = fill_random,
	    .wall_clock = wall_clock,
	    .ctx = n,
	};
	uint8_t key[WGC_KEY_LEN];

	n->size = (wgc_endpoint_size(&cfg.limits) + 63) & ~(size_t)63;
	CHECK(n->size != 0);
	n->mem = aligned_alloc(64, n->size);
	n->pristine = malloc(n->size);
	CHECK(n->mem && n->pristine);
	memset(n->mem, 0, n->size);
	n->rng = n->rng_seed = seed;
	CHECK(wgc_endpoint_init(n->mem, n->size, &cfg, EPOCH, &n->ep) == WGC_OK);
	memset(key, key_byte, sizeof(key));
	CHECK(wgc_endpoint_set_private_key(n->ep, key, EPOCH) == WGC_OK);
	n->addr =
	    (struct wgc_addr){.family = WGC_AF_INET, .port = 51820, .ip = {192, 0, 2, last_octet}};
}

static void link_to(struct node *n, struct node *other, uint8_t other_octet)
{
	uint8_t key[WGC_KEY_LEN];
	struct wgc_prefix prefix = {
	    .family = WGC_AF_INET, .cidr = 32, .ip = {10, 0, 0, other_octet}};

	CHECK(wgc_endpoint_get_public_key(other->ep, key));
	CHECK(wgc_peer_add(n->ep, key, EPOCH, &n->peer) == WGC_OK);
	CHECK(wgc_peer_set_endpoint(n->peer, &other->addr) == WGC_OK);
	CHECK(wgc_allowedip_insert(n->ep, n->peer, &prefix) == WGC_OK);
}

static void setup_once(void)
{
	static bool ready;
	uint8_t key[WGC_KEY_LEN];
	struct wgc_addr idle_addr = {.family = WGC_AF_INET, .port = 1, .ip = {203, 0, 113, 9}};
	struct wgc_prefix idle_prefix = {.family = WGC_AF_INET, .cidr = 24, .ip = {10, 9, 9}};

	if (ready)
		return;
	ready = true;
	now = EPOCH;
	node_init(&R, 0x52, 2, 1);
	node_init(&I, 0x49, 1, 2);
	link_to(&R, &I, 1);
	link_to(&I, &R, 2);
	memset(key, 0x99, sizeof(key));
	CHECK(wgc_peer_add(R.ep, key, EPOCH, &R.idle_peer) == WGC_OK);
	CHECK(wgc_peer_set_endpoint(R.idle_peer, &idle_addr) == WGC_OK);
	CHECK(wgc_allowedip_insert(R.ep, R.idle_peer, &idle_prefix) == WGC_OK);
	i_other_port = I.addr;
	i_other_port.port = 40000;
	memcpy(R.pristine, R.mem, R.size);
	memcpy(I.pristine, I.mem, I.size);
}

static void restore(struct node *n)
{
	memcpy(n->mem, n->pristine, n->size);
	n->rng = n->rng_seed;
	n->rng_fails = false;
	n->has_staged = false;
}

/* ---- input ---- */

struct input {
	const uint8_t *p;
	size_t left;
};

static uint8_t take8(struct input *in)
{
	if (!in->left)
		return 0;
	in->left--;
	return *in->p++;
}

static uint16_t take16(struct input *in)
{
	return (uint16_t)(take8(in) | take8(in) << 8);
}

/* ---- observable state of R ---- */

struct peer_view {
	struct wgc_peer_stats stats;
	bool has_endpoint;
	struct wgc_addr endpoint;
};

struct snapshot {
	struct peer_view peer[2];
	uint64_t deadline;
	uint32_t peer_count;
	uint64_t drops[WGC_DROP__COUNT];
};

static bool same_addr(const struct wgc_addr *a, const struct wgc_addr *b)
{
	return a->family == b->family && a->port == b->port && a->scope_id == b->scope_id &&
	       memcmp(a->ip, b->ip, sizeof(a->ip)) == 0;
}

static void view_peer(const struct wgc_peer *p, struct peer_view *v)
{
	memset(v, 0, sizeof(*v));
	wgc_peer_get_stats(p, &v->stats);
	v->has_endpoint = wgc_peer_get_endpoint(p, &v->endpoint);
}

static bool same_view(const struct peer_view *a, const struct peer_view *b)
{
	return a->stats.rx_bytes == b->stats.rx_bytes && a->stats.tx_bytes == b->stats.tx_bytes &&
	       a->stats.has_handshake == b->stats.has_handshake &&
	       a->stats.last_handshake_ns == b->stats.last_handshake_ns &&
	       a->stats.last_handshake_wall_ns == b->stats.last_handshake_wall_ns &&
	       a->stats.has_session == b->stats.has_session && a->has_endpoint == b->has_endpoint &&
	       same_addr(&a->endpoint, &b->endpoint);
}

static void snap(struct snapshot *s)
{
	memset(s, 0, sizeof(*s));
	view_peer(R.peer, &s->peer[0]);
	view_peer(R.idle_peer, &s->peer[1]);
	s->deadline = wgc_endpoint_next_deadline(R.ep);
	s->peer_count = wgc_endpoint_peer_count(R.ep);
	(void)wgc_endpoint_get_drops(R.ep, s->drops, WGC_DROP__COUNT);
}

/* Equal but for exactly one drop counter, one higher. */
static void check_one_drop_only(const struct snapshot *a, const struct snapshot *b)
{
	int bumped = 0;

	CHECK(same_view(&a->peer[0], &b->peer[0]));
	CHECK(same_view(&a->peer[1], &b->peer[1]));
	CHECK(a->deadline == b->deadline);
	CHECK(a->peer_count == b->peer_count);
	CHECK(a->drops[WGC_DROP_NONE] == b->drops[WGC_DROP_NONE]);
	for (int r = 1; r < WGC_DROP__COUNT; r++) {
		if (a->drops[r] == b->drops[r])
			continue;
		CHECK(b->drops[r] == a->drops[r] + 1);
		bumped++;
	}
	CHECK(bumped == 1);
}

/* ---- real traffic between I and R ---- */

static void note_index(uint32_t index)
{
	if (index_count < MAX_INDEXES)
		indexes[index_count++] = index;
	else
		indexes[index % MAX_INDEXES] = index;
}

static void note_indexes(const uint8_t *m, size_t len)
{
	if (len >= 8 && m[0] >= 1 && m[0] <= 4)
		note_index(wgc_load_le32(m + 4));
	if (len >= 12 && m[0] == 2)
		note_index(wgc_load_le32(m + 8));
}

static void enqueue(struct node *to, const struct wgc_addr *from, const uint8_t *data, size_t len)
{
	struct dgram *d;

	if (queue_count == QUEUE_MAX || len > DGRAM_MAX)
		return;
	d = &queue[(queue_head + queue_count++) % QUEUE_MAX];
	d->to = to;
	d->from = *from;
	d->len = len;
	memcpy(d->data, data, len);
	note_indexes(data, len);
}

static void reset(struct wgc_actions *out, struct wgc_action *list, uint8_t *scratch)
{
	*out = (struct wgc_actions){list, MAX_ACTIONS, 0, scratch, SCRATCH, 0};
}

static void send_packet(struct node *n, const uint8_t *plain, size_t len);

/* Carries out n's actions: datagrams to the other node's address go on the wire, anything else is
 * lost; FLUSH resends the staged packet. */
static void run_actions(struct node *n, const struct wgc_actions *out)
{
	struct node *other = n == &R ? &I : &R;
	bool flush = false;

	for (size_t i = 0; i < out->count; i++) {
		const struct wgc_action *a = &out->list[i];

		switch (a->kind) {
		case WGC_ACTION_SEND:
			CHECK(a->data && a->len > 0);
			if (same_addr(&a->addr, &other->addr))
				enqueue(other, &n->addr, a->data, a->len);
			break;
		case WGC_ACTION_DELIVER:
			/* Cryptokey routing: only IPv4 from the sender's one allowed address,
			 * trimmed to the length its header claims. */
			CHECK(a->peer == n->peer && a->len >= 20 && a->data[0] >> 4 == 4);
			CHECK((size_t)(a->data[2] << 8 | a->data[3]) == a->len);
			CHECK(a->data[12] == 10 && a->data[13] == 0 && a->data[14] == 0 &&
			      a->data[15] == (n == &R ? 1 : 2));
			break;
		case WGC_ACTION_FLUSH:
			CHECK(a->peer == n->peer);
			flush = true;
			break;
		case WGC_ACTION_PURGE:
			n->has_staged = false;
			break;
		}
	}
	if (flush && n->has_staged) {
		n->has_staged = false;
		send_packet(n, n->staged, n->staged_len);
	}
}

/* Sends a plaintext packet from n (len 0: a keepalive to its peer). */
static void send_packet(struct node *n, const uint8_t *plain, size_t len)
{
	static uint8_t buf[DGRAM_MAX + WGC_DATA_HEADROOM + WGC_DATA_TAILROOM];
	struct wgc_action list[MAX_ACTIONS];
	uint8_t scratch[SCRATCH];
	struct wgc_actions out;
	enum wgc_verdict v;

	reset(&out, list, scratch);
	memset(buf, 0, sizeof(buf));
	memcpy(buf + WGC_DATA_HEADROOM, plain, len);
	v = wgc_send(n->ep, now, n->peer, buf, sizeof(buf), len, &out);
	if (v == WGC_VERDICT_STAGE && len) {
		memmove(n->staged, plain, len); /* plain may be n->staged itself (a flush) */
		n->staged_len = len;
		n->has_staged = true;
	}
	run_actions(n, &out);
}

/* Delivers what is on the wire, in order, until it is quiet. */
static void pump(void)
{
	struct wgc_action list[MAX_ACTIONS];
	uint8_t scratch[SCRATCH];
	struct wgc_actions out;

	for (int step = 0; step < PUMP_STEPS && queue_count; step++) {
		struct dgram *d = &queue[queue_head];
		enum wgc_verdict v;

		queue_head = (queue_head + 1) % QUEUE_MAX;
		queue_count--;
		if (d->to == &R) {
			memcpy(last, d->data, d->len);
			last_len = d->len;
			has_last = true;
			last_was_received = !lose_next;
			last_was_accepted = false;
		}
		if (lose_next) {
			lose_next = false;
			continue;
		}
		reset(&out, list, scratch);
		memcpy(rx, d->data, d->len);
		v = wgc_receive(d->to->ep, now, rx, d->len, &d->from, &out);
		if (d->to == &R)
			last_was_accepted = v == WGC_VERDICT_DONE;
		run_actions(d->to, &out);
	}
	queue_count = 0;
}

static void tick(struct node *n)
{
	struct wgc_action list[MAX_ACTIONS];
	uint8_t scratch[SCRATCH];
	struct wgc_actions out;

	for (int round = 0; round < 4; round++) {
		uint64_t next;

		reset(&out, list, scratch);
		next = wgc_endpoint_tick(n->ep, now, &out);
		run_actions(n, &out);
		if (next > now)
			break;
	}
}

/*
 * The plaintext a real peer sends: usually an IPv4 packet from its own tunnel address, else
 * (by the fuzzer's choice) one from an address it is not allowed to use, an IPv6 packet, or one
 * whose length field lies. len is 20 or more.
 */
static void make_packet(uint8_t *p, size_t len, uint8_t src, uint8_t dst, uint8_t how)
{
	memset(p, 0, len);
	p[0] = 0x45;
	p[2] = (uint8_t)(len >> 8);
	p[3] = (uint8_t)len;
	p[8] = 64;
	p[9] = 17;
	p[12] = 10, p[15] = src;
	p[16] = 10, p[19] = dst;
	for (size_t i = 20; i < len; i++)
		p[i] = (uint8_t)i;
	switch (how % 8) {
	case 1: /* someone else's source: 10.9.9.x is the idle peer's */
		p[13] = 9, p[14] = 9;
		break;
	case 2:
		p[15] = (uint8_t)(how >> 3);
		break;
	case 3: /* IPv6 */
		p[0] = 0x60;
		p[4] = (uint8_t)((len - 40) >> 8);
		p[5] = (uint8_t)(len - 40);
		break;
	case 4: /* claims more than there is */
		p[2] = (uint8_t)((len + 1 + (how >> 3)) >> 8);
		p[3] = (uint8_t)(len + 1 + (how >> 3));
		break;
	case 5: /* claims less than a header */
		p[2] = 0;
		p[3] = (uint8_t)(how >> 3) % 20;
		break;
	case 6: /* not IP at all */
		p[0] = how;
		break;
	default:
		break;
	}
}

/* ---- what the fuzzer controls ---- */

static const struct wgc_addr *pick_source(struct input *in)
{
	switch (take8(in) % 4) {
	case 0:
		return &I.addr;
	case 1:
		return &stranger4;
	case 2:
		return &stranger6;
	default:
		return &i_other_port;
	}
}

/* Feeds m to R and requires the drop invariants; allow_cookie_reply admits a cookie reply to src
 * as the only action. */
static void feed_unauthentic(const uint8_t *m, size_t len, const struct wgc_addr *src,
                             bool allow_cookie_reply)
{
	struct wgc_action list[MAX_ACTIONS];
	uint8_t scratch[SCRATCH];
	struct wgc_actions out;
	struct snapshot before;
	struct snapshot after;
	enum wgc_verdict v;

	snap(&before);
	reset(&out, list, scratch);
	memcpy(rx, m, len);
	v = wgc_receive(R.ep, now, rx, len, src, &out);
	snap(&after);
	CHECK(v == WGC_VERDICT_DROP);
	for (size_t i = 0; i < out.count; i++) {
		const struct wgc_action *a = &out.list[i];

		CHECK(allow_cookie_reply && a->kind == WGC_ACTION_SEND && a->len == 64 &&
		      a->data[0] == 3 && a->peer == NULL && same_addr(&a->addr, src));
	}
	check_one_drop_only(&before, &after);
}

static void op_garbage(struct input *in)
{
	static const size_t lengths[] = {148, 92,  64, 32, 33, 47, 48, 63, 64,   80,   96,   128,
	                                 147, 149, 91, 93, 65, 4,  3,  16, 1420, 1436, 1452, 2048};
	uint8_t sel = take8(in);
	uint8_t shape = take8(in);
	const struct wgc_addr *src = pick_source(in);
	size_t len;
	size_t copied;

	if (sel < 0xc0)
		len = sel;
	else if (sel < 0xf0)
		len = lengths[(sel - 0xc0) % (sizeof(lengths) / sizeof(lengths[0]))];
	else
		len = take16(in);
	copied = len < in->left ? len : in->left;
	memcpy(work, in->p, copied);
	memset(work + copied, 0, len - copied);
	in->p += copied;
	in->left -= copied;
	if (len >= 4 && (shape & 1)) {
		memset(work, 0, 4);
		work[0] = (uint8_t)(1 + (shape >> 1) % 4);
	}
	if (len >= 8 && (shape & 8) && index_count) {
		uint32_t index = indexes[(shape >> 4) % index_count];

		work[4] = (uint8_t)index;
		work[5] = (uint8_t)(index >> 8);
		work[6] = (uint8_t)(index >> 16);
		work[7] = (uint8_t)(index >> 24);
	}
	feed_unauthentic(work, len, src, false);
}

/* Where a change to a message of I's cannot be noticed without checking mac2. */
static bool is_mac2_byte(size_t len, size_t pos)
{
	return (last[0] == 1 || last[0] == 2) && pos >= len - MAC_LEN;
}

static void op_tamper(struct input *in)
{
	int edits = 1 + take8(in) % 4;
	size_t len = last_len;
	bool outside = false;
	bool any = false;

	if (!has_last)
		return;
	memcpy(work, last, last_len);
	for (int e = 0; e < edits; e++) {
		size_t pos = take16(in) % last_len;
		uint8_t x = take8(in);

		work[pos] ^= x ? x : 0x01;
	}
	if (take8(in) & 1) {
		size_t delta = take8(in) % 64;

		len = take8(in) & 1 ? len + delta : (delta < len ? len - delta : 0);
		if (len > last_len)
			memset(work + last_len, 0, len - last_len);
	}
	for (size_t i = 0; i < last_len; i++) {
		if (i < len && work[i] == last[i])
			continue;
		any = true;
		if (!is_mac2_byte(last_len, i))
			outside = true;
	}
	if (len != last_len)
		outside = any = true;
	if (outside) {
		feed_unauthentic(work, len, &I.addr, false);
		return;
	}
	if (any) {
		/* Only mac2 changed: R may take it (or answer with a cookie), like the original. */
		enqueue(&R, &I.addr, work, len);
		pump();
	}
}

static void op_replay(struct input *in)
{
	const struct wgc_addr *src = pick_source(in);

	if (!has_last)
		return;
	if (last_was_received && last_was_accepted) {
		memcpy(work, last, last_len);
		feed_unauthentic(work, last_len, src, true);
		return;
	}
	/* Lost or refused the first time: this may be its first fair chance. */
	enqueue(&R, src, last, last_len);
	pump();
}

static void op_send(struct input *in, struct node *n)
{
	uint8_t packet[256];
	uint8_t sel = take8(in);

	if (sel < 16) {
		send_packet(n, packet, 0);
	} else {
		size_t len = 20 + sel % 200;

		make_packet(packet, len, n == &I ? 1 : 2, n == &I ? 2 : 1, sel & 1 ? take8(in) : 0);
		send_packet(n, packet, len);
	}
	pump();
}

static void op_time(struct input *in)
{
	uint16_t v = take16(in);

	now += v < 32768 ? (uint64_t)v * MSEC : (uint64_t)(v - 32768) * 100 * MSEC;
	tick(&R);
	tick(&I);
	pump();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = {data, size};

	setup_once();
	now = EPOCH;
	restore(&R);
	restore(&I);
	queue_head = queue_count = 0;
	lose_next = false;
	has_last = false;
	index_count = 0;

	while (in.left) {
		switch (take8(&in) % 12) {
		case 0:
		case 1:
		case 2:
		case 3:
			op_garbage(&in);
			break;
		case 4:
			op_send(&in, &I);
			break;
		case 5:
			op_send(&in, &R);
			break;
		case 6:
			op_tamper(&in);
			break;
		case 7:
			op_replay(&in);
			break;
		case 8:
			op_time(&in);
			break;
		case 9:
			wgc_endpoint_report_load(R.ep, now);
			break;
		case 10:
			R.rng_fails = !R.rng_fails;
			break;
		default:
			lose_next = true;
			break;
		}
	}
	return 0;
}
