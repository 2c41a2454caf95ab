/* SPDX-License-Identifier: MIT */
/*
 * Replay window (whitepaper 5.4.6), the ring-of-words algorithm of RFC 6479 as the kernel and
 * wireguard-go use it: bits are indexed by counter + 1 so that an all-zero window means "nothing
 * received" without a separate flag. Sliding forward clears the words skipped over, at most the
 * whole ring, so a huge jump costs the same as a small one.
 */
#include "core/replay.h"

#include <string.h>

#include "core/messages.h"

void wgc_replay_init(struct wgc_replay_window *window)
{
	memset(window, 0, sizeof(*window));
}

static bool is_acceptable(const struct wgc_replay_window *window, uint64_t counter)
{
	uint64_t position;

	if (counter >= REJECT_AFTER_MESSAGES)
		return false;
	position = counter + 1;
	/* Too far behind the newest: its bit has been recycled. */
	if (position + REPLAY_WINDOW_SIZE < window->next)
		return false;
	return true;
}

static uint64_t bit_of(uint64_t position)
{
	return UINT64_C(1) << (position & (REPLAY_WORD_BITS - 1));
}

static uint64_t word_of(uint64_t position)
{
	return (position / REPLAY_WORD_BITS) & (REPLAY_WORDS - 1);
}

bool wgc_replay_check(const struct wgc_replay_window *window, uint64_t counter)
{
	uint64_t position = counter + 1;

	if (!is_acceptable(window, counter))
		return false;
	if (position > window->next)
		return true;
	return !(window->words[word_of(position)] & bit_of(position));
}

bool wgc_replay_update(struct wgc_replay_window *window, uint64_t counter)
{
	uint64_t position = counter + 1;
	uint64_t *word;

	if (!is_acceptable(window, counter))
		return false;
	if (position > window->next) {
		uint64_t current = window->next / REPLAY_WORD_BITS;
		uint64_t target = position / REPLAY_WORD_BITS;
		uint64_t skip = target - current;
		uint64_t i;

		if (skip > REPLAY_WORDS)
			skip = REPLAY_WORDS;
		for (i = 1; i <= skip; i++)
			window->words[(current + i) & (REPLAY_WORDS - 1)] = 0;
		window->next = position;
	}
	word = &window->words[word_of(position)];
	if (*word & bit_of(position))
		return false;
	*word |= bit_of(position);
	return true;
}
