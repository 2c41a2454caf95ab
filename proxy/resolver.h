/* SPDX-License-Identifier: MIT */
/*
 * proxy/resolver: names resolved through the tunnel's DNS server ([Interface] DNS), over an lwIP
 * UDP socket, so lookups travel inside the tunnel like the connections they serve. Asynchronous:
 * a lookup completes through its callback, from lwIP's input or from resolver_sweep. A fixed
 * table bounds the lookups in flight; each is retried once and gives up after RESOLVER_TIMEOUT_S.
 */
#ifndef WGC_PROXY_RESOLVER_H
#define WGC_PROXY_RESOLVER_H

#include <stdbool.h>
#include <stdint.h>

#include "lwip/ip_addr.h"

struct proxy;
struct resolver_query;

enum {
	RESOLVER_QUERIES_MAX = 256,
	RESOLVER_TIMEOUT_S = 5,
	RESOLVER_RETRY_MS = 1500,
};

/* ok false: no address (or timeout); ip then is NULL. The query is gone when this runs. */
typedef void (*resolver_done_fn)(void *arg, bool ok, const ip_addr_t *ip);

/* Opens the lwIP UDP socket; false if lwIP has no memory. Only with a DNS server configured. */
bool resolver_start(struct proxy *px);
void resolver_stop(struct proxy *px);
/* Starts a lookup of name (A when the tunnel has IPv4, then AAAA when it has IPv6). Returns the
 * query (for resolver_cancel) or NULL at once when the table is full or the name is invalid;
 * done is never called synchronously. */
struct resolver_query *resolver_lookup(struct proxy *px, const char *name, resolver_done_fn done,
				       void *arg);
/* Forgets a query; its callback will not run. */
void resolver_cancel(struct resolver_query *q);
/* Retries and expires queries; call about every RESOLVER_RETRY_MS / 3 or more often. */
void resolver_sweep(struct proxy *px, uint64_t now);

#endif
