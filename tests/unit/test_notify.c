/* SPDX-License-Identifier: MIT */
/*
 * systemd's readiness protocol (daemon/notify.c) against a real AF_UNIX datagram socket standing
 * in for the service manager: a path and an abstract name connect and carry READY=1 (with
 * MAINPID only when detached) and STOPPING=1; an unset, empty, relative or too long
 * NOTIFY_SOCKET, or one nobody listens on, gives -1 and later calls do nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon/log.h"
#include "daemon/notify.h"

/* A bound datagram socket; name is a path or "@abstract". */
static int listen_at(const char *name)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	size_t len = strlen(name);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_true(len < sizeof(addr.sun_path));
	memcpy(addr.sun_path, name, len);
	if (name[0] == '@')
		addr.sun_path[0] = '\0';
	assert_int_equal(bind(fd, (struct sockaddr *)&addr,
			      (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)), 0);
	return fd;
}

static void expect_message(int fd, const char *want)
{
	char buf[128];
	ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);

	assert_true(n > 0);
	buf[n] = '\0';
	assert_string_equal(buf, want);
}

static void test_path_socket(void **state)
{
	char path[64];
	char mainpid[64];
	int manager;
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "/tmp/wgc-test-notify-%ld.sock", (long)getpid());
	unlink(path);
	manager = listen_at(path);
	setenv("NOTIFY_SOCKET", path, 1);
	fd = notify_connect();
	assert_true(fd >= 0);
	notify_ready(fd, false);
	expect_message(manager, "READY=1\n");
	notify_ready(fd, true);
	snprintf(mainpid, sizeof(mainpid), "READY=1\nMAINPID=%ld\n", (long)getpid());
	expect_message(manager, mainpid);
	notify_stopping(fd);
	expect_message(manager, "STOPPING=1\n");
	notify_close(fd);
	close(manager);
	unlink(path);
}

static void test_abstract_socket(void **state)
{
	char name[64];
	int manager;
	int fd;

	(void)state;
	snprintf(name, sizeof(name), "@wgc-test-notify-%ld", (long)getpid());
	manager = listen_at(name);
	setenv("NOTIFY_SOCKET", name, 1);
	fd = notify_connect();
	assert_true(fd >= 0);
	notify_ready(fd, false);
	expect_message(manager, "READY=1\n");
	notify_close(fd);
	close(manager);
}

static void test_no_or_bad_socket(void **state)
{
	char long_name[200];

	(void)state;
	unsetenv("NOTIFY_SOCKET");
	assert_int_equal(notify_connect(), -1);
	setenv("NOTIFY_SOCKET", "", 1);
	assert_int_equal(notify_connect(), -1);
	setenv("NOTIFY_SOCKET", "relative/path", 1);
	assert_int_equal(notify_connect(), -1);
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[0] = '/';
	long_name[sizeof(long_name) - 1] = '\0';
	setenv("NOTIFY_SOCKET", long_name, 1);
	assert_int_equal(notify_connect(), -1);
	setenv("NOTIFY_SOCKET", "/nonexistent/wgc-notify.sock", 1);
	assert_int_equal(notify_connect(), -1);
	/* With no socket, the other calls do nothing. */
	notify_ready(-1, true);
	notify_stopping(-1);
	notify_close(-1);
	unsetenv("NOTIFY_SOCKET");
}

static void test_manager_gone_is_not_fatal(void **state)
{
	char path[64];
	int manager;
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "/tmp/wgc-test-notify-gone-%ld.sock", (long)getpid());
	unlink(path);
	manager = listen_at(path);
	setenv("NOTIFY_SOCKET", path, 1);
	fd = notify_connect();
	assert_true(fd >= 0);
	close(manager);
	unlink(path);
	notify_ready(fd, false); /* logged, not fatal */
	notify_stopping(fd);
	notify_close(fd);
	unsetenv("NOTIFY_SOCKET");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_socket),
		cmocka_unit_test(test_abstract_socket),
		cmocka_unit_test(test_no_or_bad_socket),
		cmocka_unit_test(test_manager_gone_is_not_fatal),
	};

	log_init("test", LOG_LEVEL_SILENT, false);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
