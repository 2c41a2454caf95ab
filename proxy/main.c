/* SPDX-License-Identifier: MIT */
/*
 * wgc-proxy: a WireGuard tunnel for applications, without TUN and without root. Flags, the
 * configuration, daemonizing, signals and the one epoll loop that drives lwIP's timers, the wgc
 * endpoint's timers and every socket.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "lwip/timeouts.h"
#include "proxy/proxy.h"
#include "proxy/metrics.h"
#include "proxy/resolver.h"
#include "proxy/udp_tunnel.h"

#define WGC_PROXY_VERSION "0.1"

enum {
	EVENTS_MAX = 128,
	SWEEP_INTERVAL_MS = 1000,
	STDIO_DRAIN_MS = 2000, /* at most, after [STDIOTunnel] ended, for lwIP's last segments */
};

static const char usage[] =
	"Usage: wgc-proxy -c FILE [-n] [-f | -d] [--metrics IP:PORT]\n"
	"\n"
	"A WireGuard tunnel for applications, as an ordinary user: no TUN device, no\n"
	"capabilities, one UDP socket. The TCP/IP stack is lwIP, in this process; the\n"
	"tunnel is libwgc. Reads wireproxy's configuration format.\n"
	"\n"
	"Options:\n"
	"  -c, --config FILE   the configuration (required)\n"
	"  -n, --configtest    check the configuration, print nothing, exit 0 if it is good\n"
	"  -f, --foreground    stay in the foreground (the default)\n"
	"  -d, --daemon        detach and run in the background (output goes to /dev/null;\n"
	"                      not with [STDIOTunnel])\n"
	"  -m, --metrics IP:PORT  serve the counters as Prometheus text over HTTP there\n"
	"  -h, --help          this text\n"
	"  -v, --version       print the version\n"
	"\n"
	"Configuration (INI; section and key names are case-insensitive):\n"
	"  WGConfig = PATH     before any section: read [Interface] and [Peer] from a\n"
	"                      wg-quick file\n"
	"  [Interface]         PrivateKey, Address (one IPv4, IPv6 up to 6; comma lists),\n"
	"                      DNS, MTU (576..1500, default 1420), ListenPort\n"
	"  [Peer]              PublicKey, PresharedKey, Endpoint (host:port, [v6]:port,\n"
	"                      names resolved at start), AllowedIPs (default 0.0.0.0/0, ::/0),\n"
	"                      PersistentKeepalive; any number of peers\n"
	"  [Socks5]            BindAddress, Username, Password: SOCKS5 CONNECT (IPv4, IPv6\n"
	"                      and names) and UDP ASSOCIATE (IPv4, IPv6 and names), RFC 1929\n"
	"                      authentication when both are set\n"
	"  [http]              BindAddress, Username, Password: an HTTP proxy: CONNECT, and\n"
	"                      http:// requests forwarded (Connection: close); Basic auth\n"
	"  [TCPClientTunnel]   BindAddress, Target: connections to BindAddress go to Target\n"
	"                      through the tunnel\n"
	"  [TCPServerTunnel]   ListenPort, Target: connections from the tunnel to our\n"
	"                      addresses' ListenPort go to Target (resolved at start)\n"
	"  [STDIOTunnel]       Target: standard input and output are one connection to\n"
	"                      Target through the tunnel (ssh -o ProxyCommand='wgc-proxy\n"
	"                      -c FILE'); logs go to stderr only; the end of stdin\n"
	"                      half-closes; the remote's close ends the program (status 0\n"
	"                      once stdout has everything; 1 if the connection fails)\n"
	"  [UDPClientTunnel]   BindAddress, Target: datagrams to BindAddress go to Target,\n"
	"                      replies come back; a flow per client address, 60 s idle\n"
	"  [UDPServerTunnel]   ListenPort, Target: the same, from the tunnel to the host\n"
	"  Names in SOCKS5 and HTTP requests, UDP ASSOCIATE datagrams and TCPClientTunnel and\n"
	"  STDIOTunnel Targets resolve through the tunnel's DNS server when [Interface] has\n"
	"  DNS (else the system resolver).\n"
	"\n"
	"A bad file gets one line \"file:line: what is wrong\" on stderr and exit status 1.\n"
	"\n"
	"Signals: SIGUSR1 prints a status line per peer and the proxy's counters to stderr;\n"
	"SIGINT and SIGTERM close every connection, wipe the keys and exit 0.\n";

/* ---- epoll ---- */

static struct proxy *the_proxy;

bool proxy_watch(struct proxy *px, struct watch *w, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };
	int rc;

	if (w->is_always_ready) {
		w->events = events;
		return true;
	}
	if (events == 0) {
		proxy_unwatch(px, w);
		return true;
	}
	rc = epoll_ctl(px->epoll_fd, w->is_registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, w->fd, &ev);
	if (rc != 0 && errno == EPERM && !w->is_registered && px->ready_count < PROXY_READY_MAX) {
		/* a regular file: never blocks, so the loop serves it on every turn */
		w->is_always_ready = true;
		w->events = events;
		px->ready[px->ready_count++] = w;
		return true;
	}
	if (rc != 0) {
		fprintf(stderr, "wgc-proxy: epoll_ctl fd %d: %s\n", w->fd, strerror(errno));
		return false;
	}
	w->is_registered = true;
	w->events = events;
	return true;
}

void proxy_unwatch(struct proxy *px, struct watch *w)
{
	if (w->is_always_ready) {
		for (size_t i = 0; i < px->ready_count; i++) {
			if (px->ready[i] == w) {
				px->ready[i] = px->ready[--px->ready_count];
				break;
			}
		}
		w->is_always_ready = false;
	}
	if (w->is_registered)
		(void)epoll_ctl(px->epoll_fd, EPOLL_CTL_DEL, w->fd, NULL);
	w->is_registered = false;
	w->events = 0;
}

/* ---- status ---- */

static void print_status(struct proxy *px)
{
	const struct proxy_stats *s = &px->stats;

	wire_status(px, stderr);
	fprintf(stderr,
		"connections: %zu open, %llu accepted, %llu rejected (limit), %llu relay resets, "
		"%llu B up, %llu B down\n",
		px->conn_count, (unsigned long long)s->accepted,
		(unsigned long long)s->rejected_full, (unsigned long long)s->relay_resets,
		(unsigned long long)s->bytes_up, (unsigned long long)s->bytes_down);
	fprintf(stderr,
		"socks5: %llu ok, bad version %llu, no method %llu, bad auth %llu, bad format "
		"%llu, bad command %llu, bad address type %llu, truncated %llu, stalled %llu\n",
		(unsigned long long)s->socks_ok, (unsigned long long)s->socks_bad_version,
		(unsigned long long)s->socks_no_method, (unsigned long long)s->socks_bad_auth,
		(unsigned long long)s->socks_bad_format, (unsigned long long)s->socks_bad_command,
		(unsigned long long)s->socks_bad_address_type,
		(unsigned long long)s->socks_truncated,
		(unsigned long long)s->handshake_timeouts);
	fprintf(stderr, "http: %llu ok, bad request %llu, unauthorized %llu, cut short %llu\n",
		(unsigned long long)s->http_ok, (unsigned long long)s->http_bad_request,
		(unsigned long long)s->http_bad_auth, (unsigned long long)s->http_truncated);
	fprintf(stderr,
		"udp: %llu flows, %llu expired, %llu datagrams up, %llu down, %llu dropped\n",
		(unsigned long long)s->udp_flows, (unsigned long long)s->udp_flows_expired,
		(unsigned long long)s->udp_up, (unsigned long long)s->udp_down,
		(unsigned long long)s->udp_dropped);
	fprintf(stderr,
		"connect: no route %llu, refused %llu, timed out %llu, failed %llu, names not "
		"resolved %llu\n",
		(unsigned long long)s->connect_no_route, (unsigned long long)s->connect_refused,
		(unsigned long long)s->connect_timeouts, (unsigned long long)s->connect_failed,
		(unsigned long long)s->resolve_failed);
	fflush(stderr);
}

static void on_signal(struct watch *w, uint32_t events)
{
	struct signalfd_siginfo si;

	(void)events;
	while (read(w->fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGUSR1)
			print_status(the_proxy);
		else
			the_proxy->is_stopping = true;
	}
}

/* ---- the loop ---- */

/* Milliseconds until the earliest of lwIP's timeouts, the endpoint's deadline and the sweep. */
static int next_timeout_ms(uint64_t now, uint64_t wgc_deadline, uint64_t sweep_at)
{
	uint64_t until = sweep_at > now ? sweep_at - now : 0;
	u32_t lwip_ms = sys_timeouts_sleeptime();
	uint64_t ms;

	if (wgc_deadline <= now)
		until = 0;
	else if (wgc_deadline - now < until)
		until = wgc_deadline - now;
	ms = (until + 999999) / 1000000;
	if (lwip_ms != SYS_TIMEOUTS_SLEEPTIME_INFINITE && lwip_ms < ms)
		ms = lwip_ms;
	return (int)ms;
}

/* Whether an always-ready watch waits for something: then epoll must not sleep. */
static bool any_ready(const struct proxy *px)
{
	for (size_t i = 0; i < px->ready_count; i++)
		if (px->ready[i]->events != 0)
			return true;
	return false;
}

static void run(struct proxy *px)
{
	struct epoll_event events[EVENTS_MAX];
	uint64_t sweep_at = proxy_now_ns();
	uint64_t drain_until = 0;

	wire_kick(px);
	while (!px->is_stopping) {
		uint64_t now;
		uint64_t wgc_deadline;
		int n;

		sys_check_timeouts();
		wgc_deadline = wire_tick(px);
		now = proxy_now_ns();
		if (now >= sweep_at) {
			resolver_sweep(px, now);
			conn_sweep(px, now);
			udp_tunnel_sweep(px, now);
			sweep_at = now + (uint64_t)SWEEP_INTERVAL_MS * 1000000u;
		}
		conn_flush_queued(px);
		wire_flush(px); /* last: everything above may have sealed packets */
		conn_reap(px);
		if (px->is_stdio_done) {
			/* [STDIOTunnel] ended: let lwIP deliver its last bytes and FIN, briefly */
			if (drain_until == 0)
				drain_until = now + (uint64_t)STDIO_DRAIN_MS * 1000000u;
			if (!conn_lwip_busy() || now >= drain_until)
				break;
		}
		n = epoll_wait(px->epoll_fd, events, EVENTS_MAX,
			       any_ready(px) ? 0 : next_timeout_ms(now, wgc_deadline, sweep_at));
		if (n < 0 && errno != EINTR) {
			fprintf(stderr, "wgc-proxy: epoll_wait: %s\n", strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			struct watch *w = events[i].data.ptr;

			w->fn(w, events[i].events);
		}
		/* a handler may free the watch: take one at a time, from the current list */
		for (size_t i = 0; i < px->ready_count; i++) {
			struct watch *w = px->ready[i];

			if (w->events != 0)
				w->fn(w, w->events);
		}
	}
}

/* ---- start-up ---- */

static int open_signals(struct proxy *px, struct watch *w)
{
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
		return -1;
	w->fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	w->fn = on_signal;
	if (w->fd < 0 || !proxy_watch(px, w, EPOLLIN))
		return -1;
	return 0;
}

static int daemonize(void)
{
	pid_t pid = fork();
	int fd;

	if (pid < 0)
		return -1;
	if (pid > 0)
		_exit(0);
	if (setsid() < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0)
		_exit(0);
	if (chdir("/") != 0)
		return -1;
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -1;
	dup2(fd, STDIN_FILENO);
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	if (fd > STDERR_FILENO)
		close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "configtest", no_argument, NULL, 'n' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "daemon", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'v' },
		{ "metrics", required_argument, NULL, 'm' },
		{ NULL, 0, NULL, 0 },
	};
	static struct proxy px;
	static struct config cfg;
	struct watch sig = { .fd = -1 };
	const char *path = NULL;
	const char *metrics_addr = NULL;
	bool check_only = false;
	bool is_daemon = false;
	char err[CONFIG_ERROR_MAX];
	int opt;
	int status = 1;
	bool ok;

	while ((opt = getopt_long(argc, argv, "c:nfdhvm:", longopts, NULL)) != -1) {
		switch (opt) {
		case 'm':
			metrics_addr = optarg;
			break;
		case 'c':
			path = optarg;
			break;
		case 'n':
			check_only = true;
			break;
		case 'f':
			is_daemon = false;
			break;
		case 'd':
			is_daemon = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		case 'v':
			printf("wgc-proxy %s (lwIP %s)\n", WGC_PROXY_VERSION, "2.1");
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (path == NULL || optind != argc) {
		fputs(usage, stderr);
		return 2;
	}
	if (sodium_init() < 0) {
		fprintf(stderr, "wgc-proxy: libsodium failed to initialise\n");
		return 1;
	}
	if (!config_load(&cfg, path, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		goto out;
	}
	if (is_daemon && cfg.has_stdio) {
		fprintf(stderr, "wgc-proxy: -d: [STDIOTunnel] needs the foreground (its standard "
				"input and output)\n");
		goto out;
	}
	if (check_only) {
		status = 0;
		goto out;
	}
	px.cfg = &cfg;
	px.udp.fd = -1;
	the_proxy = &px;
	px.epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (px.epoll_fd < 0 || open_signals(&px, &sig) != 0) {
		fprintf(stderr, "wgc-proxy: epoll/signalfd: %s\n", strerror(errno));
		goto out;
	}
	err[0] = '\0';
	ok = wire_start(&px, err, sizeof(err));
	if (ok && cfg.dns_count > 0 && !resolver_start(&px)) {
		snprintf(err, sizeof(err), "wgc-proxy: out of memory for the resolver");
		ok = false;
	}
	if (!ok || !conn_start(&px, err, sizeof(err)) || !udp_tunnel_start(&px, err, sizeof(err)) ||
	    (metrics_addr && !metrics_start(&px, metrics_addr, err, sizeof(err)))) {
		fprintf(stderr, "%s\n", err);
		goto undo_conn;
	}
	if (is_daemon && daemonize() != 0) {
		fprintf(stderr, "wgc-proxy: daemonizing: %s\n", strerror(errno));
		goto undo_conn;
	}
	fprintf(stderr, "wgc-proxy: running: %zu peer(s), %zu service(s)\n", cfg.peer_count,
		cfg.service_count);
	run(&px);
	status = px.exit_status; /* 0, or 1 when [STDIOTunnel]'s connection failed */
	fprintf(stderr, "wgc-proxy: stopping\n");
undo_conn:
	metrics_stop(&px);
	udp_tunnel_stop(&px);
	conn_stop(&px);
	resolver_stop(&px);
	wire_stop(&px);
out:
	config_free(&cfg);
	return status;
}
