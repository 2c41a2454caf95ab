/* SPDX-License-Identifier: MIT */
/*
 * The device's limits and sizes: the types device.h's calls take, apart so that the device's own
 * header (device_int.h) can use them without including device.h.
 */
#ifndef WGC_DAEMON_DEVICE_TYPES_H
#define WGC_DAEMON_DEVICE_TYPES_H

#include <stdint.h>

#include "daemon/tun.h"

enum {
	DEVICE_LANES_MAX = TUN_QUEUES_MAX,
	/* Each lane's inbox: slots of a TUN super-packet (or a datagram) each, mapped lazily. */
	DEVICE_INBOX_SLOTS = 256,
	DEVICE_INBOX_SLOT_BYTES = 65536 + 64,
};

struct device_limits {
	uint32_t max_peers;
	uint32_t max_allowed_ips;
};

#endif
