/* SPDX-License-Identifier: MIT */
/*
 * The packet buffer pool (see pool.h).
 */
#include "daemon/pool.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "daemon/log.h"

void *pool_map_zeroed(size_t size)
{
	void *mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return mem == MAP_FAILED ? NULL : mem;
}

int pool_init(struct pool *pool)
{
	memset(pool, 0, sizeof(*pool));
	pool->bufs = pool_map_zeroed(sizeof(struct pool_buf) * POOL_BUFFERS);
	if (!pool->bufs) {
		log_error("mapping %u packet buffers: %s", POOL_BUFFERS, strerror(errno));
		return -ENOMEM;
	}
	pool->free_count = POOL_BUFFERS;
	return 0;
}

void pool_clear(struct pool *pool)
{
	if (pool->bufs)
		munmap(pool->bufs, sizeof(struct pool_buf) * POOL_BUFFERS);
	memset(pool, 0, sizeof(*pool));
}
