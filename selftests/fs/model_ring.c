// SPDX-License-Identifier: MIT
/*
 * model_ring.c - a model's request ring (models/NAME/io, GL_OP_INFER):
 * a text request and an mlp binary request answered byte for byte as
 * through infer, in more than one completion, the last one without
 * GL_CQE_F_MORE; an mlp request from the ring and one from infer share
 * one pass (max_delay_us) with the bits each gets alone; a client that
 * reads no completion does not stop the
 * model (the news is coalesced into the CQEs it has room for); an answer
 * buffer too small is EFBIG, bad offsets EFAULT, bad fields EINVAL, each
 * for that entry alone; more than RING_INFER_MAX requests in flight
 * EBUSY; unload with a request in flight ECANCELED with the memory back;
 * expiry mid-request EKEYEXPIRED; and libgpulease's model API (gl_model(3))
 * including -ENOTCONN after kill -9 of the daemon. The debug knob
 * model_step_hold keeps a request inside its second step, so every
 * "mid-request" here is deterministic. Linked with libgpulease.a.
 */
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "selftests/harness.h"
#include "selftests/fs/fuse_steal.h"
#include "selftests/fs/model_common.h"
#include "tools/lib/gpulease.h"
#include "uapi/model.h"

static const char *const args[] = { "--cpu-vram", "64M", NULL };

FIXTURE(model_ring) {
	struct gl_daemon d;
	struct gl *g;
	struct gl_ring *r;
	char dir[64];
};

/* The tiny Llama with 128 positions: long answers, many completions. */
FIXTURE_SETUP(model_ring)
{
	int r;

	self->dir[0] = '\0';
	self->g = NULL;
	self->r = NULL;
	GL_DAEMON_SETUP(&self->d, args);
	ASSERT_EQ(gl_open(self->d.mnt, &self->g), 0);
	r = model_fixture(self->dir, sizeof(self->dir), "--no-ref --seq 128");
	if (r == 1)
		SKIP(return, "/usr/bin/python3 has no numpy");
	ASSERT_EQ(r, 0);
}

FIXTURE_TEARDOWN(model_ring)
{
	gl_ring_close(self->r);
	gl_close(self->g);
	model_fixture_rm(self->dir);
	GL_DAEMON_TEARDOWN(&self->d);
}

#define ANS_OFF		65536	/* the answer buffer's offset */
#define ANS_MAX		65536

/* Load @opts as model m, give it a ring of @io bytes, map it. */
static int load_ring(FIXTURE_DATA(model_ring) *self, const char *opts,
		     const char *io)
{
	int err = gl_ctl_write(&self->d, "models/ctl", "load m %s/legacy.bin "
			       "%s\n", self->dir, opts);

	if (!err)
		err = gl_ctl_write(&self->d, "models/m/ctl", "io %s\n", io);
	if (!err)
		err = gl_ring_open(self->g, "model.m", &self->r);
	return err;
}

/* Queue one GL_OP_INFER of @req (at 0) with the answer buffer at
 * ANS_OFF (the caller may change the entry before it submits). */
static struct gl_sqe *infer_sqe(struct gl_ring *r, const void *req,
				size_t len, uint64_t ans_len, uint64_t ud)
{
	struct gl_sqe *sqe = gl_ring_get_sqe(r);

	if (!sqe)
		return NULL;
	memcpy(gl_ring_data(r, NULL), req, len);
	gl_ring_prep_infer(sqe, 0, (uint32_t)len, ANS_OFF, ans_len, ud);
	return sqe;
}

struct taken {
	int status;		/* of the last CQE */
	unsigned cqes, more;	/* CQEs, those flagged MORE */
	size_t total;		/* answer bytes */
	bool ordered;		/* each range starts where the last ended,
				 * MORE ones have status 0 */
};

/* Take the CQEs of @ud up to its last one, after those @t counts
 * already. 0, or the wait's -errno. */
static int take_more(struct gl_ring *r, uint64_t ud, struct taken *t)
{
	struct gl_cqe *cqe;
	int err;

	for (;;) {
		err = gl_ring_wait_cqe(r, &cqe, 30000);
		if (err)
			return err;
		if (cqe->user_data != ud) {
			gl_ring_cqe_seen(r, cqe);
			continue;
		}
		t->cqes++;
		if (cqe->ans.off != t->total)
			t->ordered = false;
		t->total = (size_t)cqe->ans.off + cqe->ans.len;
		t->status = cqe->status;
		if (cqe->flags & GL_CQE_F_MORE) {
			t->more++;
			if (cqe->status)
				t->ordered = false;
			gl_ring_cqe_seen(r, cqe);
			continue;
		}
		gl_ring_cqe_seen(r, cqe);
		return 0;
	}
}

static int take(struct gl_ring *r, uint64_t ud, struct taken *t)
{
	memset(t, 0, sizeof(*t));
	t->ordered = true;
	return take_more(r, ud, t);
}

/*
 * Take @ud's first CQE (a MORE one), then let the model go on: with
 * model_step_hold set before the request, it is held after its first
 * token, so its answer comes in at least two completions however the
 * machine schedules the poller (which starts watching the answer just
 * after the request starts: a request that ended by then is told in one).
 */
static int take_held(const struct gl_daemon *d, struct gl_ring *r,
		     uint64_t ud, struct taken *t)
{
	struct gl_cqe *cqe;
	int err;

	memset(t, 0, sizeof(*t));
	t->ordered = true;
	err = gl_ring_wait_cqe(r, &cqe, 30000);
	if (err)
		return err;
	if (cqe->user_data != ud || !(cqe->flags & GL_CQE_F_MORE) ||
	    cqe->ans.off)
		return -EPROTO;
	t->cqes = t->more = 1;
	t->total = cqe->ans.len;
	gl_ring_cqe_seen(r, cqe);
	err = gl_ctl_write(d, "ctl", "model_step_hold 0\n");
	return err ? err : take_more(r, ud, t);
}

/* One request through the ring, its answer buffer at @ans: its status,
 * the answer in @out. */
static int ring_infer_at(struct gl_ring *r, const void *req, size_t len,
			 uint64_t ans, uint64_t ans_len, uint64_t ud,
			 struct taken *t, char *out, size_t size)
{
	struct gl_sqe *sqe = infer_sqe(r, req, len, ans_len, ud);
	int err;

	if (!sqe)
		return -EIO;
	sqe->off = ans;
	if (gl_ring_submit(r) != 1)
		return -EIO;
	err = take(r, ud, t);
	if (err)
		return err;
	if (out && t->total < size) {
		memcpy(out, (char *)gl_ring_data(r, NULL) + ans, t->total);
		out[t->total] = '\0';
	}
	return t->status;
}

static int ring_infer(struct gl_ring *r, const void *req, size_t len,
		      uint64_t ans_len, uint64_t ud, struct taken *t,
		      char *out, size_t size)
{
	return ring_infer_at(r, req, len, ANS_OFF, ans_len, ud, t, out, size);
}

TEST_F(model_ring, text_answer_equals_infer)
{
	const struct gl_daemon *d = &self->d;
	static const char *const reqs[] = {
		"max_tokens=24 output=ids ids 1 17 42\n",
		"max_tokens=40 temperature=1 top_p=0.9 seed=7 ids 1 5\n",
		"max_tokens=30 Hello\n",
	};
	char want[4096], got[4096], l1[256], l2[256];
	struct taken t;
	struct stat st;
	unsigned i;
	ssize_t n;

	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load m %s/legacy.bin "
			       "tokenizer=%s/tokenizer.bin\n", self->dir,
			       self->dir), 0);
	/* no ring yet: no io */
	EXPECT_EQ(lstat(gl_path(d, "models/m/io"), &st), -1);
	EXPECT_EQ(errno, ENOENT);
	EXPECT_EQ(gl_ctl_write(d, "models/m/ctl", "io 1000\n"), -EINVAL);
	ASSERT_EQ(gl_ctl_write(d, "models/m/ctl", "io 1M\n"), 0);
	/* models/m/io is the model's lease's ring, the owner's */
	n = readlink(gl_path(d, "models/m/io"), l1, sizeof(l1) - 1);
	ASSERT_GT(n, 0);
	l1[n] = '\0';
	n = readlink(gl_path(d, "leases/model.m/io"), l2, sizeof(l2) - 1);
	ASSERT_GT(n, 0);
	l2[n] = '\0';
	EXPECT_STREQ(l1, l2);
	ASSERT_EQ(stat(gl_path(d, "models/m/io"), &st), 0);
	EXPECT_EQ(st.st_uid, getuid());
	EXPECT_EQ(st.st_mode & 0777, 0600);
	ASSERT_EQ(gl_ring_open(self->g, "model.m", &self->r), 0);
	for (i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		long long out0, out1;

		ASSERT_GE(model_infer(d, "m", reqs[i], want, sizeof(want)), 0);
		ASSERT_EQ(gl_read_key(d, "models/m/stats", "bytes_out", &out0),
			  0);
		ASSERT_EQ(gl_ctl_write(d, "ctl", "model_step_hold 1\n"), 0);
		ASSERT_TRUE(infer_sqe(self->r, reqs[i], strlen(reqs[i]),
				      ANS_MAX, 10 + i) != NULL);
		ASSERT_EQ(gl_ring_submit(self->r), 1);
		ASSERT_EQ(take_held(d, self->r, 10 + i, &t), 0);
		EXPECT_EQ(t.status, 0) TH_LOG("%s", reqs[i]);
		memcpy(got, (char *)gl_ring_data(self->r, NULL) + ANS_OFF,
		       t.total);
		got[t.total] = '\0';
		EXPECT_STREQ(got, want) TH_LOG("%s", reqs[i]);
		EXPECT_EQ(t.total, strlen(want));
		/* what the ring got counts as the model's answer bytes */
		ASSERT_EQ(gl_read_key(d, "models/m/stats", "bytes_out", &out1),
			  0);
		EXPECT_EQ(out1 - out0, (long long)t.total);
		/* streamed: news per token, then the last one */
		EXPECT_GT(t.cqes, 1u);
		EXPECT_EQ(t.more, t.cqes - 1);
		EXPECT_TRUE(t.ordered);
	}
}

#define IN 13
#define OUT 3
#define ROWS 7

TEST_F(model_ring, mlp_answer_equals_infer)
{
	const struct gl_daemon *d = &self->d;
	struct {
		struct gl_infer_tensor h;
		float x[ROWS][IN];
	} req = { .h = { GL_INFER_MAGIC, GL_INFER_F32, ROWS, IN } };
	char mdir[64] = "", want[512], *got;
	struct blob in;
	struct taken t;
	ssize_t n, r;
	int fd;

	ASSERT_EQ(model_fixture_by(mdir, sizeof(mdir), "write_mlp.py", ""),
		  0);
	ASSERT_EQ(slurp(mdir, "input.bin", &in), 0);
	ASSERT_EQ(in.len, sizeof(req.x));
	memcpy(req.x, in.p, in.len);
	free(in.p);
	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load n %s max_batch=8\n",
			       mdir), 0);
	ASSERT_EQ(gl_ctl_write(d, "models/n/ctl", "io 64K\n"), 0);
	fd = open(gl_path(d, "models/n/infer"), O_RDWR);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(write(fd, &req, sizeof(req.h) + sizeof(req.x)),
		  (ssize_t)(sizeof(req.h) + sizeof(req.x)));
	/* reads stream: the header may come before the rows */
	n = 0;
	while ((r = read(fd, want + n, sizeof(want) - (size_t)n)) > 0)
		n += r;
	close(fd);
	ASSERT_EQ(n, (ssize_t)(sizeof(struct gl_infer_tensor) +
			       ROWS * OUT * 4));
	ASSERT_EQ(gl_ring_open(self->g, "model.n", &self->r), 0);
	/* 64K: a data area of 56K; the answer at 4096 */
	got = gl_ring_data(self->r, NULL);
	EXPECT_EQ(ring_infer_at(self->r, &req, sizeof(req.h) + sizeof(req.x),
				4096, 4096, 5,
				&t, NULL, 0), 0);
	EXPECT_TRUE(t.ordered);
	ASSERT_EQ(t.total, (size_t)n);
	EXPECT_EQ(memcmp(got + 4096, want, (size_t)n), 0);
	/* header and rows: two appends, then the end (fewer when the pass
	 * ended before the poller watched it: one step, unheld) */
	EXPECT_LE(t.cqes, 3u);
	EXPECT_EQ(t.more, t.cqes - 1);
	gl_ring_close(self->r);
	self->r = NULL;
	EXPECT_EQ(gl_ctl_write(d, "models/ctl", "unload n\n"), 0);
	model_fixture_rm(mdir);
}

/*
 * An mlp's requests from a file and from the ring share one pass (max_batch
 * 14, max_delay_us long: the pass waits for its 14 rows) and each gets the
 * bits a model without batching gives (Documentation/models.md,
 * "Batching").
 */
TEST_F(model_ring, mlp_file_and_ring_share_a_pass)
{
	const struct gl_daemon *d = &self->d;
	struct {
		struct gl_infer_tensor h;
		float x[ROWS][IN];
	} req = { .h = { GL_INFER_MAGIC, GL_INFER_F32, ROWS, IN } };
	char mdir[64] = "", want[512], got[512];
	struct blob in;
	struct taken t;
	long long v = -1;
	ssize_t n, r;
	int fd;

	ASSERT_EQ(model_fixture_by(mdir, sizeof(mdir), "write_mlp.py", ""),
		  0);
	ASSERT_EQ(slurp(mdir, "input.bin", &in), 0);
	ASSERT_EQ(in.len, sizeof(req.x));
	memcpy(req.x, in.p, in.len);
	free(in.p);
	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load solo %s max_batch=8\n",
			       mdir), 0);
	n = model_infer_raw(d, "solo", &req, sizeof(req.h) + sizeof(req.x),
			    want, sizeof(want));
	ASSERT_EQ(n, (ssize_t)(sizeof(struct gl_infer_tensor) +
			       ROWS * OUT * 4));
	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load n %s max_batch=14 "
			       "max_delay_us=10000000\n", mdir), 0);
	ASSERT_EQ(gl_ctl_write(d, "models/n/ctl", "io 64K\n"), 0);
	ASSERT_EQ(gl_ring_open(self->g, "model.n", &self->r), 0);
	fd = open(gl_path(d, "models/n/infer"), O_RDWR);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(write(fd, &req, sizeof(req.h) + sizeof(req.x)),
		  (ssize_t)(sizeof(req.h) + sizeof(req.x)));
	EXPECT_EQ(ring_infer_at(self->r, &req, sizeof(req.h) + sizeof(req.x),
				4096, 4096, 5, &t, NULL, 0), 0);
	ASSERT_EQ(t.total, (size_t)n);
	EXPECT_EQ(memcmp((char *)gl_ring_data(self->r, NULL) + 4096, want,
			 (size_t)n), 0);
	/* the file's answer: the same pass, the same bits */
	n = 0;
	while ((r = read(fd, got + n, sizeof(got) - (size_t)n)) > 0)
		n += r;
	close(fd);
	ASSERT_EQ(n, (ssize_t)t.total);
	EXPECT_EQ(memcmp(got, want, (size_t)n), 0);
	EXPECT_EQ(gl_read_key(d, "models/n/stats", "steps", &v), 0);
	EXPECT_EQ(v, 1);
	EXPECT_EQ(gl_read_key(d, "models/n/stats", "batch_rows", &v), 0);
	EXPECT_EQ(v, 2 * ROWS);
	gl_ring_close(self->r);
	self->r = NULL;
	EXPECT_EQ(gl_ctl_write(d, "models/ctl", "unload n\n"), 0);
	EXPECT_EQ(gl_ctl_write(d, "models/ctl", "unload solo\n"), 0);
	model_fixture_rm(mdir);
}

TEST_F(model_ring, bad_entries_fail_alone)
{
	static const char req[] = "max_tokens=4 output=ids ids 1 2\n";
	char want[256], got[256];
	size_t size = 0;
	struct gl_sqe *sqe;
	struct taken t;

	/* two KV slots: the EFBIG one holds its own until its next step */
	ASSERT_EQ(load_ring(self, "max_batch=2", "1M"), 0);
	ASSERT_GE(model_infer(&self->d, "m", req, want, sizeof(want)), 0);
	gl_ring_data(self->r, &size);
	/* the answer buffer too small: its first token is over */
	EXPECT_EQ(ring_infer(self->r, req, strlen(req), 1, 1, &t, NULL, 0),
		  -EFBIG);
	EXPECT_EQ(t.cqes, 1u);
	/* ranges outside the data area, or wrapping */
	ASSERT_TRUE((sqe = infer_sqe(self->r, req, strlen(req), ANS_MAX, 2)));
	sqe->addr = size - 4;
	ASSERT_TRUE((sqe = infer_sqe(self->r, req, strlen(req), ANS_MAX, 3)));
	sqe->off = size - 100;
	ASSERT_TRUE((sqe = infer_sqe(self->r, req, strlen(req), ANS_MAX, 4)));
	sqe->off = 8;
	sqe->ans_len = UINT64_MAX - 4;
	ASSERT_TRUE((sqe = infer_sqe(self->r, req, strlen(req), ANS_MAX, 5)));
	sqe->addr = UINT64_MAX;
	/* a reserved word, a flag */
	ASSERT_TRUE((sqe = infer_sqe(self->r, req, strlen(req), ANS_MAX, 6)));
	sqe->reserved[2] = 1;
	ASSERT_TRUE((sqe = infer_sqe(self->r, req, strlen(req), ANS_MAX, 7)));
	sqe->flags = 1;
	/* a malformed request: no prompt */
	ASSERT_TRUE((sqe = infer_sqe(self->r, req, strlen(req), ANS_MAX, 8)));
	sqe->len = 0;
	ASSERT_EQ(gl_ring_submit(self->r), 7);
	EXPECT_EQ(take(self->r, 2, &t), 0);
	EXPECT_EQ(t.status, -EFAULT);
	EXPECT_EQ(take(self->r, 3, &t), 0);
	EXPECT_EQ(t.status, -EFAULT);
	EXPECT_EQ(take(self->r, 4, &t), 0);
	EXPECT_EQ(t.status, -EFAULT);
	EXPECT_EQ(take(self->r, 5, &t), 0);
	EXPECT_EQ(t.status, -EFAULT);
	EXPECT_EQ(take(self->r, 6, &t), 0);
	EXPECT_EQ(t.status, -EINVAL);
	EXPECT_EQ(take(self->r, 7, &t), 0);
	EXPECT_EQ(t.status, -EINVAL);
	EXPECT_EQ(take(self->r, 8, &t), 0);
	EXPECT_EQ(t.status, -EINVAL);
	/* and the next one works */
	EXPECT_EQ(ring_infer(self->r, req, strlen(req), ANS_MAX, 9, &t, got,
			     sizeof(got)), 0);
	EXPECT_STREQ(got, want);
}

/* GL_OP_INFER on a plain lease's ring: no model there. */
TEST_F(model_ring, infer_on_a_lease_ring_is_einval)
{
	static const char req[] = "ids 1\n";
	struct taken t;

	ASSERT_EQ(gl_lease_acquire(self->g, "plain", 1 << 20, 0, -1, 0), 0);
	ASSERT_EQ(gl_ring_setup(self->g, "plain", 1 << 20), 0);
	ASSERT_EQ(gl_ring_open(self->g, "plain", &self->r), 0);
	EXPECT_EQ(ring_infer(self->r, req, strlen(req), 64, 1, &t, NULL, 0),
		  -EINVAL);
}

/* The second request (the ring's) started and ended. */
static int second_ended(void *arg)
{
	long long v = -1, n = 0;

	gl_read_key(arg, "models/m/stats", "requests", &n);
	gl_read_key(arg, "models/m/stats", "running", &v);
	return n == 2 && v == 0;
}

/* 120 NOPs' CQEs and the request's first, none read. */
static int first_told(void *arg)
{
	const struct gl_ring_hdr *h = ((struct gl_ring_sq *)arg)->hdr;

	return gl_smp_load_acquire(&h->cq_tail) -
	       gl_read_once(&h->cq_head) == 121;
}

/*
 * A client that reads no completion: the model goes on and ends; the
 * news it could not post is in the completions it could (a 64K ring has
 * 128 CQ slots; 120 unread NOPs leave 8, one of them the request's own,
 * for a 100-token answer), and the last says it all.
 */
TEST_F(model_ring, full_cq_never_stops_the_model)
{
	static const char req[] = "max_tokens=100 output=ids ids 1\n";
	char want[2048], got[2048], other[256];
	struct gl_sqe *sqe;
	struct taken t;
	long long v = 0;
	unsigned i;

	ASSERT_EQ(load_ring(self, "", "64K"), 0);
	ASSERT_GE(model_infer(&self->d, "m", req, want, sizeof(want)), 0);
	for (i = 0; i < 120; i++) {
		while (!(sqe = gl_ring_get_sqe(self->r))) {
			ASSERT_GE(gl_ring_submit(self->r), 0);
			usleep(1000);
		}
		gl_ring_prep_nop(sqe, 1000 + i);
	}
	sqe = infer_sqe(self->r, req, strlen(req), 8192, 1);
	ASSERT_TRUE(sqe != NULL);
	sqe->off = 4096;	/* a 64K ring's data area is 56K */
	ASSERT_EQ(gl_ctl_write(&self->d, "ctl", "model_step_hold 1\n"), 0);
	ASSERT_GT(gl_ring_submit(self->r), 0);
	/* held after its first token, told in the 121st CQE: then the
	 * other 99 tokens find 6 free slots */
	ASSERT_EQ(gl_wait_until(first_told, self->r, 60000), 0);
	ASSERT_EQ(gl_ctl_write(&self->d, "ctl", "model_step_hold 0\n"), 0);
	/* no CQE read: the model finishes all the same */
	ASSERT_EQ(gl_wait_until(second_ended, &self->d, 60000), 0);
	/* and another client of the model was served meanwhile */
	EXPECT_GT(model_infer(&self->d, "m", "max_tokens=2 ids 1\n", other,
			      sizeof(other)), 0);
	EXPECT_EQ(gl_read_key(&self->d, "models/m/stats", "tokens", &v), 0);
	EXPECT_GE(v, 202);
	ASSERT_EQ(take(self->r, 1, &t), 0);
	EXPECT_EQ(t.status, 0);
	EXPECT_TRUE(t.ordered);
	EXPECT_EQ(t.cqes, 8u);
	EXPECT_EQ(t.more, 7u);
	ASSERT_EQ(t.total, strlen(want));
	memcpy(got, (char *)gl_ring_data(self->r, NULL) + 4096, t.total);
	got[t.total] = '\0';
	EXPECT_STREQ(got, want);
}

/* Start a request that holds after its first token; wait for its first
 * completion (the token). 0 or -errno. */
static int held_ring_request(FIXTURE_DATA(model_ring) *self, uint64_t ud)
{
	static const char req[] = "max_tokens=20 output=ids ids 1 2 3\n";
	struct gl_cqe *cqe;
	int err;

	err = gl_ctl_write(&self->d, "ctl", "model_step_hold 1\n");
	if (err)
		return err;
	if (!infer_sqe(self->r, req, strlen(req), ANS_MAX, ud) ||
	    gl_ring_submit(self->r) != 1)
		return -EIO;
	err = gl_ring_wait_cqe(self->r, &cqe, 30000);
	if (err)
		return err;
	err = cqe->user_data == ud && (cqe->flags & GL_CQE_F_MORE) &&
	      !cqe->status && cqe->ans.off == 0 && cqe->ans.len ? 0 : -EPROTO;
	gl_ring_cqe_seen(self->r, cqe);
	return err;
}

TEST_F(model_ring, unload_in_flight_is_ecanceled)
{
	const struct gl_daemon *d = &self->d;
	long long free0 = dev_read_u64(d, 0, "vram.free");
	struct taken t;

	ASSERT_EQ(load_ring(self, "", "1M"), 0);
	ASSERT_EQ(held_ring_request(self, 7), 0);
	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "unload m\n"), 0);
	/* the memory is back when unload returns, ring included */
	EXPECT_EQ(dev_read_u64(d, 0, "vram.free"), free0);
	EXPECT_EQ(gl_count_leases(d), 0);
	ASSERT_EQ(take(self->r, 7, &t), 0);
	EXPECT_EQ(t.status, -ECANCELED);
	ASSERT_EQ(gl_ctl_write(d, "ctl", "model_step_hold 0\n"), 0);
	/* the ring is dead */
	EXPECT_EQ(gl_ring_submit(self->r), -EKEYEXPIRED);
	EXPECT_EQ(gl_ring_peek_cqe(self->r, &(struct gl_cqe *){ NULL }),
		  -EKEYEXPIRED);
}

static int m_started(void *arg)
{
	long long n = 0;

	gl_read_key(arg, "models/m/stats", "requests", &n);
	return n == 1;
}

/*
 * `io SIZE` again replaces the ring: a request in flight on the old one
 * is told ECANCELED there (ring_infer_stop). Replacing waits for a step
 * that runs (it holds the lease's memory), so the request is kept queued
 * instead: four other models' held requests take the daemon's four
 * executors.
 */
TEST_F(model_ring, replaced_ring_cancels_its_requests)
{
	const struct gl_daemon *d = &self->d;
	static const char req[] = "max_tokens=4 output=ids ids 1 2\n";
	char first[64];
	int fds[4], i;
	struct taken t;

	ASSERT_EQ(gl_ctl_write(d, "ctl", "model_step_hold 1\n"), 0);
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load a%d "
				       "%s/legacy.bin\n", i, self->dir), 0);
		fds[i] = open(gl_path(d, "models/a%d/infer", i), O_RDWR);
		ASSERT_GE(fds[i], 0);
		ASSERT_EQ(write(fds[i], req, strlen(req)),
			  (ssize_t)strlen(req));
		/* its first token: then it holds an executor */
		ASSERT_GT(read(fds[i], first, sizeof(first)), 0);
	}
	ASSERT_EQ(load_ring(self, "", "1M"), 0);
	ASSERT_TRUE(infer_sqe(self->r, req, strlen(req), ANS_MAX, 8) != NULL);
	ASSERT_EQ(gl_ring_submit(self->r), 1);
	ASSERT_EQ(gl_wait_until(m_started, &self->d, 60000), 0);
	ASSERT_EQ(gl_ctl_write(d, "models/m/ctl", "io 1M\n"), 0);
	ASSERT_EQ(take(self->r, 8, &t), 0);
	EXPECT_EQ(t.status, -ECANCELED);
	EXPECT_EQ(t.cqes, 1u);
	ASSERT_EQ(gl_ctl_write(d, "ctl", "model_step_hold 0\n"), 0);
	for (i = 0; i < 4; i++)
		close(fds[i]);
	/* the new ring serves */
	gl_ring_close(self->r);
	ASSERT_EQ(gl_ring_open(self->g, "model.m", &self->r), 0);
	EXPECT_EQ(ring_infer(self->r, req, strlen(req), ANS_MAX, 9, &t, NULL,
			     0), 0);
}

TEST_F(model_ring, expiry_mid_request_is_ekeyexpired)
{
	const struct gl_daemon *d = &self->d;
	char buf[64];
	struct taken t;

	ASSERT_EQ(load_ring(self, "ttl=60", "1M"), 0);
	ASSERT_EQ(held_ring_request(self, 3), 0);
	ASSERT_EQ(gl_ctl_write(d, "ctl", "clock_offset 120\n"), 0);
	ASSERT_EQ(take(self->r, 3, &t), 0);
	EXPECT_EQ(t.status, -EKEYEXPIRED);
	ASSERT_EQ(gl_ctl_write(d, "ctl", "model_step_hold 0\n"), 0);
	EXPECT_EQ(gl_read_key_str(d, "models/m/ctl", "state", buf,
				  sizeof(buf)), 0);
	EXPECT_STREQ(buf, "expired");
	EXPECT_EQ(gl_ctl_write(d, "models/ctl", "unload m\n"), 0);
	EXPECT_EQ(gl_count_leases(d), 0);
}

/* RING_INFER_MAX (32) requests in flight on one ring; the next EBUSY. */
TEST_F(model_ring, requests_in_flight_are_bounded)
{
	static const char req[] = "max_tokens=3 output=ids ids 1 2\n";
	struct gl_sqe *sqe;
	struct taken t;
	unsigned i, busy = 0, ok = 0;

	ASSERT_EQ(load_ring(self, "max_batch=40", "1M"), 0);
	ASSERT_EQ(held_ring_request(self, 100), 0);
	for (i = 0; i < 32; i++) {
		sqe = infer_sqe(self->r, req, strlen(req), 256, i + 1);
		ASSERT_TRUE(sqe != NULL);
		sqe->off = ANS_OFF + 256 * (i + 1);
	}
	ASSERT_EQ(gl_ring_submit(self->r), 32);
	/* the held one and 31 more fit; the 32nd of the batch does not */
	EXPECT_EQ(take(self->r, 32, &t), 0);
	EXPECT_EQ(t.status, -EBUSY);
	EXPECT_EQ(t.cqes, 1u);
	ASSERT_EQ(gl_ctl_write(&self->d, "ctl", "model_step_hold 0\n"), 0);
	for (i = 1; i < 32; i++) {
		ASSERT_EQ(take(self->r, i, &t), 0);
		if (t.status == -EBUSY)
			busy++;
		else if (!t.status)
			ok++;
	}
	EXPECT_EQ(ok, 31u);
	EXPECT_EQ(busy, 0u);
	ASSERT_EQ(take(self->r, 100, &t), 0);
	EXPECT_EQ(t.status, 0);
}

struct streamed {
	const struct gl_daemon *d;
	char buf[4096];
	size_t len;
	unsigned calls;
};

/* Each part of the answer; the first lets the held request go on. */
static int on_chunk(void *arg, const void *p, size_t n)
{
	struct streamed *s = arg;

	if (!s->calls && gl_ctl_write(s->d, "ctl", "model_step_hold 0\n"))
		return -EIO;

	if (s->len + n >= sizeof(s->buf))
		return -ENOSPC;
	memcpy(s->buf + s->len, p, n);
	s->len += n;
	s->buf[s->len] = '\0';
	s->calls++;
	return 0;
}

TEST_F(model_ring, library_open_infer_stream_close)
{
	static const char req[] = "max_tokens=20 output=ids ids 1 9\n";
	struct streamed s = { .d = &self->d };
	char want[1024], got[1024];
	struct gl_model *m = NULL;
	ssize_t n;

	EXPECT_EQ(gl_model_open(self->g, "nosuch", &m), -ENOENT);
	EXPECT_EQ(gl_model_open(self->g, "a/b", &m), -EINVAL);
	/* two KV slots: the EFBIG one holds its own until its next step */
	ASSERT_EQ(gl_ctl_write(&self->d, "models/ctl", "load m %s/legacy.bin "
			       "max_batch=2\n", self->dir), 0);
	EXPECT_EQ(gl_model_open(self->g, "m", &m), -ENOENT);	/* no io */
	ASSERT_EQ(gl_ctl_write(&self->d, "models/m/ctl", "io 256K\n"), 0);
	ASSERT_EQ(gl_model_open(self->g, "m", &m), 0);
	ASSERT_GT(model_infer(&self->d, "m", req, want, sizeof(want)), 0);
	n = gl_model_infer(m, req, strlen(req), got, sizeof(got) - 1);
	ASSERT_EQ(n, (ssize_t)strlen(want));
	got[n] = '\0';
	EXPECT_STREQ(got, want);
	/* held after its first token until the first part is taken */
	ASSERT_EQ(gl_ctl_write(&self->d, "ctl", "model_step_hold 1\n"), 0);
	n = gl_model_stream(m, req, strlen(req), on_chunk, &s);
	EXPECT_EQ(n, (ssize_t)strlen(want));
	EXPECT_STREQ(s.buf, want);
	EXPECT_GT(s.calls, 1u);
	/* too small: EFBIG, then the next request works */
	EXPECT_EQ(gl_model_infer(m, req, strlen(req), got, 4), -EFBIG);
	EXPECT_EQ(gl_model_infer(m, "ids 1 2 x\n", 10, got, sizeof(got)),
		  -EINVAL);
	EXPECT_EQ(gl_model_infer(m, req, strlen(req), got, sizeof(got)),
		  (ssize_t)strlen(want));
	gl_model_close(m);
	gl_model_close(NULL);
}

struct waiter {
	struct gl_model *m;
	ssize_t ret;
};

static void *infer_main(void *arg)
{
	static const char req[] = "max_tokens=20 output=ids ids 1 2 3\n";
	struct waiter *w = arg;
	char ans[1024];

	w->ret = gl_model_infer(w->m, req, strlen(req), ans, sizeof(ans));
	return NULL;
}

static int made_a_token(void *arg)
{
	long long v = 0;

	gl_read_key(arg, "models/m/stats", "tokens", &v);
	return v > 0;
}

/* kill -9 of the daemon under a request: -ENOTCONN, not a hang. */
TEST_F(model_ring, library_enotconn_after_kill)
{
	struct waiter w = { .ret = 1 };
	char buf[64];
	pthread_t t;
	int fuse;

	ASSERT_EQ(gl_ctl_write(&self->d, "models/ctl", "load m %s/legacy.bin"
			       "\n", self->dir), 0);
	ASSERT_EQ(gl_ctl_write(&self->d, "models/m/ctl", "io 256K\n"), 0);
	ASSERT_EQ(gl_model_open(self->g, "m", &w.m), 0);
	fuse = steal_fuse_fd(self->d.pid);
	if (fuse < 0) {
		gl_model_close(w.m);
		SKIP(return, "no copy of the daemon's /dev/fuse: %s",
		     strerror(-fuse));
	}
	ASSERT_EQ(gl_ctl_write(&self->d, "ctl", "model_step_hold 1\n"), 0);
	ASSERT_EQ(pthread_create(&t, NULL, infer_main, &w), 0);
	/* held after its first token */
	ASSERT_EQ(gl_wait_until(made_a_token, &self->d, 60000), 0);
	ASSERT_EQ(kill(self->d.pid, SIGKILL), 0);
	pthread_join(t, NULL);
	EXPECT_EQ(w.ret, -ENOTCONN);
	EXPECT_EQ(gl_model_infer(w.m, "ids 1\n", 6, buf, sizeof(buf)),
		  -ENOTCONN);
	gl_model_close(w.m);
	close(fuse);
	EXPECT_EQ(gl_daemon_stop(&self->d, 0), 128 + SIGKILL);
}

TEST_HARNESS_MAIN
