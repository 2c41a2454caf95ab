/* SPDX-License-Identifier: MIT */
/*
 * wgc: the Linux daemon, a drop-in for wireguard-go. `wgc [-f|--foreground] IFACE` creates the TUN
 * interface and the UAPI socket, detaches unless told not to (the parent returns only once the
 * child is ready, so `wgc wg0 && wg setconf wg0 ...` works, as wg-quick relies on), then runs the
 * event loop until SIGINT/SIGTERM or the interface's deletion. Under systemd (Type=notify) it
 * sends READY=1 to $NOTIFY_SOCKET at the moment it would tell a waiting parent, from the process
 * that stays, so readiness means the same thing in both modes. On the way out the socket file is
 * removed and every key wiped. main owns the three top-level objects and their order: the loop
 * first (it blocks the signals every later thread inherits), then the device (TUN, endpoint,
 * sockets, data path), then the UAPI server; teardown is the reverse.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/device.h"
#include "daemon/log.h"
#include "daemon/loop.h"
#include "daemon/notify.h"
#include "daemon/sandbox.h"
#include "daemon/tun.h"
#include "daemon/uapi.h"
#include "wgc.h"

enum {
	/* Generous: the endpoint's memory is mapped lazily, so unused capacity costs no RSS. */
	MAX_PEERS = 1 << 16,
	MAX_ALLOWED_IPS = 1 << 20,
	EXIT_USAGE = 2,
};

static void usage(FILE *out, const char *prog)
{
	fprintf(out,
		"Usage: %s [-f/--foreground] [--user NAME] [--no-sandbox] INTERFACE-NAME\n"
		"       %s --version | -h/--help\n"
		"\n"
		"Creates the WireGuard interface INTERFACE-NAME, served by this process and\n"
		"configured with wg(8) through /var/run/wireguard/INTERFACE-NAME.sock.\n"
		"Once set up it keeps only CAP_NET_ADMIN and CAP_NET_BIND_SERVICE and runs under a\n"
		"seccomp allow-list and Landlock; --user NAME also runs it as that user, and\n"
		"--no-sandbox leaves all of that off (for debugging).\n"
		"Environment: LOG_LEVEL=verbose|error|silent, WG_PROCESS_FOREGROUND=1, WGC_USER=NAME,\n"
		"WGC_WORKERS=N, WGC_NO_OFFLOAD=1, WGC_AEAD=libsodium|openssl|openssl-direct.\n",
		prog, prog);
}

struct options {
	bool is_foreground;
	bool is_sandbox_disabled;
	const char *user; /* NULL: stay root */
	const char *ifname;
};

/* Returns -1 to go on, or the exit status. */
static int parse_args(int argc, char **argv, struct options *opts)
{
	const char *fg = getenv("WG_PROCESS_FOREGROUND");
	int i;

	opts->is_foreground = fg && strcmp(fg, "1") == 0;
	opts->is_sandbox_disabled = false;
	opts->user = getenv("WGC_USER");
	if (opts->user && opts->user[0] == '\0')
		opts->user = NULL;
	opts->ifname = NULL;
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--version") == 0) {
			printf("wgc v%s\n\nUserspace WireGuard daemon for Linux, built on libwgc.\n",
			       wgc_version());
			return 0;
		}
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout, argv[0]);
			return 0;
		}
		if (strcmp(argv[i], "-f") == 0 || strcmp(argv[i], "--foreground") == 0) {
			opts->is_foreground = true;
		} else if (strcmp(argv[i], "--no-sandbox") == 0) {
			opts->is_sandbox_disabled = true;
		} else if (strcmp(argv[i], "--user") == 0) {
			if (i + 1 == argc || argv[i + 1][0] == '\0') {
				fprintf(stderr, "%s: --user needs a user name\n", argv[0]);
				usage(stderr, argv[0]);
				return EXIT_USAGE;
			}
			opts->user = argv[++i];
		} else if (argv[i][0] == '-' || opts->ifname) {
			usage(stderr, argv[0]);
			return EXIT_USAGE;
		} else {
			opts->ifname = argv[i];
		}
	}
	if (!opts->ifname || opts->ifname[0] == '\0') {
		usage(stderr, argv[0]);
		return EXIT_USAGE;
	}
	return -1;
}

/*
 * Forks; the parent waits for the child's one-byte verdict on a pipe and exits with it, so it
 * returns only once the interface and socket exist (or setup failed). Returns the pipe's write end
 * in the child, or -1 on failure (in the process that called it).
 */
static int daemonize(void)
{
	int fds[2];
	char verdict = 1;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) < 0) {
		log_error("creating the readiness pipe: %s", strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		log_error("forking: %s", strerror(errno));
		return -1;
	}
	if (pid > 0) {
		close(fds[1]);
		if (read(fds[0], &verdict, 1) != 1)
			verdict = 1;
		_exit(verdict);
	}
	close(fds[0]);
	if (setsid() < 0)
		log_error("starting a session: %s", strerror(errno));
	return fds[1];
}

/* What detaching needs from the file system, taken before the sandbox closes it: /dev/null for
 * the standard descriptors, the working directory, and the syslog connection. -1 on failure. */
static int prepare_detach(void)
{
	int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	int err;

	if (null_fd < 0) {
		err = errno;
		log_error("opening /dev/null: %s", strerror(err));
	}
	if (chdir("/") < 0) {
		err = errno;
		log_error("changing to /: %s", strerror(err));
	}
	log_open_syslog();
	return null_fd;
}

/* Tells the waiting parent how setup went and, on success, lets go of the terminal. */
static void detach(int notify_fd, int null_fd, const char *ifname, enum log_level level,
		   bool is_ready)
{
	char verdict = is_ready ? 0 : 1;
	int err;

	if (notify_fd < 0)
		return;
	if (write(notify_fd, &verdict, 1) != 1) {
		err = errno;
		log_error("telling the parent we are ready: %s", strerror(err));
	}
	close(notify_fd);
	if (!is_ready)
		return;
	if (null_fd >= 0) {
		dup2(null_fd, STDIN_FILENO);
		dup2(null_fd, STDOUT_FILENO);
		dup2(null_fd, STDERR_FILENO);
		if (null_fd > STDERR_FILENO)
			close(null_fd);
	}
	log_init(ifname, level, true);
}

enum { STACK_LOCK_BYTES = 256 << 10 };

/*
 * The event loop's stack holds short-lived copies of keys (the get reply's formatting, the
 * handshake's DH in libsodium): the STACK_LOCK_BYTES below main's frame, far deeper than any call
 * chain of the loop, are mapped now, locked in RAM and left out of core dumps.
 */
static void __attribute__((noinline)) protect_stack(void)
{
	volatile uint8_t probe[STACK_LOCK_BYTES];

	memset((void *)probe, 0, sizeof(probe));
	(void)sandbox_protect_memory((void *)probe, sizeof(probe)); /* best effort; logged */
}

static int enter_sandbox(const struct options *opts)
{
	const struct sandbox_options sandbox = {
		.is_disabled = opts->is_sandbox_disabled,
		.user = opts->user,
		.socket_dir = UAPI_SOCKET_DIR,
		.ifname = opts->ifname,
		.uses_syslog = !opts->is_foreground,
	};
	struct sandbox_options with_lock = sandbox;
	struct rlimit unlimited = { RLIM_INFINITY, RLIM_INFINITY };
	int err;

	/* Memory locked later (UAPI buffers, which carry keys) counts against RLIMIT_MEMLOCK once
	 * CAP_IPC_LOCK is gone, and the locked endpoint block alone exceeds any default: lift the
	 * limit while we may. Where we may not (no CAP_SYS_RESOURCE, as in many containers and on
	 * this project's CI), keep CAP_IPC_LOCK instead: a key in swappable memory is worse than a
	 * third capability that only lets the process pin its own pages. */
	if (!opts->is_sandbox_disabled && setrlimit(RLIMIT_MEMLOCK, &unlimited) < 0) {
		err = errno;
		log_verbose("cannot lift RLIMIT_MEMLOCK (%s): keeping CAP_IPC_LOCK", strerror(err));
		with_lock.keeps_ipc_lock = true;
	}
	return sandbox_enter(&with_lock, NULL); /* logs what it applied */
}

/*
 * WGC_AEAD forces libwgc's ChaCha20-Poly1305 implementation (for A/B runs of the tunnel
 * benchmark); unset, libwgc's own choice by CPU stands. Before the endpoint exists, so no packet
 * is ever sealed by another. A bad value is logged and ignored, like WGC_WORKERS.
 */
static void select_aead(void)
{
	const char *name = getenv("WGC_AEAD");
	enum wgc_status status;

	if (name && name[0] != '\0') {
		status = wgc_set_aead_backend(name);
		if (status != WGC_OK)
			log_error("WGC_AEAD=%s: %s; keeping %s", name, wgc_status_str(status),
				  wgc_aead_backend());
	}
	log_verbose("ChaCha20-Poly1305 for full-size packets: %s", wgc_aead_backend());
}

int main(int argc, char **argv)
{
	const struct device_limits limits = { .max_peers = MAX_PEERS,
					      .max_allowed_ips = MAX_ALLOWED_IPS };
	struct options opts;
	struct tun tun;
	struct loop *loop = NULL;
	struct device *dev = NULL;
	struct uapi_server *uapi = NULL;
	enum log_level level = log_level_from_env();
	int notify_fd = -1;
	int null_fd = -1;
	int manager_fd = -1; /* $NOTIFY_SOCKET, for systemd's Type=notify */
	unsigned lanes = 1;
	bool is_detached;
	int ret = parse_args(argc, argv, &opts);

	if (ret >= 0)
		return ret;
	log_init(opts.ifname, level, false);
	/* Before any secret exists: no core file, no ptrace by the unprivileged. */
	if (sandbox_protect_process() < 0)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	if (!opts.is_foreground) {
		notify_fd = daemonize();
		if (notify_fd < 0)
			return 1;
	}
	ret = loop_create(&loop);
	if (ret < 0)
		goto out;
	ret = device_lanes_wanted(&lanes);
	if (ret == 0)
		ret = tun_open(&tun, opts.ifname, lanes);
	if (ret < 0)
		goto out;
	select_aead();
	ret = device_create(loop, &tun, &limits, &dev); /* takes tun, even on failure */
	if (ret < 0)
		goto out;
	ret = uapi_server_open(opts.ifname, loop, dev, &uapi);
	if (ret < 0)
		goto out;
	protect_stack();
	if (notify_fd >= 0)
		null_fd = prepare_detach();
	/* In the process that stays (the child when detaching), while connect() still may. */
	manager_fd = notify_connect();
	/* Still one thread here (the sandbox needs it); the workers inherit every layer. */
	ret = enter_sandbox(&opts);
	if (ret < 0)
		goto out;
	is_detached = notify_fd >= 0;
	detach(notify_fd, null_fd, opts.ifname, level, true);
	notify_fd = null_fd = -1;
	/* After the logs moved to syslog (detach), so no thread logs while they move. A worker that
	 * does not start leaves its lane inline (logged); a lane that does not start is fatal. */
	ret = device_start_workers(dev);
	if (ret < 0)
		goto out;
	log_verbose("device started (wgc v%s)", wgc_version());
	notify_ready(manager_fd, is_detached);
	ret = loop_run(loop);
	log_verbose("device closing");
	notify_stopping(manager_fd);
out:
	notify_close(manager_fd);
	detach(notify_fd, null_fd, opts.ifname, level, false);
	if (null_fd >= 0)
		close(null_fd);
	uapi_server_close(uapi);
	device_destroy(dev);
	loop_destroy(loop);
	log_close();
	return ret < 0 ? 1 : 0;
}
