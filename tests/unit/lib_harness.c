/* SPDX-License-Identifier: MIT */
/*
 * The in-memory test network. Time advances only in h_run_*: each step jumps to the earliest of
 * the next datagram delivery and the two endpoints' timer deadlines, so a 10-minute protocol
 * scenario runs in milliseconds and always the same way for the same seed.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- RNG ---- */

void h_rng_seed(struct h_rng *rng, uint64_t seed)
{
	memset(rng, 0, sizeof(*rng));
	rng->state = seed;
}

void h_rng_script(struct h_rng *rng, const void *bytes, size_t len)
{
	if (rng->script_count == RNG_SCRIPT_MAX || len > RNG_CHUNK_MAX)
		abort();
	memcpy(rng->script[rng->script_count], bytes, len);
	rng->script_len[rng->script_count++] = len;
}

uint64_t h_rng_next(struct h_rng *rng)
{
	/* splitmix64 */
	uint64_t z = (rng->state += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static bool take_script(struct h_rng *rng, void *buf, size_t len)
{
	for (int i = 0; i < rng->script_count; i++) {
		if (rng->script_len[i] != len)
			continue;
		memcpy(buf, rng->script[i], len);
		memmove(&rng->script[i], &rng->script[i + 1],
			sizeof(rng->script[0]) * (size_t)(rng->script_count - i - 1));
		memmove(&rng->script_len[i], &rng->script_len[i + 1],
			sizeof(rng->script_len[0]) * (size_t)(rng->script_count - i - 1));
		rng->script_count--;
		return true;
	}
	return false;
}

bool h_rng_fill(void *ctx, void *buf, size_t len)
{
	struct h_node *node = ctx;
	uint8_t *p = buf;

	if (node->rng.fail)
		return false;
	if (take_script(&node->rng, buf, len))
		return true;
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)h_rng_next(&node->rng);
	return true;
}

uint64_t h_wall_clock(void *ctx)
{
	struct h_node *node = ctx;

	if (node->wall_fixed_ns)
		return node->wall_fixed_ns;
	/* 2023-11-14 plus protocol time */
	return UINT64_C(1700000000) * SEC + node->net->now;
}

/* ---- setup ---- */

void h_node_init(struct h_net *net, int id, const uint8_t *private_key)
{
	struct h_node *node = &net->node[id];
	struct wgc_config cfg = {
		.limits = { .max_peers = 4, .max_allowed_ips = 16, .max_keypairs = 12 },
		.random = h_rng_fill,
		.wall_clock = h_wall_clock,
		.ctx = node,
		.index_lanes = net->index_lanes[id],
		.index_lane = net->index_lane[id],
	};
	size_t size = wgc_endpoint_size(&cfg.limits);

	if (node->ep) {
		wgc_endpoint_clear(node->ep);
		free(node->mem);
	}
	memset(node, 0, sizeof(*node));
	node->net = net;
	node->id = id;
	h_rng_seed(&node->rng, net->faults.state * 31 + (uint64_t)id + 1);
	node->mem = aligned_alloc(64, (size + 63) & ~(size_t)63);
	memset(node->mem, 0, size);
	if (wgc_endpoint_init(node->mem, size, &cfg, net->now, &node->ep) != WGC_OK)
		abort();
	if (private_key)
		memcpy(node->private_key, private_key, WGC_KEY_LEN);
	else
		h_rng_fill(node, node->private_key, WGC_KEY_LEN);
	if (wgc_endpoint_set_private_key(node->ep, node->private_key, net->now) != WGC_OK)
		abort();
	wgc_endpoint_get_public_key(node->ep, node->public_key);
	node->addr = (struct wgc_addr){ .family = WGC_AF_INET, .port = 51820,
					.ip = { 192, 0, 2, (uint8_t)(id + 1) } };
}

void h_net_link(struct h_net *net)
{
	for (int id = 0; id < 2; id++) {
		struct h_node *node = &net->node[id];
		struct h_node *other = &net->node[1 - id];
		struct wgc_prefix prefix = { .family = WGC_AF_INET, .cidr = 32,
					     .ip = { 10, 0, 0, (uint8_t)(2 - id) } };

		if (wgc_peer_add(node->ep, other->public_key, net->now, &node->peer) != WGC_OK ||
		    wgc_peer_set_endpoint(node->peer, &other->addr) != WGC_OK ||
		    wgc_allowedip_insert(node->ep, node->peer, &prefix) != WGC_OK)
			abort();
	}
}

void h_net_init(struct h_net *net, uint64_t seed)
{
	memset(net, 0, sizeof(*net));
	net->now = H_EPOCH;
	h_rng_seed(&net->faults, seed);
	net->latency_ns = 10 * MSEC;
	net->inflight = calloc(H_MAX_INFLIGHT, sizeof(*net->inflight));
	h_node_init(net, 0, NULL);
	h_node_init(net, 1, NULL);
	h_net_link(net);
}

void h_net_free(struct h_net *net)
{
	for (int id = 0; id < 2; id++) {
		wgc_endpoint_clear(net->node[id].ep);
		free(net->node[id].mem);
	}
	free(net->inflight);
}

/* ---- actions ---- */

static void enqueue(struct h_net *net, int from, const struct wgc_action *a)
{
	int copies = 1;

	if (net->drop_permille && h_rng_next(&net->faults) % 1000 < net->drop_permille)
		return;
	if (net->dup_permille && h_rng_next(&net->faults) % 1000 < net->dup_permille)
		copies = 2;
	for (int c = 0; c < copies && net->inflight_count < H_MAX_INFLIGHT; c++) {
		struct h_datagram *d = &net->inflight[net->inflight_count];

		d->to = 1 - from;
		d->from = net->node[from].addr;
		d->len = a->len;
		memcpy(d->data, a->data, a->len);
		d->deliver_at = net->now + net->latency_ns +
				(net->jitter_ns ? h_rng_next(&net->faults) % net->jitter_ns : 0);
		if (net->filter && !net->filter(net, from, d))
			continue;
		net->inflight_count++;
	}
}

static void deliver_plaintext(struct h_node *node, const struct wgc_action *a)
{
	uint16_t seq;

	node->delivered++;
	node->last_delivered_len = a->len;
	memcpy(node->last_delivered, a->data, a->len);
	if (a->len >= 22) {
		seq = (uint16_t)(a->data[20] << 8 | a->data[21]);
		if (node->seen_seq[seq % 8192])
			node->duplicates_delivered++;
		node->seen_seq[seq % 8192] = 1;
	}
}

static void flush_staged(struct h_net *net, int id)
{
	struct h_node *node = &net->node[id];
	int count = node->staged_count;
	static uint8_t buf[H_BUF];

	node->staged_count = 0;
	for (int i = 0; i < count; i++) {
		struct wgc_action list[8];
		uint8_t scratch[512];
		struct wgc_actions out = { list, 8, 0, scratch, sizeof(scratch), 0 };
		enum wgc_verdict v;

		memcpy(buf, node->staged[i], H_BUF);
		v = wgc_send(node->ep, net->now, NULL, buf, H_BUF, node->staged_len[i], &out);
		if (v == WGC_VERDICT_STAGE && node->staged_count < H_MAX_STAGED) {
			memcpy(node->staged[node->staged_count], node->staged[i], H_BUF);
			node->staged_len[node->staged_count++] = node->staged_len[i];
		}
		h_run_actions(net, id, &out);
	}
}

void h_run_actions(struct h_net *net, int id, struct wgc_actions *out)
{
	struct h_node *node = &net->node[id];

	for (size_t i = 0; i < out->count; i++) {
		const struct wgc_action *a = &out->list[i];
		unsigned type;

		switch (a->kind) {
		case WGC_ACTION_SEND:
			type = a->data[0] <= 4 ? a->data[0] : 0;
			node->sent_by_type[type]++;
			if (type == 4 && a->len == WGC_KEEPALIVE_MESSAGE_LEN)
				node->keepalives_sent++;
			if (type == 1 && node->send_times_count < H_MAX_LOG)
				node->send_times[node->send_times_count++] = net->now;
			enqueue(net, id, a);
			break;
		case WGC_ACTION_DELIVER:
			deliver_plaintext(node, a);
			break;
		case WGC_ACTION_FLUSH:
			node->flushes++;
			flush_staged(net, id);
			break;
		case WGC_ACTION_PURGE:
			node->purges++;
			node->staged_count = 0;
			break;
		}
	}
}

/* ---- sending and injecting ---- */

enum wgc_verdict h_send_ip(struct h_net *net, int id, uint8_t src_octet, uint8_t dst_octet,
			   uint16_t seq, size_t pad_len)
{
	struct h_node *node = &net->node[id];
	static uint8_t buf[H_BUF];
	uint8_t *p = buf + WGC_DATA_HEADROOM;
	size_t len = 22 + pad_len;
	struct wgc_action list[8];
	uint8_t scratch[512];
	struct wgc_actions out = { list, 8, 0, scratch, sizeof(scratch), 0 };
	enum wgc_verdict v;

	memset(buf, 0, sizeof(buf));
	p[0] = 0x45;
	p[2] = (uint8_t)(len >> 8);
	p[3] = (uint8_t)len;
	p[8] = 64;
	p[9] = 253; /* experimental protocol number */
	p[12] = 10, p[15] = src_octet;
	p[16] = 10, p[19] = dst_octet;
	p[20] = (uint8_t)(seq >> 8);
	p[21] = (uint8_t)seq;
	v = wgc_send(node->ep, net->now, NULL, buf, sizeof(buf), len, &out);
	if (v == WGC_VERDICT_STAGE && node->staged_count < H_MAX_STAGED) {
		memcpy(node->staged[node->staged_count], buf, H_BUF);
		node->staged_len[node->staged_count++] = len;
	}
	h_run_actions(net, id, &out);
	return v;
}

enum wgc_verdict h_send(struct h_net *net, int id, uint16_t seq)
{
	return h_send_ip(net, id, (uint8_t)(id + 1), (uint8_t)(2 - id), seq, 0);
}

enum wgc_verdict h_inject(struct h_net *net, int id, const uint8_t *data, size_t len,
			  const struct wgc_addr *from, enum wgc_drop_reason *reason)
{
	static uint8_t buf[70000];
	struct wgc_action list[8];
	uint8_t scratch[512];
	struct wgc_actions out = { list, 8, 0, scratch, sizeof(scratch), 0 };
	struct wgc_receive_job job;
	enum wgc_verdict v;

	memcpy(buf, data, len);
	v = wgc_receive_prepare(net->node[id].ep, net->now, buf, len, from, &job, &out);
	if (v == WGC_VERDICT_CRYPTO) {
		wgc_receive_open(&job);
		v = wgc_receive_commit(net->node[id].ep, net->now, &job, &out);
	}
	if (reason)
		*reason = job.drop;
	h_run_actions(net, id, &out);
	return v;
}

/* ---- running ---- */

static void deliver_due(struct h_net *net)
{
	for (int i = 0; i < net->inflight_count;) {
		struct h_datagram d;

		if (net->inflight[i].deliver_at > net->now) {
			i++;
			continue;
		}
		d = net->inflight[i];
		memmove(&net->inflight[i], &net->inflight[i + 1],
			sizeof(d) * (size_t)(net->inflight_count - i - 1));
		net->inflight_count--;
		if (!net->is_down[d.to])
			h_inject(net, d.to, d.data, d.len, &d.from, NULL);
		i = 0; /* deliveries may have queued more */
	}
}

static void tick(struct h_net *net, int id)
{
	struct wgc_action list[64];
	uint8_t scratch[64 * 200];
	struct wgc_actions out = { list, 64, 0, scratch, sizeof(scratch), 0 };

	wgc_endpoint_tick(net->node[id].ep, net->now, &out);
	h_run_actions(net, id, &out);
}

void h_run_until(struct h_net *net, uint64_t until)
{
	for (;;) {
		uint64_t next = until;

		for (int i = 0; i < net->inflight_count; i++)
			if (net->inflight[i].deliver_at < next)
				next = net->inflight[i].deliver_at;
		for (int id = 0; id < 2; id++) {
			uint64_t deadline = wgc_endpoint_next_deadline(net->node[id].ep);
			if (deadline < next)
				next = deadline;
		}
		if (next > net->now)
			net->now = next;
		deliver_due(net);
		tick(net, 0);
		tick(net, 1);
		if (net->now >= until)
			break;
	}
}

void h_run_for(struct h_net *net, uint64_t duration)
{
	h_run_until(net, net->now + duration);
}

uint64_t h_drops(const struct h_node *node, enum wgc_drop_reason reason)
{
	uint64_t counts[WGC_DROP__COUNT];

	(void)wgc_endpoint_get_drops(node->ep, counts, WGC_DROP__COUNT);
	return counts[reason];
}

struct wgc_peer_stats h_stats(const struct h_node *node)
{
	struct wgc_peer_stats st;

	wgc_peer_get_stats(node->peer, &st);
	return st;
}
