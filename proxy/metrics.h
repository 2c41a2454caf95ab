/* SPDX-License-Identifier: MIT */
/*
 * proxy/metrics: the counters of SIGUSR1's status as Prometheus text, served over HTTP on
 * --metrics ADDR:PORT (one response per connection, whatever the request).
 */
#ifndef WGC_PROXY_METRICS_H
#define WGC_PROXY_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "proxy/proxy.h"

/* Listens on addr ("IP:PORT", "[IPv6]:PORT"); false with one line in err. */
bool metrics_start(struct proxy *px, const char *addr, char *err, size_t err_size);
void metrics_stop(struct proxy *px);
/* Writes the metrics text to f. */
void metrics_write(struct proxy *px, FILE *f);

#endif
