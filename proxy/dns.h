/* SPDX-License-Identifier: MIT */
/*
 * proxy/dns: DNS messages (RFC 1035) for resolving names through the tunnel's DNS server: a
 * query for one name and type, and the first matching address of a response. Pure functions
 * over bytes; the lookups themselves (lwIP UDP, retries, timeouts) are proxy/resolver.c.
 */
#ifndef WGC_PROXY_DNS_H
#define WGC_PROXY_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	DNS_TYPE_A = 1,
	DNS_TYPE_AAAA = 28,
	DNS_CLASS_IN = 1,
	DNS_QUERY_MAX = 12 + 255 + 4, /* header, the longest name, type and class */
};

enum dns_result {
	DNS_ANSWER,    /* an address of the asked type; addr holds 4 or 16 bytes */
	DNS_NO_ANSWER, /* a valid answer without one (NXDOMAIN, NODATA, SERVFAIL, ...) */
	DNS_BAD,       /* malformed, or not the answer to our query (ignore it) */
};

/* Writes a recursive query for name (dotted, an optional final dot) and qtype to out; returns
 * its length, or 0 if the name is not a valid DNS name or out is too small. */
size_t dns_build_query(uint8_t *out, size_t out_size, uint16_t id, const char *name,
		       uint16_t qtype);

/* Reads a response to the query (id, name, qtype) and finds the first answer record of qtype
 * and class IN (after any CNAMEs). addr receives 4 (A) or 16 (AAAA) bytes. */
enum dns_result dns_parse_response(const uint8_t *msg, size_t len, uint16_t id,
				   const char *name, uint16_t qtype, uint8_t addr[16]);

#endif
