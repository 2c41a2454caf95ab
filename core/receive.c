/* SPDX-License-Identifier: MIT */
/*
 * The incoming path (whitepaper 5.3, 5.4, 6). Every datagram is first checked for an exact type and
 * length; handshake messages then pass mac1 (before any DH), the under-load cookie test and the
 * per-source rate limit before the Noise work; data messages are matched to a keypair by index and
 * left for a worker to open, and only an authenticated packet may move the replay window, the
 * timers, the peer's endpoint or its session slots. For endpoints that share a private key, an
 * initiation can also be identified without being consumed (the gate and the e, es, s read), and
 * consumed by another endpoint with the gate's mac2 and rate-limit part skipped (vetted).
 */
#include "core/endpoint.h"

#include <stddef.h>
#include <string.h>

#include "base/assert.h"
#include "base/bytes.h"
#include "base/ip.h"
#include "core/messages.h"
#include "crypto/crypto.h"

/* How much of the DoS gate a handshake message has yet to pass. */
enum admission {
	ADMIT_FROM_WIRE, /* all of it: mac1, and under load mac2 and the rate limit */
	ADMIT_VETTED,    /* mac1 only: an endpoint with our private key admitted it (an initiation) */
};

static enum wgc_verdict drop(struct wgc_endpoint *ep, struct wgc_receive_job *job,
			     enum wgc_drop_reason reason)
{
	job->drop = reason;
	wgc_endpoint_count(ep, reason);
	return WGC_VERDICT_DROP;
}

static struct wgc_peer *peer_of_handshake_entry(struct wgc_index_entry *entry)
{
	return WGC_CONTAINER_OF(entry, struct wgc_peer, handshake_entry);
}

static struct wgc_keypair *keypair_of_entry(struct wgc_index_entry *entry)
{
	return WGC_CONTAINER_OF(entry, struct wgc_keypair, entry);
}

/* Built-in load signal: more than load_threshold_per_s valid-mac1 handshakes in a one-second
 * window. Callers with a real queue depth also use wgc_endpoint_report_load. */
static void note_handshake_load(struct wgc_endpoint *ep, uint64_t now)
{
	if (now - ep->load_window_start_ns >= WGC_NSEC_PER_SEC) {
		ep->load_window_start_ns = now;
		ep->load_count = 0;
	}
	if (++ep->load_count > ep->load_threshold_per_s)
		wgc_endpoint_mark_load(ep, now);
}

static enum wgc_drop_reason send_cookie_reply(struct wgc_endpoint *ep, const uint8_t *msg,
					      size_t len, const struct wgc_addr *src,
					      struct wgc_actions *out)
{
	uint8_t nonce[COOKIE_NONCE_LEN];
	uint8_t *reply;
	/* Initiation and response carry the sender index at the same offset. */
	uint32_t sender_index = wgc_load_le32(msg + INIT_OFF_SENDER);

	if (!ep->random(ep->ctx, nonce, sizeof(nonce)))
		return WGC_DROP_RANDOM_FAILED;
	reply = wgc_actions_reserve(out, COOKIE_REPLY_LEN);
	if (!reply)
		return WGC_DROP_NO_MEMORY;
	wgc_cookie_create_reply(&ep->cookie_checker, msg, len, src, sender_index, nonce, reply);
	if (!wgc_actions_push(out, WGC_ACTION_SEND, NULL, reply, COOKIE_REPLY_LEN, src))
		return WGC_DROP_NO_MEMORY;
	return WGC_DROP_COOKIE_SENT;
}

static bool refresh_cookie_secret(struct wgc_endpoint *ep, uint64_t now)
{
	uint8_t secret[NOISE_SYMMETRIC_KEY_LEN];
	bool ok = true;

	if (wgc_cookie_checker_needs_secret(&ep->cookie_checker, now)) {
		ok = ep->random(ep->ctx, secret, sizeof(secret));
		if (ok)
			wgc_cookie_checker_set_secret(&ep->cookie_checker, secret, now);
		wgc_memzero(secret, sizeof(secret));
	}
	return ok;
}

/* The DoS gate every handshake message passes (whitepaper 5.3): mac1 always; under load a valid
 * mac2 and the per-source token bucket, else a cookie reply within the cookie budget. Under a
 * flood this runs for every message, so it hashes as little as it can: mac1 once, mac2 only under
 * load and only when the sender filled it in. A vetted message passed the rest of the gate on the
 * endpoint that admitted it, with that endpoint's cookie secret (ours would not match its mac2)
 * and load signal, so here it checks mac1 only (it depends on nothing but our public key) and
 * does not count as our load. */
static enum wgc_drop_reason admit_handshake(struct wgc_endpoint *ep, const uint8_t *msg,
					    size_t len, const struct wgc_addr *src, uint64_t now,
					    enum admission admission, struct wgc_actions *out)
{
	enum wgc_mac_state state;
	bool was_under_load;

	if (!ep->local.has_private_key)
		return WGC_DROP_NO_IDENTITY;
	if (admission == ADMIT_VETTED)
		return wgc_cookie_mac1_is_valid(&ep->cookie_checker, msg, len) ? WGC_DROP_NONE :
										 WGC_DROP_BAD_MAC1;
	was_under_load = wgc_endpoint_is_under_load(ep, now);
	if (was_under_load && !refresh_cookie_secret(ep, now))
		return WGC_DROP_RANDOM_FAILED;
	state = wgc_cookie_validate(&ep->cookie_checker, msg, len, src, was_under_load);
	if (state == MAC_STATE_INVALID_MAC1)
		return WGC_DROP_BAD_MAC1;
	note_handshake_load(ep, now);
	if (!wgc_endpoint_is_under_load(ep, now))
		return WGC_DROP_NONE;
	if (!was_under_load) { /* this very message tipped the balance: mac2 was not looked at */
		if (!refresh_cookie_secret(ep, now))
			return WGC_DROP_RANDOM_FAILED;
		state = wgc_cookie_validate(&ep->cookie_checker, msg, len, src, true);
	}
	if (state == MAC_STATE_VALID_MAC1_AND_MAC2)
		return wgc_ratelimiter_allow(&ep->ratelimiter, src, now) ? WGC_DROP_NONE :
									    WGC_DROP_RATE_LIMITED;
	/* A cookie reply is budgeted per source address and port (a bucket of its own: charging the
	 * handshake bucket, as a first version did, let a spoofer using a peer's address spend the
	 * budget of the peer's mac2-valid retries) and in all. */
	if (!wgc_ratelimiter_allow(&ep->cookie_ratelimiter, src, now) ||
	    !wgc_endpoint_take_cookie_token(ep, now))
		return WGC_DROP_COOKIE_LIMITED;
	return send_cookie_reply(ep, msg, len, src, out);
}

/* Makes a keypair from fresh session keys, files it under its index and in the peer's slots. */
static void install_session(struct wgc_endpoint *ep, struct wgc_peer *peer,
			    struct wgc_keypair *keypair, const struct wgc_session_keys *keys,
			    uint64_t now)
{
	memcpy(keypair->send_key, keys->send_key, sizeof(keypair->send_key));
	memcpy(keypair->recv_key, keys->recv_key, sizeof(keypair->recv_key));
	keypair->remote_index = keys->remote_index;
	keypair->is_initiator = keys->is_initiator;
	keypair->birthdate_ns = now;
	keypair->peer = peer;
	keypair->entry.kind = INDEX_KEYPAIR;
	if (keys->is_initiator)
		wgc_index_replace(&ep->indexes, &peer->handshake_entry, &keypair->entry);
	else
		wgc_index_insert(&ep->indexes, &keypair->entry, keys->local_index);
	/* Wipe first, then act: a wipe that fell due (a resume from suspend, before the caller's
	 * tick) retires the old sessions now, not after this one; the handshake just completed
	 * has already been wiped by its last Noise step. */
	wgc_endpoint_zero_key_material_if_due(ep, peer, now);
	wgc_keypairs_install(&peer->keypairs, keypair, &ep->indexes);
	wgc_timers_on_session_derived(&ep->timers, &peer->timers, now);
}

static enum wgc_drop_reason respond(struct wgc_endpoint *ep, struct wgc_peer *peer,
				    const struct wgc_noise_initiation *init,
				    const struct wgc_addr *src, uint64_t now,
				    struct wgc_actions *out)
{
	uint8_t ephemeral[NOISE_PUBLIC_KEY_LEN];
	struct wgc_session_keys keys;
	struct wgc_keypair *keypair = NULL;
	uint8_t *msg;
	uint32_t index;
	enum wgc_drop_reason reason = WGC_DROP_RANDOM_FAILED;

	if (!ep->random(ep->ctx, ephemeral, sizeof(ephemeral)) || !wgc_endpoint_new_index(ep, &index))
		goto out;
	reason = WGC_DROP_NO_MEMORY;
	msg = wgc_actions_reserve(out, RESP_LEN);
	keypair = wgc_keypair_alloc(&ep->keypairs);
	if (!msg || !keypair || out->cap - out->count < 1)
		goto out;
	reason = WGC_DROP_HANDSHAKE_INVALID;
	if (wgc_noise_create_response(&peer->handshake, init, msg, index, ephemeral, now, &keys) !=
	    WGC_OK)
		goto out;
	/* Answering abandons any initiation of ours still in flight. */
	wgc_index_remove(&ep->indexes, &peer->handshake_entry);
	install_session(ep, peer, keypair, &keys, now);
	keypair = NULL;
	wgc_cookie_add_macs(&peer->cookie, msg, RESP_LEN, now);
	peer->endpoint = *src;
	peer->rx_bytes += INIT_LEN;
	peer->tx_bytes += RESP_LEN;
	wgc_timers_on_authenticated_traversal(&ep->timers, &peer->timers, now,
					      peer->persistent_keepalive_s);
	wgc_timers_on_authenticated_received(&peer->timers);
	wgc_timers_on_authenticated_sent(&peer->timers);
	wgc_actions_push(out, WGC_ACTION_SEND, peer, msg, RESP_LEN, src);
	reason = WGC_DROP_NONE;
out:
	if (keypair)
		wgc_keypair_unref(keypair);
	wgc_memzero(&keys, sizeof(keys));
	wgc_memzero(ephemeral, sizeof(ephemeral));
	return reason;
}

/* An initiation through the gate, then the first Noise read (e, es, s), which names the
 * initiator in init->remote_static and changes nothing but the gate's own state (load, rate
 * limiter, cookie secret). The caller wipes init on every path. */
static enum wgc_drop_reason read_initiator(struct wgc_endpoint *ep, const uint8_t *msg,
					   const struct wgc_addr *src, uint64_t now,
					   enum admission admission, struct wgc_actions *out,
					   struct wgc_noise_initiation *init)
{
	enum wgc_drop_reason reason;

	reason = admit_handshake(ep, msg, INIT_LEN, src, now, admission, out);
	if (reason != WGC_DROP_NONE)
		return reason;
	return wgc_noise_consume_initiation_static(&ep->local, msg, init);
}

static enum wgc_drop_reason receive_initiation(struct wgc_endpoint *ep, const uint8_t *msg,
					       const struct wgc_addr *src, uint64_t now,
					       enum admission admission, struct wgc_actions *out,
					       struct wgc_peer **roamed)
{
	struct wgc_noise_initiation init;
	struct wgc_peer *peer;
	enum wgc_drop_reason reason;

	reason = read_initiator(ep, msg, src, now, admission, out, &init);
	if (reason != WGC_DROP_NONE)
		goto out;
	peer = wgc_peer_table_lookup(&ep->peers, init.remote_static);
	reason = WGC_DROP_UNKNOWN_PEER;
	if (!peer)
		goto out;
	reason = wgc_noise_consume_initiation_timestamp(&peer->handshake, msg, &init, now);
	if (reason != WGC_DROP_NONE)
		goto out;
	reason = respond(ep, peer, &init, src, now, out);
	if (reason == WGC_DROP_NONE)
		*roamed = peer;
out:
	wgc_memzero(&init, sizeof(init));
	return reason;
}

static enum wgc_drop_reason receive_response(struct wgc_endpoint *ep, const uint8_t *msg,
					     const struct wgc_addr *src, uint64_t now,
					     struct wgc_actions *out, struct wgc_peer **roamed)
{
	struct wgc_session_keys keys;
	struct wgc_index_entry *entry;
	struct wgc_keypair *keypair;
	struct wgc_peer *peer;
	enum wgc_drop_reason reason;

	reason = admit_handshake(ep, msg, RESP_LEN, src, now, ADMIT_FROM_WIRE, out);
	if (reason != WGC_DROP_NONE)
		return reason;
	entry = wgc_index_lookup(&ep->indexes, wgc_load_le32(msg + RESP_OFF_RECEIVER));
	if (!entry)
		return WGC_DROP_UNKNOWN_INDEX;
	if (entry->kind != INDEX_HANDSHAKE)
		return WGC_DROP_UNEXPECTED;
	peer = peer_of_handshake_entry(entry);
	keypair = wgc_keypair_alloc(&ep->keypairs);
	if (!keypair)
		return WGC_DROP_NO_MEMORY;
	reason = wgc_noise_consume_response(&peer->handshake, &ep->local, msg, &keys);
	if (reason != WGC_DROP_NONE) {
		wgc_keypair_unref(keypair);
		goto out;
	}
	install_session(ep, peer, keypair, &keys, now);
	peer->endpoint = *src;
	*roamed = peer;
	peer->rx_bytes += RESP_LEN;
	wgc_timers_on_authenticated_traversal(&ep->timers, &peer->timers, now,
					      peer->persistent_keepalive_s);
	wgc_timers_on_authenticated_received(&peer->timers);
	wgc_endpoint_handshake_complete(ep, peer, now);
	/* Confirm the session to the responder at once, then let staged packets go. */
	wgc_endpoint_send_keepalive(ep, peer, now, out);
	if (!wgc_actions_push(out, WGC_ACTION_FLUSH, peer, NULL, 0, NULL))
		wgc_endpoint_count(ep, WGC_DROP_NO_MEMORY);
out:
	wgc_memzero(&keys, sizeof(keys));
	return reason;
}

static enum wgc_drop_reason receive_cookie(struct wgc_endpoint *ep, const uint8_t *msg,
					   uint64_t now)
{
	struct wgc_index_entry *entry;
	struct wgc_peer *peer = NULL;

	entry = wgc_index_lookup(&ep->indexes, wgc_load_le32(msg + COOKIE_OFF_RECEIVER));
	if (entry && entry->kind == INDEX_HANDSHAKE)
		peer = peer_of_handshake_entry(entry);
	else if (entry && entry->kind == INDEX_KEYPAIR)
		peer = keypair_of_entry(entry)->peer;
	if (!peer)
		return WGC_DROP_UNKNOWN_INDEX;
	if (!wgc_cookie_consume_reply(&peer->cookie, msg, now))
		return WGC_DROP_COOKIE_INVALID;
	return WGC_DROP_NONE;
}

/* Serial checks before a data message is worth decrypting; nothing changes. */
static enum wgc_verdict prepare_data(struct wgc_endpoint *ep, uint64_t now, uint8_t *buf,
				     struct wgc_receive_job *job)
{
	struct wgc_index_entry *entry;
	struct wgc_keypair *keypair;

	entry = wgc_index_lookup(&ep->indexes, wgc_load_le32(buf + DATA_OFF_RECEIVER));
	if (!entry)
		return drop(ep, job, WGC_DROP_UNKNOWN_INDEX);
	if (entry->kind != INDEX_KEYPAIR)
		return drop(ep, job, WGC_DROP_UNEXPECTED);
	keypair = keypair_of_entry(entry);
	job->counter = wgc_load_le64(buf + DATA_OFF_COUNTER);
	if (job->counter >= REJECT_AFTER_MESSAGES || now - keypair->birthdate_ns >= REJECT_AFTER_TIME)
		return drop(ep, job, WGC_DROP_EXPIRED_KEYPAIR);
	if (!wgc_replay_check(&keypair->replay, job->counter))
		return drop(ep, job, WGC_DROP_REPLAYED);
	wgc_keypair_ref(keypair);
	job->keypair = keypair;
	job->state = JOB_PREPARED;
	return WGC_VERDICT_CRYPTO;
}

/* The first checks on any datagram, before a field is read (whitepaper 5.4): the type word (type
 * and three zero reserved bytes), then the exact length of a handshake or cookie message, or room
 * for a header and tag in a data message. *type is set when len allows reading it. */
static enum wgc_drop_reason check_framing(const uint8_t *buf, size_t len, uint32_t *type)
{
	if (len < 4)
		return WGC_DROP_SHORT;
	*type = wgc_load_le32(buf);
	switch (*type) {
	case MESSAGE_HANDSHAKE_INITIATION:
		return len == INIT_LEN ? WGC_DROP_NONE : WGC_DROP_BAD_LENGTH;
	case MESSAGE_HANDSHAKE_RESPONSE:
		return len == RESP_LEN ? WGC_DROP_NONE : WGC_DROP_BAD_LENGTH;
	case MESSAGE_HANDSHAKE_COOKIE:
		return len == COOKIE_REPLY_LEN ? WGC_DROP_NONE : WGC_DROP_BAD_LENGTH;
	case MESSAGE_DATA:
		return len >= DATA_MIN_LEN ? WGC_DROP_NONE : WGC_DROP_SHORT;
	default:
		return WGC_DROP_BAD_TYPE;
	}
}

/* check_framing for a datagram with its source; a source we could not answer or roam to is the
 * caller's mistake, refused first. only_initiation refuses every other well-formed type. */
static enum wgc_drop_reason check_datagram(const uint8_t *buf, size_t len,
					   const struct wgc_addr *src, bool only_initiation,
					   uint32_t *type)
{
	enum wgc_drop_reason reason;

	if (src->family != WGC_AF_INET && src->family != WGC_AF_INET6)
		return WGC_DROP_BAD_ADDRESS;
	reason = check_framing(buf, len, type);
	if (reason == WGC_DROP_NONE && only_initiation && *type != MESSAGE_HANDSHAKE_INITIATION)
		return WGC_DROP_BAD_TYPE;
	return reason;
}

static enum wgc_verdict prepare(struct wgc_endpoint *ep, uint64_t now, uint8_t *buf, size_t len,
				const struct wgc_addr *src, enum admission admission,
				struct wgc_receive_job *job, struct wgc_actions *out)
{
	enum wgc_drop_reason reason;
	uint32_t type = 0;

	/* Every field is set on every path; no memset on the per-packet path. */
	job->keypair = NULL;
	job->peer = NULL;
	job->buf = buf;
	job->plain = buf + DATA_OFF_PAYLOAD;
	job->len = len;
	job->counter = 0;
	job->src = *src;
	job->is_authentic = false;
	job->drop = WGC_DROP_NONE;
	job->state = JOB_IDLE;
	reason = check_datagram(buf, len, src, admission == ADMIT_VETTED, &type);
	if (reason != WGC_DROP_NONE)
		return drop(ep, job, reason);
	switch (type) {
	case MESSAGE_HANDSHAKE_INITIATION:
		reason = receive_initiation(ep, buf, src, now, admission, out, &job->peer);
		break;
	case MESSAGE_HANDSHAKE_RESPONSE:
		reason = receive_response(ep, buf, src, now, out, &job->peer);
		break;
	case MESSAGE_HANDSHAKE_COOKIE:
		reason = receive_cookie(ep, buf, now);
		break;
	default: /* MESSAGE_DATA: check_framing lets no other type through */
		return prepare_data(ep, now, buf, job);
	}
	if (reason != WGC_DROP_NONE)
		return drop(ep, job, reason);
	return WGC_VERDICT_DONE;
}

static enum wgc_drop_reason precheck(struct wgc_endpoint *ep, const uint8_t *buf, size_t len)
{
	enum wgc_drop_reason reason;
	uint32_t type = 0;

	reason = check_framing(buf, len, &type);
	/* A handshake-class type of the wrong length is refused here; a short datagram, an unknown
	 * type or a short data message are prepare's to refuse, as data is. */
	if (reason == WGC_DROP_BAD_LENGTH)
		return reason;
	if (reason != WGC_DROP_NONE)
		return WGC_DROP_NONE;
	/* A cookie reply has no mac1; it is opened only for a handshake of ours. */
	if (type != MESSAGE_HANDSHAKE_INITIATION && type != MESSAGE_HANDSHAKE_RESPONSE)
		return WGC_DROP_NONE;
	if (!ep->local.has_private_key)
		return WGC_DROP_NO_IDENTITY;
	return wgc_cookie_mac1_is_valid(&ep->cookie_checker, buf, len) ? WGC_DROP_NONE :
									 WGC_DROP_BAD_MAC1;
}

enum wgc_drop_reason wgc_receive_precheck(struct wgc_endpoint *ep, const uint8_t *buf, size_t len)
{
	enum wgc_drop_reason reason;

	wgc_endpoint_serial_enter(ep);
	reason = precheck(ep, buf, len);
	if (reason != WGC_DROP_NONE)
		wgc_endpoint_count(ep, reason);
	wgc_endpoint_serial_exit(ep);
	return reason;
}

/* prepare as a serial public entry point. */
static enum wgc_verdict prepare_serial(struct wgc_endpoint *ep, uint64_t now, uint8_t *buf,
				       size_t len, const struct wgc_addr *src,
				       enum admission admission, struct wgc_receive_job *job,
				       struct wgc_actions *out)
{
	enum wgc_verdict verdict;

	wgc_endpoint_serial_enter(ep);
	verdict = prepare(ep, now, buf, len, src, admission, job, out);
	wgc_endpoint_serial_exit(ep);
	return verdict;
}

enum wgc_verdict wgc_receive_prepare(struct wgc_endpoint *ep, uint64_t now, uint8_t *buf,
				     size_t len, const struct wgc_addr *src,
				     struct wgc_receive_job *job, struct wgc_actions *out)
{
	return prepare_serial(ep, now, buf, len, src, ADMIT_FROM_WIRE, job, out);
}

enum wgc_verdict wgc_receive_prepare_vetted(struct wgc_endpoint *ep, uint64_t now, uint8_t *buf,
					    size_t len, const struct wgc_addr *src,
					    struct wgc_receive_job *job, struct wgc_actions *out)
{
	return prepare_serial(ep, now, buf, len, src, ADMIT_VETTED, job, out);
}

/* wgc_initiation_identify without the serial check and the counting. */
static enum wgc_drop_reason identify(struct wgc_endpoint *ep, uint64_t now, const uint8_t *buf,
				     size_t len, const struct wgc_addr *src,
				     uint8_t public_key[static WGC_KEY_LEN], struct wgc_actions *out)
{
	struct wgc_noise_initiation init;
	enum wgc_drop_reason reason;
	uint32_t type = 0;

	reason = check_datagram(buf, len, src, true, &type);
	if (reason != WGC_DROP_NONE)
		return reason;
	reason = read_initiator(ep, buf, src, now, ADMIT_FROM_WIRE, out, &init);
	/* The initiator's static key is public; only the chaining key and hash of init are not. */
	if (reason == WGC_DROP_NONE)
		memcpy(public_key, init.remote_static, WGC_KEY_LEN);
	wgc_memzero(&init, sizeof(init));
	return reason;
}

enum wgc_drop_reason wgc_initiation_identify(struct wgc_endpoint *ep, uint64_t now,
					     const uint8_t *buf, size_t len,
					     const struct wgc_addr *src,
					     uint8_t public_key[WGC_KEY_LEN], struct wgc_actions *out)
{
	enum wgc_drop_reason reason;

	memset(public_key, 0, WGC_KEY_LEN);
	wgc_endpoint_serial_enter(ep);
	reason = identify(ep, now, buf, len, src, public_key, out);
	wgc_endpoint_count(ep, reason); /* counts nothing for WGC_DROP_NONE */
	wgc_endpoint_serial_exit(ep);
	return reason;
}

void wgc_receive_open(struct wgc_receive_job *job)
{
	uint8_t *payload = job->buf + DATA_OFF_PAYLOAD;

	/* Only a CRYPTO verdict gives the job a keypair; a second open would fail the tag anyway. */
	WGC_ASSERT(job->state == JOB_PREPARED);
	job->is_authentic = wgc_aead_open(payload, payload, job->len - DATA_HEADER_LEN, NULL, 0,
					  job->counter, job->keypair->recv_key);
	job->plain = payload;
	job->state = JOB_OPENED;
}

enum wgc_status wgc_receive_open_into(struct wgc_receive_job *job, uint8_t *dst, size_t dst_size)
{
	const uint8_t *payload = job->buf + DATA_OFF_PAYLOAD;

	WGC_ASSERT(job->state == JOB_PREPARED);
	if (!dst)
		return WGC_ERR_INVALID;
	/* A short dst leaves the job as it was: the caller may still open it in place. */
	if (dst_size < job->len - DATA_MIN_LEN)
		return WGC_ERR_NO_SPACE;
	WGC_ASSERT((uintptr_t)(dst + dst_size) <= (uintptr_t)job->buf ||
		   (uintptr_t)dst >= (uintptr_t)(job->buf + job->len));
	job->is_authentic = wgc_aead_open(dst, payload, job->len - DATA_HEADER_LEN, NULL, 0,
					  job->counter, job->keypair->recv_key);
	job->plain = dst;
	job->state = JOB_OPENED;
	return WGC_OK;
}

void wgc_receive_abandon(struct wgc_receive_job *job)
{
	if (job->state != JOB_PREPARED && job->state != JOB_OPENED)
		return;
	wgc_keypair_unref(job->keypair);
	job->keypair = NULL;
	job->state = JOB_FINISHED;
}

/* The inner packet's length and source address, or false if it is not a sane IPv4/IPv6 packet. */
static bool parse_inner(const uint8_t *packet, size_t len, size_t *inner_len, uint8_t *family,
			const uint8_t **source)
{
	size_t claimed;

	if (len >= WGC_IPV4_HEADER_MIN_LEN && wgc_ip_version(packet) == WGC_IP_VERSION_4) {
		claimed = wgc_load_be16(packet + WGC_IPV4_OFF_TOTAL_LEN);
		*family = WGC_AF_INET;
		*source = packet + WGC_IPV4_OFF_SRC;
		if (claimed < WGC_IPV4_HEADER_MIN_LEN)
			return false;
	} else if (len >= WGC_IPV6_HEADER_LEN && wgc_ip_version(packet) == WGC_IP_VERSION_6) {
		claimed = WGC_IPV6_HEADER_LEN +
			  (size_t)wgc_load_be16(packet + WGC_IPV6_OFF_PAYLOAD_LEN);
		*family = WGC_AF_INET6;
		*source = packet + WGC_IPV6_OFF_SRC;
	} else {
		return false;
	}
	if (claimed > len)
		return false;
	*inner_len = claimed;
	return true;
}

/* Cryptokey routing on receive (whitepaper 2): the inner source must route back to the sender.
 * The answer for the peer's last source is remembered until the table changes. */
static bool source_is_allowed(struct wgc_endpoint *ep, struct wgc_peer *peer, uint8_t family,
			      const uint8_t *source)
{
	size_t len = family == WGC_AF_INET6 ? WGC_IPV6_ADDR_LEN : WGC_IPV4_ADDR_LEN;
	bool same;

	/* Fixed-size compares the compiler inlines; the address is not secret. */
	if (family == WGC_AF_INET6)
		same = memcmp(peer->verified_source, source, WGC_IPV6_ADDR_LEN) == 0;
	else
		same = memcmp(peer->verified_source, source, WGC_IPV4_ADDR_LEN) == 0;
	if (same && peer->verified_family == family &&
	    peer->verified_generation == ep->allowedips_generation)
		return true;
	if (wgc_allowedips_lookup(ep, family, source) != peer)
		return false;
	memcpy(peer->verified_source, source, len);
	peer->verified_family = family;
	peer->verified_generation = ep->allowedips_generation;
	return true;
}

/* Whitepaper 6.2: an initiator whose session nears REJECT_AFTER_TIME rekeys from the receive side
 * too, once, in case it has nothing to send. */
static void keep_key_fresh_receiving(struct wgc_endpoint *ep, struct wgc_peer *peer, uint64_t now,
				     struct wgc_actions *out)
{
	const struct wgc_keypair *current = peer->keypairs.current;

	if (current && current->is_initiator && !peer->timers.sent_last_minute_handshake &&
	    now - current->birthdate_ns > REKEY_ON_RECEIVE_AFTER) {
		peer->timers.sent_last_minute_handshake = true;
		wgc_endpoint_send_initiation(ep, peer, now, false, out);
	}
}

static enum wgc_verdict finish_commit(struct wgc_endpoint *ep, struct wgc_receive_job *job,
				      enum wgc_drop_reason reason)
{
	wgc_keypair_unref(job->keypair);
	job->keypair = NULL;
	job->state = JOB_FINISHED;
	if (reason == WGC_DROP_NONE)
		return WGC_VERDICT_DONE;
	return drop(ep, job, reason);
}

static enum wgc_verdict commit(struct wgc_endpoint *ep, uint64_t now, struct wgc_receive_job *job,
			       struct wgc_actions *out)
{
	struct wgc_keypair *keypair = job->keypair;
	struct wgc_peer *peer = keypair->peer;
	uint8_t *packet = job->plain; /* in place, or where wgc_receive_open_into put it */
	size_t plain_len = job->len - DATA_MIN_LEN;
	size_t inner_len;
	const uint8_t *source;
	uint8_t family;

	if (!job->is_authentic)
		return finish_commit(ep, job, WGC_DROP_DECRYPT_FAILED);
	if (!peer)
		return finish_commit(ep, job, WGC_DROP_PEER_GONE);
	if (!wgc_replay_update(&keypair->replay, job->counter))
		return finish_commit(ep, job, WGC_DROP_REPLAYED);

	/* Authenticated and fresh: from here on the packet counts as proof of life. */
	if (wgc_keypairs_confirm(&peer->keypairs, keypair, &ep->indexes)) {
		wgc_endpoint_handshake_complete(ep, peer, now);
		if (!wgc_actions_push(out, WGC_ACTION_FLUSH, peer, NULL, 0, NULL))
			wgc_endpoint_count(ep, WGC_DROP_NO_MEMORY);
	}
	keep_key_fresh_receiving(ep, peer, now, out);
	peer->endpoint = job->src;
	job->peer = peer;
	peer->rx_bytes += job->len;
	wgc_timers_on_authenticated_traversal(&ep->timers, &peer->timers, now,
					      peer->persistent_keepalive_s);
	wgc_timers_on_authenticated_received(&peer->timers);
	if (plain_len == 0)
		return finish_commit(ep, job, WGC_DROP_NONE);
	wgc_timers_on_data_received(&ep->timers, &peer->timers, now);

	if (!parse_inner(packet, plain_len, &inner_len, &family, &source))
		return finish_commit(ep, job, WGC_DROP_BAD_PACKET);
	if (!source_is_allowed(ep, peer, family, source))
		return finish_commit(ep, job, WGC_DROP_SOURCE_NOT_ALLOWED);
	if (!wgc_actions_push(out, WGC_ACTION_DELIVER, peer, packet, inner_len, NULL))
		return finish_commit(ep, job, WGC_DROP_NO_MEMORY);
	return finish_commit(ep, job, WGC_DROP_NONE);
}

enum wgc_verdict wgc_receive_commit(struct wgc_endpoint *ep, uint64_t now,
				    struct wgc_receive_job *job, struct wgc_actions *out)
{
	enum wgc_verdict verdict;

	wgc_endpoint_serial_enter(ep);
	/* Prepared with CRYPTO and opened, and not committed or abandoned yet: a second commit
	 * would drop a reference it does not hold. */
	WGC_ASSERT(job->state == JOB_OPENED);
	verdict = commit(ep, now, job, out);
	wgc_endpoint_serial_exit(ep);
	return verdict;
}

enum wgc_verdict wgc_receive(struct wgc_endpoint *ep, uint64_t now, uint8_t *buf, size_t len,
			     const struct wgc_addr *src, struct wgc_actions *out)
{
	struct wgc_receive_job job;
	enum wgc_verdict verdict;

	wgc_endpoint_serial_enter(ep);
	verdict = prepare(ep, now, buf, len, src, ADMIT_FROM_WIRE, &job, out);
	if (verdict == WGC_VERDICT_CRYPTO) {
		wgc_receive_open(&job);
		verdict = commit(ep, now, &job, out);
	}
	wgc_endpoint_serial_exit(ep);
	return verdict;
}
