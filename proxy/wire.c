/* SPDX-License-Identifier: MIT */
/*
 * The tunnel side of wgc-proxy: the wgc endpoint and its peers from the configuration, the one
 * UDP socket (dual-stack IPv6, or IPv4 only), and the lwIP interface over both. Datagrams are
 * read straight into pbufs, so a data message is decrypted in place and handed to lwIP without
 * a copy.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "lwip/init.h"
#include "lwip/ip_addr.h"
#include "lwip/timeouts.h"
#include "proxy/proxy.h"

enum {
	UDP_READS_PER_WAKE = 64, /* then other sockets get their turn */
	DATAGRAM_MAX = WGCIF_MESSAGE_MAX,
	/* Datagrams sealed in one loop turn wait here and go out in one sendmmsg (wire_flush). */
	TX_BATCH_MAX = 64,
	/* Datagrams per recvmmsg. 16 (22 KB of TCP) measured best: 32 is half of lwIP's 64 KiB
	 * window, which then stays shut until the batch is through; 8 costs more calls. */
	RX_BATCH_MAX = 16,
	/* One GSO message: at most 64 segments (older kernels' UDP_MAX_SEGMENTS) and what an IPv4
	 * datagram can carry. */
	GSO_SEGMENTS_MAX = 64,
	GSO_BYTES_MAX = 65535 - 20 - 8,
};

/*
 * The transmit batch. The interface seals one packet at a time into its own buffer and calls
 * send_cb, which copies it here (about 1.4 KB, far cheaper than the sendto it replaces); the
 * loop calls wire_flush before it sleeps, and send_cb when the batch is full. Runs of datagrams
 * to one address and of one size (the last may be shorter) become one UDP GSO message, so a
 * window of TCP segments costs one system call and one trip down the kernel's UDP stack.
 */
static struct {
	uint8_t data[TX_BATCH_MAX][DATAGRAM_MAX];
	struct iovec iov[TX_BATCH_MAX];
	struct sockaddr_storage addr[TX_BATCH_MAX];
	socklen_t addr_len[TX_BATCH_MAX];
	struct mmsghdr msgs[TX_BATCH_MAX];
	union {
		char buf[CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr align;
	} control[TX_BATCH_MAX];
	unsigned count;
} tx;

static bool random_cb(void *ctx, void *buf, size_t len)
{
	uint8_t *p = buf;

	(void)ctx;
	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return false;
		}
		p += n;
		len -= (size_t)n;
	}
	return true;
}

static uint64_t wall_cb(void *ctx)
{
	struct timespec ts;

	(void)ctx;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t proxy_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t now_cb(void *ctx)
{
	(void)ctx;
	return proxy_now_ns();
}

/* ---- addresses ---- */

static socklen_t to_sockaddr(const struct proxy *px, const struct wgc_addr *a,
			     struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (px->udp_family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		if (a->family != WGC_AF_INET)
			return 0;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(a->port);
		memcpy(&sin->sin_addr, a->ip, 4);
		return sizeof(*sin);
	}
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(a->port);
	if (a->family == WGC_AF_INET) {
		sin6->sin6_addr.s6_addr[10] = 0xff;
		sin6->sin6_addr.s6_addr[11] = 0xff;
		memcpy(&sin6->sin6_addr.s6_addr[12], a->ip, 4);
	} else {
		memcpy(&sin6->sin6_addr, a->ip, 16);
		sin6->sin6_scope_id = a->scope_id;
	}
	return sizeof(*sin6);
}

static bool from_sockaddr(const struct sockaddr_storage *ss, struct wgc_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;

		a->family = WGC_AF_INET;
		a->port = ntohs(sin->sin_port);
		memcpy(a->ip, &sin->sin_addr, 4);
		return true;
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;

		a->port = ntohs(sin6->sin6_port);
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			a->family = WGC_AF_INET;
			memcpy(a->ip, &sin6->sin6_addr.s6_addr[12], 4);
		} else {
			a->family = WGC_AF_INET6;
			memcpy(a->ip, &sin6->sin6_addr, 16);
			a->scope_id = sin6->sin6_scope_id;
		}
		return true;
	}
	return false;
}

/* ---- the interface's host callbacks ---- */

/* Whether datagram i may join the GSO run that starts at first: same address, the run's size
 * (a shorter one ends the run), within the kernel's limits. */
static bool joins_run(unsigned first, unsigned i, size_t run_bytes)
{
	size_t seg = tx.iov[first].iov_len;

	return i - first < GSO_SEGMENTS_MAX && tx.iov[i - 1].iov_len == seg &&
	       tx.iov[i].iov_len <= seg && run_bytes + tx.iov[i].iov_len <= GSO_BYTES_MAX &&
	       tx.addr_len[i] == tx.addr_len[first] &&
	       memcmp(&tx.addr[i], &tx.addr[first], tx.addr_len[i]) == 0;
}

/* Builds the messages for the batch (runs as GSO messages when gso); returns their number. */
static unsigned build_msgs(bool gso)
{
	unsigned m = 0;
	unsigned i = 0;

	while (i < tx.count) {
		struct msghdr *h = &tx.msgs[m].msg_hdr;
		unsigned first = i;
		size_t run_bytes = tx.iov[i].iov_len;

		for (i++; gso && i < tx.count && joins_run(first, i, run_bytes); i++)
			run_bytes += tx.iov[i].iov_len;
		memset(&tx.msgs[m], 0, sizeof(tx.msgs[m]));
		h->msg_name = &tx.addr[first];
		h->msg_namelen = tx.addr_len[first];
		h->msg_iov = &tx.iov[first];
		h->msg_iovlen = i - first;
		if (i - first > 1) {
			struct cmsghdr *c = &tx.control[m].align;
			uint16_t seg = (uint16_t)tx.iov[first].iov_len;

			memset(tx.control[m].buf, 0, sizeof(tx.control[m].buf));
			c->cmsg_level = SOL_UDP;
			c->cmsg_type = UDP_SEGMENT;
			c->cmsg_len = CMSG_LEN(sizeof(seg));
			memcpy(CMSG_DATA(c), &seg, sizeof(seg));
			h->msg_control = tx.control[m].buf;
			h->msg_controllen = sizeof(tx.control[m].buf);
		}
		m++;
	}
	return m;
}

void wire_flush(struct proxy *px)
{
	unsigned m;
	unsigned done = 0;

	if (tx.count == 0)
		return;
	m = build_msgs(px->has_gso);
	while (done < m) {
		int n = sendmmsg(px->udp.fd, &tx.msgs[done], m - done, 0);

		if (n > 0) {
			done += (unsigned)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (px->has_gso && (errno == EIO || errno == EINVAL) &&
		    tx.msgs[done].msg_hdr.msg_iovlen > 1) {
			/* no UDP GSO on this kernel or route: datagram by datagram from now on */
			px->has_gso = false;
			m = build_msgs(false);
			done = 0;
			continue;
		}
		/* A full socket buffer (or a refused destination) loses the datagram, as a full
		 * link would; TCP recovers. */
		px->wi.stats.send_errors += tx.msgs[done].msg_hdr.msg_iovlen;
		done++;
	}
	tx.count = 0;
}

static bool send_cb(void *ctx, const struct wgc_addr *addr, const uint8_t *data, size_t len)
{
	struct proxy *px = ctx;
	unsigned i;

	if (len > DATAGRAM_MAX)
		return false;
	if (tx.count == TX_BATCH_MAX)
		wire_flush(px);
	i = tx.count;
	tx.addr_len[i] = to_sockaddr(px, addr, &tx.addr[i]);
	if (tx.addr_len[i] == 0)
		return false;
	memcpy(tx.data[i], data, len);
	tx.iov[i].iov_base = tx.data[i];
	tx.iov[i].iov_len = len;
	tx.count++;
	return true;
}

static const struct wgcif_ops wire_ops = { .send = send_cb, .now_ns = now_cb };

/* Receive buffers for one recvmmsg, kept between wakes: a datagram is read straight into its
 * pbuf, which then goes to the interface (and lwIP) as it is. */
static struct pbuf *rx_pool[RX_BATCH_MAX];

static void on_udp(struct watch *w, uint32_t events)
{
	struct proxy *px = (struct proxy *)((char *)w - offsetof(struct proxy, udp));
	struct mmsghdr msgs[RX_BATCH_MAX];
	struct iovec iov[RX_BATCH_MAX];
	struct sockaddr_storage from[RX_BATCH_MAX];

	(void)events;
	for (int round = 0; round < UDP_READS_PER_WAKE / RX_BATCH_MAX; round++) {
		unsigned count = 0;
		int n;

		for (; count < RX_BATCH_MAX; count++) {
			if (!rx_pool[count])
				rx_pool[count] = pbuf_alloc(PBUF_RAW, DATAGRAM_MAX, PBUF_RAM);
			if (!rx_pool[count])
				break;
			iov[count].iov_base = rx_pool[count]->payload;
			iov[count].iov_len = DATAGRAM_MAX;
			memset(&msgs[count], 0, sizeof(msgs[count]));
			msgs[count].msg_hdr.msg_name = &from[count];
			msgs[count].msg_hdr.msg_namelen = sizeof(from[count]);
			msgs[count].msg_hdr.msg_iov = &iov[count];
			msgs[count].msg_hdr.msg_iovlen = 1;
		}
		if (count == 0) {
			px->wi.stats.no_memory++;
			return;
		}
		n = recvmmsg(w->fd, msgs, count, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		for (int i = 0; i < n; i++) {
			struct pbuf *p = rx_pool[i];
			struct wgc_addr src;

			rx_pool[i] = NULL;
			if ((msgs[i].msg_hdr.msg_flags & MSG_TRUNC) ||
			    !from_sockaddr(&from[i], &src)) {
				pbuf_free(p);
				px->stats.udp_rx_errors++;
				continue;
			}
			pbuf_realloc(p, (u16_t)msgs[i].msg_len);
			wgcif_input(&px->wi, p, &src);
		}
		/* What this batch delivered goes to the clients now and the ACKs and window
		 * updates it caused go out now, not after the whole wake: one window of TCP is only
		 * a few batches, and the sender waits for each reopening. */
		conn_flush_queued(px);
		wire_flush(px);
		if ((unsigned)n < count)
			return;
	}
}

/* ---- set-up ---- */

static bool resolve_endpoint(const struct config_hostport *hp, struct wgc_addr *out, char *err,
			     size_t err_size)
{
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res;
	char port[8];
	int rc;

	snprintf(port, sizeof(port), "%u", hp->port);
	rc = getaddrinfo(hp->host, port, &hints, &res);
	if (rc != 0) {
		snprintf(err, err_size, "%.100s: %.100s", hp->host, gai_strerror(rc));
		return false;
	}
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		struct sockaddr_storage ss;

		if (ai->ai_addrlen > sizeof(ss))
			continue;
		memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
		if (from_sockaddr(&ss, out)) {
			freeaddrinfo(res);
			return true;
		}
	}
	freeaddrinfo(res);
	snprintf(err, err_size, "%.100s: no usable address", hp->host);
	return false;
}

static bool open_udp(struct proxy *px, char *err, size_t err_size)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int off = 0;
	int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	uint16_t port = px->cfg->has_listen_port ? px->cfg->listen_port : 0;

	px->udp_family = AF_INET6;
	if (fd < 0 || setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)) != 0) {
		if (fd >= 0)
			close(fd);
		fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		px->udp_family = AF_INET;
	}
	if (fd < 0) {
		snprintf(err, err_size, "UDP socket: %s", strerror(errno));
		return false;
	}
	memset(&ss, 0, sizeof(ss));
	if (px->udp_family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		sl = sizeof(*sin6);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		sl = sizeof(*sin);
	}
	if (bind(fd, (struct sockaddr *)&ss, sl) != 0) {
		snprintf(err, err_size, "UDP port %u: %s", port, strerror(errno));
		close(fd);
		return false;
	}
	{
		int size = 4 << 20;

		/* Best effort: an unprivileged user gets up to net.core.[rw]mem_max. */
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	}
	px->udp.fd = fd;
	{
		/* UDP_SEGMENT (Linux 4.18): probing with size 0 changes nothing but shows the
		 * kernel knows it; wire_flush turns it off if a send says otherwise */
		int zero = 0;

		px->has_gso = setsockopt(fd, SOL_UDP, UDP_SEGMENT, &zero, sizeof(zero)) == 0;
	}
	px->udp.fn = on_udp;
	return proxy_watch(px, &px->udp, EPOLLIN);
}

static bool add_peers(struct proxy *px, char *err, size_t err_size)
{
	const struct config *cfg = px->cfg;
	uint64_t now = proxy_now_ns();

	for (size_t i = 0; i < cfg->peer_count; i++) {
		const struct config_peer *cp = &cfg->peers[i];
		struct wgc_peer *peer;
		enum wgc_status st = wgc_peer_add(px->ep, cp->public_key, now, &peer);

		if (st != WGC_OK) {
			snprintf(err, err_size, "%s:%d: peer: %s%s", cp->file, cp->line,
				 wgc_status_str(st),
				 st == WGC_ERR_EXISTS ? " (the same PublicKey twice)" :
				 st == WGC_ERR_INVALID ? " (our own public key?)" : "");
			return false;
		}
		wgcif_peer_attach(&px->peer_slots[i], peer);
		if (cp->has_preshared_key)
			wgc_peer_set_preshared_key(peer, cp->preshared_key);
		if (cp->has_endpoint) {
			struct wgc_addr addr;
			char why[CONFIG_ERROR_MAX / 2];

			if (!resolve_endpoint(&cp->endpoint, &addr, why, sizeof(why))) {
				snprintf(err, err_size, "%s:%d: Endpoint %s", cp->file, cp->line,
					 why);
				return false;
			}
			if (px->udp_family == AF_INET && addr.family != WGC_AF_INET) {
				snprintf(err, err_size, "%s:%d: Endpoint %s: no IPv6 here",
					 cp->file, cp->line, cp->endpoint.host);
				return false;
			}
			if (wgc_peer_set_endpoint(peer, &addr) != WGC_OK) {
				snprintf(err, err_size, "%s:%d: bad Endpoint", cp->file, cp->line);
				return false;
			}
		}
		for (size_t j = 0; j < cp->allowed_ip_count; j++) {
			st = wgc_allowedip_insert(px->ep, peer, &cp->allowed_ips[j]);
			if (st != WGC_OK) {
				snprintf(err, err_size, "%s:%d: AllowedIPs: %s", cp->file, cp->line,
					 wgc_status_str(st));
				return false;
			}
		}
	}
	return true;
}

static bool add_addresses(struct proxy *px, char *err, size_t err_size)
{
	const struct config *cfg = px->cfg;

	for (size_t i = 0; i < cfg->address_count; i++) {
		const struct wgc_prefix *a = &cfg->addresses[i];

		if (a->family == WGC_AF_INET) {
			ip4_addr_t ip;

			if (px->has_ip4) {
				snprintf(err, err_size, "%s: only one IPv4 Address is supported",
					 cfg->files[0]);
				return false;
			}
			memcpy(&ip.addr, a->ip, 4);
			wgcif_set_ip4(&px->wi, &ip, a->cidr);
			px->has_ip4 = true;
		} else {
			ip6_addr_t ip;

			memcpy(ip.addr, a->ip, 16);
			ip6_addr_clear_zone(&ip);
			if (wgcif_add_ip6(&px->wi, &ip) != ERR_OK) {
				snprintf(err, err_size, "%s: too many IPv6 Addresses (lwIP holds %d)",
					 cfg->files[0], LWIP_IPV6_NUM_ADDRESSES);
				return false;
			}
			px->has_ip6 = true;
		}
	}
	if (!px->has_ip4 && !px->has_ip6) {
		snprintf(err, err_size, "%s: [Interface] has no Address", cfg->files[0]);
		return false;
	}
	return true;
}

bool wire_start(struct proxy *px, char *err, size_t err_size)
{
	const struct config *cfg = px->cfg;
	size_t allowed = 0;
	unsigned seed;
	struct wgc_config wc = { .random = random_cb, .wall_clock = wall_cb, .mtu = cfg->mtu };
	enum wgc_status st;

	for (size_t i = 0; i < cfg->peer_count; i++)
		allowed += cfg->peers[i].allowed_ip_count;
	wc.limits.max_peers = (uint32_t)cfg->peer_count;
	wc.limits.max_allowed_ips = (uint32_t)(allowed > 0 ? allowed : 1);
	px->ep_mem_size = wgc_endpoint_size(&wc.limits);
	if (px->ep_mem_size == 0) {
		snprintf(err, err_size, "%s: too many peers or allowed IPs", cfg->files[0]);
		return false;
	}
	px->ep_mem = aligned_alloc(64, (px->ep_mem_size + 63) & ~(size_t)63);
	px->peer_slots = calloc(cfg->peer_count, sizeof(*px->peer_slots));
	if (!px->ep_mem || !px->peer_slots) {
		snprintf(err, err_size, "out of memory");
		return false;
	}
	memset(px->ep_mem, 0, px->ep_mem_size);
	st = wgc_endpoint_init(px->ep_mem, px->ep_mem_size, &wc, proxy_now_ns(), &px->ep);
	if (st == WGC_OK)
		st = wgc_endpoint_set_private_key(px->ep, cfg->private_key, proxy_now_ns());
	if (st != WGC_OK) {
		snprintf(err, err_size, "wgc endpoint: %s", wgc_status_str(st));
		return false;
	}
	/* lwIP draws initial sequence numbers and local ports from rand(). */
	if (!random_cb(NULL, &seed, sizeof(seed))) {
		snprintf(err, err_size, "getrandom: %s", strerror(errno));
		return false;
	}
	srand(seed);
	lwip_init();
	if (!open_udp(px, err, err_size))
		return false;
	if (wgcif_add(&px->wi, px->ep, &wire_ops, px, cfg->mtu) != ERR_OK) {
		snprintf(err, err_size, "lwIP interface: MTU %u not in 576..%d", cfg->mtu,
			 WGCIF_MTU_MAX);
		return false;
	}
	if (!add_addresses(px, err, err_size) || !add_peers(px, err, err_size))
		return false;
	wgcif_up(&px->wi, true);
	return true;
}

void wire_kick(struct proxy *px)
{
	for (size_t i = 0; i < px->cfg->peer_count; i++) {
		struct wgc_peer *peer = wgc_peer_lookup(px->ep, px->cfg->peers[i].public_key);

		if (peer && px->cfg->peers[i].keepalive_s)
			wgcif_peer_set_keepalive(&px->wi, peer, px->cfg->peers[i].keepalive_s);
	}
}

uint64_t wire_tick(struct proxy *px)
{
	if (wgc_endpoint_next_deadline(px->ep) <= proxy_now_ns())
		return wgcif_tick(&px->wi);
	return wgc_endpoint_next_deadline(px->ep);
}

void wire_stop(struct proxy *px)
{
	if (px->udp.fd > 0)
		wire_flush(px); /* the resets of conn_stop */
	if (px->ep) {
		wgcif_remove(&px->wi);
		wgc_endpoint_clear(px->ep);
		px->ep = NULL;
	}
	if (px->ep_mem) {
		sodium_memzero(px->ep_mem, px->ep_mem_size);
		free(px->ep_mem);
		px->ep_mem = NULL;
	}
	free(px->peer_slots);
	px->peer_slots = NULL;
	if (px->udp.fd > 0) {
		proxy_unwatch(px, &px->udp);
		close(px->udp.fd);
		px->udp.fd = -1;
		tx.count = 0;
		for (unsigned i = 0; i < RX_BATCH_MAX; i++) {
			if (rx_pool[i])
				pbuf_free(rx_pool[i]);
			rx_pool[i] = NULL;
		}
	}
}

void wire_peer_key_b64(struct wgc_peer *peer, char out[PROXY_KEY_B64_SIZE])
{
	uint8_t pub[WGC_KEY_LEN];

	wgc_peer_get_public_key(peer, pub);
	sodium_bin2base64(out, PROXY_KEY_B64_SIZE, pub, sizeof(pub), sodium_base64_VARIANT_ORIGINAL);
}

void wire_status(struct proxy *px, void *fp)
{
	FILE *f = fp;
	uint64_t now = proxy_now_ns();
	int n = 0;

	for (struct wgc_peer *peer = wgc_peer_next(px->ep, NULL); peer;
	     peer = wgc_peer_next(px->ep, peer)) {
		struct wgc_peer_stats st;
		char b64[PROXY_KEY_B64_SIZE];

		wgc_peer_get_stats(peer, &st);
		wire_peer_key_b64(peer, b64);
		b64[8] = '\0';
		if (st.has_handshake)
			fprintf(f, "peer %d %s...: handshake %llu s ago, rx %llu B, tx %llu B\n", n,
				b64,
				(unsigned long long)((now - st.last_handshake_ns) / 1000000000u),
				(unsigned long long)st.rx_bytes, (unsigned long long)st.tx_bytes);
		else
			fprintf(f, "peer %d %s...: no handshake, rx %llu B, tx %llu B\n", n, b64,
				(unsigned long long)st.rx_bytes, (unsigned long long)st.tx_bytes);
		n++;
	}
	fprintf(f, "tunnel: rx %llu packets, tx %llu packets, staged %llu, stage drops %llu, "
		   "core rx drops %llu, core tx drops %llu, send errors %llu\n",
		(unsigned long long)px->wi.stats.rx_packets,
		(unsigned long long)px->wi.stats.tx_packets,
		(unsigned long long)px->wi.stats.staged,
		(unsigned long long)px->wi.stats.stage_dropped,
		(unsigned long long)px->wi.stats.rx_dropped,
		(unsigned long long)px->wi.stats.tx_dropped,
		(unsigned long long)px->wi.stats.send_errors);
}

bool wire_resolve(struct proxy *px, const char *host, ip_addr_t *out)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM };
	struct addrinfo *res;
	bool found = false;

	if (ipaddr_aton(host, out)) {
		return (IP_IS_V4(out) && px->has_ip4) || (IP_IS_V6(out) && px->has_ip6);
	}
	/* TODO(#12): resolve through the tunnel's DNS server when one is configured. */
	if (getaddrinfo(host, NULL, &hints, &res) != 0)
		return false;
	for (int pass = 0; pass < 2 && !found; pass++) {
		for (struct addrinfo *ai = res; ai && !found; ai = ai->ai_next) {
			if (pass == 0 && ai->ai_family == AF_INET && px->has_ip4) {
				const struct sockaddr_in *sin = (const void *)ai->ai_addr;

				IP_ADDR4(out, 0, 0, 0, 0);
				memcpy(&ip_2_ip4(out)->addr, &sin->sin_addr, 4);
				found = true;
			} else if (pass == 1 && ai->ai_family == AF_INET6 && px->has_ip6) {
				const struct sockaddr_in6 *sin6 = (const void *)ai->ai_addr;

				ip_addr_set_zero_ip6(out);
				memcpy(ip_2_ip6(out)->addr, &sin6->sin6_addr, 16);
				found = true;
			}
		}
	}
	freeaddrinfo(res);
	return found;
}

bool wire_routable(struct proxy *px, const ip_addr_t *ip, bool *no_route)
{
	struct wgc_peer *peer;
	struct wgc_addr endpoint;

	if (IP_IS_V4(ip))
		peer = wgc_allowedips_lookup(px->ep, WGC_AF_INET,
					     (const uint8_t *)&ip_2_ip4(ip)->addr);
	else
		peer = wgc_allowedips_lookup(px->ep, WGC_AF_INET6,
					     (const uint8_t *)ip_2_ip6(ip)->addr);
	*no_route = peer == NULL;
	return peer != NULL && wgc_peer_get_endpoint(peer, &endpoint);
}
