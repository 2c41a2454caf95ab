/* SPDX-License-Identifier: MIT */
/*
 * proxy/udp_tunnel: [UDPClientTunnel] (BindAddress on the host -> Target through the tunnel) and
 * [UDPServerTunnel] (ListenPort on the tunnel addresses -> Target on the host), with per-flow
 * state and idle expiry. Same thread as the rest of the proxy.
 */
#ifndef WGC_PROXY_UDP_TUNNEL_H
#define WGC_PROXY_UDP_TUNNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy/proxy.h"

/* Opens the UDP tunnels of px->cfg; false with one line in err. */
bool udp_tunnel_start(struct proxy *px, char *err, size_t err_size);
/* Expires idle flows; call about once a second, outside event dispatch. */
void udp_tunnel_sweep(struct proxy *px, uint64_t now);
/* Closes every flow and tunnel. */
void udp_tunnel_stop(struct proxy *px);

#endif
