/* SPDX-License-Identifier: MIT */
/*
 * The sandbox (daemon/sandbox.c) applied for real, each time in a forked child, so the test
 * process itself stays free: allowed calls keep working (UDP sockets, stat and unlink in the
 * socket directory, threads, locking memory), forbidden ones end the child with
 * SANDBOX_EXIT_VIOLATION and a line naming the call, files outside the socket directory are
 * refused, /proc shows the reduced capabilities, no_new_privs and seccomp, and --no-sandbox
 * changes nothing. Needs root (CI runs as root) and a kernel with Landlock and seccomp; without
 * them every test prints SKIP and fails.
 */
#define _GNU_SOURCE /* pipe2 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <net/if.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon/sandbox.h"

enum {
	DIR_MAX_LEN = 64,
	PATH_MAX_LEN = 128,
	STATUS_MAX = 8192,
	STDERR_MAX = 8192,
	CHILD_ENTER_FAILED = 200, /* the child's sandbox_enter returned an error */
};

/* CapEff/CapPrm/CapBnd after the sandbox: NET_ADMIN (12) | NET_BIND_SERVICE (10). */
#define KEPT_CAPS_TEXT "0000000000001400"
#define KEPT_CAPS ((UINT64_C(1) << CAP_NET_ADMIN) | (UINT64_C(1) << CAP_NET_BIND_SERVICE))

struct fixture {
	char socket_dir[DIR_MAX_LEN];    /* the sandbox's socket_dir, a fresh temporary directory */
	char other_dir[DIR_MAX_LEN];     /* a directory outside it */
	char sock_path[PATH_MAX_LEN];    /* a file in socket_dir standing for the UAPI socket */
	char outside_path[PATH_MAX_LEN]; /* a file in other_dir */
	struct sandbox_options opts;
	int ready_pipe[2]; /* child -> parent: the sandbox is on */
	int go_pipe[2];    /* parent -> child: /proc has been read, exit */
};

static struct fixture fx;

/* In the child: what sandbox_enter reported. */
static struct sandbox_report child_report;

/* ---- fixture ---- */

static int make_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

static int setup(void **state)
{
	(void)state;
	if (geteuid() != 0) {
		printf("SKIP: test_sandbox needs root (CI runs as root): the sandbox is applied for"
		       " real in a child; counted as a failure\n");
		return -1;
	}
	memset(&fx, 0, sizeof(fx));
	snprintf(fx.socket_dir, sizeof(fx.socket_dir), "/tmp/wgc-sandbox-sock-XXXXXX");
	snprintf(fx.other_dir, sizeof(fx.other_dir), "/tmp/wgc-sandbox-other-XXXXXX");
	if (!mkdtemp(fx.socket_dir) || !mkdtemp(fx.other_dir))
		return -1;
	snprintf(fx.sock_path, sizeof(fx.sock_path), "%s/wgc0.sock", fx.socket_dir);
	snprintf(fx.outside_path, sizeof(fx.outside_path), "%s/secret", fx.other_dir);
	if (make_file(fx.sock_path) < 0 || make_file(fx.outside_path) < 0)
		return -1;
	fx.opts.socket_dir = fx.socket_dir;
	fx.opts.ifname = "wgc0";
	fx.ready_pipe[0] = fx.ready_pipe[1] = fx.go_pipe[0] = fx.go_pipe[1] = -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(fx.sock_path);
	unlink(fx.outside_path);
	rmdir(fx.socket_dir);
	rmdir(fx.other_dir);
	return 0;
}

/* ---- children ---- */

/* In a child: on a failed check, says which on stderr (captured by the parent) and fails. */
#define CHILD_CHECK(cond)                                                                  \
	do {                                                                               \
		if (!(cond)) {                                                             \
			dprintf(STDERR_FILENO, "child check failed at line %d: %s (errno %s)\n", \
				__LINE__, #cond, strerror(errno));                         \
			return 1;                                                          \
		}                                                                          \
	} while (0)

/* A child's body: runs after sandbox_enter; returns its exit status (0: every check held). */
typedef int (*child_body_fn)(void);

struct child {
	pid_t pid;
	int stderr_fd; /* read end of the child's stderr */
	int status;    /* from waitpid */
	char err[STDERR_MAX];
};

/* Forks a child that enters the sandbox with opts (none when NULL) and runs body. */
static void start_child(struct child *c, const struct sandbox_options *opts, child_body_fn body)
{
	int err_pipe[2];

	assert_int_equal(pipe2(err_pipe, O_CLOEXEC), 0);
	fflush(stdout);
	c->pid = fork();
	assert_true(c->pid >= 0);
	if (c->pid == 0) {
		dup2(err_pipe[1], STDERR_FILENO);
		if (opts && sandbox_enter(opts, &child_report) != 0)
			_exit(CHILD_ENTER_FAILED);
		/* _exit: no atexit handlers (cmocka's, LeakSanitizer's) in a sandboxed child. */
		_exit(body());
	}
	close(err_pipe[1]);
	c->stderr_fd = err_pipe[0];
}

/* Collects the child's stderr until it closes, then its exit status. */
static void finish_child(struct child *c)
{
	size_t len = 0;
	ssize_t n;

	while (len + 1 < sizeof(c->err) &&
	       (n = read(c->stderr_fd, c->err + len, sizeof(c->err) - 1 - len)) > 0)
		len += (size_t)n;
	c->err[len] = '\0';
	close(c->stderr_fd);
	assert_int_equal(waitpid(c->pid, &c->status, 0), c->pid);
}

static void run_child(struct child *c, const struct sandbox_options *opts, child_body_fn body)
{
	start_child(c, opts, body);
	finish_child(c);
}

static void expect_exit(const struct child *c, int want)
{
	if (WIFEXITED(c->status) && WEXITSTATUS(c->status) == want)
		return;
	printf("child stderr:\n%s\n", c->err);
	if (WIFSIGNALED(c->status))
		fail_msg("child killed by signal %d, expected exit status %d", WTERMSIG(c->status),
			 want);
	fail_msg("child exited with status %d, expected %d", WEXITSTATUS(c->status), want);
}

/* ---- /proc/PID/status ---- */

/* Usable in a child too: no cmocka call. */
static bool read_status_text(pid_t pid, char *buf, size_t size)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	return true;
}

static void read_status(pid_t pid, char *buf, size_t size)
{
	if (!read_status_text(pid, buf, size))
		fail_msg("reading /proc/%ld/status: %s", (long)pid, strerror(errno));
}

/* The value of "key:\t..." up to the end of its line, or "" when absent. */
static void status_field(const char *status, const char *key, char *out, size_t size)
{
	char pattern[64];
	const char *p;
	size_t len;

	snprintf(pattern, sizeof(pattern), "\n%s:\t", key);
	p = strstr(status, pattern);
	out[0] = '\0';
	if (!p)
		return;
	p += strlen(pattern);
	len = strcspn(p, "\n");
	if (len >= size)
		len = size - 1;
	memcpy(out, p, len);
	out[len] = '\0';
}

static void expect_field(const char *status, const char *key, const char *want)
{
	char value[128];

	status_field(status, key, value, sizeof(value));
	if (strcmp(value, want) != 0)
		fail_msg("/proc status %s: '%s', expected '%s'", key, value, want);
}

/* In a child: same, as a check. */
static bool has_field(const char *key, const char *want)
{
	char status[STATUS_MAX];
	char value[128];

	if (!read_status_text(getpid(), status, sizeof(status)))
		return false;
	status_field(status, key, value, sizeof(value));
	return strcmp(value, want) == 0;
}

/* Child body: tells the parent the sandbox is on, waits until it has read /proc. */
static int body_wait_for_parent(void)
{
	char c = 'r';

	CHILD_CHECK(write(fx.ready_pipe[1], &c, 1) == 1);
	CHILD_CHECK(read(fx.go_pipe[0], &c, 1) == 1);
	return 0;
}

/* Runs a sandboxed child that waits, and reads its /proc status meanwhile. */
static void status_of_sandboxed_child(const struct sandbox_options *opts, char *status,
				      size_t size)
{
	struct child c;
	char byte = 'g';

	assert_int_equal(pipe2(fx.ready_pipe, O_CLOEXEC), 0);
	assert_int_equal(pipe2(fx.go_pipe, O_CLOEXEC), 0);
	start_child(&c, opts, body_wait_for_parent);
	close(fx.ready_pipe[1]);
	close(fx.go_pipe[0]);
	if (read(fx.ready_pipe[0], &byte, 1) != 1 || !read_status_text(c.pid, status, size))
		status[0] = '\0';
	assert_int_equal(write(fx.go_pipe[1], &byte, 1), 1);
	close(fx.ready_pipe[0]);
	close(fx.go_pipe[1]);
	finish_child(&c);
	expect_exit(&c, 0);
}

/* ---- protection from the start ---- */

static int body_protect_process(void)
{
	struct rlimit core;

	CHILD_CHECK(sandbox_protect_process() == 0);
	CHILD_CHECK(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0);
	CHILD_CHECK(getrlimit(RLIMIT_CORE, &core) == 0);
	CHILD_CHECK(core.rlim_cur == 0 && core.rlim_max == 0);
	return 0;
}

static void test_protect_process(void **state)
{
	struct child c;

	(void)state;
	run_child(&c, NULL, body_protect_process);
	expect_exit(&c, 0);
}

/* The VmFlags line of the smaps entry that starts at addr. */
static bool smaps_flags(const void *addr, char *out, size_t size)
{
	char line[512];
	char start[32];
	bool is_in_entry = false;
	FILE *f = fopen("/proc/self/smaps", "re");

	if (!f)
		return false;
	snprintf(start, sizeof(start), "%lx-", (unsigned long)(uintptr_t)addr);
	out[0] = '\0';
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, start, strlen(start)) == 0)
			is_in_entry = true;
		else if (is_in_entry && strncmp(line, "VmFlags:", 8) == 0) {
			snprintf(out, size, "%s", line);
			break;
		}
	}
	fclose(f);
	return out[0] != '\0';
}

static int body_protect_memory(void)
{
	const size_t page = (size_t)sysconf(_SC_PAGESIZE);
	char flags[512];
	char status[STATUS_MAX];
	char locked[64];
	uint8_t *p = mmap(NULL, 4 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
			  0);

	CHILD_CHECK(p != MAP_FAILED);
	CHILD_CHECK(sandbox_protect_memory(NULL, 1) == -EINVAL);
	CHILD_CHECK(sandbox_protect_memory(p, 0) == 0);
	/* Unaligned on both ends: widened to the first two pages. */
	CHILD_CHECK(sandbox_protect_memory(p + 100, page + 100) == 0);
	memset(p, 0x5a, 4 * page);
	CHILD_CHECK(smaps_flags(p, flags, sizeof(flags)));
	CHILD_CHECK(strstr(flags, " lf") && strstr(flags, " dd")); /* lock-on-fault, dont-dump */
	CHILD_CHECK(!smaps_flags(p + 2 * page, flags, sizeof(flags)) || !strstr(flags, " dd"));
	CHILD_CHECK(read_status_text(getpid(), status, sizeof(status)));
	status_field(status, "VmLck", locked, sizeof(locked));
	CHILD_CHECK(strtoul(locked, NULL, 10) * 1024 >= 2 * page);
	return 0;
}

static void test_protect_memory(void **state)
{
	struct child c;

	(void)state;
	run_child(&c, NULL, body_protect_memory);
	expect_exit(&c, 0);
}

/* ---- (a) allowed calls still work ---- */

static int bind_udp(int family)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	socklen_t len = family == AF_INET ? sizeof(*in4) : sizeof(*in6);
	int size = 1 << 20;
	int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP);
	int ret = -1;

	if (fd < 0)
		return family == AF_INET6 && errno == EAFNOSUPPORT ? 0 : -1;
	ss.ss_family = (sa_family_t)family;
	if (family == AF_INET)
		in4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else
		in6->sin6_addr = in6addr_loopback;
	if (bind(fd, (struct sockaddr *)&ss, len) == 0 &&
	    getsockname(fd, (struct sockaddr *)&ss, &len) == 0 &&
	    (family == AF_INET ? in4->sin_port : in6->sin6_port) != 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) == 0)
		ret = 0;
	close(fd);
	return ret;
}

static void *thread_main(void *arg)
{
	*(pid_t *)arg = getpid();
	return NULL;
}

static int body_allowed(void)
{
	const struct sandbox_report *r = &child_report;
	struct timespec ts;
	struct stat st;
	pthread_t thread;
	pid_t thread_pid = 0;
	char *secret = malloc(4096);

	CHILD_CHECK(r->has_reduced_caps && r->has_dropped_bounding_set);
	CHILD_CHECK(r->kept_caps == KEPT_CAPS);
	CHILD_CHECK(r->has_no_new_privs && r->landlock_abi >= 1 && r->has_seccomp);
	CHILD_CHECK(!r->is_user_switched && r->seccomp_rules > 0);
	CHILD_CHECK(getpid() > 1);
	CHILD_CHECK(syscall(SYS_clock_gettime, CLOCK_BOOTTIME, &ts) == 0);
	CHILD_CHECK(bind_udp(AF_INET) == 0);
	CHILD_CHECK(bind_udp(AF_INET6) == 0);
	CHILD_CHECK(if_nametoindex("lo") == 1);
	CHILD_CHECK(secret && sandbox_protect_memory(secret, 4096) == 0);
	free(secret);
	/* A thread started after the sandbox (the crypto workers) runs, under the same filter. */
	CHILD_CHECK(pthread_create(&thread, NULL, thread_main, &thread_pid) == 0);
	CHILD_CHECK(pthread_join(thread, NULL) == 0 && thread_pid == getpid());
	/* The UAPI socket: stat after an inotify event, unlink at exit. */
	CHILD_CHECK(stat(fx.sock_path, &st) == 0);
	CHILD_CHECK(unlink(fx.sock_path) == 0);
	return 0;
}

static void test_allowed_calls_work(void **state)
{
	struct child c;

	(void)state;
	run_child(&c, &fx.opts, body_allowed);
	expect_exit(&c, 0);
}

/* ---- (b), (c): forbidden calls end the process, with a line naming the call ---- */

static int forbid_execve(void)
{
	char *const argv[] = { "true", NULL };

	execve("/bin/true", argv, NULL);
	return 1;
}

static int forbid_ptrace(void)
{
	ptrace(PTRACE_TRACEME, 0, NULL, NULL);
	return 1;
}

static int forbid_fork(void)
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(0);
	return 1;
}

static int forbid_netlink(void)
{
	socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, 0);
	return 1;
}

static int forbid_exec_mapping(void)
{
	mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return 1;
}

static int forbid_set_mtu(void)
{
	struct ifreq ifr = { .ifr_mtu = 1280 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	ioctl(fd, SIOCSIFMTU, &ifr);
	return 1;
}

static int forbid_kill_other(void)
{
	kill(1, 0);
	return 1;
}

static void *thread_execve(void *arg)
{
	(void)arg;
	forbid_execve();
	return NULL;
}

static int forbid_execve_in_thread(void)
{
	pthread_t thread;

	if (pthread_create(&thread, NULL, thread_execve, NULL) == 0)
		pthread_join(thread, NULL);
	return 1;
}

static const struct {
	child_body_fn body;
	const char *call; /* the name the report must give */
} violations[] = {
	{ forbid_execve, "execve" },
	{ forbid_ptrace, "ptrace" },
	{ forbid_fork, "clone" },
	{ forbid_netlink, "socket" },
	{ forbid_exec_mapping, "mmap" },
	{ forbid_set_mtu, "ioctl" },
	{ forbid_kill_other, "kill" },
	{ forbid_execve_in_thread, "execve" },
};

static void test_forbidden_calls_kill(void **state)
{
	char want[64];
	struct child c;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(violations) / sizeof(violations[0]); i++) {
		run_child(&c, &fx.opts, violations[i].body);
		snprintf(want, sizeof(want), "(%s) is not allowed; exiting", violations[i].call);
		if (!strstr(c.err, want) || !strstr(c.err, "ERROR: (wgc0) sandbox: system call"))
			fail_msg("case %zu: stderr lacks \"%s\":\n%s", i, want, c.err);
		printf("case %zu: %s", i, c.err);
		expect_exit(&c, SANDBOX_EXIT_VIOLATION);
	}
}

/* ---- (d) files outside the socket directory, and TCP ---- */

static int body_files(void)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(9),
				    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct stat st;
	int fd;

	errno = 0;
	CHILD_CHECK(open("/etc/hostname", O_RDONLY) < 0 && errno == EACCES);
	CHILD_CHECK(open(fx.outside_path, O_RDONLY) < 0 && errno == EACCES);
	/* Not even in socket_dir: the daemon only removes its socket there. */
	CHILD_CHECK(open(fx.sock_path, O_RDONLY) < 0 && errno == EACCES);
	CHILD_CHECK(open(fx.socket_dir, O_RDONLY | O_DIRECTORY) < 0 && errno == EACCES);
	/* Landlock: unlink is allowed by seccomp, but only beneath socket_dir. */
	CHILD_CHECK(unlink(fx.outside_path) < 0 && errno == EACCES);
	CHILD_CHECK(stat(fx.outside_path, &st) == 0);
	/* Landlock ABI 4: no TCP at all (the daemon speaks UDP only). */
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHILD_CHECK(fd >= 0);
	CHILD_CHECK(connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 && errno == EACCES);
	addr.sin_port = 0;
	CHILD_CHECK(bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 && errno == EACCES);
	close(fd);
	return 0;
}

static void test_files_refused(void **state)
{
	struct child c;
	struct stat st;

	(void)state;
	run_child(&c, &fx.opts, body_files);
	expect_exit(&c, 0);
	assert_int_equal(stat(fx.outside_path, &st), 0);
}

/* ---- (e) what /proc shows ---- */

static void test_proc_status(void **state)
{
	char status[STATUS_MAX];

	(void)state;
	status_of_sandboxed_child(&fx.opts, status, sizeof(status));
	expect_field(status, "NoNewPrivs", "1");
	expect_field(status, "Seccomp", "2");
	expect_field(status, "Seccomp_filters", "1");
	expect_field(status, "CapEff", KEPT_CAPS_TEXT);
	expect_field(status, "CapPrm", KEPT_CAPS_TEXT);
	expect_field(status, "CapBnd", KEPT_CAPS_TEXT);
	expect_field(status, "CapInh", "0000000000000000");
	expect_field(status, "CapAmb", "0000000000000000");
}

static void test_keeps_ipc_lock(void **state)
{
	struct sandbox_options opts = fx.opts;
	char status[STATUS_MAX];

	(void)state;
	opts.keeps_ipc_lock = true;
	status_of_sandboxed_child(&opts, status, sizeof(status));
	expect_field(status, "CapEff", "0000000000005400"); /* | IPC_LOCK (14) */
	expect_field(status, "CapBnd", "0000000000005400");
}

static void test_user_switch(void **state)
{
	struct sandbox_options opts = fx.opts;
	char status[STATUS_MAX];
	char value[128];

	(void)state;
	opts.user = "nobody";
	status_of_sandboxed_child(&opts, status, sizeof(status));
	expect_field(status, "Uid", "65534\t65534\t65534\t65534");
	expect_field(status, "Gid", "65534\t65534\t65534\t65534");
	status_field(status, "Groups", value, sizeof(value));
	assert_string_equal(value, "65534 ");
	expect_field(status, "CapEff", KEPT_CAPS_TEXT);
	expect_field(status, "CapBnd", KEPT_CAPS_TEXT);
	expect_field(status, "NoNewPrivs", "1");
	expect_field(status, "Seccomp", "2");
}

/* ---- hard errors leave the process as it was ---- */

static int body_unknown_user(void)
{
	struct sandbox_options opts = fx.opts;
	struct sandbox_report r;

	opts.user = "wgc-no-such-user";
	CHILD_CHECK(sandbox_enter(&opts, &r) == -ENOENT);
	CHILD_CHECK(has_field("Seccomp", "0") && has_field("NoNewPrivs", "0"));
	CHILD_CHECK(!has_field("CapEff", KEPT_CAPS_TEXT));
	return 0;
}

static void test_unknown_user(void **state)
{
	struct child c;

	(void)state;
	run_child(&c, NULL, body_unknown_user);
	expect_exit(&c, 0);
	assert_non_null(strstr(c.err, "user wgc-no-such-user: no such user"));
}

static void *thread_wait(void *arg)
{
	char c;

	(void)!read(*(int *)arg, &c, 1);
	return NULL;
}

static int body_threads_running(void)
{
	struct sandbox_report r;
	pthread_t thread;
	int wake[2];

	CHILD_CHECK(pipe(wake) == 0);
	CHILD_CHECK(pthread_create(&thread, NULL, thread_wait, &wake[0]) == 0);
	CHILD_CHECK(sandbox_enter(&fx.opts, &r) == -EBUSY);
	CHILD_CHECK(has_field("Seccomp", "0") && has_field("NoNewPrivs", "0"));
	CHILD_CHECK(write(wake[1], "x", 1) == 1);
	CHILD_CHECK(pthread_join(thread, NULL) == 0);
	return 0;
}

static void test_threads_running(void **state)
{
	struct child c;

	(void)state;
	run_child(&c, NULL, body_threads_running);
	expect_exit(&c, 0);
}

/* ---- (f) --no-sandbox changes nothing ---- */

static char parent_cap_eff[32];

static int body_disabled(void)
{
	static const struct sandbox_report none;
	char *const argv[] = { "true", NULL };

	CHILD_CHECK(memcmp(&child_report, &none, sizeof(none)) == 0);
	CHILD_CHECK(has_field("NoNewPrivs", "0") && has_field("Seccomp", "0"));
	CHILD_CHECK(has_field("CapEff", parent_cap_eff));
	CHILD_CHECK(open("/etc/hostname", O_RDONLY | O_CLOEXEC) >= 0);
	execve("/bin/true", argv, NULL);
	return 1;
}

static void test_disabled(void **state)
{
	struct sandbox_options opts = fx.opts;
	char status[STATUS_MAX];
	struct child c;

	(void)state;
	read_status(getpid(), status, sizeof(status));
	status_field(status, "CapEff", parent_cap_eff, sizeof(parent_cap_eff));
	opts.is_disabled = true;
	opts.user = "nobody";
	run_child(&c, &opts, body_disabled);
	expect_exit(&c, 0); /* /bin/true's status: execve was allowed */
	assert_non_null(strstr(c.err, "sandbox: disabled"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_protect_process, setup, teardown),
		cmocka_unit_test_setup_teardown(test_protect_memory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_allowed_calls_work, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forbidden_calls_kill, setup, teardown),
		cmocka_unit_test_setup_teardown(test_files_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_proc_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keeps_ipc_lock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_user_switch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_user, setup, teardown),
		cmocka_unit_test_setup_teardown(test_threads_running, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disabled, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
