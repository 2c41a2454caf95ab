/* SPDX-License-Identifier: MIT */
/*
 * The inbox (inbox.h): Dmitry Vyukov's bounded MPMC queue ("Bounded MPMC queue", 1024cores.net),
 * used with one consumer, in one anonymous mapping, plus the armed-flag handshake that lets
 * producers skip the eventfd while the consumer is busy. It owns the queue's memory orders and the
 * wake-up protocol; what a slot carries is the lanes' business.
 *
 * Sequence numbers. Vyukov gives slot i a sequence seq, initially i, and a position pos maps to
 * slot pos & mask: the slot is free for pos when seq == pos, published for pos when
 * seq == pos + 1, and the consumer frees it for pos + slots by setting seq = pos + slots. We store
 * seq - i instead (the "turn" below), which is 0 at start for every slot: the mapping's zero pages
 * are already a valid empty queue, so creating an inbox touches no slot and untouched slots stay
 * unbacked. With lap(pos) = pos & ~mask (= pos - i), the slot is free for pos when
 * turn == lap(pos), published when turn == lap(pos) + 1, freed for the next lap with
 * turn = lap(pos) + slots. Positions are 64-bit and never wrap in practice; the differences are
 * taken as signed so that they would still be right if they did.
 *
 * Layout of the mapping: the control block (struct inbox, a page), then each slot as one 64-byte
 * line holding its turn, the 64-byte header, and the data rounded up to 64 bytes. The turn has a
 * line of its own so that producers publishing neighbouring slots, and the consumer releasing
 * one, never write the same cache line.
 */
#include "daemon/inbox.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/assert.h"
#include "daemon/log.h"

enum { CACHE_LINE = 64 };

_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "the inbox needs lock-free 64-bit atomics");

struct inbox {
	/* Set at create, read-only afterwards. */
	uint8_t *cells;      /* the first slot's turn line */
	size_t stride;       /* bytes from one slot's turn line to the next */
	size_t map_len;      /* bytes of the whole mapping */
	uint64_t mask;       /* slots - 1 */
	uint64_t slot_count; /* slots */
	uint32_t slot_bytes; /* data bytes per slot, as asked for */
	int efd;

	/* Producers: the next position to claim. */
	_Alignas(CACHE_LINE) _Atomic uint64_t enqueue_pos;

	/* The wake-up handshake: set by the consumer, taken by one producer. */
	_Alignas(CACHE_LINE) atomic_bool is_armed;
	_Atomic uint64_t wakeups; /* eventfd writes */

	/* Consumer only (plain): the next position to take. */
	_Alignas(CACHE_LINE) uint64_t dequeue_pos;
};

/* A slot's turn line. */
struct cell {
	_Alignas(CACHE_LINE) _Atomic uint64_t turn;
};

_Static_assert(sizeof(struct cell) == CACHE_LINE, "a turn has a line of its own");

static size_t control_len(void)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	return (sizeof(struct inbox) + page - 1) / page * page;
}

static struct cell *cell_at(const struct inbox *ib, uint64_t pos)
{
	return (struct cell *)(void *)(ib->cells + (size_t)(pos & ib->mask) * ib->stride);
}

static struct inbox_slot *slot_of(struct cell *c)
{
	return (struct inbox_slot *)(void *)((uint8_t *)c + CACHE_LINE);
}

static struct cell *cell_of(struct inbox_slot *s)
{
	return (struct cell *)(void *)((uint8_t *)s - CACHE_LINE);
}

static uint64_t lap(const struct inbox *ib, uint64_t pos)
{
	return pos & ~ib->mask;
}

/* ---- setup ---- */

int inbox_create(uint32_t slots, uint32_t slot_bytes, struct inbox **out)
{
	size_t stride;
	size_t head;
	size_t len;
	struct inbox *ib;
	void *mem;
	int err;

	if (slots < INBOX_SLOTS_MIN || slots > INBOX_SLOTS_MAX || (slots & (slots - 1)) != 0 ||
	    slot_bytes > INBOX_SLOT_BYTES_MAX)
		return -EINVAL;
	/* At most 2^24 * (2^20 + 192) bytes: fits a 64-bit size_t, which the daemon requires. */
	stride = 2 * CACHE_LINE + ((size_t)slot_bytes + CACHE_LINE - 1) / CACHE_LINE * CACHE_LINE;
	head = control_len();
	len = head + (size_t)slots * stride;
	mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		   -1, 0);
	if (mem == MAP_FAILED) {
		err = errno;
		log_error("mapping an inbox of %u slots of %u bytes: %s", slots, slot_bytes,
			  strerror(err));
		return -err;
	}
	ib = mem;
	ib->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (ib->efd < 0) {
		err = errno;
		log_error("creating an inbox's eventfd: %s", strerror(err));
		munmap(mem, len);
		return -err;
	}
	ib->cells = (uint8_t *)mem + head;
	ib->stride = stride;
	ib->map_len = len;
	ib->mask = slots - 1;
	ib->slot_count = slots;
	ib->slot_bytes = slot_bytes;
	/* Every turn is 0 (zero pages): all slots free for lap 0. The consumer starts asleep. */
	atomic_init(&ib->enqueue_pos, 0);
	atomic_init(&ib->is_armed, true);
	atomic_init(&ib->wakeups, 0);
	ib->dequeue_pos = 0;
	*out = ib;
	return 0;
}

void inbox_destroy(struct inbox *ib)
{
	if (!ib)
		return;
	close(ib->efd);
	munmap(ib, ib->map_len);
}

/* ---- properties ---- */

int inbox_fd(const struct inbox *ib)
{
	return ib->efd;
}

uint32_t inbox_slot_bytes(const struct inbox *ib)
{
	return ib->slot_bytes;
}

uint64_t inbox_wakeups(const struct inbox *ib)
{
	/* A statistic: no other memory is read on the strength of it. */
	return atomic_load_explicit(&((struct inbox *)ib)->wakeups, memory_order_relaxed);
}

/* ---- producers ---- */

struct inbox_slot *inbox_claim(struct inbox *ib)
{
	/* Relaxed: the position is only a hint of where to look; the turn decides. */
	uint64_t pos = atomic_load_explicit(&ib->enqueue_pos, memory_order_relaxed);

	for (;;) {
		struct cell *c = cell_at(ib, pos);
		/* Acquire: pairs with the consumer's release in inbox_release, so its reads of the
		 * slot's previous message happen before our writes of the next one. */
		uint64_t turn = atomic_load_explicit(&c->turn, memory_order_acquire);
		int64_t dif = (int64_t)(turn - lap(ib, pos));

		if (dif == 0) {
			/* The slot is free for pos; the CAS makes pos ours alone. Relaxed both ways:
			 * the CAS only arbitrates among producers (enqueue_pos has one modification
			 * order, so two cannot win pos); it publishes nothing, and the data's
			 * ordering is carried by the turn (acquire above, release in publish). On
			 * failure pos is reloaded with the current value and we look again. */
			if (atomic_compare_exchange_weak_explicit(&ib->enqueue_pos, &pos, pos + 1,
								  memory_order_relaxed,
								  memory_order_relaxed))
				return slot_of(c);
		} else if (dif < 0) {
			/* The slot still holds the message of pos - slots: full. */
			return NULL;
		} else {
			/* Another producer took pos since we read it: look at the newest position. */
			pos = atomic_load_explicit(&ib->enqueue_pos, memory_order_relaxed);
		}
	}
}

static void wake(struct inbox *ib)
{
	static const uint64_t one = 1;

	atomic_fetch_add_explicit(&ib->wakeups, 1, memory_order_relaxed);
	/* Cannot fail but for EAGAIN at a count of 2^64 - 2, which a consumer that reads it never
	 * lets happen; a missed write here could only delay, never lose, a message. */
	(void)!write(ib->efd, &one, sizeof(one));
}

void inbox_publish(struct inbox *ib, struct inbox_slot *s)
{
	struct cell *c = cell_of(s);
	/* Relaxed: our own slot's turn, read with acquire in claim; nobody else writes it until the
	 * consumer releases what we are about to publish. */
	uint64_t turn = atomic_load_explicit(&c->turn, memory_order_relaxed);

	/* Release: the slot's contents happen before the consumer's acquire of the new turn. */
	atomic_store_explicit(&c->turn, turn + 1, memory_order_release);
	/*
	 * The store-buffering half of the wake-up handshake; inbox_arm is the other. We store our
	 * turn, then read is_armed; the consumer stores is_armed, then reads the turn. Without a
	 * seq_cst fence on each side both reads could miss both stores (each store still in its
	 * CPU's store buffer): we would skip the wake-up and the consumer would sleep on our
	 * message. With the fences, they are ordered in the single total order S: if ours comes
	 * first, the consumer's re-check after its fence sees our turn; if the consumer's comes
	 * first, our read after our fence sees is_armed == true (or a later value: false written
	 * by a producer that took the wake-up and writes the eventfd, or by the consumer, which
	 * is awake and arms again, fence after ours, so sees our turn).
	 */
	atomic_thread_fence(memory_order_seq_cst);
	/* Relaxed read first: while the consumer is busy (not armed) producers do not pull the
	 * flag's line exclusive on every publish. The exchange then lets exactly one producer
	 * take an arm; relaxed, as the fence above already orders it after our turn, and no data
	 * is read on the strength of it. */
	if (atomic_load_explicit(&ib->is_armed, memory_order_relaxed) &&
	    atomic_exchange_explicit(&ib->is_armed, false, memory_order_relaxed))
		wake(ib);
}

/* ---- consumer ---- */

struct inbox_slot *inbox_peek(struct inbox *ib)
{
	struct cell *c = cell_at(ib, ib->dequeue_pos);

	/* Acquire: pairs with the producer's release in inbox_publish, so the slot's contents are
	 * visible once its turn says published. */
	if (atomic_load_explicit(&c->turn, memory_order_acquire) == lap(ib, ib->dequeue_pos) + 1)
		return slot_of(c);
	return NULL;
}

void inbox_release(struct inbox *ib, struct inbox_slot *s)
{
	uint64_t pos = ib->dequeue_pos;
	struct cell *c = cell_at(ib, pos);

	/* Our own contract: the consumer releases what it peeked, oldest first. */
	WGC_ASSERT(slot_of(c) == s && atomic_load_explicit(&c->turn, memory_order_relaxed) ==
					      lap(ib, pos) + 1);
	/* Release: our reads of the slot happen before a producer's acquire in claim, which then
	 * overwrites it. */
	atomic_store_explicit(&c->turn, lap(ib, pos) + ib->slot_count, memory_order_release);
	ib->dequeue_pos = pos + 1;
}

void inbox_clear_wakeup(struct inbox *ib)
{
	uint64_t count;

	/* EAGAIN (nothing to read: a spurious readiness, or an earlier clear) is fine. */
	(void)!read(ib->efd, &count, sizeof(count));
}

bool inbox_arm(struct inbox *ib)
{
	/* Relaxed store, then the fence: the consumer's half of the handshake in inbox_publish. */
	atomic_store_explicit(&ib->is_armed, true, memory_order_relaxed);
	atomic_thread_fence(memory_order_seq_cst);
	if (!inbox_peek(ib))
		return true;
	/* Something is there: keep draining, not armed. A producer may have taken the arm
	 * meanwhile and written the eventfd; that costs one spurious wake-up, never a lost one. */
	atomic_store_explicit(&ib->is_armed, false, memory_order_relaxed);
	return false;
}
