/* SPDX-License-Identifier: MIT */
/*
 * Cryptokey routing (whitepaper 2): the allowed-IPs table as a path-compressed binary trie with one
 * root per address family and longest-prefix match. This file owns the node layout, the node pool
 * and every owner's list of routes; it knows nothing of peers beyond the owner struct they embed.
 * Nothing here allocates or recurses: nodes come from the caller's pool and stack use is constant.
 */
#include "core/allowedips.h"

#include "base/assert.h"
#include "base/bytes.h"

#include <stdint.h>
#include <string.h>

/*
 * A node is a prefix (key, cidr). It carries a route when owner is set; otherwise it is a branch
 * node that exists only to split two subtrees. The trie keeps two invariants that everything below
 * relies on:
 *   - a child sits under child[b] of a node of length cidr when the child's key agrees with the
 *     node's first cidr bits and has bit number cidr equal to b; its own cidr is larger;
 *   - a node without a route has exactly two children.
 * The second one bounds the pool: r routes need at most r - 1 branch nodes, so 2 * max_routes
 * nodes always suffice, and it makes the trie for a set of prefixes unique (tests rely on that).
 *
 * Trie links are 32-bit references (pool index + 1, 0 = none) instead of pointers: the pool is
 * the bulk of the memory with a million routes, and this keeps the fields a lookup reads (key,
 * owner, child, cidr) within the first 34 bytes. The owner list uses real pointers because
 * wgc_trie_list gets only the owner, not the table that would resolve a reference.
 */
struct wgc_allowedips_node {
	/* The prefix as two host-order words, most significant bit first; IPv4 uses the top half
	 * of key[0]. Bits at and beyond cidr are zero. */
	uint64_t key[2];
	struct wgc_allowedips_owner *owner; /* NULL for a branch node */
	uint32_t child[2];
	uint8_t cidr;   /* prefix length in bits */
	uint8_t family; /* enum wgc_family, for listing and to find the root */
	uint32_t parent;
	/* Owner's routes in insertion order, NULL-terminated; the first node's owner_prev points to
	 * the last one so appending is O(1). A free node links the free list through owner_next. */
	struct wgc_allowedips_node *owner_next;
	struct wgc_allowedips_node *owner_prev;
};

enum {
	/* 2 * max_routes nodes must fit a 32-bit reference (index + 1). */
	MAX_ROUTES = UINT32_MAX / 2,
	/* The header promises only pointer alignment; keys need 64-bit alignment, which is larger
	 * on some 32-bit targets. The slack lets init round the pool up. */
	ALIGN_SLACK = _Alignof(struct wgc_allowedips_node) > _Alignof(void *) ?
			      _Alignof(struct wgc_allowedips_node) - _Alignof(void *) : 0,
};

/* ---- small helpers ---- */

static inline struct wgc_allowedips_node *at(const struct wgc_allowedips *table, uint32_t ref)
{
	return ref ? table->pool + (ref - 1) : NULL;
}

static inline uint32_t ref_of(const struct wgc_allowedips *table,
			      const struct wgc_allowedips_node *node)
{
	return node ? (uint32_t)(node - table->pool) + 1 : 0;
}

static unsigned family_bits(uint8_t family)
{
	if (family == WGC_AF_INET)
		return 32;
	if (family == WGC_AF_INET6)
		return 128;
	return 0;
}

static struct wgc_allowedips_node **root_of(struct wgc_allowedips *table, uint8_t family)
{
	return family == WGC_AF_INET ? &table->root4 : &table->root6;
}

/* The n most significant bits set, n in 0..64 (a shift by 64 is undefined, hence the test). */
static inline uint64_t hi_mask(unsigned n)
{
	return n ? UINT64_MAX << (64 - n) : 0;
}

/* Bit number i (0 = most significant) of a 128-bit key, i < 128. */
static inline unsigned bit_at(const uint64_t key[2], unsigned i)
{
	return (unsigned)(key[i >> 6] >> (63 - (i & 63))) & 1;
}

/* Does the address a lie inside node's prefix? Both words are compared, each under its part of
 * the mask, so that path compression's skipped bits are checked too. */
static inline bool prefix_matches(const struct wgc_allowedips_node *node, const uint64_t a[2])
{
	unsigned cidr = node->cidr;
	uint64_t diff = (a[0] ^ node->key[0]) & hi_mask(cidr < 64 ? cidr : 64);

	diff |= (a[1] ^ node->key[1]) & hi_mask(cidr > 64 ? cidr - 64 : 0);
	return diff == 0;
}

/* Leading zero bits of x != 0, by halving; insert is not hot enough to need a builtin. */
static unsigned clz64(uint64_t x)
{
	unsigned n = 0;
	unsigned shift;

	for (shift = 32; shift; shift >>= 1) {
		if (!(x >> (64 - shift))) {
			n += shift;
			x <<= shift;
		}
	}
	return n;
}

/* How many leading bits two keys share, at most limit. */
static unsigned common_bits(const uint64_t a[2], const uint64_t b[2], unsigned limit)
{
	uint64_t x0 = a[0] ^ b[0];
	uint64_t x1 = a[1] ^ b[1];
	unsigned n = x0 ? clz64(x0) : x1 ? 64 + clz64(x1) : 128;

	return n < limit ? n : limit;
}

/* Reads an address (4 or 16 network-order bytes) into key form, keeping its first cidr bits. */
static void load_key(uint8_t family, const uint8_t *ip, unsigned cidr, uint64_t key[2])
{
	if (family == WGC_AF_INET) {
		key[0] = (uint64_t)wgc_load_be32(ip) << 32;
		key[1] = 0;
	} else {
		key[0] = (uint64_t)wgc_load_be32(ip) << 32 | wgc_load_be32(ip + 4);
		key[1] = (uint64_t)wgc_load_be32(ip + 8) << 32 | wgc_load_be32(ip + 12);
	}
	key[0] &= hi_mask(cidr < 64 ? cidr : 64);
	key[1] &= hi_mask(cidr > 64 ? cidr - 64 : 0);
}

/* ---- pool ---- */

size_t wgc_trie_mem_size(uint32_t max_routes)
{
	size_t nodes;

	if (max_routes > MAX_ROUTES)
		return 0;
	nodes = 2 * (size_t)max_routes;
	if (nodes > (SIZE_MAX - ALIGN_SLACK) / sizeof(struct wgc_allowedips_node))
		return 0;
	return nodes * sizeof(struct wgc_allowedips_node) + ALIGN_SLACK;
}

void wgc_trie_init(struct wgc_allowedips *table, void *mem, uint32_t max_routes)
{
	uintptr_t align = _Alignof(struct wgc_allowedips_node);
	uintptr_t base = ((uintptr_t)mem + align - 1) & ~(align - 1);

	/* The pool is not touched here: nodes are handed out from pool_high upwards, so pages of a
	 * large zero-filled pool stay unmapped until routes need them. */
	table->root4 = NULL;
	table->root6 = NULL;
	table->pool = (struct wgc_allowedips_node *)base;
	table->pool_size = max_routes > MAX_ROUTES ? 0 : 2 * max_routes;
	table->pool_high = 0;
	table->free_list = NULL;
	table->free_count = table->pool_size;
}

/* Takes a zeroed node; the caller has checked free_count. */
static struct wgc_allowedips_node *node_get(struct wgc_allowedips *table)
{
	struct wgc_allowedips_node *node = table->free_list;

	WGC_ASSERT(table->free_count > 0);
	if (node) {
		table->free_list = node->owner_next;
		node->owner_next = NULL;
	} else {
		node = &table->pool[table->pool_high++];
	}
	table->free_count--;
	return node;
}

static void node_put(struct wgc_allowedips *table, struct wgc_allowedips_node *node)
{
	memset(node, 0, sizeof(*node));
	node->owner_next = table->free_list;
	table->free_list = node;
	table->free_count++;
}

/* ---- owner lists ---- */

static void owner_append(struct wgc_allowedips_owner *owner, struct wgc_allowedips_node *node)
{
	struct wgc_allowedips_node *first = owner->first;

	node->owner = owner;
	node->owner_next = NULL;
	if (!first) {
		owner->first = node;
		node->owner_prev = node;
	} else {
		node->owner_prev = first->owner_prev;
		first->owner_prev->owner_next = node;
		first->owner_prev = node;
	}
	owner->count++;
}

static void owner_unlink(struct wgc_allowedips_node *node)
{
	struct wgc_allowedips_owner *owner = node->owner;
	struct wgc_allowedips_node *first;
	struct wgc_allowedips_node *next = node->owner_next;

	/* Only routes are on an owner's list, each with owner_prev set (the first's is the last). */
	WGC_ASSERT(owner && owner->count > 0 && owner->first && node->owner_prev);
	first = owner->first;

	if (node == first) {
		owner->first = next;
		if (next)
			next->owner_prev = node->owner_prev; /* the last node, kept reachable */
	} else {
		node->owner_prev->owner_next = next;
		if (next)
			next->owner_prev = node->owner_prev;
		else
			first->owner_prev = node->owner_prev;
	}
	node->owner = NULL;
	node->owner_next = NULL;
	node->owner_prev = NULL;
	owner->count--;
}

/* ---- trie surgery ---- */

/* Hangs child under parent, on the side given by the child's bit right after parent's prefix. */
static void attach(struct wgc_allowedips *table, struct wgc_allowedips_node *parent,
		   struct wgc_allowedips_node *child)
{
	parent->child[bit_at(child->key, parent->cidr)] = ref_of(table, child);
	child->parent = ref_of(table, parent);
}

/* Puts node (may be NULL) where old was: under parent, or at the root when parent is NULL. */
static void replace(struct wgc_allowedips *table, struct wgc_allowedips_node **root,
		    struct wgc_allowedips_node *parent, const struct wgc_allowedips_node *old,
		    struct wgc_allowedips_node *node)
{
	uint32_t ref = ref_of(table, node);

	if (parent)
		parent->child[parent->child[0] == ref_of(table, old) ? 0 : 1] = ref;
	else
		*root = node;
	if (node)
		node->parent = ref_of(table, parent);
}

/*
 * Restores the invariant after node lost its route. A routeless node with one child only costs
 * lookups a hop, and one with none is garbage, so both go. When a leaf goes, its parent loses a
 * child; a routeless parent had exactly two, so it is left with one and goes too. Its own parent
 * keeps its child count (the grandchild takes the parent's place), so two nodes is the most that
 * one removal frees and no walk up the trie is needed.
 */
static void prune(struct wgc_allowedips *table, struct wgc_allowedips_node *node)
{
	struct wgc_allowedips_node **root = root_of(table, node->family);
	struct wgc_allowedips_node *parent = at(table, node->parent);
	struct wgc_allowedips_node *child;

	if (node->child[0] && node->child[1])
		return;
	child = at(table, node->child[0] ? node->child[0] : node->child[1]);
	replace(table, root, parent, node, child);
	node_put(table, node);
	if (child || !parent || parent->owner)
		return;
	child = at(table, parent->child[0] ? parent->child[0] : parent->child[1]);
	replace(table, root, at(table, parent->parent), parent, child);
	node_put(table, parent);
}

/* Where a prefix belongs relative to the existing trie (see find_spot). */
enum spot_kind {
	SPOT_EXACT, /* node is the prefix itself */
	SPOT_LEAF,  /* a new node goes into parent's empty child slot (or the empty root) */
	SPOT_ABOVE, /* a new node takes node's place and node hangs below it */
	SPOT_SPLIT, /* a branch node of length common replaces node, over node and the new one */
};

struct spot {
	enum spot_kind kind;
	struct wgc_allowedips_node *parent; /* NULL at the root */
	struct wgc_allowedips_node *node;
	unsigned common; /* bits the prefix shares with node (SPLIT, ABOVE) */
};

/*
 * Walks down while a node's prefix contains (key, cidr) and reports where the walk stopped. It
 * only reads, so insert can count the nodes it needs (SPLIT 2, LEAF and ABOVE 1, EXACT 0) and
 * refuse before changing anything.
 */
static void find_spot(const struct wgc_allowedips *table, struct wgc_allowedips_node *root,
		      const uint64_t key[2], unsigned cidr, struct spot *spot)
{
	struct wgc_allowedips_node *parent = NULL;
	struct wgc_allowedips_node *node = root;
	unsigned common = 0;

	while (node) {
		common = common_bits(node->key, key, node->cidr < cidr ? node->cidr : cidr);
		if (common < node->cidr)
			break;
		if (node->cidr == cidr) {
			spot->kind = SPOT_EXACT;
			spot->parent = parent;
			spot->node = node;
			return;
		}
		parent = node;
		node = at(table, node->child[bit_at(key, node->cidr)]);
	}
	spot->parent = parent;
	spot->node = node;
	spot->common = common;
	if (!node)
		spot->kind = SPOT_LEAF;
	else
		spot->kind = common == cidr ? SPOT_ABOVE : SPOT_SPLIT;
}

/* ---- routes ---- */

static bool prefix_valid(uint8_t family, const uint8_t *ip, uint8_t cidr)
{
	unsigned bits = family_bits(family);

	return bits && ip && cidr <= bits;
}

static struct wgc_allowedips_node *new_node(struct wgc_allowedips *table, uint8_t family,
					    const uint64_t key[2], unsigned cidr)
{
	struct wgc_allowedips_node *node = node_get(table);

	node->key[0] = key[0] & hi_mask(cidr < 64 ? cidr : 64);
	node->key[1] = key[1] & hi_mask(cidr > 64 ? cidr - 64 : 0);
	node->cidr = (uint8_t)cidr;
	node->family = family;
	return node;
}

enum wgc_status wgc_trie_insert(struct wgc_allowedips *table, uint8_t family, const uint8_t *ip,
				uint8_t cidr, struct wgc_allowedips_owner *owner)
{
	struct wgc_allowedips_node **root = root_of(table, family);
	struct wgc_allowedips_node *route;
	struct wgc_allowedips_node *branch;
	uint64_t key[2];
	struct spot spot;

	if (!prefix_valid(family, ip, cidr) || !owner)
		return WGC_ERR_INVALID;
	load_key(family, ip, cidr, key);
	find_spot(table, *root, key, cidr, &spot);
	if (spot.kind == SPOT_EXACT) {
		/* An existing prefix (or a branch node of exactly this prefix) takes the route; a
		 * prefix already owned by another owner moves, as in the kernel. */
		if (spot.node->owner != owner) {
			if (spot.node->owner)
				owner_unlink(spot.node);
			owner_append(owner, spot.node);
		}
		return WGC_OK;
	}
	if (table->free_count < (spot.kind == SPOT_SPLIT ? 2u : 1u))
		return WGC_ERR_NO_SPACE;

	route = new_node(table, family, key, cidr);
	if (spot.kind == SPOT_LEAF) {
		if (spot.parent)
			attach(table, spot.parent, route);
		else
			*root = route;
	} else if (spot.kind == SPOT_ABOVE) {
		replace(table, root, spot.parent, spot.node, route);
		attach(table, route, spot.node);
	} else {
		branch = new_node(table, family, key, spot.common);
		replace(table, root, spot.parent, spot.node, branch);
		attach(table, branch, spot.node);
		attach(table, branch, route);
	}
	owner_append(owner, route);
	return WGC_OK;
}

struct wgc_allowedips_owner *wgc_trie_owner(const struct wgc_allowedips *table, uint8_t family,
					    const uint8_t *ip, uint8_t cidr)
{
	uint64_t key[2];
	struct spot spot;

	if (!prefix_valid(family, ip, cidr))
		return NULL;
	load_key(family, ip, cidr, key);
	find_spot(table, family == WGC_AF_INET ? table->root4 : table->root6, key, cidr, &spot);
	return spot.kind == SPOT_EXACT ? spot.node->owner : NULL;
}

enum wgc_status wgc_trie_remove(struct wgc_allowedips *table, uint8_t family, const uint8_t *ip,
				uint8_t cidr, struct wgc_allowedips_owner *owner)
{
	uint64_t key[2];
	struct spot spot;

	if (!prefix_valid(family, ip, cidr))
		return WGC_ERR_INVALID;
	load_key(family, ip, cidr, key);
	find_spot(table, *root_of(table, family), key, cidr, &spot);
	/* A branch node has no owner, so a NULL owner must not "own" it. */
	if (spot.kind != SPOT_EXACT || !spot.node->owner || spot.node->owner != owner)
		return WGC_ERR_NOT_FOUND;
	owner_unlink(spot.node);
	prune(table, spot.node);
	return WGC_OK;
}

void wgc_trie_remove_owner(struct wgc_allowedips *table, struct wgc_allowedips_owner *owner)
{
	struct wgc_allowedips_node *node = owner->first;

	/* prune frees node and at most its routeless parent, never another route, so next
	 * (which has a route) survives each step. */
	while (node) {
		struct wgc_allowedips_node *next = node->owner_next;

		node->owner = NULL;
		node->owner_next = NULL;
		node->owner_prev = NULL;
		prune(table, node);
		node = next;
	}
	owner->first = NULL;
	owner->count = 0;
}

/* ---- lookup: the per-packet path ---- */

/*
 * IPv4 needs one word. A child's key may differ from the address in the bits its parent skipped
 * (path compression), so each node is checked against its whole prefix, not just the bit that led
 * to it; the first mismatch ends the walk because everything below shares that prefix. A /32 node
 * has no children, and bit 32 of the word is always zero, so the walk ends there by itself.
 */
static const struct wgc_allowedips_node *find_v4(const struct wgc_allowedips *table, uint64_t a)
{
	const struct wgc_allowedips_node *node = table->root4;
	const struct wgc_allowedips_node *best = NULL;

	while (node && !((a ^ node->key[0]) & hi_mask(node->cidr))) {
		if (node->owner)
			best = node;
		node = at(table, node->child[(a >> (63 - node->cidr)) & 1]);
	}
	return best;
}

static const struct wgc_allowedips_node *find_v6(const struct wgc_allowedips *table,
						 const uint64_t a[2])
{
	const struct wgc_allowedips_node *node = table->root6;
	const struct wgc_allowedips_node *best = NULL;

	while (node && prefix_matches(node, a)) {
		if (node->owner)
			best = node;
		if (node->cidr == 128)
			break;
		node = at(table, node->child[bit_at(a, node->cidr)]);
	}
	return best;
}

struct wgc_allowedips_owner *wgc_trie_find(const struct wgc_allowedips *table, uint8_t family,
					   const uint8_t *ip)
{
	const struct wgc_allowedips_node *best;
	uint64_t a[2];

	if (!prefix_valid(family, ip, 0))
		return NULL;
	load_key(family, ip, family_bits(family), a);
	best = family == WGC_AF_INET ? find_v4(table, a[0]) : find_v6(table, a);
	return best ? best->owner : NULL;
}

/* ---- listing ---- */

size_t wgc_trie_list(const struct wgc_allowedips_owner *owner, struct wgc_prefix *out, size_t cap)
{
	const struct wgc_allowedips_node *node = owner->first;
	size_t i;

	for (i = 0; node && i < cap; i++, node = node->owner_next) {
		memset(&out[i], 0, sizeof(out[i]));
		out[i].family = node->family;
		out[i].cidr = node->cidr;
		wgc_store_be32(out[i].ip, (uint32_t)(node->key[0] >> 32));
		if (node->family == WGC_AF_INET6) {
			wgc_store_be32(out[i].ip + 4, (uint32_t)node->key[0]);
			wgc_store_be32(out[i].ip + 8, (uint32_t)(node->key[1] >> 32));
			wgc_store_be32(out[i].ip + 12, (uint32_t)node->key[1]);
		}
	}
	return owner->count;
}
