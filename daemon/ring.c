/* SPDX-License-Identifier: MIT */
/*
 * io regions: creation, teardown and completion posting. Invariant: the
 * daemon never reads back an index it owns from the shared header (it
 * keeps its own copy), and a CQE is only written to a slot the client has
 * released: committed - cq_head <= cq_entries, cq_tail <= committed.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "daemon/lease.h"
#include "daemon/log.h"
#include "daemon/ring.h"

void ring_futex_wake(uint32_t *word)
{
	syscall(SYS_futex, word, FUTEX_WAKE, INT32_MAX, NULL, NULL, 0);
}

/* Entries for a region of @bytes: about an eighth of it for the queues. */
static uint32_t ring_entries_for(uint64_t bytes)
{
	uint64_t want = bytes / 8 / (sizeof(struct gl_sqe) +
				     2 * sizeof(struct gl_cqe));
	uint32_t n = 16;

	while ((uint64_t)n * 2 <= want && n < 4096)
		n *= 2;
	return n;
}

static void ring_layout(struct ring *r, uint64_t bytes)
{
	struct gl_ring_hdr *h = r->hdr;
	uint32_t n = ring_entries_for(bytes);

	memset(h, 0, sizeof(*h));
	h->magic = GL_RING_MAGIC;
	h->version = GL_RING_VERSION;
	h->sq_entries = n;
	h->cq_entries = 2 * n;
	h->sqe_size = sizeof(struct gl_sqe);
	h->cqe_size = sizeof(struct gl_cqe);
	h->sq_off = sizeof(*h);
	h->cq_off = h->sq_off + (uint64_t)n * sizeof(struct gl_sqe);
	h->data_off = h->cq_off + 2ull * n * sizeof(struct gl_cqe);
	h->data_off = (h->data_off + 4095) & ~4095ull;
	h->data_size = bytes - h->data_off;
	h->size = bytes;
	r->sq = (struct gl_sqe *)((char *)r->map + h->sq_off);
	r->cq = (struct gl_cqe *)((char *)r->map + h->cq_off);
	r->data = (char *)r->map + h->data_off;
	r->data_size = h->data_size;
	r->sq_mask = n - 1;
	r->cq_mask = 2 * n - 1;
}

int ring_create(struct lease *l, const char *dir, uint64_t bytes,
		uid_t uid, gid_t gid, struct ring **out)
{
	struct ring *r;
	int err;

	if (bytes < GL_RING_SIZE_MIN || bytes > GL_RING_SIZE_MAX ||
	    bytes % 4096)
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->lease = l;
	snprintf(r->path, sizeof(r->path), "%s/%s.%llu", dir, l->name,
		 (unsigned long long)l->id);
	r->fd = open(r->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (r->fd < 0) {
		err = -errno;
		goto err_free;
	}
	if (fchown(r->fd, uid, gid) || ftruncate(r->fd, (off_t)bytes)) {
		err = -errno;
		goto err_unlink;
	}
	if (fallocate(r->fd, 0, 0, (off_t)bytes)) {
		err = (errno == ENOSPC || errno == ENOMEM) ? -ENOSPC : -errno;
		goto err_unlink;
	}
	r->map = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd,
		      0);
	if (r->map == MAP_FAILED) {
		err = -ENOMEM;
		goto err_unlink;
	}
	r->size = bytes;
	r->hdr = r->map;
	ring_layout(r, bytes);
	pthread_mutex_init(&r->cq_lock, NULL);
	err = -pthread_create(&r->poller, NULL, ring_poll_main, r);
	if (err)
		goto err_unmap;
	r->poller_started = true;
	*out = r;
	return 0;

err_unmap:
	pthread_mutex_destroy(&r->cq_lock);
	munmap(r->map, bytes);
err_unlink:
	unlink(r->path);
	close(r->fd);
err_free:
	free(r);
	return err;
}

void ring_stop(struct ring *r)
{
	if (!r->poller_started)
		return;
	atomic_store(&r->stop, true);
	__atomic_add_fetch(&r->hdr->sq_futex, 1, __ATOMIC_SEQ_CST);
	ring_futex_wake(&r->hdr->sq_futex);
	pthread_join(r->poller, NULL);
	r->poller_started = false;
}

void ring_destroy(struct ring *r)
{
	/* a client still mapping the file learns it is over */
	__atomic_or_fetch(&r->hdr->flags, GL_RING_DEAD, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&r->hdr->cq_futex, 1, __ATOMIC_SEQ_CST);
	ring_futex_wake(&r->hdr->cq_futex);
	munmap(r->map, r->size);
	unlink(r->path);
	close(r->fd);
	pthread_mutex_destroy(&r->cq_lock);
	free(r);
}

void ring_complete(struct ring *r, uint64_t user_data, int status,
		   uint64_t duration_ns)
{
	struct gl_ring_hdr *h = r->hdr;
	struct gl_cqe *cqe;

	pthread_mutex_lock(&r->cq_lock);
	cqe = &r->cq[r->cq_tail & r->cq_mask];
	cqe->user_data = user_data;
	cqe->status = status;
	cqe->flags = 0;
	cqe->duration_ns = duration_ns;
	cqe->reserved = 0;
	r->cq_tail++;
	__atomic_store_n(&h->cq_tail, r->cq_tail, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&r->cq_lock);
	/* a syscall only when a client sleeps on the CQ */
	__atomic_add_fetch(&h->cq_futex, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&h->cq_waiters, __ATOMIC_SEQ_CST))
		ring_futex_wake(&h->cq_futex);
}
