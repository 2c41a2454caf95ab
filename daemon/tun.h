/* SPDX-License-Identifier: MIT */
/*
 * The TUN side of the daemon: creating the layer-3 interface (IFF_TUN | IFF_NO_PI), reading and
 * writing one IP packet per call, its MTU, and a netlink monitor that reports MTU changes and the
 * interface's deletion, and follows the interface when it is moved to another network namespace
 * (the daemon and its sockets stay where they are, as with wireguard-go and the kernel). It knows
 * nothing of WireGuard.
 *
 * Offloads: unless WGC_NO_OFFLOAD=1, the device is opened with IFF_VNET_HDR and TUNSETOFFLOAD
 * (checksum, TSO4/TSO6, and USO4/USO6 when the kernel has them), so every read and write carries a
 * struct virtio_net_hdr and reads may be GSO super-packets of up to 64 KiB (daemon/offload.h splits
 * them). Each step falls back cleanly when the kernel refuses it.
 */
#ifndef WGC_DAEMON_TUN_H
#define WGC_DAEMON_TUN_H

#include <linux/virtio_net.h>
#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>


enum {
	/* Most TUN queues (one per lane, device.h); the kernel allows 256. */
	TUN_QUEUES_MAX = 16,
};

struct tun {
	int fd;          /* nonblocking /dev/net/tun queue, -1 when closed */
	/* Every queue of the device this struct owns (queue_fds[0] == fd), queues of them; a view
	 * of one queue (tun_queue_view) owns none: queues 0, all -1. */
	int queue_fds[TUN_QUEUES_MAX];
	unsigned queues;
	bool is_multi_queue; /* IFF_MULTI_QUEUE */
	int ifindex;
	char name[IF_NAMESIZE];
	int monitor_fd;  /* NETLINK_ROUTE socket subscribed to link events, -1 when closed */
	/* Where the interface is: -1 in our network namespace; else the nsid (as our namespace
	 * numbers it) of the one it was moved to (ip link set ... netns), whose link events the
	 * monitor also receives (NETLINK_LISTEN_ALL_NSID); TUN_NSID_UNKNOWN when it moved where we
	 * cannot follow (MTU changes are then not seen). ifindex is its index there. */
	int link_nsid;
	bool has_vnet_hdr; /* reads and writes start with a struct virtio_net_hdr */
	bool has_tso;      /* TUNSETOFFLOAD took TSO: reads may be TCP super-packets */
	bool has_uso;      /* ... and USO: reads may be UDP super-packets */
};

/* Creates (or attaches to) the TUN interface called name with `queues` queues (1 to
 * TUN_QUEUES_MAX; IFF_MULTI_QUEUE when more than one, which an existing single-queue interface
 * refuses) and sets its MTU to WGC_DEFAULT_MTU (wgc.h). Returns 0 or -errno (logged). */
int tun_open(struct tun *tun, const char *name, unsigned queues);
/* out: the same interface seen through queue q (< tun->queues) alone, for a lane's reads and
 * writes: no monitor, owns no descriptor (tun_close of it does nothing). */
void tun_queue_view(const struct tun *tun, unsigned q, struct tun *out);
/* Closes every queue and the monitor. */
void tun_close(struct tun *tun);

/* Reads the interface's MTU; 0 or -errno. */
int tun_get_mtu(const struct tun *tun, uint32_t *mtu);

/* Reads one packet into buf and its virtio-net header into hdr (zeroed without IFF_VNET_HDR);
 * returns the packet's length, 0 when none is waiting, or -errno. */
ssize_t tun_read(const struct tun *tun, struct virtio_net_hdr *hdr, uint8_t *buf, size_t buf_size);
/* Writes one packet (behind a zeroed virtio-net header when the device has them); 0 or -errno. */
int tun_write(const struct tun *tun, const uint8_t *packet, size_t len);
/* Writes one packet made of iovcnt (<= TUN_WRITEV_MAX) pieces behind hdr. Only for a device with
 * has_vnet_hdr. 0 or -errno. */
enum { TUN_WRITEV_MAX = 64, TUN_NSID_UNKNOWN = -2 };
int tun_writev(const struct tun *tun, const struct virtio_net_hdr *hdr, const struct iovec *iov,
	       unsigned iovcnt);

/* What the link monitor saw since the last call. */
struct tun_events {
	bool deleted;  /* the TUN device itself is gone (asked of the TUN fd, not only netlink) */
	bool moved;    /* the interface left for another network namespace; the daemon goes on */
	/* In our namespace, on any interface: addresses removed (the first TUN_EVENT_ADDRS), and
	 * whether a route changed. The UDP side uses them to forget sticky source addresses. */
	struct {
		int family; /* AF_INET or AF_INET6 */
		uint8_t ip[16];
		int ifindex;
	} deleted_addrs[4];
	unsigned deleted_addr_count;
	bool has_lost_addrs; /* more were deleted than deleted_addrs holds */
	bool routes_changed;
	bool mtu_changed;
	uint32_t mtu;
};

/* Drains the monitor socket; returns 0 or -errno. */
int tun_monitor_read(struct tun *tun, struct tun_events *events);

#endif
