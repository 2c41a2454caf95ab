/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the allowed-IPs trie (core/allowedips): numbered longest-prefix cases for both
 * families, default and host routes, moves between owners, removal rules, listing, argument checks
 * and pool exhaustion. A differential test replays random operations against a deliberately naive
 * list model (seed fixed, printed on failure, WGC_TEST_SEED overrides it) and also checks that the
 * trie uses exactly as many nodes as the unique minimal trie for its prefixes needs.
 */
#include "core/allowedips.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

enum { NO_OWNER = -1, OWNERS = 8 };

/* ---- fixtures ---- */

struct fixture {
	struct wgc_allowedips table;
	struct wgc_allowedips_owner owners[OWNERS];
	void *mem;
};

static struct fixture *fixture_new(uint32_t max_routes)
{
	struct fixture *f = calloc(1, sizeof(*f));
	size_t size = wgc_trie_mem_size(max_routes);

	assert_non_null(f);
	f->mem = calloc(1, size ? size : 1);
	assert_non_null(f->mem);
	wgc_trie_init(&f->table, f->mem, max_routes);
	return f;
}

static void fixture_free(struct fixture *f)
{
	free(f->mem);
	free(f);
}

static uint32_t nodes_used(const struct wgc_allowedips *t)
{
	return t->pool_size - t->free_count;
}

/* Parses text (IPv4 or IPv6) into ip; returns the family. */
static uint8_t parse(const char *text, uint8_t ip[16])
{
	uint8_t family = strchr(text, ':') ? WGC_AF_INET6 : WGC_AF_INET;

	memset(ip, 0, 16);
	assert_int_equal(inet_pton(family == WGC_AF_INET ? AF_INET : AF_INET6, text, ip), 1);
	return family;
}

static enum wgc_status insert(struct fixture *f, const char *text, uint8_t cidr, int owner)
{
	uint8_t ip[16];
	uint8_t family = parse(text, ip);

	return wgc_trie_insert(&f->table, family, ip, cidr, &f->owners[owner]);
}

static enum wgc_status remove_route(struct fixture *f, const char *text, uint8_t cidr, int owner)
{
	uint8_t ip[16];
	uint8_t family = parse(text, ip);

	return wgc_trie_remove(&f->table, family, ip, cidr, &f->owners[owner]);
}

/* Index of the owner routing text, or NO_OWNER. */
static int find(struct fixture *f, const char *text)
{
	uint8_t ip[16];
	uint8_t family = parse(text, ip);
	struct wgc_allowedips_owner *o = wgc_trie_find(&f->table, family, ip);

	return o ? (int)(o - f->owners) : NO_OWNER;
}

struct route_case {
	const char *ip;
	uint8_t cidr;
	int owner;
};

struct lookup_case {
	const char *ip;
	int owner;
};

static void insert_all(struct fixture *f, const struct route_case *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (insert(f, r[i].ip, r[i].cidr, r[i].owner) != WGC_OK)
			fail_msg("route %zu (%s/%u) not inserted", i, r[i].ip, r[i].cidr);
	}
}

static void check_lookups(struct fixture *f, const struct lookup_case *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int got = find(f, c[i].ip);

		if (got != c[i].owner)
			fail_msg("case %zu: %s -> owner %d, want %d", i, c[i].ip, got, c[i].owner);
	}
}

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- longest-prefix cases ---- */

static void test_lpm_v4(void **state)
{
	static const struct route_case routes[] = {
		{"10.0.0.0", 8, 0},     {"10.1.0.0", 16, 1},     {"10.1.2.0", 24, 2},
		{"10.1.2.3", 32, 3},    {"10.1.2.128", 25, 4},   {"10.128.0.0", 9, 4},
		{"192.168.0.0", 16, 0}, {"192.168.1.0", 24, 1},  {"172.16.0.0", 12, 2},
		{"128.0.0.0", 1, 5},    {"192.168.1.64", 26, 5}, {"192.168.1.64", 27, 6},
	};
	static const struct lookup_case cases[] = {
		/* 0 */ {"10.0.0.1", 0},      {"10.1.0.1", 1},      {"10.1.2.1", 2},
		/* 3 */ {"10.1.2.3", 3},      {"10.1.2.4", 2},      {"10.1.2.129", 4},
		/* 6 */ {"10.1.2.255", 4},    {"10.1.3.0", 1},      {"10.2.0.0", 0},
		/* 9 */ {"10.127.255.255", 0}, {"10.128.0.0", 4},   {"10.255.255.255", 4},
		/* 12 */ {"11.0.0.0", NO_OWNER}, {"9.255.255.255", NO_OWNER},
		/* 14 */ {"192.168.1.1", 1},  {"192.168.1.64", 6},  {"192.168.1.95", 6},
		/* 17 */ {"192.168.1.96", 5}, {"192.168.1.127", 5}, {"192.168.1.128", 1},
		/* 20 */ {"192.168.2.1", 0},  {"192.169.0.0", 5},   {"172.16.0.1", 2},
		/* 23 */ {"172.31.255.255", 2}, {"172.32.0.0", 5}, {"255.255.255.255", 5},
		/* 26 */ {"0.0.0.0", NO_OWNER}, {"127.0.0.1", NO_OWNER}, {"128.0.0.0", 5},
	};
	struct fixture *f = fixture_new(64);

	(void)state;
	insert_all(f, routes, ARRAY_LEN(routes));
	check_lookups(f, cases, ARRAY_LEN(cases));
	fixture_free(f);
}

static void test_lpm_v6(void **state)
{
	/* Lengths on both sides of the 64-bit word boundary and inside the second word. */
	static const struct route_case routes[] = {
		{"2001:db8::", 32, 0},          {"2001:db8:1::", 48, 1},
		{"2001:db8:1:2::", 64, 2},      {"2001:db8:1:2::1", 128, 3},
		{"2001:db8:1:2:8000::", 65, 4}, {"2001:db8:1:2::", 63, 5},
		{"2001:db8:1:3::", 64, 6},      {"2001:db8:1:2:0:1::", 96, 7},
		{"fe80::", 10, 4},              {"fd00::", 8, 5},
		{"2001:db8:1:2::", 127, 6},
	};
	static const struct lookup_case cases[] = {
		/* 0 */ {"2001:db8::1", 0},            {"2001:db8:ffff::", 0},
		/* 2 */ {"2001:db8:1::1", 1},          {"2001:db8:1:2::", 6},
		/* 4 */ {"2001:db8:1:2::1", 3},        {"2001:db8:1:2::3", 2},
		/* 6 */ {"2001:db8:1:2:8000::1", 4},   {"2001:db8:1:2:ffff::", 4},
		/* 8 */ {"2001:db8:1:2:7fff::", 2},    {"2001:db8:1:3::1", 6},
		/* 10 */ {"2001:db8:1:4::", 1},        {"2001:db8:1:2:0:1::5", 7},
		/* 12 */ {"2001:db8:1:2:0:2::", 2},    {"2001:db9::", NO_OWNER},
		/* 14 */ {"fe80::1", 4},               {"febf:ffff::", 4},
		/* 16 */ {"fec0::", NO_OWNER},         {"fdff::1", 5},
		/* 18 */ {"::", NO_OWNER},
		/* 19 */ {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NO_OWNER},
		/* 20 */ {"2001:db8:1:2::2", 2},
	};
	struct fixture *f = fixture_new(64);

	(void)state;
	insert_all(f, routes, ARRAY_LEN(routes));
	check_lookups(f, cases, ARRAY_LEN(cases));
	fixture_free(f);
}

static void test_default_routes(void **state)
{
	static const struct lookup_case cases[] = {
		/* 0 */ {"0.0.0.0", 0}, {"255.255.255.255", 0}, {"10.1.1.1", 2}, {"1.2.3.4", 0},
		/* 4 */ {"::", 1}, {"ffff::1", 1}, {"2001:db8::1", 3}, {"2001:db9::", 1},
	};
	struct fixture *f = fixture_new(16);

	(void)state;
	assert_int_equal(insert(f, "0.0.0.0", 0, 0), WGC_OK);
	assert_int_equal(find(f, "::1"), NO_OWNER); /* a v4 default route says nothing about v6 */
	assert_int_equal(insert(f, "::", 0, 1), WGC_OK);
	assert_int_equal(insert(f, "10.0.0.0", 8, 2), WGC_OK);
	assert_int_equal(insert(f, "2001:db8::", 32, 3), WGC_OK);
	check_lookups(f, cases, ARRAY_LEN(cases));

	/* Host bits of a /0 are all host bits. */
	assert_int_equal(remove_route(f, "1.2.3.4", 0, 0), WGC_OK);
	assert_int_equal(find(f, "1.2.3.4"), NO_OWNER);
	assert_int_equal(find(f, "10.1.1.1"), 2);
	assert_int_equal(remove_route(f, "ffff::", 0, 1), WGC_OK);
	assert_int_equal(find(f, "ffff::1"), NO_OWNER);
	assert_int_equal(find(f, "2001:db8::1"), 3);
	fixture_free(f);
}

static void test_host_routes(void **state)
{
	static const struct route_case routes[] = {
		{"0.0.0.0", 32, 0}, {"255.255.255.255", 32, 1}, {"10.0.0.1", 32, 2},
		{"10.0.0.2", 32, 3}, {"::", 128, 4},
		{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 128, 5},
		{"2001:db8::1", 128, 6}, {"2001:db8::2", 128, 7},
	};
	static const struct lookup_case cases[] = {
		/* 0 */ {"0.0.0.0", 0}, {"0.0.0.1", NO_OWNER}, {"255.255.255.255", 1},
		/* 3 */ {"255.255.255.254", NO_OWNER}, {"10.0.0.1", 2}, {"10.0.0.2", 3},
		/* 6 */ {"10.0.0.3", NO_OWNER}, {"10.0.0.0", NO_OWNER},
		/* 8 */ {"::", 4}, {"::1", NO_OWNER},
		/* 10 */ {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 5},
		/* 11 */ {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", NO_OWNER},
		/* 12 */ {"2001:db8::1", 6}, {"2001:db8::2", 7}, {"2001:db8::3", NO_OWNER},
		/* 15 */ {"2001:db8:0:0:8000::1", NO_OWNER},
	};
	struct fixture *f = fixture_new(16);

	(void)state;
	insert_all(f, routes, ARRAY_LEN(routes));
	check_lookups(f, cases, ARRAY_LEN(cases));
	fixture_free(f);
}

/* ---- ownership ---- */

static void test_move_between_owners(void **state)
{
	struct fixture *f = fixture_new(16);

	(void)state;
	assert_int_equal(insert(f, "10.0.0.0", 8, 0), WGC_OK);
	assert_int_equal(insert(f, "10.0.0.0", 8, 0), WGC_OK); /* again: no duplicate */
	assert_int_equal(f->owners[0].count, 1);
	assert_int_equal(insert(f, "10.9.9.9", 8, 1), WGC_OK); /* same prefix, other host bits */
	assert_int_equal(f->owners[0].count, 0);
	assert_null(f->owners[0].first);
	assert_int_equal(f->owners[1].count, 1);
	assert_int_equal(find(f, "10.1.2.3"), 1);
	assert_int_equal(nodes_used(&f->table), 1);
	assert_int_equal(remove_route(f, "10.0.0.0", 8, 0), WGC_ERR_NOT_FOUND);
	assert_int_equal(find(f, "10.1.2.3"), 1);
	assert_int_equal(remove_route(f, "10.0.0.0", 8, 1), WGC_OK);
	assert_int_equal(find(f, "10.1.2.3"), NO_OWNER);
	assert_int_equal(nodes_used(&f->table), 0);
	fixture_free(f);
}

static void test_remove_rules(void **state)
{
	struct fixture *f = fixture_new(16);
	uint8_t ip[16];

	(void)state;
	assert_int_equal(insert(f, "10.0.0.0", 24, 0), WGC_OK);
	assert_int_equal(insert(f, "10.0.1.0", 24, 0), WGC_OK);
	assert_int_equal(nodes_used(&f->table), 3); /* a branch node at 10.0.0.0/23 */
	/* The branch node's prefix is not a route, for any owner or none. */
	assert_int_equal(remove_route(f, "10.0.0.0", 23, 0), WGC_ERR_NOT_FOUND);
	parse("10.0.0.0", ip);
	assert_int_equal(wgc_trie_remove(&f->table, WGC_AF_INET, ip, 23, NULL),
			 WGC_ERR_NOT_FOUND);
	assert_int_equal(remove_route(f, "10.0.0.0", 24, 1), WGC_ERR_NOT_FOUND);
	assert_int_equal(remove_route(f, "10.0.2.0", 24, 0), WGC_ERR_NOT_FOUND);
	assert_int_equal(remove_route(f, "10.0.0.0", 25, 0), WGC_ERR_NOT_FOUND);
	assert_int_equal(remove_route(f, "::", 0, 0), WGC_ERR_NOT_FOUND);
	assert_int_equal(f->owners[0].count, 2);
	assert_int_equal(nodes_used(&f->table), 3);
	assert_int_equal(find(f, "10.0.1.7"), 0);

	/* Inserting the branch node's own prefix turns it into a route without a new node. */
	assert_int_equal(insert(f, "10.0.0.0", 23, 1), WGC_OK);
	assert_int_equal(nodes_used(&f->table), 3);
	assert_int_equal(remove_route(f, "10.0.0.0", 24, 0), WGC_OK);
	assert_int_equal(find(f, "10.0.0.7"), 1);
	assert_int_equal(remove_route(f, "10.0.1.0", 24, 0), WGC_OK);
	assert_int_equal(nodes_used(&f->table), 1);
	assert_int_equal(find(f, "10.0.1.7"), 1);
	fixture_free(f);
}

static void test_remove_owner(void **state)
{
	static const struct route_case routes[] = {
		{"10.0.0.0", 8, 0},  {"10.1.0.0", 16, 1}, {"10.1.2.0", 24, 0}, {"10.1.3.0", 24, 1},
		{"2001:db8::", 32, 0}, {"2001:db8:1::", 48, 1}, {"2001:db8:2::", 48, 0},
		{"0.0.0.0", 0, 0},   {"::1", 128, 0},
	};
	struct fixture *f = fixture_new(32);

	(void)state;
	insert_all(f, routes, ARRAY_LEN(routes));
	assert_int_equal(f->owners[0].count, 6);
	wgc_trie_remove_owner(&f->table, &f->owners[0]);
	assert_int_equal(f->owners[0].count, 0);
	assert_null(f->owners[0].first);
	assert_int_equal(f->owners[1].count, 3);
	assert_int_equal(find(f, "10.1.2.1"), 1);
	assert_int_equal(find(f, "10.1.3.1"), 1);
	assert_int_equal(find(f, "10.2.0.0"), NO_OWNER);
	assert_int_equal(find(f, "1.1.1.1"), NO_OWNER);
	assert_int_equal(find(f, "2001:db8:1::1"), 1);
	assert_int_equal(find(f, "2001:db8:2::1"), NO_OWNER);
	assert_int_equal(find(f, "::1"), NO_OWNER);
	/* Owner 1 is left with a nested pair of IPv4 routes and one IPv6 route: no branch node. */
	assert_int_equal(nodes_used(&f->table), 3);

	wgc_trie_remove_owner(&f->table, &f->owners[1]);
	wgc_trie_remove_owner(&f->table, &f->owners[2]); /* owns nothing: no-op */
	assert_null(f->table.root4);
	assert_null(f->table.root6);
	assert_int_equal(f->table.free_count, f->table.pool_size);
	fixture_free(f);
}

static void test_list(void **state)
{
	struct fixture *f = fixture_new(16);
	struct wgc_prefix out[8];
	uint8_t want[16];

	(void)state;
	assert_int_equal(insert(f, "10.1.2.3", 8, 0), WGC_OK);
	assert_int_equal(insert(f, "2001:db8:1:2:3:4:5:6", 65, 0), WGC_OK);
	assert_int_equal(insert(f, "192.168.1.1", 32, 0), WGC_OK);
	assert_int_equal(insert(f, "172.16.0.0", 12, 1), WGC_OK);
	assert_int_equal(insert(f, "10.0.0.0", 8, 0), WGC_OK); /* already there: keeps its place */

	memset(out, 0xa5, sizeof(out));
	assert_int_equal(wgc_trie_list(&f->owners[0], out, 8), 3);
	assert_int_equal(out[0].family, WGC_AF_INET);
	assert_int_equal(out[0].cidr, 8);
	parse("10.0.0.0", want); /* host bits come back zero, unused bytes too */
	assert_memory_equal(out[0].ip, want, 16);
	assert_int_equal(out[1].family, WGC_AF_INET6);
	assert_int_equal(out[1].cidr, 65);
	parse("2001:db8:1:2::", want);
	assert_memory_equal(out[1].ip, want, 16);
	assert_int_equal(out[2].cidr, 32);
	parse("192.168.1.1", want);
	assert_memory_equal(out[2].ip, want, 16);

	/* A short buffer gets the first routes; the return value is still the total. */
	memset(out, 0xa5, sizeof(out));
	assert_int_equal(wgc_trie_list(&f->owners[0], out, 1), 3);
	assert_int_equal(out[1].cidr, 0xa5);
	assert_int_equal(wgc_trie_list(&f->owners[0], NULL, 0), 3);
	assert_int_equal(wgc_trie_list(&f->owners[5], out, 8), 0);

	/* Moving a route appends it to its new owner's list. */
	assert_int_equal(insert(f, "10.0.0.0", 8, 1), WGC_OK);
	assert_int_equal(wgc_trie_list(&f->owners[1], out, 8), 2);
	assert_int_equal(out[0].cidr, 12);
	assert_int_equal(out[1].cidr, 8);
	assert_int_equal(wgc_trie_list(&f->owners[0], out, 8), 2);
	assert_int_equal(out[0].cidr, 65);
	assert_int_equal(out[1].cidr, 32);
	fixture_free(f);
}

/* ---- arguments ---- */

static void test_invalid(void **state)
{
	struct fixture *f = fixture_new(16);
	struct wgc_allowedips *t = &f->table;
	struct wgc_allowedips_owner *o0 = &f->owners[0];
	struct wgc_allowedips_owner *o1 = &f->owners[1];
	struct wgc_allowedips before;
	uint8_t ip[16] = {10};

	(void)state;
	assert_int_equal(insert(f, "10.0.0.0", 8, 0), WGC_OK);
	assert_int_equal(insert(f, "2001:db8::", 32, 0), WGC_OK);
	before = f->table;

	assert_int_equal(wgc_trie_insert(t, 0, ip, 8, o1), WGC_ERR_INVALID);
	assert_int_equal(wgc_trie_insert(t, 5, ip, 8, o1), WGC_ERR_INVALID);
	assert_int_equal(wgc_trie_insert(t, 2, ip, 8, o1), WGC_ERR_INVALID);
	assert_int_equal(wgc_trie_insert(t, WGC_AF_INET, ip, 33, o1), WGC_ERR_INVALID);
	assert_int_equal(wgc_trie_insert(t, WGC_AF_INET, ip, 255, o1), WGC_ERR_INVALID);
	assert_int_equal(wgc_trie_insert(t, WGC_AF_INET6, ip, 129, o1), WGC_ERR_INVALID);
	assert_int_equal(wgc_trie_insert(t, WGC_AF_INET, NULL, 8, o1), WGC_ERR_INVALID);
	assert_int_equal(wgc_trie_insert(t, WGC_AF_INET, ip, 8, NULL), WGC_ERR_INVALID);
	assert_int_equal(wgc_trie_remove(t, 0, ip, 8, o0), WGC_ERR_INVALID);
	assert_int_equal(wgc_trie_remove(t, WGC_AF_INET, ip, 33, o0), WGC_ERR_INVALID);
	assert_int_equal(wgc_trie_remove(t, WGC_AF_INET6, ip, 129, o0), WGC_ERR_INVALID);
	assert_null(wgc_trie_find(&f->table, 0, ip));
	assert_null(wgc_trie_find(&f->table, 5, ip));
	assert_null(wgc_trie_find(&f->table, WGC_AF_INET, NULL));

	assert_memory_equal(&before, &f->table, sizeof(before));
	assert_int_equal(f->owners[0].count, 2);
	assert_int_equal(f->owners[1].count, 0);
	assert_int_equal(find(f, "10.1.1.1"), 0);
	assert_int_equal(find(f, "2001:db8::1"), 0);
	fixture_free(f);
}

static void test_mem_size(void **state)
{
	(void)state;
	assert_int_equal(wgc_trie_mem_size(0), 0);
	assert_true(wgc_trie_mem_size(1) > 0);
	/* Two nodes per route (one may be a branch node), beyond any alignment slack. */
	assert_int_equal(wgc_trie_mem_size(1000) - wgc_trie_mem_size(1),
			 999 * (wgc_trie_mem_size(2) - wgc_trie_mem_size(1)));
	assert_int_equal(wgc_trie_mem_size(UINT32_MAX), 0);
}

/* ---- pool ---- */

static void test_pool_exhaustion(void **state)
{
	struct fixture *f = fixture_new(4); /* 8 nodes */
	struct wgc_allowedips before;

	(void)state;
	/* Each /24 after the first needs a branch node too: 1 + 2 + 2 + 2 = 7 nodes. */
	assert_int_equal(insert(f, "10.0.0.0", 24, 0), WGC_OK);
	assert_int_equal(insert(f, "10.0.1.0", 24, 1), WGC_OK);
	assert_int_equal(insert(f, "10.0.2.0", 24, 2), WGC_OK);
	assert_int_equal(insert(f, "10.0.3.0", 24, 3), WGC_OK);
	assert_int_equal(f->table.free_count, 1);

	before = f->table;
	assert_int_equal(insert(f, "10.0.4.0", 24, 4), WGC_ERR_NO_SPACE); /* needs 2 */
	assert_memory_equal(&before, &f->table, sizeof(before));
	assert_int_equal(f->owners[4].count, 0);
	assert_int_equal(find(f, "10.0.4.1"), NO_OWNER);

	assert_int_equal(insert(f, "10.0.0.0", 25, 4), WGC_OK); /* a leaf needs 1 */
	assert_int_equal(f->table.free_count, 0);
	before = f->table;
	assert_int_equal(insert(f, "10.0.0.128", 25, 4), WGC_ERR_NO_SPACE);
	assert_int_equal(insert(f, "2001:db8::", 32, 4), WGC_ERR_NO_SPACE);
	assert_int_equal(insert(f, "10.0.0.0", 16, 4), WGC_ERR_NO_SPACE);
	assert_memory_equal(&before, &f->table, sizeof(before));
	assert_int_equal(f->owners[4].count, 1);
	assert_int_equal(find(f, "10.0.0.129"), 0);

	/* Prefixes that already have a node still work with a full pool. */
	assert_int_equal(insert(f, "10.0.1.0", 24, 5), WGC_OK);
	assert_int_equal(insert(f, "10.0.0.0", 23, 5), WGC_OK); /* a branch node's prefix */
	assert_int_equal(find(f, "10.0.1.1"), 5);

	assert_int_equal(remove_route(f, "10.0.0.0", 25, 4), WGC_OK);
	assert_int_equal(insert(f, "10.0.0.128", 25, 4), WGC_OK);
	assert_int_equal(remove_route(f, "10.0.3.0", 24, 3), WGC_OK);
	assert_int_equal(insert(f, "10.0.4.0", 24, 4), WGC_OK);
	assert_int_equal(find(f, "10.0.4.1"), 4);
	assert_int_equal(find(f, "10.0.0.200"), 4);
	fixture_free(f);
}

/* ---- deterministic randomness ---- */

static uint64_t rng_state;
static uint64_t test_seed = 0x5eed0a11d1b5ULL;

static uint64_t rng(void) /* splitmix64 */
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static unsigned rng_below(unsigned n)
{
	return (unsigned)(rng() % n);
}

static void mask_ip(uint8_t ip[16], unsigned cidr)
{
	for (unsigned i = 0; i < 16; i++) {
		unsigned keep = cidr > 8 * i ? cidr - 8 * i : 0;

		ip[i] &= keep >= 8 ? 0xff : (uint8_t)(0xff00 >> keep);
	}
}

/*
 * Addresses cluster around a few bases and differ only in a handful of bit positions near common
 * prefix lengths (and across the 64-bit word boundary for IPv6), so routes share long prefixes,
 * collide often, and the trie branches deeply; now and then an address is fully random.
 */
static void random_addr(uint8_t family, uint8_t ip[16])
{
	static const uint8_t bases[3][16] = {
		{10, 0, 0, 0},
		{192, 168, 0, 0},
		{0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1},
	};
	static const uint8_t flips4[] = {0, 7, 8, 9, 15, 16, 17, 22, 23, 24, 25, 30, 31};
	static const uint8_t flips6[] = {0, 31, 32, 47, 48, 62, 63, 64, 65, 95, 96, 120, 126, 127};
	const uint8_t *flips = family == WGC_AF_INET ? flips4 : flips6;
	unsigned nflips = family == WGC_AF_INET ? sizeof(flips4) : sizeof(flips6);

	if (rng_below(16) == 0) {
		for (unsigned i = 0; i < 16; i++)
			ip[i] = (uint8_t)rng();
		if (family == WGC_AF_INET)
			memset(ip + 4, 0, 12);
		return;
	}
	memcpy(ip, bases[rng_below(3)], 16);
	if (family == WGC_AF_INET)
		memset(ip + 4, 0, 12);
	for (unsigned n = rng_below(5); n; n--) {
		unsigned bit = flips[rng_below(nflips)];

		ip[bit / 8] ^= (uint8_t)(0x80 >> (bit % 8));
	}
}

static uint8_t random_cidr(uint8_t family)
{
	unsigned bits = family == WGC_AF_INET ? 32 : 128;
	unsigned r = rng_below(8);

	if (r == 0)
		return (uint8_t)rng_below(bits + 1);
	if (r < 3)
		return (uint8_t)bits;
	return (uint8_t)(bits - rng_below(bits / 4 + 1));
}

/* ---- the naive model: an unordered list, longest match by linear scan ---- */

struct model_route {
	uint8_t family;
	uint8_t cidr;
	uint8_t ip[16]; /* masked */
	int owner;
	uint64_t seq; /* when it joined its owner, for list order */
};

struct model {
	struct model_route routes[16384];
	size_t count;
	uint64_t next_seq;
};

static struct model_route *model_exact(struct model *m, uint8_t family, const uint8_t ip[16],
				       uint8_t cidr)
{
	for (size_t i = 0; i < m->count; i++) {
		struct model_route *r = &m->routes[i];

		if (r->family == family && r->cidr == cidr && !memcmp(r->ip, ip, 16))
			return r;
	}
	return NULL;
}

static bool covers(const struct model_route *r, uint8_t family, const uint8_t ip[16])
{
	uint8_t masked[16];

	memcpy(masked, ip, 16);
	mask_ip(masked, r->cidr);
	return r->family == family && !memcmp(masked, r->ip, 16);
}

static int model_find(const struct model *m, uint8_t family, const uint8_t ip[16])
{
	int best = NO_OWNER;
	int best_cidr = -1;

	for (size_t i = 0; i < m->count; i++) {
		const struct model_route *r = &m->routes[i];

		if (r->cidr > best_cidr && covers(r, family, ip)) {
			best = r->owner;
			best_cidr = r->cidr;
		}
	}
	return best;
}

static void model_insert(struct model *m, uint8_t family, const uint8_t ip[16], uint8_t cidr,
			 int owner)
{
	struct model_route *r = model_exact(m, family, ip, cidr);

	if (!r) {
		assert_true(m->count < ARRAY_LEN(m->routes));
		r = &m->routes[m->count++];
		r->family = family;
		r->cidr = cidr;
		memcpy(r->ip, ip, 16);
		r->owner = NO_OWNER;
	}
	if (r->owner != owner) {
		r->owner = owner;
		r->seq = m->next_seq++;
	}
}

static void model_delete(struct model *m, struct model_route *r)
{
	*r = m->routes[--m->count];
}

static size_t model_count(const struct model *m, int owner)
{
	size_t n = 0;

	for (size_t i = 0; i < m->count; i++)
		n += m->routes[i].owner == owner;
	return n;
}

/* ---- canonical node count ---- */

struct key128 {
	uint64_t w[2];
	unsigned cidr;
};

static int key_cmp(const void *pa, const void *pb)
{
	const struct key128 *a = pa;
	const struct key128 *b = pb;

	for (int i = 0; i < 2; i++) {
		if (a->w[i] != b->w[i])
			return a->w[i] < b->w[i] ? -1 : 1;
	}
	return (int)a->cidr - (int)b->cidr;
}

static struct key128 key_of(const struct model_route *r)
{
	struct key128 k = {{0, 0}, r->cidr};

	for (int i = 0; i < 16; i++)
		k.w[i / 8] = k.w[i / 8] << 8 | r->ip[i];
	return k;
}

/* The longest common prefix of two masked keys, as a masked key. */
static struct key128 key_lcp(const struct key128 *a, const struct key128 *b)
{
	struct key128 k = *a;
	unsigned n = 0;

	while (n < a->cidr && n < b->cidr &&
	       ((a->w[n / 64] ^ b->w[n / 64]) >> (63 - n % 64) & 1) == 0)
		n++;
	k.cidr = n;
	for (unsigned i = n; i < 128; i++)
		k.w[i / 64] &= ~(1ULL << (63 - i % 64));
	return k;
}

/*
 * Nodes the minimal path-compressed trie needs: every route, plus every point where two routes
 * diverge. Sorted in (key, cidr) order, which is the bit strings' lexicographic order, the
 * divergence points of all pairs are those of neighbours.
 */
static size_t canonical_nodes(const struct model *m, uint8_t family)
{
	static struct key128 keys[2 * ARRAY_LEN(((struct model *)0)->routes)];
	size_t n = 0;
	size_t routes;
	size_t unique = 0;

	for (size_t i = 0; i < m->count; i++) {
		if (m->routes[i].family == family)
			keys[n++] = key_of(&m->routes[i]);
	}
	routes = n;
	qsort(keys, routes, sizeof(keys[0]), key_cmp);
	for (size_t i = 1; i < routes; i++)
		keys[n++] = key_lcp(&keys[i - 1], &keys[i]);
	qsort(keys, n, sizeof(keys[0]), key_cmp);
	for (size_t i = 0; i < n; i++)
		unique += i == 0 || key_cmp(&keys[i - 1], &keys[i]) != 0;
	return unique;
}

static size_t model_nodes(const struct model *m)
{
	return canonical_nodes(m, WGC_AF_INET) + canonical_nodes(m, WGC_AF_INET6);
}

/* ---- differential test ---- */

#define CHECK(cond, step)                                                                      \
	do {                                                                                   \
		if (!(cond))                                                                   \
			fail_msg("%s (seed %" PRIu64 ", step %zu; rerun with WGC_TEST_SEED)",  \
				 #cond, test_seed, (size_t)(step));                            \
	} while (0)

struct diff_run {
	struct fixture *f;
	struct model *m;
	size_t step;
};

static void diff_insert(struct diff_run *d)
{
	uint8_t family = rng_below(2) ? WGC_AF_INET : WGC_AF_INET6;
	uint8_t cidr = random_cidr(family);
	int owner = (int)rng_below(OWNERS);
	struct wgc_allowedips before = d->f->table;
	bool exists;
	enum wgc_status want = WGC_OK;
	enum wgc_status got;
	uint8_t ip[16];

	random_addr(family, ip);
	got = wgc_trie_insert(&d->f->table, family, ip, cidr, &d->f->owners[owner]);
	mask_ip(ip, cidr);
	exists = model_exact(d->m, family, ip, cidr) != NULL;
	/* Two free nodes always suffice; below that, the model says what the route would cost. */
	if (!exists && before.free_count < 2) {
		size_t old_nodes = model_nodes(d->m);
		struct model_route probe = {family, cidr, {0}, owner, 0};

		memcpy(probe.ip, ip, 16);
		d->m->routes[d->m->count++] = probe;
		if (model_nodes(d->m) - old_nodes > before.free_count)
			want = WGC_ERR_NO_SPACE;
		d->m->count--;
	}
	CHECK(got == want, d->step);
	if (got == WGC_OK)
		model_insert(d->m, family, ip, cidr, owner);
	else
		CHECK(!memcmp(&before, &d->f->table, sizeof(before)), d->step);
}

static void diff_remove(struct diff_run *d)
{
	uint8_t family = rng_below(2) ? WGC_AF_INET : WGC_AF_INET6;
	uint8_t cidr = random_cidr(family);
	int owner = (int)rng_below(OWNERS);
	struct model_route *r;
	enum wgc_status got;
	uint8_t ip[16];

	random_addr(family, ip);
	if (d->m->count && rng_below(4) != 0) {
		r = &d->m->routes[rng_below((unsigned)d->m->count)];
		family = r->family;
		cidr = r->cidr;
		memcpy(ip, r->ip, 16);
		if (rng_below(4) != 0)
			owner = r->owner;
		if (cidr < (family == WGC_AF_INET ? 32 : 128))
			ip[family == WGC_AF_INET ? 3 : 15] |= 1; /* host bits must not matter */
	}
	got = wgc_trie_remove(&d->f->table, family, ip, cidr, &d->f->owners[owner]);
	mask_ip(ip, cidr);
	r = model_exact(d->m, family, ip, cidr);
	if (r && r->owner == owner) {
		CHECK(got == WGC_OK, d->step);
		model_delete(d->m, r);
	} else {
		CHECK(got == WGC_ERR_NOT_FOUND, d->step);
	}
}

static void diff_remove_owner(struct diff_run *d)
{
	int owner = (int)rng_below(OWNERS);

	wgc_trie_remove_owner(&d->f->table, &d->f->owners[owner]);
	for (size_t i = d->m->count; i-- > 0;) {
		if (d->m->routes[i].owner == owner)
			model_delete(d->m, &d->m->routes[i]);
	}
	CHECK(d->f->owners[owner].count == 0 && d->f->owners[owner].first == NULL, d->step);
}

static void diff_lookups(struct diff_run *d, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		uint8_t family = rng_below(2) ? WGC_AF_INET : WGC_AF_INET6;
		struct wgc_allowedips_owner *o;
		uint8_t ip[16];
		int got;

		random_addr(family, ip);
		o = wgc_trie_find(&d->f->table, family, ip);
		got = o ? (int)(o - d->f->owners) : NO_OWNER;
		CHECK(got == model_find(d->m, family, ip), d->step);
	}
}

/* Each owner's list equals the model's routes of that owner in the order they joined it. */
static void diff_check_lists(struct diff_run *d)
{
	static struct wgc_prefix out[ARRAY_LEN(((struct model *)0)->routes)];

	for (int o = 0; o < OWNERS; o++) {
		size_t n = wgc_trie_list(&d->f->owners[o], out, ARRAY_LEN(out));
		uint64_t last_seq = 0;

		CHECK(n == model_count(d->m, o), d->step);
		for (size_t i = 0; i < n; i++) {
			struct model_route *r =
				model_exact(d->m, out[i].family, out[i].ip, out[i].cidr);

			CHECK(r && r->owner == o, d->step);
			CHECK(i == 0 || r->seq > last_seq, d->step);
			last_seq = r->seq;
		}
	}
}

static void run_differential(uint32_t max_routes, size_t steps, size_t full_check_every)
{
	static struct model model;
	struct diff_run d = {fixture_new(max_routes), &model, 0};

	memset(&model, 0, sizeof(model));
	rng_state = test_seed;
	for (d.step = 0; d.step < steps; d.step++) {
		unsigned r = rng_below(100);

		if (r < 45)
			diff_insert(&d);
		else if (r < 75)
			diff_remove(&d);
		else if (r < 76)
			diff_remove_owner(&d);
		else
			diff_lookups(&d, 4);
		if (d.step % full_check_every == 0) {
			diff_check_lists(&d);
			CHECK(nodes_used(&d.f->table) == model_nodes(&model), d.step);
		}
	}
	fixture_free(d.f);
}

static void test_differential_small_pool(void **state)
{
	(void)state;
	run_differential(24, 100000, 1);
}

static void test_differential_mid_pool(void **state)
{
	(void)state;
	run_differential(256, 100000, 7);
}

static void test_differential_large_pool(void **state)
{
	(void)state;
	run_differential(4096, 200000, 997);
}

/* ---- insert everything, remove everything ---- */

static void test_insert_all_remove_all(void **state)
{
	enum { N = 20000 };
	struct fixture *f = fixture_new(N);
	static struct model_route routes[N];
	size_t n = 0;
	size_t routes_left = 0;
	uint32_t high;

	(void)state;
	rng_state = test_seed;
	for (size_t i = 0; i < N; i++) {
		struct model_route *r = &routes[n];

		r->family = rng_below(2) ? WGC_AF_INET : WGC_AF_INET6;
		r->cidr = random_cidr(r->family);
		r->owner = (int)rng_below(OWNERS);
		random_addr(r->family, r->ip);
		mask_ip(r->ip, r->cidr);
		/* N routes always fit a pool made for N. */
		CHECK(wgc_trie_insert(&f->table, r->family, r->ip, r->cidr,
				      &f->owners[r->owner]) == WGC_OK, i);
		n++;
	}
	high = f->table.pool_high;
	for (int o = 0; o < OWNERS; o++)
		routes_left += f->owners[o].count;
	/* In reverse, the first time a prefix comes up it is with its last (current) owner, so it
	 * goes then and its earlier, moved-away copies are NOT_FOUND. */
	for (size_t i = n; i-- > 0;) {
		struct model_route *r = &routes[i];
		enum wgc_status st = wgc_trie_remove(&f->table, r->family, r->ip, r->cidr,
						     &f->owners[r->owner]);

		CHECK(st == WGC_OK || st == WGC_ERR_NOT_FOUND, i);
		routes_left -= st == WGC_OK;
	}
	assert_int_equal(routes_left, 0);
	assert_null(f->table.root4);
	assert_null(f->table.root6);
	assert_int_equal(f->table.free_count, f->table.pool_size);

	/* Freed nodes are reused before untouched ones. */
	for (size_t i = 0; i < n; i++) {
		struct model_route *r = &routes[i];

		assert_int_equal(wgc_trie_insert(&f->table, r->family, r->ip, r->cidr,
						 &f->owners[r->owner]), WGC_OK);
	}
	assert_int_equal(f->table.pool_high, high);
	for (int o = 0; o < OWNERS; o++)
		wgc_trie_remove_owner(&f->table, &f->owners[o]);
	assert_int_equal(f->table.free_count, f->table.pool_size);
	assert_null(f->table.root4);
	assert_null(f->table.root6);
	fixture_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lpm_v4),
		cmocka_unit_test(test_lpm_v6),
		cmocka_unit_test(test_default_routes),
		cmocka_unit_test(test_host_routes),
		cmocka_unit_test(test_move_between_owners),
		cmocka_unit_test(test_remove_rules),
		cmocka_unit_test(test_remove_owner),
		cmocka_unit_test(test_list),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_mem_size),
		cmocka_unit_test(test_pool_exhaustion),
		cmocka_unit_test(test_differential_small_pool),
		cmocka_unit_test(test_differential_mid_pool),
		cmocka_unit_test(test_differential_large_pool),
		cmocka_unit_test(test_insert_all_remove_all),
	};
	const char *seed = getenv("WGC_TEST_SEED");

	if (seed)
		test_seed = strtoull(seed, NULL, 0);
	printf("allowedips: seed %" PRIu64 "\n", test_seed);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
