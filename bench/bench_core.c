/* SPDX-License-Identifier: MIT */
/*
 * Micro-benchmarks of the libwgc core against the crypto it cannot avoid, measured in one run:
 * seal (wgc_send_prepare + wgc_send_seal) and open (wgc_receive_prepare + open + commit) of data
 * messages versus bare libsodium ChaCha20-Poly1305 on the same buffers, full handshakes per second
 * versus the eight X25519 operations a handshake needs, and the memory a peer reserves and touches.
 * Two endpoints talk in memory under a fake clock and a deterministic RNG. It prints figures (each
 * a median of REPS runs) and asserts nothing: it exits non-zero only when the setup itself fails.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <unistd.h>

#include <sodium.h>

#include "base/bytes.h"
#include "bench/bench_util.h"
#include "wgc.h"

enum {
	REPS = 7,
	BATCH = 4096,  /* packets sealed ahead of one timed open pass */
	STRIDE = 1536, /* bytes per packet buffer: 16 + 1420 + 16 fits, 64-aligned */
	BIG_PAYLOAD = WGC_DEFAULT_MTU,
	SMALL_PAYLOAD = 64,
	HANDSHAKES_PER_REP = 100,
	X25519_PER_HANDSHAKE = 8, /* 2 base-point + 6 variable-base scalar multiplications */
	ACTION_CAP = 16,
	SCRATCH_SIZE = 1024,
	MSG_MAX = 2048,
	AEAD_NONCE_LEN = 12,
	AEAD_TAG_LEN = 16,
	IDLE_PEERS = 100000,
	ACTIVE_PEERS = 1000,
	DELTA = 1000,
};

#define SEC WGC_NSEC_PER_SEC
#define MSEC (WGC_NSEC_PER_SEC / 1000)
/* Protocol time starts here so that "now - 0" is never accidentally small. */
#define EPOCH_NS (UINT64_C(1000) * SEC)
/* The fake wall clock is this plus protocol time (2023-11-14). */
#define WALL_BASE_NS (UINT64_C(1700000000) * SEC)
/* Per handshake iteration: past REJECT_AFTER_TIME (180 s), so the session is dead and a new
 * initiation is allowed at once (REKEY_TIMEOUT, the 1/50 s flood limit and TAI64N all pass). */
#define HANDSHAKE_STEP_NS (UINT64_C(200) * SEC)

/* ---- the fake world: one clock and one deterministic RNG for every endpoint ---- */

struct world {
	uint64_t now_ns;
	uint64_t rng_state;
	uint64_t random_calls;
	bool use_getrandom; /* answer random requests with getrandom(2), as a real caller would */
};

static struct world world = {.now_ns = EPOCH_NS, .rng_state = UINT64_C(0x5eedbe7c4c07e)};

static uint64_t splitmix(uint64_t *state)
{
	uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static void fill_random(void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len > 0) {
		uint64_t r = splitmix(&world.rng_state);
		size_t n = len < sizeof(r) ? len : sizeof(r);

		memcpy(p, &r, n);
		p += n;
		len -= n;
	}
}

static bool fake_random(void *ctx, void *buf, size_t len)
{
	struct world *w = ctx;

	w->random_calls++;
	if (w->use_getrandom)
		return getrandom(buf, len, 0) == (ssize_t)len;
	fill_random(buf, len);
	return true;
}

static uint64_t fake_wall(void *ctx)
{
	const struct world *w = ctx;

	return WALL_BASE_NS + w->now_ns;
}

static void die(const char *what)
{
	fflush(stdout);
	fprintf(stderr, "bench_core: setup failed: %s\n", what);
	exit(1);
}

static void *map_zeroed(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("mmap");
	return p;
}

/* Resident pages of [p, p + size) in bytes: what the endpoint really touched. */
static size_t resident_bytes(void *p, size_t size)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t pages = (size + page - 1) / page;
	unsigned char *vec = malloc(pages);
	size_t count = 0;

	if (!vec || mincore(p, size, vec) != 0)
		die("mincore");
	for (size_t i = 0; i < pages; i++)
		count += vec[i] & 1;
	free(vec);
	return count * page;
}

/* ---- endpoints ---- */

struct node {
	struct wgc_endpoint *ep;
	void *mem;
	size_t mem_size;
	struct wgc_peer *peer; /* the other node, when there is one */
	struct wgc_addr addr;
	uint8_t tunnel_octet; /* our tunnel address is 10.0.0.<tunnel_octet> */
};

struct outbuf {
	struct wgc_action list[ACTION_CAP];
	uint8_t scratch[SCRATCH_SIZE];
	struct wgc_actions actions;
};

static struct wgc_actions *out_reset(struct outbuf *o)
{
	o->actions =
	    (struct wgc_actions){o->list, ACTION_CAP, 0, o->scratch, sizeof(o->scratch), 0};
	return &o->actions;
}

static void node_init(struct node *n, const struct wgc_limits *limits, uint8_t octet, bool with_key)
{
	struct wgc_config cfg = {
	    .limits = *limits,
	    .random = fake_random,
	    .wall_clock = fake_wall,
	    .ctx = &world,
	};
	uint8_t key[WGC_KEY_LEN];

	memset(n, 0, sizeof(*n));
	n->mem_size = wgc_endpoint_size(limits);
	if (n->mem_size == 0)
		die("wgc_endpoint_size");
	n->mem = map_zeroed(n->mem_size);
	if (wgc_endpoint_init(n->mem, n->mem_size, &cfg, world.now_ns, &n->ep) != WGC_OK)
		die("wgc_endpoint_init");
	n->tunnel_octet = octet;
	n->addr = (struct wgc_addr){.family = WGC_AF_INET, .port = 51820, .ip = {192, 0, 2, octet}};
	if (!with_key)
		return;
	fill_random(key, sizeof(key));
	if (wgc_endpoint_set_private_key(n->ep, key, world.now_ns) != WGC_OK)
		die("wgc_endpoint_set_private_key");
	sodium_memzero(key, sizeof(key));
}

static void node_free(struct node *n)
{
	wgc_endpoint_clear(n->ep);
	munmap(n->mem, n->mem_size);
}

/* n learns other as its peer: public key, endpoint and other's tunnel address as allowed IP. */
static void node_add_peer(struct node *n, const struct node *other)
{
	uint8_t pub[WGC_KEY_LEN];
	struct wgc_prefix prefix = {
	    .family = WGC_AF_INET, .cidr = 32, .ip = {10, 0, 0, other->tunnel_octet}};

	wgc_endpoint_get_public_key(other->ep, pub);
	if (wgc_peer_add(n->ep, pub, world.now_ns, &n->peer) != WGC_OK ||
	    wgc_peer_set_endpoint(n->peer, &other->addr) != WGC_OK ||
	    wgc_allowedip_insert(n->ep, n->peer, &prefix) != WGC_OK)
		die("adding a peer");
}

/* An IPv4/UDP packet 10.0.0.src -> 10.0.0.dst of total length len at buf + WGC_DATA_HEADROOM. */
static void make_packet(uint8_t *buf, uint8_t src, uint8_t dst, size_t len)
{
	uint8_t *p = buf + WGC_DATA_HEADROOM;

	memset(p, 0, 28);
	p[0] = 0x45;
	p[2] = (uint8_t)(len >> 8);
	p[3] = (uint8_t)len;
	p[8] = 64;
	p[9] = 17;
	memcpy(p + 12, (const uint8_t[]){10, 0, 0, src}, 4);
	memcpy(p + 16, (const uint8_t[]){10, 0, 0, dst}, 4);
	memset(p + 28, 0xa5, len - 28);
}

static uint64_t total_drops(const struct node *n)
{
	uint64_t drops[WGC_DROP__COUNT];
	uint64_t sum = 0;

	(void)wgc_endpoint_get_drops(n->ep, drops, WGC_DROP__COUNT);
	for (int r = 1; r < WGC_DROP__COUNT; r++)
		sum += drops[r];
	return sum;
}

/* Feeds every SEND action of from_out to `to` (as sent from `from`); replies go to reply. */
static void deliver(struct node *to, const struct wgc_addr *from,
                    const struct wgc_actions *from_out, struct wgc_actions *reply)
{
	uint8_t msg[MSG_MAX];

	for (size_t i = 0; i < from_out->count; i++) {
		const struct wgc_action *a = &from_out->list[i];

		if (a->kind != WGC_ACTION_SEND || a->len > sizeof(msg))
			continue;
		memcpy(msg, a->data, a->len);
		(void)wgc_receive(to->ep, world.now_ns, msg, a->len, from, reply);
	}
}

/* One full handshake started by a's next packet: initiation to b, response to a, and a's
 * keepalive to b so b moves the new session from next to current. */
static void handshake(struct node *a, struct node *b)
{
	static uint8_t buf[STRIDE];
	struct outbuf init;
	struct outbuf resp;
	struct outbuf keepalive;
	struct outbuf ignored;

	make_packet(buf, a->tunnel_octet, b->tunnel_octet, 100);
	if (wgc_send(a->ep, world.now_ns, a->peer, buf, sizeof(buf), 100, out_reset(&init)) !=
	    WGC_VERDICT_STAGE)
		die("handshake: the first packet was not staged");
	deliver(b, &a->addr, &init.actions, out_reset(&resp));
	deliver(a, &b->addr, &resp.actions, out_reset(&keepalive));
	deliver(b, &a->addr, &keepalive.actions, out_reset(&ignored));
}

static bool has_session(const struct wgc_peer *peer)
{
	struct wgc_peer_stats st;

	wgc_peer_get_stats(peer, &st);
	return st.has_session;
}

/* Two endpoints A (10.0.0.1, initiator) and B (10.0.0.2) with a confirmed session. */
static void pair_init(struct node *a, struct node *b)
{
	struct wgc_limits limits = {.max_peers = 4, .max_allowed_ips = 16};

	node_init(a, &limits, 1, true);
	node_init(b, &limits, 2, true);
	node_add_peer(a, b);
	node_add_peer(b, a);
	handshake(a, b);
	if (!has_session(a->peer) || !has_session(b->peer) || total_drops(a) || total_drops(b))
		die("the first handshake did not establish a session");
}

/* ---- timing: wall and CPU clocks side by side ---- */

/* Time spent in timed regions, on both clocks. The CPU clock leaves out the time this process was
 * descheduled in favour of other programs on the machine, which the wall clock counts. */
struct span {
	uint64_t wall_ns;
	uint64_t cpu_ns;
};

static struct span span_begin(void)
{
	return (struct span){bench_now_ns(), bench_cpu_ns()};
}

static void span_end(struct span *acc, struct span begin)
{
	acc->cpu_ns += bench_cpu_ns() - begin.cpu_ns;
	acc->wall_ns += bench_now_ns() - begin.wall_ns;
}

/* ---- data path: seal ---- */

/* One pass of BATCH packets through wgc_send_prepare + wgc_send_seal; *bad counts packets that
 * did not come out sealed. */
static void run_core_seal(struct node *a, uint8_t *bufs, size_t plain_len, struct span *acc,
                          uint64_t *bad)
{
	struct outbuf o;
	struct wgc_actions *out = out_reset(&o);
	struct wgc_send_job job;
	struct span t = span_begin();

	for (size_t i = 0; i < BATCH; i++) {
		uint8_t *buf = bufs + i * STRIDE;

		out->count = 0;
		out->scratch_used = 0;
		if (wgc_send_prepare(a->ep, world.now_ns, a->peer, buf, STRIDE, plain_len, &job,
		                     out) != WGC_VERDICT_CRYPTO) {
			(*bad)++;
			continue;
		}
		wgc_send_seal(&job);
	}
	span_end(acc, t);
}

/* The same buffers and (padded) lengths through libsodium alone: nonce + encrypt in place. */
static void run_raw_seal(uint8_t *bufs, size_t padded, const uint8_t *key, uint64_t *counter,
                         struct span *acc)
{
	uint8_t nonce[AEAD_NONCE_LEN] = {0};
	struct span t = span_begin();

	for (size_t i = 0; i < BATCH; i++) {
		uint8_t *p = bufs + i * STRIDE + WGC_DATA_HEADROOM;

		wgc_store_le64(nonce + 4, (*counter)++);
		crypto_aead_chacha20poly1305_ietf_encrypt_detached(p, p + padded, NULL, p, padded,
		                                                   NULL, 0, NULL, nonce, key);
	}
	span_end(acc, t);
}

/* ---- data path: open ---- */

/* a seals BATCH valid IPv4 packets to b (increasing counters); returns the message length. */
static size_t seal_batch_core(struct node *a, const struct node *b, uint8_t *bufs, size_t plain_len)
{
	struct outbuf o;
	struct wgc_send_job job;
	size_t message_len = 0;

	for (size_t i = 0; i < BATCH; i++) {
		uint8_t *buf = bufs + i * STRIDE;

		make_packet(buf, a->tunnel_octet, b->tunnel_octet, plain_len);
		if (wgc_send_prepare(a->ep, world.now_ns, a->peer, buf, STRIDE, plain_len, &job,
		                     out_reset(&o)) != WGC_VERDICT_CRYPTO)
			die("sealing the open batch");
		wgc_send_seal(&job);
		message_len = job.message_len;
	}
	return message_len;
}

/* b opens the batch: prepare + open + commit, each packet expected to end in one DELIVER. */
static void run_core_open(struct node *b, const struct node *a, uint8_t *bufs, size_t message_len,
                          struct span *acc, uint64_t *bad)
{
	struct outbuf o;
	struct wgc_actions *out = out_reset(&o);
	struct wgc_receive_job job;
	struct span t = span_begin();

	for (size_t i = 0; i < BATCH; i++) {
		uint8_t *buf = bufs + i * STRIDE;

		out->count = 0;
		out->scratch_used = 0;
		if (wgc_receive_prepare(b->ep, world.now_ns, buf, message_len, &a->addr, &job,
		                        out) != WGC_VERDICT_CRYPTO) {
			(*bad)++;
			continue;
		}
		wgc_receive_open(&job);
		if (wgc_receive_commit(b->ep, world.now_ns, &job, out) != WGC_VERDICT_DONE ||
		    out->count != 1 || out->list[0].kind != WGC_ACTION_DELIVER)
			(*bad)++;
	}
	span_end(acc, t);
}

static void seal_batch_raw(uint8_t *bufs, size_t padded, const uint8_t *key, uint64_t counter0)
{
	uint8_t nonce[AEAD_NONCE_LEN] = {0};

	for (size_t i = 0; i < BATCH; i++) {
		uint8_t *p = bufs + i * STRIDE + WGC_DATA_HEADROOM;

		wgc_store_le64(nonce + 4, counter0 + i);
		crypto_aead_chacha20poly1305_ietf_encrypt_detached(p, p + padded, NULL, p, padded,
		                                                   NULL, 0, NULL, nonce, key);
	}
}

static void run_raw_open(uint8_t *bufs, size_t padded, const uint8_t *key, uint64_t counter0,
                         struct span *acc, uint64_t *bad)
{
	uint8_t nonce[AEAD_NONCE_LEN] = {0};
	struct span t = span_begin();

	for (size_t i = 0; i < BATCH; i++) {
		uint8_t *p = bufs + i * STRIDE + WGC_DATA_HEADROOM;

		wgc_store_le64(nonce + 4, counter0 + i);
		if (crypto_aead_chacha20poly1305_ietf_decrypt_detached(
		        p, NULL, p, padded, p + padded, NULL, 0, nonce, key) != 0)
			(*bad)++;
	}
	span_end(acc, t);
}

/* ---- data path: runs and report ---- */

/* Per-run figures of one core-vs-raw comparison, reduced to medians. */
struct comparison {
	double core_ns; /* per item, CPU clock, median */
	double raw_ns;
	double ratio;      /* median over runs of raw / core, CPU clock */
	double ratio_wall; /* the same on the wall clock */
	double random_calls_per_packet;
	size_t encrypted_len; /* bytes the AEAD covers (payload plus padding) */
};

struct runs {
	double core[REPS];
	double raw[REPS];
	double ratio[REPS];
	double ratio_wall[REPS];
};

static void runs_add(struct runs *r, int rep, const struct span *core, const struct span *raw,
                     double items)
{
	r->core[rep] = (double)core->cpu_ns / items;
	r->raw[rep] = (double)raw->cpu_ns / items;
	r->ratio[rep] = (double)raw->cpu_ns / (double)core->cpu_ns;
	r->ratio_wall[rep] = (double)raw->wall_ns / (double)core->wall_ns;
}

static struct comparison runs_reduce(struct runs *r)
{
	struct comparison c = {0};

	c.core_ns = bench_median(r->core, REPS);
	c.raw_ns = bench_median(r->raw, REPS);
	c.ratio = bench_median(r->ratio, REPS);
	c.ratio_wall = bench_median(r->ratio_wall, REPS);
	return c;
}

static int batches_for(size_t plain_len)
{
	return plain_len >= 1000 ? 4 : 24;
}

/* The encrypted length the core uses for plain_len (padding to 16, never past the MTU), read
 * from a real prepare so the raw baseline encrypts exactly as many bytes. */
static size_t core_padded_len(struct node *a, uint8_t *buf, size_t plain_len)
{
	struct outbuf o;
	struct wgc_send_job job;

	if (wgc_send_prepare(a->ep, world.now_ns, a->peer, buf, STRIDE, plain_len, &job,
	                     out_reset(&o)) != WGC_VERDICT_CRYPTO)
		die("wgc_send_prepare did not return CRYPTO");
	wgc_send_seal(&job);
	return job.message_len - WGC_DATA_HEADROOM - AEAD_TAG_LEN;
}

static struct comparison bench_seal(struct node *a, uint8_t *bufs, size_t plain_len,
                                    bool getrandom_rng)
{
	struct runs runs;
	uint8_t key[WGC_KEY_LEN];
	uint64_t counter = 0;
	uint64_t bad = 0;
	uint64_t calls0;
	int batches = batches_for(plain_len);
	size_t padded = core_padded_len(a, bufs, plain_len);
	struct span warm = {0};
	struct comparison c;

	fill_random(key, sizeof(key));
	for (size_t i = 0; i < BATCH; i++)
		make_packet(bufs + i * STRIDE, a->tunnel_octet, 2, plain_len);
	world.use_getrandom = getrandom_rng;
	/* warm-up: caches, branch predictors, CPU frequency */
	run_core_seal(a, bufs, plain_len, &warm, &bad);
	run_raw_seal(bufs, padded, key, &counter, &warm);
	calls0 = world.random_calls;
	for (int rep = 0; rep < REPS; rep++) {
		struct span core = {0};
		struct span raw = {0};

		/* Core and raw alternate batch by batch, so the machine's noise hits both alike. */
		for (int b = 0; b < batches; b++) {
			if ((rep + b) % 2) {
				run_core_seal(a, bufs, plain_len, &core, &bad);
				run_raw_seal(bufs, padded, key, &counter, &raw);
			} else {
				run_raw_seal(bufs, padded, key, &counter, &raw);
				run_core_seal(a, bufs, plain_len, &core, &bad);
			}
		}
		runs_add(&runs, rep, &core, &raw, (double)batches * BATCH);
	}
	world.use_getrandom = false;
	if (bad)
		die("wgc_send_prepare did not return CRYPTO");
	c = runs_reduce(&runs);
	c.random_calls_per_packet =
	    (double)(world.random_calls - calls0) / ((double)batches * BATCH * REPS);
	c.encrypted_len = padded;
	sodium_memzero(key, sizeof(key));
	return c;
}

static struct comparison bench_open(struct node *a, struct node *b, uint8_t *bufs, size_t plain_len)
{
	struct runs runs;
	uint8_t key[WGC_KEY_LEN];
	uint64_t counter = 0;
	uint64_t bad_core = 0;
	uint64_t bad_raw = 0;
	uint64_t drops0 = total_drops(b);
	int batches = batches_for(plain_len);
	size_t padded = core_padded_len(a, bufs, plain_len);
	size_t message_len;
	struct span warm = {0};
	struct comparison c;

	fill_random(key, sizeof(key));
	message_len = seal_batch_core(a, b, bufs, plain_len);
	run_core_open(b, a, bufs, message_len, &warm, &bad_core);
	seal_batch_raw(bufs, padded, key, counter);
	run_raw_open(bufs, padded, key, counter, &warm, &bad_raw);
	counter += BATCH;
	for (int rep = 0; rep < REPS; rep++) {
		struct span core = {0};
		struct span raw = {0};

		for (int batch = 0; batch < batches; batch++) {
			/* Sealing is outside the timed passes; only opening is measured. */
			if ((rep + batch) % 2) {
				message_len = seal_batch_core(a, b, bufs, plain_len);
				run_core_open(b, a, bufs, message_len, &core, &bad_core);
				seal_batch_raw(bufs, padded, key, counter);
				run_raw_open(bufs, padded, key, counter, &raw, &bad_raw);
			} else {
				seal_batch_raw(bufs, padded, key, counter);
				run_raw_open(bufs, padded, key, counter, &raw, &bad_raw);
				message_len = seal_batch_core(a, b, bufs, plain_len);
				run_core_open(b, a, bufs, message_len, &core, &bad_core);
			}
			counter += BATCH;
		}
		runs_add(&runs, rep, &core, &raw, (double)batches * BATCH);
	}
	if (bad_core || bad_raw || total_drops(b) != drops0) {
		fprintf(stderr,
		        "bench_core: open: %" PRIu64 " core and %" PRIu64
		        " raw packets failed, %" PRIu64 " drops\n",
		        bad_core, bad_raw, total_drops(b) - drops0);
		die("opening did not deliver every packet");
	}
	if (message_len != WGC_DATA_HEADROOM + padded + AEAD_TAG_LEN)
		die("unexpected message length");
	c = runs_reduce(&runs);
	c.encrypted_len = padded;
	sodium_memzero(key, sizeof(key));
	return c;
}

static void print_data_header(void)
{
	printf("  %-7s %11s %9s %10s %9s %9s %9s\n", "payload", "core ns/pkt", "core Gb/s",
	       "raw ns/pkt", "raw Gb/s", "core/raw", "(wall)");
}

static void print_data_row(size_t plain_len, const struct comparison *c, double target)
{
	char label[16];

	snprintf(label, sizeof(label), "%zu B", plain_len);
	printf("  %-7s %11.1f %9.2f %10.1f %9.2f %9.3f %9.3f  %s\n", label, c->core_ns,
	       (double)plain_len * 8 / c->core_ns, c->raw_ns, (double)plain_len * 8 / c->raw_ns,
	       c->ratio, c->ratio_wall, c->ratio >= target ? "ok" : "below target");
}

static void section_data(struct node *a, struct node *b)
{
	static const size_t payloads[] = {BIG_PAYLOAD, SMALL_PAYLOAD};
	uint8_t *bufs = map_zeroed((size_t)BATCH * STRIDE);
	struct comparison seal[2];
	struct comparison seal_getrandom[2];
	struct comparison open[2];

	for (int i = 0; i < 2; i++) {
		seal[i] = bench_seal(a, bufs, payloads[i], false);
		seal_getrandom[i] = bench_seal(a, bufs, payloads[i], true);
		open[i] = bench_open(a, b, bufs, payloads[i]);
	}

	printf(
	    "\n1. seal: wgc_send_prepare + wgc_send_seal (peer given, session up) vs\n"
	    "   crypto_aead_chacha20poly1305_ietf_encrypt_detached on the same buffers.\n"
	    "   The core pads to a multiple of 16 but never past the MTU (1420), so it encrypts\n"
	    "   %zu B -> %zu B and %zu B -> %zu B; the raw baseline encrypts exactly those padded\n"
	    "   lengths. Gb/s counts payload bytes. Per run: %d x %d packets (1420 B), %d x %d\n"
	    "   (64 B), core and raw batches alternating. Target core/raw >= 0.95.\n",
	    payloads[0], seal[0].encrypted_len, payloads[1], seal[1].encrypted_len,
	    batches_for(BIG_PAYLOAD), BATCH, batches_for(SMALL_PAYLOAD), BATCH);
	print_data_header();
	for (int i = 0; i < 2; i++)
		print_data_row(payloads[i], &seal[i], 0.95);
	printf(
	    "  random callback calls per sealed data packet: %.2f (timer jitter). The same with\n"
	    "  a getrandom(2) callback (as examples/two_endpoints.c) instead of the fake RNG:\n",
	    seal[0].random_calls_per_packet);
	for (int i = 0; i < 2; i++)
		print_data_row(payloads[i], &seal_getrandom[i], 0.95);

	printf(
	    "\n2. open: wgc_receive_prepare + wgc_receive_open + wgc_receive_commit (valid IPv4,\n"
	    "   source allowed, each ends in one DELIVER) vs\n"
	    "   crypto_aead_chacha20poly1305_ietf_decrypt_detached on the same buffers and\n"
	    "   lengths. Batches of %d sealed (untimed) just before each timed pass, opened in\n"
	    "   place. Target core/raw >= 0.95.\n",
	    BATCH);
	print_data_header();
	for (int i = 0; i < 2; i++)
		print_data_row(payloads[i], &open[i], 0.95);
	munmap(bufs, (size_t)BATCH * STRIDE);
}

/* ---- handshakes ---- */

struct handshake_times {
	uint64_t initiation; /* A: wgc_send -> initiation created */
	uint64_t response;   /* B: initiation consumed, response created */
	uint64_t complete;   /* A: response consumed, session installed, keepalive sealed */
};

/* HANDSHAKES_PER_REP full handshakes; adds their time to acc and the per-step split (wall
 * clock: the steps are too short for the CPU clock's syscall) to t. */
static void run_handshakes(struct node *a, struct node *b, struct span *acc,
                           struct handshake_times *t)
{
	static uint8_t buf[STRIDE];
	uint8_t msg[MSG_MAX];
	struct outbuf oa;
	struct outbuf ob;
	struct outbuf oa2;
	struct span begin = span_begin();

	for (int i = 0; i < HANDSHAKES_PER_REP; i++) {
		uint64_t t0;
		uint64_t t1;
		uint64_t t2;
		uint64_t t3;

		world.now_ns += HANDSHAKE_STEP_NS;
		make_packet(buf, a->tunnel_octet, b->tunnel_octet, 100);
		t0 = bench_now_ns();
		(void)wgc_send(a->ep, world.now_ns, a->peer, buf, sizeof(buf), 100, out_reset(&oa));
		t1 = bench_now_ns();
		if (oa.actions.count != 1 || oa.list[0].len > sizeof(msg))
			die("handshake loop: no initiation");
		memcpy(msg, oa.list[0].data, oa.list[0].len);
		(void)wgc_receive(b->ep, world.now_ns, msg, oa.list[0].len, &a->addr,
		                  out_reset(&ob));
		t2 = bench_now_ns();
		if (ob.actions.count != 1 || ob.list[0].len > sizeof(msg))
			die("handshake loop: no response");
		memcpy(msg, ob.list[0].data, ob.list[0].len);
		(void)wgc_receive(a->ep, world.now_ns, msg, ob.list[0].len, &b->addr,
		                  out_reset(&oa2));
		t3 = bench_now_ns();
		t->initiation += t1 - t0;
		t->response += t2 - t1;
		t->complete += t3 - t2;
	}
	span_end(acc, begin);
}

/* Exactly the X25519 work of HANDSHAKES_PER_REP handshakes, through libsodium alone. */
static void run_x25519(uint8_t sk[][WGC_KEY_LEN], uint8_t pk[][WGC_KEY_LEN], int nkeys,
                       struct span *acc)
{
	uint8_t out[WGC_KEY_LEN];
	struct span begin = span_begin();

	for (int i = 0; i < HANDSHAKES_PER_REP; i++) {
		int k = i % nkeys;

		for (int j = 0; j < 2; j++)
			(void)crypto_scalarmult_base(out, sk[(k + j) % nkeys]);
		for (int j = 0; j < 6; j++)
			if (crypto_scalarmult(out, sk[(k + j) % nkeys], pk[(k + j + 1) % nkeys]) !=
			    0)
				die("crypto_scalarmult");
	}
	span_end(acc, begin);
	sodium_memzero(out, sizeof(out));
}

static void section_handshake(struct node *a, struct node *b)
{
	enum { NKEYS = 16, ROUNDS = 2 };
	static uint8_t sk[NKEYS][WGC_KEY_LEN];
	static uint8_t pk[NKEYS][WGC_KEY_LEN];
	struct runs runs;
	double step[3][REPS];
	uint64_t drops_a = total_drops(a);
	uint64_t drops_b = total_drops(b);
	struct wgc_peer_stats st;
	struct handshake_times t;
	struct span warm = {0};
	struct comparison c;
	double per_rep = (double)ROUNDS * HANDSHAKES_PER_REP;

	for (int k = 0; k < NKEYS; k++) {
		fill_random(sk[k], WGC_KEY_LEN);
		crypto_scalarmult_base(pk[k], sk[k]);
	}
	run_handshakes(a, b, &warm, &t);
	run_x25519(sk, pk, NKEYS, &warm);
	for (int rep = 0; rep < REPS; rep++) {
		struct span core = {0};
		struct span raw = {0};

		memset(&t, 0, sizeof(t));
		for (int round = 0; round < ROUNDS; round++) {
			if ((rep + round) % 2) {
				run_handshakes(a, b, &core, &t);
				run_x25519(sk, pk, NKEYS, &raw);
			} else {
				run_x25519(sk, pk, NKEYS, &raw);
				run_handshakes(a, b, &core, &t);
			}
		}
		runs_add(&runs, rep, &core, &raw, per_rep);
		step[0][rep] = (double)t.initiation / per_rep;
		step[1][rep] = (double)t.response / per_rep;
		step[2][rep] = (double)t.complete / per_rep;
	}
	wgc_peer_get_stats(a->peer, &st);
	if (total_drops(a) != drops_a || total_drops(b) != drops_b ||
	    st.last_handshake_ns != world.now_ns || !has_session(a->peer))
		die("the handshake loop did not complete every handshake");
	c = runs_reduce(&runs);

	printf(
	    "\n3. handshakes on one core: A wgc_send (session past REJECT_AFTER_TIME, fake clock\n"
	    "   +200 s per handshake) -> initiation; B wgc_receive -> response; A wgc_receive ->\n"
	    "   session (A also seals its confirming keepalive, which is not delivered)\n"
	    "   vs the X25519 a handshake needs, through libsodium alone: crypto_scalarmult_base\n"
	    "   x2 (both ephemerals) + crypto_scalarmult x6 (es, ee, se on each side; ss is\n"
	    "   precomputed per peer). Per run: %d x %d handshakes, alternating with the same\n"
	    "   number of raw sets. Target raw/core >= 0.90.\n",
	    ROUNDS, HANDSHAKES_PER_REP);
	printf("  %-32s %9s %11s\n", "", "us each", "per second");
	printf("  %-32s %9.1f %11.0f\n", "core: full handshake", c.core_ns / 1e3, 1e9 / c.core_ns);
	printf("  %-32s %9.1f %11.0f\n", "raw: the 8 X25519 operations", c.raw_ns / 1e3,
	       1e9 / c.raw_ns);
	printf("  %-32s %9.1f\n", "raw: one X25519 (set / 8)",
	       c.raw_ns / X25519_PER_HANDSHAKE / 1e3);
	printf("  %-32s %9.1f   (2 X25519; wall clock)\n", "  A: create initiation",
	       bench_median(step[0], REPS) / 1e3);
	printf("  %-32s %9.1f   (4 X25519; wall clock)\n", "  B: consume + respond",
	       bench_median(step[1], REPS) / 1e3);
	printf("  %-32s %9.1f   (2 X25519; wall clock)\n", "  A: consume response",
	       bench_median(step[2], REPS) / 1e3);
	printf("  raw/core: %.3f (wall %.3f)  %s\n", c.ratio, c.ratio_wall,
	       c.ratio >= 0.90 ? "ok" : "below target");
}

/* ---- memory ---- */

static size_t size_for(uint32_t peers, uint32_t keypairs, uint32_t routes)
{
	struct wgc_limits limits = {
	    .max_peers = peers, .max_keypairs = keypairs, .max_allowed_ips = routes};
	size_t size = wgc_endpoint_size(&limits);

	if (size == 0)
		die("wgc_endpoint_size");
	return size;
}

static void section_memory_reserved(void)
{
	const uint32_t p = IDLE_PEERS;
	/* Slot sizes: grow one pool by DELTA where no power-of-two hash table changes size. */
	double peer_slot = (double)(size_for(p + DELTA, p, 0) - size_for(p, p, 0)) / DELTA;
	double keypair_slot = (double)(size_for(p, p + DELTA, 0) - size_for(p, p, 0)) / DELTA;
	double route_slot = (double)(size_for(p, p, p + DELTA) - size_for(p, p, p)) / DELTA;
	size_t fixed = size_for(1, 1, 0);

	printf("\n4. memory\n"
	       "  reserved by wgc_endpoint_size (the caller's block; untouched slots cost only\n"
	       "  address space). Marginal slot sizes, growing one pool by %d at %u peers:\n",
	       DELTA, p);
	printf("    %-50s %8.1f B\n", "peer slot (struct, timer-heap slot)", peer_slot);
	printf("    %-50s %8.1f B\n", "keypair slot (keys, counters, 8192-bit replay)",
	       keypair_slot);
	printf("    %-50s %8.1f B\n", "allowed-IP route slot", route_slot);
	printf(
	    "  amortized per peer at %u peers, no routes, incl. its share of the peer and index\n"
	    "  hash tables (power-of-two sized); fixed part (endpoint, rate limiter) excluded:\n",
	    p);
	printf("    %-50s %8.1f B\n", "idle peer (max_keypairs = 1 in all)",
	       (double)(size_for(p, 1, 0) - fixed) / (p - 1));
	printf("    %-50s %8.1f B\n", "1 keypair per peer (session, no rekey yet)",
	       (double)(size_for(p, p, 0) - fixed) / (p - 1));
	printf("    %-50s %8.1f B\n", "2 keypairs per peer (current + previous)",
	       (double)(size_for(p, 2 * p, 0) - fixed) / (p - 1));
	printf("    %-50s %8.1f B\n", "3 keypairs per peer (default, max_keypairs = 0)",
	       (double)(size_for(p, 0, 0) - fixed) / (p - 1));
	printf("    %-50s %8zu B\n", "fixed part", fixed);
}

/* Adds IDLE_PEERS peers with random keys; returns the ns it took. */
static uint64_t add_idle_peers(struct node *hub)
{
	uint8_t key[WGC_KEY_LEN];
	uint64_t t0 = bench_now_ns();

	for (uint32_t i = 0; i < IDLE_PEERS; i++) {
		struct wgc_peer *peer;

		fill_random(key, sizeof(key));
		if (wgc_peer_add(hub->ep, key, world.now_ns, &peer) != WGC_OK)
			die("adding idle peers");
	}
	return bench_now_ns() - t0;
}

/* Gives every peer of hub its own /32 in 10.0.0.0/8. */
static void add_routes(struct node *hub)
{
	struct wgc_peer *peer = NULL;
	uint32_t i = 0;

	while ((peer = wgc_peer_next(hub->ep, peer)) != NULL) {
		struct wgc_prefix prefix = {
		    .family = WGC_AF_INET,
		    .cidr = 32,
		    .ip = {10, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i},
		};

		if (wgc_allowedip_insert(hub->ep, peer, &prefix) != WGC_OK)
			die("adding routes");
		i++;
	}
}

/* Both views of memory touched: the process's RSS and the resident pages of the endpoint block. */
struct touched {
	size_t rss;
	size_t block;
};

static struct touched touched_now(const struct node *hub)
{
	return (struct touched){bench_rss_bytes(), resident_bytes(hub->mem, hub->mem_size)};
}

static void section_memory_idle(void)
{
	struct wgc_limits limits = {.max_peers = IDLE_PEERS, .max_allowed_ips = IDLE_PEERS};
	struct node hub;
	size_t rss0 = bench_rss_bytes();
	struct touched init;
	struct touched peers;
	struct touched routes;
	uint64_t t_peers;

	/* No private key: peer_add then skips the static-static X25519, which changes nothing in
	 * what a peer occupies (the struct is written whole either way) and saves ~100k X25519. */
	node_init(&hub, &limits, 1, false);
	init = touched_now(&hub);
	t_peers = add_idle_peers(&hub);
	peers = touched_now(&hub);
	add_routes(&hub);
	routes = touched_now(&hub);

	printf(
	    "  touched: an endpoint for %d peers (3 keypairs each reserved, %.1f MiB) mapped with\n"
	    "  mmap(MAP_ANONYMOUS), then %d peers added (%.0f ns per wgc_peer_add), then one /32\n"
	    "  each:\n",
	    IDLE_PEERS, (double)hub.mem_size / (1 << 20), IDLE_PEERS, (double)t_peers / IDLE_PEERS);
	printf("    %-38s %12s %14s\n", "", "RSS (statm)", "block resident");
	printf("    %-38s %9.0f KiB %10.0f KiB\n", "after init (empty)",
	       (double)(init.rss - rss0) / 1024, (double)init.block / 1024);
	printf("    %-38s %9.3f KiB %10.3f KiB   (target <= 1 KiB: %s)\n", "per idle peer",
	       (double)(peers.rss - init.rss) / 1024 / IDLE_PEERS,
	       (double)(peers.block - init.block) / 1024 / IDLE_PEERS,
	       peers.block - init.block <= (size_t)IDLE_PEERS * 1024 ? "ok" : "above");
	printf("    %-38s %9.3f KiB %10.3f KiB\n", "per idle peer with one /32 route",
	       (double)(routes.rss - init.rss) / 1024 / IDLE_PEERS,
	       (double)(routes.block - init.block) / 1024 / IDLE_PEERS);
	node_free(&hub);
}

/* Touched memory per peer with a live session: a hub with ACTIVE_PEERS peers, each peer played in
 * turn by one spoke endpoint whose private key is switched to that peer's key. */
static void section_memory_active(void)
{
	struct wgc_limits hub_limits = {.max_peers = ACTIVE_PEERS, .max_allowed_ips = ACTIVE_PEERS};
	struct wgc_limits spoke_limits = {.max_peers = 1, .max_allowed_ips = 1};
	static uint8_t spoke_keys[ACTIVE_PEERS][WGC_KEY_LEN];
	struct wgc_peer *hub_peers[ACTIVE_PEERS];
	uint8_t pub[WGC_KEY_LEN];
	struct node hub;
	struct node spoke;
	size_t res[3];

	node_init(&hub, &hub_limits, 1, true);
	node_init(&spoke, &spoke_limits, 2, true);
	node_add_peer(&spoke, &hub);
	for (int i = 0; i < ACTIVE_PEERS; i++) {
		struct wgc_prefix prefix = {
		    .family = WGC_AF_INET,
		    .cidr = 32,
		    .ip = {10, 1, (uint8_t)(i >> 8), (uint8_t)i},
		};

		fill_random(spoke_keys[i], WGC_KEY_LEN);
		crypto_scalarmult_base(pub, spoke_keys[i]);
		if (wgc_peer_add(hub.ep, pub, world.now_ns, &hub_peers[i]) != WGC_OK ||
		    wgc_allowedip_insert(hub.ep, hub_peers[i], &prefix) != WGC_OK)
			die("adding hub peers");
	}
	res[0] = resident_bytes(hub.mem, hub.mem_size);
	for (int round = 1; round <= 2; round++) {
		for (int i = 0; i < ACTIVE_PEERS; i++) {
			/* 2 ms apart: under the built-in load threshold (1024 handshakes/s). */
			world.now_ns += 2 * MSEC;
			if (wgc_endpoint_set_private_key(spoke.ep, spoke_keys[i], world.now_ns) !=
			    WGC_OK)
				die("switching the spoke's key");
			handshake(&spoke, &hub);
			if (!has_session(hub_peers[i]))
				die("a hub session did not come up");
		}
		res[round] = resident_bytes(hub.mem, hub.mem_size);
	}
	if (total_drops(&hub) || total_drops(&spoke))
		die("drops while bringing sessions up");
	printf("  touched per peer with a live session (hub of %d peers with a /32 each, every\n"
	       "  peer handshaken and confirmed; resident pages of the hub's block, mincore):\n",
	       ACTIVE_PEERS);
	printf("    %-38s %9s %12s\n", "", "per peer", "over idle");
	printf("    %-38s %5.3f KiB\n", "configured, idle (incl. fixed part)",
	       (double)res[0] / 1024 / ACTIVE_PEERS);
	printf("    %-38s %5.3f KiB %8.3f KiB\n", "one session (current)",
	       (double)res[1] / 1024 / ACTIVE_PEERS,
	       (double)(res[1] - res[0]) / 1024 / ACTIVE_PEERS);
	printf("    %-38s %5.3f KiB %8.3f KiB\n", "after a rekey (current + previous)",
	       (double)res[2] / 1024 / ACTIVE_PEERS,
	       (double)(res[2] - res[0]) / 1024 / ACTIVE_PEERS);
	node_free(&spoke);
	node_free(&hub);
}

static void usage(void)
{
	fprintf(stderr, "usage: bench_core [data|handshake|memory]...  (default: all sections)\n");
	exit(2);
}

int main(int argc, char **argv)
{
	bool run_data = argc == 1;
	bool run_handshake = argc == 1;
	bool run_memory = argc == 1;
	char cpu[128];
	struct node a;
	struct node b;
	uint64_t start = bench_now_ns();
	uint64_t cpu_start = bench_cpu_ns();

	/* Sections can be picked by name, e.g. to profile one of them under perf. */
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "data") == 0)
			run_data = true;
		else if (strcmp(argv[i], "handshake") == 0)
			run_handshake = true;
		else if (strcmp(argv[i], "memory") == 0)
			run_memory = true;
		else
			usage();
	}
	if (sodium_init() < 0)
		die("sodium_init");
	bench_cpu_model(cpu, sizeof(cpu));
	printf("bench_core: libwgc seal/open vs raw ChaCha20-Poly1305, handshakes vs raw X25519, "
	       "memory per peer\n");
	printf(
	    "cpu: %s (%ld online). A small, shared, noisy machine: every figure is the median\n"
	    "of %d runs; core and raw alternate within each run; times are this process's CPU\n"
	    "time (time the scheduler gave to other programs is left out), the wall-clock ratio\n"
	    "is shown beside it\n",
	    cpu, sysconf(_SC_NPROCESSORS_ONLN), REPS);

	pair_init(&a, &b);
	if (run_data)
		section_data(&a, &b);
	if (run_handshake)
		section_handshake(&a, &b);
	if (run_memory) {
		section_memory_reserved();
		section_memory_idle();
		section_memory_active();
	}
	node_free(&a);
	node_free(&b);
	printf("\ntotal %.1f s wall, %.1f s CPU\n", (double)(bench_now_ns() - start) / 1e9,
	       (double)(bench_cpu_ns() - cpu_start) / 1e9);
	return 0;
}
