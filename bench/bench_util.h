/* SPDX-License-Identifier: MIT */
/*
 * Small helpers shared by the micro-benchmarks: monotonic and CPU clocks in nanoseconds, the median
 * of a handful of repetitions, the CPU model for the report header and the resident set size. The
 * benchmarks print figures and never assert; these helpers only measure.
 */
#ifndef WGC_BENCH_BENCH_UTIL_H
#define WGC_BENCH_BENCH_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/bytes.h"

static inline uint64_t bench_clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * WGC_NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* Wall time on the monotonic clock. */
static inline uint64_t bench_now_ns(void)
{
	return bench_clock_ns(CLOCK_MONOTONIC);
}

/* CPU time this process used (all threads). */
static inline uint64_t bench_cpu_ns(void)
{
	return bench_clock_ns(CLOCK_PROCESS_CPUTIME_ID);
}

/* Median of v[0..n) (n >= 1); sorts v in place (insertion sort: n is a handful of runs). */
static inline double bench_median(double *v, int n)
{
	for (int i = 1; i < n; i++) {
		double x = v[i];
		int j = i - 1;

		while (j >= 0 && v[j] > x) {
			v[j + 1] = v[j];
			j--;
		}
		v[j + 1] = x;
	}
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The first "model name" of /proc/cpuinfo, or "unknown". */
static inline void bench_cpu_model(char *out, size_t size)
{
	char line[256];
	FILE *f = fopen("/proc/cpuinfo", "r");

	snprintf(out, size, "unknown");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');

		if (strncmp(line, "model name", 10) != 0 || !colon)
			continue;
		colon++;
		while (*colon == ' ' || *colon == '\t')
			colon++;
		colon[strcspn(colon, "\n")] = '\0';
		snprintf(out, size, "%s", colon);
		break;
	}
	fclose(f);
}

/* Resident set size in bytes from /proc/self/statm, or 0 if it cannot be read. */
static inline size_t bench_rss_bytes(void)
{
	unsigned long pages_total = 0;
	unsigned long pages_resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (!f)
		return 0;
	if (fscanf(f, "%lu %lu", &pages_total, &pages_resident) != 2)
		pages_resident = 0;
	fclose(f);
	return (size_t)pages_resident * (size_t)sysconf(_SC_PAGESIZE);
}

#endif
