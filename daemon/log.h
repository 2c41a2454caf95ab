/* SPDX-License-Identifier: MIT */
/*
 * Logging for the daemon: one line per event, to stderr in the foreground or to syslog once
 * detached, filtered by LOG_LEVEL (verbose, error, silent) as wireguard-go reads it. Callers name
 * what they attempted and on which object; nothing that reaches this file may contain key material.
 * The log calls leave errno as they found it, but a caller still captures errno before logging
 * (`int err = errno; log_error(..., strerror(err)); return -err;`), so the order never matters.
 */
#ifndef WGC_DAEMON_LOG_H
#define WGC_DAEMON_LOG_H

#include <stdbool.h>

enum log_level {
	LOG_LEVEL_SILENT = 0,
	LOG_LEVEL_ERROR = 1,
	LOG_LEVEL_VERBOSE = 2,
};

/* Reads LOG_LEVEL from the environment ("verbose", "error", "silent"; default error). */
enum log_level log_level_from_env(void);
/* Sets the interface name shown in every line, the level and the sink (syslog when true). Call
 * again after daemonizing to switch to syslog. Configuration-time, single thread. */
void log_init(const char *ifname, enum log_level level, bool use_syslog);
/* Connects to syslog now (LOG_NDELAY) without switching to it, so the connection exists before
 * the sandbox closes the file system. log_init(..., true) does it too if not done. */
void log_open_syslog(void);
/* Closes syslog if it was opened. */
void log_close(void);
bool log_is_verbose(void);

void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_verbose(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
