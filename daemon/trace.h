/* SPDX-License-Identifier: MIT */
/*
 * Verbose logging of the protocol's control messages, in wireguard-go's wording ("peer(abcd…wxyz)
 * - Sending handshake initiation"), so operators can read wgc's log as they read wireguard-go's.
 * Peers are named by four characters at each end of their public key's base64, never more. Every
 * call returns at once unless LOG_LEVEL is verbose. Event-loop thread only.
 */
#ifndef WGC_DAEMON_TRACE_H
#define WGC_DAEMON_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "wgc.h"

enum { TRACE_PEER_NAME_MAX = 24 };

/* "abcd…wxyz" for peer, "?" for NULL. */
void trace_peer_name(const struct wgc_peer *peer, char out[TRACE_PEER_NAME_MAX]);
/* A SEND action the core emitted: its handshake, cookie or keepalive message. */
void trace_sent(const struct wgc_action *a);
/* A datagram whose receive_prepare did not say CRYPTO: the handshake or cookie message taken or
 * dropped (type and len as received; data messages and keepalives are not logged). Anyone can
 * send those, so these lines are rate-limited (10/s after a burst of 20; the number held back is
 * reported with the next line). */
void trace_received(uint8_t type, size_t len, const struct wgc_addr *src,
		    const struct wgc_receive_job *job);
/* The same for a message refused before prepare (wgc_receive_precheck's reason). */
void trace_received_reason(uint8_t type, size_t len, const struct wgc_addr *src,
			   enum wgc_drop_reason drop);
/* The core gave up on a peer's handshake. */
void trace_purged(const struct wgc_peer *peer);

#endif
