/* SPDX-License-Identifier: MIT */
/*
 * The daemon's confinement: a process that cannot be dumped or traced, secret memory that is
 * locked and left out of core dumps, and, once setup is done, least privilege in five layers (an
 * unprivileged user, two capabilities, no_new_privs, Landlock, a seccomp allow-list), each of which
 * degrades with one log line when the kernel lacks it. This file owns the policy (which calls,
 * which paths, which capabilities); it does not know the daemon's objects, only what main tells it.
 */
#ifndef WGC_DAEMON_SANDBOX_H
#define WGC_DAEMON_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/syscall_filter.h"
#include "wgc.h"

/* ---- protection from the first instruction on ---- */

/*
 * Makes the process non-dumpable (PR_SET_DUMPABLE 0: no core file, no ptrace attach or
 * /proc/PID/mem by anyone without CAP_SYS_PTRACE, so `gcore` is refused) and sets RLIMIT_CORE to 0
 * (hard and soft). Call first thing in main, before any secret exists. Single thread, any
 * privilege. Returns 0, or -errno after logging what failed (the caller should exit).
 */
WGC_MUST_CHECK int sandbox_protect_process(void);

/*
 * Marks [addr, addr + len), widened to whole pages, as memory that will hold secrets: locked in
 * RAM once touched (mlock2 MLOCK_ONFAULT, so pages never touched cost nothing) and left out of
 * core dumps (MADV_DONTDUMP). addr is borrowed; the range must stay mapped, and the marks vanish
 * with the mapping (munmap, or free() of an mmap'ed chunk). len 0 does nothing.
 *
 * Best effort: when the kernel or RLIMIT_MEMLOCK refuses the lock (unprivileged, or after
 * sandbox_enter dropped CAP_IPC_LOCK: then only RLIMIT_MEMLOCK bytes in total can be locked),
 * the memory is still usable and the first failure of each kind is logged, once per process.
 * Returns 0 when both marks were set, else -errno of the first that failed (-EINVAL for a NULL
 * addr with len > 0). Callable from any thread; allowed by the seccomp layer, so it may be used
 * after sandbox_enter (UAPI buffers).
 */
int sandbox_protect_memory(void *addr, size_t len);

/* ---- least privilege after setup ---- */

struct sandbox_options {
	bool is_disabled;       /* --no-sandbox: change nothing, say so in the log */
	const char *user;       /* NULL: stay root; else run as this user (getpwnam), groups too */
	const char *socket_dir; /* the UAPI socket's directory; NULL: no file may be removed */
	const char *ifname;     /* names the interface in a violation report; may be NULL */
	bool uses_syslog;       /* the daemon logs to syslog: report violations there as well */
	/* Keep CAP_IPC_LOCK too, so memory locked after setup (UAPI buffers) is not bounded by
	 * RLIMIT_MEMLOCK (8 MiB by default). main sets it only when it could not lift that limit
	 * (no CAP_SYS_RESOURCE, as in many containers): otherwise the two capabilities suffice. */
	bool keeps_ipc_lock;
};

/* What sandbox_enter applied; every field false/0 when disabled or before a layer was reached. */
struct sandbox_report {
	bool is_user_switched; /* uid, gid and groups are opts->user's */
	/* permitted = effective = kept_caps; inheritable and ambient empty */
	bool has_reduced_caps;
	/* the bounding set is kept_caps too (false without CAP_SETPCAP) */
	bool has_dropped_bounding_set;
	/* bit (1 << CAP_X) per capability kept: at most NET_ADMIN, NET_BIND_SERVICE (and IPC_LOCK
	 * if asked), fewer if the process did not hold them */
	uint64_t kept_caps;
	bool has_no_new_privs;
	int landlock_abi;         /* the kernel's Landlock ABI when a ruleset was applied, else 0 */
	bool has_landlock_net;    /* TCP bind/connect refused (ABI 4) */
	bool has_landlock_scopes; /* abstract unix sockets and signals scoped (ABI 6) */
	bool has_seccomp;         /* the allow-list is loaded (all threads) */
	unsigned seccomp_rules;   /* rules in the loaded filter (allowed and refused calls) */
};

enum {
	/* Exit status after a forbidden system call (as a shell shows death by SIGSYS: 128 + 31) */
	SANDBOX_EXIT_VIOLATION = SYSCALL_FILTER_EXIT_VIOLATION,
};

/*
 * Confines the process for the rest of its life, in this order: switch to opts->user (keeping
 * capabilities across the switch with PR_SET_KEEPCAPS), reduce the capabilities to CAP_NET_ADMIN
 * and CAP_NET_BIND_SERVICE, plus CAP_IPC_LOCK with opts->keeps_ipc_lock (permitted, effective,
 * bounding; inheritable and ambient empty), set
 * no_new_privs, apply a Landlock ruleset (no file access but removing files in opts->socket_dir;
 * no TCP; signals and abstract unix sockets scoped to the process), load the seccomp allow-list.
 * A system call outside the list ends the process: the SIGSYS handler writes "sandbox: system
 * call N (NAME) is not allowed" to stderr (and syslog when opts->uses_syslog), then exits with
 * SANDBOX_EXIT_VIOLATION. Files are refused, not fatal: open/openat fail with EACCES.
 *
 * Preconditions, because capabilities and Landlock are per thread: the process is
 * single-threaded (otherwise -EBUSY and nothing changes); threads started later inherit every
 * layer. Everything the daemon needs from the file system is already open or connected: TUN,
 * sockets, UAPI listener, inotify watch, /dev/null, syslog (openlog with LOG_NDELAY), and any
 * value libc reads from a file on first use (sysconf(_SC_NPROCESSORS_ONLN)); the time zone is
 * loaded here. Call once. opts and its strings are borrowed for the call; report may be NULL.
 *
 * Returns 0 when done (layers the kernel lacks are logged once and skipped, see the report), or
 * -errno on a hard error, after logging it: -ENOENT for an unknown user, -EPERM when the user
 * switch or a capability change is refused, -EBUSY when called with threads running. After a hard
 * error some layers may be in place; the caller must exit with a failure status.
 */
WGC_MUST_CHECK int sandbox_enter(const struct sandbox_options *opts,
				 struct sandbox_report *report);

#endif
