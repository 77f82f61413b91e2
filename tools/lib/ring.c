/* SPDX-License-Identifier: MIT */
/*
 * The client side of a lease's io region (uapi/ring.h, the protocol in
 * Documentation/ring.md): map it, hand out submission entries, publish
 * them in batches, and take completions, spinning briefly and then
 * sleeping on the CQ futex. liburing is the model.
 *
 * Daemon death: a dead daemon sets no flag. It holds an OFD write lock on
 * the first byte of the io file while the region lives (independent of
 * flock(2), which `gpulease run` uses between clients), so a sleeping
 * waiter asks F_OFD_GETLK at each wake-up (about once a second): no lock
 * means the daemon is gone and the ring answers -ENOTCONN from then on.
 * The client can fool only itself; the daemon never looks at the lock.
 *
 * Invariant: this process writes only the client's words of the header
 * (sq_tail, cq_head, cq_waiters, the futex counters it bumps) and SQ
 * slots between the published sq_tail and the daemon's sq_head plus
 * sq_entries; everything the daemon writes is read with acquire loads
 * and never trusted for a pointer without a bounds check. One thread
 * drives a ring at a time; the library takes no locks.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "tools/lib/internal.h"

#define RING_FILE		"io"
#define RING_ENTRIES_MAX	(1u << 20)	/* sanity bound on geometry */
#define RING_ALIVE_MS		1000	/* sleep slice between liveness
					 * checks of the lease */

struct gl_ring {
	struct gl_ring_sq sq;	/* first: the inline gl_ring_get_sqe()
				 * casts the ring to it (gpulease.h) */
	void *map;		/* the whole file, MAP_SHARED */
	size_t size;		/* bytes mapped */
	struct gl_ring_hdr *hdr;
	struct gl_cqe *cq;
	char *data;
	size_t data_size;
	uint32_t cq_mask;
	int dir;		/* O_PATH fd of leases/<name>: daemon alive? */
	int fd;			/* the io file: its OFD lock says the same */
	bool gone;		/* the daemon died: -ENOTCONN for good */
};

static inline void ring_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

static int64_t ring_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int is_pow2(uint32_t v)
{
	return v && !(v & (v - 1));
}

/* Whether the daemon still holds its lock on the io file: 1, 0 or -errno. */
static int ring_daemon_alive(struct gl_ring *ring)
{
	struct flock fl = { .l_type = F_RDLCK, .l_whence = SEEK_SET,
			    .l_len = 1 };

	if (fcntl(ring->fd, F_OFD_GETLK, &fl))
		return -errno;
	return fl.l_type != F_UNLCK;
}

/* The header's geometry against the file's @size: 0 or -EINVAL. */
static int ring_check(const struct gl_ring_hdr *h, uint64_t size)
{
	uint64_t sq_bytes, cq_bytes;

	if (h->magic != GL_RING_MAGIC || h->version != GL_RING_VERSION ||
	    h->size != size || h->sqe_size != sizeof(struct gl_sqe) ||
	    h->cqe_size != sizeof(struct gl_cqe))
		return -EINVAL;
	if (!is_pow2(h->sq_entries) || !is_pow2(h->cq_entries) ||
	    h->sq_entries > RING_ENTRIES_MAX ||
	    h->cq_entries > RING_ENTRIES_MAX ||
	    h->cq_entries < h->sq_entries)
		return -EINVAL;
	sq_bytes = (uint64_t)h->sq_entries * sizeof(struct gl_sqe);
	cq_bytes = (uint64_t)h->cq_entries * sizeof(struct gl_cqe);
	/* header, SQ, CQ, data: in this order, inside the file, aligned */
	if (h->sq_off < sizeof(*h) || h->sq_off % 64 || h->cq_off % 64 ||
	    h->sq_off > size || sq_bytes > size - h->sq_off ||
	    h->cq_off < h->sq_off + sq_bytes || h->cq_off > size ||
	    cq_bytes > size - h->cq_off ||
	    h->data_off < h->cq_off + cq_bytes || h->data_off % 4096 ||
	    h->data_off > size || h->data_size > size - h->data_off)
		return -EINVAL;
	return 0;
}

/*
 * gl_ring_setup - give lease @name an io region of @bytes (GL_RING_SIZE_MIN
 * to GL_RING_SIZE_MAX, a multiple of 4096), replacing the one it has (work
 * in flight completes first; a ring still open on the old one sees
 * GL_RING_DEAD), or remove it with @bytes 0. One write of "io BYTES" to
 * the lease's ctl. The bytes are charged to the lease's device and uid.
 * Returns 0 or -EINVAL (size), -ENOSPC, -EDQUOT, -EKEYEXPIRED, -ENOENT,
 * -EACCES, -ENOTCONN.
 */
GL_EXPORT int gl_ring_setup(struct gl *g, const char *name, uint64_t bytes)
{
	char path[GL_PATH_MAX], line[48];
	int err;

	err = __gl_lease_path(path, sizeof(path), name, GL_FILE_CTL);
	if (err)
		return err;
	snprintf(line, sizeof(line), "io %" PRIu64 "\n", bytes);
	return __gl_write_at(g, path, line);
}

/*
 * gl_ring_open - map the io region of lease @name and check its header
 * (magic, version, entry sizes, geometry against the file size). The ring
 * keeps no reference to @g. Returns 0 with *@out set (free it with
 * gl_ring_close()), or -ENOENT (no such lease, or it has no io region:
 * see gl_ring_setup()), -EINVAL (a bad name or header), -ENOMEM,
 * -EKEYEXPIRED, -EACCES, -ENOTCONN.
 */
GL_EXPORT int gl_ring_open(struct gl *g, const char *name,
			   struct gl_ring **out)
{
	char path[GL_PATH_MAX];
	struct gl_ring *r;
	struct stat st;
	int fd, err;

	*out = NULL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->dir = -1;
	r->fd = -1;
	r->map = MAP_FAILED;
	err = __gl_lease_path(path, sizeof(path), name, NULL);
	if (err)
		goto fail;
	r->dir = openat(g->root, path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (r->dir < 0) {
		err = -errno;
		goto fail;
	}
	fd = gl_lease_openat(g, name, RING_FILE, O_RDWR);
	if (fd < 0) {
		err = fd;
		goto fail;
	}
	r->fd = fd;
	if (fstat(fd, &st)) {
		err = -errno;
		goto fail;
	}
	if (st.st_size < (off_t)sizeof(struct gl_ring_hdr) ||
	    (uint64_t)st.st_size > GL_RING_SIZE_MAX) {
		err = -EINVAL;
		goto fail;
	}
	r->size = (size_t)st.st_size;
	r->map = mmap(NULL, r->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		      0);
	err = r->map == MAP_FAILED ? -errno : 0;
	if (err)
		goto fail;
	r->hdr = r->map;
	err = ring_check(r->hdr, r->size);
	if (err)
		goto fail;
	r->sq.hdr = r->hdr;
	r->sq.sqes = (struct gl_sqe *)((char *)r->map + r->hdr->sq_off);
	r->cq = (struct gl_cqe *)((char *)r->map + r->hdr->cq_off);
	r->data = (char *)r->map + r->hdr->data_off;
	r->data_size = (size_t)r->hdr->data_size;
	r->sq.entries = r->hdr->sq_entries;
	r->sq.mask = r->hdr->sq_entries - 1;
	r->cq_mask = r->hdr->cq_entries - 1;
	/* our own word: the daemon never writes it */
	r->sq.sqe_pub = gl_read_once(&r->hdr->sq_tail);
	r->sq.sqe_tail = r->sq.sqe_pub;
	*out = r;
	return 0;
fail:
	gl_ring_close(r);
	return err;
}

/*
 * gl_ring_close - unmap @ring and free it; NULL is ignored. Completions
 * not yet taken are left for the next gl_ring_open(); the region itself
 * stays until gl_ring_setup(g, name, 0) or the lease goes.
 */
GL_EXPORT void gl_ring_close(struct gl_ring *ring)
{
	if (!ring)
		return;
	if (ring->map != MAP_FAILED)
		munmap(ring->map, ring->size);
	if (ring->dir >= 0)
		close(ring->dir);
	if (ring->fd >= 0)
		close(ring->fd);
	free(ring);
}

/*
 * gl_ring_data - the data area: copy sources, copy destinations, launch
 * descriptors and io: arguments are byte offsets into it. Returns its
 * address and stores its size in *@size (when not NULL). Valid until
 * gl_ring_close().
 */
GL_EXPORT void *gl_ring_data(struct gl_ring *ring, size_t *size)
{
	if (size)
		*size = ring->data_size;
	return ring->data;
}

/*
 * gl_ring_submit - publish every entry prepared since the last call with
 * one release store of sq_tail, then wake the daemon's poller only when
 * the header says it sleeps (GL_RING_NEED_WAKEUP): while it polls, no
 * system call. Returns the number of entries published (0 when none were
 * prepared), or -EKEYEXPIRED when the ring is dead (the lease was dropped
 * or expired), -EPROTO when it is broken, -ENOTCONN when a wait found the
 * daemon gone; then nothing is published.
 */
GL_EXPORT int gl_ring_submit(struct gl_ring *ring)
{
	struct gl_ring_hdr *h = ring->hdr;
	uint32_t n = ring->sq.sqe_tail - ring->sq.sqe_pub;
	uint32_t flags;

	if (ring->gone)
		return -ENOTCONN;
	flags = gl_smp_load_acquire(&h->flags);
	if (flags & GL_RING_DEAD)
		return -EKEYEXPIRED;
	if (flags & GL_RING_BROKEN)
		return -EPROTO;
	if (!n)
		return 0;
	gl_smp_store_release(&h->sq_tail, ring->sq.sqe_tail);
	ring->sq.sqe_pub = ring->sq.sqe_tail;
	/* the store before the flag's load: pairs with the poller setting
	 * NEED_WAKEUP and then re-reading sq_tail */
	gl_smp_mb();
	if (gl_read_once(&h->flags) &
	    GL_RING_NEED_WAKEUP) {
		gl_atomic_add(&h->sq_futex, 1);
		syscall(SYS_futex, &h->sq_futex, FUTEX_WAKE, 1, NULL, NULL, 0);
	}
	return (int)n;
}

/* The CQE at cq_head, or NULL. */
static struct gl_cqe *ring_cqe(struct gl_ring *ring)
{
	struct gl_ring_hdr *h = ring->hdr;
	uint32_t head = gl_read_once(&h->cq_head);

	if (head == gl_smp_load_acquire(&h->cq_tail))
		return NULL;
	return &ring->cq[head & ring->cq_mask];
}

/* Nothing in the CQ: why not, or -EAGAIN when more may come. */
static int ring_empty_reason(struct gl_ring *ring, struct gl_cqe **cqe)
{
	uint32_t flags = gl_smp_load_acquire(&ring->hdr->flags);

	if (!(flags & (GL_RING_DEAD | GL_RING_BROKEN)))
		return ring->gone ? -ENOTCONN : -EAGAIN;
	/* a completion stored just before the flag still counts */
	*cqe = ring_cqe(ring);
	if (*cqe)
		return 0;
	return flags & GL_RING_DEAD ? -EKEYEXPIRED : -EPROTO;
}

/*
 * gl_ring_peek_cqe - the oldest completion, without blocking. Returns 0
 * with *@cqe pointing into the CQ (valid until gl_ring_cqe_seen()), or
 * -EAGAIN when there is none yet, -EKEYEXPIRED when there is none and the
 * ring is dead (the lease was dropped or expired: none will come),
 * -EPROTO when it is broken (the daemon stopped serving it, see the
 * lease's last_error), -ENOTCONN when a wait found the daemon gone.
 */
GL_EXPORT int gl_ring_peek_cqe(struct gl_ring *ring, struct gl_cqe **cqe)
{
	*cqe = ring_cqe(ring);
	if (*cqe)
		return 0;
	return ring_empty_reason(ring, cqe);
}

/* Sleep on cq_futex for up to @ms (< 0: RING_ALIVE_MS) unless a CQE came. */
static void ring_sleep(struct gl_ring *ring, int64_t ms)
{
	struct gl_ring_hdr *h = ring->hdr;
	struct timespec ts;
	uint32_t v;

	if (ms < 0 || ms > RING_ALIVE_MS)
		ms = RING_ALIVE_MS;
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000;
	v = gl_atomic_load(&h->cq_futex);
	gl_atomic_add(&h->cq_waiters, 1);
	if (!ring_cqe(ring) &&
	    !(gl_atomic_load(&h->flags) &
	      (GL_RING_DEAD | GL_RING_BROKEN)))
		syscall(SYS_futex, &h->cq_futex, FUTEX_WAIT, v, &ts, NULL, 0);
	gl_atomic_sub(&h->cq_waiters, 1);
}

/*
 * gl_ring_wait_cqe - the oldest completion, waiting up to @timeout_ms
 * (< 0: no limit, 0: do not wait): it spins for up to GL_RING_SPIN_US,
 * then sleeps on the CQ futex, which the daemon wakes only for clients
 * that sleep. Returns 0 with *@cqe set as gl_ring_peek_cqe(), or
 * -ETIMEDOUT, -EKEYEXPIRED (dead ring: the lease was dropped or expired,
 * and no completion is left), -EPROTO (broken ring), -ENOTCONN (the
 * daemon is gone: checked about once a second while sleeping, by the
 * daemon's lock on the io file; completions it posted before it died
 * are still returned first).
 */
GL_EXPORT int gl_ring_wait_cqe(struct gl_ring *ring, struct gl_cqe **cqe,
			       int timeout_ms)
{
	int64_t now = ring_now_ns(), end, spin_end;
	struct stat st;
	unsigned int i;
	int err;

	end = timeout_ms < 0 ? INT64_MAX : now + (int64_t)timeout_ms * 1000000;
	spin_end = now + GL_RING_SPIN_US * 1000;
	if (spin_end > end)
		spin_end = end;
	for (i = 0;; i++) {
		err = gl_ring_peek_cqe(ring, cqe);
		if (err != -EAGAIN)
			return err;
		if (!(i & 63) && ring_now_ns() >= spin_end)
			break;
		ring_relax();
	}
	for (;;) {
		now = ring_now_ns();
		if (now >= end)
			return -ETIMEDOUT;
		ring_sleep(ring, timeout_ms < 0 ? -1 :
			   (end - now + 999999) / 1000000);
		err = gl_ring_peek_cqe(ring, cqe);
		if (err != -EAGAIN)
			return err;
		/* a daemon that died sets no flag: ask its lock, and its
		 * file system */
		if (!ring_daemon_alive(ring)) {
			/* a drop sets DEAD before it lets the lock go */
			err = gl_ring_peek_cqe(ring, cqe);
			if (err != -EAGAIN)
				return err;
			ring->gone = true;
			return -ENOTCONN;
		}
		if (fstat(ring->dir, &st) && errno == ENOTCONN) {
			ring->gone = true;
			return -ENOTCONN;
		}
	}
}

/*
 * __gl_ring_gone - whether the daemon that served @ring is gone: a wait
 * found it so, or its file system no longer answers (ENOTCONN). A
 * daemon that stops cleanly unmounts before it drops its models' leases
 * (fusefs/main.c), so a ring that died in a stop (GL_RING_DEAD, its
 * requests ECANCELED) reads as gone here, while one whose lease expired
 * or was dropped by a serving daemon does not. 1 or 0; one fstat(2).
 */
int __gl_ring_gone(struct gl_ring *ring)
{
	struct stat st;

	if (!ring->gone && fstat(ring->dir, &st) && errno == ENOTCONN)
		ring->gone = true;
	return ring->gone;
}

/*
 * gl_ring_cqe_seen - hand the completion gl_ring_peek_cqe() or
 * gl_ring_wait_cqe() returned back to the daemon (one release store of
 * cq_head); its slot may be reused at once. Completions are seen in
 * order. When the daemon's poller waits for CQ room (GL_RING_CQ_WAIT),
 * it is woken. No return value.
 */
GL_EXPORT void gl_ring_cqe_seen(struct gl_ring *ring, struct gl_cqe *cqe)
{
	struct gl_ring_hdr *h = ring->hdr;
	uint32_t head = gl_read_once(&h->cq_head);

	(void)cqe;
	gl_smp_store_release(&h->cq_head, head + 1);
	/* the store before the flag's load: pairs with the poller setting
	 * CQ_WAIT and then re-reading cq_head */
	gl_smp_mb();
	if (gl_read_once(&h->flags) & GL_RING_CQ_WAIT) {
		gl_atomic_add(&h->sq_futex, 1);
		syscall(SYS_futex, &h->sq_futex, FUTEX_WAKE, 1, NULL, NULL, 0);
	}
}
