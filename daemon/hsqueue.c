/* SPDX-License-Identifier: MIT */
/* The handshake queue (hsqueue.h): a ring of fixed slots in one anonymous mapping. */
#include "daemon/hsqueue.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "daemon/log.h"

int hsq_init(struct hsq *q)
{
	void *mem = mmap(NULL, HSQ_CAP * sizeof(struct hsq_slot), PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	int err = errno;

	memset(q, 0, sizeof(*q));
	if (mem == MAP_FAILED) {
		log_error("mapping the handshake queue: %s", strerror(err));
		return -err;
	}
	q->slots = mem;
	return 0;
}

void hsq_clear(struct hsq *q)
{
	if (q->slots)
		munmap(q->slots, HSQ_CAP * sizeof(struct hsq_slot));
	memset(q, 0, sizeof(*q));
}

bool hsq_push(struct hsq *q, const uint8_t *data, size_t len, const struct wgc_addr *src,
	      const struct udp_src *local)
{
	struct hsq_slot *slot;

	if (hsq_count(q) == HSQ_CAP || len > HSQ_MSG_MAX)
		return false;
	slot = &q->slots[q->tail & (HSQ_CAP - 1)];
	memcpy(slot->msg, data, len);
	slot->len = (uint16_t)len;
	slot->src = *src;
	slot->local = *local;
	q->tail++;
	if (hsq_count(q) > q->high)
		q->high = hsq_count(q);
	return true;
}

struct hsq_slot *hsq_peek(struct hsq *q)
{
	return hsq_count(q) ? &q->slots[q->head & (HSQ_CAP - 1)] : NULL;
}

void hsq_pop(struct hsq *q)
{
	if (hsq_count(q))
		q->head++;
}
