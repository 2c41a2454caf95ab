/* SPDX-License-Identifier: MIT */
/*
 * The endpoint: one local identity with its peers, tables, pools, timers and counters, all carved
 * out of the caller's memory block. endpoint.c owns setup, configuration and the tick; send.c the
 * outgoing path (data, keepalives, initiations); receive.c the incoming path (handshake, cookie and
 * data messages). This header is what those three share; embedders see only wgc.h.
 */
#ifndef WGC_CORE_ENDPOINT_H
#define WGC_CORE_ENDPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/assert.h"
#include "core/allowedips.h"
#include "core/cookie.h"
#include "core/index.h"
#include "core/keypair.h"
#include "core/noise.h"
#include "core/peer.h"
#include "core/ratelimiter.h"
#include "core/timers.h"
#include "wgc.h"

enum { DEFAULT_RATELIMIT_ENTRIES = 4096 };

/*
 * The state field of the public job structs (private to libwgc). prepare sets IDLE or, with the
 * CRYPTO verdict, PREPARED: only then does the job hold a keypair reference, until seal, commit or
 * abandon makes it FINISHED. A receive job is OPENED in between. The values are not 0/1 so that a
 * job that never went through prepare is unlikely to pass for a prepared one in debug checks.
 */
enum wgc_job_state {
	JOB_IDLE = 0,
	JOB_PREPARED = 0xa5,
	JOB_OPENED = 0x5a,
	JOB_FINISHED = 0xf0,
};

/*
 * Secrets: local.private_key, cookie_checker.secret, and through the peers and keypair pool every
 * session key. wgc_endpoint_clear wipes all of it.
 */
struct wgc_endpoint {
	struct wgc_local local;
	struct wgc_cookie_checker cookie_checker;
	struct wgc_peer_table peers;
	struct wgc_index_table indexes;
	struct wgc_keypair_pool keypairs;
	struct wgc_allowedips allowedips;
	struct wgc_ratelimiter ratelimiter;        /* mac2-valid handshakes under load */
	struct wgc_ratelimiter cookie_ratelimiter; /* cookie replies, per address and port */
	struct wgc_timer_heap timers;
	wgc_random_fn random;
	wgc_wall_clock_fn wall_clock;
	void *ctx;
	uint32_t mtu;
	uint32_t load_threshold_per_s;
	uint32_t load_count;          /* valid-mac1 handshake messages in the current window */
	uint64_t load_window_start_ns;
	bool has_load;                /* under_load_until_ns is valid */
	uint64_t under_load_until_ns;
	/* The endpoint-wide cookie-reply budget: a token bucket in nanoseconds (ratelimiter.c's
	 * scheme), cookie_cost_ns per reply, at most cookie_tokens_max_ns saved up. */
	uint64_t cookie_cost_ns;
	uint64_t cookie_tokens_max_ns;
	uint64_t cookie_tokens_ns;
	uint64_t cookie_last_ns;
	uint8_t index_lanes;            /* index partition (wgc_config): 0 or 1 = none */
	uint8_t index_lane;             /* < index_lanes when index_lanes >= 2 */
	uint32_t allowedips_generation; /* bumped by every change of the allowed-IPs table */
	uint64_t drops[WGC_DROP__COUNT];
#ifdef WGC_DEBUG
	uint32_t serial_calls; /* atomic: serial public calls running now; above 1 is a caller bug */
#endif
};

/*
 * The serial-per-endpoint rule (wgc.h), checked in WGC_DEBUG builds: every serial public entry
 * point that takes the endpoint brackets its body with enter/exit, and a call that finds another
 * one running traps. Internal paths call the unguarded internals, never a guarded entry point, so
 * legitimate nesting (a tick sending a keepalive) does not count. The counter is atomic so the
 * check itself does not race when the caller breaks the rule from two threads. Without WGC_DEBUG
 * both compile to nothing.
 */
static inline void wgc_endpoint_serial_enter(struct wgc_endpoint *ep)
{
#ifdef WGC_DEBUG
	uint32_t running = __atomic_fetch_add(&ep->serial_calls, 1, __ATOMIC_ACQUIRE);

	WGC_ASSERT(running == 0);
#else
	(void)ep;
#endif
}

static inline void wgc_endpoint_serial_exit(struct wgc_endpoint *ep)
{
#ifdef WGC_DEBUG
	__atomic_fetch_sub(&ep->serial_calls, 1, __ATOMIC_RELEASE);
#else
	(void)ep;
#endif
}

/* ---- actions ---- */

/* Room in out's scratch for len bytes, or NULL (out may be NULL). */
uint8_t *wgc_actions_reserve(struct wgc_actions *out, size_t len);
/* Appends an action; false if the list is full (out may be NULL). */
bool wgc_actions_push(struct wgc_actions *out, enum wgc_action_kind kind, struct wgc_peer *peer,
		      uint8_t *data, size_t len, const struct wgc_addr *addr);

/* ---- shared helpers ---- */

void wgc_endpoint_count(struct wgc_endpoint *ep, enum wgc_drop_reason reason);
/* Uniform jitter in [0, REKEY_TIMEOUT_JITTER_MAX_MS) ms; 0 if randomness fails (jitter only
 * de-synchronises peers, it protects no secret). */
uint64_t wgc_endpoint_jitter(struct wgc_endpoint *ep);
/* Draws a random index not in use, in this endpoint's index lane (its most significant byte is
 * index_lane modulo index_lanes, uniform among such bytes); false if randomness fails. */
bool wgc_endpoint_new_index(struct wgc_endpoint *ep, uint32_t *index);
/* Whether handshakes must carry a valid mac2 now. */
bool wgc_endpoint_is_under_load(const struct wgc_endpoint *ep, uint64_t now);
/* Behave as under load until now + UNDER_LOAD_AFTER (wgc_endpoint_report_load without the serial
 * check, for the built-in load signal). */
void wgc_endpoint_mark_load(struct wgc_endpoint *ep, uint64_t now);
/* Takes one reply from the endpoint-wide cookie-reply budget; false when it is spent. */
bool wgc_endpoint_take_cookie_token(struct wgc_endpoint *ep, uint64_t now);
/*
 * Applies an overdue ZERO_KEY_MATERIAL (3 * REJECT_AFTER_TIME after the last session): retires
 * every keypair and wipes the handshake state; true if it was due. Called by the tick and, before
 * they create handshake or session state, by the send and receive paths (an initiation, a new
 * session), so a wipe that became due before that state existed can never destroy it. When it is
 * due every keypair is at least that old, so nothing usable goes. No PURGE: on those paths the
 * handshake that follows takes over what is staged. One deadline comparison when not due.
 */
bool wgc_endpoint_zero_key_material_if_due(struct wgc_endpoint *ep, struct wgc_peer *peer,
					   uint64_t now);

/* ---- send.c ---- */

/* Sends a handshake initiation to peer unless one went out less than REKEY_TIMEOUT ago. A retry
 * keeps the attempt counter; anything else starts a fresh attempt. */
void wgc_endpoint_send_initiation(struct wgc_endpoint *ep, struct wgc_peer *peer, uint64_t now,
				  bool is_retry, struct wgc_actions *out);
/* Sends an empty data message (starting a handshake if there is no session). */
void wgc_endpoint_send_keepalive(struct wgc_endpoint *ep, struct wgc_peer *peer, uint64_t now,
				 struct wgc_actions *out);
/* The handshake completed: record it and reset the attempt. */
void wgc_endpoint_handshake_complete(struct wgc_endpoint *ep, struct wgc_peer *peer, uint64_t now);

#endif
