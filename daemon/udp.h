/* SPDX-License-Identifier: MIT */
/*
 * The UDP side of the daemon: one IPv4 and one IPv6 socket (IPV6_V6ONLY) bound to the same port,
 * either of which may be missing on a host without that family; fwmark via SO_MARK; batched
 * receive and send with recvmmsg/sendmmsg; conversion between sockaddr and struct wgc_addr.
 *
 * Sources: receives say which local address each datagram was sent to (IP_PKTINFO,
 * IPV6_RECVPKTINFO) and sends may name the address to leave from (struct udp_src).
 *
 * Offloads: unless WGC_NO_OFFLOAD=1, a socket whose kernel accepts UDP_SEGMENT sends each run of
 * queued datagrams to one address (equal sizes but for a shorter last) as one GSO message (a
 * UDP_SEGMENT cmsg and one iovec per datagram); when the kernel refuses such a send before any
 * succeeded, GSO is turned off for that socket and the datagrams go out one by one. Sockets also
 * ask for UDP_GRO, so a receive may return several datagrams of one flow in one buffer, and for
 * SO_TIMESTAMPNS, so the daemon knows how long each waited in the socket (aqm.h).
 */
#ifndef WGC_DAEMON_UDP_H
#define WGC_DAEMON_UDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "wgc.h"

enum { UDP_BATCH_MAX = 64 };

/* How many messages to ask the next receive for, after one that returned msgs messages holding
 * `datagrams` datagrams in all (more than msgs with UDP GRO): about `target` datagrams' worth,
 * 1 to UDP_BATCH_MAX, so that one readiness event does not take on thousands of datagrams while
 * the other sources wait. Pure. */
static inline unsigned udp_rx_want_next(unsigned msgs, unsigned datagrams, unsigned target)
{
	unsigned long long want;

	if (msgs == 0 || datagrams < msgs)
		return UDP_BATCH_MAX;
	want = ((unsigned long long)msgs * target + datagrams - 1) / datagrams;
	if (want < 1)
		return 1;
	return want > UDP_BATCH_MAX ? UDP_BATCH_MAX : (unsigned)want;
}

struct udp {
	int fd4;         /* -1 when IPv4 is unavailable */
	int fd6;         /* -1 when IPv6 is unavailable */
	uint16_t port;   /* the bound port (the kernel's choice when 0 was asked for) */
	uint32_t fwmark; /* 0 = none */
	bool has_gso4;   /* UDP_SEGMENT usable on fd4 */
	bool has_gso6;
	bool is_gso4_proven; /* a GSO send has succeeded on fd4: later refusals are per message */
	bool is_gso6_proven;
};

/*
 * A local address to send from (IP_PKTINFO / IPV6_PKTINFO): the address a peer's last
 * authenticated datagram arrived at, so replies leave from where the peer reaches us on a
 * multi-homed host ("sticky" source, as the kernel's WireGuard). family WGC_AF_NONE: the
 * kernel chooses. ifindex: the interface for an IPv6 link-local address, else 0.
 */
struct udp_src {
	uint8_t family;
	uint8_t ip[16];
	uint32_t ifindex;
};

static inline bool udp_src_equal(const struct udp_src *a, const struct udp_src *b)
{
	return a->family == b->family && a->ifindex == b->ifindex &&
	       memcmp(a->ip, b->ip, a->family == WGC_AF_INET ? 4 : 16) == 0;
}

/* An unopened pair (both fds -1). */
void udp_init(struct udp *udp);
/* Binds both families to port (0 = random, the same for both) with fwmark. Succeeds when at least
 * one family works. Returns 0 or -errno (logged). udp must be unopened. */
int udp_open(struct udp *udp, uint16_t port, uint32_t fwmark);
void udp_close(struct udp *udp);
/* The sockets of n lanes (device.h), udps[0 .. n-1], all bound to port (0 = random) with
 * SO_REUSEPORT, each family's in lane order, with the steering program (reuseport.h) that
 * delivers each datagram to the lane owning its receiver index. n == 1: udp_open, no
 * SO_REUSEPORT. On failure every one is closed. 0 or -errno (logged). Note that while these
 * sockets exist another socket of the same user with SO_REUSEPORT could join the group. */
int udp_open_lanes(struct udp udps[], unsigned n, uint16_t port, uint32_t fwmark);
void udp_close_lanes(struct udp udps[], unsigned n);
/* Sets SO_MARK on both sockets; on failure the old mark is restored. 0 or -errno (logged). */
int udp_set_fwmark(struct udp *udp, uint32_t fwmark);

/* Receive batch state, kept by the caller so nothing is set up per call. */
struct udp_rx {
	struct mmsghdr msgs[UDP_BATCH_MAX];
	struct iovec iov[UDP_BATCH_MAX];
	struct sockaddr_storage addrs[UDP_BATCH_MAX];
	union {
		char buf[CMSG_SPACE(sizeof(int)) + CMSG_SPACE(sizeof(struct in6_pktinfo)) +
			 CMSG_SPACE(sizeof(struct timespec))];
		struct cmsghdr align;
	} control[UDP_BATCH_MAX];
};

/* Receives up to count (<= UDP_BATCH_MAX) messages from fd without blocking, message i into
 * bufs[i] (buf_size bytes each; 64 KiB holds any GRO message). Fills lens[i] (0 for a truncated
 * message), srcs[i], locals[i] (the local address it was sent to; family WGC_AF_NONE if the kernel
 * did not say) and segs[i]: 0 for one datagram, else the UDP GRO segment size (the message is
 * datagrams of segs[i] bytes back to back, the last one possibly shorter) and stamps_ns[i]: when the
 * kernel received it (SO_TIMESTAMPNS, CLOCK_REALTIME ns; 0 if the kernel did not say). Returns how
 * many messages arrived (0 if none) or -errno. */
int udp_recv(int fd, struct udp_rx *rx, uint8_t *const bufs[], size_t buf_size, unsigned count,
	     size_t lens[], uint16_t segs[], uint64_t stamps_ns[], struct wgc_addr srcs[],
	     struct udp_src locals[]);

/* Datagrams waiting to be sent, one queue per family. The data pointers are borrowed until
 * udp_tx_flush returns. */
struct udp_tx_queue {
	unsigned count; /* datagrams */
	struct iovec iov[UDP_BATCH_MAX];
	struct sockaddr_storage addrs[UDP_BATCH_MAX];
	socklen_t addr_lens[UDP_BATCH_MAX];
	struct udp_src srcs[UDP_BATCH_MAX];
	/* Built at flush: one message per datagram, or per GSO run of datagrams. */
	struct mmsghdr msgs[UDP_BATCH_MAX];
	union {
		char buf[CMSG_SPACE(sizeof(uint16_t)) + CMSG_SPACE(sizeof(struct in6_pktinfo))];
		struct cmsghdr align;
	} control[UDP_BATCH_MAX];
};

enum { UDP_STALE_MAX = 4 };

struct udp_tx {
	struct udp_tx_queue q4;
	struct udp_tx_queue q6;
	/* Sources the kernel refused at the last flush (the address is gone or unroutable): the
	 * datagrams went out again from the kernel's choice; the caller forgets these. */
	struct udp_src stale[UDP_STALE_MAX];
	unsigned stale_count;
};

/* Queues one datagram, to leave from src (NULL or family WGC_AF_NONE: the kernel chooses; a
 * source of the other family is ignored). Returns false when dst's family queue is full (flush,
 * then add again) or the family is invalid. */
bool udp_tx_add(struct udp_tx *tx, const uint8_t *data, size_t len, const struct wgc_addr *dst,
		const struct udp_src *src);
bool udp_tx_is_full(const struct udp_tx *tx);
/* Sends everything queued (blocking while the socket buffer is full, which is the back-pressure
 * towards the TUN reader) and empties both queues. A datagram whose source the kernel refuses
 * (EINVAL, EADDRNOTAVAIL, ENETUNREACH: the address went away) is sent again at once without one,
 * and the source is listed in tx->stale (reset at each flush). Returns how many datagrams could
 * not be sent. May turn GSO off in udp (see above). */
unsigned udp_tx_flush(struct udp *udp, struct udp_tx *tx);

#endif
