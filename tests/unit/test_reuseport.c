/* SPDX-License-Identifier: MIT */
/*
 * Lane steering (daemon/reuseport.c) against the kernel, on loopback, as root or not:
 *
 *   sender (ephemeral port) --datagram--> 127.0.0.1:P / [::1]:P
 *                                          reuseport group: lane 0, 1, ..., N-1 (bound in order)
 *
 * First what the kernel shows a UDP reuseport program (probe programs: absolute offset 0 is the
 * first payload byte, "len" is the payload length); then reuseport_lane_of against a table; then,
 * for N in {2, 3, 4} and both families, every message type with every value of the index's top
 * byte, short and empty datagrams and random garbage, each required to arrive at exactly the
 * socket reuseport_lane_of names, byte for byte. IPv6 parts print SKIP when ::1 is unusable.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon/reuseport.h"

enum {
	GROUP_MAX = 4,
	DGRAM_MAX = 160,    /* above the longest message we send (an initiation, 148) */
	WAIT_MS = 1000,     /* for a datagram to reach some socket of the group */
	GARBAGE_COUNT = 512,
};

struct group {
	int family;
	unsigned n;
	int fds[GROUP_MAX];
	int sender;
	struct sockaddr_storage dst;
	socklen_t dst_len;
};

/* ---- the test's own deterministic generator (xorshift32, fixed seed) ---- */

static uint32_t rng_state = 0x2545f491u;

static uint32_t rng_next(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

static void rng_fill(uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)rng_next();
}

/* ---- sockets ---- */

static void loopback(int family, uint16_t port, struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		*len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		sin6->sin6_addr = in6addr_loopback;
		*len = sizeof(*sin6);
	}
}

/* A UDP socket of family with SO_REUSEPORT (and IPV6_V6ONLY, as udp.c), bound to loopback:port.
 * -errno on failure. */
static int open_member(int family, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1;
	int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int err;

	if (fd < 0)
		return -errno;
	loopback(family, port, &ss, &len);
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
	    (family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) ||
	    bind(fd, (struct sockaddr *)&ss, len) < 0) {
		err = errno;
		close(fd);
		return -err;
	}
	return fd;
}

static uint16_t bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

static void close_group(struct group *g)
{
	for (unsigned i = 0; i < g->n; i++)
		if (g->fds[i] >= 0)
			close(g->fds[i]);
	if (g->sender >= 0)
		close(g->sender);
	g->n = 0;
	g->sender = -1;
}

/* Binds n members in lane order (the first takes a port, the rest join it) and a sender. False
 * (nothing left open) when the family's loopback cannot be used: the caller skips. */
static bool open_group(struct group *g, int family, unsigned n)
{
	uint16_t port = 0;
	int fd;

	memset(g, 0, sizeof(*g));
	g->family = family;
	g->sender = -1;
	for (g->n = 0; g->n < n; g->n++) {
		fd = open_member(family, port);
		if (fd < 0) {
			if (g->n == 0 && family == AF_INET6)
				return false; /* no ::1: the caller prints SKIP */
			fail_msg("binding lane %u of %u to port %u: %s", g->n, n, port,
				 strerror(-fd));
		}
		g->fds[g->n] = fd;
		if (g->n == 0)
			port = bound_port(fd);
	}
	g->sender = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(g->sender >= 0);
	loopback(family, port, &g->dst, &g->dst_len);
	return true;
}

/* Sends one datagram to the group and returns the lane whose socket got it, after checking that
 * exactly one did and that the bytes are the ones sent. */
static unsigned send_and_find(const struct group *g, const uint8_t *msg, size_t len)
{
	struct pollfd pfds[GROUP_MAX];
	uint8_t got[DGRAM_MAX + 1];
	unsigned found = GROUP_MAX;
	int ready;

	assert_int_equal(sendto(g->sender, msg, len, 0, (const struct sockaddr *)&g->dst,
				g->dst_len),
			 (ssize_t)len);
	for (unsigned i = 0; i < g->n; i++)
		pfds[i] = (struct pollfd){ .fd = g->fds[i], .events = POLLIN };
	ready = poll(pfds, g->n, WAIT_MS);
	if (ready < 1)
		fail_msg("a datagram of %zu bytes reached no socket within %d ms", len, WAIT_MS);
	for (unsigned i = 0; i < g->n; i++) {
		ssize_t n = recv(g->fds[i], got, sizeof(got), MSG_DONTWAIT);

		if (n < 0) {
			assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
			continue;
		}
		if (found != GROUP_MAX)
			fail_msg("a datagram of %zu bytes reached lanes %u and %u", len, found, i);
		found = i;
		assert_int_equal(n, (ssize_t)len);
		assert_memory_equal(got, msg, len);
	}
	assert_true(found < g->n);
	return found;
}

/* ---- what the kernel shows the program ---- */

static void attach_probe(int fd, const struct sock_filter *insns, unsigned short count)
{
	struct sock_fprog prog = { .len = count, .filter = (struct sock_filter *)insns };

	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog, sizeof(prog)),
			 0);
}

/*
 * "return payload[0]" and "return len": if absolute offsets started at the UDP header, or len
 * counted it, the returns would be the source port's high byte or len + 8, mostly at or above
 * the group's size, where the kernel falls back to its hash (one fixed socket for our one
 * source): at most one of the four values could land right.
 */
static void test_kernel_sees_udp_payload(void **state)
{
	static const struct sock_filter first_byte[] = {
		BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 0),
		BPF_STMT(BPF_RET | BPF_A, 0),
	};
	static const struct sock_filter length[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_LEN, 0),
		BPF_STMT(BPF_RET | BPF_A, 0),
	};
	uint8_t msg[8] = { 0 };
	struct group g;

	(void)state;
	assert_true(open_group(&g, AF_INET, GROUP_MAX));
	attach_probe(g.fds[0], first_byte, 2);
	for (int round = 0; round < 8; round++) {
		for (unsigned k = 0; k < GROUP_MAX; k++) {
			msg[0] = (uint8_t)k;
			assert_int_equal(send_and_find(&g, msg, sizeof(msg)), k);
		}
	}
	/* Attached to another member: the program is the group's and replaces the first. */
	attach_probe(g.fds[2], length, 2);
	for (int round = 0; round < 8; round++) {
		for (unsigned k = 0; k < GROUP_MAX; k++) {
			memset(msg, 0xff, sizeof(msg));
			assert_int_equal(send_and_find(&g, msg, k), k);
		}
	}
	close_group(&g);
}

/* ---- reuseport_lane_of, by table ---- */

static void test_lane_of_table(void **state)
{
	static const struct {
		uint8_t head[12]; /* the datagram's first bytes; the rest is zero */
		size_t len;
		unsigned n;
		unsigned lane;
	} cases[] = {
		/* data and cookie reply: byte 7 mod n */
		{ { 4, 0, 0, 0, 0x11, 0x22, 0x33, 0x05 }, 32, 4, 1 },
		{ { 4, 0, 0, 0, 0, 0, 0, 0x05 }, 32, 3, 2 },
		{ { 4, 0, 0, 0, 0, 0, 0, 0x05 }, 32, 2, 1 },
		{ { 4, 0, 0, 0, 0, 0, 0, 0xff }, 1500, 16, 15 },
		{ { 4, 0, 0, 0, 0, 0, 0, 0xff }, 8, 255, 0 },
		{ { 4, 0, 0, 0, 0, 0, 0, 0xfe }, 8, 255, 254 },
		{ { 4, 0, 0, 0, 0xff, 0xff, 0xff, 0x00 }, 32, 4, 0 }, /* low bytes do not count */
		{ { 3, 0, 0, 0, 0, 0, 0, 0x07 }, 64, 4, 3 },
		{ { 3, 0, 0, 0, 0, 0, 0, 0x07 }, 64, 1, 0 },
		/* response: byte 11, not the sender index's byte 7 */
		{ { 2, 0, 0, 0, 0, 0, 0, 0x03, 0, 0, 0, 0x02 }, 92, 4, 2 },
		{ { 2, 0, 0, 0, 0, 0, 0, 0x03, 0, 0, 0, 0x02 }, 12, 3, 2 },
		{ { 2, 0, 0, 0, 0, 0, 0, 0x03, 0, 0, 0, 0x02 }, 11, 3, 0 }, /* short */
		/* short: the index byte is not there */
		{ { 4, 0, 0, 0, 0, 0, 0, 0x03 }, 7, 4, 0 },
		{ { 3, 0, 0, 0, 0, 0, 0, 0x03 }, 7, 4, 0 },
		{ { 4 }, 1, 4, 0 },
		{ { 4 }, 0, 4, 0 },
		/* initiation and unknown types: lane 0, whatever their bytes */
		{ { 1, 0, 0, 0, 0, 0, 0, 0x03, 0, 0, 0, 0x03 }, 148, 4, 0 },
		{ { 0, 0, 0, 0, 0, 0, 0, 0x03, 0, 0, 0, 0x03 }, 32, 4, 0 },
		{ { 5, 0, 0, 0, 0, 0, 0, 0x03, 0, 0, 0, 0x03 }, 32, 4, 0 },
		{ { 0x84, 0, 0, 0, 0, 0, 0, 0x03 }, 32, 4, 0 },
		/* the type is its first byte alone (the owner's core drops the junk) */
		{ { 4, 1, 0, 0, 0, 0, 0, 0x03 }, 32, 4, 3 },
		{ { 4, 0, 0, 9, 0, 0, 0, 0x03 }, 32, 4, 3 },
		/* n == 0 is taken as 1 */
		{ { 4, 0, 0, 0, 0, 0, 0, 0x03 }, 32, 0, 0 },
	};
	uint8_t msg[1500];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned lane;

		memset(msg, 0, sizeof(msg));
		memcpy(msg, cases[i].head, sizeof(cases[i].head));
		lane = reuseport_lane_of(msg, cases[i].len, cases[i].n);
		if (lane != cases[i].lane)
			fail_msg("case %zu: lane %u, expected %u", i, lane, cases[i].lane);
	}
}

static void test_attach_refuses(void **state)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(reuseport_attach_steering(fd, 0), -EINVAL);
	assert_int_equal(reuseport_attach_steering(fd, REUSEPORT_LANES_MAX + 1), -EINVAL);
	/* One lane: nothing to attach, not even to a bad descriptor. */
	assert_int_equal(reuseport_attach_steering(-1, 1), 0);
	/* The kernel refuses a socket without SO_REUSEPORT. */
	assert_int_equal(reuseport_attach_steering(fd, 2), -EINVAL);
	close(fd);
}

/* ---- the steering program against reuseport_lane_of, through the kernel ---- */

static const size_t type_len[] = { 32, 148, 92, 64, 32 }; /* by type; 0: an unknown's */

/* Sends msg and requires it to arrive where reuseport_lane_of says. */
static void expect_steered(const struct group *g, const uint8_t *msg, size_t len)
{
	unsigned want = reuseport_lane_of(msg, len, g->n);
	unsigned got = send_and_find(g, msg, len);

	if (got != want)
		fail_msg("N=%u %s: type %u, %zu bytes, byte 7 0x%02x, byte 11 0x%02x: lane %u, "
			 "reuseport_lane_of says %u",
			 g->n, g->family == AF_INET ? "IPv4" : "IPv6", len ? msg[0] : 0, len,
			 len > 7 ? msg[7] : 0, len > 11 ? msg[11] : 0, got, want);
}

static unsigned steer_all(const struct group *g)
{
	static const uint8_t types[] = { 0, 1, 2, 3, 4, 5, 0x82, 0xff };
	uint8_t msg[DGRAM_MAX];
	unsigned per_lane[GROUP_MAX] = { 0 };
	unsigned sent = 0;

	for (size_t t = 0; t < sizeof(types); t++) {
		size_t len = types[t] < 5 ? type_len[types[t]] : 32;

		/* Every value of the top byte, at both places it can be; the other bytes random,
		 * so a program reading the wrong byte would disagree about half the time. */
		for (unsigned top = 0; top < 256; top++) {
			rng_fill(msg, len);
			msg[0] = types[t];
			msg[1] = msg[2] = msg[3] = 0;
			msg[7] = (uint8_t)top;
			msg[11] = (uint8_t)(top * 37 + 11);
			if (types[t] == 2)
				msg[7] = (uint8_t)~msg[11];
			expect_steered(g, msg, len);
			per_lane[reuseport_lane_of(msg, len, g->n)]++;
			sent++;
		}
		/* Every length up to and just past the index bytes, top byte non-zero mod n. */
		for (size_t short_len = 0; short_len <= 13; short_len++) {
			memset(msg, 0, sizeof(msg));
			msg[0] = types[t];
			msg[7] = msg[11] = 1;
			expect_steered(g, msg, short_len);
			sent++;
		}
	}
	/* Random garbage of random lengths, with the type byte mostly 2..4 so it gets steered. */
	for (int i = 0; i < GARBAGE_COUNT; i++) {
		size_t len = rng_next() % DGRAM_MAX;

		rng_fill(msg, len);
		if (len && (i & 1))
			msg[0] = (uint8_t)(2 + rng_next() % 3);
		expect_steered(g, msg, len);
		sent++;
	}
	/* Every lane was exercised (the counts come from the C, the arrivals matched it). */
	for (unsigned i = 0; i < g->n; i++)
		assert_true(per_lane[i] > 0);
	return sent;
}

static void steer_family(int family)
{
	for (unsigned n = 2; n <= GROUP_MAX; n++) {
		struct group g;
		unsigned sent;

		if (!open_group(&g, family, n)) {
			printf("SKIP: IPv6 loopback (::1) unavailable: the IPv6 steering test did "
			       "not run\n");
			skip();
		}
		/* Attached to the last member: the program is the whole group's. */
		assert_int_equal(reuseport_attach_steering(g.fds[n - 1], n), 0);
		sent = steer_all(&g);
		printf("reuseport %s N=%u: %u datagrams, each at its lane\n",
		       family == AF_INET ? "IPv4" : "IPv6", n, sent);
		close_group(&g);
	}
}

static void test_steering_ipv4(void **state)
{
	(void)state;
	steer_family(AF_INET);
}

static void test_steering_ipv6(void **state)
{
	(void)state;
	steer_family(AF_INET6);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kernel_sees_udp_payload),
		cmocka_unit_test(test_lane_of_table),
		cmocka_unit_test(test_attach_refuses),
		cmocka_unit_test(test_steering_ipv4),
		cmocka_unit_test(test_steering_ipv6),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
