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

#include "base/bytes.h"
#include "daemon/device.h"
#include "daemon/log.h"
#include "daemon/loop.h"



enum {
	MAX_CLIENTS = 128,
	IDLE_TIMEOUT_S = 30,
	READ_CHUNK = 64 << 10,
	/* Bytes read from one client per dispatch, so a flood cannot starve the data path. */
	READ_BUDGET = 1 << 20,
	OP_LINE_MAX = 64,
};

struct uapi_client {
	struct uapi_server *server;
	struct loop_source src; /* its events are what epoll watches for */
	int fd;
	struct uapi_text in;    /* bytes received and not yet answered */
	size_t scanned;         /* bytes of in already searched for the end of a request */
	struct uapi_text out;   /* reply bytes not yet written */
	size_t out_off;
	uint64_t active_ns;     /* CLOCK_MONOTONIC of the last progress */
	bool has_eof;           /* the client shut down its side */
	bool is_closing;        /* close once out is written */
	struct uapi_client *next;
};

struct uapi_server {
	struct loop *loop;    /* borrowed, like dev */
	struct device *dev;
	int listen_fd;
	int timer_fd;
	int inotify_fd;   /* watches the socket file: removing it stops the daemon, as wireguard-go */
	struct loop_source listen_src;
	struct loop_source timer_src;
	struct loop_source inotify_src;
	bool is_timer_armed;
	bool is_gone;     /* the socket file was removed */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct uapi_client *clients;
	unsigned client_count;
};

static uint64_t monotonic_ns(void)
{
	return loop_clock_ns(CLOCK_MONOTONIC);
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
		log_error("creating the UAPI socket %s: %s", s->path, strerror(-ret));
		return ret;
	}
	return 0;
}

static void on_listen(void *ctx, uint32_t events);
static void on_idle_timer(void *ctx, uint32_t events);
static void on_socket_file(void *ctx, uint32_t events);

static void close_fd(int fd)
{
	if (fd >= 0)
		close(fd);
}

int uapi_server_open(const char *ifname, struct loop *loop, struct device *dev,
		     struct uapi_server **out)
{
	struct uapi_server *s = calloc(1, sizeof(*s));
	int ret = -ENOMEM;

	if (!s)
		return ret;
	s->loop = loop;
	s->dev = dev;
	s->listen_fd = s->timer_fd = s->inotify_fd = -1;
	s->listen_src.fd = s->timer_src.fd = s->inotify_src.fd = -1;
	if ((size_t)snprintf(s->path, sizeof(s->path), UAPI_SOCKET_DIR "/%s.sock", ifname) >=
	    sizeof(s->path)) {
		log_error("UAPI socket path for '%s' is too long", ifname);
		ret = -ENAMETOOLONG;
		goto fail;
	}
	if (mkdir(UAPI_SOCKET_DIR, 0755) < 0 && errno != EEXIST) {
		ret = -errno;
		log_error("creating %s: %s", UAPI_SOCKET_DIR, strerror(-ret));
		goto fail;
	}
	s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->listen_fd >= 0)
		s->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (s->listen_fd < 0 || s->timer_fd < 0) {
		ret = -errno;
		log_error("creating the UAPI server's descriptors: %s", strerror(-ret));
		goto fail;
	}
	ret = bind_socket(s);
	if (ret < 0)
		goto fail;
	ret = loop_add(loop, &s->listen_src, s->listen_fd, EPOLLIN, on_listen, s);
	if (ret == 0)
		ret = loop_add(loop, &s->timer_src, s->timer_fd, EPOLLIN, on_idle_timer, s);
	/* Without inotify the daemon still runs; it just cannot notice the file's removal. */
	s->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (ret == 0 && s->inotify_fd >= 0 &&
	    inotify_add_watch(s->inotify_fd, s->path, IN_ATTRIB | IN_DELETE_SELF) >= 0)
		ret = loop_add(loop, &s->inotify_src, s->inotify_fd, EPOLLIN, on_socket_file, s);
	if (ret < 0) {
		unlink(s->path);
		goto fail;
	}
	*out = s;
	return 0;
fail:
	loop_remove(loop, &s->listen_src);
	loop_remove(loop, &s->timer_src);
	loop_remove(loop, &s->inotify_src);
	close_fd(s->listen_fd);
	close_fd(s->timer_fd);
	close_fd(s->inotify_fd);
	free(s);
	return ret;
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
	loop_remove(s->loop, &c->src);
	close(c->fd);
	uapi_text_free(&c->in);
	uapi_text_free(&c->out);
	free(c);
	s->client_count--;
	set_idle_timer(s);
}

static void on_client(void *ctx, uint32_t events);

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
		c->server = s;
		c->fd = fd;
		c->active_ns = monotonic_ns();
		if (loop_add(s->loop, &c->src, fd, EPOLLIN, on_client, c) < 0) {
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

static void on_listen(void *ctx, uint32_t events)
{
	(void)events;
	accept_clients(ctx);
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
static void handle_get(struct uapi_client *c)
{
	if (uapi_get(c->server->dev, &c->out) < 0) {
		uapi_text_free(&c->out);
		c->is_closing = !reply_errno(c, -ENOMEM);
		return;
	}
	if (!reply_errno(c, 0)) {
		uapi_text_free(&c->out);
		c->is_closing = true;
	}
}

static void handle_set(struct uapi_client *c, size_t body, size_t end)
{
	int err = uapi_set(c->server->dev, c->in.data + body, end - body);

	if (err < 0)
		log_error("UAPI set failed: %s", strerror(-err));
	if (!reply_errno(c, err))
		c->is_closing = true;
}

/*
 * Handles the next complete request in c->in, if there is one. Returns false when more bytes are
 * needed (or the client must be closed, c->is_closing).
 */
static bool handle_request(struct uapi_client *c)
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
		if (in[op_len + 1] == '\n') {
			device_pause(c->server->dev);
			handle_get(c);
			device_resume(c->server->dev);
		}
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
			device_pause(c->server->dev);
			handle_set(c, op_len + 1, i + 1);
			device_resume(c->server->dev);
			uapi_text_consume(&c->in, i + 2);
			c->scanned = 0;
			return true;
		}
	}
	c->scanned = c->in.len > 0 ? c->in.len - 1 : 0;
	return false;
}

static void client_update_events(struct uapi_client *c)
{
	uint32_t want = c->out.len > c->out_off ? EPOLLOUT : c->has_eof ? 0 : EPOLLIN;

	if (want != c->src.events)
		(void)loop_modify(c->server->loop, &c->src, want); /* kept as it was on failure */
}

/* Reads up to the budget; false when the connection failed. */
static bool client_read(struct uapi_client *c)
{
	size_t budget = READ_BUDGET;
	ssize_t n;

	while (budget > 0 && !c->has_eof && c->in.len <= UAPI_REQUEST_MAX) {
		if (!uapi_text_reserve(&c->in, READ_CHUNK + 1)) {
			/* Past the total budget (or out of memory): this client goes, with a
			 * reason if a small reply still fits, and the others are unaffected. */
			log_error("UAPI: no memory for a %zu-byte request (%zu bytes held by all "
				  "clients); closing the connection", c->in.len, uapi_text_total());
			uapi_text_free(&c->in);
			c->scanned = 0;
			(void)reply_errno(c, -ENOMEM);
			c->is_closing = true;
			return true;
		}
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

static void on_client(void *ctx, uint32_t events)
{
	struct uapi_client *c = ctx;
	bool is_alive = true;

	if (events & EPOLLIN)
		is_alive = client_read(c);
	/* Finish the reply in flight, then answer buffered requests in order. */
	is_alive = is_alive && client_write(c);
	while (is_alive && c->out.len == 0 && !c->is_closing && handle_request(c))
		is_alive = client_write(c);
	check_leftover(c);
	is_alive = is_alive && client_write(c);
	if (!is_alive || (c->out.len == 0 && (c->is_closing || c->has_eof))) {
		client_close(c->server, c);
		return;
	}
	client_update_events(c);
}

static void on_idle_timer(void *ctx, uint32_t events)
{
	struct uapi_server *s = ctx;
	uint64_t expirations;
	uint64_t now = monotonic_ns();
	struct uapi_client *c;
	struct uapi_client *next;

	(void)events;
	(void)read(s->timer_fd, &expirations, sizeof(expirations));
	for (c = s->clients; c; c = next) {
		next = c->next;
		if (now - c->active_ns > (uint64_t)IDLE_TIMEOUT_S * WGC_NSEC_PER_SEC) {
			log_verbose("UAPI: closing a client idle for %d s", IDLE_TIMEOUT_S);
			client_close(s, c);
		}
	}
}

/* The socket file changed: if it is gone, someone asked us to stop (wg-quick on some systems). */
static void on_socket_file(void *ctx, uint32_t events)
{
	struct uapi_server *s = ctx;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	struct stat st;

	(void)events;
	while (read(s->inotify_fd, buf, sizeof(buf)) > 0)
		;
	if (stat(s->path, &st) < 0 && errno == ENOENT) {
		log_verbose("UAPI socket %s was removed", s->path);
		s->is_gone = true;
		loop_stop(s->loop, 0);
	}
}

void uapi_server_close(struct uapi_server *server)
{
	int err;

	if (!server)
		return;
	while (server->clients)
		client_close(server, server->clients);
	loop_remove(server->loop, &server->listen_src);
	loop_remove(server->loop, &server->timer_src);
	loop_remove(server->loop, &server->inotify_src);
	close(server->listen_fd);
	close(server->timer_fd);
	close_fd(server->inotify_fd);
	if (!server->is_gone && unlink(server->path) < 0 && errno != ENOENT) {
		err = errno;
		log_error("removing %s: %s", server->path, strerror(err));
	}
	free(server);
}
