/* SPDX-License-Identifier: MIT */
/*
 * The relay of an established connection: bytes between the client's socket (STDIO: standard
 * input and output) and its lwIP tcp_pcb. Nothing here knows the protocol that set it up.
 *
 * Memory per connection is bounded by lwIP's windows, not by the peers' speed: data from the
 * tunnel is kept (as lwIP's pbufs) only until the client's socket takes it, and lwIP's receive
 * window is reopened (tcp_recved) only for bytes the socket took, so at most TCP_WND bytes wait;
 * data from the client is read only while lwIP's send buffer has room (tcp_sndbuf), so at most
 * TCP_SND_BUF bytes wait, plus one read's worth in the stash when lwIP refuses a write.
 */
#include "proxy/conn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "lwip/tcp.h"

enum {
	READ_CHUNK = 65536,
	IOV_MAX_USED = 32,
};

static uint8_t read_buf[READ_CHUNK];

/* ---- tunnel -> client ---- */

/* Reopens lwIP's receive window for bytes the client took. */
static void recved(struct tcp_pcb *pcb, size_t n)
{
	while (n > 0) {
		u16_t chunk = n > 0xffff ? 0xffff : (u16_t)n;

		tcp_recved(pcb, chunk);
		n -= chunk;
	}
}

/* Writes pending data to the socket. Returns false if the connection was freed. */
bool relay_flush(struct conn *c)
{
	while (c->pending) {
		struct iovec iov[IOV_MAX_USED];
		size_t total = 0;
		int n = 0;
		ssize_t w;

		for (struct pbuf *q = c->pending; q && n < IOV_MAX_USED; q = q->next) {
			if (q->len == 0)
				continue;
			iov[n].iov_base = q->payload;
			iov[n].iov_len = q->len;
			total += q->len;
			n++;
		}
		if (n == 0) {
			pbuf_free(c->pending);
			c->pending = NULL;
			break;
		}
		w = writev(conn_out_fd(c), iov, n);
		if (w < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			c->px->stats.relay_resets++;
			conn_abort(c);
			return false;
		}
		c->px->stats.bytes_down += (uint64_t)w;
		c->pending = pbuf_free_header(c->pending, (u16_t)w);
		if (c->pcb)
			recved(c->pcb, (size_t)w);
		if ((size_t)w < total)
			break;
	}
	if (c->pending == NULL && c->remote_eof && !c->shut_wr_done) {
		if (c->is_stdio)
			conn_close_stdout(c);
		else
			shutdown(c->w.fd, SHUT_WR);
		c->shut_wr_done = true;
	}
	conn_update_events(c);
	return true;
}

err_t relay_on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
	struct conn *c = arg;

	if (c == NULL) {
		if (p)
			pbuf_free(p);
		return ERR_OK;
	}
	if (p == NULL || err != ERR_OK) {
		c->remote_eof = true;
		if (p)
			pbuf_free(p);
	} else if (c->pending) {
		/* Together at most TCP_WND (65535) bytes: the window is reopened only for
		 * bytes written, so the chain's 16-bit tot_len cannot overflow. */
		pbuf_cat(c->pending, p);
	} else {
		c->pending = p;
	}
	if (c->state != CONN_RELAY) {
		conn_update_events(c);
		return ERR_OK; /* server tunnel still dialing: the data waits in the window */
	}
	/* Written once per batch (conn_flush_queued), when every datagram of the batch is in:
	 * one writev and one window update for many segments, not one for each. */
	conn_queue_flush(c);
	if (p != NULL && (pcb->flags & TF_ACK_NOW)) {
		/* lwIP ACKs every second segment at once; within a batch those ACKs would all
		 * leave together at its end, each superseded by the next. Owe one instead:
		 * relay_ack sends it after the batch, with the reopened window. (Only in-order
		 * data comes here: duplicate ACKs for a hole are left alone.) */
		tcp_clear_flags(pcb, TF_ACK_NOW);
		tcp_set_flags(pcb, TF_ACK_DELAY);
	}
	return ERR_OK;
}

void relay_ack(struct conn *c)
{
	/* tcp_recved's window update, if it sent one, cleared the flag: nothing is owed then */
	if (c->pcb && (c->pcb->flags & TF_ACK_DELAY)) {
		tcp_set_flags(c->pcb, TF_ACK_NOW);
		tcp_output(c->pcb);
	}
}

/* ---- client -> tunnel ---- */

/* How many bytes tcp_write takes now without ERR_MEM (send buffer and queue length). */
size_t relay_room(struct tcp_pcb *pcb)
{
	size_t room = tcp_sndbuf(pcb);
	size_t queue = tcp_sndqueuelen(pcb);
	size_t mss = tcp_mss(pcb) ? tcp_mss(pcb) : 536;

	if (queue + 8 >= TCP_SND_QUEUELEN)
		return 0;
	if (room > (TCP_SND_QUEUELEN - 8 - queue) / 2 * mss)
		room = (TCP_SND_QUEUELEN - 8 - queue) / 2 * mss;
	return room;
}

/* Moves the stash into lwIP as far as it goes. */
void relay_flush_stash(struct conn *c)
{
	while (c->pcb && c->stash_off < c->stash_len) {
		size_t n = c->stash_len - c->stash_off;
		size_t room = relay_room(c->pcb);

		if (room == 0)
			break;
		if (n > room)
			n = room;
		if (n > 0xffff)
			n = 0xffff;
		if (tcp_write(c->pcb, c->stash + c->stash_off, (u16_t)n, TCP_WRITE_FLAG_COPY) !=
		    ERR_OK)
			break;
		c->stash_off += n;
		c->px->stats.bytes_up += n;
	}
	if (c->stash_off == c->stash_len) {
		free(c->stash);
		c->stash = NULL;
		c->stash_len = 0;
		c->stash_off = 0;
	}
	if (c->pcb)
		tcp_output(c->pcb);
}

bool relay_stash(struct conn *c, const uint8_t *data, size_t len)
{
	uint8_t *s = malloc(len);

	if (!s)
		return false;
	memcpy(s, data, len);
	c->stash = s;
	c->stash_len = len;
	c->stash_off = 0;
	return true;
}

static void send_fin_if_due(struct conn *c)
{
	if (c->client_eof && !c->fin_sent && c->stash == NULL && c->pcb) {
		if (tcp_shutdown(c->pcb, 0, 1) == ERR_OK)
			c->fin_sent = true;
	}
}

/* The client's socket is readable during RELAY. Returns false if the connection was freed. */
bool relay_read(struct conn *c)
{
	size_t room;
	ssize_t n;

	if (c->stash || c->client_eof || !c->pcb)
		return true;
	room = relay_room(c->pcb);
	if (room == 0)
		return true;
	if (room > sizeof(read_buf))
		room = sizeof(read_buf);
	if (room > 0xffff)
		room = 0xffff;
	n = read(c->w.fd, read_buf, room);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return true;
		c->px->stats.relay_resets++;
		conn_abort(c);
		return false;
	}
	if (n == 0) {
		c->client_eof = true;
		send_fin_if_due(c);
		tcp_output(c->pcb);
		return true;
	}
	if (tcp_write(c->pcb, read_buf, (u16_t)n, TCP_WRITE_FLAG_COPY) == ERR_OK) {
		c->px->stats.bytes_up += (uint64_t)n;
	} else if (!relay_stash(c, read_buf, (size_t)n)) {
		conn_abort(c);
		return false;
	}
	tcp_output(c->pcb);
	return true;
}

err_t relay_on_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
	struct conn *c = arg;

	(void)pcb;
	(void)len;
	if (c == NULL)
		return ERR_OK;
	if (c->stash)
		relay_flush_stash(c);
	send_fin_if_due(c);
	conn_update_events(c);
	return ERR_OK;
}

