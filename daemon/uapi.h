/* SPDX-License-Identifier: MIT */
/*
 * The cross-platform userspace API, spoken on /var/run/wireguard/IFACE.sock exactly as wireguard-go
 * speaks it, so the wg tool, wg-quick and wgctrl work unchanged. Three parts:
 *   - the server (uapi.c): the listening socket and nonblocking clients, each a source of the event
 *     loop with its own bounded buffers, so a slow, huge or malformed request never stalls the
 *     daemon or other clients;
 *   - the protocol against the device (uapi_config.c): a set request parsed whole, validated
 *     (capacity, sockets) before anything changes, then applied through the device layer's
 *     configuration calls; the get reply formatted from read-only getters;
 *   - the parser (uapi_parse.h), pure and fuzzed.
 * Everything runs on the event-loop thread.
 */
#ifndef WGC_DAEMON_UAPI_H
#define WGC_DAEMON_UAPI_H

#include <stdbool.h>
#include <stddef.h>

#include "daemon/uapi_parse.h"

struct device;
struct loop;
struct uapi_server;

/* ---- server ---- */

/* Where the sockets live, as wireguard-go and the wg tool expect. */
#define UAPI_SOCKET_DIR "/var/run/wireguard"

/* Creates /var/run/wireguard (0755) and the listening socket IFNAME.sock (0600), and registers it
 * with loop; requests are answered against dev. A stale socket file is replaced; a live one
 * (another daemon answers on it) is -EADDRINUSE. When the socket file is removed by someone else
 * the server stops the loop (status 0), as wireguard-go does. loop and dev are borrowed until
 * uapi_server_close. 0 or -errno, logged. */
int uapi_server_open(const char *ifname, struct loop *loop, struct device *dev,
		     struct uapi_server **out);
/* Closes every client and the socket, leaves the loop and removes the socket file. NULL is fine. */
void uapi_server_close(struct uapi_server *server);

/* ---- protocol (uapi_config.c) ---- */

/* Parses, validates and applies a set request body; the configuration is untouched unless it
 * returns 0. Returns 0 or the negative errno for the reply. */
int uapi_set(struct device *dev, const char *body, size_t len);
/* Appends the get reply up to, not including, the errno line. 0 or -ENOMEM. */
int uapi_get(const struct device *dev, struct uapi_text *out);

#endif
