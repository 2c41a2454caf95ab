/* SPDX-License-Identifier: MIT */
/*
 * A lane's inbox (docs/SCALING.md): a bounded multi-producer single-consumer queue of fixed-size
 * slots through which other lane threads hand it packets, plus an eventfd that wakes the owning
 * lane's event loop. Lock-free: a Vyukov bounded queue (per-slot sequence numbers, producers claim
 * a position with one CAS), so no producer ever waits for another or for the consumer; a full
 * inbox refuses a claim and the producer counts a drop, as a full TUN queue does. Wake-ups
 * coalesce: a producer writes the eventfd only when the consumer said, with inbox_arm, that it is
 * about to sleep, so a busy consumer costs its producers no system call at all.
 *
 * Thread rules:
 * - inbox_create, inbox_destroy: configuration time, when no other thread uses the inbox.
 *   inbox_create is for before the sandbox (sandbox.h): eventfd2 is not on the seccomp
 *   allow-list. Everything else (read and write of the eventfd; close and munmap) is, and
 *   tests/unit/test_inbox.c runs it under the filter.
 * - inbox_claim, inbox_publish: any thread, any number of threads at once (producers).
 * - inbox_peek, inbox_release, inbox_clear_wakeup, inbox_arm: the one consumer thread only.
 * - inbox_fd, inbox_slot_bytes, inbox_wakeups: any thread.
 *
 * Order: the consumer sees slots in claim order (the order of the producers' CAS on the enqueue
 * position), not in publish order. A slot claimed but not yet published holds back every later
 * slot, published or not, until it is published: that is the price of a queue without locks or
 * per-producer rings, and why a producer publishes promptly after it claims (fill the slot; no
 * system call, lock or wait in between). Every claimed slot must be published; a producer with
 * nothing to send after all publishes the slot with a kind the consumer skips.
 *
 * Memory: one anonymous mapping (MAP_NORESERVE) holds the control block and every slot, so pages
 * of slots the queue never reached cost no RSS; nothing is written at create beyond the control
 * block. Slots are 64-byte aligned.
 */
#ifndef WGC_DAEMON_INBOX_H
#define WGC_DAEMON_INBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wgc.h"

struct inbox;

/* One slot: a 64-byte header, then data[] of inbox_slot_bytes() bytes. The producer that claimed
 * it owns every field until it publishes; the consumer then owns it until it releases. The inbox
 * reads none of the fields: their meaning is the lanes' (len: bytes used in data; kind, flags:
 * what the message is; meta: e.g. a source address). */
struct inbox_slot {
	_Alignas(64) uint32_t len;
	uint16_t kind;
	uint16_t flags;
	uint8_t meta[56];
	uint8_t data[];
};
_Static_assert(sizeof(struct inbox_slot) == 64, "an inbox slot's header is one cache line");
_Static_assert(offsetof(struct inbox_slot, data) == 64, "an inbox slot's data starts at 64");

enum {
	INBOX_SLOTS_MIN = 2,             /* a Vyukov queue of one slot cannot tell full from empty */
	INBOX_SLOTS_MAX = 1u << 24,
	INBOX_SLOT_BYTES_MAX = 1u << 20, /* data bytes per slot */
};

/* ---- setup (configuration time) ---- */

/*
 * Maps an inbox of `slots` slots (a power of two, INBOX_SLOTS_MIN..INBOX_SLOTS_MAX) of slot_bytes
 * data bytes each (at most INBOX_SLOT_BYTES_MAX), and its eventfd (EFD_NONBLOCK | EFD_CLOEXEC).
 * The consumer starts armed: the first publish wakes it. Returns 0 and *out (the caller owns it,
 * freed with inbox_destroy), -EINVAL for a bad size, or another -errno (logged) from mmap or
 * eventfd; *out is untouched on failure.
 */
WGC_MUST_CHECK int inbox_create(uint32_t slots, uint32_t slot_bytes, struct inbox **out);
/* Closes the eventfd and unmaps everything; every slot pointer dies with it. NULL is fine.
 * No producer or consumer may be inside or come back into any inbox call. */
void inbox_destroy(struct inbox *ib);

/* ---- properties (any thread) ---- */

/* The eventfd the consumer's epoll set watches (EPOLLIN): readable after a publish that found the
 * consumer armed. Owned by the inbox. */
int inbox_fd(const struct inbox *ib);
/* The data capacity of every slot, as given to inbox_create. */
uint32_t inbox_slot_bytes(const struct inbox *ib);
/* How many eventfd writes producers have made (wake-ups), for tests and statistics. */
uint64_t inbox_wakeups(const struct inbox *ib);

/* ---- producers (any thread) ---- */

/*
 * Claims the next slot in claim order, or NULL when the inbox is full (the caller counts a drop;
 * nothing changed). The slot's header and data hold whatever was there before: the caller sets
 * every field it uses. It must be published with inbox_publish, promptly (see Order above).
 */
struct inbox_slot *inbox_claim(struct inbox *ib);
/*
 * Hands a slot returned by inbox_claim to the consumer (from any thread, once); the caller must
 * not touch it afterwards. Writes the eventfd if the consumer was armed (at most one write per
 * arm, shared by all producers), so the consumer may be asleep when this is called.
 */
void inbox_publish(struct inbox *ib, struct inbox_slot *s);

/* ---- consumer (one thread) ---- */

/*
 * The oldest slot if it is published, or NULL (the inbox is empty, or its oldest slot is claimed
 * but not yet published). The slot stays valid and the same until inbox_release.
 */
struct inbox_slot *inbox_peek(struct inbox *ib);
/* Gives the oldest slot, s (the one inbox_peek returned), back to the producers. */
void inbox_release(struct inbox *ib, struct inbox_slot *s);
/* Reads (resets) the eventfd; call when the epoll set reports it readable, before draining. */
void inbox_clear_wakeup(struct inbox *ib);
/*
 * Returns true if the inbox is empty AND the consumer is now armed to be woken by the next
 * publish; false if something arrived meanwhile (keep draining: not armed). Call before going
 * back to sleep; "empty" includes an oldest slot claimed but not yet published, whose publish
 * will wake the consumer.
 */
bool inbox_arm(struct inbox *ib);

#endif
