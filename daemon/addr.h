/* SPDX-License-Identifier: MIT */
/*
 * Addresses at the daemon's edge: conversion between the kernel's sockaddr and libwgc's struct
 * wgc_addr (IPv4-mapped IPv6 becomes IPv4, the IPv6 scope is kept), and their text form for logs
 * and UAPI replies. Pure functions: no sockets, no state; the UAPI parser's fuzz target links it.
 */
#ifndef WGC_DAEMON_ADDR_H
#define WGC_DAEMON_ADDR_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "wgc.h"

/* Fills ss from addr; returns the sockaddr's length, 0 for a family it cannot express. */
socklen_t addr_to_sockaddr(const struct wgc_addr *addr, struct sockaddr_storage *ss);
/* Fills addr from sa (AF_INET or AF_INET6); false for any other family. */
bool addr_from_sockaddr(const struct sockaddr *sa, struct wgc_addr *addr);
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
