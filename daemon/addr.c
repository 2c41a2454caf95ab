/* SPDX-License-Identifier: MIT */
/*
 * sockaddr <-> struct wgc_addr, and addresses as text. See addr.h.
 */
#include "daemon/addr.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

socklen_t addr_to_sockaddr(const struct wgc_addr *addr, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (addr->family == WGC_AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(addr->port);
		memcpy(&sin->sin_addr, addr->ip, 4);
		return sizeof(*sin);
	}
	if (addr->family == WGC_AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(addr->port);
		sin6->sin6_scope_id = addr->scope_id;
		memcpy(&sin6->sin6_addr, addr->ip, 16);
		return sizeof(*sin6);
	}
	return 0;
}

bool addr_from_sockaddr(const struct sockaddr *sa, struct wgc_addr *addr)
{
	memset(addr, 0, sizeof(*addr));
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)sa;

		addr->family = WGC_AF_INET;
		addr->port = ntohs(sin->sin_port);
		memcpy(addr->ip, &sin->sin_addr, 4);
		return true;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)(const void *)sa;

		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			addr->family = WGC_AF_INET;
			memcpy(addr->ip, sin6->sin6_addr.s6_addr + 12, 4);
		} else {
			addr->family = WGC_AF_INET6;
			memcpy(addr->ip, &sin6->sin6_addr, 16);
			addr->scope_id = sin6->sin6_scope_id;
		}
		addr->port = ntohs(sin6->sin6_port);
		return true;
	}
	return false;
}

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
