/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the ring poller: random submission entries, data
 * bytes and client indices go into a live io region of a broker running
 * in this process (no FUSE), and the daemon must answer each entry with a
 * completion of a known errno or mark the ring BROKEN, never crash, hang
 * or write a completion into a slot the client still owns.
 */
#include <errno.h>
#include <linux/futex.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "daemon/broker.h"
#include "daemon/lease.h"
#include "daemon/ring.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_state {
	struct broker b;
	struct lease *l;
	bool ready;
};

/* libFuzzer's one process-wide fixture */
static struct fuzz_state fz;

/* At exit: the io file and the daemon's tmpfs directory go away. */
static void fuzz_teardown(void)
{
	lease_put(fz.l);
	broker_destroy(&fz.b);
}

static struct fuzz_state *fuzz_state(void)
{
	struct broker_config cfg = {
		.cpu_vram = 1 << 20,
		.default_ttl = 3600,
		.max_ttl = 86400,
		.launch_timeout_ms = 20,
		.executors = 2,
	};
	struct lease_req req = {
		.name = "fuzz", .vram = 64 << 10, .ttl = 3600,
	};

	if (fz.ready)
		return &fz;
	if (broker_init(&fz.b, &cfg) || lease_acquire(&fz.b, &req, &fz.l) ||
	    lease_set_io(fz.l, 64 << 10))
		abort();
	atomic_store(&fz.b.pol.ring_idle_us, 0);
	atexit(fuzz_teardown);
	fz.ready = true;
	return &fz;
}

static bool known_status(int st)
{
	return st == 0 || st == -EINVAL || st == -EFAULT || st == -EFBIG ||
	       st == -ETIMEDOUT || st == -ECANCELED || st == -EIO;
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
	struct fuzz_state *s = fuzz_state();
	struct ring *r = s->l->ring;
	struct gl_ring_hdr *h = r->hdr;
	uint32_t n, i, tail, want;
	struct timespec pause = { 0, 20000 };
	int spins;

	if (size < 2)
		return 0;
	n = in[0] % 8 + 1;
	if (size < 2 + (size_t)n * sizeof(struct gl_sqe))
		return 0;
	tail = h->sq_tail;
	for (i = 0; i < n; i++)
		memcpy(&r->sq[(tail + i) & r->sq_mask],
		       in + 2 + i * sizeof(struct gl_sqe),
		       sizeof(struct gl_sqe));
	i = 2 + n * sizeof(struct gl_sqe);
	memcpy(r->data, in + i, size - i < r->data_size ? size - i :
							  r->data_size);
	want = tail + n;
	/* sometimes a nonsense index, as a hostile client would write */
	__atomic_store_n(&h->sq_tail, in[1] == 0xff ? want + 100000 : want,
			 __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&h->sq_futex, 1, __ATOMIC_SEQ_CST);
	syscall(SYS_futex, &h->sq_futex, FUTEX_WAKE, 1, NULL, NULL, 0);

	for (spins = 0; spins < 50000; spins++) {
		if (__atomic_load_n(&h->flags, __ATOMIC_SEQ_CST) &
		    GL_RING_BROKEN)
			break;
		if (__atomic_load_n(&h->cq_tail, __ATOMIC_ACQUIRE) -
		    h->cq_head == n)
			break;
		nanosleep(&pause, NULL);
	}
	if (__atomic_load_n(&h->flags, __ATOMIC_SEQ_CST) & GL_RING_BROKEN) {
		/* a broken ring is replaced, as a client would do */
		if (in[1] != 0xff || lease_set_io(s->l, 0) ||
		    lease_set_io(s->l, 64 << 10))
			abort();
		return 0;
	}
	if (__atomic_load_n(&h->cq_tail, __ATOMIC_ACQUIRE) - h->cq_head != n)
		abort();	/* lost, duplicated or hung */
	for (i = 0; i < n; i++) {
		struct gl_cqe *c = &r->cq[h->cq_head & r->cq_mask];

		if (!known_status(c->status) || c->flags)
			abort();
		h->cq_head++;
	}
	return 0;
}
