// SPDX-License-Identifier: MIT
/*
 * model_batch.c - batching (Documentation/models.md, "Batching"): 16
 * concurrent prompts of different lengths to a language model with
 * max_batch=16 run in shared steps and each gets exactly the tokens it
 * gets alone (greedy and sampled), a closed one stops alone; an mlp's
 * concurrent requests are combined into one pass (max_delay_us) and each
 * gets exactly the rows it gets alone, and a reader that takes its whole
 * answer and closes at once did not fail; max_queue bounds the queue (EBUSY
 * at once, counted); an expiry ends every request, queued ones too; the
 * options read back in ctl and bad values are
 * EINVAL naming the option; clients waiting on answers, more than
 * libfuse's default 10 workers, do not stall the mount; the queue-time and batch-size histograms in
 * /gpu/metrics. The debug knob model_step_hold holds the running step,
 * so "concurrent" is deterministic: every request written meanwhile
 * waits in the queue and joins the next step together.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <unistd.h>

#include "selftests/harness.h"
#include "selftests/fs/model_common.h"
#include "uapi/model.h"

static const char *const args[] = { "--cpu-vram", "64M", NULL };

FIXTURE(model_batch) {
	struct gl_daemon d;
	char dir[64];
	char mlp[64];
};

FIXTURE_SETUP(model_batch)
{
	int r;

	self->dir[0] = self->mlp[0] = '\0';
	GL_DAEMON_SETUP(&self->d, args);
	r = model_fixture(self->dir, sizeof(self->dir), "");
	if (r == 1)
		SKIP(return, "/usr/bin/python3 has no numpy");
	ASSERT_EQ(r, 0);
	ASSERT_EQ(model_fixture_by(self->mlp, sizeof(self->mlp),
				   "write_mlp.py", ""), 0);
}

FIXTURE_TEARDOWN(model_batch)
{
	model_fixture_rm(self->dir);
	model_fixture_rm(self->mlp);
	GL_DAEMON_TEARDOWN(&self->d);
}

#define NREQ 16
#define ANS 4096

/* Open models/@name/infer and write @len bytes of @req: the fd or
 * -errno. */
static int req_open(const struct gl_daemon *d, const char *name,
		    const void *req, size_t len)
{
	int fd = open(gl_path(d, "models/%s/infer", name), O_RDWR);

	if (fd < 0)
		return -errno;
	if (write(fd, req, len) != (ssize_t)len) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* Read @fd's answer to its end into @out (NUL-terminated), close it:
 * the length or the read's -errno. */
static int req_finish(int fd, char *out, size_t size)
{
	size_t got = 0;
	ssize_t n = 0;

	while (got + 1 < size && (n = read(fd, out + got,
					   size - 1 - got)) > 0)
		got += (size_t)n;
	out[got] = '\0';
	close(fd);
	return n < 0 ? -errno : (int)got;
}

/* Request @i: a prompt of i + 1 ids, greedy for even i, sampled with
 * its own seed for odd i. */
static void lm_req(char *buf, size_t size, int i)
{
	int len, j;

	len = snprintf(buf, size, "max_tokens=%d ", 8 + i % 5);
	if (i % 2)
		len += snprintf(buf + len, size - len, "temperature=0.9 "
				"top_p=0.9 seed=%d ", 100 + i);
	len += snprintf(buf + len, size - len, "output=ids ids 1");
	for (j = 0; j < i; j++)
		len += snprintf(buf + len, size - len, " %d",
				3 + (i * 7 + j * 13) % 90);
	snprintf(buf + len, size - len, "\n");
}

/*
 * hold_one - set model_step_hold 1 and open a request on @name that has
 * made its first token (read here): the step after holds it, and every
 * request after it waits. Its fd, or -errno.
 */
static int hold_one(const struct gl_daemon *d, const char *name)
{
	static const char req[] = "max_tokens=20 output=ids ids 1 2 3\n";
	char first[64];
	int fd, err;

	err = gl_ctl_write(d, "ctl", "model_step_hold 1\n");
	if (err)
		return err;
	fd = req_open(d, name, req, sizeof(req) - 1);
	if (fd < 0)
		return fd;
	if (read(fd, first, sizeof(first) - 1) <= 0) {
		close(fd);
		return -EIO;
	}
	return fd;
}

static long long key(const struct gl_daemon *d, const char *file,
		     const char *k)
{
	long long v = -1;

	if (gl_read_key(d, file, k, &v))
		return -1;
	return v;
}

static int n_idle(void *arg)
{
	return key(arg, "models/n/ctl", "running") == 0;
}

static int none_running(void *arg)
{
	return key(arg, "models/m/ctl", "running") == 0;
}

TEST_F(model_batch, sixteen_prompts_answer_as_alone)
{
	const struct gl_daemon *d = &self->d;
	static char alone[NREQ][ANS], got[ANS];
	char req[NREQ][512];
	int fd[NREQ], held, closed, i;
	long long steps, rows;

	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load m %s/legacy.bin "
			       "max_batch=16\n", self->dir), 0);
	for (i = 0; i < NREQ; i++) {
		lm_req(req[i], sizeof(req[i]), i);
		ASSERT_GT(model_infer(d, "m", req[i], alone[i], ANS), 0)
			TH_LOG("%s", req[i]);
	}
	/* one held after its first token; 16 queue behind its step, and
	 * one more that its opener closes before it runs */
	held = hold_one(d, "m");
	ASSERT_GE(held, 0);
	for (i = 0; i < NREQ; i++) {
		fd[i] = req_open(d, "m", req[i], strlen(req[i]));
		ASSERT_GE(fd[i], 0);
	}
	closed = req_open(d, "m", req[0], strlen(req[0]));
	ASSERT_GE(closed, 0);
	close(closed);
	EXPECT_EQ(key(d, "models/m/ctl", "queued"), NREQ + 1);
	steps = key(d, "models/m/stats", "steps");
	ASSERT_EQ(gl_ctl_write(d, "ctl", "model_step_hold 0\n"), 0);
	for (i = 0; i < NREQ; i++) {
		EXPECT_GT(req_finish(fd[i], got, sizeof(got)), 0);
		EXPECT_STREQ(got, alone[i]) TH_LOG("request %d: %s", i,
						   req[i]);
	}
	EXPECT_GT(req_finish(held, got, sizeof(got)), 0);
	/* the 16 prompts (136 ids) and their 152 tokens took far fewer
	 * steps than one row each: they shared steps */
	EXPECT_LT(key(d, "models/m/stats", "steps") - steps, 60);
	rows = key(d, "models/m/stats", "batch_rows");
	EXPECT_GT(rows, 0);
	/* the closed one ends too (ECANCELED once the daemon hears of the
	 * close, which FUSE tells asynchronously), nothing else failed */
	EXPECT_EQ(gl_wait_until(none_running, (void *)d, 60000), 0);
	EXPECT_EQ(key(d, "models/m/ctl", "queued"), 0);
	EXPECT_LE(key(d, "models/m/stats", "failures"), 1);
}

/* a client blocked in read() on its request's answer */
struct waiter {
	pthread_t thread;
	int fd;
	atomic_int *started;
	char out[ANS];
	int ret;
};

static void *wait_answer(void *arg)
{
	struct waiter *w = arg;

	atomic_fetch_add(w->started, 1);
	w->ret = req_finish(w->fd, w->out, sizeof(w->out));
	return NULL;
}

struct maker {
	const struct gl_daemon *d;
	pthread_t thread;
	atomic_int done;
	int err;
};

static void *make_lease(void *arg)
{
	struct maker *k = arg;

	k->err = lease_create(k->d, "t");
	atomic_store(&k->done, 1);
	return NULL;
}

/*
 * More clients wait in read() for their answers (each holding one of the
 * daemon's FUSE worker threads) than libfuse's default of 10 workers,
 * while a held step keeps them all waiting: the mount still serves
 * everyone else, a lease's mkdir within 10 s. With libfuse's default,
 * the mkdir waited in the kernel's queue until the hold ended.
 */
TEST_F(model_batch, waiting_readers_do_not_stall_the_mount)
{
	const struct gl_daemon *d = &self->d;
	static struct waiter w[NREQ];
	struct maker k = { .d = d };
	atomic_int started = 0;
	char buf[ANS];
	int held, i, ms;

	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load m %s/legacy.bin "
			       "max_batch=16\n", self->dir), 0);
	held = hold_one(d, "m");
	ASSERT_GE(held, 0);
	for (i = 0; i < NREQ; i++) {
		w[i].fd = req_open(d, "m", "max_tokens=4 output=ids ids 1 5\n",
				   32);
		ASSERT_GE(w[i].fd, 0);
		w[i].started = &started;
		ASSERT_EQ(pthread_create(&w[i].thread, NULL, wait_answer,
					 &w[i]), 0);
	}
	while (atomic_load(&started) < NREQ)
		usleep(1000);
	usleep(300000);	/* their reads reach the daemon and wait there */
	EXPECT_EQ(key(d, "models/m/ctl", "queued"), NREQ);
	ASSERT_EQ(pthread_create(&k.thread, NULL, make_lease, &k), 0);
	for (ms = 0; ms < 10000 && !atomic_load(&k.done); ms += 10)
		usleep(10000);
	EXPECT_EQ(atomic_load(&k.done), 1)
		TH_LOG("a lease's mkdir waited behind %d readers", NREQ);
	ASSERT_EQ(gl_ctl_write(d, "ctl", "model_step_hold 0\n"), 0);
	for (i = 0; i < NREQ; i++) {
		pthread_join(w[i].thread, NULL);
		EXPECT_GT(w[i].ret, 0) TH_LOG("request %d: %d", i, w[i].ret);
	}
	EXPECT_GT(req_finish(held, buf, sizeof(buf)), 0);
	pthread_join(k.thread, NULL);
	EXPECT_EQ(k.err, 0);
	EXPECT_EQ(lease_remove(d, "t"), 0);
}

/* max_batch 1, max_queue 1: one running, one waiting, the third EBUSY
 * at once; the waiting one then runs whole. */
TEST_F(model_batch, full_queue_is_ebusy)
{
	const struct gl_daemon *d = &self->d;
	char buf[ANS], want[ANS];
	int held, waiting;

	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load m %s/legacy.bin "
			       "max_queue=1\n", self->dir), 0);
	EXPECT_EQ(key(d, "models/m/ctl", "max_queue"), 1);
	ASSERT_GT(model_infer(d, "m", "max_tokens=4 output=ids ids 1 5\n",
			      want, sizeof(want)), 0);
	held = hold_one(d, "m");
	ASSERT_GE(held, 0);
	waiting = req_open(d, "m", "max_tokens=4 output=ids ids 1 5\n", 32);
	ASSERT_GE(waiting, 0);
	EXPECT_EQ(key(d, "models/m/ctl", "queued"), 1);
	EXPECT_EQ(model_infer(d, "m", "ids 1\n", buf, sizeof(buf)), -EBUSY);
	EXPECT_EQ(key(d, "models/m/stats", "failures"), 1);
	ASSERT_EQ(gl_read(d, "models/m/ctl", buf, sizeof(buf)) > 0, true);
	EXPECT_NE(strstr(buf, "EBUSY"), NULL) TH_LOG("%s", buf);
	ASSERT_EQ(gl_ctl_write(d, "ctl", "model_step_hold 0\n"), 0);
	EXPECT_GT(req_finish(held, buf, sizeof(buf)), 0);
	EXPECT_GT(req_finish(waiting, buf, sizeof(buf)), 0);
	EXPECT_STREQ(buf, want);
	EXPECT_EQ(key(d, "models/m/stats", "failures"), 1);
}

/* An expiry under a running batch ends every request of the model with
 * EKEYEXPIRED: the one in the step and the one queued behind it, which
 * max_batch 1 keeps out of the step. */
TEST_F(model_batch, expiry_ends_every_request)
{
	const struct gl_daemon *d = &self->d;
	char buf[ANS];
	int held, queued;

	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load m %s/legacy.bin "
			       "ttl=60\n", self->dir), 0);
	held = hold_one(d, "m");
	ASSERT_GE(held, 0);
	queued = req_open(d, "m", "max_tokens=4 output=ids ids 1 5\n", 32);
	ASSERT_GE(queued, 0);
	EXPECT_EQ(key(d, "models/m/ctl", "queued"), 1);
	ASSERT_EQ(gl_ctl_write(d, "ctl", "clock_offset 120\n"), 0);
	EXPECT_EQ(req_finish(held, buf, sizeof(buf)), -EKEYEXPIRED);
	EXPECT_EQ(req_finish(queued, buf, sizeof(buf)), -EKEYEXPIRED);
	ASSERT_EQ(gl_ctl_write(d, "ctl", "model_step_hold 0\n"), 0);
	EXPECT_EQ(model_infer(d, "m", "ids 1\n", buf, sizeof(buf)),
		  -EKEYEXPIRED);
	EXPECT_EQ(key(d, "models/m/ctl", "running"), 0);
}

TEST_F(model_batch, options_read_back_and_bad_values)
{
	const struct gl_daemon *d = &self->d;
	static const char *const bad[] = {
		"max_queue=-1", "max_queue=4097", "max_queue=x",
		"max_queue=", "max_delay_us=10000001", "max_delay_us=1e3",
	};
	char buf[GL_TEXT_MAX];
	unsigned i;

	/* the defaults */
	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load m %s/legacy.bin\n",
			       self->dir), 0);
	EXPECT_EQ(key(d, "models/m/ctl", "max_queue"), 64);
	EXPECT_EQ(key(d, "models/m/ctl", "queued"), 0);
	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load n %s\n", self->mlp),
		  0);
	EXPECT_EQ(key(d, "models/n/ctl", "max_queue"), 64);
	EXPECT_EQ(key(d, "models/n/ctl", "max_delay_us"), 0);
	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "unload n\n"), 0);
	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "unload m\n"), 0);
	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load n %s max_batch=4 "
			       "max_queue=0 max_delay_us=10000000\n",
			       self->mlp), 0);
	EXPECT_EQ(key(d, "models/n/ctl", "max_queue"), 0);
	EXPECT_EQ(key(d, "models/n/ctl", "max_delay_us"), 10000000);
	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load m %s/legacy.bin "
			       "max_queue=4096\n", self->dir), 0);
	EXPECT_EQ(key(d, "models/m/ctl", "max_queue"), 4096);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		EXPECT_EQ(gl_ctl_write(d, "models/ctl", "load x %s %s\n",
				       self->mlp, bad[i]), -EINVAL)
			TH_LOG("%s", bad[i]);
		ASSERT_GT(gl_read(d, "models/ctl", buf, sizeof(buf)), 0);
		EXPECT_NE(strstr(buf, bad[i]), NULL) TH_LOG("%s", buf);
	}
	/* a language model batches between steps: no delay to wait */
	EXPECT_EQ(gl_ctl_write(d, "models/ctl", "load x %s/legacy.bin "
			       "max_delay_us=100\n", self->dir), -EINVAL);
	ASSERT_GT(gl_read(d, "models/ctl", buf, sizeof(buf)), 0);
	EXPECT_NE(strstr(buf, "max_delay_us"), NULL) TH_LOG("%s", buf);
	EXPECT_EQ(gl_count_leases(d), 2);
}

#define IN 13
#define OUT 3
#define MROWS 2
#define MREQ 4

struct mreq {
	struct gl_infer_tensor h;
	float x[MROWS][IN];
};

struct mans {
	struct gl_infer_tensor h;
	float y[MROWS][OUT];
};

/* A metrics line's value, or -1. */
static double metric(const struct gl_daemon *d, const char *series)
{
	static char buf[1 << 16];
	const char *p;

	if (gl_read(d, "metrics", buf, sizeof(buf)) <= 0)
		return -1;
	p = strstr(buf, series);
	return p ? strtod(p + strlen(series), NULL) : -1;
}

/*
 * Four requests of 2 rows to an mlp of max_batch 8 and a long delay: the
 * pass waits for company until its 8 rows are there, runs once, and each
 * request gets the bits it gets alone (from a model without batching);
 * the histograms saw one pass of 8 rows and four queue times.
 */
TEST_F(model_batch, mlp_requests_share_one_pass)
{
	const struct gl_daemon *d = &self->d;
	struct mreq r[MREQ];
	struct mans alone[MREQ], got;
	struct blob in;
	int fd[MREQ], i, j;

	ASSERT_EQ(slurp(self->mlp, "input.bin", &in), 0);
	ASSERT_GE(in.len, sizeof(float) * 7 * IN);
	for (i = 0; i < MREQ; i++) {
		r[i].h = (struct gl_infer_tensor){
			.magic = GL_INFER_MAGIC, .dtype = GL_INFER_F32,
			.rows = MROWS, .cols = IN,
		};
		for (j = 0; j < MROWS; j++)
			memcpy(r[i].x[j], (float *)in.p +
			       ((i * MROWS + j) % 7) * IN, sizeof(r[i].x[j]));
		r[i].x[1][i] += 0.25f;	/* each request its own rows */
	}
	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load one %s max_batch=2\n",
			       self->mlp), 0);
	for (i = 0; i < MREQ; i++)
		ASSERT_EQ(model_infer_raw(d, "one", &r[i], sizeof(r[i]),
					  &alone[i], sizeof(alone[i])),
			  (int)sizeof(alone[i]));
	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load n %s max_batch=8 "
			       "max_delay_us=10000000\n", self->mlp), 0);
	for (i = 0; i < MREQ; i++) {
		fd[i] = req_open(d, "n", &r[i], sizeof(r[i]));
		ASSERT_GE(fd[i], 0);
	}
	for (i = 0; i < MREQ; i++) {
		memset(&got, 0, sizeof(got));
		EXPECT_EQ(read(fd[i], &got, sizeof(got)), (ssize_t)sizeof(got));
		close(fd[i]);
		EXPECT_EQ(memcmp(&got, &alone[i], sizeof(got)), 0)
			TH_LOG("request %d", i);
	}
	EXPECT_EQ(key(d, "models/n/stats", "steps"), 1);
	EXPECT_EQ(key(d, "models/n/stats", "batch_rows"), 8);
	/* a reader that took its whole answer and closed at once did not
	 * fail its request, whichever of it and the step's end came first */
	EXPECT_EQ(key(d, "models/n/stats", "failures"), 0);
	EXPECT_EQ(key(d, "models/one/stats", "failures"), 0);
	EXPECT_EQ(key(d, "models/n/stats", "queue_count"), MREQ);
	EXPECT_EQ(metric(d, "gpulease_inference_batch_size_bucket"
			 "{model=\"n\",le=\"4\"} "), 0);
	EXPECT_EQ(metric(d, "gpulease_inference_batch_size_bucket"
			 "{model=\"n\",le=\"8\"} "), 1);
	EXPECT_EQ(metric(d, "gpulease_inference_batch_size_sum"
			 "{model=\"n\"} "), 8);
	EXPECT_EQ(metric(d, "gpulease_inference_queue_seconds_count"
			 "{model=\"n\"} "), MREQ);
	EXPECT_EQ(metric(d, "gpulease_inference_batch_size_count"
			 "{model=\"one\"} "), MREQ);
	free(in.p);
}

/*
 * A reader that takes its whole answer and closes while the step that
 * made it is still running (model_step_hold 2 holds an mlp step once
 * its answers are out) did not fail: no failure counted, no ECANCELED in
 * ctl. FUSE tells the daemon of the close asynchronously, hence the
 * pause before the step goes on.
 */
TEST_F(model_batch, whole_answer_then_close_is_no_failure)
{
	const struct gl_daemon *d = &self->d;
	struct mreq r = {
		.h = { .magic = GL_INFER_MAGIC, .dtype = GL_INFER_F32,
		       .rows = MROWS, .cols = IN },
	};
	struct mans got;
	char buf[GL_TEXT_MAX];
	int fd;

	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load n %s max_batch=2\n",
			       self->mlp), 0);
	EXPECT_EQ(gl_ctl_write(d, "ctl", "model_step_hold 3\n"), -EINVAL);
	ASSERT_EQ(gl_ctl_write(d, "ctl", "model_step_hold 2\n"), 0);
	fd = req_open(d, "n", &r, sizeof(r));
	ASSERT_GE(fd, 0);
	EXPECT_EQ(read(fd, &got, sizeof(got)), (ssize_t)sizeof(got));
	EXPECT_EQ(key(d, "models/n/ctl", "running"), 1);
	close(fd);
	usleep(200 * 1000);
	ASSERT_EQ(gl_ctl_write(d, "ctl", "model_step_hold 0\n"), 0);
	EXPECT_EQ(gl_wait_until(n_idle, (void *)d, 60000), 0);
	EXPECT_EQ(key(d, "models/n/stats", "requests"), 1);
	EXPECT_EQ(key(d, "models/n/stats", "failures"), 0);
	ASSERT_GT(gl_read(d, "models/n/ctl", buf, sizeof(buf)), 0);
	EXPECT_EQ(strstr(buf, "ECANCELED"), NULL) TH_LOG("%s", buf);
}

TEST_HARNESS_MAIN
