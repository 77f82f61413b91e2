/* SPDX-License-Identifier: MIT */
/*
 * io regions: creation, teardown, completion posting, and the SIGBUS
 * guard. Invariant: the daemon never reads back an index or a geometry
 * field from the shared header (it keeps its own copies), and a CQE is
 * only written to a slot the client has released: committed - cq_head <=
 * cq_entries, cq_tail <= committed.
 *
 * The guard: a client may truncate its io file at any moment, and the
 * daemon's next access to the lost pages raises SIGBUS, in the poller, a
 * launch worker or a copy. Every live mapping is guarded by
 * daemon/mapguard.c: a fault inside a ring maps anonymous pages over the
 * rest of that mapping, flags the ring truncated (its poller marks it
 * BROKEN) and returns, so the access completes on the new pages.
 *
 * Daemon death: the daemon holds an open-file-description write lock on
 * the first byte of each io file for the region's life (taken before the
 * file is handed to its owner; an OFD lock, independent of the flock(2)
 * clients such as `gpulease run` take on the same file); a client whose
 * F_OFD_GETLK finds no lock knows the daemon is gone. The daemon never
 * reads the lock back, so a client can fool only itself.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "daemon/knobs.h"
#include "daemon/chain.h"
#include "daemon/lease.h"
#include "daemon/log.h"
#include "daemon/mapguard.h"
#include "daemon/ring.h"

/* The mapguard's hook, in the SIGBUS handler: the ring turns BROKEN
 * and its poller, wherever it sleeps, wakes to say why (ring-poll.c). */
static void ring_on_fault(struct mapguard *g)
{
	struct ring *r = caa_container_of(g, struct ring, guard);

	atomic_store(&r->broken, true);
	atomic_fetch_add(&r->park, 1);
	syscall(SYS_futex, &r->park, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

void ring_futex_wake(uint32_t *word)
{
	syscall(SYS_futex, word, FUTEX_WAKE, INT32_MAX, NULL, NULL, 0);
}

void ring_futex_wait(_Atomic uint32_t *word, uint32_t val, int ms,
		     bool private)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	syscall(SYS_futex, word, private ? FUTEX_WAIT_PRIVATE : FUTEX_WAIT,
		val, ms < 0 ? NULL : &ts, NULL, 0);
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
	r->sq_entries = n;
	r->cq_entries = 2 * n;
	r->sq_mask = n - 1;
	r->cq_mask = 2 * n - 1;
}

/* The lease's handles on its io area (struct lease_io_ops). */
static void ring_io_stop(struct lease_io *io)
{
	ring_stop(caa_container_of(io, struct ring, io));
}

static void ring_io_drain(struct lease_io *io)
{
	ring_drain(caa_container_of(io, struct ring, io));
}

static void ring_io_release(struct lease_io *io)
{
	ring_destroy(caa_container_of(io, struct ring, io));
}

static const struct lease_io_ops ring_io_ops = {
	.stop = ring_io_stop,
	.drain = ring_io_drain,
	.release = ring_io_release,
};

int ring_create(struct ring_set *rs, struct lease *l, uint64_t bytes,
		struct ring **out)
{
	uid_t uid = l->owner;
	gid_t gid = l->group;
	static _Atomic uint64_t next_gen;
	struct ring *r;
	int err;

	if (bytes < GL_RING_SIZE_MIN || bytes > GL_RING_SIZE_MAX ||
	    bytes % 4096)
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->lease = l;
	r->set = rs;
	/* a new name per region: `io SIZE` replaces a live one */
	snprintf(r->path, sizeof(r->path), "%s/%s.%llu.%llu", rs->dir, l->name,
		 (unsigned long long)l->id,
		 (unsigned long long)atomic_fetch_add(&next_gen, 1));
	r->fd = open(r->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (r->fd < 0) {
		err = -errno;
		goto err_free;
	}
	/* the liveness lock, before the owner can open the file */
	if (fcntl(r->fd, F_OFD_SETLK, &(struct flock){ .l_type = F_WRLCK,
			.l_whence = SEEK_SET, .l_len = 1 }) ||
	    fchown(r->fd, uid, gid) || ftruncate(r->fd, (off_t)bytes)) {
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
	r->guard.addr = r->map;
	r->guard.len = bytes;
	r->guard.on_fault = ring_on_fault;
	err = mapguard_add(&r->guard);
	if (err)
		goto err_unmap;
	err = -pthread_create(&r->poller, NULL, ring_poll_main, r);
	if (err)
		goto err_guard;
	pthread_setname_np(r->poller, "gl-ring");
	r->poller_started = true;
	r->io = (struct lease_io){
		.ops = &ring_io_ops,
		.map = r->map,
		.size = r->size,
		.data = r->data,
		.data_size = r->data_size,
		.path = r->path,
	};
	*out = r;
	return 0;

err_guard:
	mapguard_del(&r->guard);
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
	/* never from the poller itself (an inline launch's idle_fn goes to
	 * an executor, launch.c): a self-join would fail and the ring be
	 * freed under its own thread */
	assert(!pthread_equal(pthread_self(), r->poller));
	atomic_store(&r->stop, true);
	/* wherever it sleeps: the header's futex, its park word, a copy
	 * waiting for launches */
	gl_atomic_add(&r->hdr->sq_futex, 1);
	ring_futex_wake(&r->hdr->sq_futex);
	atomic_fetch_add(&r->park, 1);
	syscall(SYS_futex, &r->park, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	syscall(SYS_futex, &r->launches, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL,
		NULL, 0);
	pthread_join(r->poller, NULL);
	r->poller_started = false;
	/* model requests in flight would keep ring_drain waiting */
	ring_infer_stop(r);
}

void ring_drain(struct ring *r)
{
	struct timespec ts = { 0, 100000 };
	bool done;

	for (;;) {
		pthread_mutex_lock(&r->cq_lock);
		done = r->cq_tail == atomic_load(&r->committed);
		pthread_mutex_unlock(&r->cq_lock);
		if (done)
			return;
		nanosleep(&ts, NULL);
	}
}

void ring_destroy(struct ring *r)
{
	unsigned i;

	ring_drain(r);
	/* no run of these is in flight any more: drained */
	for (i = 0; i < GL_CHAIN_IDS; i++)
		chain_put(r->chains[i]);
	/* a client still mapping the file learns it is over; DEAD before
	 * the lock goes, so a client never mistakes a drop for a crash */
	gl_atomic_or(&r->hdr->flags, GL_RING_DEAD);
	gl_atomic_add(&r->hdr->cq_futex, 1);
	ring_futex_wake(&r->hdr->cq_futex);
	mapguard_del(&r->guard);
	munmap(r->map, r->size);
	unlink(r->path);
	close(r->fd);
	pthread_mutex_destroy(&r->cq_lock);
	free(r);
}

void ring_complete(struct ring *r, uint64_t user_data, int status,
		   uint64_t duration_ns)
{
	ring_complete_step(r, user_data, status, duration_ns, 0);
}

void ring_complete_step(struct ring *r, uint64_t user_data, int status,
			uint64_t duration_ns, uint64_t step)
{
	ring_complete_cqe(r, &(struct gl_cqe){
		.user_data = user_data,
		.status = status,
		.duration_ns = duration_ns,
		.step = step,
	});
}

void ring_complete_cqe(struct ring *r, const struct gl_cqe *c)
{
	struct gl_ring_hdr *h = r->hdr;
	struct policy *pol = r->set->pol;
	bool poller = pthread_equal(pthread_self(), r->poller);
	struct gl_cqe *cqe;
	uint32_t hold;

	pthread_mutex_lock(&r->cq_lock);
	/* a slot was reserved for it: cq_tail < committed <= cq_tail + cq */
	assert(atomic_load(&r->committed) - r->cq_tail - 1 < r->cq_entries);
	cqe = &r->cq[r->cq_tail & r->cq_mask];
	memcpy(cqe, c, sizeof(*cqe));
	gl_smp_store_release(&h->cq_tail, r->cq_tail + 1);
	/* a syscall only when a client sleeps on the CQ */
	gl_atomic_add(&h->cq_futex, 1);
	if (gl_atomic_load(&h->cq_waiters))
		ring_futex_wake(&h->cq_futex);
	/* last: once cq_tail reaches committed, ring_drain lets the region
	 * be unmapped and @r freed; nothing of either is touched below */
	r->cq_tail++;
	pthread_mutex_unlock(&r->cq_lock);
	/* debug knob: a launch's completion waits here, posted, until the
	 * test lets it go (a racing `io 0`, a copy behind it) */
	while (!poller && (hold = atomic_load(&pol->ring_complete_hold)))
		ring_futex_wait(&pol->ring_complete_hold, hold, 50, true);
}

bool ring_cq_reserve(struct ring *r)
{
	uint32_t c = atomic_load(&r->committed);

	do {
		/* c - head == cq_entries: full; more: a lying cq_head */
		if (c - gl_smp_load_acquire(&r->hdr->cq_head) >=
		    r->cq_entries)
			return false;
	} while (!atomic_compare_exchange_weak(&r->committed, &c, c + 1));
	return true;
}

int ring_io_new(void *ctx, struct lease *l, uint64_t bytes,
		struct lease_io **out)
{
	struct ring *r;
	int err = ring_create(ctx, l, bytes, &r);

	if (!err)
		*out = &r->io;
	return err;
}
