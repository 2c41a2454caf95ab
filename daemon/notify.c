/* SPDX-License-Identifier: MIT */
/*
 * The sd_notify protocol (see notify.h): connect once, before the sandbox; send short datagrams
 * after it. No credentials are attached by hand: the receiving side (systemd) sets SO_PASSCRED
 * and the kernel adds our pid, which is how systemd tells the main process's messages apart.
 */
#include "daemon/notify.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon/log.h"

int notify_connect(void)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	size_t len;
	socklen_t addr_len;
	int fd;
	int err;

	if (!path || path[0] == '\0')
		return -1;
	len = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || len >= sizeof(addr.sun_path)) {
		log_error("NOTIFY_SOCKET=%s is neither an absolute path nor an abstract name (@...)"
			  " that fits a socket address; not notifying",
			  path);
		return -1;
	}
	memcpy(addr.sun_path, path, len);
	if (path[0] == '@')
		addr.sun_path[0] = '\0'; /* abstract: the name is the bytes after the NUL */
	addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = errno;
		log_error("creating the socket for NOTIFY_SOCKET: %s", strerror(err));
		return -1;
	}
	if (connect(fd, (const struct sockaddr *)&addr, addr_len) < 0) {
		err = errno;
		log_error("connecting to NOTIFY_SOCKET=%s: %s", path, strerror(err));
		close(fd);
		return -1;
	}
	return fd;
}

static int send_state(int fd, const char *state)
{
	size_t len = strlen(state);

	if (send(fd, state, len, MSG_NOSIGNAL) != (ssize_t)len)
		return -errno;
	return 0;
}

void notify_ready(int fd, bool is_detached)
{
	char state[64];
	int ret;

	if (fd < 0)
		return;
	if (is_detached)
		snprintf(state, sizeof(state), "READY=1\nMAINPID=%ld\n", (long)getpid());
	else
		snprintf(state, sizeof(state), "READY=1\n");
	ret = send_state(fd, state);
	if (ret < 0)
		log_error("telling the service manager we are ready (NOTIFY_SOCKET): %s",
			  strerror(-ret));
	else
		log_verbose("told the service manager we are ready (NOTIFY_SOCKET)");
}

void notify_stopping(int fd)
{
	if (fd >= 0)
		(void)send_state(fd, "STOPPING=1\n"); /* the manager sees the exit anyway */
}

void notify_close(int fd)
{
	if (fd >= 0)
		close(fd);
}
