/* SPDX-License-Identifier: MIT */
/*
 * Noise_IKpsk2 as WireGuard uses it (whitepaper 5.4.2 - 5.4.3). Each step computes into locals,
 * runs every check, and only then writes the handshake object, so a message that fails anywhere
 * leaves no trace. Blocks are headed by their Noise tokens so they can be read against the paper.
 */
#include "core/noise.h"

#include <string.h>

#include "crypto/crypto.h"

static const char CONSTRUCTION[] = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
static const char IDENTIFIER[] = "WireGuard v1 zx2c4 Jason@zx2c4.com";

/* H0 = HASH(HASH(C0 || IDENTIFIER) || responder_static) */
static void compute_initial_hash(uint8_t hash[NOISE_HASH_LEN], const struct wgc_local *local,
				 const uint8_t responder_static[NOISE_PUBLIC_KEY_LEN])
{
	struct wgc_blake2s state;

	wgc_blake2s_init(&state, NOISE_HASH_LEN);
	wgc_blake2s_update(&state, local->identifier_hash, NOISE_HASH_LEN);
	wgc_blake2s_update(&state, responder_static, NOISE_PUBLIC_KEY_LEN);
	wgc_blake2s_final(&state, hash);
}

void wgc_noise_local_init(struct wgc_local *local)
{
	struct wgc_blake2s state;

	memset(local, 0, sizeof(*local));
	wgc_blake2s(local->initial_chaining_key, NOISE_HASH_LEN, (const uint8_t *)CONSTRUCTION,
		    strlen(CONSTRUCTION), NULL, 0);
	wgc_blake2s_init(&state, NOISE_HASH_LEN);
	wgc_blake2s_update(&state, local->initial_chaining_key, NOISE_HASH_LEN);
	wgc_blake2s_update(&state, (const uint8_t *)IDENTIFIER, strlen(IDENTIFIER));
	wgc_blake2s_final(&state, local->identifier_hash);
}

void wgc_noise_local_set_private_key(struct wgc_local *local, const uint8_t *key)
{
	wgc_memzero(local->private_key, sizeof(local->private_key));
	memset(local->public_key, 0, sizeof(local->public_key));
	memset(local->initial_hash, 0, sizeof(local->initial_hash));
	local->has_private_key = key != NULL;
	if (!key)
		return;
	memcpy(local->private_key, key, NOISE_PUBLIC_KEY_LEN);
	wgc_x25519_clamp(local->private_key);
	wgc_x25519_public(local->public_key, local->private_key);
	compute_initial_hash(local->initial_hash, local, local->public_key);
}

/* H = HASH(H || data) */
static void mix_hash(uint8_t hash[NOISE_HASH_LEN], const uint8_t *data, size_t len)
{
	struct wgc_blake2s state;

	wgc_blake2s_init(&state, NOISE_HASH_LEN);
	wgc_blake2s_update(&state, hash, NOISE_HASH_LEN);
	wgc_blake2s_update(&state, data, len);
	wgc_blake2s_final(&state, hash);
}

/* (C, k) = KDF2(C, DH(private, public)), or C = KDF1(...) when key is NULL; false on a zero DH
 * result. */
static bool mix_dh(uint8_t chaining_key[NOISE_HASH_LEN], uint8_t *key,
		   const uint8_t private_key[NOISE_PUBLIC_KEY_LEN],
		   const uint8_t public_key[NOISE_PUBLIC_KEY_LEN])
{
	uint8_t shared[NOISE_PUBLIC_KEY_LEN];
	bool ok = wgc_x25519(shared, private_key, public_key);

	if (ok)
		wgc_kdf(chaining_key, key, NULL, chaining_key, shared, sizeof(shared));
	wgc_memzero(shared, sizeof(shared));
	return ok;
}

/* (C, k) = KDF2(C, precomputed DH) */
static void mix_precomputed(uint8_t chaining_key[NOISE_HASH_LEN],
			    uint8_t key[NOISE_SYMMETRIC_KEY_LEN],
			    const uint8_t shared[NOISE_PUBLIC_KEY_LEN])
{
	wgc_kdf(chaining_key, key, NULL, chaining_key, shared, NOISE_PUBLIC_KEY_LEN);
}

/* msg = AEAD(k, 0, plain, H); H = HASH(H || msg) */
static void encrypt_and_hash(uint8_t *dst, const uint8_t *plain, size_t len,
			     const uint8_t key[NOISE_SYMMETRIC_KEY_LEN],
			     uint8_t hash[NOISE_HASH_LEN])
{
	wgc_aead_seal(dst, plain, len, hash, NOISE_HASH_LEN, 0, key);
	mix_hash(hash, dst, len + AEAD_TAG_LEN);
}

static bool decrypt_and_hash(uint8_t *dst, const uint8_t *sealed, size_t sealed_len,
			     const uint8_t key[NOISE_SYMMETRIC_KEY_LEN],
			     uint8_t hash[NOISE_HASH_LEN])
{
	if (!wgc_aead_open(dst, sealed, sealed_len, hash, NOISE_HASH_LEN, 0, key))
		return false;
	mix_hash(hash, sealed, sealed_len);
	return true;
}

/* (T_send_i, T_recv_i) = KDF2(C, "") */
static void derive_session_keys(struct wgc_session_keys *keys,
				const uint8_t chaining_key[NOISE_HASH_LEN], bool is_initiator)
{
	if (is_initiator)
		wgc_kdf(keys->send_key, keys->recv_key, NULL, chaining_key, NULL, 0);
	else
		wgc_kdf(keys->recv_key, keys->send_key, NULL, chaining_key, NULL, 0);
	keys->is_initiator = is_initiator;
}

void wgc_noise_handshake_init(struct wgc_handshake *hs, const struct wgc_local *local,
			      const uint8_t remote_static[NOISE_PUBLIC_KEY_LEN])
{
	memset(hs, 0, sizeof(*hs));
	memcpy(hs->remote_static, remote_static, NOISE_PUBLIC_KEY_LEN);
	compute_initial_hash(hs->initial_hash, local, remote_static);
	wgc_noise_handshake_rekey_static(hs, local);
}

void wgc_noise_handshake_rekey_static(struct wgc_handshake *hs, const struct wgc_local *local)
{
	hs->has_static_static = local->has_private_key &&
				wgc_x25519(hs->static_static, local->private_key, hs->remote_static);
	if (!hs->has_static_static)
		wgc_memzero(hs->static_static, sizeof(hs->static_static));
}

void wgc_noise_handshake_clear(struct wgc_handshake *hs)
{
	wgc_memzero(hs->ephemeral_private, sizeof(hs->ephemeral_private));
	wgc_memzero(hs->chaining_key, sizeof(hs->chaining_key));
	wgc_memzero(hs->hash, sizeof(hs->hash));
	hs->local_index = 0;
	hs->state = HANDSHAKE_ZEROED;
}

enum wgc_status wgc_noise_create_initiation(struct wgc_handshake *hs, const struct wgc_local *local,
					    uint8_t msg[INIT_LEN], uint32_t sender_index,
					    const uint8_t ephemeral_random[NOISE_PUBLIC_KEY_LEN],
					    uint64_t wall_ns)
{
	uint8_t ephemeral_private[NOISE_PUBLIC_KEY_LEN];
	uint8_t chaining_key[NOISE_HASH_LEN];
	uint8_t hash[NOISE_HASH_LEN];
	uint8_t key[NOISE_SYMMETRIC_KEY_LEN];
	uint8_t timestamp[NOISE_TIMESTAMP_LEN];
	enum wgc_status status = WGC_ERR_STATE;

	if (!local->has_private_key || !hs->has_static_static)
		goto out;
	memcpy(chaining_key, local->initial_chaining_key, sizeof(chaining_key));
	memcpy(hash, hs->initial_hash, sizeof(hash));
	wgc_store_le32(msg + INIT_OFF_TYPE, MESSAGE_HANDSHAKE_INITIATION);
	wgc_store_le32(msg + INIT_OFF_SENDER, sender_index);

	/* e */
	memcpy(ephemeral_private, ephemeral_random, sizeof(ephemeral_private));
	wgc_x25519_clamp(ephemeral_private);
	wgc_x25519_public(msg + INIT_OFF_EPHEMERAL, ephemeral_private);
	wgc_kdf(chaining_key, NULL, NULL, chaining_key, msg + INIT_OFF_EPHEMERAL,
		NOISE_PUBLIC_KEY_LEN);
	mix_hash(hash, msg + INIT_OFF_EPHEMERAL, NOISE_PUBLIC_KEY_LEN);

	/* es */
	status = WGC_ERR_CRYPTO;
	if (!mix_dh(chaining_key, key, ephemeral_private, hs->remote_static))
		goto out;

	/* s */
	encrypt_and_hash(msg + INIT_OFF_STATIC, local->public_key, NOISE_PUBLIC_KEY_LEN, key, hash);

	/* ss */
	mix_precomputed(chaining_key, key, hs->static_static);

	/* {t} */
	wgc_tai64n(timestamp, wall_ns);
	encrypt_and_hash(msg + INIT_OFF_TIMESTAMP, timestamp, NOISE_TIMESTAMP_LEN, key, hash);

	memcpy(hs->ephemeral_private, ephemeral_private, sizeof(ephemeral_private));
	memcpy(hs->chaining_key, chaining_key, sizeof(chaining_key));
	memcpy(hs->hash, hash, sizeof(hash));
	hs->local_index = sender_index;
	hs->state = HANDSHAKE_CREATED_INITIATION;
	status = WGC_OK;
out:
	wgc_memzero(ephemeral_private, sizeof(ephemeral_private));
	wgc_memzero(chaining_key, sizeof(chaining_key));
	wgc_memzero(hash, sizeof(hash));
	wgc_memzero(key, sizeof(key));
	return status;
}

enum wgc_drop_reason wgc_noise_consume_initiation_static(const struct wgc_local *local,
							 const uint8_t msg[INIT_LEN],
							 struct wgc_noise_initiation *out)
{
	uint8_t key[NOISE_SYMMETRIC_KEY_LEN];
	enum wgc_drop_reason drop = WGC_DROP_NO_IDENTITY;

	if (!local->has_private_key)
		goto out;
	memcpy(out->chaining_key, local->initial_chaining_key, NOISE_HASH_LEN);
	memcpy(out->hash, local->initial_hash, NOISE_HASH_LEN);
	out->sender_index = wgc_load_le32(msg + INIT_OFF_SENDER);

	/* e */
	memcpy(out->remote_ephemeral, msg + INIT_OFF_EPHEMERAL, NOISE_PUBLIC_KEY_LEN);
	wgc_kdf(out->chaining_key, NULL, NULL, out->chaining_key, out->remote_ephemeral,
		NOISE_PUBLIC_KEY_LEN);
	mix_hash(out->hash, out->remote_ephemeral, NOISE_PUBLIC_KEY_LEN);

	/* es */
	drop = WGC_DROP_HANDSHAKE_INVALID;
	if (!mix_dh(out->chaining_key, key, local->private_key, out->remote_ephemeral))
		goto out;

	/* s */
	if (!decrypt_and_hash(out->remote_static, msg + INIT_OFF_STATIC,
			      NOISE_PUBLIC_KEY_LEN + AEAD_TAG_LEN, key, out->hash))
		goto out;
	drop = WGC_DROP_NONE;
out:
	wgc_memzero(key, sizeof(key));
	return drop;
}

/* Big-endian TAI64N compares as bytes; not secret, so memcmp is fine. */
static bool timestamp_is_newer(const uint8_t candidate[NOISE_TIMESTAMP_LEN],
			       const uint8_t latest[NOISE_TIMESTAMP_LEN])
{
	return memcmp(candidate, latest, NOISE_TIMESTAMP_LEN) > 0;
}

enum wgc_drop_reason wgc_noise_consume_initiation_timestamp(const struct wgc_handshake *hs,
							    const uint8_t msg[INIT_LEN],
							    struct wgc_noise_initiation *io,
							    uint64_t now)
{
	uint8_t key[NOISE_SYMMETRIC_KEY_LEN];
	enum wgc_drop_reason drop = WGC_DROP_HANDSHAKE_INVALID;

	if (!hs->has_static_static)
		goto out;

	/* ss */
	mix_precomputed(io->chaining_key, key, hs->static_static);

	/* {t} */
	if (!decrypt_and_hash(io->timestamp, msg + INIT_OFF_TIMESTAMP,
			      NOISE_TIMESTAMP_LEN + AEAD_TAG_LEN, key, io->hash))
		goto out;

	drop = WGC_DROP_HANDSHAKE_REPLAYED;
	if (!timestamp_is_newer(io->timestamp, hs->latest_timestamp))
		goto out;
	drop = WGC_DROP_HANDSHAKE_FLOOD;
	if (hs->has_consumed_initiation &&
	    now - hs->last_initiation_consumption_ns < MIN_INITIATION_INTERVAL)
		goto out;
	drop = WGC_DROP_NONE;
out:
	wgc_memzero(key, sizeof(key));
	return drop;
}

enum wgc_status wgc_noise_create_response(struct wgc_handshake *hs,
					  const struct wgc_noise_initiation *init,
					  uint8_t msg[RESP_LEN], uint32_t sender_index,
					  const uint8_t ephemeral_random[NOISE_PUBLIC_KEY_LEN],
					  uint64_t now, struct wgc_session_keys *keys)
{
	uint8_t ephemeral_private[NOISE_PUBLIC_KEY_LEN];
	uint8_t chaining_key[NOISE_HASH_LEN];
	uint8_t hash[NOISE_HASH_LEN];
	uint8_t key[NOISE_SYMMETRIC_KEY_LEN];
	uint8_t tau[NOISE_HASH_LEN];
	uint8_t empty[NOISE_SYMMETRIC_KEY_LEN];
	enum wgc_status status = WGC_ERR_CRYPTO;

	memcpy(chaining_key, init->chaining_key, sizeof(chaining_key));
	memcpy(hash, init->hash, sizeof(hash));
	wgc_store_le32(msg + RESP_OFF_TYPE, MESSAGE_HANDSHAKE_RESPONSE);
	wgc_store_le32(msg + RESP_OFF_SENDER, sender_index);
	wgc_store_le32(msg + RESP_OFF_RECEIVER, init->sender_index);

	/* e */
	memcpy(ephemeral_private, ephemeral_random, sizeof(ephemeral_private));
	wgc_x25519_clamp(ephemeral_private);
	wgc_x25519_public(msg + RESP_OFF_EPHEMERAL, ephemeral_private);
	wgc_kdf(chaining_key, NULL, NULL, chaining_key, msg + RESP_OFF_EPHEMERAL,
		NOISE_PUBLIC_KEY_LEN);
	mix_hash(hash, msg + RESP_OFF_EPHEMERAL, NOISE_PUBLIC_KEY_LEN);

	/* ee, se: KDF1 each */
	if (!mix_dh(chaining_key, NULL, ephemeral_private, init->remote_ephemeral))
		goto out;
	if (!mix_dh(chaining_key, NULL, ephemeral_private, init->remote_static))
		goto out;

	/* psk */
	wgc_kdf(chaining_key, tau, key, chaining_key, hs->preshared_key, NOISE_SYMMETRIC_KEY_LEN);
	mix_hash(hash, tau, sizeof(tau));

	/* {} */
	encrypt_and_hash(msg + RESP_OFF_EMPTY, empty, 0, key, hash);

	derive_session_keys(keys, chaining_key, false);
	keys->local_index = sender_index;
	keys->remote_index = init->sender_index;

	/* Commit: the initiation counts as consumed only now that it is answered. */
	memcpy(hs->latest_timestamp, init->timestamp, NOISE_TIMESTAMP_LEN);
	hs->last_initiation_consumption_ns = now;
	hs->has_consumed_initiation = true;
	wgc_noise_handshake_clear(hs);
	status = WGC_OK;
out:
	wgc_memzero(ephemeral_private, sizeof(ephemeral_private));
	wgc_memzero(chaining_key, sizeof(chaining_key));
	wgc_memzero(hash, sizeof(hash));
	wgc_memzero(key, sizeof(key));
	wgc_memzero(tau, sizeof(tau));
	wgc_memzero(empty, sizeof(empty));
	return status;
}

enum wgc_drop_reason wgc_noise_consume_response(struct wgc_handshake *hs,
						const struct wgc_local *local,
						const uint8_t msg[RESP_LEN],
						struct wgc_session_keys *keys)
{
	uint8_t chaining_key[NOISE_HASH_LEN];
	uint8_t hash[NOISE_HASH_LEN];
	uint8_t key[NOISE_SYMMETRIC_KEY_LEN];
	uint8_t tau[NOISE_HASH_LEN];
	uint8_t empty[NOISE_SYMMETRIC_KEY_LEN];
	uint8_t remote_ephemeral[NOISE_PUBLIC_KEY_LEN];
	enum wgc_drop_reason drop = WGC_DROP_UNEXPECTED;

	if (hs->state != HANDSHAKE_CREATED_INITIATION || !local->has_private_key)
		goto out;
	memcpy(chaining_key, hs->chaining_key, sizeof(chaining_key));
	memcpy(hash, hs->hash, sizeof(hash));

	/* e */
	memcpy(remote_ephemeral, msg + RESP_OFF_EPHEMERAL, sizeof(remote_ephemeral));
	wgc_kdf(chaining_key, NULL, NULL, chaining_key, remote_ephemeral, NOISE_PUBLIC_KEY_LEN);
	mix_hash(hash, remote_ephemeral, NOISE_PUBLIC_KEY_LEN);

	/* ee, se */
	drop = WGC_DROP_HANDSHAKE_INVALID;
	if (!mix_dh(chaining_key, NULL, hs->ephemeral_private, remote_ephemeral))
		goto out;
	if (!mix_dh(chaining_key, NULL, local->private_key, remote_ephemeral))
		goto out;

	/* psk */
	wgc_kdf(chaining_key, tau, key, chaining_key, hs->preshared_key, NOISE_SYMMETRIC_KEY_LEN);
	mix_hash(hash, tau, sizeof(tau));

	/* {} */
	if (!decrypt_and_hash(empty, msg + RESP_OFF_EMPTY, AEAD_TAG_LEN, key, hash))
		goto out;

	derive_session_keys(keys, chaining_key, true);
	keys->local_index = hs->local_index;
	keys->remote_index = wgc_load_le32(msg + RESP_OFF_SENDER);
	wgc_noise_handshake_clear(hs);
	drop = WGC_DROP_NONE;
out:
	wgc_memzero(chaining_key, sizeof(chaining_key));
	wgc_memzero(hash, sizeof(hash));
	wgc_memzero(key, sizeof(key));
	wgc_memzero(tau, sizeof(tau));
	wgc_memzero(empty, sizeof(empty));
	return drop;
}
