/* SPDX-License-Identifier: MIT */
/*
 * The TUN side of the daemon: creating the layer-3 interface (IFF_TUN | IFF_NO_PI), reading and
 * writing one IP packet per call, its MTU, and a netlink monitor that reports MTU changes and the
 * interface's deletion. It knows nothing of WireGuard.
 */
#ifndef WGC_DAEMON_TUN_H
#define WGC_DAEMON_TUN_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum { TUN_DEFAULT_MTU = 1420 };

struct tun {
	int fd;          /* nonblocking /dev/net/tun queue, -1 when closed */
	int ifindex;
	char name[IF_NAMESIZE];
	int monitor_fd;  /* NETLINK_ROUTE socket subscribed to link events, -1 when closed */
};

/* Creates (or attaches to) the TUN interface called name and sets its MTU to TUN_DEFAULT_MTU.
 * Returns 0 or -errno (logged). */
int tun_open(struct tun *tun, const char *name);
void tun_close(struct tun *tun);

/* Reads the interface's MTU; 0 or -errno. */
int tun_get_mtu(const struct tun *tun, uint32_t *mtu);

/* Reads one packet into buf; returns its length, 0 when none is waiting, or -errno. */
ssize_t tun_read(const struct tun *tun, uint8_t *buf, size_t buf_size);
/* Writes one packet; 0 or -errno. */
int tun_write(const struct tun *tun, const uint8_t *packet, size_t len);

/* What the link monitor saw since the last call. */
struct tun_events {
	bool deleted;
	bool mtu_changed;
	uint32_t mtu;
};

/* Drains the monitor socket; returns 0 or -errno. */
int tun_monitor_read(struct tun *tun, struct tun_events *events);

#endif
