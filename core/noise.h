/* SPDX-License-Identifier: MIT */
/*
 * The Noise_IKpsk2 handshake of WireGuard (whitepaper 5.4.2 - 5.4.3), as pure steps over a per-peer
 * handshake object: create/consume the initiation, create/consume the response, derive the
 * transport keys. No tables, no peers' lists, no macs (cookie.h) and no randomness: the caller draws
 * ephemeral keys and indexes and passes them in, which is also what makes fixed test vectors
 * possible.
 *
 * States (one field, changed only by create_initiation, create_response, consume_response, clear):
 *
 *   ZEROED --create_initiation--> CREATED_INITIATION   (emits the initiation; index = local_index)
 *   CREATED_INITIATION --consume_response--> ZEROED    (session derived: we are the initiator)
 *   any --create_response--> ZEROED                    (session derived: we are the responder;
 *                                                       a pending initiation of ours is abandoned)
 *   any --clear--> ZEROED                              (expiry, key change, peer removal)
 *
 * Consuming an initiation is split in two reads (static, then timestamp) because the peer, and with
 * it the precomputed static-static DH and the replay state, is only known once the static key is
 * decrypted; neither read changes anything.
 */
#ifndef WGC_CORE_NOISE_H
#define WGC_CORE_NOISE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/messages.h"
#include "wgc.h"

/* Our static identity and the handshake's fixed starting values, computed once.
 * Secret: private_key (until replaced or the endpoint is cleared). */
struct wgc_local {
	bool has_private_key;
	uint8_t private_key[NOISE_PUBLIC_KEY_LEN];
	uint8_t public_key[NOISE_PUBLIC_KEY_LEN];
	uint8_t initial_chaining_key[NOISE_HASH_LEN]; /* C0 = HASH(CONSTRUCTION) */
	uint8_t identifier_hash[NOISE_HASH_LEN];      /* HASH(C0 || IDENTIFIER) */
	uint8_t initial_hash[NOISE_HASH_LEN];         /* H0 as responder: HASH(... || public_key) */
};

enum wgc_handshake_state {
	HANDSHAKE_ZEROED,
	HANDSHAKE_CREATED_INITIATION,
};

/*
 * Per-peer handshake. Secrets: preshared_key (until changed), static_static (until either static
 * key changes), ephemeral_private, chaining_key and hash (from create_initiation until the session
 * is derived, the attempt is abandoned or the keys are wiped).
 */
struct wgc_handshake {
	enum wgc_handshake_state state;
	uint8_t remote_static[NOISE_PUBLIC_KEY_LEN];
	uint8_t preshared_key[NOISE_SYMMETRIC_KEY_LEN]; /* all zero = none */
	uint8_t static_static[NOISE_PUBLIC_KEY_LEN];    /* DH(our private, remote_static) */
	uint8_t initial_hash[NOISE_HASH_LEN];           /* H0 as initiator: HASH(... || remote) */
	bool has_static_static;                         /* false without a private key or if the
							 * DH result was zero */
	uint8_t ephemeral_private[NOISE_PUBLIC_KEY_LEN];
	uint8_t chaining_key[NOISE_HASH_LEN];
	uint8_t hash[NOISE_HASH_LEN];
	uint32_t local_index;                  /* sender index of our pending initiation */
	uint8_t latest_timestamp[NOISE_TIMESTAMP_LEN]; /* greatest accepted from the peer */
	uint64_t last_initiation_consumption_ns;
	bool has_consumed_initiation;          /* last_initiation_consumption_ns is valid */
};

/* What reading an initiation yields before anything is committed. Secrets: chaining_key, hash.
 * The caller wipes it (wgc_memzero) when done. */
struct wgc_noise_initiation {
	uint32_t sender_index;
	uint8_t remote_static[NOISE_PUBLIC_KEY_LEN];
	uint8_t remote_ephemeral[NOISE_PUBLIC_KEY_LEN];
	uint8_t chaining_key[NOISE_HASH_LEN];
	uint8_t hash[NOISE_HASH_LEN];
	uint8_t timestamp[NOISE_TIMESTAMP_LEN];
};

/* Transport keys of a new session. Secrets: both keys; the caller wipes the struct after use. */
struct wgc_session_keys {
	uint8_t send_key[NOISE_SYMMETRIC_KEY_LEN];
	uint8_t recv_key[NOISE_SYMMETRIC_KEY_LEN];
	uint32_t local_index;
	uint32_t remote_index;
	bool is_initiator;
};

/* ---- setup ---- */

/* Computes local's fixed starting values (C0, HASH(C0 || IDENTIFIER)); no key yet. */
void wgc_noise_local_init(struct wgc_local *local);
/* Sets (key non-NULL: clamped, public key derived) or removes our static key and recomputes the
 * values that depend on it. */
void wgc_noise_local_set_private_key(struct wgc_local *local, const uint8_t *key);

/* Starts a handshake object for remote_static and precomputes the static-static DH from local. */
void wgc_noise_handshake_init(struct wgc_handshake *hs, const struct wgc_local *local,
			      const uint8_t remote_static[NOISE_PUBLIC_KEY_LEN]);
/* Recomputes static_static after our private key changed (or was removed). */
void wgc_noise_handshake_rekey_static(struct wgc_handshake *hs, const struct wgc_local *local);
/* Wipes ephemeral state, back to ZEROED; keeps identity, psk, static_static and replay state. */
void wgc_noise_handshake_clear(struct wgc_handshake *hs);

/* ---- initiator ---- */

/* Writes an initiation (all but the macs) into msg and enters CREATED_INITIATION. ephemeral_random
 * is 32 random bytes (clamped here). ERR_STATE without keys, ERR_CRYPTO on a zero DH; hs unchanged
 * on failure. */
WGC_MUST_CHECK enum wgc_status wgc_noise_create_initiation(
	struct wgc_handshake *hs, const struct wgc_local *local, uint8_t msg[INIT_LEN],
	uint32_t sender_index, const uint8_t ephemeral_random[NOISE_PUBLIC_KEY_LEN], uint64_t wall_ns);
/* Checks a response (receiver index already matched to hs by the caller) and derives the session.
 * Returns WGC_DROP_NONE with keys filled and hs ZEROED, or a drop reason with hs unchanged. */
enum wgc_drop_reason wgc_noise_consume_response(struct wgc_handshake *hs,
						const struct wgc_local *local,
						const uint8_t msg[RESP_LEN],
						struct wgc_session_keys *keys);

/* ---- responder ---- */

/* First read of an initiation: e, es, s. Fills out (remote static key found) or returns
 * WGC_DROP_HANDSHAKE_INVALID. */
enum wgc_drop_reason wgc_noise_consume_initiation_static(const struct wgc_local *local,
							 const uint8_t msg[INIT_LEN],
							 struct wgc_noise_initiation *out);
/* Second read, with the peer known: ss, {t}; then the replay (timestamp) and flood (1/50 s)
 * checks against hs. Changes nothing in hs. */
enum wgc_drop_reason wgc_noise_consume_initiation_timestamp(const struct wgc_handshake *hs,
							    const uint8_t msg[INIT_LEN],
							    struct wgc_noise_initiation *io,
							    uint64_t now);
/* Builds the response to a fully read initiation, derives the session as responder and commits the
 * initiation (timestamp, time) to hs, which ends ZEROED. ERR_CRYPTO on a zero DH (hs unchanged). */
WGC_MUST_CHECK enum wgc_status wgc_noise_create_response(
	struct wgc_handshake *hs, const struct wgc_noise_initiation *init, uint8_t msg[RESP_LEN],
	uint32_t sender_index, const uint8_t ephemeral_random[NOISE_PUBLIC_KEY_LEN], uint64_t now,
	struct wgc_session_keys *keys);

#endif
