/* SPDX-License-Identifier: MIT */
/*
 * Benchmark of the allowed-IPs trie at Internet-table scale: a million IPv4 and a million IPv6
 * routes over a few thousand owners, then longest-prefix lookups per second for each family
 * (median of five runs). It prints numbers and asserts nothing; the tests own correctness.
 */
#include "core/allowedips.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum {
	ROUTES_PER_FAMILY = 1000000,
	OWNERS = 4096,
	V6_ALLOCATIONS = 4096, /* /32s the IPv6 routes and addresses cluster in */
	LOOKUP_ADDRS = 1 << 20, /* pre-drawn so the generator stays out of the timing */
	HOT_ADDRS = 4096,       /* destinations of the "hot" runs, whose paths stay cached */
	RUNS = 5,
};

static const double RUN_SECONDS = 0.2;

static uint64_t rng_state = 0x0a11d1b5be4c4ULL;

static uint64_t rng(void) /* splitmix64 */
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void store_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Roughly a BGP table's shape: mostly /24, a good share of /16-/23, some longer and shorter. */
static uint8_t v4_cidr(void)
{
	unsigned r = (unsigned)(rng() % 100);

	if (r < 55)
		return 24;
	if (r < 75)
		return (uint8_t)(16 + rng() % 8);
	if (r < 85)
		return 32;
	if (r < 95)
		return (uint8_t)(25 + rng() % 7);
	return (uint8_t)(8 + rng() % 8);
}

/* Site and subnet prefixes inside a few thousand provider /32s, plus host routes. */
static uint8_t v6_cidr(void)
{
	unsigned r = (unsigned)(rng() % 100);

	if (r < 40)
		return 48;
	if (r < 60)
		return 64;
	if (r < 75)
		return 56;
	if (r < 85)
		return 128;
	if (r < 95)
		return (uint8_t)(40 + rng() % 8);
	return (uint8_t)(29 + rng() % 8);
}

static uint32_t v6_allocation[V6_ALLOCATIONS];

static void v6_addr(uint8_t ip[16])
{
	store_be32(ip, v6_allocation[rng() % V6_ALLOCATIONS]);
	store_be32(ip + 4, (uint32_t)rng());
	store_be32(ip + 8, (uint32_t)rng());
	store_be32(ip + 12, (uint32_t)rng());
}

static uint32_t routes_total(const struct wgc_allowedips_owner *owners)
{
	uint32_t n = 0;

	for (int i = 0; i < OWNERS; i++)
		n += owners[i].count;
	return n;
}

static double insert_routes(struct wgc_allowedips *table, struct wgc_allowedips_owner *owners,
			    uint8_t family)
{
	double start = now_s();

	for (uint32_t i = 0; i < ROUTES_PER_FAMILY; i++) {
		struct wgc_allowedips_owner *owner;
		uint8_t ip[16] = {0};
		uint8_t cidr;

		if (family == WGC_AF_INET) {
			store_be32(ip, (uint32_t)rng());
			cidr = v4_cidr();
		} else {
			v6_addr(ip);
			cidr = v6_cidr();
		}
		owner = &owners[rng() % OWNERS];
		if (wgc_trie_insert(table, family, ip, cidr, owner) != WGC_OK) {
			fprintf(stderr, "bench_allowedips: insert %" PRIu32 " failed\n", i);
			exit(1);
		}
	}
	return now_s() - start;
}

/* One timed run: cycles through the addresses for RUN_SECONDS; returns ns per lookup. */
static double lookup_run(const struct wgc_allowedips *table, uint8_t family, const uint8_t *addrs,
			 size_t *hits, size_t *lookups)
{
	size_t stride = family == WGC_AF_INET ? 4 : 16;
	size_t done = 0;
	size_t i = 0;
	double start = now_s();
	double elapsed;

	do {
		for (int k = 0; k < 4096; k++) {
			*hits += wgc_trie_find(table, family, addrs + i * stride) != NULL;
			i = (i + 1) & (LOOKUP_ADDRS - 1);
		}
		done += 4096;
		elapsed = now_s() - start;
	} while (elapsed < RUN_SECONDS);
	*lookups += done;
	return elapsed * 1e9 / (double)done;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a;
	double y = *(const double *)b;

	return (x > y) - (x < y);
}

/*
 * Random addresses over a million routes measure memory latency: about twenty dependent node
 * reads, most of them cache and TLB misses. Real traffic goes to fewer destinations, so a second
 * set of runs cycles through HOT_ADDRS addresses, whose paths can stay in the last-level cache.
 */
static void bench_lookups(const struct wgc_allowedips *table, uint8_t family, bool hot)
{
	size_t stride = family == WGC_AF_INET ? 4 : 16;
	uint8_t *addrs = malloc((size_t)LOOKUP_ADDRS * stride);
	double ns[RUNS];
	const char *what = family == WGC_AF_INET ? "uniformly random addresses" :
						   "random addresses in routed /32s";
	size_t hits = 0;
	size_t lookups = 0;

	if (!addrs) {
		perror("malloc");
		exit(1);
	}
	for (size_t i = 0; i < LOOKUP_ADDRS; i++) {
		if (hot && i >= HOT_ADDRS)
			memcpy(addrs + i * stride, addrs + (rng() % HOT_ADDRS) * stride, stride);
		else if (family == WGC_AF_INET)
			store_be32(addrs + 4 * i, (uint32_t)rng());
		else
			v6_addr(addrs + 16 * i);
	}
	(void)lookup_run(table, family, addrs, &hits, &lookups); /* warm-up */
	hits = 0;
	lookups = 0;
	for (int r = 0; r < RUNS; r++)
		ns[r] = lookup_run(table, family, addrs, &hits, &lookups);
	qsort(ns, RUNS, sizeof(ns[0]), cmp_double);
	printf("  %s lookups (%s%s): %.1f ns/lookup, %.2f Mlookups/s (median of %d, min %.1f, "
	       "max %.1f ns), %.0f%% matched\n",
	       family == WGC_AF_INET ? "v4" : "v6", what, hot ? ", 4096 hot" : "", ns[RUNS / 2],
	       1e3 / ns[RUNS / 2], RUNS, ns[0], ns[RUNS - 1],
	       100.0 * (double)hits / (double)lookups);
	free(addrs);
}

static void report_family(const char *name, uint32_t routes, uint32_t nodes, size_t node_size,
			  double insert_s)
{
	printf("%s: %" PRIu32 " routes (%d inserted, repeats moved), %" PRIu32 " nodes, %zu bytes "
	       "of nodes (%.1f bytes/route), insert %.0f ns/route\n",
	       name, routes, ROUTES_PER_FAMILY, nodes, (size_t)nodes * node_size,
	       (double)nodes * (double)node_size / routes, insert_s * 1e9 / ROUTES_PER_FAMILY);
}

int main(void)
{
	uint32_t max_routes = 2 * ROUTES_PER_FAMILY;
	/* mem_size holds two nodes per route (route and branch) plus a constant slack */
	size_t node_size = (wgc_trie_mem_size(2) - wgc_trie_mem_size(1)) / 2;
	struct wgc_allowedips_owner *owners = calloc(OWNERS, sizeof(*owners));
	void *mem = calloc(1, wgc_trie_mem_size(max_routes));
	struct wgc_allowedips table;
	uint32_t routes4, nodes4;
	double insert4_s, insert6_s;

	if (!owners || !mem) {
		perror("calloc");
		return 1;
	}
	wgc_trie_init(&table, mem, max_routes);
	for (int i = 0; i < V6_ALLOCATIONS; i++)
		v6_allocation[i] = 0x20000000u | ((uint32_t)rng() & 0x1fffffffu);

	printf("bench_allowedips: %zu-byte nodes, %d owners\n", node_size, OWNERS);
	insert4_s = insert_routes(&table, owners, WGC_AF_INET);
	routes4 = routes_total(owners);
	nodes4 = table.pool_size - table.free_count;
	insert6_s = insert_routes(&table, owners, WGC_AF_INET6);
	report_family("v4", routes4, nodes4, node_size, insert4_s);
	report_family("v6", routes_total(owners) - routes4,
		      table.pool_size - table.free_count - nodes4, node_size, insert6_s);
	printf("total: %" PRIu32 " routes, %zu bytes of nodes in use\n", routes_total(owners),
	       (size_t)(table.pool_size - table.free_count) * node_size);

	bench_lookups(&table, WGC_AF_INET, false);
	bench_lookups(&table, WGC_AF_INET6, false);
	bench_lookups(&table, WGC_AF_INET, true);
	bench_lookups(&table, WGC_AF_INET6, true);

	free(mem);
	free(owners);
	return 0;
}
