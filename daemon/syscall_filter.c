/* SPDX-License-Identifier: MIT */
/*
 * The sandbox's last layer (see syscall_filter.h): the seccomp allow-list, one table of the
 * system calls the daemon makes after setup with a comment per group saying who needs them, and
 * the async-signal-safe report of a violation. The policy's other layers are in sandbox.c.
 */
#include "daemon/syscall_filter.h"

#include <errno.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include "daemon/log.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define WGC_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define WGC_SANITIZED 1
#endif
#endif
#ifndef WGC_SANITIZED
#define WGC_SANITIZED 0
#endif
/* ThreadSanitizer's runtime (build/tsan/wgc, for the lanes' tests; never the plain daemon) fails
 * its own checks when a thread starts under the filter, so that build runs without one. */
#if defined(__SANITIZE_THREAD__)
#define WGC_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define WGC_TSAN 1
#endif
#endif
#ifndef WGC_TSAN
#define WGC_TSAN 0
#endif

/* ---- violation report (async-signal-safe) ---- */

enum {
	SYSCALL_NAME_SLOTS = 512, /* above every native syscall number on x86_64 and arm64 */
	SYSCALL_NAME_LEN = 24,
	REPORT_PREFIX_LEN = 96,
	REPORT_LINE_LEN = 256,
};

/*
 * Everything the SIGSYS handler needs, prepared before the filter is loaded: the handler may run
 * in the middle of malloc or stdio, so it only copies bytes and calls write, send, exit_group.
 */
static struct {
	char names[SYSCALL_NAME_SLOTS][SYSCALL_NAME_LEN]; /* "" where unknown */
	char stderr_prefix[REPORT_PREFIX_LEN];            /* "ERROR: (wg0) " */
	char syslog_prefix[REPORT_PREFIX_LEN];            /* "<27>wgc[PID]: (wg0) " */
	int syslog_fd;                                    /* our own /dev/log socket, or -1 */
	uint32_t native_arch;                             /* AUDIT_ARCH_* of this build */
} violation = { .syslog_fd = -1 };

static void append(char *buf, size_t *len, size_t size, const char *s)
{
	while (*s && *len + 1 < size)
		buf[(*len)++] = *s++;
	buf[*len] = '\0';
}

static void append_number(char *buf, size_t *len, size_t size, unsigned long value, unsigned base)
{
	char digits[24];
	size_t n = 0;

	do {
		digits[n++] = "0123456789abcdef"[value % base];
		value /= base;
	} while (value && n < sizeof(digits));
	while (n > 0 && *len + 1 < size)
		buf[(*len)++] = digits[--n];
	buf[*len] = '\0';
}

static void on_sigsys(int sig, siginfo_t *info, void *ucontext)
{
	const unsigned nr = (unsigned)info->si_syscall;
	char body[REPORT_LINE_LEN];
	char line[REPORT_PREFIX_LEN + REPORT_LINE_LEN];
	size_t body_len = 0;
	size_t len = 0;

	(void)sig;
	(void)ucontext;
	append(body, &body_len, sizeof(body), "sandbox: system call ");
	append_number(body, &body_len, sizeof(body), nr, 10);
	if (info->si_arch != violation.native_arch) {
		append(body, &body_len, sizeof(body), " of foreign architecture 0x");
		append_number(body, &body_len, sizeof(body), info->si_arch, 16);
	} else if (nr < SYSCALL_NAME_SLOTS && violation.names[nr][0]) {
		append(body, &body_len, sizeof(body), " (");
		append(body, &body_len, sizeof(body), violation.names[nr]);
		append(body, &body_len, sizeof(body), ")");
	}
	append(body, &body_len, sizeof(body), " is not allowed; exiting");
	append(line, &len, sizeof(line), violation.stderr_prefix);
	append(line, &len, sizeof(line), body);
	append(line, &len, sizeof(line), "\n");
	(void)!write(STDERR_FILENO, line, len);
	if (violation.syslog_fd >= 0) {
		len = 0;
		append(line, &len, sizeof(line), violation.syslog_prefix);
		append(line, &len, sizeof(line), body);
		(void)!send(violation.syslog_fd, line, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	}
	/* The system call itself, not _exit: a sanitizer's _exit interceptor makes calls too. */
	syscall(SYS_exit_group, SYSCALL_FILTER_EXIT_VIOLATION);
}

/* A datagram socket of our own on /dev/log: glibc's syslog state cannot be touched in a handler. */
static int connect_syslog(void)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX, .sun_path = "/dev/log" };
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (connect(fd, (const struct sockaddr *)&addr, sizeof(addr)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int syscall_filter_prepare(const char *ifname, bool uses_syslog)
{
	struct sigaction sa;
	sigset_t sigsys;
	unsigned nr;
	char *name;
	int err;

	violation.native_arch = seccomp_arch_native();
	for (nr = 0; nr < SYSCALL_NAME_SLOTS; nr++) {
		name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, (int)nr);
		if (!name)
			continue;
		snprintf(violation.names[nr], SYSCALL_NAME_LEN, "%s", name);
		free(name);
	}
	snprintf(violation.stderr_prefix, REPORT_PREFIX_LEN, "ERROR: (%s) ", ifname);
	/* The priority openlog("wgc", LOG_PID, LOG_DAEMON) gives log_error's lines. */
	snprintf(violation.syslog_prefix, REPORT_PREFIX_LEN, "<%d>wgc[%ld]: (%s) ",
		 LOG_DAEMON | LOG_ERR, (long)getpid(), ifname);
	if (!ifname)
		ifname = "";
	if (uses_syslog && violation.syslog_fd < 0)
		violation.syslog_fd = connect_syslog();
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	sigemptyset(&sigsys);
	sigaddset(&sigsys, SIGSYS);
	if (sigaction(SIGSYS, &sa, NULL) < 0 || sigprocmask(SIG_UNBLOCK, &sigsys, NULL) < 0) {
		err = errno;
		log_error("sandbox: installing the SIGSYS handler: %s", strerror(err));
		return -err;
	}
	return 0;
}

/* ---- the allow-list ---- */

/* One allowed system call, optionally only when argument arg compares with op to a (and b). */
struct allowed_call {
	int nr;
	unsigned arg;
	enum scmp_compare op; /* 0 (_SCMP_CMP_MIN): no condition */
	scmp_datum_t a;
	scmp_datum_t b;
};

#define ALLOW(name) { SCMP_SYS(name), 0, 0, 0, 0 }
#define ALLOW_IF(name, arg, op, a, b) { SCMP_SYS(name), arg, op, a, b }
/* Stands for getpid() in a datum: known only when the filter is built. */
#define OWN_PID (~(scmp_datum_t)0)

/*
 * Every call the daemon makes after setup, found by reading the daemon's sources and glibc's
 * paths under them, and by tracing two daemons (strace -f) through a session: handshake, pings
 * and TCP both ways, wg show/showconf, listen-port changes (one below 1024), fwmark on and off,
 * ip link set mtu, a link-local endpoint, 300 peers in one set, malformed UAPI requests, a syslogd
 * restart, SIGTERM and ip link del, with and without worker threads. Names an architecture lacks
 * (epoll_wait, open on arm64) are skipped by libseccomp; arm64's equivalents are listed.
 */
static const struct allowed_call allowed_calls[] = {
	/* loop.c: the epoll set, the protocol timer, signalfd (read) */
	ALLOW(epoll_wait), ALLOW(epoll_pwait), ALLOW(epoll_ctl), ALLOW(timerfd_settime),
	ALLOW(read),
	/* loop.c, device.c: clocks (the vDSO answers these; the syscalls are its fallback) */
	ALLOW(clock_gettime), ALLOW(gettimeofday), ALLOW(time),
	/* uapi.c: clients; stat of the socket file after inotify; unlink at exit (Landlock
	 * narrows unlink to socket_dir) */
	ALLOW(accept4), ALLOW(recvfrom), ALLOW(sendto), ALLOW(close), ALLOW(newfstatat),
	ALLOW(fstat), ALLOW(stat), ALLOW(statx), ALLOW(unlink), ALLOW(unlinkat),
	/* datapath.c, tun.c, udp.c: packets, the netlink link monitor (recv), randomness */
	ALLOW(readv), ALLOW(writev), ALLOW(write), ALLOW(recvmmsg), ALLOW(sendmmsg),
	ALLOW(getrandom),
	/* uapi_config.c, udp.c: a new listening port (wg set listen-port), SO_MARK, buffer sizes;
	 * tun.c: an AF_INET socket for SIOCGIFMTU; glibc's if_nametoindex/if_indextoname (addr.c,
	 * uapi_parse.c) and syslog take AF_UNIX datagram sockets. No AF_NETLINK: with
	 * CAP_NET_ADMIN kept, rtnetlink would let the process reconfigure the host. */
	ALLOW_IF(socket, 0, SCMP_CMP_EQ, AF_UNIX, 0), ALLOW_IF(socket, 0, SCMP_CMP_EQ, AF_INET, 0),
	ALLOW_IF(socket, 0, SCMP_CMP_EQ, AF_INET6, 0), ALLOW(bind), ALLOW(getsockname),
	ALLOW(setsockopt),
	/* tun.c: the MTU after a missed netlink event; link-local scopes by index and by name.
	 * Read-only requests: SIOCSIFMTU is set up before the sandbox and never again. */
	ALLOW_IF(ioctl, 1, SCMP_CMP_EQ, SIOCGIFMTU, 0),
	ALLOW_IF(ioctl, 1, SCMP_CMP_EQ, SIOCGIFINDEX, 0),
	ALLOW_IF(ioctl, 1, SCMP_CMP_EQ, SIOCGIFNAME, 0),
	/* tun.c: is the TUN device still there after its link left the namespace (TUNGETIFF on
	 * the TUN fd); the netlink monitor reads with recvmsg for the nsid of each message */
	ALLOW_IF(ioctl, 1, SCMP_CMP_EQ, TUNGETIFF, 0), ALLOW(recvmsg),
	/* log.c through glibc's syslog: LOG_PID, and reconnecting to /dev/log; main.c's detach
	 * after the sandbox: /dev/null (opened before) onto the standard descriptors */
	ALLOW(getpid), ALLOW(connect), ALLOW(dup2), ALLOW(dup3),
	/* memory: malloc, the packet pool, thread stacks, sandbox_protect_memory; never a new
	 * executable mapping */
	ALLOW(brk), ALLOW_IF(mmap, 2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0),
	ALLOW_IF(mprotect, 2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0), ALLOW(munmap), ALLOW(mremap),
	ALLOW(madvise), ALLOW(mlock2),
	/* workers.c's threads and glibc's pthread_create/join: threads only, never a process.
	 * The first pthread_create installs glibc's SIGSETXID handler (rt_sigaction); a handler
	 * cannot weaken the filter: a trap with SIGSYS ignored or blocked kills outright. */
	ALLOW_IF(clone, 0, SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD), ALLOW(futex),
	ALLOW(set_robust_list), ALLOW(rseq), ALLOW(rt_sigprocmask), ALLOW(rt_sigaction),
	ALLOW(exit),
	/* the way out: returning from a signal handler, restarted calls, abort()'s raise */
	ALLOW(rt_sigreturn), ALLOW(restart_syscall), ALLOW(exit_group), ALLOW(gettid),
	ALLOW_IF(tgkill, 0, SCMP_CMP_EQ, OWN_PID, 0),
#if WGC_SANITIZED
	/* ASan's runtime in the sanitizer builds (tests/unit, never the plain daemon): the
	 * alternate signal stack of each thread, its thread registry */
	ALLOW(sigaltstack), ALLOW(sched_getaffinity),
#endif
};

/* Calls refused with an error instead of ending the process. */
static const struct {
	int nr;
	int err;
} refused_calls[] = {
	/* glibc's pthread_create tries clone3, whose flags a filter cannot read, then clone */
	{ SCMP_SYS(clone3), ENOSYS },
	/* The daemon opens no file at run time, but libc may try an optional one (a locale, a
	 * sysfs value): a failed open is how it is told no, as on a locked-down system. */
	{ SCMP_SYS(open), EACCES },
	{ SCMP_SYS(openat), EACCES },
	{ SCMP_SYS(openat2), EACCES },
};

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static int add_allowed(scmp_filter_ctx ctx, const struct allowed_call *call)
{
	struct scmp_arg_cmp cmp = { call->arg, call->op, call->a, call->b };

	if (cmp.datum_a == OWN_PID)
		cmp.datum_a = (scmp_datum_t)getpid();
	if (call->op == 0)
		return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, call->nr, 0);
	return seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, call->nr, 1, &cmp);
}

static void log_rule_failure(int nr, int ret)
{
	char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);

	log_error("sandbox: seccomp rule for %s: %s", name ? name : "?", strerror(-ret));
	free(name);
}

int syscall_filter_load(bool *is_loaded, unsigned *rule_count)
{
	scmp_filter_ctx ctx;
	unsigned rules = 0;
	size_t i;
	int ret;

	*is_loaded = false;
	*rule_count = 0;
	if (WGC_TSAN) {
		log_error("sandbox: no seccomp filter in the ThreadSanitizer build");
		return 0;
	}
	ctx = seccomp_init(SCMP_ACT_TRAP);
	if (!ctx) {
		log_error("sandbox: building the seccomp filter: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	/* TSYNC: the filter reaches every thread (there is one now, but the contract is the
	 * kernel's, not ours); SYSRAWRC: seccomp_load returns the kernel's errno. */
	ret = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	if (ret == 0)
		ret = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_TRAP);
	if (ret == 0)
		(void)seccomp_attr_set(ctx, SCMP_FLTATR_API_SYSRAWRC, 1); /* 2.5+; best effort */
	for (i = 0; ret == 0 && i < ARRAY_LEN(allowed_calls); i++, rules++) {
		ret = add_allowed(ctx, &allowed_calls[i]);
		if (ret < 0)
			log_rule_failure(allowed_calls[i].nr, ret);
	}
	for (i = 0; ret == 0 && i < ARRAY_LEN(refused_calls); i++, rules++) {
		ret = seccomp_rule_add(ctx, SCMP_ACT_ERRNO((uint32_t)refused_calls[i].err),
				       refused_calls[i].nr, 0);
		if (ret < 0)
			log_rule_failure(refused_calls[i].nr, ret);
	}
	if (ret < 0)
		goto out;
	ret = seccomp_load(ctx);
	if (ret == -ENOSYS || ret == -EINVAL) {
		log_error("sandbox: seccomp filters are not available (%s): system calls are not"
			  " restricted", strerror(-ret));
		ret = 0;
		goto out;
	}
	if (ret < 0) {
		log_error("sandbox: loading the seccomp filter: %s", strerror(-ret));
		goto out;
	}
	*is_loaded = true;
	*rule_count = rules;
out:
	seccomp_release(ctx);
	return ret;
}

