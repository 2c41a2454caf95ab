/* SPDX-License-Identifier: MIT */
/*
 * Verbose logging of control messages (see trace.h).
 */
#include "daemon/trace.h"

#include <sodium.h>
#include <stdio.h>
#include <time.h>

#include "base/bytes.h"
#include "daemon/addr.h"
#include "daemon/log.h"

/*
 * Lines about received messages are caused by whoever sends us datagrams, authenticated or not,
 * so they pass a token bucket: RECEIVED_BURST lines at once, RECEIVED_PER_S a second after that.
 * What the bucket holds back is counted and reported with the next line that passes. One bucket
 * per thread: each lane (device.h) logs at most that much.
 */
enum { RECEIVED_PER_S = 10, RECEIVED_BURST = 20 };

static _Thread_local struct {
	uint64_t tokens_ns; /* bucket contents, as time: one line costs NSEC_PER_SEC / RECEIVED_PER_S */
	uint64_t last_ns;
	uint64_t suppressed;
	bool is_started;
} received_bucket;

static bool received_line_allowed(void)
{
	const uint64_t cost = WGC_NSEC_PER_SEC / RECEIVED_PER_S;
	const uint64_t cap = cost * RECEIVED_BURST;
	struct timespec ts;
	uint64_t now;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	now = (uint64_t)ts.tv_sec * WGC_NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
	if (!received_bucket.is_started) {
		received_bucket.is_started = true;
		received_bucket.tokens_ns = cap;
	} else {
		received_bucket.tokens_ns += now - received_bucket.last_ns;
		if (received_bucket.tokens_ns > cap)
			received_bucket.tokens_ns = cap;
	}
	received_bucket.last_ns = now;
	if (received_bucket.tokens_ns < cost) {
		received_bucket.suppressed++;
		return false;
	}
	received_bucket.tokens_ns -= cost;
	if (received_bucket.suppressed > 0) {
		log_verbose("(%llu lines about received messages suppressed: more than %d/s)",
			    (unsigned long long)received_bucket.suppressed, RECEIVED_PER_S);
		received_bucket.suppressed = 0;
	}
	return true;
}

void trace_peer_name(const struct wgc_peer *peer, char out[TRACE_PEER_NAME_MAX])
{
	uint8_t key[WGC_KEY_LEN];
	char b64[sodium_base64_ENCODED_LEN(WGC_KEY_LEN, sodium_base64_VARIANT_ORIGINAL)];

	if (!peer) {
		snprintf(out, TRACE_PEER_NAME_MAX, "?");
		return;
	}
	wgc_peer_get_public_key(peer, key);
	sodium_bin2base64(b64, sizeof(b64), key, WGC_KEY_LEN, sodium_base64_VARIANT_ORIGINAL);
	snprintf(out, TRACE_PEER_NAME_MAX, "%.4s…%.4s", b64, b64 + 39);
}

static const char *message_name(uint8_t type, size_t len)
{
	static const char *const names[] = { NULL, "handshake initiation", "handshake response",
					     "cookie reply", "keepalive packet" };

	if (len < 4 || type == 0 || type > 4 || (type == 4 && len != 32))
		return NULL;
	return names[type];
}

void trace_sent(const struct wgc_action *a)
{
	const char *name;
	char peer[TRACE_PEER_NAME_MAX];

	if (!log_is_verbose())
		return;
	name = message_name(a->len ? a->data[0] : 0, a->len);
	if (name) {
		trace_peer_name(a->peer, peer);
		log_verbose("peer(%s) - Sending %s", peer, name);
	}
}

void trace_received_reason(uint8_t type, size_t len, const struct wgc_addr *src,
			   enum wgc_drop_reason drop)
{
	const char *name = message_name(type, len);
	char ip[INET6_ADDRSTRLEN];

	if (!log_is_verbose() || !name || type == 4 || !received_line_allowed())
		return;
	addr_format_ip(src->family, src->ip, ip);
	if (drop == WGC_DROP_NONE)
		log_verbose("Received %s from %s:%u", name, ip, src->port);
	else
		log_verbose("Dropped %s from %s:%u: %s", name, ip, src->port,
			    wgc_drop_reason_str(drop));
}

void trace_received(uint8_t type, size_t len, const struct wgc_addr *src,
		    const struct wgc_receive_job *job)
{
	trace_received_reason(type, len, src, job->drop);
}

void trace_purged(const struct wgc_peer *peer)
{
	char name[TRACE_PEER_NAME_MAX];

	if (!log_is_verbose())
		return;
	trace_peer_name(peer, name);
	log_verbose("peer(%s) - Handshake gave up; dropping staged packets", name);
}
