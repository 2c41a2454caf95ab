/* SPDX-License-Identifier: MIT */
/*
 * systemd's readiness protocol (sd_notify(3)) in the few lines it takes, without libsystemd:
 * datagrams of "KEY=VALUE" lines sent to the AF_UNIX socket named by $NOTIFY_SOCKET (a path, or
 * an abstract name written with a leading '@'). The socket is connected during setup, while the
 * file system is still reachable; later messages are one send() each, a call the seccomp
 * allow-list already has, so they work from inside the sandbox. All four calls are for main's
 * thread (configuration-time); none keeps state beyond the descriptor it returns.
 */
#ifndef WGC_DAEMON_NOTIFY_H
#define WGC_DAEMON_NOTIFY_H

#include <stdbool.h>

/* Connects to $NOTIFY_SOCKET. Returns the socket (close-on-exec), or -1 when the variable is
 * unset or empty (nothing to do, nothing logged) or the connection failed (logged once). Call in
 * the process that will keep running (after daemonizing), before the sandbox. */
int notify_connect(void);
/* Sends "READY=1", with "MAINPID=<this pid>" when is_detached (the process systemd started has
 * gone, this one carries on). Does nothing for fd < 0; a failure is logged, never fatal. */
void notify_ready(int fd, bool is_detached);
/* Sends "STOPPING=1" (shutdown has begun). Does nothing for fd < 0; failures are ignored. */
void notify_stopping(int fd);
/* Closes fd if it is >= 0. */
void notify_close(int fd);

#endif
