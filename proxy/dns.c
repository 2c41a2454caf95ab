/* SPDX-License-Identifier: MIT */
/*
 * DNS query building and response reading. Every read is bounds-checked against the message;
 * compressed names are followed for at most a few hops, so a hostile response cannot loop.
 */
#include "proxy/dns.h"

#include <string.h>
#include <strings.h>

enum {
	HEADER_LEN = 12,
	NAME_MAX_LEN = 255,
	POINTER_HOPS_MAX = 16,
	RCODE_MASK = 0x0f,
};

static uint16_t load16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void store16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Encodes name as labels into out (at least NAME_MAX_LEN + 1 bytes); returns the length or 0. */
static size_t encode_name(uint8_t *out, const char *name)
{
	size_t len = strlen(name);
	size_t n = 0;
	const char *p = name;

	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len == 0 || len > 253)
		return 0;
	while (p < name + len) {
		const char *dot = memchr(p, '.', (size_t)(name + len - p));
		size_t label = dot ? (size_t)(dot - p) : (size_t)(name + len - p);

		if (label == 0 || label > 63)
			return 0;
		out[n++] = (uint8_t)label;
		memcpy(out + n, p, label);
		n += label;
		p += label + 1;
	}
	out[n++] = 0;
	return n;
}

size_t dns_build_query(uint8_t *out, size_t out_size, uint16_t id, const char *name,
		       uint16_t qtype)
{
	uint8_t qname[NAME_MAX_LEN + 1];
	size_t qlen = encode_name(qname, name);

	if (qlen == 0 || out_size < HEADER_LEN + qlen + 4)
		return 0;
	memset(out, 0, HEADER_LEN);
	store16(out, id);
	out[2] = 0x01; /* RD: recursion desired */
	store16(out + 4, 1); /* QDCOUNT */
	memcpy(out + HEADER_LEN, qname, qlen);
	store16(out + HEADER_LEN + qlen, qtype);
	store16(out + HEADER_LEN + qlen + 2, DNS_CLASS_IN);
	return HEADER_LEN + qlen + 4;
}

/* Skips the (possibly compressed) name at *pos; false if it runs off the message. */
static bool skip_name(const uint8_t *msg, size_t len, size_t *pos)
{
	size_t p = *pos;

	for (;;) {
		if (p >= len)
			return false;
		if ((msg[p] & 0xc0) == 0xc0) {
			if (p + 2 > len)
				return false;
			*pos = p + 2; /* a pointer ends the name here */
			return true;
		}
		if (msg[p] & 0xc0)
			return false;
		if (msg[p] == 0) {
			*pos = p + 1;
			return true;
		}
		p += 1 + msg[p];
	}
}

/* Whether the name at pos (following pointers) equals the labels of want (encoded). */
static bool name_equals(const uint8_t *msg, size_t len, size_t pos, const uint8_t *want)
{
	size_t w = 0;
	int hops = 0;

	for (;;) {
		if (pos >= len)
			return false;
		if ((msg[pos] & 0xc0) == 0xc0) {
			if (pos + 2 > len || ++hops > POINTER_HOPS_MAX)
				return false;
			pos = (size_t)(load16(msg + pos) & 0x3fff);
			continue;
		}
		if (msg[pos] & 0xc0 || msg[pos] != want[w])
			return false;
		if (msg[pos] == 0)
			return true;
		if (pos + 1 + msg[pos] > len ||
		    strncasecmp((const char *)msg + pos + 1, (const char *)want + w + 1, msg[pos]))
			return false;
		w += 1 + want[w];
		pos += 1 + msg[pos];
	}
}

enum dns_result dns_parse_response(const uint8_t *msg, size_t len, uint16_t id,
				   const char *name, uint16_t qtype, uint8_t addr[16])
{
	uint8_t qname[NAME_MAX_LEN + 1];
	size_t qlen = encode_name(qname, name);
	size_t pos = HEADER_LEN;
	uint16_t qd;
	uint16_t an;
	size_t want_len = qtype == DNS_TYPE_A ? 4 : 16;

	if (qlen == 0 || len < HEADER_LEN || load16(msg) != id || !(msg[2] & 0x80) ||
	    (msg[2] & 0x78) != 0)
		return DNS_BAD;
	qd = load16(msg + 4);
	an = load16(msg + 6);
	if (qd != 1)
		return DNS_BAD;
	/* the question must be ours, or this is someone else's answer */
	if (!name_equals(msg, len, pos, qname) || !skip_name(msg, len, &pos) || pos + 4 > len ||
	    load16(msg + pos) != qtype || load16(msg + pos + 2) != DNS_CLASS_IN)
		return DNS_BAD;
	pos += 4;
	if ((msg[3] & RCODE_MASK) != 0)
		return DNS_NO_ANSWER;
	for (uint16_t i = 0; i < an; i++) {
		uint16_t type;
		uint16_t klass;
		uint16_t rdlen;

		if (!skip_name(msg, len, &pos) || pos + 10 > len)
			return DNS_BAD;
		type = load16(msg + pos);
		klass = load16(msg + pos + 2);
		rdlen = load16(msg + pos + 8);
		pos += 10;
		if (pos + rdlen > len)
			return DNS_BAD;
		if (type == qtype && klass == DNS_CLASS_IN && rdlen == want_len) {
			memcpy(addr, msg + pos, want_len);
			return DNS_ANSWER;
		}
		pos += rdlen;
	}
	return DNS_NO_ANSWER;
}
