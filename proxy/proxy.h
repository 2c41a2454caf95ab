/* SPDX-License-Identifier: MIT */
/*
 * proxy/proxy: the state of one wgc-proxy process and the contracts between its files.
 *
 *   main.c   flags, configuration, daemonizing, signals, the epoll loop
 *   wire.c   the wgc endpoint, its peers, the one UDP socket, the lwIP interface (netif/wgcif)
 *   conn.c, negotiate.c, relay.c, listen.c  TCP client connections (see proxy/conn.h)
 *   socks5_udp.c, udp_tunnel.c, resolver.c, metrics.c  UDP ASSOCIATE, UDP tunnels, tunnel DNS,
 *            --metrics
 *   socks5.c, http.c, dns.c, config.c  wire and file formats (pure)
 *
 * Threads: one. lwIP (raw API, never its tcpip thread), the wgc endpoint and every socket are
 * driven from the epoll loop, so lwIP callbacks and socket handlers never run concurrently.
 */
#ifndef WGC_PROXY_PROXY_H
#define WGC_PROXY_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lwip/ip_addr.h"
#include "netif/wgcif.h"
#include "proxy/config.h"
#include "wgc.h"

struct conn;
struct listener;
struct resolver;
struct udp_tunnel;
struct metrics;

/* An epoll registration: events for fd go to fn. */
struct watch {
	int fd;
	uint32_t events; /* what epoll currently waits for */
	bool is_registered;
	/* fd is one epoll refuses (a regular file as standard input or output): it is always
	 * ready, and the loop calls fn with events on every turn while events is not 0 */
	bool is_always_ready;
	void (*fn)(struct watch *w, uint32_t events);
};

enum { PROXY_READY_MAX = 2 }; /* always-ready watches: STDIO's standard input and output */

/* Counters: shown on SIGUSR1; every bad client input lands in exactly one. */
struct proxy_stats {
	uint64_t accepted;         /* client connections accepted */
	uint64_t rejected_full;    /* closed at once: the connection limit was reached */
	uint64_t socks_ok;         /* CONNECT requests that got "succeeded" */
	uint64_t socks_bad_version;
	uint64_t socks_no_method;  /* no acceptable authentication method offered */
	uint64_t socks_bad_auth;   /* wrong user/password or malformed sub-negotiation */
	uint64_t socks_bad_format; /* reserved bytes, empty names, zero methods */
	uint64_t socks_bad_command; /* unknown or unsupported command */
	uint64_t socks_bad_address_type;
	uint64_t socks_truncated;  /* client closed before its request was complete */
	uint64_t handshake_timeouts; /* client stalled before its request was complete */
	uint64_t http_ok;          /* CONNECT or forwarded requests connected */
	uint64_t http_bad_request; /* 400, 431, 501 */
	uint64_t http_bad_auth;    /* 407 */
	uint64_t http_truncated;   /* client closed before its head was complete */
	uint64_t resolve_failed;   /* a name that did not resolve */
	uint64_t connect_no_route; /* no peer is allowed for the target (network unreachable) */
	uint64_t connect_refused;  /* the target answered with a reset */
	uint64_t connect_timeouts; /* no answer within CONNECT_TIMEOUT */
	uint64_t connect_failed;   /* other lwIP errors */
	uint64_t relay_resets;     /* established connections ended by an error or reset */
	uint64_t bytes_up;         /* client -> tunnel */
	uint64_t bytes_down;       /* tunnel -> client */
	uint64_t udp_rx_errors;    /* oversized or unreadable datagrams on the WireGuard socket */
	uint64_t udp_flows;        /* UDP tunnel flows created */
	uint64_t udp_flows_expired;
	uint64_t udp_up;           /* datagrams into the tunnel */
	uint64_t udp_down;         /* datagrams out of the tunnel */
	uint64_t udp_dropped;      /* no memory, flow limit, full socket */
};

struct proxy {
	struct config *cfg;
	int epoll_fd;
	bool is_stopping;
	bool is_stdio_done; /* [STDIOTunnel]'s connection ended: the program ends (exit_status) */
	int exit_status;
	struct watch *ready[PROXY_READY_MAX]; /* the always-ready watches */
	size_t ready_count;
	/* wire.c */
	void *ep_mem;
	size_t ep_mem_size;
	struct wgc_endpoint *ep;
	struct wgcif wi;
	struct wgcif_peer *peer_slots; /* one per configured peer */
	struct watch udp;
	int udp_family; /* AF_INET6 (dual stack) or AF_INET */
	bool has_gso;   /* the UDP socket takes UDP_SEGMENT (GSO) messages */
	bool has_ip4;   /* a tunnel IPv4 address is configured */
	bool has_ip6;
	struct resolver *resolver; /* resolver.c: only with a DNS server configured */
	/* conn.c */
	struct listener *listeners;
	size_t listener_count;
	struct conn *conns; /* every live client connection, doubly linked */
	struct conn *dead;  /* closed in this loop iteration, freed by conn_reap */
	struct conn *flush_list; /* tunnel data to write out at the end of this loop turn */
	size_t conn_count;
	size_t conn_max;
	struct udp_tunnel *udp_tunnels; /* udp_tunnel.c */
	struct metrics *metrics;        /* metrics.c: --metrics */
	struct proxy_stats stats;
};

/* Monotonic time in nanoseconds. */
uint64_t proxy_now_ns(void);

/* Adds w's fd to the epoll set or changes its events; events 0 takes it out of the set (epoll
 * would still report hang-ups). An fd epoll refuses with EPERM (a regular file) becomes an
 * always-ready watch (at most PROXY_READY_MAX). Returns false on failure. */
bool proxy_watch(struct proxy *px, struct watch *w, uint32_t events);
/* Removes w's fd from the epoll set (before closing it). */
void proxy_unwatch(struct proxy *px, struct watch *w);

/* ---- wire.c ---- */

/* Sets up the endpoint from px->cfg, the peers (resolving endpoint names), lwIP and the
 * interface, and the UDP socket. Returns false with one line in err. */
bool wire_start(struct proxy *px, char *err, size_t err_size);
/* Sends what must go out now (persistent keepalives); call once the loop runs. */
void wire_kick(struct proxy *px);
/* Sends the datagrams sealed since the last call (one sendmmsg, GSO runs); the loop calls it
 * before it sleeps. */
void wire_flush(struct proxy *px);
/* Fires due wgc timers; returns the next deadline (monotonic ns). */
uint64_t wire_tick(struct proxy *px);
/* Removes the interface, wipes the endpoint, closes the socket. */
void wire_stop(struct proxy *px);
/* Writes one status line per peer to f (a FILE *). */
void wire_status(struct proxy *px, void *f);
/* A peer's public key in standard base64 (44 characters and a NUL): the status line shows its
 * first 8, the metrics all of it. */
enum { PROXY_KEY_B64_SIZE = 45 };
void wire_peer_key_b64(struct wgc_peer *peer, char out[PROXY_KEY_B64_SIZE]);
/*
 * Resolves host (a literal or a name, with getaddrinfo) to an lwIP address of a family the tunnel
 * has an address for, IPv4 first. Returns false if it cannot.
 */
bool wire_resolve(struct proxy *px, const char *host, ip_addr_t *out);
/* Whether the tunnel can reach ip now: some peer's allowed IPs hold it and that peer has an
 * endpoint. *no_route tells the two failures apart. */
bool wire_routable(struct proxy *px, const ip_addr_t *ip, bool *no_route);

/* ---- listen.c (conn_start, conn_stop, conn_lwip_busy), conn.c (sweep, reap) ---- */

/* Opens the listeners of px->cfg's services and starts [STDIOTunnel]'s connection on standard
 * input and output. Returns false with one line in err. */
bool conn_start(struct proxy *px, char *err, size_t err_size);
/* Expires stalled handshakes and connects; call about once a second. */
void conn_sweep(struct proxy *px, uint64_t now);
/* Writes what the tunnel delivered to connections during this loop turn to their clients
 * (once per connection per turn); call before the loop sleeps. */
void conn_flush_queued(struct proxy *px);
/* Frees the connections closed since the last call; the loop calls it after each batch of
 * events, when no event can point to them any more. */
void conn_reap(struct proxy *px);
/* Closes every connection (resets) and every listener. */
void conn_stop(struct proxy *px);
/* Whether lwIP still has a TCP connection with data or a FIN to deliver (the loop lets
 * [STDIOTunnel]'s last bytes go out before the program exits). */
bool conn_lwip_busy(void);

#endif
