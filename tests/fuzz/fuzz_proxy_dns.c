/* SPDX-License-Identifier: MIT */
/* wgc-proxy's DNS response reader over arbitrary bytes (as if from the tunnel's DNS server). */
#include <stddef.h>
#include <stdint.h>

#include "proxy/dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t addr[16];
	uint16_t id = size >= 2 ? (uint16_t)(data[0] << 8 | data[1]) : 0;

	(void)dns_parse_response(data, size, id, "web.wgc.test", DNS_TYPE_A, addr);
	(void)dns_parse_response(data, size, id, "web.wgc.test", DNS_TYPE_AAAA, addr);
	return 0;
}
