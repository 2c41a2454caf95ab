/* SPDX-License-Identifier: MIT */
/*
 * Addresses at the daemon's edge: conversion between the kernel's sockaddr and libwgc's struct
 * wgc_addr (IPv4-mapped IPv6 becomes IPv4, the IPv6 scope is kept), and their text form for logs
 * and UAPI replies. Pure functions: no sockets, no state; the UAPI parser's fuzz target links it.
 */
#ifndef WGC_DAEMON_ADDR_H
#define WGC_DAEMON_ADDR_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>

#include "wgc.h"

/* The two conversions run for every datagram (recvmmsg sources, sendmmsg destinations), so they
 * are inline here rather than a call into addr.c. */

/* Fills ss from addr; returns the sockaddr's length, 0 for a family it cannot express. */
static inline socklen_t addr_to_sockaddr(const struct wgc_addr *addr, struct sockaddr_storage *ss)
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

/* Fills addr from sa (AF_INET or AF_INET6; IPv4-mapped IPv6 becomes IPv4); false for any
 * other family. */
static inline bool addr_from_sockaddr(const struct sockaddr *sa, struct wgc_addr *addr)
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

/* The kernel's address family for a wgc family (AF_INET6 for anything but WGC_AF_INET). */
int addr_af(uint8_t family);

/* Room for "[v6%ifname]:port" and a terminator. */
enum { ADDR_TEXT_MAX = INET6_ADDRSTRLEN + 1 + 16 + 8 };
/* "a.b.c.d:port" or "[v6%scope]:port" (the scope by interface name where it has one, else by
 * number), as wireguard-go prints endpoints. Always terminates out; "?" for an invalid address. */
void addr_format(const struct wgc_addr *addr, char out[ADDR_TEXT_MAX]);
/* The IP alone ("a.b.c.d" or "v6", no scope or port) of family/ip. */
void addr_format_ip(uint8_t family, const uint8_t *ip, char out[INET6_ADDRSTRLEN]);

#endif
