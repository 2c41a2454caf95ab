/* SPDX-License-Identifier: MIT */
/*
 * The seccomp layer of the sandbox (sandbox.h): an allow-list of the system calls the daemon uses
 * after setup, some with their arguments pinned, loaded on every thread; any other call traps,
 * and the SIGSYS handler writes "sandbox: system call N (NAME) is not allowed; exiting" to stderr
 * (and syslog) and exits with SYSCALL_FILTER_EXIT_VIOLATION. Used by sandbox_enter only.
 */
#ifndef WGC_DAEMON_SYSCALL_FILTER_H
#define WGC_DAEMON_SYSCALL_FILTER_H

#include <stdbool.h>

enum {
	/* Exit status after a forbidden system call (as a shell reports death by SIGSYS: 128 + 31). */
	SYSCALL_FILTER_EXIT_VIOLATION = 159,
};

/* Prepares the report of a violation while files and names can still be read (syscall names,
 * the "(ifname)" prefix, a /dev/log socket of its own when uses_syslog) and installs the SIGSYS
 * handler. ifname may be NULL. Before syscall_filter_load. 0 or -errno (logged). */
int syscall_filter_prepare(const char *ifname, bool uses_syslog);
/* Loads the allow-list on every thread (TSYNC). 0 with *is_loaded true and *rule_count rules;
 * 0 with *is_loaded false when the kernel has no seccomp filters (logged); -errno on a failure
 * (logged): the caller exits then. Needs no_new_privs (or CAP_SYS_ADMIN). */
int syscall_filter_load(bool *is_loaded, unsigned *rule_count);

#endif
