/* SPDX-License-Identifier: MIT */
/*
 * ICMP Destination Unreachable for packets read from the TUN device that no peer can take (no
 * allowed-IPs route, or a peer without an endpoint), as the kernel's WireGuard module answers them
 * with icmp_ndo_send / icmpv6_ndo_send: the rules of when not to answer (RFC 1122 3.2.2, RFC 4443
 * 2.4), the error packet itself (RFC 792 / RFC 1812 4.3.2.3, RFC 4443 3.1), and a token bucket
 * for how many to send. Pure functions over bytes (no I/O, no allocation, no globals, no clock):
 * the datapath reads, routes and writes, and tests/unit/test_icmp.c tests this on its own. It
 * knows nothing of WireGuard.
 */
#ifndef WGC_DAEMON_ICMP_H
#define WGC_DAEMON_ICMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	/* The largest error icmp_build_unreachable writes: IPv6's minimum MTU (RFC 4443 2.4 (c));
	 * an IPv4 error stops at 576 (RFC 1812 4.3.2.3). A buffer of this size always suffices. */
	ICMP_ERROR_MAX_LEN = 1280,
	/* The kernel's global ICMP limit, shared by IPv4 and IPv6 (net.ipv4.icmp_msgs_per_sec and
	 * net.ipv4.icmp_msgs_burst, defaults 1000 and 50). Its per-destination limit
	 * (icmp_ratelimit) is skipped for errors to a local address, which all of ours are. */
	ICMP_DEFAULT_PER_S = 1000,
	ICMP_DEFAULT_BURST = 50,
};

/* What becomes of one offending packet. Every refusal is normal traffic: count it by its reason. */
enum icmp_verdict {
	ICMP_BUILT = 0,              /* out holds the error: write it to the TUN device */
	ICMP_REFUSE_MALFORMED,       /* shorter than its IP header, version not 4 or 6, IPv4 IHL
				      * < 5, or a stated length beyond len (or below the header) */
	ICMP_REFUSE_DST_NOT_UNICAST, /* sent to a multicast group (224/4, ff00::/8) or the IPv4
				      * limited broadcast 255.255.255.255 (or to an unspecified or
				      * loopback address, which never reach a TUN device) */
	ICMP_REFUSE_SRC_NOT_UNICAST, /* its source names no single host: unspecified (0/8, ::),
				      * loopback (127/8, ::1), multicast, or 255.255.255.255 */
	ICMP_REFUSE_FRAGMENT,        /* an IPv4 fragment other than the first */
	ICMP_REFUSE_ABOUT_ICMP_ERROR, /* an ICMP error (IPv4 types 3, 4, 5, 11, 12 and the unknown
				       * types above 18; ICMPv6 types below 128), or an ICMP header
				       * too short to tell */
	ICMP_REFUSE_NO_SPACE,        /* out_cap is below the error's length */
};

/* ---- the error ---- */

/* Whether the packet pkt (len bytes as read from the TUN device: an IPv4 or IPv6 packet, possibly
 * truncated or garbage; borrowed for the call) may be answered with an ICMP error: ICMP_BUILT if
 * so, otherwise the first rule it breaks, checked in the order of enum icmp_verdict (never
 * ICMP_REFUSE_NO_SPACE). Reads nothing outside pkt[0..len). Any thread. The IPv4 rules follow the
 * kernel's __icmp_send, the IPv6 ones its icmp6_send for a destination-unreachable error, which
 * the kernel too refuses about every multicast destination (it answers one only with Packet Too
 * Big or a Parameter Problem about an unknown option). IPv6 extension headers are walked to find
 * an ICMPv6 header, as the kernel's is_ineligible does; an IPv6 non-first fragment is answered
 * (RFC 4443 forbids only errors about errors), as the kernel does. */
enum icmp_verdict icmp_classify(const uint8_t *pkt, size_t len);

/* Writes to out (out_cap bytes, not overlapping pkt) the complete IP packet that answers pkt with
 * host unreachable (ICMP type 3 code 1) for IPv4 or address unreachable (ICMPv6 type 1 code 3)
 * for IPv6, from src_ip to pkt's source, and sets *out_len to its length.
 *   IPv4: a 20-byte header (precedence 6 as RFC 1812 4.3.2.5 asks, ID 0, DF clear, TTL 64,
 * protocol 1, checksum), the ICMP header, then pkt from its IP header on (options included) up
 * to its stated length, cut at 576 bytes in all: at least the header and 8 bytes of payload that
 * RFC 792 requires, as much as RFC 1812 4.3.2.3 permits, as the kernel sends.
 *   IPv6: a 40-byte header (traffic class and flow label 0, next header 58, hop limit 64), the
 * ICMPv6 header with its checksum over the pseudo-header, then pkt up to its stated length, cut
 * at 1280 bytes in all (RFC 4443 2.4 (c)).
 *   The stated length bounds the quote, so bytes past it (padding) are never echoed.
 *   src_ip is 4 or 16 bytes by pkt's version (borrowed for the call), or NULL to answer from
 * pkt's own destination, the address found unreachable. Prefer NULL for IPv4: Linux drops an
 * IPv4 packet that arrives on the TUN device from one of its own addresses (an address of the
 * interface) as a martian source, so that error would never reach the sender; the destination
 * is routed through the TUN device, so an error from it passes even strict reverse-path
 * filtering. IPv6 takes either.
 *   Returns ICMP_BUILT, or icmp_classify's refusal, or ICMP_REFUSE_NO_SPACE when out_cap is too
 * small (ICMP_ERROR_MAX_LEN always suffices); on a refusal out and *out_len are untouched. Any
 * thread. */
enum icmp_verdict icmp_build_unreachable(const uint8_t *pkt, size_t len, const uint8_t *src_ip,
					 uint8_t *out, size_t out_cap, size_t *out_len);

/* A short fixed name for a verdict ("built", "malformed", ...), for logs and counter names. */
const char *icmp_verdict_str(enum icmp_verdict v);

/* ---- the rate limit ---- */

/* A token bucket: up to burst errors at once, refilled at per_second. Caller memory; not
 * thread-safe: one per device under the caller's lock (a bucket per thread would multiply the
 * rate by the threads). */
struct icmp_limiter {
	uint64_t credit;     /* tokens in units of 1/WGC_NSEC_PER_SEC token, at most credit_max */
	uint64_t credit_max; /* burst tokens in the same units */
	uint64_t last_ns;    /* time of the last refill, valid once has_last */
	uint32_t per_second; /* tokens added per second; 0: no limit */
	bool has_last;
};

/* Sets up lim with a full bucket. per_second 0 turns the limit off (every call allowed, as the
 * kernel's 0 does); a burst of 0 is taken as 1 (a bucket that cannot hold one token would never
 * allow anything). */
void icmp_limiter_init(struct icmp_limiter *lim, uint32_t per_second, uint32_t burst);
/* Whether one more error may be sent at now_ns (the caller's monotonic clock, CLOCK_BOOTTIME in
 * the daemon), taking its token if so. A now_ns earlier than a previous call's refills nothing.
 * Ask only for a packet icmp_classify accepted, so refusals never spend tokens. */
bool icmp_limiter_allow(struct icmp_limiter *lim, uint64_t now_ns);

#endif
