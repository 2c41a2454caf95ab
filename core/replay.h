/* SPDX-License-Identifier: MIT */
/*
 * The sliding replay window of a receiving keypair (whitepaper 5.4.6, RFC 6479): an 8192-bit ring
 * of 64-bit words, as in the Linux kernel and wireguard-go, so up to 8128 packets of reordering are
 * tolerated (a smaller build-time choice below). It knows nothing of keys: the caller updates it only after the AEAD tag verified.
 */
#ifndef WGC_CORE_REPLAY_H
#define WGC_CORE_REPLAY_H

#include <stdbool.h>
#include <stdint.h>

/*
 * The ring's size in bits: 8192 as in Linux and wireguard-go, unless the build picks a smaller
 * power of two (at least 128: one word is always being recycled), e.g. -DWGC_REPLAY_BITS=1024 in
 * the embedded build. A window of B bits accepts a packet up to B - 64 counters behind the newest
 * one and costs B / 8 bytes per keypair (docs/EMBEDDING.md).
 */
#ifndef WGC_REPLAY_BITS
#define WGC_REPLAY_BITS 8192
#endif
_Static_assert(WGC_REPLAY_BITS >= 128 && (WGC_REPLAY_BITS & (WGC_REPLAY_BITS - 1)) == 0,
	       "WGC_REPLAY_BITS must be a power of two of at least 128");

enum {
	REPLAY_BITS_TOTAL = WGC_REPLAY_BITS,
	REPLAY_WORD_BITS = 64,
	REPLAY_WORDS = REPLAY_BITS_TOTAL / REPLAY_WORD_BITS,
	/* One word of the ring is always being recycled, so the usable window is one word short. */
	REPLAY_WINDOW_SIZE = REPLAY_BITS_TOTAL - REPLAY_WORD_BITS,
};

struct wgc_replay_window {
	uint64_t next;                 /* one more than the greatest counter accepted; 0 = none yet */
	uint64_t words[REPLAY_WORDS];  /* bit (c + 1) mod REPLAY_BITS_TOTAL set when c was accepted */
};

/* Empties the window. */
void wgc_replay_init(struct wgc_replay_window *window);
/* True if counter could still be accepted (not seen, not too old, below REJECT_AFTER_MESSAGES).
 * Changes nothing: a pre-check before decryption. */
bool wgc_replay_check(const struct wgc_replay_window *window, uint64_t counter);
/* Accepts counter: returns false if it is replayed, too old or at/over REJECT_AFTER_MESSAGES, else
 * marks it seen (sliding the window forward if it is the newest) and returns true. Call only after
 * the message authenticated. */
bool wgc_replay_update(struct wgc_replay_window *window, uint64_t counter);

#endif
