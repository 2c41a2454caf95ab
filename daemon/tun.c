/* SPDX-License-Identifier: MIT */
/*
 * TUN device and link monitor. The device is opened nonblocking so the event loop can drain it;
 * the monitor listens to RTM_NEWLINK / RTM_DELLINK for our ifindex, which is how the daemon learns
 * that `ip link set mtu` changed the MTU (the core pads to it) or that `ip link del` removed the
 * interface (the daemon then exits, as wireguard-go does).
 */
#include "daemon/tun.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "daemon/log.h"
#include "wgc.h"
#include "daemon/offload.h"

static int ifreq_ioctl(const char *name, unsigned long request, struct ifreq *ifr)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int ret = 0;

	if (fd < 0)
		fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	strncpy(ifr->ifr_name, name, IF_NAMESIZE - 1);
	if (ioctl(fd, request, ifr) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

static int set_mtu(const struct tun *tun, uint32_t mtu)
{
	struct ifreq ifr;
	int ret;

	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_mtu = (int)mtu;
	ret = ifreq_ioctl(tun->name, SIOCSIFMTU, &ifr);
	if (ret < 0)
		log_error("setting MTU %u on %s: %s", mtu, tun->name, strerror(-ret));
	return ret;
}

int tun_get_mtu(const struct tun *tun, uint32_t *mtu)
{
	struct ifreq ifr;
	int ret;

	memset(&ifr, 0, sizeof(ifr));
	ret = ifreq_ioctl(tun->name, SIOCGIFMTU, &ifr);
	if (ret < 0) {
		log_error("reading the MTU of %s: %s", tun->name, strerror(-ret));
		return ret;
	}
	*mtu = (uint32_t)ifr.ifr_mtu;
	return 0;
}

static int open_monitor(struct tun *tun)
{
	/* Links (ours); addresses and routes of every interface (sticky sources, see udp.h). */
	struct sockaddr_nl addr = { .nl_family = AF_NETLINK,
				    .nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR |
						 RTMGRP_IPV6_IFADDR | RTMGRP_IPV4_ROUTE |
						 RTMGRP_IPV6_ROUTE };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
	int one = 1;

	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		int ret = -errno;

		log_error("opening the netlink link monitor: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return ret;
	}
	/* Link events of namespaces our interface may move to (each gets an nsid here when it
	 * does): without them, MTU changes and the deletion of a moved interface go unseen. Needs
	 * CAP_NET_BROADCAST, which the opener (root, at setup) has; the kernel checks the
	 * socket's opener, so it keeps working after the capabilities are dropped. */
	if (setsockopt(fd, SOL_NETLINK, NETLINK_LISTEN_ALL_NSID, &one, sizeof(one)) < 0)
		log_verbose("following the interface into other namespaces: %s", strerror(errno));
	tun->monitor_fd = fd;
	return 0;
}

#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#define TUN_F_USO6 0x40
#endif

/* TUNSETOFFLOAD: TSO and USO if the kernel has USO (6.2+), else TSO alone, else nothing (the
 * virtio-net header stays, always with GSO_NONE). */
static void set_offloads(struct tun *tun)
{
	unsigned long tso = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;

	if (ioctl(tun->fd, TUNSETOFFLOAD, tso | TUN_F_USO4 | TUN_F_USO6) == 0) {
		tun->has_tso = true;
		tun->has_uso = true;
	} else if (ioctl(tun->fd, TUNSETOFFLOAD, tso) == 0) {
		tun->has_tso = true;
	} else {
		log_verbose("TUN offloads refused on %s: %s", tun->name, strerror(errno));
	}
	log_verbose("%s: virtio-net header, TSO %s, USO %s", tun->name,
		    tun->has_tso ? "on" : "off", tun->has_uso ? "on" : "off");
}

/* TUNSETIFF on fd with these flags (beyond IFF_TUN | IFF_NO_PI); the name the kernel gave goes
 * to tun->name. 0 or -errno. */
static int set_iff(struct tun *tun, int fd, const char *name, int flags)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = (short)(IFF_TUN | IFF_NO_PI | flags);
	strncpy(ifr.ifr_name, name, IF_NAMESIZE - 1);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0)
		return -errno;
	snprintf(tun->name, sizeof(tun->name), "%s", ifr.ifr_name);
	return 0;
}

/* Queue 0, with IFF_MULTI_QUEUE when more queues are wanted and IFF_VNET_HDR unless offloads are
 * off; each is dropped in turn when the kernel refuses it with EINVAL. 0 or -errno. */
static int open_first_queue(struct tun *tun, const char *name, bool want_multi)
{
	static const int combos[] = {
		IFF_MULTI_QUEUE | IFF_VNET_HDR, IFF_MULTI_QUEUE, IFF_VNET_HDR, 0,
	};
	bool want_vnet = !offload_is_disabled();
	int ret = -EINVAL;
	size_t i;

	for (i = 0; i < sizeof(combos) / sizeof(combos[0]); i++) {
		if (((combos[i] & IFF_MULTI_QUEUE) && !want_multi) ||
		    ((combos[i] & IFF_VNET_HDR) && !want_vnet))
			continue;
		ret = set_iff(tun, tun->fd, name, combos[i]);
		if (ret == 0) {
			tun->has_vnet_hdr = (combos[i] & IFF_VNET_HDR) != 0;
			tun->is_multi_queue = (combos[i] & IFF_MULTI_QUEUE) != 0;
			return 0;
		}
		if (ret != -EINVAL)
			return ret;
	}
	return ret;
}

/* Queues 1 .. wanted-1 of a multi-queue interface, with queue 0's flags. 0 or -errno. */
static int open_more_queues(struct tun *tun, unsigned wanted)
{
	int flags = IFF_MULTI_QUEUE | (tun->has_vnet_hdr ? IFF_VNET_HDR : 0);
	int fd;
	int ret;

	while (tun->queues < wanted) {
		fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
		ret = fd < 0 ? -errno : set_iff(tun, fd, tun->name, flags);
		if (ret < 0) {
			if (fd >= 0)
				close(fd);
			log_error("%s: opening TUN queue %u: %s", tun->name, tun->queues,
				  strerror(-ret));
			return ret;
		}
		tun->queue_fds[tun->queues++] = fd;
	}
	return 0;
}

static void close_queues(struct tun *tun)
{
	unsigned i;

	/* Only what this struct owns: queue_fds (fd is queue_fds[0]); a view owns none. */
	for (i = 0; i < TUN_QUEUES_MAX; i++) {
		if (tun->queue_fds[i] >= 0)
			close(tun->queue_fds[i]);
		tun->queue_fds[i] = -1;
	}
	tun->fd = -1;
	tun->queues = 0;
}

int tun_open(struct tun *tun, const char *name, unsigned queues)
{
	unsigned i;
	int ret;

	memset(tun, 0, sizeof(*tun));
	tun->fd = -1;
	for (i = 0; i < TUN_QUEUES_MAX; i++)
		tun->queue_fds[i] = -1;
	tun->monitor_fd = -1;
	tun->link_nsid = -1;
	if (strlen(name) >= IF_NAMESIZE) {
		log_error("interface name '%s' is longer than %d characters", name, IF_NAMESIZE - 1);
		return -EINVAL;
	}
	if (queues < 1 || queues > TUN_QUEUES_MAX) {
		log_error("%u TUN queues: from 1 to %d", queues, TUN_QUEUES_MAX);
		return -EINVAL;
	}
	snprintf(tun->name, sizeof(tun->name), "%s", name);
	ret = open_monitor(tun);
	if (ret < 0)
		return ret;
	tun->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (tun->fd < 0) {
		ret = -errno;
		log_error("opening /dev/net/tun: %s", strerror(errno));
		goto undo_monitor;
	}
	tun->queue_fds[0] = tun->fd;
	ret = open_first_queue(tun, name, queues > 1);
	if (ret < 0) {
		log_error("creating TUN interface %s: %s", name, strerror(-ret));
		goto undo_fd;
	}
	tun->queues = 1;
	if (queues > 1 && !tun->is_multi_queue) {
		ret = -EINVAL;
		log_error("%s: %u queues asked for, but the interface is single-queue (it existed "
			  "before, or the kernel refused IFF_MULTI_QUEUE)", tun->name, queues);
		goto undo_fd;
	}
	ret = open_more_queues(tun, queues);
	if (ret < 0)
		goto undo_fd;
	if (tun->has_vnet_hdr)
		set_offloads(tun);
	tun->ifindex = (int)if_nametoindex(tun->name);
	if (tun->ifindex == 0) {
		ret = -errno;
		log_error("looking up the index of %s: %s", tun->name, strerror(errno));
		goto undo_fd;
	}
	ret = set_mtu(tun, WGC_DEFAULT_MTU);
	if (ret < 0)
		goto undo_fd;
	return 0;
undo_fd:
	close_queues(tun);
undo_monitor:
	close(tun->monitor_fd);
	tun->monitor_fd = -1;
	return ret;
}

void tun_queue_view(const struct tun *tun, unsigned q, struct tun *out)
{
	unsigned i;

	*out = *tun;
	out->fd = tun->queue_fds[q];
	out->monitor_fd = -1;
	out->queues = 0;
	for (i = 0; i < TUN_QUEUES_MAX; i++)
		out->queue_fds[i] = -1;
}

void tun_close(struct tun *tun)
{
	close_queues(tun);
	if (tun->monitor_fd >= 0)
		close(tun->monitor_fd);
	tun->monitor_fd = -1;
}

ssize_t tun_read(const struct tun *tun, struct virtio_net_hdr *hdr, uint8_t *buf, size_t buf_size)
{
	struct iovec iov[2] = { { hdr, sizeof(*hdr) }, { buf, buf_size } };
	ssize_t n;

	if (tun->has_vnet_hdr) {
		n = readv(tun->fd, iov, 2);
		if (n >= 0 && (size_t)n < sizeof(*hdr))
			return 0; /* cannot happen: the kernel writes the header first */
		if (n >= 0)
			return n - (ssize_t)sizeof(*hdr);
	} else {
		memset(hdr, 0, sizeof(*hdr));
		n = read(tun->fd, buf, buf_size);
		if (n >= 0)
			return n;
	}
	if (errno == EAGAIN || errno == EINTR)
		return 0;
	return -errno;
}

int tun_write(const struct tun *tun, const uint8_t *packet, size_t len)
{
	struct virtio_net_hdr hdr;
	struct iovec iov = { (void *)(uintptr_t)packet, len };
	ssize_t n;

	if (tun->has_vnet_hdr) {
		memset(&hdr, 0, sizeof(hdr));
		return tun_writev(tun, &hdr, &iov, 1);
	}
	n = write(tun->fd, packet, len);
	if (n < 0)
		return -errno;
	return 0;
}

int tun_writev(const struct tun *tun, const struct virtio_net_hdr *hdr, const struct iovec *iov,
	       unsigned iovcnt)
{
	struct iovec all[TUN_WRITEV_MAX + 1];

	if (iovcnt > TUN_WRITEV_MAX)
		return -EMSGSIZE;
	all[0].iov_base = (void *)(uintptr_t)hdr;
	all[0].iov_len = sizeof(*hdr);
	memcpy(all + 1, iov, iovcnt * sizeof(*iov));
	if (writev(tun->fd, all, (int)iovcnt + 1) < 0)
		return -errno;
	return 0;
}

/* Whether the TUN device behind our fd still exists: the fd answers TUNGETIFF until the
 * device is deleted (EBADFD then), wherever the interface has moved. */
static bool is_tun_alive(const struct tun *tun)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	return ioctl(tun->fd, TUNGETIFF, &ifr) == 0;
}

static bool attr_u32(const struct rtattr *rta, int32_t *out)
{
	if (RTA_PAYLOAD(rta) < sizeof(*out))
		return false;
	memcpy(out, RTA_DATA(rta), sizeof(*out));
	return true;
}

/* One RTM_NEWLINK/RTM_DELLINK from namespace nsid (-1: ours). */
static void parse_link(struct tun *tun, const struct nlmsghdr *nh, int nsid,
		       struct tun_events *events)
{
	const struct ifinfomsg *ifi = NLMSG_DATA(nh);
	const struct rtattr *rta;
	int32_t new_nsid = TUN_NSID_UNKNOWN;
	int32_t new_ifindex = 0;
	int len;

	if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(*ifi)) || ifi->ifi_index != tun->ifindex ||
	    nsid != tun->link_nsid)
		return;
	len = (int)(nh->nlmsg_len - NLMSG_LENGTH(sizeof(*ifi)));
	for (rta = IFLA_RTA(ifi); RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
		if (rta->rta_type == IFLA_MTU && nh->nlmsg_type == RTM_NEWLINK &&
		    RTA_PAYLOAD(rta) >= sizeof(uint32_t)) {
			memcpy(&events->mtu, RTA_DATA(rta), sizeof(uint32_t));
			events->mtu_changed = true;
		} else if (rta->rta_type == IFLA_NEW_NETNSID) {
			(void)attr_u32(rta, &new_nsid);
		} else if (rta->rta_type == IFLA_NEW_IFINDEX) {
			(void)attr_u32(rta, &new_ifindex);
		}
	}
	if (nh->nlmsg_type != RTM_DELLINK)
		return;
	/* A link that leaves a namespace is deleted there too: ask the TUN fd itself. */
	if (!is_tun_alive(tun)) {
		events->deleted = true;
		return;
	}
	events->moved = true;
	/* The new nsid is in the sender's numbering, which is ours only while the sender is our
	 * own namespace; a second move is followed only by what we can still hear. */
	tun->link_nsid = nsid == -1 && new_nsid >= 0 ? new_nsid : TUN_NSID_UNKNOWN;
	if (new_ifindex > 0)
		tun->ifindex = new_ifindex;
}

/* RTM_DELADDR in our namespace: an address that may have been a sticky source. */
static void parse_deladdr(const struct nlmsghdr *nh, struct tun_events *events)
{
	const struct ifaddrmsg *ifa = NLMSG_DATA(nh);
	const struct rtattr *rta;
	size_t ip_len;
	unsigned k;
	int len;

	if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(*ifa)) ||
	    (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6))
		return;
	if (events->deleted_addr_count == sizeof(events->deleted_addrs) /
						 sizeof(events->deleted_addrs[0])) {
		events->has_lost_addrs = true;
		return;
	}
	k = events->deleted_addr_count;
	ip_len = ifa->ifa_family == AF_INET ? 4 : 16;
	len = (int)(nh->nlmsg_len - NLMSG_LENGTH(sizeof(*ifa)));
	for (rta = IFA_RTA(ifa); RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
		/* IFA_LOCAL is our side of a point-to-point address; IFA_ADDRESS otherwise. */
		if ((rta->rta_type == IFA_LOCAL || rta->rta_type == IFA_ADDRESS) &&
		    RTA_PAYLOAD(rta) >= ip_len) {
			memset(events->deleted_addrs[k].ip, 0, sizeof(events->deleted_addrs[k].ip));
			memcpy(events->deleted_addrs[k].ip, RTA_DATA(rta), ip_len);
			events->deleted_addrs[k].family = ifa->ifa_family;
			events->deleted_addrs[k].ifindex = (int)ifa->ifa_index;
			if (rta->rta_type == IFA_LOCAL)
				break;
		}
	}
	if (events->deleted_addrs[k].family)
		events->deleted_addr_count++;
}

/* The nsid a netlink message came from (NETLINK_LISTEN_ALL_NSID), -1 for our own namespace. */
static int message_nsid(struct msghdr *m)
{
	struct cmsghdr *c;
	int nsid;

	for (c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
		if (c->cmsg_level == SOL_NETLINK && c->cmsg_type == NETLINK_LISTEN_ALL_NSID &&
		    c->cmsg_len >= CMSG_LEN(sizeof(nsid))) {
			memcpy(&nsid, CMSG_DATA(c), sizeof(nsid));
			return nsid;
		}
	}
	return -1;
}

int tun_monitor_read(struct tun *tun, struct tun_events *events)
{
	/* Netlink messages are 4-byte aligned; a uint32_t array keeps the casts below aligned. */
	uint32_t buf[8192 / sizeof(uint32_t)];
	const struct nlmsghdr *nh;
	ssize_t n;
	size_t left;

	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct msghdr m;
	int nsid;

	memset(events, 0, sizeof(*events));
	for (;;) {
		memset(&m, 0, sizeof(m));
		m.msg_iov = &iov;
		m.msg_iovlen = 1;
		m.msg_control = control.buf;
		m.msg_controllen = sizeof(control.buf);
		n = recvmsg(tun->monitor_fd, &m, MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		/* ENOBUFS: we missed events; the caller re-reads the MTU (by name, so only while the
		 * interface is ours), deletion shows on the fd. */
		if (n < 0 && errno == ENOBUFS) {
			events->mtu_changed = tun->link_nsid == -1 && tun_get_mtu(tun, &events->mtu) == 0;
			continue;
		}
		if (n < 0)
			return -errno;
		left = (size_t)n;
		nsid = message_nsid(&m);
		for (nh = (const struct nlmsghdr *)buf; NLMSG_OK(nh, left); nh = NLMSG_NEXT(nh, left))
			if (nh->nlmsg_type == RTM_NEWLINK || nh->nlmsg_type == RTM_DELLINK)
				parse_link(tun, nh, nsid, events);
			else if (nh->nlmsg_type == RTM_DELADDR && nsid == -1)
				parse_deladdr(nh, events);
			else if ((nh->nlmsg_type == RTM_NEWROUTE ||
				  nh->nlmsg_type == RTM_DELROUTE) && nsid == -1)
				events->routes_changed = true;
	}
}
