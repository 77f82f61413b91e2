/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the ring poller: random submission entries, data
 * bytes and client indices go into a live io region of a broker running
 * in this process (no FUSE), and the daemon must answer each entry with a
 * completion of a known errno or mark the ring BROKEN, never crash, hang
 * or write a completion into a slot the client still owns.
 *
 * The lease is a model's (a tiny gpulease-mlp written at start, 4 inputs
 * and 3 outputs, max_batch 4), so its ring is the model's request ring
 * and GL_OP_INFER entries with hostile ranges, lengths, reserved words
 * and request bytes reach the model: each must end in exactly one
 * completion without GL_CQE_F_MORE (after any number flagged with it).
 *
 * Input: in[0] holds the entry count (low 3 bits) and what else the
 * hostile client does (FZ_*); in[1] picks a header field, an index skew
 * or a truncation size; then the entries, then data-area bytes. Header
 * geometry rewritten by the client must change nothing (the daemon keeps
 * its own); a bad index or a truncated file may break the ring, after
 * which the client asks for a new region with `io SIZE`.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "daemon/broker.h"
#include "daemon/lease.h"
#include "daemon/model.h"
#include "daemon/ring.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_state {
	struct broker b;
	struct lease *l;
	char dir[32];		/* the model's files */
	bool ready;
};

/* libFuzzer's one process-wide fixture */
static struct fuzz_state fz;

/* At exit: the io file and the daemon's tmpfs directory go away. */
static void fuzz_teardown(void)
{
	char path[64];

	lease_put(fz.l);
	broker_destroy(&fz.b);
	snprintf(path, sizeof(path), "%s/config.json", fz.dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/model.safetensors", fz.dir);
	unlink(path);
	rmdir(fz.dir);
}

static void fuzz_write(const char *dir, const char *name, const void *p,
		       size_t len)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, p, len) != (ssize_t)len || close(fd))
		abort();
}

/* A gpulease-mlp of one 4 -> 3 relu layer (Documentation/models.md). */
static void fuzz_model_files(const char *dir)
{
	static const char cfg[] = "{\"architectures\": [\"gpulease-mlp\"], "
		"\"layers\": [{\"in\": 4, \"out\": 3, "
		"\"activation\": \"relu\"}]}";
	static const char hdr[] = "{\"layers.0.weight\": {\"dtype\": "
		"\"F32\", \"shape\": [3, 4], \"data_offsets\": [0, 48]}, "
		"\"layers.0.bias\": {\"dtype\": \"F32\", \"shape\": [3], "
		"\"data_offsets\": [48, 60]}}";
	char st[8 + sizeof(hdr) - 1 + 60];
	uint64_t n = sizeof(hdr) - 1;
	float *w = (float *)(st + 8 + n);
	int i;

	memcpy(st, &n, 8);
	memcpy(st + 8, hdr, n);
	for (i = 0; i < 15; i++) {
		float f = (float)(i % 5) - 2.0f;

		memcpy(w + i, &f, sizeof(f));
	}
	fuzz_write(dir, "config.json", cfg, sizeof(cfg) - 1);
	fuzz_write(dir, "model.safetensors", st, sizeof(st));
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
	struct model_cred cred = { getuid(), getgid(), NULL, 0 };
	char line[96];

	if (fz.ready)
		return &fz;
	snprintf(fz.dir, sizeof(fz.dir), "/tmp/gl-fuzz-XXXXXX");
	if (!mkdtemp(fz.dir))
		abort();
	fuzz_model_files(fz.dir);
	snprintf(line, sizeof(line), "load fz %s max_batch=4", fz.dir);
	if (broker_init(&fz.b, &cfg) ||
	    model_ctl_write(&fz.b.models, &cred, line, strlen(line)))
		abort();
	fz.l = lease_lookup(&fz.b.leases, "model.fz");
	if (!fz.l || lease_set_io(fz.l, 64 << 10))
		abort();
	atomic_store(&fz.b.pol.ring_idle_us, 0);
	atexit(fuzz_teardown);
	fz.ready = true;
	return &fz;
}

#define FZ_GEOMETRY	0x08	/* rewrite one header field */
#define FZ_INDEX	0x10	/* skew cq_head, scribble sq_head */
#define FZ_TRUNCATE	0x20	/* ftruncate the io file under the daemon */

/* One field of the header the daemon wrote: the client may scribble
 * over any of them. */
static void fuzz_geometry(struct gl_ring_hdr *h, uint8_t which, uint32_t v)
{
	switch (which % 11) {
	case 0: h->sq_entries = v; break;
	case 1: h->cq_entries = v; break;
	case 2: h->sqe_size = v; break;
	case 3: h->cqe_size = v; break;
	case 4: h->sq_off = v; break;
	case 5: h->cq_off = (uint64_t)v << 20; break;
	case 6: h->data_off = v; break;
	case 7: h->data_size = (uint64_t)v << 32 | v; break;
	case 8: h->size = v; break;
	case 9: h->magic = v; break;
	default: h->sq_entries = h->cq_entries = 0xffffffffu; break;
	}
}

static bool known_status(int st)
{
	return st == 0 || st == -EINVAL || st == -EFAULT || st == -EFBIG ||
	       st == -ETIMEDOUT || st == -ECANCELED || st == -EIO ||
	       st == -EBUSY || st == -EOPNOTSUPP ||	/* ids to an mlp */
	       st == -ETIME ||		/* a deadline shorter than the
					 * model's learnt estimate */
	       st == -EKEYEXPIRED;	/* documented for an INFER entry */
}

/* The last completions of entries between cq_head and cq_tail (a
 * GL_OP_INFER's GL_CQE_F_MORE ones do not count); -1 for a CQE no
 * entry could have posted. */
static int fuzz_finals(struct ring *r, uint32_t head, uint32_t tail)
{
	int finals = 0;

	if (tail - head > r->cq_entries)
		return -1;	/* a skewed cq_head */
	for (; head != tail; head++) {
		struct gl_cqe *c = &r->cq[head & r->cq_mask];

		if (!known_status(c->status) || (c->flags & ~GL_CQE_F_MORE) ||
		    ((c->flags & GL_CQE_F_MORE) && c->status))
			return -1;
		finals += !(c->flags & GL_CQE_F_MORE);
	}
	return finals;
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
	struct fuzz_state *s = fuzz_state();
	struct ring *r = caa_container_of(s->l->io, struct ring, io);
	struct gl_ring_hdr *h = r->hdr;
	uint32_t n, i, tail, want, v;
	struct timespec pause = { 0, 20000 };
	bool may_break;
	int spins;

	if (size < 2)
		return 0;
	n = in[0] % 8 + 1;
	if (size < 2 + (size_t)n * sizeof(struct gl_sqe))
		return 0;
	may_break = in[1] == 0xff || (in[0] & (FZ_INDEX | FZ_TRUNCATE));
	memcpy(&v, in + 2, sizeof(v));
	if (in[0] & FZ_GEOMETRY)
		fuzz_geometry(h, in[1], v);
	if (in[0] & FZ_TRUNCATE)	/* keeps in[1] % 16 pages of 16 */
		if (ftruncate(r->fd, (off_t)(in[1] % 16) * 4096))
			abort();
	if (in[0] & FZ_INDEX) {
		/* the daemon's words are never read back: scribble */
		h->sq_head = v;
		__atomic_fetch_add(&h->cq_head, in[1] % 4, __ATOMIC_SEQ_CST);
	}
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
		if (fuzz_finals(r, h->cq_head,
				__atomic_load_n(&h->cq_tail, __ATOMIC_ACQUIRE)) ==
		    (int)n)
			break;
		nanosleep(&pause, NULL);
	}
	if (__atomic_load_n(&h->flags, __ATOMIC_SEQ_CST) & GL_RING_BROKEN) {
		/* a broken ring is replaced, as a client would do */
		if (!may_break || lease_set_io(s->l, 64 << 10))
			abort();
		return 0;
	}
	tail = __atomic_load_n(&h->cq_tail, __ATOMIC_ACQUIRE);
	if (fuzz_finals(r, h->cq_head, tail) != (int)n)
		abort();	/* lost, duplicated, unknown or hung */
	__atomic_store_n(&h->cq_head, tail, __ATOMIC_RELEASE);
	/* a truncated file that the daemon happened not to touch */
	if ((in[0] & FZ_TRUNCATE) && lease_set_io(s->l, 64 << 10))
		abort();
	return 0;
}
