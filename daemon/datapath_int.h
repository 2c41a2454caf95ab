/* SPDX-License-Identifier: MIT */
/*
 * The data path's own state and the calls its three files share: datapath.c (setup, the send
 * queue, staging, actions, TUN to UDP), datapath_rx.c (UDP to TUN, handshakes, the AQM's hook)
 * and datapath_lanes.c (hand-overs between lanes). Nothing outside them includes it; the thread
 * model is datapath.h's.
 */
#ifndef WGC_DAEMON_DATAPATH_INT_H
#define WGC_DAEMON_DATAPATH_INT_H

#include "daemon/datapath_types.h"

#include <linux/virtio_net.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/aqm.h"
#include "daemon/hsqueue.h"
#include "daemon/icmp.h"
#include "daemon/inbox.h"
#include "daemon/offload.h"
#include "daemon/pool.h"
#include "daemon/tun.h"
#include "daemon/udp.h"
#include "daemon/workers.h"
#include "wgc.h"

enum {
	/* A TUN read may use the tailroom too: only packets of at most the MTU are sealed in place,
	 * and a GSO super-packet's segments are sealed from it into buffers of their own. */
	TUN_READ_MAX = POOL_BUF_DATA - WGC_DATA_HEADROOM,
	/* Buffers staging may never take, so the I/O batches always find some. */
	POOL_RESERVE = 3 * UDP_BATCH_MAX,
	/* A received datagram yields at most DELIVER, FLUSH and one message of the core's own. */
	BATCH_ACTIONS = 4 * UDP_BATCH_MAX,
	BATCH_SCRATCH = WGC_ACTION_SCRATCH_MIN * UDP_BATCH_MAX,
	SMALL_ACTIONS = 8,
	CONTROL_SLOTS = 2 * UDP_BATCH_MAX,
	TICK_ROUNDS_MAX = 4096,
	/* Handshake work per event-loop round: messages are taken from the queue until it is empty
	 * or this much time has gone (checked after each one: a message costs up to three X25519),
	 * so the data of the next round waits at most about this long for handshakes. */
	HS_ROUND_NS = 100 * 1000,
	/*
	 * Datagrams one UDP readiness event takes on. A receive of 64 UDP GRO messages can hold
	 * ~2,900 datagrams, 4-5 ms of decryption during which the TUN device (the replies of a
	 * ping, the ACKs of the other direction) waits; asking for fewer messages when they carry
	 * many datagrams bounds an event to ~200 us and lets the loop take turns. Two receive
	 * batches' worth: the syscall is still shared by ~128 datagrams.
	 */
	RX_DATAGRAMS_TARGET = 2 * UDP_BATCH_MAX,
	/* Handed-over packets one round takes from the inbox (then fresh events get a turn). */
	INBOX_ROUND_MAX = 2 * UDP_BATCH_MAX,
};

/* What a lane hands another (inbox slots' kind), and the slot's meta for it. */
enum handoff_kind {
	HANDOFF_TUN = 1,  /* a TUN read (maybe a super-packet) for a peer of that lane */
	HANDOFF_DATAGRAM, /* a datagram from the wire the kernel gave the wrong lane */
	HANDOFF_VETTED,   /* an initiation lane 0 admitted and identified (never from the wire) */
};

union handoff_meta {
	struct virtio_net_hdr hdr; /* HANDOFF_TUN */
	struct {
		struct wgc_addr src;
		struct udp_src local;
	} wire;
};
_Static_assert(sizeof(union handoff_meta) <= sizeof(((struct inbox_slot *)0)->meta),
	       "handoff meta fits an inbox slot");

/* An action list with its own storage. */
struct batch_actions {
	struct wgc_actions out;
	struct wgc_action list[BATCH_ACTIONS];
	uint8_t scratch[BATCH_SCRATCH];
};

struct small_actions {
	struct wgc_actions out;
	struct wgc_action list[SMALL_ACTIONS];
	uint8_t scratch[WGC_ACTION_SCRATCH_MIN];
};

struct datapath {
	struct wgc_endpoint *ep; /* borrowed from the device, like tun and udp */
	struct tun *tun;
	struct udp *udp;
	uint64_t now_ns; /* the time given to the public call in progress */
	struct pool pool;

	struct udp_tx tx;
	struct pool_buf *tx_owned; /* buffers the queued datagrams point into */
	uint8_t control[CONTROL_SLOTS][WGC_MAX_CONTROL_MESSAGE_LEN];
	unsigned control_used;

	struct udp_rx rx;
	struct batch_actions batch;
	struct wgc_send_job send_jobs[UDP_BATCH_MAX];
	struct wgc_receive_job recv_jobs[UDP_BATCH_MAX];
	bool is_crypto[UDP_BATCH_MAX];
	struct pool_buf *bufs[UDP_BATCH_MAX];
	/* TUN super-packets whose segments this batch seals straight from them: returned to the pool
	 * once the batch is sealed (send_prepared) */
	struct pool_buf *held[UDP_BATCH_MAX];
	unsigned held_count;
	/* messages the next UDP receive asks for: sized from the last one's datagrams per message
	 * so that one receive event works about RX_DATAGRAMS_TARGET datagrams (datapath_on_udp) */
	unsigned rx_want;
	struct offload_gro gro; /* this batch's deliveries, when the TUN device takes GSO writes */
	struct aqm aqm;         /* CoDel on the received datagrams' socket delay (WGC_AQM=0: off) */
	bool has_aqm;
	uint64_t rx_clock_ns;                  /* CLOCK_REALTIME when this receive returned */
	uint64_t rx_sojourn_ns[UDP_BATCH_MAX]; /* how long datagram i of the batch waited */
	struct datapath_stats stats;
	struct icmp_limiter icmp_limit; /* ICMP errors written to the TUN device */
	struct hsq hsq;                 /* handshake messages waiting for datapath_handshakes */
	struct workers *workers; /* crypto threads for the batches' seal/open */
	unsigned worker_count;   /* threads datapath_start_workers starts */
	struct datapath_lanes lanes; /* count 0: the only lane */
};


/* ---- shared by datapath.c, datapath_rx.c and datapath_lanes.c (event-loop thread only) ---- */

void dp_batch_reset(struct batch_actions *b);
/* WGC_WORKERS (a bad value logged), or the default for this lane's share of the CPUs (of
 * `lanes`); read at setup, as the sandbox hides /sys later. */
unsigned dp_choose_workers(unsigned lanes);
/* Sticky source: the peer's authenticated datagram arrived at local, so replies leave from it. */
void dp_learn_source(struct wgc_peer *peer, const struct udp_src *local);
/* Carries out the core's actions; a SEND without a peer (a cookie reply) leaves from local, or
 * from the kernel's choice when local is NULL. */
void dp_run_actions_from(struct datapath *dp, struct wgc_actions *out, const struct udp_src *local);
void dp_run_actions(struct datapath *dp, struct wgc_actions *out);
/* Seals the n prepared packets of the batch and queues them for sending. */
void dp_send_prepared(struct datapath *dp, unsigned n);
/* One packet read from the TUN device into the send batch (n prepared so far); the new size. */
unsigned dp_take_tun_packet(struct datapath *dp, const struct virtio_net_hdr *hdr,
			    struct pool_buf *buf, size_t len, unsigned n);
/* n (<= UDP_BATCH_MAX) received datagrams through prepare, open, commit and the actions; their
 * socket delays are in dp->rx_sojourn_ns (the AQM's signal). */
void dp_receive_batch(struct datapath *dp, uint8_t *const data[], const size_t lens[],
		      const struct wgc_addr srcs[], const struct udp_src locals[], unsigned n);
/* Consumes one handshake message whole (vetted: an initiation another lane admitted). */
void dp_consume_handshake(struct datapath *dp, uint8_t *msg, size_t len,
			  const struct wgc_addr *src, const struct udp_src *local, bool is_vetted);
/* Copies a packet into lane's inbox; counted. */
void dp_hand_over(struct datapath *dp, unsigned lane, enum handoff_kind kind,
		  const union handoff_meta *meta, const uint8_t *data, size_t len);
/* The lane of the peer a TUN packet goes to, or ours when no peer takes it. */
unsigned dp_lane_of_packet(const struct datapath *dp, const uint8_t *pkt, size_t len);

#endif
