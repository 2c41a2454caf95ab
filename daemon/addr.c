/* SPDX-License-Identifier: MIT */
/*
 * sockaddr <-> struct wgc_addr, and addresses as text. See addr.h.
 */
#include "daemon/addr.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

int addr_af(uint8_t family)
{
	return family == WGC_AF_INET ? AF_INET : AF_INET6;
}

void addr_format_ip(uint8_t family, const uint8_t *ip, char out[INET6_ADDRSTRLEN])
{
	if (!inet_ntop(addr_af(family), ip, out, INET6_ADDRSTRLEN))
		snprintf(out, INET6_ADDRSTRLEN, "?");
}

void addr_format(const struct wgc_addr *addr, char out[ADDR_TEXT_MAX])
{
	char ip[INET6_ADDRSTRLEN];
	char scope[IF_NAMESIZE + 1] = "";

	if (addr->family != WGC_AF_INET && addr->family != WGC_AF_INET6) {
		snprintf(out, ADDR_TEXT_MAX, "?");
		return;
	}
	addr_format_ip(addr->family, addr->ip, ip);
	if (addr->family == WGC_AF_INET) {
		snprintf(out, ADDR_TEXT_MAX, "%s:%u", ip, addr->port);
		return;
	}
	if (addr->scope_id) {
		scope[0] = '%';
		if (!if_indextoname(addr->scope_id, scope + 1))
			snprintf(scope, sizeof(scope), "%%%u", addr->scope_id);
	}
	snprintf(out, ADDR_TEXT_MAX, "[%s%s]:%u", ip, scope, addr->port);
}
