/* SPDX-License-Identifier: MIT */
/*
 * CoDel (RFC 8289), one packet at a time: the RFC's dequeue loop drops packets back to back
 * until the next drop time; here each packet is judged as it leaves, so "the loop" is the next
 * call with the same batch time. The RFC's "less than an MTU queued" exit is left out: the
 * daemon does not know the socket's backlog, and a datagram that waited target or longer in it
 * came from a queue that was not empty.
 */
#include "daemon/aqm.h"

#include "base/bytes.h"
#include "base/ip.h"

#include <string.h>

enum {
	ECN_MASK = 0x03, /* the ECN field: low two bits of the IPv4 TOS / IPv6 traffic class */
	ECN_NOT_ECT = 0x00,
	ECN_CE = 0x03,
	/* The IPv6 traffic class spans bytes 0 and 1; its ECN bits are bits 4-5 of byte 1. */
	IPV6_ECN_SHIFT = 4,
	/* Re-entering the dropping state this soon after the last one resumes its count. */
	RESUME_INTERVALS = 16,
};

bool aqm_is_wanted(const char *env_value)
{
	return !env_value || strcmp(env_value, "0") != 0;
}

void aqm_init(struct aqm *q, uint64_t target_ns, uint64_t interval_ns)
{
	q->target_ns = target_ns;
	q->interval_ns = interval_ns;
	q->first_above_ns = 0;
	q->drop_next_ns = 0;
	q->count = 0;
	q->last_count = 0;
	q->is_above = false;
	q->is_dropping = false;
}

/* floor(sqrt(v)), bit by bit. */
static uint64_t isqrt64(uint64_t v)
{
	uint64_t root = 0;
	uint64_t bit = (uint64_t)1 << 62;

	while (bit > v)
		bit >>= 2;
	while (bit) {
		if (v >= root + bit) {
			v -= root + bit;
			root = (root >> 1) + bit;
		} else {
			root >>= 1;
		}
		bit >>= 2;
	}
	return root;
}

/* t + interval / sqrt(count), in 16.16 fixed point: sqrt(count << 32) = sqrt(count) << 16. */
static uint64_t control_law(const struct aqm *q, uint64_t t)
{
	return t + (q->interval_ns << 16) / isqrt64((uint64_t)q->count << 32);
}

/* RFC 8289's dodequeue: whether the sojourn has been at or above target for an interval. */
static bool is_standing(struct aqm *q, uint64_t sojourn_ns, uint64_t now_ns)
{
	if (sojourn_ns < q->target_ns) {
		q->is_above = false;
		return false;
	}
	if (!q->is_above) {
		q->is_above = true;
		q->first_above_ns = now_ns + q->interval_ns;
		return false;
	}
	return now_ns >= q->first_above_ns;
}

bool aqm_should_signal(struct aqm *q, uint64_t sojourn_ns, uint64_t now_ns)
{
	bool is_bad = is_standing(q, sojourn_ns, now_ns);
	uint32_t delta;

	if (q->is_dropping) {
		if (!is_bad) {
			q->is_dropping = false;
			return false;
		}
		if (now_ns < q->drop_next_ns)
			return false;
		q->count++;
		q->drop_next_ns = control_law(q, q->drop_next_ns);
		return true;
	}
	if (!is_bad)
		return false;
	/* Entering the dropping state: if the last one ended recently, the queue was not
	 * controlled; start near the drop rate that last worked. */
	q->is_dropping = true;
	delta = q->count - q->last_count;
	if (delta > 1 && q->count > 0 &&
	    now_ns < q->drop_next_ns + RESUME_INTERVALS * q->interval_ns)
		q->count = delta;
	else
		q->count = 1;
	q->last_count = q->count;
	q->drop_next_ns = control_law(q, now_ns);
	return true;
}

/* Adds 16-bit words old -> new to the one's complement checksum at sum (RFC 1624, eqn. 3:
 * HC' = ~(~HC + ~m + m')). */
static void update_csum16(uint8_t *sum, uint16_t old_word, uint16_t new_word)
{
	uint32_t c = (uint16_t)~wgc_load_be16(sum);

	c += (uint16_t)~old_word;
	c += new_word;
	c = (c & 0xffff) + (c >> 16);
	c = (c & 0xffff) + (c >> 16);
	wgc_store_be16(sum, (uint16_t)~c);
}

bool aqm_mark_ce(uint8_t *pkt, size_t len)
{
	uint16_t old_word;

	if (len >= WGC_IPV4_HEADER_MIN_LEN && wgc_ip_version(pkt) == WGC_IP_VERSION_4) {
		if ((pkt[WGC_IPV4_OFF_TOS] & ECN_MASK) == ECN_NOT_ECT)
			return false;
		/* version/IHL and TOS are one 16-bit word of the checksum */
		old_word = wgc_load_be16(pkt + WGC_IPV4_OFF_VERSION_IHL);
		pkt[WGC_IPV4_OFF_TOS] |= ECN_CE;
		update_csum16(pkt + WGC_IPV4_OFF_CHECKSUM, old_word,
			      wgc_load_be16(pkt + WGC_IPV4_OFF_VERSION_IHL));
		return true;
	}
	if (len >= WGC_IPV6_HEADER_LEN && wgc_ip_version(pkt) == WGC_IP_VERSION_6) {
		if (((pkt[WGC_IPV6_OFF_VERSION_CLASS_FLOW + 1] >> IPV6_ECN_SHIFT) & ECN_MASK) == ECN_NOT_ECT)
			return false;
		pkt[WGC_IPV6_OFF_VERSION_CLASS_FLOW + 1] |= ECN_CE << IPV6_ECN_SHIFT;
		return true;
	}
	return false;
}

enum aqm_verdict aqm_apply(struct aqm *q, uint8_t *pkt, size_t len, uint64_t sojourn_ns,
			   uint64_t now_ns)
{
	if (len < AQM_MIN_LEN || sojourn_ns > AQM_SOJOURN_MAX_NS ||
	    !aqm_should_signal(q, sojourn_ns, now_ns))
		return AQM_PASS;
	return aqm_mark_ce(pkt, len) ? AQM_MARKED : AQM_DROP;
}
