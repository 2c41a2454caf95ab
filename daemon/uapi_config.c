/* SPDX-License-Identifier: MIT */
/*
 * The UAPI protocol against the device: set requests and get replies as wireguard-go speaks them
 * (https://www.wireguard.com/xplatform/). Unlike wireguard-go, which applies each line as it reads
 * it, a set request goes through three steps so a bad request changes nothing:
 *   1. parse every line into an op list (uapi_parse.c: syntax, keys, numeric addresses);
 *   2. validate: peer and allowed-IP capacity, then the one step that touches the OS and can fail,
 *      binding new UDP sockets for a new port or setting a new fwmark;
 *   3. apply the ops in request order with calls that cannot fail any more.
 * Keys never reach the log.
 */
#include "daemon/uapi.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/bytes.h"
#include "daemon/addr.h"
#include "daemon/device.h"
#include "daemon/log.h"
#include "daemon/udp.h"

/* ---- validation: capacity ---- */

/* The request's distinct public keys, with what the capacity estimate already counted. */
struct key_slot {
	const uint8_t *key;
	bool has_routes_subtracted;
};

struct key_set {
	struct key_slot *slots;
	size_t mask;
};

static struct key_slot *key_set_find(struct key_set *set, const uint8_t *key, bool *is_new)
{
	size_t i = wgc_load_le32(key) & set->mask;

	while (set->slots[i].key && memcmp(set->slots[i].key, key, WGC_KEY_LEN) != 0)
		i = (i + 1) & set->mask;
	*is_new = !set->slots[i].key;
	set->slots[i].key = key;
	return &set->slots[i];
}

static uint64_t count_routes(const struct device *dev)
{
	const struct wgc_peer *peer = NULL;
	uint64_t routes = 0;

	while ((peer = device_peer_next(dev, peer)))
		routes += wgc_peer_get_allowedips(peer, NULL, 0);
	return routes;
}

/*
 * An upper bound of the peers and routes the request leaves behind, so applying it can never run
 * out of room half way. Peers are never subtracted (a removed and re-added key counts once);
 * a peer's old routes are subtracted once, when the request replaces them or removes the peer.
 */
static int check_capacity(const struct device *dev, const struct uapi_request *req)
{
	const struct device_limits *limits = device_get_limits(dev);
	bool replace_peers = false;
	uint64_t peers = device_peer_count(dev);
	uint64_t routes = count_routes(dev);
	struct key_set set = { 0 };
	struct key_slot *slot = NULL;
	const struct wgc_peer *existing = NULL;
	size_t size;
	size_t i;
	bool is_new;
	int ret = 0;

	for (i = 0; i < req->count; i++)
		if (req->ops[i].kind == UAPI_OP_REPLACE_PEERS)
			replace_peers = true;
	if (replace_peers)
		peers = routes = 0;
	for (size = 4; size < 2 * (req->count + 1); size *= 2)
		;
	set.slots = calloc(size, sizeof(*set.slots));
	if (!set.slots)
		return -ENOMEM;
	set.mask = size - 1;
	for (i = 0; i < req->count; i++) {
		const struct uapi_op *op = &req->ops[i];

		switch (op->kind) {
		case UAPI_OP_PEER:
			slot = key_set_find(&set, op->u.key, &is_new);
			existing = replace_peers ? NULL : device_peer_lookup(dev, op->u.key);
			if (is_new && !existing)
				peers++;
			break;
		case UAPI_OP_REMOVE:
		case UAPI_OP_REPLACE_ALLOWED_IPS:
			if (slot && existing && !slot->has_routes_subtracted) {
				routes -= wgc_peer_get_allowedips(existing, NULL, 0);
				slot->has_routes_subtracted = true;
			}
			break;
		case UAPI_OP_ALLOWED_IP_ADD:
			routes++;
			break;
		default:
			break;
		}
	}
	free(set.slots);
	if (peers > limits->max_peers || routes > limits->max_allowed_ips) {
		log_error("UAPI set: would need %llu peers and %llu allowed IPs, limits are %u and %u",
			  (unsigned long long)peers, (unsigned long long)routes, limits->max_peers,
			  limits->max_allowed_ips);
		ret = -ENOSPC;
	}
	return ret;
}

/* ---- validation: sockets ---- */

struct socket_plan {
	bool has_fresh;    /* fresh holds bound sockets for a new port (with the new fwmark) */
	struct udp fresh[DEVICE_LANES_MAX];
	bool has_fwmark;   /* a new fwmark for the sockets in use (no new port) */
	uint32_t fwmark;
};

/*
 * The last check, so it runs after every other one: a new listen port binds fresh sockets, which
 * apply swaps in; a new fwmark alone is only noted, for apply to set. Nothing in use changes.
 */
static int prepare_sockets(const struct device *dev, const struct uapi_request *req,
			   struct socket_plan *plan)
{
	const struct udp *current = device_udp(dev);
	bool has_port = false;
	uint32_t port = current->port;
	uint32_t fwmark = current->fwmark;
	size_t i;
	int ret;

	plan->has_fresh = false;
	plan->has_fwmark = false;
	for (i = 0; i < req->count; i++) {
		if (req->ops[i].kind == UAPI_OP_LISTEN_PORT) {
			has_port = true;
			port = req->ops[i].u.number;
		} else if (req->ops[i].kind == UAPI_OP_FWMARK) {
			fwmark = req->ops[i].u.number;
		}
	}
	if (has_port && port != current->port) {
		ret = device_open_udp(dev, (uint16_t)port, fwmark, plan->fresh);
		if (ret < 0)
			return ret == -EADDRINUSE || ret == -EACCES ? ret : -EADDRINUSE;
		plan->has_fresh = true;
		return 0;
	}
	plan->has_fwmark = fwmark != current->fwmark;
	plan->fwmark = fwmark;
	return 0;
}

/* ---- apply ---- */

/* The peer the following ops change; peer NULL means they are ignored (a removed peer, our own
 * key, an update_only peer that did not exist). */
struct peer_cursor {
	struct wgc_peer *peer;
	bool is_created;
	bool has_keepalive;
	uint16_t keepalive_s;
};

/* The end of a peer's section, as wireguard-go's handlePostConfig: keepalive, staged packets. */
static void finish_peer(struct device *dev, struct peer_cursor *cur)
{
	if (cur->peer && cur->has_keepalive)
		device_peer_set_keepalive(dev, cur->peer, cur->keepalive_s);
	if (cur->peer)
		device_peer_configured(dev, cur->peer);
	memset(cur, 0, sizeof(*cur));
}

static void open_peer(struct device *dev, const uint8_t key[WGC_KEY_LEN], struct peer_cursor *cur)
{
	uint8_t own[WGC_KEY_LEN];
	int ret;

	/* wireguard-go ignores a peer that is ourselves (and an all-zero key makes no peer). */
	if (sodium_is_zero(key, WGC_KEY_LEN) ||
	    (wgc_endpoint_get_public_key(device_endpoint(dev), own) &&
	     memcmp(own, key, WGC_KEY_LEN) == 0))
		return;
	ret = device_peer_add(dev, key, &cur->peer, &cur->is_created);
	if (ret < 0) {
		log_error("UAPI set: adding a peer failed after validation: %s", strerror(-ret));
		cur->peer = NULL;
	}
}

static void apply_peer_op(struct device *dev, const struct uapi_op *op, struct peer_cursor *cur)
{
	int ret = 0;

	switch (op->kind) {
	case UAPI_OP_UPDATE_ONLY:
		/* A peer that update_only did not find was never meant to exist. */
		if (cur->is_created) {
			device_peer_remove(dev, cur->peer);
			memset(cur, 0, sizeof(*cur));
		}
		break;
	case UAPI_OP_REMOVE:
		device_peer_remove(dev, cur->peer);
		memset(cur, 0, sizeof(*cur));
		break;
	case UAPI_OP_PRESHARED_KEY:
		device_peer_set_preshared_key(dev, cur->peer, op->u.key);
		break;
	case UAPI_OP_ENDPOINT:
		ret = device_peer_set_endpoint(dev, cur->peer, &op->u.addr);
		break;
	case UAPI_OP_KEEPALIVE:
		cur->has_keepalive = true;
		cur->keepalive_s = (uint16_t)op->u.number;
		break;
	case UAPI_OP_REPLACE_ALLOWED_IPS:
		device_peer_clear_allowedips(dev, cur->peer);
		break;
	case UAPI_OP_ALLOWED_IP_ADD:
		ret = device_peer_add_allowedip(dev, cur->peer, &op->u.prefix);
		break;
	case UAPI_OP_ALLOWED_IP_REMOVE:
		ret = device_peer_remove_allowedip(dev, cur->peer, &op->u.prefix);
		break;
	default:
		break;
	}
	if (ret < 0)
		log_error("UAPI set: a validated change failed: %s", strerror(-ret));
}

/* Applies a validated request; 0, or -errno when the fwmark could not be set (nothing changed). */
static int apply(struct device *dev, const struct uapi_request *req, struct socket_plan *plan)
{
	struct peer_cursor cur = { 0 };
	size_t i;
	int ret;

	if (plan->has_fwmark) {
		ret = device_set_fwmark(dev, plan->fwmark);
		if (ret < 0)
			return ret;
	}
	for (i = 0; i < req->count; i++) {
		const struct uapi_op *op = &req->ops[i];

		switch (op->kind) {
		case UAPI_OP_PRIVATE_KEY:
			device_set_private_key(dev, op->u.key);
			break;
		case UAPI_OP_LISTEN_PORT:
		case UAPI_OP_FWMARK:
		case UAPI_OP_PROTOCOL_VERSION:
			break; /* sockets were prepared; version 1 is the only one */
		case UAPI_OP_REPLACE_PEERS:
			device_remove_all_peers(dev);
			break;
		case UAPI_OP_PEER:
			finish_peer(dev, &cur);
			open_peer(dev, op->u.key, &cur);
			break;
		default:
			if (cur.peer)
				apply_peer_op(dev, op, &cur);
			break;
		}
	}
	finish_peer(dev, &cur);
	if (plan->has_fresh)
		device_replace_udp(dev, plan->fresh);
	return 0;
}

int uapi_set(struct device *dev, const char *body, size_t len)
{
	struct uapi_request req;
	struct socket_plan plan;
	int ret;

	plan.has_fresh = false;
	ret = uapi_parse(body, len, &req);
	if (ret < 0)
		return ret;
	ret = check_capacity(dev, &req);
	if (ret == 0)
		ret = prepare_sockets(dev, &req, &plan);
	if (ret == 0)
		ret = apply(dev, &req, &plan);
	if (ret < 0 && plan.has_fresh)
		udp_close_lanes(plan.fresh, DEVICE_LANES_MAX);
	uapi_request_clear(&req);
	return ret;
}

/* ---- get ---- */

static bool format_endpoint(struct uapi_text *out, const struct wgc_addr *addr)
{
	char text[ADDR_TEXT_MAX];

	if (addr->family != WGC_AF_INET && addr->family != WGC_AF_INET6)
		return true;
	addr_format(addr, text);
	return uapi_text_printf(out, "endpoint=%s\n", text);
}

static bool format_prefix(struct uapi_text *out, const struct wgc_prefix *prefix)
{
	char ip[INET6_ADDRSTRLEN];

	if (prefix->family != WGC_AF_INET && prefix->family != WGC_AF_INET6)
		return true;
	addr_format_ip(prefix->family, prefix->ip, ip);
	return uapi_text_printf(out, "allowed_ip=%s/%u\n", ip, prefix->cidr);
}

static bool format_key(struct uapi_text *out, const char *name, const uint8_t key[WGC_KEY_LEN])
{
	char hex[2 * WGC_KEY_LEN + 1];
	bool ok;

	uapi_key_to_hex(hex, key);
	ok = uapi_text_printf(out, "%s=%s\n", name, hex);
	sodium_memzero(hex, sizeof(hex));
	return ok;
}

static bool format_peer(struct uapi_text *out, const struct wgc_peer *peer,
			struct wgc_prefix **prefixes, size_t *prefixes_cap)
{
	uint8_t key[WGC_KEY_LEN];
	struct wgc_peer_stats st;
	struct wgc_addr addr;
	size_t count;
	size_t i;
	bool ok;

	wgc_peer_get_public_key(peer, key);
	ok = format_key(out, "public_key", key);
	(void)wgc_peer_get_preshared_key(peer, key); /* zeros when none, as wireguard-go prints */
	ok = ok && format_key(out, "preshared_key", key);
	sodium_memzero(key, sizeof(key));
	ok = ok && uapi_text_printf(out, "protocol_version=1\n");
	if (ok && wgc_peer_get_endpoint(peer, &addr))
		ok = format_endpoint(out, &addr);
	wgc_peer_get_stats(peer, &st);
	if (!st.has_handshake)
		st.last_handshake_wall_ns = 0;
	ok = ok && uapi_text_printf(out,
				    "last_handshake_time_sec=%llu\nlast_handshake_time_nsec=%llu\n"
				    "tx_bytes=%llu\nrx_bytes=%llu\npersistent_keepalive_interval=%u\n",
				    (unsigned long long)(st.last_handshake_wall_ns / WGC_NSEC_PER_SEC),
				    (unsigned long long)(st.last_handshake_wall_ns % WGC_NSEC_PER_SEC),
				    (unsigned long long)st.tx_bytes,
				    (unsigned long long)st.rx_bytes,
				    wgc_peer_get_persistent_keepalive(peer));
	count = wgc_peer_get_allowedips(peer, NULL, 0);
	if (ok && count > *prefixes_cap) {
		free(*prefixes);
		*prefixes = calloc(count, sizeof(**prefixes));
		*prefixes_cap = *prefixes ? count : 0;
		ok = *prefixes != NULL;
	}
	if (ok)
		count = wgc_peer_get_allowedips(peer, *prefixes, count);
	for (i = 0; ok && i < count; i++)
		ok = format_prefix(out, &(*prefixes)[i]);
	return ok;
}

/* Our extra counters: device-level keys the wg tool and wgctrl ignore. */
static bool format_counters(struct uapi_text *out, const struct device *dev)
{
	uint64_t drops[WGC_DROP__COUNT];
	struct datapath_stats st;
	bool ok = true;
	int r;

	device_get_drops(dev, drops);
	for (r = 1; ok && r < WGC_DROP__COUNT; r++)
		if (drops[r])
			ok = uapi_text_printf(out, "wgc_drop_%s=%llu\n",
					      wgc_drop_reason_str((enum wgc_drop_reason)r),
					      (unsigned long long)drops[r]);
	device_get_stats(dev, &st);
	{
		const struct {
			const char *name;
			uint64_t value;
		} daemon_counters[] = {
			{ "udp_send_errors", st.udp_send_errors },
			{ "tun_write_errors", st.tun_write_errors },
			{ "tun_bad_packets", st.tun_bad_packets },
			{ "staged_dropped", st.staged_dropped },
			{ "crypto_parallel_batches", st.crypto_parallel_batches },
			{ "crypto_worker_joins", st.crypto_worker_joins },
			{ "icmp_sent", st.icmp_sent },
			{ "icmp_rate_limited", st.icmp_rate_limited },
			{ "sources_forgotten", st.sources_forgotten },
			{ "handshakes_dropped", st.handshakes_dropped },
			{ "handshakes_queued_max", st.handshakes_queued_max },
			{ "lane_handoffs", st.lane_handoffs },
			{ "lane_handoffs_dropped", st.lane_handoffs_dropped },
			{ "aqm_marked", st.aqm_marked },
			{ "aqm_dropped", st.aqm_dropped },
		};
		size_t i;

		for (i = 0; ok && i < sizeof(daemon_counters) / sizeof(daemon_counters[0]); i++)
			if (daemon_counters[i].value)
				ok = uapi_text_printf(out, "wgc_%s=%llu\n", daemon_counters[i].name,
						      (unsigned long long)daemon_counters[i].value);
	}
	return ok;
}

int uapi_get(const struct device *dev, struct uapi_text *out)
{
	const struct wgc_endpoint *ep = device_endpoint(dev);
	const struct udp *udp = device_udp(dev);
	const struct wgc_peer *peer = NULL;
	struct wgc_prefix *prefixes = NULL;
	size_t prefixes_cap = 0;
	uint8_t key[WGC_KEY_LEN];
	bool ok = true;

	if (wgc_endpoint_get_private_key(ep, key))
		ok = format_key(out, "private_key", key);
	sodium_memzero(key, sizeof(key));
	if (ok && udp->port)
		ok = uapi_text_printf(out, "listen_port=%u\n", udp->port);
	if (ok && udp->fwmark)
		ok = uapi_text_printf(out, "fwmark=%u\n", udp->fwmark);
	ok = ok && format_counters(out, dev);
	while (ok && (peer = device_peer_next(dev, peer)))
		ok = format_peer(out, peer, &prefixes, &prefixes_cap);
	free(prefixes);
	return ok ? 0 : -ENOMEM;
}
