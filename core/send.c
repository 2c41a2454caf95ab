/* SPDX-License-Identifier: MIT */
/*
 * The outgoing path (whitepaper 5.4.6, 6): routing a plaintext packet to its peer by destination
 * address, the serial prepare step (choose the current keypair, take a counter, fire the timer
 * events), the pure seal step, and the messages the core sends by itself: initiations and
 * keepalives. A packet with no usable session is handed back to be staged while a handshake runs.
 */
#include "core/endpoint.h"

#include <stddef.h>
#include <string.h>

#include "base/assert.h"
#include "base/ip.h"
#include "core/messages.h"
#include "crypto/crypto.h"

/* Padding to a multiple of 16 without passing the MTU (wireguard-go's calculatePaddingSize). */
static size_t padded_len(size_t plain_len, uint32_t mtu)
{
	size_t last_unit = plain_len;
	size_t padded;

	if (last_unit > mtu)
		last_unit %= mtu;
	padded = (last_unit + MESSAGE_PADDING_MULTIPLE - 1) & ~(size_t)(MESSAGE_PADDING_MULTIPLE - 1);
	if (padded > mtu)
		padded = mtu;
	return plain_len + (padded - last_unit);
}

/* The peer an IP packet is routed to by its destination address, or NULL with a reason. */
static struct wgc_peer *route(const struct wgc_endpoint *ep, const uint8_t *packet, size_t len,
			      enum wgc_drop_reason *drop)
{
	struct wgc_peer *peer = NULL;

	*drop = WGC_DROP_BAD_PACKET;
	if (len >= WGC_IPV4_HEADER_MIN_LEN && wgc_ip_version(packet) == WGC_IP_VERSION_4)
		peer = wgc_allowedips_lookup(ep, WGC_AF_INET, packet + WGC_IPV4_OFF_DST);
	else if (len >= WGC_IPV6_HEADER_LEN && wgc_ip_version(packet) == WGC_IP_VERSION_6)
		peer = wgc_allowedips_lookup(ep, WGC_AF_INET6, packet + WGC_IPV6_OFF_DST);
	else
		return NULL;
	if (!peer)
		*drop = WGC_DROP_NO_ROUTE;
	return peer;
}

static bool keypair_can_send(const struct wgc_keypair *keypair, uint64_t now)
{
	return keypair && keypair->send_counter < REJECT_AFTER_MESSAGES &&
	       now - keypair->birthdate_ns < REJECT_AFTER_TIME;
}

static enum wgc_verdict drop(struct wgc_endpoint *ep, struct wgc_send_job *job,
			     enum wgc_drop_reason reason)
{
	job->drop = reason;
	wgc_endpoint_count(ep, reason);
	return WGC_VERDICT_DROP;
}

/* Whitepaper 6.2: the initiator of a session rekeys after REKEY_AFTER_TIME; anyone after
 * REKEY_AFTER_MESSAGES. */
static void keep_key_fresh_sending(struct wgc_endpoint *ep, struct wgc_peer *peer,
				   const struct wgc_keypair *keypair, uint64_t now,
				   struct wgc_actions *out)
{
	if (keypair->send_counter > REKEY_AFTER_MESSAGES ||
	    (keypair->is_initiator && now - keypair->birthdate_ns > REKEY_AFTER_TIME))
		wgc_endpoint_send_initiation(ep, peer, now, false, out);
}

/* plain: the plaintext, or the part of it after the head_len bytes at buf + DATA_HEADER_LEN, when
 * it is not all there (out of place), else NULL. */
static enum wgc_verdict prepare(struct wgc_endpoint *ep, uint64_t now, struct wgc_peer *peer,
				const uint8_t *plain, size_t head_len, uint8_t *buf,
				size_t buf_size, size_t plain_len, struct wgc_send_job *job,
				struct wgc_actions *out)
{
	struct wgc_keypair *keypair;
	enum wgc_drop_reason reason = WGC_DROP_NONE;
	size_t message_len;

	/* Every field is set on every path; no memset on the per-packet path. */
	job->keypair = NULL;
	job->peer = peer;
	job->buf = buf;
	job->plain = plain;
	job->plain_len = plain_len;
	job->message_len = 0;
	job->counter = 0;
	job->drop = WGC_DROP_NONE;
	job->addr.family = WGC_AF_NONE;
	job->state = JOB_IDLE;
	job->plain_head_len = (uint16_t)head_len;
	if (!peer) {
		if (plain && !head_len)
			peer = route(ep, plain, plain_len, &reason);
		else
			peer = route(ep, buf + DATA_HEADER_LEN, plain ? head_len : plain_len, &reason);
		if (!peer)
			return drop(ep, job, reason);
	}
	job->peer = peer;
	message_len = DATA_HEADER_LEN + padded_len(plain_len, ep->mtu) + AEAD_TAG_LEN;
	if (plain_len > ep->mtu || buf_size < message_len)
		return drop(ep, job, WGC_DROP_TOO_BIG);
	/* A peer we cannot reach drops at once (the caller answers with ICMP, as the kernel does)
	 * rather than staging a packet that could only wait for the peer to contact us. */
	if (peer->endpoint.family == WGC_AF_NONE)
		return drop(ep, job, WGC_DROP_NO_ENDPOINT);
	keypair = peer->keypairs.current;
	if (!keypair_can_send(keypair, now)) {
		wgc_endpoint_send_initiation(ep, peer, now, false, out);
		return WGC_VERDICT_STAGE;
	}

	job->keypair = keypair;
	job->counter = keypair->send_counter++;
	job->message_len = message_len;
	job->addr = peer->endpoint;
	job->state = JOB_PREPARED;
	wgc_keypair_ref(keypair);
	wgc_store_le32(buf + DATA_OFF_TYPE, MESSAGE_DATA);
	wgc_store_le32(buf + DATA_OFF_RECEIVER, keypair->remote_index);
	wgc_store_le64(buf + DATA_OFF_COUNTER, job->counter);
	peer->tx_bytes += message_len;

	wgc_timers_on_authenticated_traversal(&ep->timers, &peer->timers, now,
					      peer->persistent_keepalive_s);
	wgc_timers_on_authenticated_sent(&peer->timers);
	/* Draw the jitter only when the timer will take it: not a random call per packet. */
	if (plain_len && !wgc_timers_is_armed(&peer->timers, TIMER_NEW_HANDSHAKE))
		wgc_timers_on_data_sent(&ep->timers, &peer->timers, now, wgc_endpoint_jitter(ep));
	keep_key_fresh_sending(ep, peer, keypair, now, out);
	return WGC_VERDICT_CRYPTO;
}

enum wgc_verdict wgc_send_prepare(struct wgc_endpoint *ep, uint64_t now, struct wgc_peer *peer,
				  uint8_t *buf, size_t buf_size, size_t plain_len,
				  struct wgc_send_job *job, struct wgc_actions *out)
{
	enum wgc_verdict verdict;

	wgc_endpoint_serial_enter(ep);
	verdict = prepare(ep, now, peer, NULL, 0, buf, buf_size, plain_len, job, out);
	wgc_endpoint_serial_exit(ep);
	return verdict;
}

enum wgc_verdict wgc_send_prepare_from(struct wgc_endpoint *ep, uint64_t now,
				       struct wgc_peer *peer, const uint8_t *plain,
				       size_t plain_len, uint8_t *buf, size_t buf_size,
				       struct wgc_send_job *job, struct wgc_actions *out)
{
	enum wgc_verdict verdict;

	/* The plaintext must lie wholly outside the message it is sealed into. */
	WGC_ASSERT(plain_len == 0 || (uintptr_t)(plain + plain_len) <= (uintptr_t)buf ||
		   (uintptr_t)plain >= (uintptr_t)(buf + buf_size));
	wgc_endpoint_serial_enter(ep);
	verdict = prepare(ep, now, peer, plain_len ? plain : NULL, 0, buf, buf_size, plain_len, job,
			  out);
	wgc_endpoint_serial_exit(ep);
	return verdict;
}

enum wgc_verdict wgc_send_prepare_gather(struct wgc_endpoint *ep, uint64_t now,
					 struct wgc_peer *peer, uint8_t *buf, size_t buf_size,
					 size_t head_len, const uint8_t *tail, size_t tail_len,
					 struct wgc_send_job *job, struct wgc_actions *out)
{
	enum wgc_verdict verdict;

	/* The tail must lie wholly outside the message it is sealed into. */
	WGC_ASSERT(tail_len == 0 || (uintptr_t)(tail + tail_len) <= (uintptr_t)buf ||
		   (uintptr_t)tail >= (uintptr_t)(buf + buf_size));
	wgc_endpoint_serial_enter(ep);
	if (head_len > WGC_SEND_HEAD_MAX || tail_len > SIZE_MAX - head_len) {
		/* No room (buf_size 0): routed, then dropped as TOO_BIG, counted once. */
		verdict = prepare(ep, now, peer, NULL, 0, buf, 0, head_len, job, out);
	} else if (!tail_len) {
		verdict = prepare(ep, now, peer, NULL, 0, buf, buf_size, head_len, job, out);
	} else {
		verdict = prepare(ep, now, peer, tail, head_len, buf, buf_size, head_len + tail_len,
				  job, out);
	}
	wgc_endpoint_serial_exit(ep);
	return verdict;
}

void wgc_send_seal(struct wgc_send_job *job)
{
	uint8_t *payload = job->buf + DATA_OFF_PAYLOAD;
	size_t padded = job->message_len - DATA_HEADER_LEN - AEAD_TAG_LEN;
	const uint8_t *src = payload;

	/* Only a CRYPTO verdict gives the job a keypair; sealing twice would reuse a nonce. */
	WGC_ASSERT(job->state == JOB_PREPARED);
	/*
	 * Out of place without padding (a full-size packet at the MTU, or any multiple of 16
	 * bytes) is one pass: the cipher's read of the plaintext is the copy. With padding the
	 * AEAD needs the zeros right after the plaintext, in one run of bytes, and the plaintext
	 * is not ours to write after: it is copied into the message first (as an in-place caller
	 * would have done), at most one copy.
	 */
	if (job->plain && job->plain_head_len) {
		size_t head = job->plain_head_len;

		wgc_aead_seal_parts(payload, head, job->plain, job->plain_len - head,
				    padded - job->plain_len, job->counter, job->keypair->send_key);
	} else if (job->plain && padded == job->plain_len) {
		src = job->plain;
		wgc_aead_seal(payload, src, padded, NULL, 0, job->counter, job->keypair->send_key);
	} else {
		if (job->plain)
			memcpy(payload, job->plain, job->plain_len);
		memset(payload + job->plain_len, 0, padded - job->plain_len);
		wgc_aead_seal(payload, src, padded, NULL, 0, job->counter, job->keypair->send_key);
	}
	wgc_keypair_unref(job->keypair);
	job->keypair = NULL;
	job->state = JOB_FINISHED;
}

void wgc_send_abandon(struct wgc_send_job *job)
{
	if (job->state != JOB_PREPARED)
		return;
	wgc_keypair_unref(job->keypair);
	job->keypair = NULL;
	job->state = JOB_FINISHED;
}

/* prepare + seal + a SEND action, without the serial check (wgc_send and the keepalives). */
static enum wgc_verdict send_one(struct wgc_endpoint *ep, uint64_t now, struct wgc_peer *peer,
				 uint8_t *buf, size_t buf_size, size_t plain_len,
				 struct wgc_actions *out)
{
	struct wgc_send_job job;
	enum wgc_verdict verdict;

	verdict = prepare(ep, now, peer, NULL, 0, buf, buf_size, plain_len, &job, out);
	if (verdict != WGC_VERDICT_CRYPTO)
		return verdict;
	wgc_send_seal(&job);
	if (!wgc_actions_push(out, WGC_ACTION_SEND, job.peer, job.buf, job.message_len, &job.addr)) {
		wgc_endpoint_count(ep, WGC_DROP_NO_MEMORY);
		return WGC_VERDICT_DROP;
	}
	return WGC_VERDICT_DONE;
}

enum wgc_verdict wgc_send(struct wgc_endpoint *ep, uint64_t now, struct wgc_peer *peer,
			  uint8_t *buf, size_t buf_size, size_t plain_len, struct wgc_actions *out)
{
	enum wgc_verdict verdict;

	wgc_endpoint_serial_enter(ep);
	verdict = send_one(ep, now, peer, buf, buf_size, plain_len, out);
	wgc_endpoint_serial_exit(ep);
	return verdict;
}

void wgc_endpoint_send_keepalive(struct wgc_endpoint *ep, struct wgc_peer *peer, uint64_t now,
				 struct wgc_actions *out)
{
	uint8_t *buf = wgc_actions_reserve(out, DATA_MIN_LEN);

	if (!buf) {
		wgc_endpoint_count(ep, WGC_DROP_NO_MEMORY);
		return;
	}
	/* A STAGE verdict needs nothing kept: the handshake it started ends with a keepalive. */
	(void)send_one(ep, now, peer, buf, DATA_MIN_LEN, 0, out);
}

void wgc_endpoint_send_initiation(struct wgc_endpoint *ep, struct wgc_peer *peer, uint64_t now,
				  bool is_retry, struct wgc_actions *out)
{
	uint8_t ephemeral[NOISE_PUBLIC_KEY_LEN];
	uint32_t index;
	uint8_t *msg;

	/* Wipe first, then act: a wipe that fell due (a resume from suspend, before the caller's
	 * tick) must run before the attempt is made, not destroy it at the next tick. */
	wgc_endpoint_zero_key_material_if_due(ep, peer, now);
	if (!is_retry)
		peer->timers.handshake_attempts = 0;
	if (peer->has_sent_initiation && now - peer->last_sent_initiation_ns < REKEY_TIMEOUT)
		return;
	if (!ep->local.has_private_key || !peer->handshake.has_static_static)
		return;
	/* A new attempt abandons the previous one, whose index may be drawn again. */
	wgc_index_remove(&ep->indexes, &peer->handshake_entry);
	if (!ep->random(ep->ctx, ephemeral, sizeof(ephemeral)) || !wgc_endpoint_new_index(ep, &index)) {
		wgc_endpoint_count(ep, WGC_DROP_RANDOM_FAILED);
		goto out;
	}
	msg = wgc_actions_reserve(out, INIT_LEN);
	if (!msg) {
		wgc_endpoint_count(ep, WGC_DROP_NO_MEMORY);
		goto out;
	}
	if (wgc_noise_create_initiation(&peer->handshake, &ep->local, msg, index, ephemeral,
					ep->wall_clock(ep->ctx)) != WGC_OK)
		goto out;
	peer->handshake_entry.kind = INDEX_HANDSHAKE;
	wgc_index_insert(&ep->indexes, &peer->handshake_entry, index);
	wgc_cookie_add_macs(&peer->cookie, msg, INIT_LEN, now);
	peer->has_sent_initiation = true;
	peer->last_sent_initiation_ns = now;

	/* As the reference: the attempt's timers run even when there is nowhere to send it, so
	 * staged packets are purged in the end and a handshake from the peer can still land. */
	wgc_timers_on_authenticated_traversal(&ep->timers, &peer->timers, now,
					      peer->persistent_keepalive_s);
	wgc_timers_on_authenticated_sent(&peer->timers);
	wgc_timers_on_handshake_initiated(&ep->timers, &peer->timers, now, wgc_endpoint_jitter(ep));
	if (peer->endpoint.family == WGC_AF_NONE) {
		wgc_endpoint_count(ep, WGC_DROP_NO_ENDPOINT);
		goto out;
	}
	if (wgc_actions_push(out, WGC_ACTION_SEND, peer, msg, INIT_LEN, &peer->endpoint))
		peer->tx_bytes += INIT_LEN;
	else
		wgc_endpoint_count(ep, WGC_DROP_NO_MEMORY);
out:
	wgc_memzero(ephemeral, sizeof(ephemeral));
}

void wgc_endpoint_handshake_complete(struct wgc_endpoint *ep, struct wgc_peer *peer, uint64_t now)
{
	wgc_timers_on_handshake_complete(&peer->timers);
	peer->has_handshake = true;
	peer->last_handshake_ns = now;
	peer->last_handshake_wall_ns = ep->wall_clock(ep->ctx);
}
