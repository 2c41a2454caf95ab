/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the allowed-IPs trie: the input is a program of insert, remove, lookup and
 * remove-owner operations on a small pool shared by a few owners. Every result is checked against
 * a naive list model, and after every operation the trie must use exactly the nodes of the unique
 * minimal trie for its routes; any difference traps.
 */
#include "core/allowedips.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

enum {
	MAX_ROUTES = 12, /* a 24-node pool: exhaustion is easy to reach */
	OWNERS = 4,
	MODEL_CAP = 2 * MAX_ROUTES,
	NONE = -1,
};

#define CHECK(cond)                                                                            \
	do {                                                                                   \
		if (!(cond))                                                                   \
			__builtin_trap();                                                      \
	} while (0)

struct route {
	uint8_t family;
	uint8_t cidr;
	uint8_t ip[16]; /* masked */
	int owner;
};

struct key {
	uint64_t w[2];
	unsigned cidr;
};

static struct wgc_allowedips table;
static struct wgc_allowedips_owner owners[OWNERS];
static uint64_t mem[1024]; /* comfortably more than wgc_trie_mem_size(MAX_ROUTES) */
static struct route model[MODEL_CAP];
static size_t model_count;

/* ---- the model ---- */

static void mask_ip(uint8_t ip[16], unsigned cidr)
{
	for (unsigned i = 0; i < 16; i++) {
		unsigned keep = cidr > 8 * i ? cidr - 8 * i : 0;

		ip[i] &= keep >= 8 ? 0xff : (uint8_t)(0xff00 >> keep);
	}
}

static struct route *model_exact(uint8_t family, const uint8_t ip[16], uint8_t cidr)
{
	for (size_t i = 0; i < model_count; i++) {
		const struct route *r = &model[i];

		if (r->family == family && r->cidr == cidr && !memcmp(r->ip, ip, 16))
			return &model[i];
	}
	return NULL;
}

static int model_find(uint8_t family, const uint8_t ip[16])
{
	int best = NONE;
	int best_cidr = -1;

	for (size_t i = 0; i < model_count; i++) {
		uint8_t masked[16];

		memcpy(masked, ip, 16);
		mask_ip(masked, model[i].cidr);
		if (model[i].family == family && model[i].cidr > best_cidr &&
		    !memcmp(masked, model[i].ip, 16)) {
			best = model[i].owner;
			best_cidr = model[i].cidr;
		}
	}
	return best;
}

static int key_cmp(const struct key *a, const struct key *b)
{
	if (a->w[0] != b->w[0])
		return a->w[0] < b->w[0] ? -1 : 1;
	if (a->w[1] != b->w[1])
		return a->w[1] < b->w[1] ? -1 : 1;
	return (int)a->cidr - (int)b->cidr;
}

static void sort_keys(struct key *k, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		struct key x = k[i];
		size_t j = i;

		for (; j > 0 && key_cmp(&k[j - 1], &x) > 0; j--)
			k[j] = k[j - 1];
		k[j] = x;
	}
}

static struct key lcp(const struct key *a, const struct key *b)
{
	struct key k = *a;
	unsigned n = 0;

	while (n < a->cidr && n < b->cidr &&
	       ((a->w[n / 64] ^ b->w[n / 64]) >> (63 - n % 64) & 1) == 0)
		n++;
	k.cidr = n;
	for (unsigned i = n; i < 128; i++)
		k.w[i / 64] &= ~(1ULL << (63 - i % 64));
	return k;
}

/* Nodes of the minimal trie: the routes plus where sorted neighbours diverge. */
static size_t canonical_nodes(uint8_t family)
{
	struct key k[2 * MODEL_CAP + 2];
	size_t n = 0;
	size_t routes;
	size_t unique = 0;

	for (size_t i = 0; i < model_count; i++) {
		if (model[i].family != family)
			continue;
		k[n].w[0] = k[n].w[1] = 0;
		for (int b = 0; b < 16; b++)
			k[n].w[b / 8] = k[n].w[b / 8] << 8 | model[i].ip[b];
		k[n++].cidr = model[i].cidr;
	}
	routes = n;
	sort_keys(k, routes);
	for (size_t i = 1; i < routes; i++)
		k[n++] = lcp(&k[i - 1], &k[i]);
	sort_keys(k, n);
	for (size_t i = 0; i < n; i++)
		unique += i == 0 || key_cmp(&k[i - 1], &k[i]) != 0;
	return unique;
}

static size_t model_nodes(void)
{
	return canonical_nodes(WGC_AF_INET) + canonical_nodes(WGC_AF_INET6);
}

/* ---- operations ---- */

/* A cidr beyond the family's length must be refused without a trace. */
static bool refused_invalid(uint8_t family, uint8_t cidr, enum wgc_status got,
			    const struct wgc_allowedips *before)
{
	if (cidr <= (family == WGC_AF_INET ? 32 : 128))
		return false;
	CHECK(got == WGC_ERR_INVALID);
	CHECK(!memcmp(before, &table, sizeof(table)));
	return true;
}

static void op_insert(uint8_t family, uint8_t ip[16], uint8_t cidr, int owner)
{
	struct wgc_allowedips before = table;
	enum wgc_status want = WGC_OK;
	enum wgc_status got = wgc_trie_insert(&table, family, ip, cidr, &owners[owner]);
	struct route *r;

	if (refused_invalid(family, cidr, got, &before))
		return;
	mask_ip(ip, cidr);
	r = model_exact(family, ip, cidr);
	if (!r) {
		size_t old_nodes = model_nodes();

		CHECK(model_count < MODEL_CAP);
		r = &model[model_count++];
		r->family = family;
		r->cidr = cidr;
		memcpy(r->ip, ip, 16);
		r->owner = owner;
		if (model_nodes() - old_nodes > before.free_count) {
			want = WGC_ERR_NO_SPACE;
			model_count--;
		}
	}
	CHECK(got == want);
	if (got != WGC_OK) {
		CHECK(!memcmp(&before, &table, sizeof(table)));
		return;
	}
	r->owner = owner;
}

static void op_remove(uint8_t family, uint8_t ip[16], uint8_t cidr, int owner)
{
	struct wgc_allowedips before = table;
	enum wgc_status got = wgc_trie_remove(&table, family, ip, cidr, &owners[owner]);
	struct route *r;

	if (refused_invalid(family, cidr, got, &before))
		return;
	mask_ip(ip, cidr);
	r = model_exact(family, ip, cidr);
	if (r && r->owner == owner) {
		CHECK(got == WGC_OK);
		*r = model[--model_count];
	} else {
		CHECK(got == WGC_ERR_NOT_FOUND);
	}
}

static void op_remove_owner(int owner)
{
	wgc_trie_remove_owner(&table, &owners[owner]);
	for (size_t i = model_count; i-- > 0;) {
		if (model[i].owner == owner)
			model[i] = model[--model_count];
	}
}

static void op_lookup(uint8_t family, const uint8_t ip[16])
{
	struct wgc_allowedips_owner *o = wgc_trie_find(&table, family, ip);

	CHECK((o ? (int)(o - owners) : NONE) == model_find(family, ip));
}

static void check_owners(void)
{
	struct wgc_prefix out[MODEL_CAP];

	for (int o = 0; o < OWNERS; o++) {
		size_t n = wgc_trie_list(&owners[o], out, MODEL_CAP);
		size_t want = 0;

		for (size_t i = 0; i < model_count; i++)
			want += model[i].owner == o;
		CHECK(n == want && owners[o].count == want);
		for (size_t i = 0; i < n; i++) {
			struct route *r = model_exact(out[i].family, out[i].ip, out[i].cidr);

			CHECK(r && r->owner == o);
		}
	}
	CHECK(table.pool_size - table.free_count == model_nodes());
}

/*
 * Addresses come from 5 input bytes: a selector and 4 value bytes. IPv4 masks the value to keep
 * routes clustered; IPv6 puts the value into 2001:db8:: at one of four offsets, one of which
 * straddles the trie's 64-bit word boundary.
 */
static void make_addr(uint8_t family, const uint8_t *in, uint8_t ip[16])
{
	static const uint8_t masks4[4][4] = {
		{0xff, 0xff, 0xff, 0xff},
		{0x81, 0, 0x03, 0xc1},
		{0, 0, 0xff, 0xff},
		{0xc0, 0x80, 0, 0x01},
	};
	static const uint8_t offsets6[4] = {0, 6, 8, 12};
	uint8_t sel = in[0];
	uint8_t keep6 = (sel & 0x10) ? 0x81 : 0xff;

	memset(ip, 0, 16);
	if (family == WGC_AF_INET) {
		for (int i = 0; i < 4; i++)
			ip[i] = (uint8_t)(in[1 + i] & masks4[sel & 3][i]);
		ip[0] ^= 10;
		return;
	}
	ip[0] = 0x20;
	ip[1] = 0x01;
	ip[2] = 0x0d;
	ip[3] = 0xb8;
	for (int i = 0; i < 4; i++)
		ip[offsets6[(sel >> 2) & 3] + i] ^= (uint8_t)(in[1 + i] & keep6);
}

static void reset(void)
{
	size_t size = wgc_trie_mem_size(MAX_ROUTES);

	CHECK(size > 0 && size <= sizeof(mem));
	memset(mem, 0, size);
	memset(owners, 0, sizeof(owners));
	wgc_trie_init(&table, mem, MAX_ROUTES);
	model_count = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Each operation: op byte (kind, family, owner), cidr byte, 5 address bytes. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	reset();
	while (size >= 7) {
		uint8_t op = data[0];
		uint8_t family = (op & 8) ? WGC_AF_INET6 : WGC_AF_INET;
		unsigned bits = family == WGC_AF_INET ? 32 : 128;
		/* Most cidr bytes map into range; 160 and up stay as they are, out of range. */
		uint8_t cidr = data[1] < 160 ? (uint8_t)(data[1] % (bits + 1)) : data[1];
		int owner = (op >> 4) & (OWNERS - 1);
		uint8_t ip[16];

		make_addr(family, data + 2, ip);
		if ((op & 7) < 3)
			op_insert(family, ip, cidr, owner);
		else if ((op & 7) < 5)
			op_remove(family, ip, cidr, owner);
		else if ((op & 7) < 7)
			op_lookup(family, ip);
		else
			op_remove_owner(owner);
		check_owners();
		data += 7;
		size -= 7;
	}
	for (int o = 0; o < OWNERS; o++)
		op_remove_owner(o);
	CHECK(table.free_count == table.pool_size && !table.root4 && !table.root6);
	return 0;
}
