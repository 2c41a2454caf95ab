/* SPDX-License-Identifier: MIT */
/*
 * mac1, mac2 and cookie replies (whitepaper 5.4.4, 5.4.7). mac1 proves the sender knows our public
 * key and is checked before any expensive work; mac2 proves the sender can receive at its source
 * address, because the cookie is a MAC of that address under a secret only we hold. The port enters
 * the cookie big-endian, as it stands in the UDP header; only we ever check it, so the order is ours.
 */
#include "core/cookie.h"

#include <string.h>

#include "base/assert.h"
#include "base/ip.h"
#include "crypto/crypto.h"

static const char LABEL_MAC1[] = "mac1----";
static const char LABEL_COOKIE[] = "cookie--";

static void hash_label(uint8_t out[NOISE_HASH_LEN], const char *label,
		       const uint8_t public_key[NOISE_PUBLIC_KEY_LEN])
{
	struct wgc_blake2s state;

	wgc_blake2s_init(&state, NOISE_HASH_LEN);
	wgc_blake2s_update(&state, (const uint8_t *)label, strlen(label));
	wgc_blake2s_update(&state, public_key, NOISE_PUBLIC_KEY_LEN);
	wgc_blake2s_final(&state, out);
}

/* cookie = MAC(secret, source address || source port) */
static void compute_cookie(uint8_t cookie[COOKIE_LEN], const uint8_t secret[NOISE_SYMMETRIC_KEY_LEN],
			   const struct wgc_addr *src)
{
	uint8_t port[2];
	size_t ip_len = src->family == WGC_AF_INET6 ? WGC_IPV6_ADDR_LEN : WGC_IPV4_ADDR_LEN;
	struct wgc_blake2s state;

	wgc_store_be16(port, src->port);
	wgc_blake2s_init_key(&state, COOKIE_LEN, secret, NOISE_SYMMETRIC_KEY_LEN);
	wgc_blake2s_update(&state, src->ip, ip_len);
	wgc_blake2s_update(&state, port, sizeof(port));
	wgc_blake2s_final(&state, cookie);
}

static void compute_mac(uint8_t mac[MAC_LEN], const uint8_t *key, size_t key_len,
			const uint8_t *msg, size_t msg_len)
{
	wgc_blake2s(mac, MAC_LEN, msg, msg_len, key, key_len);
}

void wgc_cookie_checker_set_public_key(struct wgc_cookie_checker *checker,
				       const uint8_t public_key[NOISE_PUBLIC_KEY_LEN])
{
	hash_label(checker->mac1_key, LABEL_MAC1, public_key);
	hash_label(checker->cookie_key, LABEL_COOKIE, public_key);
	wgc_blake2s_init_key_absorbed(&checker->mac1_state, MAC_LEN, checker->mac1_key,
				      sizeof(checker->mac1_key));
}

bool wgc_cookie_mac1_is_valid(const struct wgc_cookie_checker *checker, const uint8_t *msg,
			      size_t len)
{
	size_t mac1_off = len - 2 * MAC_LEN;
	struct wgc_blake2s state = checker->mac1_state;
	uint8_t computed[MAC_LEN];
	bool ok;

	WGC_ASSERT(len > 2 * MAC_LEN);
	wgc_blake2s_update(&state, msg, mac1_off);
	wgc_blake2s_final(&state, computed); /* wipes state */
	ok = wgc_ct_equal(computed, msg + mac1_off, MAC_LEN);
	wgc_memzero(computed, sizeof(computed));
	return ok;
}

bool wgc_cookie_checker_needs_secret(const struct wgc_cookie_checker *checker, uint64_t now)
{
	return !checker->has_secret || now - checker->secret_birth_ns >= COOKIE_SECRET_MAX_AGE;
}

void wgc_cookie_checker_set_secret(struct wgc_cookie_checker *checker,
				   const uint8_t secret[NOISE_SYMMETRIC_KEY_LEN], uint64_t now)
{
	memcpy(checker->secret, secret, NOISE_SYMMETRIC_KEY_LEN);
	checker->secret_birth_ns = now;
	checker->has_secret = true;
}

void wgc_cookie_checker_clear(struct wgc_cookie_checker *checker)
{
	wgc_memzero(checker, sizeof(*checker));
}

enum wgc_mac_state wgc_cookie_validate(const struct wgc_cookie_checker *checker,
				       const uint8_t *msg, size_t len, const struct wgc_addr *src,
				       bool check_mac2)
{
	size_t mac2_off = len - MAC_LEN;
	uint8_t computed[MAC_LEN];
	uint8_t cookie[COOKIE_LEN];
	enum wgc_mac_state state = MAC_STATE_INVALID_MAC1;

	if (!wgc_cookie_mac1_is_valid(checker, msg, len))
		goto out;
	state = MAC_STATE_VALID_MAC1;
	/* An all-zero mac2 is what a sender without a cookie sends (a real one is zero with
	 * probability 2^-128): no need to hash to refuse it. mac2 is public, so this branch is. */
	if (!check_mac2 || !checker->has_secret || wgc_ct_is_zero(msg + mac2_off, MAC_LEN))
		goto out;
	compute_cookie(cookie, checker->secret, src);
	compute_mac(computed, cookie, sizeof(cookie), msg, mac2_off);
	if (wgc_ct_equal(computed, msg + mac2_off, MAC_LEN))
		state = MAC_STATE_VALID_MAC1_AND_MAC2;
out:
	wgc_memzero(cookie, sizeof(cookie));
	wgc_memzero(computed, sizeof(computed));
	return state;
}

void wgc_cookie_create_reply(const struct wgc_cookie_checker *checker, const uint8_t *msg,
			     size_t len, const struct wgc_addr *src, uint32_t sender_index,
			     const uint8_t nonce[COOKIE_NONCE_LEN], uint8_t reply[COOKIE_REPLY_LEN])
{
	const uint8_t *mac1 = msg + len - 2 * MAC_LEN;
	uint8_t cookie[COOKIE_LEN];

	wgc_store_le32(reply + COOKIE_OFF_TYPE, MESSAGE_HANDSHAKE_COOKIE);
	wgc_store_le32(reply + COOKIE_OFF_RECEIVER, sender_index);
	memcpy(reply + COOKIE_OFF_NONCE, nonce, COOKIE_NONCE_LEN);
	compute_cookie(cookie, checker->secret, src);
	wgc_xaead_seal(reply + COOKIE_OFF_COOKIE, cookie, COOKIE_LEN, mac1, MAC_LEN, nonce,
		       checker->cookie_key);
	wgc_memzero(cookie, sizeof(cookie));
}

void wgc_cookie_maker_init(struct wgc_cookie_maker *maker,
			   const uint8_t peer_public_key[NOISE_PUBLIC_KEY_LEN])
{
	memset(maker, 0, sizeof(*maker));
	hash_label(maker->mac1_key, LABEL_MAC1, peer_public_key);
	hash_label(maker->cookie_key, LABEL_COOKIE, peer_public_key);
}

void wgc_cookie_add_macs(struct wgc_cookie_maker *maker, uint8_t *msg, size_t len, uint64_t now)
{
	size_t mac1_off = len - 2 * MAC_LEN;
	size_t mac2_off = len - MAC_LEN;

	compute_mac(msg + mac1_off, maker->mac1_key, sizeof(maker->mac1_key), msg, mac1_off);
	memcpy(maker->last_mac1, msg + mac1_off, MAC_LEN);
	maker->has_last_mac1 = true;

	if (maker->has_cookie &&
	    now - maker->cookie_birth_ns < COOKIE_SECRET_MAX_AGE - COOKIE_SECRET_LATENCY)
		compute_mac(msg + mac2_off, maker->cookie, COOKIE_LEN, msg, mac2_off);
	else
		memset(msg + mac2_off, 0, MAC_LEN);
}

bool wgc_cookie_consume_reply(struct wgc_cookie_maker *maker,
			      const uint8_t reply[COOKIE_REPLY_LEN], uint64_t now)
{
	uint8_t cookie[COOKIE_LEN];

	if (!maker->has_last_mac1)
		return false;
	if (!wgc_xaead_open(cookie, reply + COOKIE_OFF_COOKIE, COOKIE_LEN + AEAD_TAG_LEN,
			    maker->last_mac1, MAC_LEN, reply + COOKIE_OFF_NONCE, maker->cookie_key)) {
		wgc_memzero(cookie, sizeof(cookie));
		return false;
	}
	memcpy(maker->cookie, cookie, COOKIE_LEN);
	maker->cookie_birth_ns = now;
	maker->has_cookie = true;
	/* A cookie answers one message: a second reply to the same mac1 is not accepted. */
	maker->has_last_mac1 = false;
	wgc_memzero(cookie, sizeof(cookie));
	return true;
}
