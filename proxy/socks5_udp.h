/* SPDX-License-Identifier: MIT */
/*
 * proxy/socks5_udp: one SOCKS5 UDP ASSOCIATE (RFC 1928 section 7): a host UDP socket the client
 * sends its wrapped datagrams to, and an lwIP UDP pcb that sends them into the tunnel and
 * receives the answers, which go back to the client wrapped with their source. It lives inside
 * its SOCKS5 connection (struct conn) and ends with it. Only the client's IP address (that of
 * the TCP connection) may use it; the first datagram fixes its port.
 *
 * Destinations may be names (ATYP 3): they resolve as CONNECT's do (the tunnel's DNS when one
 * is configured, asynchronously), into a small table per association that keeps each answer
 * for SOCKS5_UDP_NAME_TTL_S; datagrams to a name still resolving wait, a few at most, and go
 * out when it resolves (or are dropped, counted, when it does not).
 */
#ifndef WGC_PROXY_SOCKS5_UDP_H
#define WGC_PROXY_SOCKS5_UDP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "proxy/proxy.h"

struct udp_pcb;
struct socks5_udp_names;

enum {
	SOCKS5_UDP_NAMES_MAX = 8,    /* names per association */
	SOCKS5_UDP_WAITING_MAX = 16, /* datagrams waiting for their name, per association */
	SOCKS5_UDP_NAME_TTL_S = 60,
};

struct socks5_assoc {
	struct watch w; /* the host socket; first, for the epoll callback */
	struct proxy *px;
	struct udp_pcb *pcb;
	bool is_open;
	bool has_client;
	struct sockaddr_storage client; /* the client's UDP address, from its first datagram */
	socklen_t client_len;
	struct sockaddr_storage peer;   /* the TCP connection's peer: only its IP may send */
	struct socks5_udp_names *names; /* heap, from the first datagram to a name */
};

/*
 * Opens the association: a UDP socket on local's IP (the address the client reached the proxy
 * at, port chosen by the kernel) and an lwIP pcb. On success *bound holds the socket's address
 * for the reply. peer is the TCP client's address. a is caller memory (inside struct conn).
 */
bool socks5_assoc_open(struct socks5_assoc *a, struct proxy *px,
		       const struct sockaddr_storage *local, const struct sockaddr_storage *peer,
		       struct sockaddr_storage *bound);
/* Closes both sockets, cancels the lookups and frees what waits; the memory stays the
 * caller's. Safe on a closed association. */
void socks5_assoc_close(struct socks5_assoc *a);

#endif
