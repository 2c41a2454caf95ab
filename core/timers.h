/* SPDX-License-Identifier: MIT */
/*
 * Protocol timers (whitepaper 6): events in, deadlines out. Each peer keeps one deadline per timer;
 * the endpoint keeps a min-heap of peers keyed by their earliest armed deadline, so a tick touches
 * only the peers that are due and an idle peer costs nothing. The heap is lazy: moving a deadline
 * later or disarming it leaves the heap key early, and the tick that pops it re-files the peer at its
 * true earliest deadline. What a timer does when it fires is the endpoint's business, not this file's.
 */
#ifndef WGC_CORE_TIMERS_H
#define WGC_CORE_TIMERS_H

#include <stdbool.h>
#include <stdint.h>

enum wgc_timer {
	TIMER_RETRANSMIT_HANDSHAKE, /* no response REKEY_TIMEOUT + jitter after an initiation */
	TIMER_SEND_KEEPALIVE,       /* passive keepalive KEEPALIVE_TIMEOUT after data received */
	TIMER_NEW_HANDSHAKE,        /* dead peer: data sent, nothing heard back */
	TIMER_ZERO_KEY_MATERIAL,    /* 3 * REJECT_AFTER_TIME after the last session was derived;
				     * fired first, and also applied when overdue by whatever is
				     * about to create handshake or session state */
	TIMER_PERSISTENT_KEEPALIVE, /* interval passed with no authenticated packet either way */
	TIMER__COUNT
};

/* Per-peer timer state (embedded in the peer). */
struct wgc_timers {
	uint64_t deadline_ns[TIMER__COUNT]; /* meaningful only when the bit is set in armed */
	uint32_t armed;                     /* bit (1 << timer) */
	uint32_t heap_pos;                  /* 1-based slot in the heap; 0 = not in the heap */
	uint64_t heap_key_ns;               /* the key the heap holds for this peer */
	uint32_t handshake_attempts;        /* retransmissions since the attempt began */
	bool need_another_keepalive;        /* data arrived while the keepalive timer was armed */
	bool sent_last_minute_handshake;    /* receive-side rekey at 165 s already asked for */
};

/* Min-heap of struct wgc_timers by heap_key_ns, over caller memory of cap pointers. */
struct wgc_timer_heap {
	struct wgc_timers **slots;
	uint32_t count;
	uint32_t cap;
};

void wgc_timer_heap_init(struct wgc_timer_heap *heap, struct wgc_timers **slots, uint32_t cap);

/* Arms timer at deadline_ns (re-arming moves it, earlier or later). */
void wgc_timers_arm(struct wgc_timer_heap *heap, struct wgc_timers *timers, enum wgc_timer timer,
		    uint64_t deadline_ns);
/* Arms timer only if it is not armed already ("add if not pending"). */
void wgc_timers_arm_if_idle(struct wgc_timer_heap *heap, struct wgc_timers *timers,
			    enum wgc_timer timer, uint64_t deadline_ns);
void wgc_timers_disarm(struct wgc_timers *timers, enum wgc_timer timer);
bool wgc_timers_is_armed(const struct wgc_timers *timers, enum wgc_timer timer);
/* True (and disarms it) if timer is armed and due at now. */
bool wgc_timers_take_due(struct wgc_timers *timers, enum wgc_timer timer, uint64_t now);

/* ---- protocol events (whitepaper 6; names as in the reference implementations) ---- */

/* A data packet (not a keepalive) was sent: expect an answer within KEEPALIVE_TIMEOUT +
 * REKEY_TIMEOUT + jitter, or start a new handshake (dead peer detection). */
void wgc_timers_on_data_sent(struct wgc_timer_heap *heap, struct wgc_timers *timers, uint64_t now,
			     uint64_t jitter_ns);
/* A data packet (not a keepalive) was received: owe a keepalive unless we send something first. */
void wgc_timers_on_data_received(struct wgc_timer_heap *heap, struct wgc_timers *timers,
				 uint64_t now);
/* Any authenticated packet (handshake, data, keepalive) was sent: no keepalive owed. */
void wgc_timers_on_authenticated_sent(struct wgc_timers *timers);
/* Any authenticated packet was received: the peer is alive. */
void wgc_timers_on_authenticated_received(struct wgc_timers *timers);
/* Any authenticated packet went either way: restart the persistent keepalive interval. */
void wgc_timers_on_authenticated_traversal(struct wgc_timer_heap *heap, struct wgc_timers *timers,
					   uint64_t now, uint16_t persistent_keepalive_s);
/* We sent an initiation: retransmit after REKEY_TIMEOUT + jitter unless answered. */
void wgc_timers_on_handshake_initiated(struct wgc_timer_heap *heap, struct wgc_timers *timers,
				       uint64_t now, uint64_t jitter_ns);
/* A handshake completed (response consumed, or next keypair confirmed). */
void wgc_timers_on_handshake_complete(struct wgc_timers *timers);
/* A session was derived: wipe everything 3 * REJECT_AFTER_TIME from now unless renewed. */
void wgc_timers_on_session_derived(struct wgc_timer_heap *heap, struct wgc_timers *timers,
				   uint64_t now);

/* Disarms everything and takes the peer out of the heap (peer removal). */
void wgc_timers_clear(struct wgc_timer_heap *heap, struct wgc_timers *timers);

/* Pops the peer with the earliest key if that key is <= now; NULL otherwise. The caller fires its
 * due timers and then calls wgc_timers_refile. */
struct wgc_timers *wgc_timer_heap_pop_due(struct wgc_timer_heap *heap, uint64_t now);
/* Puts a popped peer back at its earliest armed deadline (or leaves it out if nothing is armed). */
void wgc_timers_refile(struct wgc_timer_heap *heap, struct wgc_timers *timers);
/* Earliest key in the heap, UINT64_MAX if empty. */
uint64_t wgc_timer_heap_next(const struct wgc_timer_heap *heap);

#endif
