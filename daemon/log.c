/* SPDX-License-Identifier: MIT */
/*
 * The daemon's log sink: stderr with a timestamp in the foreground, syslog in the background.
 * Levels follow wireguard-go's LOG_LEVEL (error is the default).
 */
#include "daemon/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

static struct {
	char ifname[32];
	enum log_level level;
	bool use_syslog;
	bool is_syslog_open;
} state = { "", LOG_LEVEL_ERROR, false, false };

enum log_level log_level_from_env(void)
{
	const char *value = getenv("LOG_LEVEL");

	if (!value)
		return LOG_LEVEL_ERROR;
	if (strcmp(value, "verbose") == 0 || strcmp(value, "debug") == 0)
		return LOG_LEVEL_VERBOSE;
	if (strcmp(value, "silent") == 0)
		return LOG_LEVEL_SILENT;
	return LOG_LEVEL_ERROR;
}

void log_open_syslog(void)
{
	if (state.is_syslog_open)
		return;
	openlog("wgc", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	state.is_syslog_open = true;
}

void log_init(const char *ifname, enum log_level level, bool use_syslog)
{
	snprintf(state.ifname, sizeof(state.ifname), "%s", ifname);
	state.level = level;
	if (use_syslog)
		log_open_syslog();
	state.use_syslog = use_syslog;
}

void log_close(void)
{
	if (state.is_syslog_open)
		closelog();
	state.use_syslog = false;
	state.is_syslog_open = false;
}

bool log_is_verbose(void)
{
	return state.level >= LOG_LEVEL_VERBOSE;
}

__attribute__((format(printf, 3, 0)))
static void emit(int priority, const char *tag, const char *fmt, va_list ap)
{
	char line[1024];
	char stamp[32];
	struct tm tm;
	time_t now;
	/* Callers may log between a failed call and reading its errno; stdio, localtime_r and
	 * syslog can all change it, so the caller's value is put back. */
	int saved_errno = errno;

	vsnprintf(line, sizeof(line), fmt, ap);
	if (state.use_syslog) {
		syslog(priority, "(%s) %s", state.ifname, line);
	} else {
		now = time(NULL);
		localtime_r(&now, &tm);
		strftime(stamp, sizeof(stamp), "%Y/%m/%d %H:%M:%S", &tm);
		fprintf(stderr, "%s: (%s) %s %s\n", tag, state.ifname, stamp, line);
	}
	errno = saved_errno;
}

void log_error(const char *fmt, ...)
{
	va_list ap;

	if (state.level < LOG_LEVEL_ERROR)
		return;
	va_start(ap, fmt);
	emit(LOG_ERR, "ERROR", fmt, ap);
	va_end(ap);
}

void log_verbose(const char *fmt, ...)
{
	va_list ap;

	if (state.level < LOG_LEVEL_VERBOSE)
		return;
	va_start(ap, fmt);
	emit(LOG_DEBUG, "DEBUG", fmt, ap);
	va_end(ap);
}
