/* SPDX-License-Identifier: MIT */
/*
 * Confinement of the daemon: non-dumpable from the start, secret memory locked and excluded from
 * dumps, and after setup five layers applied in an order where each one still has the privilege
 * the next needs: user, capabilities, no_new_privs, Landlock, seccomp. The policy lives here as
 * data (the capabilities kept, the Landlock rights, the table of allowed system calls); which
 * object is open when is main's business, stated as preconditions in sandbox.h.
 */
#include "daemon/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/if_tun.h>
#include <linux/landlock.h>
#include <pwd.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "daemon/log.h"

#if defined(__SANITIZE_ADDRESS__)
#define WGC_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WGC_SANITIZED 1
#endif
#endif
#ifndef WGC_SANITIZED
#define WGC_SANITIZED 0
#endif

/* ---- protection from the first instruction on ---- */

int sandbox_protect_process(void)
{
	const struct rlimit none = { 0, 0 };
	int err;

	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
		err = errno;
		log_error("sandbox: making the process non-dumpable: %s", strerror(err));
		return -err;
	}
	if (setrlimit(RLIMIT_CORE, &none) < 0) {
		err = errno;
		log_error("sandbox: setting RLIMIT_CORE to 0: %s", strerror(err));
		return -err;
	}
	return 0;
}

static atomic_bool has_logged_lock_failure;
static atomic_bool has_logged_dontdump_failure;

int sandbox_protect_memory(void *addr, size_t len)
{
	const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t start = (uintptr_t)addr & ~(page - 1);
	uintptr_t end;
	struct rlimit limit;
	int ret = 0;

	if (len == 0)
		return 0;
	if (!addr || (uintptr_t)addr + len < (uintptr_t)addr)
		return -EINVAL;
	end = ((uintptr_t)addr + len + page - 1) & ~(page - 1);
	/* MLOCK_ONFAULT: the endpoint block reserves room for 65,536 peers but touches only what
	 * is used; locking it whole up front would make every idle daemon pin all of it. */
	if (mlock2((void *)start, end - start, MLOCK_ONFAULT) < 0) {
		ret = -errno;
		if (!atomic_exchange(&has_logged_lock_failure, true)) {
			if (getrlimit(RLIMIT_MEMLOCK, &limit) < 0)
				limit.rlim_cur = RLIM_INFINITY;
			log_error("sandbox: cannot lock %zu bytes of secret memory in RAM"
				  " (mlock2: %s; RLIMIT_MEMLOCK %llu bytes): keys may reach swap",
				  (size_t)(end - start), strerror(-ret),
				  (unsigned long long)limit.rlim_cur);
		}
	}
	if (madvise((void *)start, end - start, MADV_DONTDUMP) < 0) {
		int err = errno;

		if (ret == 0)
			ret = -err;
		if (!atomic_exchange(&has_logged_dontdump_failure, true))
			log_error("sandbox: cannot exclude %zu bytes of secret memory from core"
				  " dumps (madvise MADV_DONTDUMP: %s)", (size_t)(end - start),
				  strerror(err));
	}
	return ret;
}

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
	syscall(SYS_exit_group, SANDBOX_EXIT_VIOLATION);
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

static int prepare_violation_report(const struct sandbox_options *opts)
{
	const char *ifname = opts->ifname ? opts->ifname : "";
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
	if (opts->uses_syslog && violation.syslog_fd < 0)
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

/* ---- layer 1: the user ---- */

/*
 * PR_SET_KEEPCAPS keeps the permitted set across the uid change (effective is cleared; the
 * capability layer raises what it keeps). Groups first, then gid, then uid: each needs the
 * privilege the next step gives up. setresuid also sets the saved uid, so root cannot come back.
 */
static int switch_user(const char *user, uid_t uid, gid_t gid)
{
	const char *step;
	int err;

	step = "PR_SET_KEEPCAPS";
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		goto fail;
	step = "setting the supplementary groups";
	if (initgroups(user, gid) < 0)
		goto fail;
	step = "setresgid";
	if (setresgid(gid, gid, gid) < 0)
		goto fail;
	step = "setresuid";
	if (setresuid(uid, uid, uid) < 0)
		goto fail;
	(void)prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0); /* done its job; no later uid change exists */
	return 0;
fail:
	err = errno;
	log_error("sandbox: switching to user %s (uid %u, gid %u): %s: %s", user, (unsigned)uid,
		  (unsigned)gid, step, strerror(err));
	return -err;
}

/* ---- layer 2: capabilities ---- */

/* CAP_NET_ADMIN: SO_MARK (wg set fwmark) and SO_RCVBUFFORCE on new sockets; CAP_NET_BIND_SERVICE:
 * a new listen-port below 1024. Nothing else is needed once TUN and the sockets exist. */
#define CAP_BIT(cap) (UINT64_C(1) << (cap))
static const uint64_t kept_caps_wanted = CAP_BIT(CAP_NET_ADMIN) | CAP_BIT(CAP_NET_BIND_SERVICE);

struct cap_sets {
	uint64_t effective;
	uint64_t permitted;
	uint64_t inheritable;
};

/* capget/capset directly (version 3, two 32-bit words): libcap-ng would add a library for what
 * is two structs, and these calls are stable kernel ABI. */
static int get_caps(struct cap_sets *sets)
{
	struct __user_cap_header_struct header = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

	if (syscall(SYS_capget, &header, data) < 0)
		return -errno;
	sets->effective = data[0].effective | (uint64_t)data[1].effective << 32;
	sets->permitted = data[0].permitted | (uint64_t)data[1].permitted << 32;
	sets->inheritable = data[0].inheritable | (uint64_t)data[1].inheritable << 32;
	return 0;
}

static int set_caps(const struct cap_sets *sets)
{
	struct __user_cap_header_struct header = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
	int i;

	for (i = 0; i < _LINUX_CAPABILITY_U32S_3; i++) {
		data[i].effective = (uint32_t)(sets->effective >> (32 * i));
		data[i].permitted = (uint32_t)(sets->permitted >> (32 * i));
		data[i].inheritable = (uint32_t)(sets->inheritable >> (32 * i));
	}
	if (syscall(SYS_capset, &header, data) < 0)
		return -errno;
	return 0;
}

/* Drops every capability outside keep from the bounding set; the kernel's last capability is
 * where PR_CAPBSET_READ says EINVAL, which may lie past this header's CAP_LAST_CAP. */
static int drop_bounding_set(uint64_t keep)
{
	int cap;
	int has_cap;

	for (cap = 0;; cap++) {
		has_cap = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
		if (has_cap < 0)
			return 0;
		if (has_cap == 0 || (cap < 64 && (keep & CAP_BIT(cap))))
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
			return -errno;
	}
}

static int reduce_caps(bool keeps_ipc_lock, struct sandbox_report *report)
{
	struct cap_sets sets = { 0 };
	uint64_t keep;
	int ret;

	ret = get_caps(&sets);
	if (ret < 0)
		goto fail;
	keep = sets.permitted & (kept_caps_wanted | (keeps_ipc_lock ? CAP_BIT(CAP_IPC_LOCK) : 0));
	/* Effective = permitted first: after a user switch effective is empty, and dropping from
	 * the bounding set needs CAP_SETPCAP in it. */
	sets.effective = sets.permitted;
	ret = set_caps(&sets);
	if (ret < 0)
		goto fail;
	ret = drop_bounding_set(keep);
	if (ret == 0)
		report->has_dropped_bounding_set = true;
	else
		log_error("sandbox: capabilities: the bounding set stays as it is (%s: CAP_SETPCAP"
			  " is not held)", strerror(-ret));
	/* Ambient capabilities (Linux 4.3+) would survive an execve; EINVAL means the kernel has
	 * none to clear. */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL) {
		ret = -errno;
		goto fail;
	}
	sets.effective = sets.permitted = keep;
	sets.inheritable = 0;
	ret = set_caps(&sets);
	if (ret < 0)
		goto fail;
	report->has_reduced_caps = true;
	report->kept_caps = keep;
	return 0;
fail:
	log_error("sandbox: reducing the capabilities: %s", strerror(-ret));
	return ret;
}

/* ---- layer 3: no_new_privs ---- */

static void set_no_new_privs(struct sandbox_report *report)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		log_error("sandbox: no_new_privs is not available (%s): Landlock and seccomp are"
			  " skipped too", strerror(errno));
		return;
	}
	report->has_no_new_privs = true;
}

/* ---- layer 4: Landlock ---- */

/* The build headers may be older than the kernel: rights and fields up to ABI 6, by value. */
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15)
#endif
#ifndef LANDLOCK_ACCESS_NET_BIND_TCP
#define LANDLOCK_ACCESS_NET_BIND_TCP (1ULL << 0)
#define LANDLOCK_ACCESS_NET_CONNECT_TCP (1ULL << 1)
#endif
#ifndef LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET
#define LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0)
#define LANDLOCK_SCOPE_SIGNAL (1ULL << 1)
#endif

/* struct landlock_ruleset_attr as of ABI 6. Older kernels accept it whole as long as the fields
 * they do not know are zero. */
struct ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;
	uint64_t scoped;
};

/* Every file system right the ABI knows, so nothing the ruleset does not mention is allowed. */
static uint64_t fs_rights_of(int abi)
{
	uint64_t rights = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1; /* ABI 1: EXECUTE .. MAKE_SYM */

	if (abi >= 2)
		rights |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		rights |= LANDLOCK_ACCESS_FS_TRUNCATE;
	if (abi >= 5)
		rights |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
	return rights;
}

static void log_landlock_missing(int err)
{
	const char *why = err == ENOSYS	    ? "the kernel is built without it"
			  : err == EOPNOTSUPP ? "it is disabled at boot (lsm=)"
					      : strerror(err);

	log_error("sandbox: Landlock is not available (%s): file access is confined by seccomp"
		  " alone", why);
}

/*
 * The daemon's run-time file access is removing its socket at exit (REMOVE_FILE on socket_dir)
 * and stat() of it after an inotify event, which Landlock does not govern. Descriptors opened
 * before (TUN, sockets, /dev/null) keep working: Landlock checks at open time. Connecting to
 * /dev/log again (glibc's syslog after syslogd restarts) is a path-named socket, which no ABI up
 * to 7 restricts. UDP is not governed either, so `wg set listen-port` keeps working while TCP is
 * refused outright (no rule allows a port).
 */
static int apply_landlock(const char *socket_dir, struct sandbox_report *report)
{
	struct ruleset_attr attr = { 0 };
	struct landlock_path_beneath_attr beneath = {
		.allowed_access = LANDLOCK_ACCESS_FS_REMOVE_FILE,
	};
	int ruleset_fd = -1;
	int abi;
	int ret = 0;

	abi = (int)syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 0) {
		log_landlock_missing(errno);
		return 0;
	}
	attr.handled_access_fs = fs_rights_of(abi);
	if (abi >= 4)
		attr.handled_access_net =
			LANDLOCK_ACCESS_NET_BIND_TCP | LANDLOCK_ACCESS_NET_CONNECT_TCP;
	if (abi >= 6)
		attr.scoped = LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET | LANDLOCK_SCOPE_SIGNAL;
	ruleset_fd = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (ruleset_fd < 0) {
		ret = -errno;
		log_error("sandbox: creating a Landlock ruleset (ABI %d): %s", abi, strerror(-ret));
		goto out;
	}
	if (socket_dir) {
		beneath.parent_fd = open(socket_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (beneath.parent_fd < 0) {
			ret = -errno;
			log_error("sandbox: opening %s for Landlock: %s", socket_dir,
				  strerror(-ret));
			goto out;
		}
		if (syscall(SYS_landlock_add_rule, ruleset_fd, LANDLOCK_RULE_PATH_BENEATH, &beneath,
			    0) < 0)
			ret = -errno;
		close(beneath.parent_fd);
		if (ret < 0) {
			log_error("sandbox: Landlock rule for %s: %s", socket_dir, strerror(-ret));
			goto out;
		}
	}
	if (syscall(SYS_landlock_restrict_self, ruleset_fd, 0) < 0) {
		ret = -errno;
		log_error("sandbox: applying the Landlock ruleset: %s", strerror(-ret));
		goto out;
	}
	report->landlock_abi = abi;
	report->has_landlock_net = attr.handled_access_net != 0;
	report->has_landlock_scopes = attr.scoped != 0;
	if (abi < 6)
		log_verbose("sandbox: Landlock ABI %d: %s", abi,
			    abi < 4 ? "TCP and signals are not restricted (ABI 4 and 6)"
				    : "signals and abstract sockets are not scoped (ABI 6)");
out:
	if (ruleset_fd >= 0)
		close(ruleset_fd);
	return ret;
}

/* ---- layer 5: seccomp ---- */

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

static int load_seccomp(struct sandbox_report *report)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
	unsigned rules = 0;
	size_t i;
	int ret;

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
	report->has_seccomp = true;
	report->seccomp_rules = rules;
out:
	seccomp_release(ctx);
	return ret;
}

/* ---- sandbox_enter ---- */

/* The Threads: line of /proc/self/status, or 0 when /proc cannot tell. */
static unsigned count_threads(void)
{
	char line[128];
	unsigned threads = 0;
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Threads: %u", &threads) == 1)
			break;
	fclose(f);
	return threads;
}

static void log_summary(const struct sandbox_options *opts, const struct sandbox_report *r)
{
	char caps[64];
	char landlock[64];

	snprintf(caps, sizeof(caps), "%s%s%s%s, bounding set %s",
		 r->kept_caps & CAP_BIT(CAP_NET_ADMIN) ? " NET_ADMIN" : "",
		 r->kept_caps & CAP_BIT(CAP_NET_BIND_SERVICE) ? " NET_BIND_SERVICE" : "",
		 r->kept_caps & CAP_BIT(CAP_IPC_LOCK) ? " IPC_LOCK" : "",
		 r->kept_caps ? "" : " none", r->has_dropped_bounding_set ? "too" : "kept");
	if (r->landlock_abi)
		snprintf(landlock, sizeof(landlock), "ABI %d (files%s%s)", r->landlock_abi,
			 r->has_landlock_net ? ", TCP" : "",
			 r->has_landlock_scopes ? ", scopes" : "");
	else
		snprintf(landlock, sizeof(landlock), "off");
	log_verbose("sandbox: user %s; capabilities%s; no_new_privs %s; Landlock %s; seccomp %s"
		    " (%u rules)", r->is_user_switched ? opts->user : "unchanged", caps,
		    r->has_no_new_privs ? "on" : "off", landlock, r->has_seccomp ? "on" : "off",
		    r->seccomp_rules);
}

int sandbox_enter(const struct sandbox_options *opts, struct sandbox_report *report)
{
	struct sandbox_report local;
	struct passwd *pw;
	uid_t uid = 0;
	gid_t gid = 0;
	unsigned threads;
	int ret;

	if (!report)
		report = &local;
	memset(report, 0, sizeof(*report));
	if (opts->is_disabled) {
		log_error("sandbox: disabled (--no-sandbox): running with every privilege it"
			  " started with");
		return 0;
	}
	threads = count_threads();
	if (threads > 1) {
		log_error("sandbox: %u threads are running; capabilities and Landlock would confine"
			  " only this one, so the sandbox must be entered before any thread starts",
			  threads);
		return -EBUSY;
	}
	if (opts->user) {
		errno = 0;
		pw = getpwnam(opts->user);
		if (!pw) {
			/* getpwnam(3): "not found" may come as any of these */
			ret = -errno;
			if (errno == 0 || errno == ESRCH || errno == EBADF || errno == EPERM)
				ret = -ENOENT;
			log_error("sandbox: user %s: %s", opts->user,
				  ret == -ENOENT ? "no such user" : strerror(-ret));
			return ret;
		}
		uid = pw->pw_uid;
		gid = pw->pw_gid;
	}
	/* localtime_r reads /etc/localtime on first use, which the filter would refuse. */
	tzset();
	ret = prepare_violation_report(opts);
	if (ret == 0 && opts->user) {
		ret = switch_user(opts->user, uid, gid);
		report->is_user_switched = ret == 0;
	}
	if (ret == 0)
		ret = reduce_caps(opts->keeps_ipc_lock, report);
	if (ret == 0)
		set_no_new_privs(report);
	/* Both need no_new_privs (we no longer hold CAP_SYS_ADMIN, the alternative). */
	if (ret == 0 && report->has_no_new_privs)
		ret = apply_landlock(opts->socket_dir, report);
	if (ret == 0 && report->has_no_new_privs)
		ret = load_seccomp(report);
	if (ret < 0)
		return ret;
	log_summary(opts, report);
	return 0;
}
