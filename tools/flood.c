/* SPDX-License-Identifier: MIT */
/*
 * wgc-flood: a handshake flood for benchmarks and tests. Sends WireGuard initiations to one
 * UDP address from many local source addresses (each must be assigned to an interface here; the
 * source is picked per datagram with IP_PKTINFO), with a valid mac1 for the target's public key
 * (an attacker who knows it) or a wrong one, at a given rate or as fast as it can, and counts
 * what comes back to those sources, by message type. The initiations are otherwise random, so the
 * target can only pay for them (mac1, then a DH when not under load) and never accept one.
 *
 *   wgc-flood --to 10.0.0.1:51820 --key BASE64 --src 10.77.0.10 --sources 64 \
 *             [--bad-mac1] [--rate PER_S | --rate max] [--seconds S]
 *
 * Prints one line at the end (after --seconds, or on SIGINT/SIGTERM):
 * "sent N seconds S rate R replies_cookie C replies_other O".
 * Exit status 0, or 2 for a usage error, 1 for a socket error.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "crypto/crypto.h"

enum {
	INIT_LEN = 148,
	MAC1_OFF = 116,
	MAC_LEN = 16,
	MESSAGES = 4096, /* distinct initiations, sent round robin */
	BATCH = 64,
	SOURCES_MAX = 1024,
};

static const char usage[] =
	"usage: wgc-flood --to ADDR:PORT --key BASE64 --src FIRST_IPV4 --sources N\n"
	"                 [--bad-mac1] [--rate PER_S|max] [--seconds S]\n";

static volatile sig_atomic_t stop; /* SIGINT/SIGTERM: stop sending, report, exit 0 */

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* A WireGuard key: 44 base64 characters, the last one '='. */
static bool parse_key(const char *s, uint8_t key[32])
{
	uint32_t acc = 0;
	int bits = 0;
	size_t n = 0;

	if (strlen(s) != 44 || s[43] != '=')
		return false;
	for (int i = 0; i < 43; i++) {
		int v = b64_value(s[i]);

		if (v < 0)
			return false;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n < 32)
				key[n++] = (uint8_t)(acc >> bits);
		}
	}
	return n == 32;
}

static bool parse_addr(const char *s, struct sockaddr_in *out)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	char *end;
	long port;

	if (!colon || (size_t)(colon - s) >= sizeof(host))
		return false;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = 0;
	port = strtol(colon + 1, &end, 10);
	memset(out, 0, sizeof(*out));
	out->sin_family = AF_INET;
	out->sin_port = htons((uint16_t)port);
	return *end == 0 && port > 0 && port < 65536 && inet_pton(AF_INET, host, &out->sin_addr) == 1;
}

int main(int argc, char **argv)
{
	static uint8_t msgs[MESSAGES][INIT_LEN];
	struct sockaddr_in to;
	struct in_addr first = { 0 };
	uint8_t key[32] = { 0 };
	uint8_t mac1_key[32];
	bool has_to = false, has_key = false, bad_mac1 = false;
	unsigned sources = 0;
	double rate = 0; /* 0: as fast as possible */
	double seconds = 5;
	uint64_t sent = 0, cookies = 0, others = 0;
	int fd;

	for (int i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(argv[i], "--bad-mac1") == 0) {
			bad_mac1 = true;
			continue;
		}
		if (!v) {
			fputs(usage, stderr);
			return 2;
		}
		if (strcmp(argv[i], "--to") == 0)
			has_to = parse_addr(v, &to);
		else if (strcmp(argv[i], "--key") == 0)
			has_key = parse_key(v, key);
		else if (strcmp(argv[i], "--src") == 0) {
			if (inet_pton(AF_INET, v, &first) != 1) {
				fprintf(stderr, "wgc-flood: bad --src %s\n", v);
				return 2;
			}
		} else if (strcmp(argv[i], "--sources") == 0)
			sources = (unsigned)strtoul(v, NULL, 10);
		else if (strcmp(argv[i], "--rate") == 0)
			rate = strcmp(v, "max") == 0 ? 0 : strtod(v, NULL);
		else if (strcmp(argv[i], "--seconds") == 0)
			seconds = strtod(v, NULL);
		else {
			fputs(usage, stderr);
			return 2;
		}
		i++;
	}
	if (!has_to || !has_key || first.s_addr == 0 || sources == 0 || sources > SOURCES_MAX ||
	    rate < 0 || seconds <= 0) {
		fputs(usage, stderr);
		return 2;
	}

	/* mac1 = BLAKE2s-128 keyed with HASH("mac1----" || responder's public key). */
	{
		uint8_t label[8 + 32];

		memcpy(label, "mac1----", 8);
		memcpy(label + 8, key, 32);
		wgc_blake2s(mac1_key, sizeof(mac1_key), label, sizeof(label), NULL, 0);
	}
	srandom((unsigned)now_ns());
	for (int m = 0; m < MESSAGES; m++) {
		uint8_t *p = msgs[m];

		for (int i = 0; i < INIT_LEN; i++)
			p[i] = (uint8_t)random();
		p[0] = 1;
		p[1] = p[2] = p[3] = 0;
		wgc_blake2s(p + MAC1_OFF, MAC_LEN, p, MAC1_OFF, mac1_key, sizeof(mac1_key));
		if (bad_mac1)
			p[MAC1_OFF] ^= 1;
		memset(p + MAC1_OFF + MAC_LEN, 0, MAC_LEN); /* no mac2: no cookie */
	}

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		perror("wgc-flood: socket");
		return 1;
	}
	{
		int big = 4 << 20;

		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	}

	{
		struct mmsghdr out[BATCH];
		struct iovec iov[BATCH];
		union {
			char buf[CMSG_SPACE(sizeof(struct in_pktinfo))];
			struct cmsghdr align;
		} ctl[BATCH];
		uint8_t rx[BATCH][256];
		struct mmsghdr in[BATCH];
		struct iovec rx_iov[BATCH];
		uint64_t start = now_ns();
		uint64_t end = start + (uint64_t)(seconds * 1e9);
		uint64_t t;
		unsigned next_msg = 0, next_src = 0;

		memset(out, 0, sizeof(out));
		memset(in, 0, sizeof(in));
		for (int i = 0; i < BATCH; i++) {
			rx_iov[i].iov_base = rx[i];
			rx_iov[i].iov_len = sizeof(rx[i]);
			in[i].msg_hdr.msg_iov = &rx_iov[i];
			in[i].msg_hdr.msg_iovlen = 1;
		}
		signal(SIGINT, on_signal);
		signal(SIGTERM, on_signal);
		while ((t = now_ns()) < end && !stop) {
			int n;

			/* Pace: no more than rate * elapsed sent so far. */
			if (rate > 0 && (double)sent >= rate * (double)(t - start) / 1e9) {
				struct timespec pause = { 0, 50000 };

				nanosleep(&pause, NULL);
			} else {
				unsigned want = BATCH;

				if (rate > 0 && rate * (double)(t - start) / 1e9 - (double)sent < BATCH)
					want = (unsigned)(rate * (double)(t - start) / 1e9 - (double)sent) + 1;
				for (unsigned i = 0; i < want; i++) {
					struct cmsghdr *c;
					struct in_pktinfo *pi;

					iov[i].iov_base = msgs[next_msg];
					iov[i].iov_len = INIT_LEN;
					next_msg = (next_msg + 1) % MESSAGES;
					memset(&out[i].msg_hdr, 0, sizeof(out[i].msg_hdr));
					out[i].msg_hdr.msg_name = &to;
					out[i].msg_hdr.msg_namelen = sizeof(to);
					out[i].msg_hdr.msg_iov = &iov[i];
					out[i].msg_hdr.msg_iovlen = 1;
					out[i].msg_hdr.msg_control = ctl[i].buf;
					out[i].msg_hdr.msg_controllen = sizeof(ctl[i].buf);
					c = CMSG_FIRSTHDR(&out[i].msg_hdr);
					c->cmsg_level = IPPROTO_IP;
					c->cmsg_type = IP_PKTINFO;
					c->cmsg_len = CMSG_LEN(sizeof(*pi));
					pi = (struct in_pktinfo *)(void *)CMSG_DATA(c);
					memset(pi, 0, sizeof(*pi));
					pi->ipi_spec_dst.s_addr =
						htonl(ntohl(first.s_addr) + next_src);
					next_src = (next_src + 1) % sources;
				}
				n = sendmmsg(fd, out, want, 0);
				if (n < 0 && errno != EAGAIN && errno != ENOBUFS && errno != EINTR) {
					perror("wgc-flood: sendmmsg");
					return 1;
				}
				if (n > 0)
					sent += (uint64_t)n;
			}
			/* Count what the target sends back to the sources. */
			for (;;) {
				int r = recvmmsg(fd, in, BATCH, MSG_DONTWAIT, NULL);

				if (r <= 0)
					break;
				for (int i = 0; i < r; i++) {
					if (in[i].msg_len == 64 && rx[i][0] == 3)
						cookies++;
					else
						others++;
				}
			}
		}
		{
			/* Replies still in flight. */
			uint64_t drain_end = now_ns() + 300000000u;

			while (now_ns() < drain_end) {
				int r = recvmmsg(fd, in, BATCH, MSG_DONTWAIT, NULL);
				struct timespec pause = { 0, 1000000 };

				if (r <= 0) {
					nanosleep(&pause, NULL);
					continue;
				}
				for (int i = 0; i < r; i++) {
					if (in[i].msg_len == 64 && rx[i][0] == 3)
						cookies++;
					else
						others++;
				}
			}
		}
		printf("sent %llu seconds %.2f rate %.0f replies_cookie %llu replies_other %llu\n",
		       (unsigned long long)sent, (double)(t - start) / 1e9,
		       (double)sent * 1e9 / (double)(t - start), (unsigned long long)cookies,
		       (unsigned long long)others);
	}
	close(fd);
	return 0;
}
