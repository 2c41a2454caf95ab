/* SPDX-License-Identifier: MIT */
/*
 * Per-peer protocol timers over one endpoint-wide min-heap (whitepaper 6). Arming a timer earlier
 * than the peer's heap key sifts the peer up at once; anything that only postpones or cancels work is
 * left for the tick to discover, because per-packet events (keepalive resets, persistent keepalive
 * pushes) are almost always postponements and must stay O(1).
 */
#include "core/timers.h"

#include <stddef.h>

#include "base/assert.h"
#include "core/messages.h"

void wgc_timer_heap_init(struct wgc_timer_heap *heap, struct wgc_timers **slots, uint32_t cap)
{
	heap->slots = slots;
	heap->count = 0;
	heap->cap = cap;
}

static void place(struct wgc_timer_heap *heap, uint32_t pos, struct wgc_timers *timers)
{
	heap->slots[pos - 1] = timers;
	timers->heap_pos = pos;
}

static void sift_up(struct wgc_timer_heap *heap, uint32_t pos)
{
	struct wgc_timers *moving = heap->slots[pos - 1];

	while (pos > 1) {
		struct wgc_timers *parent = heap->slots[pos / 2 - 1];

		if (parent->heap_key_ns <= moving->heap_key_ns)
			break;
		place(heap, pos, parent);
		pos /= 2;
	}
	place(heap, pos, moving);
}

static void sift_down(struct wgc_timer_heap *heap, uint32_t pos)
{
	struct wgc_timers *moving = heap->slots[pos - 1];

	for (;;) {
		uint32_t child = pos * 2;
		struct wgc_timers *smaller;

		if (child > heap->count)
			break;
		smaller = heap->slots[child - 1];
		if (child + 1 <= heap->count &&
		    heap->slots[child]->heap_key_ns < smaller->heap_key_ns) {
			child++;
			smaller = heap->slots[child - 1];
		}
		if (moving->heap_key_ns <= smaller->heap_key_ns)
			break;
		place(heap, pos, smaller);
		pos = child;
	}
	place(heap, pos, moving);
}

static void heap_remove(struct wgc_timer_heap *heap, struct wgc_timers *timers)
{
	uint32_t pos = timers->heap_pos;
	struct wgc_timers *last;

	if (pos == 0)
		return;
	WGC_ASSERT(pos <= heap->count && heap->slots[pos - 1] == timers);
	timers->heap_pos = 0;
	last = heap->slots[heap->count - 1];
	heap->count--;
	if (last == timers)
		return;
	place(heap, pos, last);
	sift_down(heap, pos);
	sift_up(heap, last->heap_pos);
}

/* Makes sure the heap will wake the peer no later than deadline_ns. The heap has a slot per peer, so
 * insertion cannot run out of room. */
static void schedule(struct wgc_timer_heap *heap, struct wgc_timers *timers, uint64_t deadline_ns)
{
	if (timers->heap_pos != 0) {
		if (timers->heap_key_ns <= deadline_ns)
			return;
		timers->heap_key_ns = deadline_ns;
		sift_up(heap, timers->heap_pos);
		return;
	}
	timers->heap_key_ns = deadline_ns;
	WGC_ASSERT(heap->count < heap->cap);
	heap->count++;
	place(heap, heap->count, timers);
	sift_up(heap, heap->count);
}

void wgc_timers_arm(struct wgc_timer_heap *heap, struct wgc_timers *timers, enum wgc_timer timer,
		    uint64_t deadline_ns)
{
	timers->deadline_ns[timer] = deadline_ns;
	timers->armed |= UINT32_C(1) << timer;
	schedule(heap, timers, deadline_ns);
}

void wgc_timers_arm_if_idle(struct wgc_timer_heap *heap, struct wgc_timers *timers,
			    enum wgc_timer timer, uint64_t deadline_ns)
{
	if (!wgc_timers_is_armed(timers, timer))
		wgc_timers_arm(heap, timers, timer, deadline_ns);
}

void wgc_timers_disarm(struct wgc_timers *timers, enum wgc_timer timer)
{
	timers->armed &= ~(UINT32_C(1) << timer);
}

bool wgc_timers_is_armed(const struct wgc_timers *timers, enum wgc_timer timer)
{
	return (timers->armed & (UINT32_C(1) << timer)) != 0;
}

bool wgc_timers_take_due(struct wgc_timers *timers, enum wgc_timer timer, uint64_t now)
{
	if (!wgc_timers_is_armed(timers, timer) || timers->deadline_ns[timer] > now)
		return false;
	wgc_timers_disarm(timers, timer);
	return true;
}

void wgc_timers_clear(struct wgc_timer_heap *heap, struct wgc_timers *timers)
{
	heap_remove(heap, timers);
	timers->armed = 0;
}

struct wgc_timers *wgc_timer_heap_pop_due(struct wgc_timer_heap *heap, uint64_t now)
{
	struct wgc_timers *top;

	if (heap->count == 0 || heap->slots[0]->heap_key_ns > now)
		return NULL;
	top = heap->slots[0];
	heap_remove(heap, top);
	return top;
}

void wgc_timers_refile(struct wgc_timer_heap *heap, struct wgc_timers *timers)
{
	uint64_t earliest = UINT64_MAX;
	int t;

	for (t = 0; t < TIMER__COUNT; t++) {
		if (wgc_timers_is_armed(timers, (enum wgc_timer)t) && timers->deadline_ns[t] < earliest)
			earliest = timers->deadline_ns[t];
	}
	heap_remove(heap, timers);
	if (timers->armed != 0)
		schedule(heap, timers, earliest);
}

uint64_t wgc_timer_heap_next(const struct wgc_timer_heap *heap)
{
	return heap->count ? heap->slots[0]->heap_key_ns : UINT64_MAX;
}

void wgc_timers_on_data_sent(struct wgc_timer_heap *heap, struct wgc_timers *timers, uint64_t now,
			     uint64_t jitter_ns)
{
	wgc_timers_arm_if_idle(heap, timers, TIMER_NEW_HANDSHAKE,
			       now + KEEPALIVE_TIMEOUT + REKEY_TIMEOUT + jitter_ns);
}

void wgc_timers_on_data_received(struct wgc_timer_heap *heap, struct wgc_timers *timers,
				 uint64_t now)
{
	if (wgc_timers_is_armed(timers, TIMER_SEND_KEEPALIVE))
		timers->need_another_keepalive = true;
	else
		wgc_timers_arm(heap, timers, TIMER_SEND_KEEPALIVE, now + KEEPALIVE_TIMEOUT);
}

void wgc_timers_on_authenticated_sent(struct wgc_timers *timers)
{
	wgc_timers_disarm(timers, TIMER_SEND_KEEPALIVE);
}

void wgc_timers_on_authenticated_received(struct wgc_timers *timers)
{
	wgc_timers_disarm(timers, TIMER_NEW_HANDSHAKE);
}

void wgc_timers_on_authenticated_traversal(struct wgc_timer_heap *heap, struct wgc_timers *timers,
					   uint64_t now, uint16_t persistent_keepalive_s)
{
	if (persistent_keepalive_s)
		wgc_timers_arm(heap, timers, TIMER_PERSISTENT_KEEPALIVE,
			       now + (uint64_t)persistent_keepalive_s * WGC_NSEC_PER_SEC);
}

void wgc_timers_on_handshake_initiated(struct wgc_timer_heap *heap, struct wgc_timers *timers,
				       uint64_t now, uint64_t jitter_ns)
{
	wgc_timers_arm(heap, timers, TIMER_RETRANSMIT_HANDSHAKE, now + REKEY_TIMEOUT + jitter_ns);
}

void wgc_timers_on_handshake_complete(struct wgc_timers *timers)
{
	wgc_timers_disarm(timers, TIMER_RETRANSMIT_HANDSHAKE);
	timers->handshake_attempts = 0;
	timers->sent_last_minute_handshake = false;
}

void wgc_timers_on_session_derived(struct wgc_timer_heap *heap, struct wgc_timers *timers,
				   uint64_t now)
{
	wgc_timers_arm(heap, timers, TIMER_ZERO_KEY_MATERIAL, now + ZERO_KEYS_AFTER);
}
