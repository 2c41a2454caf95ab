/* SPDX-License-Identifier: MIT */
/*
 * The UAPI server: the listening unix socket and its clients. Every client socket is nonblocking
 * and has its own input and output buffers, both capped, so one client that is slow, sends junk,
 * never ends its request or never reads its reply costs only its own memory, never the event loop's
 * time. Requests on one connection are answered in order; as in wireguard-go an unknown operation
 * closes the connection without a reply. Idle clients are closed after a timeout.
 */
#include "daemon/uapi.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "daemon/log.h"

#define UAPI_DIR "/var/run/wireguard"

enum {
	MAX_CLIENTS = 128,
	IDLE_TIMEOUT_S = 30,
	READ_CHUNK = 64 << 10,
	/* Bytes read from one client per dispatch, so a flood cannot starve the data path. */
	READ_BUDGET = 1 << 20,
	OP_LINE_MAX = 64,
	EPOLL_EVENTS = 16,
};

struct uapi_client {
	int fd;
	struct uapi_text in;    /* bytes received and not yet answered */
	size_t scanned;         /* bytes of in already searched for the end of a request */
	struct uapi_text out;   /* reply bytes not yet written */
	size_t out_off;
	uint64_t active_ns;     /* CLOCK_MONOTONIC of the last progress */
	bool has_eof;           /* the client shut down its side */
	bool is_closing;        /* close once out is written */
	uint32_t watched;       /* epoll events registered */
	struct uapi_client *next;
};

struct uapi_server {
	int epoll_fd;
	int listen_fd;
	int timer_fd;
	int inotify_fd;   /* watches the socket file: removing it stops the daemon, as wireguard-go */
	bool is_timer_armed;
	bool is_gone;     /* the socket file was removed */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct uapi_client *clients;
	unsigned client_count;
};

static uint64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- listening socket ---- */

/* True when a daemon answers on path: the socket file is live, not stale. */
static bool is_socket_live(const struct sockaddr_un *addr)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool live;

	if (fd < 0)
		return false;
	live = connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) == 0;
	close(fd);
	return live;
}

static int bind_socket(struct uapi_server *s)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	mode_t old_mask;
	int ret;

	memcpy(addr.sun_path, s->path, sizeof(addr.sun_path));
	/* No moment where the socket is reachable by others: create it under a tight umask. */
	old_mask = umask(0077);
	ret = bind(s->listen_fd, (struct sockaddr *)&addr, sizeof(addr));
	if (ret < 0 && errno == EADDRINUSE) {
		if (is_socket_live(&addr)) {
			umask(old_mask);
			log_error("another daemon is listening on %s", s->path);
			return -EADDRINUSE;
		}
		unlink(s->path);
		ret = bind(s->listen_fd, (struct sockaddr *)&addr, sizeof(addr));
	}
	umask(old_mask);
	if (ret < 0 || chmod(s->path, 0600) < 0 || listen(s->listen_fd, SOMAXCONN) < 0) {
		ret = -errno;
		log_error("creating the UAPI socket %s: %s", s->path, strerror(errno));
		return ret;
	}
	return 0;
}

static int add_fd(struct uapi_server *s, int fd, uint32_t events, void *ptr)
{
	struct epoll_event ev = { .events = events, .data.ptr = ptr };

	if (epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	return 0;
}

int uapi_server_open(const char *ifname, struct uapi_server **out)
{
	struct uapi_server *s = calloc(1, sizeof(*s));
	int ret = -ENOMEM;

	if (!s)
		return ret;
	s->epoll_fd = s->listen_fd = s->timer_fd = s->inotify_fd = -1;
	if ((size_t)snprintf(s->path, sizeof(s->path), UAPI_DIR "/%s.sock", ifname) >=
	    sizeof(s->path)) {
		log_error("UAPI socket path for '%s' is too long", ifname);
		ret = -ENAMETOOLONG;
		goto fail;
	}
	if (mkdir(UAPI_DIR, 0755) < 0 && errno != EEXIST) {
		ret = -errno;
		log_error("creating %s: %s", UAPI_DIR, strerror(errno));
		goto fail;
	}
	s->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	s->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (s->epoll_fd < 0 || s->listen_fd < 0 || s->timer_fd < 0) {
		ret = -errno;
		log_error("creating the UAPI server's descriptors: %s", strerror(errno));
		goto fail;
	}
	ret = bind_socket(s);
	if (ret < 0)
		goto fail;
	ret = add_fd(s, s->listen_fd, EPOLLIN, s);
	if (ret == 0)
		ret = add_fd(s, s->timer_fd, EPOLLIN, &s->timer_fd);
	s->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (ret == 0 && s->inotify_fd >= 0 &&
	    inotify_add_watch(s->inotify_fd, s->path, IN_ATTRIB | IN_DELETE_SELF) >= 0)
		ret = add_fd(s, s->inotify_fd, EPOLLIN, &s->inotify_fd);
	if (ret < 0) {
		log_error("watching the UAPI socket: %s", strerror(-ret));
		unlink(s->path);
		goto fail;
	}
	*out = s;
	return 0;
fail:
	if (s->epoll_fd >= 0)
		close(s->epoll_fd);
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	if (s->timer_fd >= 0)
		close(s->timer_fd);
	if (s->inotify_fd >= 0)
		close(s->inotify_fd);
	free(s);
	return ret;
}

int uapi_server_fd(const struct uapi_server *server)
{
	return server->epoll_fd;
}

/* ---- clients ---- */

static void set_idle_timer(struct uapi_server *s)
{
	struct itimerspec its = { 0 };
	bool want = s->client_count > 0;

	if (want == s->is_timer_armed)
		return;
	if (want) {
		its.it_value.tv_sec = 1;
		its.it_interval.tv_sec = 1;
	}
	if (timerfd_settime(s->timer_fd, 0, &its, NULL) == 0)
		s->is_timer_armed = want;
}

static void client_close(struct uapi_server *s, struct uapi_client *c)
{
	struct uapi_client **link;

	for (link = &s->clients; *link; link = &(*link)->next) {
		if (*link == c) {
			*link = c->next;
			break;
		}
	}
	close(c->fd); /* also leaves the epoll set */
	uapi_text_free(&c->in);
	uapi_text_free(&c->out);
	free(c);
	s->client_count--;
	set_idle_timer(s);
}

static void accept_clients(struct uapi_server *s)
{
	struct uapi_client *c;
	int fd;

	while ((fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		c = s->client_count < MAX_CLIENTS ? calloc(1, sizeof(*c)) : NULL;
		if (!c) {
			log_error("UAPI: refusing a client (%u connected)", s->client_count);
			close(fd);
			continue;
		}
		c->fd = fd;
		c->active_ns = monotonic_ns();
		c->watched = EPOLLIN;
		if (add_fd(s, fd, EPOLLIN, c) < 0) {
			close(fd);
			free(c);
			continue;
		}
		c->next = s->clients;
		s->clients = c;
		s->client_count++;
		set_idle_timer(s);
	}
}

/* Writes what it can of the reply; false when the client is gone. */
static bool client_write(struct uapi_client *c)
{
	ssize_t n;

	while (c->out_off < c->out.len) {
		n = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off,
			 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return true;
		if (n <= 0)
			return false;
		c->out_off += (size_t)n;
		c->active_ns = monotonic_ns();
	}
	uapi_text_free(&c->out); /* wipes the private key the reply may hold */
	c->out_off = 0;
	return true;
}

static bool reply_errno(struct uapi_client *c, int err)
{
	return uapi_text_printf(&c->out, "errno=%d\n\n", err);
}

/* Answers "get=1\n\n"; the reply is built whole, then written as the socket allows. */
static void handle_get(struct uapi_client *c, struct pipeline *p)
{
	if (uapi_get(p, &c->out) < 0) {
		uapi_text_free(&c->out);
		c->is_closing = !reply_errno(c, -ENOMEM);
		return;
	}
	if (!reply_errno(c, 0)) {
		uapi_text_free(&c->out);
		c->is_closing = true;
	}
}

static void handle_set(struct uapi_client *c, struct pipeline *p, size_t body, size_t end)
{
	int err = uapi_set(p, c->in.data + body, end - body);

	if (err < 0)
		log_error("UAPI set failed: %s", strerror(-err));
	if (!reply_errno(c, err))
		c->is_closing = true;
}

/*
 * Handles the next complete request in c->in, if there is one. Returns false when more bytes are
 * needed (or the client must be closed, c->is_closing).
 */
static bool handle_request(struct uapi_client *c, struct pipeline *p)
{
	const char *in = c->in.data;
	const char *nl = in ? memchr(in, '\n', c->in.len < OP_LINE_MAX ? c->in.len : OP_LINE_MAX) :
			      NULL;
	size_t op_len;
	size_t i;

	if (!nl) {
		c->is_closing = c->in.len >= OP_LINE_MAX;
		return false;
	}
	op_len = (size_t)(nl - in);
	if (op_len == 5 && memcmp(in, "get=1", 5) == 0) {
		if (c->in.len < op_len + 2)
			return false;
		/* As wireguard-go: the byte after the operation must end the request. */
		if (in[op_len + 1] == '\n')
			handle_get(c, p);
		else
			c->is_closing = !reply_errno(c, -EINVAL);
		uapi_text_consume(&c->in, op_len + 2);
		c->scanned = 0;
		return true;
	}
	if (!(op_len == 5 && memcmp(in, "set=1", 5) == 0)) {
		log_error("UAPI: unknown operation; closing the connection");
		c->is_closing = true;
		return false;
	}
	/* The request ends with an empty line: the first "\n\n" from the operation's newline. */
	for (i = c->scanned > op_len ? c->scanned : op_len; i + 1 < c->in.len; i++) {
		if (in[i] == '\n' && in[i + 1] == '\n') {
			handle_set(c, p, op_len + 1, i + 1);
			uapi_text_consume(&c->in, i + 2);
			c->scanned = 0;
			return true;
		}
	}
	c->scanned = c->in.len > 0 ? c->in.len - 1 : 0;
	return false;
}

static void client_update_events(struct uapi_server *s, struct uapi_client *c)
{
	uint32_t want = c->out.len > c->out_off ? EPOLLOUT : c->has_eof ? 0 : EPOLLIN;
	struct epoll_event ev = { .events = want, .data.ptr = c };

	if (want != c->watched && epoll_ctl(s->epoll_fd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
		c->watched = want;
}

/* Reads up to the budget; false when the connection failed. */
static bool client_read(struct uapi_client *c)
{
	size_t budget = READ_BUDGET;
	ssize_t n;

	while (budget > 0 && !c->has_eof && c->in.len <= UAPI_REQUEST_MAX) {
		if (!uapi_text_reserve(&c->in, READ_CHUNK + 1))
			return false;
		n = recv(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len - 1, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return true;
		if (n < 0)
			return false;
		if (n == 0)
			c->has_eof = true;
		c->in.len += (size_t)n;
		c->in.data[c->in.len] = '\0';
		budget = (size_t)n < budget ? budget - (size_t)n : 0;
		c->active_ns = monotonic_ns();
	}
	return true;
}

/* What is left once every complete request was answered: too much, or a truncated one. */
static void check_leftover(struct uapi_client *c)
{
	if (c->out.len != 0 || c->is_closing)
		return;
	if (c->in.len > UAPI_REQUEST_MAX) {
		log_error("UAPI: request larger than %d bytes; closing the connection",
			  UAPI_REQUEST_MAX);
		(void)reply_errno(c, -EMSGSIZE);
		c->is_closing = true;
		uapi_text_free(&c->in);
	} else if (c->has_eof && c->in.len > 0) {
		/* An unterminated request is not applied (wireguard-go would apply it). */
		if (c->in.len >= 6 && memcmp(c->in.data, "set=1\n", 6) == 0)
			(void)reply_errno(c, -EPROTO);
		c->is_closing = true;
		uapi_text_free(&c->in);
	}
}

static void client_process(struct uapi_server *s, struct uapi_client *c, struct pipeline *p,
			   uint32_t events)
{
	bool is_alive = true;

	if (events & EPOLLIN)
		is_alive = client_read(c);
	/* Finish the reply in flight, then answer buffered requests in order. */
	is_alive = is_alive && client_write(c);
	while (is_alive && c->out.len == 0 && !c->is_closing && handle_request(c, p))
		is_alive = client_write(c);
	check_leftover(c);
	is_alive = is_alive && client_write(c);
	if (!is_alive || (c->out.len == 0 && (c->is_closing || c->has_eof))) {
		client_close(s, c);
		return;
	}
	client_update_events(s, c);
}

static void close_idle_clients(struct uapi_server *s)
{
	uint64_t expirations;
	uint64_t now = monotonic_ns();
	struct uapi_client *c;
	struct uapi_client *next;

	(void)read(s->timer_fd, &expirations, sizeof(expirations));
	for (c = s->clients; c; c = next) {
		next = c->next;
		if (now - c->active_ns > (uint64_t)IDLE_TIMEOUT_S * 1000000000u) {
			log_verbose("UAPI: closing a client idle for %d s", IDLE_TIMEOUT_S);
			client_close(s, c);
		}
	}
}

/* The socket file changed: if it is gone, someone asked us to stop (wg-quick on some systems). */
static void check_socket_file(struct uapi_server *s)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	struct stat st;

	while (read(s->inotify_fd, buf, sizeof(buf)) > 0)
		;
	if (stat(s->path, &st) < 0 && errno == ENOENT) {
		log_verbose("UAPI socket %s was removed", s->path);
		s->is_gone = true;
	}
}

bool uapi_server_is_gone(const struct uapi_server *server)
{
	return server->is_gone;
}

void uapi_server_dispatch(struct uapi_server *server, struct pipeline *p)
{
	struct epoll_event events[EPOLL_EVENTS];
	int n;
	int i;

	n = epoll_wait(server->epoll_fd, events, EPOLL_EVENTS, 0);
	for (i = 0; i < n; i++) {
		if (events[i].data.ptr == server)
			accept_clients(server);
		else if (events[i].data.ptr == &server->timer_fd)
			close_idle_clients(server);
		else if (events[i].data.ptr == &server->inotify_fd)
			check_socket_file(server);
		else
			client_process(server, events[i].data.ptr, p, events[i].events);
	}
}

void uapi_server_close(struct uapi_server *server)
{
	if (!server)
		return;
	while (server->clients)
		client_close(server, server->clients);
	close(server->listen_fd);
	close(server->timer_fd);
	if (server->inotify_fd >= 0)
		close(server->inotify_fd);
	close(server->epoll_fd);
	if (!server->is_gone && unlink(server->path) < 0 && errno != ENOENT)
		log_error("removing %s: %s", server->path, strerror(errno));
	free(server);
}
