/* SPDX-License-Identifier: MIT */
/*
 * netif/wgcif: libwgc as an lwIP network interface. Packets lwIP routes to the interface are
 * sealed by the wgc endpoint and handed to the caller's send callback as UDP datagrams; datagrams
 * the caller receives are opened in place and fed to lwIP's ip_input. Peers are chosen by the
 * core's cryptokey routing (allowed IPs), so one interface serves any number of peers. Packets
 * that wait for a handshake are staged per peer (bounded) and flushed or purged as the core says.
 *
 * Portable: it uses only lwIP's raw API (netif, pbuf) and include/wgc.h, so the same file serves
 * the Linux proxy and a microcontroller running lwIP. It does not own the UDP socket, the clock or
 * the peers' configuration: the caller brings those (struct wgcif_ops, wgc_peer_add, ...).
 *
 * Threads: every function here runs in lwIP's core context (the one thread that calls lwIP with
 * NO_SYS=1, or with the core lock held), which is also the serial context of the wgc endpoint.
 */
#ifndef WGC_NETIF_WGCIF_H
#define WGC_NETIF_WGCIF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "wgc.h"

enum {
	/* Largest tunnel MTU the interface accepts, bytes (the transmit buffer is sized by it). */
	WGCIF_MTU_MAX = 1500,
	/* Packets kept per peer while its handshake runs; older ones are dropped first (as the
	 * kernel does with its staged queue). */
	WGCIF_STAGE_MAX = 32,
	/* A buffer that holds any data message of the interface: header, MTU, padding and tag. */
	WGCIF_MESSAGE_MAX = WGC_DATA_HEADROOM + WGCIF_MTU_MAX + WGC_DATA_TAILROOM,
};

/* What the interface needs from its host. */
struct wgcif_ops {
	/* Sends data[0..len) as one UDP datagram to addr (borrowed for the call). Returns false if it
	 * could not (counted as send_errors; the packet is lost as on any link). */
	bool (*send)(void *ctx, const struct wgc_addr *addr, const uint8_t *data, size_t len);
	/* Monotonic time in nanoseconds (the wgc endpoint's clock). */
	uint64_t (*now_ns)(void *ctx);
};

/* Per-peer state of the interface, in caller memory; attach one to every wgc peer. */
struct wgcif_peer {
	struct pbuf *staged_head; /* packets waiting for a session, linked by ->next, oldest first */
	struct pbuf *staged_tail;
	uint16_t staged_count;
};

/* Counters, packets unless said otherwise. */
struct wgcif_stats {
	uint64_t rx_packets;  /* delivered to lwIP */
	uint64_t rx_bytes;    /* plaintext bytes of those */
	uint64_t tx_packets;  /* sealed and handed to send */
	uint64_t tx_bytes;    /* plaintext bytes of those */
	uint64_t rx_dropped;  /* datagrams the core dropped (the core's counters say why) */
	uint64_t tx_dropped;  /* packets the core dropped (no route, no endpoint, ...) */
	uint64_t tx_too_big;  /* packets larger than the MTU */
	uint64_t staged;      /* packets staged for a handshake */
	uint64_t stage_dropped; /* staged packets purged, pushed out by newer ones, or unstageable */
	uint64_t no_memory;   /* pbuf allocations that failed */
	uint64_t send_errors; /* send callback returned false */
};

struct wgcif {
	struct netif netif; /* first, so lwIP's netif pointer converts back */
	struct wgc_endpoint *ep;
	const struct wgcif_ops *ops;
	void *ctx;
	uint16_t mtu;
	struct wgcif_stats stats;
	/* The one transmit buffer: packets are sealed here one at a time (the core context is
	 * serial and the send callback never re-enters lwIP). */
	uint8_t tx_buf[WGCIF_MESSAGE_MAX] __attribute__((aligned(16)));
};

/* ---- lifetime ---- */

/*
 * Adds the interface to lwIP (netif_add_noaddr) over the endpoint ep (borrowed; it must outlive
 * the interface), with tunnel MTU mtu (0 = WGC_DEFAULT_MTU; above WGCIF_MTU_MAX is ERR_ARG). ops
 * and ctx are retained. The interface starts down and without addresses. wi is caller memory
 * and must stay put until wgcif_remove.
 */
err_t wgcif_add(struct wgcif *wi, struct wgc_endpoint *ep, const struct wgcif_ops *ops, void *ctx,
		uint16_t mtu);
/* Gives the interface its IPv4 address (prefix_len 0..32). */
void wgcif_set_ip4(struct wgcif *wi, const ip4_addr_t *addr, uint8_t prefix_len);
/* Adds an IPv6 address, preferred at once (no duplicate detection on a tunnel). ERR_MEM when
 * all LWIP_IPV6_NUM_ADDRESSES slots are taken. */
err_t wgcif_add_ip6(struct wgcif *wi, const ip6_addr_t *addr);
/* Sets the interface up, link up, and (if is_default) lwIP's default interface. */
void wgcif_up(struct wgcif *wi, bool is_default);
/* Drops every staged packet and removes the interface from lwIP. The endpoint is the caller's. */
void wgcif_remove(struct wgcif *wi);

/* ---- peers ---- */

/* Attaches caller memory slot (zeroed here) to peer as its interface state (wgc_peer_set_user). */
void wgcif_peer_attach(struct wgcif_peer *slot, struct wgc_peer *peer);
/* Drops the peer's staged packets; call before wgc_peer_remove. */
void wgcif_peer_detach(struct wgcif *wi, struct wgc_peer *peer);
/* Sets the peer's persistent keepalive and sends the first keepalive (or handshake) now. */
void wgcif_peer_set_keepalive(struct wgcif *wi, struct wgc_peer *peer, uint16_t interval_s);

/* ---- data path and timers ---- */

/*
 * One received UDP datagram: p (ownership passes to the call) holds it from p->payload, src is
 * its source (borrowed). Decrypted in place; the plaintext goes to lwIP in the same pbuf. A
 * chained pbuf is copied into one first.
 */
void wgcif_input(struct wgcif *wi, struct pbuf *p, const struct wgc_addr *src);
/* Fires the endpoint's due timers; returns the next deadline (monotonic ns, UINT64_MAX if none). */
uint64_t wgcif_tick(struct wgcif *wi);

#endif
