/* SPDX-License-Identifier: MIT */
/*
 * UDP sockets for the tunnel's outer packets. Two sockets rather than one dual-stack socket, as
 * wireguard-go does, so a host without IPv6 (or without IPv4) still starts, and each family gets
 * its own batch for sendmmsg. Sockets are blocking for sends and read with MSG_DONTWAIT.
 */
#include "daemon/udp.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <string.h>
#include <unistd.h>

#include "daemon/addr.h"
#include "daemon/log.h"
#include "daemon/reuseport.h"
#include "daemon/offload.h"

enum {
	SOCKET_BUFFER_BYTES = 4 << 20,
	RANDOM_PORT_ATTEMPTS = 16,
	/* One GSO message: at most 64 segments (older kernels' UDP_MAX_SEGMENTS) and what an IPv4
	 * datagram's length field holds. */
	GSO_SEGMENTS_MAX = 64,
	GSO_BYTES_MAX = 65535 - 20 - 8,
};

void udp_init(struct udp *udp)
{
	memset(udp, 0, sizeof(*udp));
	udp->fd4 = -1;
	udp->fd6 = -1;
}

static void set_buffers(int fd)
{
	int size = SOCKET_BUFFER_BYTES;

	/* The FORCE variants pass rmem_max as root; otherwise settle for what the sysctl allows. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
}

/* Opens and binds one socket; returns the fd or -errno. *port is in/out (0 = kernel's choice).
 * is_shared: SO_REUSEPORT, to join the group of the lanes' sockets (udp_open_lanes). */
static int open_one(int family, uint16_t *port, uint32_t fwmark, bool is_shared)
{
	struct sockaddr_storage ss;
	struct wgc_addr any = { .family = family == AF_INET ? WGC_AF_INET : WGC_AF_INET6,
				.port = *port };
	socklen_t len = addr_to_sockaddr(&any, &ss);
	int one = 1;
	int pmtu = family == AF_INET ? IP_PMTUDISC_DONT : IPV6_PMTUDISC_DONT;
	int fd;
	int ret;

	fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP);
	if (fd < 0)
		return -errno;
	if (family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
		goto fail;
	/* Never set DF on the outer packet: an oversized datagram is fragmented, as the kernel's
	 * WireGuard does, rather than lost to a stale path MTU. */
	if (family == AF_INET)
		(void)setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, sizeof(pmtu));
	else
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &pmtu, sizeof(pmtu));
	if (fwmark && setsockopt(fd, SOL_SOCKET, SO_MARK, &fwmark, sizeof(fwmark)) < 0)
		goto fail;
	if (is_shared && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
		goto fail;
	set_buffers(fd);
	if (bind(fd, (struct sockaddr *)&ss, len) < 0)
		goto fail;
	len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		goto fail;
	*port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port :
					  ((struct sockaddr_in6 *)&ss)->sin6_port);
	return fd;
fail:
	ret = -errno;
	close(fd);
	return ret;
}

/* A family that simply is not there (no IPv6 on the host, say) is not an error for the pair. */
static bool is_family_missing(int err)
{
	return err == -EAFNOSUPPORT || err == -EADDRNOTAVAIL || err == -EPROTONOSUPPORT;
}

/* UDP_SEGMENT (Linux 4.18): probing with size 0 changes nothing but shows the kernel knows it. */
static bool has_gso(int fd)
{
	int zero = 0;

	return fd >= 0 && !offload_is_disabled() &&
	       setsockopt(fd, SOL_UDP, UDP_SEGMENT, &zero, sizeof(zero)) == 0;
}

/* UDP_GRO (Linux 5.0): without it, nothing changes (each receive is one datagram). */
static void set_gro(int fd)
{
	int one = 1;

	if (fd >= 0 && !offload_is_disabled())
		(void)setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof(one));
}

/* Ask for each message's arrival time, the queueing delay the AQM acts on (best effort: without
 * it the AQM sees no delay and never acts). */
static void set_timestamps(int fd)
{
	int one = 1;

	if (fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)) < 0)
		log_verbose("SO_TIMESTAMPNS: %s", strerror(errno));
}

/* Ask for each datagram's local address, to reply from it (best effort: without it replies
 * leave from the kernel's choice, as before). */
static void set_pktinfo(int fd4, int fd6)
{
	int one = 1;

	if (fd4 >= 0 && setsockopt(fd4, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one)) < 0)
		log_verbose("IP_PKTINFO: %s", strerror(errno));
	if (fd6 >= 0 && setsockopt(fd6, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one)) < 0)
		log_verbose("IPV6_RECVPKTINFO: %s", strerror(errno));
}

static int open_pair(struct udp *udp, uint16_t port, uint32_t fwmark, bool is_shared)
{
	uint16_t bound = port;
	int fd4 = open_one(AF_INET, &bound, fwmark, is_shared);
	int fd6;

	if (fd4 < 0 && !is_family_missing(fd4))
		return fd4;
	if (fd4 < 0)
		bound = port;
	fd6 = open_one(AF_INET6, &bound, fwmark, is_shared);
	if (fd6 < 0 && (!is_family_missing(fd6) || fd4 < 0)) {
		if (fd4 >= 0)
			close(fd4);
		return fd6;
	}
	udp->fd4 = fd4;
	udp->fd6 = fd6 < 0 ? -1 : fd6;
	udp->has_gso4 = has_gso(udp->fd4);
	udp->has_gso6 = has_gso(udp->fd6);
	set_gro(udp->fd4);
	set_gro(udp->fd6);
	set_pktinfo(udp->fd4, udp->fd6);
	set_timestamps(udp->fd4);
	set_timestamps(udp->fd6);
	udp->port = bound;
	udp->fwmark = fwmark;
	return 0;
}

int udp_open(struct udp *udp, uint16_t port, uint32_t fwmark)
{
	int attempt;
	int ret = -EADDRINUSE;

	udp_init(udp);
	/* With a random port, IPv6 may find the port IPv4 got already taken: draw again. */
	for (attempt = 0; attempt < (port ? 1 : RANDOM_PORT_ATTEMPTS); attempt++) {
		ret = open_pair(udp, port, fwmark, false);
		if (ret != -EADDRINUSE)
			break;
	}
	if (ret < 0)
		log_error("binding UDP port %u: %s", port, strerror(-ret));
	else
		log_verbose("UDP listening on port %u (IPv4 %s, IPv6 %s, GSO %s)", udp->port,
			    udp->fd4 >= 0 ? "yes" : "no", udp->fd6 >= 0 ? "yes" : "no",
			    udp->has_gso4 || udp->has_gso6 ? "on" : "off");
	return ret;
}

/* Lanes 1 .. n-1 on lane 0's port; each family's sockets join its group in lane order, which is
 * the order the steering program numbers them in. 0 or -errno. */
static int open_more_lanes(struct udp udps[], unsigned n, uint32_t fwmark)
{
	unsigned i;
	int ret;

	for (i = 1; i < n; i++) {
		ret = open_pair(&udps[i], udps[0].port, fwmark, true);
		if (ret < 0)
			return ret;
		if ((udps[i].fd4 < 0) != (udps[0].fd4 < 0) || (udps[i].fd6 < 0) != (udps[0].fd6 < 0))
			return -EAFNOSUPPORT; /* a family came or went between two binds */
	}
	if (udps[0].fd4 >= 0 && (ret = reuseport_attach_steering(udps[0].fd4, n)) < 0)
		return ret;
	if (udps[0].fd6 >= 0 && (ret = reuseport_attach_steering(udps[0].fd6, n)) < 0)
		return ret;
	return 0;
}

int udp_open_lanes(struct udp udps[], unsigned n, uint16_t port, uint32_t fwmark)
{
	unsigned i;
	int attempt;
	int ret = -EADDRINUSE;

	if (n <= 1)
		return udp_open(&udps[0], port, fwmark);
	for (attempt = 0; attempt < (port ? 1 : RANDOM_PORT_ATTEMPTS); attempt++) {
		for (i = 0; i < n; i++)
			udp_init(&udps[i]);
		ret = open_pair(&udps[0], port, fwmark, true);
		if (ret == 0)
			ret = open_more_lanes(udps, n, fwmark);
		if (ret == 0)
			break;
		udp_close_lanes(udps, n);
		if (ret != -EADDRINUSE)
			break;
	}
	if (ret < 0)
		log_error("binding UDP port %u for %u lanes: %s", port, n, strerror(-ret));
	else
		log_verbose("UDP listening on port %u with %u sockets per family (IPv4 %s, IPv6 %s, "
			    "GSO %s)", udps[0].port, n, udps[0].fd4 >= 0 ? "yes" : "no",
			    udps[0].fd6 >= 0 ? "yes" : "no",
			    udps[0].has_gso4 || udps[0].has_gso6 ? "on" : "off");
	return ret;
}

void udp_close_lanes(struct udp udps[], unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++)
		udp_close(&udps[i]);
}

void udp_close(struct udp *udp)
{
	if (udp->fd4 >= 0)
		close(udp->fd4);
	if (udp->fd6 >= 0)
		close(udp->fd6);
	udp->fd4 = -1;
	udp->fd6 = -1;
}

static int set_mark(int fd, uint32_t fwmark)
{
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_MARK, &fwmark, sizeof(fwmark)) == 0)
		return 0;
	return -errno;
}

int udp_set_fwmark(struct udp *udp, uint32_t fwmark)
{
	int ret = set_mark(udp->fd4, fwmark);

	if (ret == 0) {
		ret = set_mark(udp->fd6, fwmark);
		if (ret < 0)
			(void)set_mark(udp->fd4, udp->fwmark);
	}
	if (ret < 0) {
		log_error("setting fwmark 0x%x on the UDP sockets: %s", fwmark, strerror(-ret));
		return ret;
	}
	udp->fwmark = fwmark;
	return 0;
}

/* The UDP_GRO segment size of a received message (0 when it is a single datagram), the local
 * address it was sent to (family WGC_AF_NONE when the kernel did not say) and its arrival time
 * (0 when the kernel did not say). */
static uint16_t parse_control(struct msghdr *h, struct udp_src *local, uint64_t *stamp_ns)
{
	struct in6_pktinfo pi6;
	struct in_pktinfo pi4;
	struct timespec ts;
	struct cmsghdr *c;
	uint16_t segment = 0;
	int seg;

	local->family = WGC_AF_NONE;
	*stamp_ns = 0;
	for (c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS &&
		    c->cmsg_len >= CMSG_LEN(sizeof(ts))) {
			memcpy(&ts, CMSG_DATA(c), sizeof(ts));
			*stamp_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
		} else if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO &&
		    c->cmsg_len >= CMSG_LEN(sizeof(seg))) {
			memcpy(&seg, CMSG_DATA(c), sizeof(seg));
			segment = seg > 0 && seg <= UINT16_MAX ? (uint16_t)seg : 0;
		} else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO &&
			   c->cmsg_len >= CMSG_LEN(sizeof(pi4))) {
			memcpy(&pi4, CMSG_DATA(c), sizeof(pi4));
			local->family = WGC_AF_INET;
			memcpy(local->ip, &pi4.ipi_addr, 4);
			local->ifindex = 0;
		} else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO &&
			   c->cmsg_len >= CMSG_LEN(sizeof(pi6))) {
			memcpy(&pi6, CMSG_DATA(c), sizeof(pi6));
			local->family = WGC_AF_INET6;
			memcpy(local->ip, &pi6.ipi6_addr, 16);
			/* The interface matters only where the address alone is ambiguous. */
			local->ifindex = IN6_IS_ADDR_LINKLOCAL(&pi6.ipi6_addr) ? pi6.ipi6_ifindex : 0;
		}
	}
	return segment;
}

int udp_recv(int fd, struct udp_rx *rx, uint8_t *const bufs[], size_t buf_size, unsigned count,
	     size_t lens[], uint16_t segs[], uint64_t stamps_ns[], struct wgc_addr srcs[],
	     struct udp_src locals[])
{
	int n;
	int i;

	for (i = 0; i < (int)count; i++) {
		rx->iov[i].iov_base = bufs[i];
		rx->iov[i].iov_len = buf_size;
		memset(&rx->msgs[i].msg_hdr, 0, sizeof(rx->msgs[i].msg_hdr));
		rx->msgs[i].msg_hdr.msg_iov = &rx->iov[i];
		rx->msgs[i].msg_hdr.msg_iovlen = 1;
		rx->msgs[i].msg_hdr.msg_name = &rx->addrs[i];
		rx->msgs[i].msg_hdr.msg_namelen = sizeof(rx->addrs[i]);
		rx->msgs[i].msg_hdr.msg_control = rx->control[i].buf;
		rx->msgs[i].msg_hdr.msg_controllen = sizeof(rx->control[i].buf);
	}
	n = recvmmsg(fd, rx->msgs, count, MSG_DONTWAIT, NULL);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	for (i = 0; i < n; i++) {
		lens[i] = rx->msgs[i].msg_hdr.msg_flags & MSG_TRUNC ? 0 : rx->msgs[i].msg_len;
		segs[i] = parse_control(&rx->msgs[i].msg_hdr, &locals[i], &stamps_ns[i]);
		if (!addr_from_sockaddr((struct sockaddr *)&rx->addrs[i], &srcs[i]))
			lens[i] = 0;
	}
	return n;
}

bool udp_tx_add(struct udp_tx *tx, const uint8_t *data, size_t len, const struct wgc_addr *dst,
		const struct udp_src *src)
{
	struct udp_tx_queue *q = dst->family == WGC_AF_INET ? &tx->q4 : &tx->q6;
	socklen_t alen;

	if (q->count == UDP_BATCH_MAX)
		return false;
	alen = addr_to_sockaddr(dst, &q->addrs[q->count]);
	if (alen == 0)
		return false;
	if (src && src->family == dst->family)
		q->srcs[q->count] = *src;
	else
		q->srcs[q->count].family = WGC_AF_NONE;
	q->iov[q->count].iov_base = (void *)(uintptr_t)data;
	q->iov[q->count].iov_len = len;
	q->addr_lens[q->count] = alen;
	q->count++;
	return true;
}

bool udp_tx_is_full(const struct udp_tx *tx)
{
	return tx->q4.count == UDP_BATCH_MAX || tx->q6.count == UDP_BATCH_MAX;
}

/* Whether datagram i may join the GSO run starting at first: same address, the run's size or
 * smaller (a smaller one ends the run), within the kernel's limits. */
static bool joins_run(const struct udp_tx_queue *q, unsigned first, unsigned i, size_t run_bytes)
{
	size_t seg = q->iov[first].iov_len;

	return i - first < GSO_SEGMENTS_MAX && q->iov[i - 1].iov_len == seg &&
	       q->iov[i].iov_len <= seg && run_bytes + q->iov[i].iov_len <= GSO_BYTES_MAX &&
	       q->addr_lens[i] == q->addr_lens[first] &&
	       memcmp(&q->addrs[i], &q->addrs[first], q->addr_lens[i]) == 0 &&
	       udp_src_equal(&q->srcs[i], &q->srcs[first]);
}

/* Appends the source's pktinfo cmsg at c; returns the bytes used (0 without a source). */
static size_t put_pktinfo(struct cmsghdr *c, const struct udp_src *src)
{
	struct in6_pktinfo pi6;
	struct in_pktinfo pi4;

	if (src->family == WGC_AF_INET) {
		memset(&pi4, 0, sizeof(pi4));
		memcpy(&pi4.ipi_spec_dst, src->ip, 4);
		c->cmsg_level = IPPROTO_IP;
		c->cmsg_type = IP_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(pi4));
		memcpy(CMSG_DATA(c), &pi4, sizeof(pi4));
		return CMSG_SPACE(sizeof(pi4));
	}
	if (src->family == WGC_AF_INET6) {
		memset(&pi6, 0, sizeof(pi6));
		memcpy(&pi6.ipi6_addr, src->ip, 16);
		pi6.ipi6_ifindex = src->ifindex;
		c->cmsg_level = IPPROTO_IPV6;
		c->cmsg_type = IPV6_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(pi6));
		memcpy(CMSG_DATA(c), &pi6, sizeof(pi6));
		return CMSG_SPACE(sizeof(pi6));
	}
	return 0;
}

/* Builds the messages for datagrams [from, count): with gso, runs to one address become one
 * message with a UDP_SEGMENT cmsg. Returns the number of messages. */
static unsigned build_msgs(struct udp_tx_queue *q, unsigned from, bool gso)
{
	unsigned m = 0;
	unsigned i = from;

	while (i < q->count) {
		struct msghdr *h = &q->msgs[m].msg_hdr;
		unsigned first = i;
		size_t run_bytes = q->iov[i].iov_len;
		size_t used;

		for (i++; gso && i < q->count && joins_run(q, first, i, run_bytes); i++)
			run_bytes += q->iov[i].iov_len;
		memset(&q->msgs[m], 0, sizeof(q->msgs[m]));
		h->msg_name = &q->addrs[first];
		h->msg_namelen = q->addr_lens[first];
		h->msg_iov = &q->iov[first];
		h->msg_iovlen = i - first;
		memset(q->control[m].buf, 0, sizeof(q->control[m].buf));
		used = put_pktinfo(&q->control[m].align, &q->srcs[first]);
		if (i - first > 1) {
			struct cmsghdr *c = (struct cmsghdr *)(void *)(q->control[m].buf + used);
			uint16_t seg = (uint16_t)q->iov[first].iov_len;

			c->cmsg_level = SOL_UDP;
			c->cmsg_type = UDP_SEGMENT;
			c->cmsg_len = CMSG_LEN(sizeof(seg));
			memcpy(CMSG_DATA(c), &seg, sizeof(seg));
			used += CMSG_SPACE(sizeof(seg));
		}
		if (used) {
			h->msg_control = q->control[m].buf;
			h->msg_controllen = used;
		}
		m++;
	}
	return m;
}

/* Sends a queue; a datagram the kernel refuses (no route, filtered) is skipped, not retried. A
 * refused GSO message is sent again datagram by datagram, and turns GSO off for the socket if no
 * GSO send has worked on it yet (a kernel or device without UDP GSO says EIO or EINVAL). */
/* The kernel refused message m's source: remember it, send every queued datagram that had it
 * from the kernel's choice instead. */
static void drop_source(struct udp_tx *tx, struct udp_tx_queue *q, unsigned first)
{
	struct udp_src bad = q->srcs[first];
	unsigned i;

	if (tx->stale_count < UDP_STALE_MAX)
		tx->stale[tx->stale_count++] = bad;
	for (i = first; i < q->count; i++)
		if (udp_src_equal(&q->srcs[i], &bad))
			q->srcs[i].family = WGC_AF_NONE;
}

static bool is_source_error(int err)
{
	return err == EINVAL || err == EADDRNOTAVAIL || err == ENETUNREACH;
}

static unsigned flush_queue(int fd, struct udp_tx *tx, struct udp_tx_queue *q, bool *has_gso,
			    bool *is_proven)
{
	unsigned failed = 0;
	unsigned done = 0; /* datagrams handled */
	unsigned m = 0;
	unsigned count = 0;
	int n;

	if (fd < 0) {
		failed = q->count;
		q->count = 0;
		return failed;
	}
	while (done < q->count) {
		if (m == count) {
			count = build_msgs(q, done, *has_gso);
			m = 0;
		}
		n = sendmmsg(fd, q->msgs + m, count - m, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n > 0) {
			for (; n > 0; n--, m++) {
				if (q->msgs[m].msg_hdr.msg_iovlen > 1)
					*is_proven = true;
				done += (unsigned)q->msgs[m].msg_hdr.msg_iovlen;
			}
			continue;
		}
		/* A source that is gone: the same datagrams again at once, from another one. */
		if (n < 0 && is_source_error(errno) && q->srcs[done].family != WGC_AF_NONE) {
			drop_source(tx, q, done);
			count = build_msgs(q, done, *has_gso);
			m = 0;
			continue;
		}
		if (q->msgs[m].msg_hdr.msg_iovlen > 1) {
			unsigned run = (unsigned)q->msgs[m].msg_hdr.msg_iovlen;

			if (!*is_proven) {
				log_verbose("UDP GSO refused (%s); sending datagrams one by one",
					    strerror(errno));
				*has_gso = false;
			}
			count = build_msgs(q, done, false);
			m = 0;
			if (*has_gso)
				count = run; /* only this run goes out unsegmented */
			continue;
		}
		failed++;
		done++;
		m++;
	}
	q->count = 0;
	return failed;
}

unsigned udp_tx_flush(struct udp *udp, struct udp_tx *tx)
{
	tx->stale_count = 0;
	return flush_queue(udp->fd4, tx, &tx->q4, &udp->has_gso4, &udp->is_gso4_proven) +
	       flush_queue(udp->fd6, tx, &tx->q6, &udp->has_gso6, &udp->is_gso6_proven);
}
