/* SPDX-License-Identifier: MIT */
/*
 * Steering received WireGuard datagrams to their lane (docs/SCALING.md) in the kernel: the lanes'
 * UDP sockets of one family form one SO_REUSEPORT group, and a classic BPF program on the group
 * picks the socket of each datagram from our receiver index. Lane L's endpoint makes only
 * receiver indices whose most significant byte is L modulo N; the index is little-endian on the
 * wire, so its top byte is payload byte 7 of a cookie reply (type 3) or data message (type 4),
 * byte 11 of a response (type 2). Initiations (type 1), unknown types and datagrams too short to
 * hold that byte go to lane 0. The type is the first byte alone, as the daemon's other
 * classifiers read it (hsqueue.h); a datagram with junk in the other three type bytes is steered
 * as its first byte says and dropped by the owner's core (BAD_TYPE). No syscalls but the
 * setsockopt; no state.
 *
 * The group. The program's return value is a socket's position in the group, which is the order
 * in which the sockets joined it (bound to the port): the caller binds lane 0's socket first, then
 * lane 1's, ..., lane N-1's, one group per family. The kernel fills the hole a closed socket
 * leaves with the group's last socket, so positions stop matching lanes as soon as any socket of
 * the group is closed: the sockets are re-created together (all closed, then all bound again in
 * lane order), never one by one. While a group has fewer than N sockets, a datagram whose lane is
 * not yet bound is placed by the kernel's hash instead.
 *
 * Thread rules: both functions are callable from any thread; reuseport_attach_steering is
 * configuration-time (it changes the group every lane receives from).
 */
#ifndef WGC_DAEMON_REUSEPORT_H
#define WGC_DAEMON_REUSEPORT_H

#include <stddef.h>
#include <stdint.h>

#include "wgc.h"

enum {
	REUSEPORT_LANES_MAX = 255,
};

/*
 * Attaches the steering program for n lanes (1..REUSEPORT_LANES_MAX) with
 * SO_ATTACH_REUSEPORT_CBPF to fd, a UDP socket with SO_REUSEPORT set: the program then belongs to
 * the socket's whole group (attach it once per group, to any member; attaching again replaces
 * it). Best done after all n sockets are bound. n == 1: nothing to steer, no program and no system
 * call. Returns 0, -EINVAL for n out of range, or -errno of setsockopt (logged).
 */
WGC_MUST_CHECK int reuseport_attach_steering(int fd, unsigned n);

/*
 * The lane the steering program picks for a datagram of len bytes at payload (borrowed for the
 * call), for tests and for a lane that holds a datagram steered elsewhere (one merged into a
 * batch by UDP GRO is steered by its first segment). n as above; n == 0 is taken as 1. Pure.
 */
unsigned reuseport_lane_of(const uint8_t *payload, size_t len, unsigned n);

#endif
