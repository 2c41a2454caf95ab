/* SPDX-License-Identifier: MIT */
/* The wgc-proxy configuration parser over arbitrary bytes (WGConfig imports refused). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "proxy/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config cfg;
	char err[CONFIG_ERROR_MAX];

	memset(&cfg, 0, sizeof(cfg));
	(void)config_parse(&cfg, "fuzz.conf", (const char *)data, size, NULL, NULL, err,
			   sizeof(err));
	config_free(&cfg);
	return 0;
}
