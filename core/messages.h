/* SPDX-License-Identifier: MIT */
/*
 * Wire layouts, sizes and protocol constants of WireGuard (whitepaper 5.4 and 6). Received bytes
 * are never cast to structs: every field is read through a named offset with the load/store
 * helpers of base/bytes.h, which this header brings in for every core file. Nothing here has state.
 */
#ifndef WGC_CORE_MESSAGES_H
#define WGC_CORE_MESSAGES_H

#include <stdint.h>
#include <string.h>

#include "base/bytes.h"
#include "wgc.h"

/* ---- message types (the first 4 bytes, compared as one little-endian word) ---- */

enum {
	MESSAGE_HANDSHAKE_INITIATION = 1,
	MESSAGE_HANDSHAKE_RESPONSE = 2,
	MESSAGE_HANDSHAKE_COOKIE = 3,
	MESSAGE_DATA = 4,
};

/* ---- lengths and offsets (whitepaper 5.4.2 - 5.4.7) ---- */

enum {
	NOISE_PUBLIC_KEY_LEN = 32,
	NOISE_SYMMETRIC_KEY_LEN = 32,
	NOISE_HASH_LEN = 32,
	NOISE_TIMESTAMP_LEN = 12,
	AEAD_TAG_LEN = 16,
	COOKIE_LEN = 16,
	COOKIE_NONCE_LEN = 24,
	MAC_LEN = 16,
};

/* Handshake initiation. */
enum {
	INIT_OFF_TYPE = 0,
	INIT_OFF_SENDER = 4,
	INIT_OFF_EPHEMERAL = 8,
	INIT_OFF_STATIC = INIT_OFF_EPHEMERAL + NOISE_PUBLIC_KEY_LEN,
	INIT_OFF_TIMESTAMP = INIT_OFF_STATIC + NOISE_PUBLIC_KEY_LEN + AEAD_TAG_LEN,
	INIT_OFF_MAC1 = INIT_OFF_TIMESTAMP + NOISE_TIMESTAMP_LEN + AEAD_TAG_LEN,
	INIT_OFF_MAC2 = INIT_OFF_MAC1 + MAC_LEN,
	INIT_LEN = INIT_OFF_MAC2 + MAC_LEN,
};
_Static_assert(INIT_LEN == 148, "handshake initiation is 148 bytes");

/* Handshake response. */
enum {
	RESP_OFF_TYPE = 0,
	RESP_OFF_SENDER = 4,
	RESP_OFF_RECEIVER = 8,
	RESP_OFF_EPHEMERAL = 12,
	RESP_OFF_EMPTY = RESP_OFF_EPHEMERAL + NOISE_PUBLIC_KEY_LEN,
	RESP_OFF_MAC1 = RESP_OFF_EMPTY + AEAD_TAG_LEN,
	RESP_OFF_MAC2 = RESP_OFF_MAC1 + MAC_LEN,
	RESP_LEN = RESP_OFF_MAC2 + MAC_LEN,
};
_Static_assert(RESP_LEN == 92, "handshake response is 92 bytes");
_Static_assert((int)RESP_OFF_SENDER == (int)INIT_OFF_SENDER, "cookie replies read one offset");

/* Cookie reply. */
enum {
	COOKIE_OFF_TYPE = 0,
	COOKIE_OFF_RECEIVER = 4,
	COOKIE_OFF_NONCE = 8,
	COOKIE_OFF_COOKIE = COOKIE_OFF_NONCE + COOKIE_NONCE_LEN,
	COOKIE_REPLY_LEN = COOKIE_OFF_COOKIE + COOKIE_LEN + AEAD_TAG_LEN,
};
_Static_assert(COOKIE_REPLY_LEN == 64, "cookie reply is 64 bytes");

/* Transport data. */
enum {
	DATA_OFF_TYPE = 0,
	DATA_OFF_RECEIVER = 4,
	DATA_OFF_COUNTER = 8,
	DATA_OFF_PAYLOAD = 16,
	DATA_HEADER_LEN = DATA_OFF_PAYLOAD,
	DATA_MIN_LEN = DATA_HEADER_LEN + AEAD_TAG_LEN,
	MESSAGE_PADDING_MULTIPLE = 16,
};
_Static_assert(DATA_MIN_LEN == 32, "an empty data message is 32 bytes");
_Static_assert((int)DATA_HEADER_LEN == (int)WGC_DATA_HEADROOM, "public headroom matches the header");
_Static_assert((int)(MESSAGE_PADDING_MULTIPLE - 1 + AEAD_TAG_LEN) == (int)WGC_DATA_TAILROOM,
	       "public tailroom matches padding + tag");
_Static_assert((int)INIT_LEN == (int)WGC_MAX_CONTROL_MESSAGE_LEN, "initiation is the largest control message");
_Static_assert((int)DATA_MIN_LEN == (int)WGC_KEEPALIVE_MESSAGE_LEN, "keepalive length");

/* ---- time limits (whitepaper 6.1), in nanoseconds ---- */

#define NS_PER_MS (WGC_NSEC_PER_SEC / 1000)

enum {
	REKEY_AFTER_TIME_S = 120,
	REJECT_AFTER_TIME_S = 180,
	REKEY_ATTEMPT_TIME_S = 90,
	REKEY_TIMEOUT_S = 5,
	KEEPALIVE_TIMEOUT_S = 10,
	COOKIE_SECRET_MAX_AGE_S = 2 * 60,
	/* The kernel's margin: a cookie is used only while it is this much younger than the secret. */
	COOKIE_SECRET_LATENCY_S = 5,
	REKEY_TIMEOUT_JITTER_MAX_MS = 334, /* jitter is uniform in [0, 334) ms */
	/* Initiations accepted from one peer at most every 1/50 s (whitepaper 5.1). */
	INITIATIONS_PER_SECOND = 50,
	/* Under-load state lingers this long after the last sign of load. */
	UNDER_LOAD_AFTER_S = 1,
};

#define REKEY_AFTER_TIME ((uint64_t)REKEY_AFTER_TIME_S * WGC_NSEC_PER_SEC)
#define REJECT_AFTER_TIME ((uint64_t)REJECT_AFTER_TIME_S * WGC_NSEC_PER_SEC)
#define REKEY_ATTEMPT_TIME ((uint64_t)REKEY_ATTEMPT_TIME_S * WGC_NSEC_PER_SEC)
#define REKEY_TIMEOUT ((uint64_t)REKEY_TIMEOUT_S * WGC_NSEC_PER_SEC)
#define KEEPALIVE_TIMEOUT ((uint64_t)KEEPALIVE_TIMEOUT_S * WGC_NSEC_PER_SEC)
#define COOKIE_SECRET_MAX_AGE ((uint64_t)COOKIE_SECRET_MAX_AGE_S * WGC_NSEC_PER_SEC)
#define COOKIE_SECRET_LATENCY ((uint64_t)COOKIE_SECRET_LATENCY_S * WGC_NSEC_PER_SEC)
#define UNDER_LOAD_AFTER ((uint64_t)UNDER_LOAD_AFTER_S * WGC_NSEC_PER_SEC)
#define MIN_INITIATION_INTERVAL (WGC_NSEC_PER_SEC / INITIATIONS_PER_SECOND)
/* The receive side asks for a rekey this long after the session began (initiator only). */
#define REKEY_ON_RECEIVE_AFTER (REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT)
/* All keys of a peer are wiped this long after its last session was derived. */
#define ZERO_KEYS_AFTER (REJECT_AFTER_TIME * 3)

/* ---- message counts (whitepaper 6.1) ---- */

#define REKEY_AFTER_MESSAGES (UINT64_C(1) << 60)
#define REJECT_AFTER_MESSAGES (UINT64_MAX - (UINT64_C(1) << 13))
/* Handshake attempts before giving up: REKEY_ATTEMPT_TIME / REKEY_TIMEOUT, compared with ">" as in
 * the reference code, so 1 + 19 initiations are sent in all. */
#define MAX_TIMER_HANDSHAKES (REKEY_ATTEMPT_TIME_S / REKEY_TIMEOUT_S)

#endif
