/* SPDX-License-Identifier: MIT */
/*
 * MACs and cookies (whitepaper 5.4.4, 5.4.7). The cookie_checker is our responder side: it verifies
 * mac1/mac2 of received handshake messages and makes cookie replies from a secret that the endpoint
 * rotates lazily (redrawn when a handshake under load needs it and it is COOKIE_SECRET_MAX_AGE
 * old). The cookie_maker is per peer, our initiator side: it stamps mac1/mac2 on messages we send
 * and takes in the cookies peers give us. No index lookups and no decisions about load live here.
 */
#ifndef WGC_CORE_COOKIE_H
#define WGC_CORE_COOKIE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/messages.h"
#include "crypto/crypto.h"
#include "wgc.h"

/* Responder side. Secrets: secret (rotated), mac1_key and cookie_key (derived from our public key,
 * recomputed when it changes). */
struct wgc_cookie_checker {
	uint8_t secret[NOISE_SYMMETRIC_KEY_LEN];
	uint64_t secret_birth_ns;
	bool has_secret;
	uint8_t mac1_key[NOISE_SYMMETRIC_KEY_LEN];   /* HASH(LABEL_MAC1 || our public key) */
	uint8_t cookie_key[NOISE_SYMMETRIC_KEY_LEN]; /* HASH(LABEL_COOKIE || our public key) */
	/* mac1_key's block already compressed: every message checked under a flood saves one
	 * of its three compressions. */
	struct wgc_blake2s mac1_state;
};

/* Initiator side, per peer. cookie lives until COOKIE_SECRET_MAX_AGE - COOKIE_SECRET_LATENCY. */
struct wgc_cookie_maker {
	uint8_t mac1_key[NOISE_SYMMETRIC_KEY_LEN];   /* HASH(LABEL_MAC1 || peer public key) */
	uint8_t cookie_key[NOISE_SYMMETRIC_KEY_LEN]; /* HASH(LABEL_COOKIE || peer public key) */
	uint8_t cookie[COOKIE_LEN];
	uint64_t cookie_birth_ns;
	bool has_cookie;
	uint8_t last_mac1[MAC_LEN]; /* mac1 of the last handshake message we sent: a cookie's AD */
	bool has_last_mac1;
};

enum wgc_mac_state {
	MAC_STATE_INVALID_MAC1,
	MAC_STATE_VALID_MAC1,         /* mac1 good, mac2 missing or wrong */
	MAC_STATE_VALID_MAC1_AND_MAC2,
};

/* ---- responder side ---- */

/* Derives the mac1 and cookie keys from our public key; keeps the secret. */
void wgc_cookie_checker_set_public_key(struct wgc_cookie_checker *checker,
				       const uint8_t public_key[NOISE_PUBLIC_KEY_LEN]);
/* True when the secret is missing or older than COOKIE_SECRET_MAX_AGE. */
bool wgc_cookie_checker_needs_secret(const struct wgc_cookie_checker *checker, uint64_t now);
void wgc_cookie_checker_set_secret(struct wgc_cookie_checker *checker,
				   const uint8_t secret[NOISE_SYMMETRIC_KEY_LEN], uint64_t now);
void wgc_cookie_checker_clear(struct wgc_cookie_checker *checker);
/* True when mac1 (at len - 32) of a handshake message of len bytes (> 32) is right. Constant
 * time. */
bool wgc_cookie_mac1_is_valid(const struct wgc_cookie_checker *checker, const uint8_t *msg,
			      size_t len);
/* Checks the macs of a handshake message of len bytes (macs are its last 32 bytes) from src. mac2 is
 * checked only when check_mac2 (the secret must be fresh). Constant-time comparisons. */
enum wgc_mac_state wgc_cookie_validate(const struct wgc_cookie_checker *checker,
				       const uint8_t *msg, size_t len, const struct wgc_addr *src,
				       bool check_mac2);
/* Builds the cookie reply to msg (len bytes, sender index sender_index) from src into reply. */
void wgc_cookie_create_reply(const struct wgc_cookie_checker *checker, const uint8_t *msg,
			     size_t len, const struct wgc_addr *src, uint32_t sender_index,
			     const uint8_t nonce[COOKIE_NONCE_LEN], uint8_t reply[COOKIE_REPLY_LEN]);

/* ---- initiator side ---- */

void wgc_cookie_maker_init(struct wgc_cookie_maker *maker,
			   const uint8_t peer_public_key[NOISE_PUBLIC_KEY_LEN]);
/* Writes mac1 and mac2 (zeros without a live cookie) into the last 32 bytes of msg. */
void wgc_cookie_add_macs(struct wgc_cookie_maker *maker, uint8_t *msg, size_t len, uint64_t now);
/* Takes in a cookie reply addressed to one of our messages; false if it does not decrypt against
 * the last mac1 we sent. */
WGC_MUST_CHECK bool wgc_cookie_consume_reply(struct wgc_cookie_maker *maker,
					     const uint8_t reply[COOKIE_REPLY_LEN], uint64_t now);

#endif
