/* SPDX-License-Identifier: MIT */
/*
 * Active queue management for received data: CoDel (RFC 8289) on the time each datagram waited in
 * the UDP socket before the daemon took it, acting on the decrypted inner packet (CE if it is
 * ECN-capable, else drop). The core is pure and clock-injected; the caller reads one clock per
 * receive batch and the kernel's receive timestamps (udp.h). It knows nothing of sockets or of
 * WireGuard, and does not decide what to do with a dropped packet beyond saying so.
 */
#ifndef WGC_DAEMON_AQM_H
#define WGC_DAEMON_AQM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The defaults (README, "Latency under load"): with the tunnel's idle RTT under a millisecond,
 * RFC 8289's 5 ms / 100 ms (an Internet path) would let the socket hold a standing queue of 5 ms,
 * the very delay to remove. The interval must still exceed the flow's RTT under load (3 ms with
 * the AQM on a veth pair, 5-14 ms without), so one signal has time to reach the sender and shrink
 * the queue before the next; the target is 10% of it, as the RFC suggests.
 */
enum {
	AQM_TARGET_NS = 1000 * 1000,
	AQM_INTERVAL_NS = 10 * 1000 * 1000,
	/* A sojourn beyond this is a clock step (the timestamps are CLOCK_REALTIME), not a queue. */
	AQM_SOJOURN_MAX_NS = 1000 * 1000 * 1000,
	/* Packets shorter than this (IP bytes) are never judged: pure TCP ACKs, pings, DNS. Their
	 * loss slows no sender (TCP does not react to a lost ACK), they hold next to none of the
	 * queue's bytes, and they are the traffic that wants low delay. Measured: judged too, the
	 * ACK direction's queue (which is the sender daemon's CPU, not the ACKs) drew most drops. */
	AQM_MIN_LEN = 256,
};

/* CoDel's state for one queue (a UDP socket's receive queue). Times are in the caller's clock's
 * ns; first_above_ns is valid while is_above, drop_next_ns once count > 0. */
struct aqm {
	uint64_t target_ns;   /* sojourn below which the queue is good */
	uint64_t interval_ns; /* how long the sojourn must stay above target before a signal */
	uint64_t first_above_ns; /* when the sojourn may first count as standing */
	uint64_t drop_next_ns;   /* next signal while is_dropping */
	uint32_t count;      /* signals in the current (or last) dropping state */
	uint32_t last_count; /* count when the last dropping state was entered */
	bool is_above;       /* the sojourn has been above target since first_above_ns - interval */
	bool is_dropping;
};

/* What aqm_apply did with a packet. */
enum aqm_verdict {
	AQM_PASS,   /* deliver as it is */
	AQM_MARKED, /* deliver: CE set (IPv4 header checksum updated) */
	AQM_DROP,   /* congestion signalled on a packet that is not ECN-capable: do not deliver */
};

/* ---- configuration ---- */

/* Whether the AQM runs, given the value of WGC_AQM (NULL when unset): "0" turns it off. */
bool aqm_is_wanted(const char *env_value);

/* ---- the control law ---- */

/* A queue in the good state with the given parameters (interval_ns > 0). */
void aqm_init(struct aqm *q, uint64_t target_ns, uint64_t interval_ns);
/* One packet leaves the queue at now_ns after waiting sojourn_ns: whether CoDel signals
 * congestion on it (RFC 8289 section 5: the signal comes only after the sojourn stayed at or
 * above target for a whole interval, then every interval/sqrt(count) while it stays there; a
 * sojourn below target ends it). now_ns must not go back. Pure but for q. */
bool aqm_should_signal(struct aqm *q, uint64_t sojourn_ns, uint64_t now_ns);

/* ---- the packet ---- */

/* Sets CE on the IPv4 or IPv6 packet at pkt (len bytes) if its ECN field says ECT(0) or ECT(1)
 * (or already CE), updating the IPv4 header checksum (RFC 1624). False when the packet is not
 * ECN-capable or not an IP packet; then it is unchanged. */
bool aqm_mark_ce(uint8_t *pkt, size_t len);
/* aqm_should_signal, then on a signal aqm_mark_ce, else AQM_DROP. A packet shorter than
 * AQM_MIN_LEN or a sojourn over AQM_SOJOURN_MAX_NS is ignored (AQM_PASS, q unchanged). */
enum aqm_verdict aqm_apply(struct aqm *q, uint8_t *pkt, size_t len, uint64_t sojourn_ns,
			   uint64_t now_ns);

#endif
