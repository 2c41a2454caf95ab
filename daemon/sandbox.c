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
#include <linux/landlock.h>
#include <pwd.h>
#include <sched.h>
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
#include <time.h>
#include <unistd.h>

#include "daemon/log.h"

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
	ret = syscall_filter_prepare(opts->ifname, opts->uses_syslog);
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
		ret = syscall_filter_load(&report->has_seccomp, &report->seccomp_rules);
	if (ret < 0)
		return ret;
	log_summary(opts, report);
	return 0;
}
