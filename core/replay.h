/* SPDX-License-Identifier: MIT */
/*
 * The sliding replay window of a receiving keypair (whitepaper 5.4.6, RFC 6479): an 8192-bit ring
 * of 64-bit words, as in the Linux kernel and wireguard-go, so up to 8128 packets of reordering are
 * tolerated. It knows nothing of keys: the caller updates it only after the AEAD tag verified.
 */
#ifndef WGC_CORE_REPLAY_H
#define WGC_CORE_REPLAY_H

#include <stdbool.h>
#include <stdint.h>

enum {
	REPLAY_BITS_TOTAL = 8192,
	REPLAY_WORD_BITS = 64,
	REPLAY_WORDS = REPLAY_BITS_TOTAL / REPLAY_WORD_BITS,
	/* One word of the ring is always being recycled, so the usable window is one word short. */
	REPLAY_WINDOW_SIZE = REPLAY_BITS_TOTAL - REPLAY_WORD_BITS,
};

struct wgc_replay_window {
	uint64_t next;                 /* one more than the greatest counter accepted; 0 = none yet */
	uint64_t words[REPLAY_WORDS];  /* bit (c + 1) mod 8192 set when counter c was accepted */
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
