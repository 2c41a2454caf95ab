/* SPDX-License-Identifier: MIT */
/*
 * The handshake queue: received handshake messages (initiations and responses) wait
 * here, copied out of the receive buffers, so that the data messages of the same batch go first
 * and the Noise work (up to four X25519 each) runs afterwards within a time budget per event-loop
 * round. A fixed ring mapped at start (pages touched only as far as the queue ever filled): when
 * it is full a message is dropped before any crypto and counted. Its fill level is the daemon's
 * "under load" signal, as in the kernel module (under load from 1/8 full on): the core then asks
 * for mac2 and answers only within its cookie-reply budget. Pure data structure, no syscalls, no
 * clock; event-loop thread only.
 */
#ifndef WGC_DAEMON_HSQUEUE_H
#define WGC_DAEMON_HSQUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/udp.h"
#include "wgc.h"

enum {
	HSQ_MSG_MAX = 148,                  /* an initiation, the longest handshake message */
	HSQ_CAP = 1024,                     /* a power of two */
	HSQ_LOAD_FILL = HSQ_CAP / 8,        /* at or above this many queued: under load */
};

struct hsq_slot {
	struct wgc_addr src;   /* where it came from */
	struct udp_src local;  /* the address it arrived at (sticky source) */
	uint16_t len;
	uint8_t msg[HSQ_MSG_MAX];
};

struct hsq {
	struct hsq_slot *slots; /* HSQ_CAP */
	uint32_t head;          /* next to take; free-running, masked on use */
	uint32_t tail;          /* next to fill */
	uint32_t high;          /* most slots ever in use at once */
};

/* True for a datagram that belongs in the queue: an initiation or a response (type word 1 or 2,
 * reserved bytes zero) that fits a slot. Anything else of those types the core drops at once for
 * its type or length, and cookie replies are cheap (an index lookup, one AEAD for a handshake of
 * ours), so neither takes a slot or counts as load. */
enum { HSQ_TYPE_INITIATION = 1, HSQ_TYPE_RESPONSE = 2 };

static inline bool hsq_wants(const uint8_t *data, size_t len)
{
	return len >= 4 && len <= HSQ_MSG_MAX &&
	       (data[0] == HSQ_TYPE_INITIATION || data[0] == HSQ_TYPE_RESPONSE) && data[1] == 0 &&
	       data[2] == 0 && data[3] == 0;
}

/* Maps the ring; 0 or -ENOMEM (logged). */
int hsq_init(struct hsq *q);
/* Unmaps it (a zeroed or cleared queue is fine). */
void hsq_clear(struct hsq *q);

static inline uint32_t hsq_count(const struct hsq *q)
{
	return q->tail - q->head;
}

/* Copies a message in; false (nothing changed) when the queue is full or len > HSQ_MSG_MAX. */
bool hsq_push(struct hsq *q, const uint8_t *data, size_t len, const struct wgc_addr *src,
	      const struct udp_src *local);
/* The oldest message, or NULL when empty; valid until the next hsq_push. hsq_pop removes it. */
struct hsq_slot *hsq_peek(struct hsq *q);
void hsq_pop(struct hsq *q);

#endif
