/* SPDX-License-Identifier: MIT */
/*
 * Test fixtures: a fake clock, a deterministic RNG with scripted answers, and a two-endpoint
 * in-memory network that can drop, duplicate, delay and reorder datagrams. Everything a protocol
 * test needs to drive libwgc through minutes of protocol time in milliseconds.
 */
#ifndef WGC_TESTS_HARNESS_H
#define WGC_TESTS_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/bytes.h"
#include "wgc.h"

#define SEC WGC_NSEC_PER_SEC
#define MSEC (WGC_NSEC_PER_SEC / 1000)
/* Protocol time starts here so that "now - 0" is never accidentally small. */
#define H_EPOCH (UINT64_C(1000) * SEC)

/* ---- deterministic RNG with scripted answers ---- */

enum { RNG_SCRIPT_MAX = 16, RNG_CHUNK_MAX = 64 };

struct h_rng {
	uint64_t state;
	bool fail;                 /* make every call fail */
	int script_count;
	size_t script_len[RNG_SCRIPT_MAX];
	uint8_t script[RNG_SCRIPT_MAX][RNG_CHUNK_MAX];
};

void h_rng_seed(struct h_rng *rng, uint64_t seed);
/* The next request of exactly len bytes returns these bytes (FIFO per length). */
void h_rng_script(struct h_rng *rng, const void *bytes, size_t len);
uint64_t h_rng_next(struct h_rng *rng);
bool h_rng_fill(void *ctx, void *buf, size_t len); /* wgc_random_fn; ctx is a struct h_node */
uint64_t h_wall_clock(void *ctx);                  /* wgc_wall_clock_fn; ctx is a struct h_node */

/* ---- a node: one endpoint and what happened to it ---- */

enum { H_MAX_STAGED = 128, H_BUF = 2048, H_MAX_LOG = 64 };

struct h_net;

struct h_node {
	struct h_net *net;
	int id;
	void *mem;
	struct wgc_endpoint *ep;
	struct wgc_addr addr;
	uint8_t private_key[WGC_KEY_LEN];
	uint8_t public_key[WGC_KEY_LEN];
	struct wgc_peer *peer; /* the other node */
	struct h_rng rng;
	uint64_t wall_fixed_ns; /* if non-zero, the wall clock returns this */
	/* staged plaintext packets awaiting FLUSH */
	int staged_count;
	size_t staged_len[H_MAX_STAGED];
	uint8_t staged[H_MAX_STAGED][H_BUF];
	/* what the node did */
	uint64_t sent_by_type[5];      /* datagrams sent, by message type (index 4 = data) */
	uint64_t keepalives_sent;
	uint64_t delivered;
	uint64_t purges;
	uint64_t flushes;
	uint8_t last_delivered[H_BUF];
	size_t last_delivered_len;
	uint64_t send_times[H_MAX_LOG]; /* times of initiations sent */
	int send_times_count;
	/* sequence numbers of delivered test packets, to spot duplicates */
	uint8_t seen_seq[8192];
	uint64_t duplicates_delivered;
};

/* ---- the network ---- */

enum { H_MAX_INFLIGHT = 4096 };

struct h_datagram {
	uint64_t deliver_at;
	int to;
	struct wgc_addr from;
	size_t len;
	uint8_t data[H_BUF];
};

/* Return false to drop a datagram; may modify it. */
typedef bool (*h_filter_fn)(struct h_net *net, int from, struct h_datagram *d);

struct h_net {
	uint64_t now;
	struct h_node node[2];
	struct h_rng faults;
	unsigned drop_permille;
	unsigned dup_permille;
	uint64_t latency_ns;     /* fixed one-way delay */
	uint64_t jitter_ns;      /* extra random delay up to this (reorders) */
	bool is_down[2];         /* datagrams to this node are lost */
	h_filter_fn filter;
	void *filter_ctx;
	/* Index partition of each node's endpoint (wgc_config), read by h_node_init: 0 = none. */
	uint8_t index_lanes[2];
	uint8_t index_lane[2];
	int inflight_count;
	struct h_datagram *inflight; /* H_MAX_INFLIGHT */
};

/* Two endpoints A (node 0, 10.0.0.1, 192.0.2.1:51820) and B (node 1, 10.0.0.2, 192.0.2.2:51820),
 * each configured with the other as a peer, allowed IP the other's /32. */
void h_net_init(struct h_net *net, uint64_t seed);
void h_net_free(struct h_net *net);
/* Keys from fixed bytes instead of the RNG (call before h_net_link). */
void h_node_init(struct h_net *net, int id, const uint8_t *private_key);
void h_net_link(struct h_net *net);

/* Builds an IPv4 packet src -> dst (last octets of 10.0.0.x) carrying a 2-byte sequence number
 * and pad_len extra bytes, and sends it from node id. Returns the verdict. */
enum wgc_verdict h_send_ip(struct h_net *net, int id, uint8_t src_octet, uint8_t dst_octet,
			   uint16_t seq, size_t pad_len);
/* Sends the packet A->B or B->A with default addresses. */
enum wgc_verdict h_send(struct h_net *net, int id, uint16_t seq);
/* Handles the actions of a call made by the test on node id. */
void h_run_actions(struct h_net *net, int id, struct wgc_actions *out);
/* Feeds raw bytes to node id as if from `from`; runs the resulting actions; returns the verdict and
 * the drop reason. */
enum wgc_verdict h_inject(struct h_net *net, int id, const uint8_t *data, size_t len,
			  const struct wgc_addr *from, enum wgc_drop_reason *reason);

/* Runs the network and the timers until `until` (absolute); returns when nothing is due. */
void h_run_until(struct h_net *net, uint64_t until);
/* Runs for `duration` from now. */
void h_run_for(struct h_net *net, uint64_t duration);

uint64_t h_drops(const struct h_node *node, enum wgc_drop_reason reason);
struct wgc_peer_stats h_stats(const struct h_node *node);

#endif
