// SPDX-License-Identifier: MIT
/*
 * model_restart.c - the Disconnected case: a model client with a retry
 * limit (gl_model_set_retry()) rides out the death of its daemon. The
 * daemon serves model m from a model repository (--models DIR, m.conf
 * with io=), so a restart on the same mount point serves it again; the
 * client reopens the tree and the ring and its request is answered whole
 * and byte for byte as before: after kill -9 (a request blocked on the
 * ring wakes up) and after SIGTERM (a clean stop cancels the request and
 * kills the ring after it unmounted: still ENOTCONN, not ECANCELED), and
 * for a client in a request loop, and for four threads whose requests
 * share one handle. Without a restart, or with a daemon
 * back but without the model, ENOTCONN once the limit passed. A ring
 * that dies while its daemon serves (unload) is no disconnection. The
 * debug knob model_step_hold keeps a request in flight, so each "under
 * a request" is deterministic. Linked with libgpulease.a.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "selftests/harness.h"
#include "selftests/fs/model_common.h"
#include "tools/lib/gpulease.h"

#define REQ		"max_tokens=12 output=ids ids 1 2 3\n"
#define RETRY_MS	120000	/* "for ever": the test's own timeout */

FIXTURE(model_restart) {
	struct gl_daemon d;
	struct gl *g;
	char dir[64];		/* the fixture model */
	char repo[96];		/* the repository: dir/repo */
	char opt[128];		/* --models=REPO */
	const char *args[4];
	char want[1024];	/* REQ's answer */
};

static int ring_ready(void *arg)
{
	FIXTURE_DATA(model_restart) *self = arg;

	return !access(gl_path(&self->d, "models/m/io"), F_OK);
}

FIXTURE_SETUP(model_restart)
{
	char conf[128];
	FILE *f;
	int r;

	self->dir[0] = '\0';
	self->g = NULL;
	r = model_fixture(self->dir, sizeof(self->dir), "--no-ref");
	if (r == 1)
		SKIP(return, "/usr/bin/python3 has no numpy");
	ASSERT_EQ(r, 0);
	snprintf(self->repo, sizeof(self->repo), "%s/repo", self->dir);
	ASSERT_EQ(mkdir(self->repo, 0755), 0);
	snprintf(conf, sizeof(conf), "%s/m.conf", self->repo);
	f = fopen(conf, "w");
	ASSERT_NE(f, NULL);
	fprintf(f, "# model m, its ring too\n%s/legacy.bin\nio=256K\n",
		self->dir);
	ASSERT_EQ(fclose(f), 0);
	snprintf(self->opt, sizeof(self->opt), "--models=%s", self->repo);
	self->args[0] = "--cpu-vram";
	self->args[1] = "64M";
	self->args[2] = self->opt;
	self->args[3] = NULL;
	GL_DAEMON_SETUP(&self->d, self->args);
	ASSERT_EQ(gl_wait_until(ring_ready, self, gl_scale_ms(&self->d,
							     30000)), 0);
	ASSERT_EQ(gl_open(self->d.mnt, &self->g), 0);
	ASSERT_GT(model_infer(&self->d, "m", REQ, self->want,
			      sizeof(self->want)), 0);
}

FIXTURE_TEARDOWN(model_restart)
{
	gl_close(self->g);
	GL_DAEMON_TEARDOWN(&self->d);
	model_fixture_rm(self->dir);
}

/* A client thread: one request, or requests until told to stop. */
struct client {
	struct gl_model *m;
	const char *want;
	bool loop;
	atomic_bool stop;
	atomic_int done;	/* answers as wanted */
	ssize_t ret;		/* the first other return, or the last */
};

static void *client_main(void *arg)
{
	struct client *c = arg;
	char ans[1024];

	do {
		c->ret = gl_model_infer(c->m, REQ, strlen(REQ), ans,
					sizeof(ans) - 1);
		if (c->ret >= 0) {
			ans[c->ret] = '\0';
			if (strcmp(ans, c->want))
				c->ret = -EPROTO;
		}
		if (c->ret < 0)
			break;
		atomic_fetch_add(&c->done, 1);
	} while (c->loop && !atomic_load(&c->stop));
	return NULL;
}

/* The client's request has started (and, held by model_step_hold,
 * stays in flight): "tokens" would not do, the fixture's own request
 * made some before the client's was sent. */
static int request_running(void *arg)
{
	long long v = 0;

	gl_read_key(arg, "models/m/ctl", "running", &v);
	return v > 0;
}

struct count {
	struct client *c;
	int at_least;
};

static int done_reached(void *arg)
{
	struct count *n = arg;

	return atomic_load(&n->c->done) >= n->at_least;
}

/*
 * Kill the daemon with @sig under a request held in its step, restart
 * it, and see the request answered whole on the new one; the client
 * goes on serving after it.
 */
static void restart_under_request(FIXTURE_DATA(model_restart) *self,
				  int sig)
{
	struct client c = { .want = self->want };
	char ans[1024];
	pthread_t t;
	ssize_t n;

	ASSERT_EQ(gl_model_open(self->g, "m", &c.m), 0);
	ASSERT_EQ(gl_model_set_retry(c.m, RETRY_MS), 0);
	ASSERT_EQ(gl_ctl_write(&self->d, "ctl", "model_step_hold 1\n"), 0);
	ASSERT_EQ(pthread_create(&t, NULL, client_main, &c), 0);
	ASSERT_EQ(gl_wait_until(request_running, &self->d, 60000), 0);
	ASSERT_EQ(kill(self->d.pid, sig), 0);
	EXPECT_EQ(gl_daemon_reap(&self->d), sig == SIGKILL ? 128 + sig : 0);
	ASSERT_EQ(gl_daemon_restart(&self->d, self->args), 0);
	pthread_join(t, NULL);
	EXPECT_EQ(c.ret, (ssize_t)strlen(self->want));
	EXPECT_EQ(atomic_load(&c.done), 1);
	/* and on: the new daemon's ring serves the handle */
	n = gl_model_infer(c.m, REQ, strlen(REQ), ans, sizeof(ans) - 1);
	ASSERT_EQ(n, (ssize_t)strlen(self->want));
	ans[n] = '\0';
	EXPECT_STREQ(ans, self->want);
	gl_model_close(c.m);
}

/* kill -9 under a request blocked on the ring: it wakes, reconnects. */
TEST_F_TIMEOUT(model_restart, sigkill_request_retried, 120)
{
	restart_under_request(self, SIGKILL);
}

/* SIGTERM cancels the request and kills the ring, after it unmounted:
 * that too is the daemon gone, and the request is sent again. */
TEST_F_TIMEOUT(model_restart, sigterm_request_retried, 120)
{
	restart_under_request(self, SIGTERM);
}

/* The daemon's tree is gone from its mount point (it unmounted). */
static int unmounted(void *arg)
{
	const struct gl_daemon *d = arg;

	return access(gl_path(d, "ctl"), F_OK) != 0;
}

/*
 * A request that reaches the model's ring while a clean stop has
 * delisted the model but not yet dropped its lease (the debug knob
 * model_retire_delay_ms widens that window, which CI once hit without
 * it) is cancelled by the stop, so the client sees the daemon gone and
 * sends it again to the restarted one: never ENOENT, as for a model
 * unloaded from a serving daemon.
 */
TEST_F_TIMEOUT(model_restart, request_in_the_stop_is_retried, 120)
{
	struct client c = { .want = self->want };
	pthread_t t;

	ASSERT_EQ(gl_model_open(self->g, "m", &c.m), 0);
	ASSERT_EQ(gl_model_set_retry(c.m, RETRY_MS), 0);
	ASSERT_EQ(gl_ctl_write(&self->d, "ctl", "model_retire_delay_ms "
			       "6000\n"), 0);
	ASSERT_EQ(kill(self->d.pid, SIGTERM), 0);
	ASSERT_EQ(gl_wait_until(unmounted, &self->d, 60000), 0);
	usleep(1500 * 1000);	/* past the quiesce, into the delay */
	ASSERT_EQ(pthread_create(&t, NULL, client_main, &c), 0);
	EXPECT_EQ(gl_daemon_reap(&self->d), 0);
	ASSERT_EQ(gl_daemon_restart(&self->d, self->args), 0);
	pthread_join(t, NULL);
	EXPECT_EQ(c.ret, (ssize_t)strlen(self->want));
	EXPECT_EQ(atomic_load(&c.done), 1);
	gl_model_close(c.m);
}

/* A client in a request loop carries on over a kill -9 and a SIGTERM,
 * every answer whole and the same. */
TEST_F_TIMEOUT(model_restart, loop_carries_on, 180)
{
	struct client c = { .want = self->want, .loop = true };
	struct count n = { .c = &c };
	pthread_t t;
	int i, sig[2] = { SIGKILL, SIGTERM };

	ASSERT_EQ(gl_model_open(self->g, "m", &c.m), 0);
	ASSERT_EQ(gl_model_set_retry(c.m, RETRY_MS), 0);
	ASSERT_EQ(pthread_create(&t, NULL, client_main, &c), 0);
	for (i = 0; i < 2; i++) {
		n.at_least = atomic_load(&c.done) + 3;
		ASSERT_EQ(gl_wait_until(done_reached, &n, 60000), 0)
			TH_LOG("%d answers, then %zd", atomic_load(&c.done),
			       c.ret);
		ASSERT_EQ(kill(self->d.pid, sig[i]), 0);
		EXPECT_EQ(gl_daemon_reap(&self->d),
			  sig[i] == SIGKILL ? 128 + SIGKILL : 0);
		ASSERT_EQ(gl_daemon_restart(&self->d, self->args), 0);
	}
	n.at_least = atomic_load(&c.done) + 3;
	EXPECT_EQ(gl_wait_until(done_reached, &n, 60000), 0)
		TH_LOG("%d answers, then %zd", atomic_load(&c.done), c.ret);
	atomic_store(&c.stop, true);
	pthread_join(t, NULL);
	EXPECT_EQ(c.ret, (ssize_t)strlen(self->want));
	gl_model_close(c.m);
}

#define NCLIENTS	4

struct started {
	const struct gl_daemon *d;
	long long want;
};

/* models/m/stats' requests reached s->want: all are in the daemon. */
static int requests_in(void *arg)
{
	struct started *s = arg;
	long long v = 0;

	gl_read_key(s->d, "models/m/stats", "requests", &v);
	return v >= s->want;
}

/*
 * Four threads on ONE handle of four slots (gl_model_set_slots()), their
 * requests in the daemon together (one held in its step, the others
 * queued) when it is killed: the first to find the daemon gone reopens
 * the ring, the others send theirs again on the new one, and each gets
 * its answer whole.
 */
TEST_F_TIMEOUT(model_restart, threads_on_one_handle_retried, 120)
{
	struct client c[NCLIENTS];
	struct started s = { .d = &self->d };
	struct gl_model *m;
	pthread_t t[NCLIENTS];
	int i;

	ASSERT_EQ(gl_model_open(self->g, "m", &m), 0);
	ASSERT_EQ(gl_model_set_retry(m, RETRY_MS), 0);
	ASSERT_EQ(gl_model_set_slots(m, NCLIENTS), 0);
	ASSERT_EQ(gl_read_key(&self->d, "models/m/stats", "requests",
			      &s.want), 0);
	s.want += NCLIENTS;
	ASSERT_EQ(gl_ctl_write(&self->d, "ctl", "model_step_hold 1\n"), 0);
	for (i = 0; i < NCLIENTS; i++) {
		c[i] = (struct client){ .m = m, .want = self->want };
		ASSERT_EQ(pthread_create(&t[i], NULL, client_main, &c[i]), 0);
	}
	ASSERT_EQ(gl_wait_until(requests_in, &s, 60000), 0);
	ASSERT_EQ(kill(self->d.pid, SIGKILL), 0);
	EXPECT_EQ(gl_daemon_reap(&self->d), 128 + SIGKILL);
	ASSERT_EQ(gl_daemon_restart(&self->d, self->args), 0);
	for (i = 0; i < NCLIENTS; i++) {
		pthread_join(t[i], NULL);
		EXPECT_EQ(c[i].ret, (ssize_t)strlen(self->want))
			TH_LOG("client %d: %zd", i, c[i].ret);
		EXPECT_EQ(atomic_load(&c[i].done), 1);
	}
	gl_model_close(m);
}

/* No daemon comes back: ENOTCONN, not before the limit. */
TEST_F(model_restart, limit_passes_without_daemon)
{
	struct gl_model *m;
	char ans[1024];
	long long t0;

	ASSERT_EQ(gl_model_open(self->g, "m", &m), 0);
	ASSERT_EQ(kill(self->d.pid, SIGKILL), 0);
	EXPECT_EQ(gl_daemon_reap(&self->d), 128 + SIGKILL);
	/* without a limit (the default): ENOTCONN once the wait finds out */
	EXPECT_EQ(gl_model_infer(m, REQ, strlen(REQ), ans, sizeof(ans)),
		  -ENOTCONN);
	/* the handle knows now; with a limit it waits that long first */
	ASSERT_EQ(gl_model_set_retry(m, 300), 0);
	t0 = gl_now_ms();
	EXPECT_EQ(gl_model_infer(m, REQ, strlen(REQ), ans, sizeof(ans)),
		  -ENOTCONN);
	EXPECT_GE(gl_now_ms() - t0, 300);
	EXPECT_EQ(gl_model_set_retry(NULL, 1), -EINVAL);
	gl_model_close(m);
	/* the fixture's teardown wants a daemon to stop */
	ASSERT_EQ(gl_daemon_restart(&self->d, self->args), 0);
}

/* A daemon back without the model (no repository): ENOTCONN once the
 * limit passed, and the handle works once the model is loaded. */
TEST_F(model_restart, limit_passes_without_model)
{
	static const char *const bare[] = { "--cpu-vram", "64M", NULL };
	struct gl_model *m;
	char ans[1024];
	long long t0;
	ssize_t n;

	ASSERT_EQ(gl_model_open(self->g, "m", &m), 0);
	ASSERT_EQ(gl_model_set_retry(m, 300), 0);
	ASSERT_EQ(kill(self->d.pid, SIGTERM), 0);
	EXPECT_EQ(gl_daemon_reap(&self->d), 0);
	ASSERT_EQ(gl_daemon_restart(&self->d, bare), 0);
	t0 = gl_now_ms();
	EXPECT_EQ(gl_model_infer(m, REQ, strlen(REQ), ans, sizeof(ans)),
		  -ENOTCONN);
	EXPECT_GE(gl_now_ms() - t0, 300);
	ASSERT_EQ(gl_ctl_write(&self->d, "models/ctl", "load m %s/legacy.bin"
			       "\n", self->dir), 0);
	ASSERT_EQ(gl_ctl_write(&self->d, "models/m/ctl", "io 256K\n"), 0);
	n = gl_model_infer(m, REQ, strlen(REQ), ans, sizeof(ans) - 1);
	ASSERT_EQ(n, (ssize_t)strlen(self->want));
	ans[n] = '\0';
	EXPECT_STREQ(ans, self->want);
	gl_model_close(m);
}

/* A ring that dies while its daemon serves is no disconnection: an
 * unload under a held request is ECANCELED, retry or not, at once. */
TEST_F(model_restart, unload_is_not_retried)
{
	struct client c = { .want = self->want };
	pthread_t t;

	ASSERT_EQ(gl_model_open(self->g, "m", &c.m), 0);
	ASSERT_EQ(gl_model_set_retry(c.m, RETRY_MS), 0);
	ASSERT_EQ(gl_ctl_write(&self->d, "ctl", "model_step_hold 1\n"), 0);
	ASSERT_EQ(pthread_create(&t, NULL, client_main, &c), 0);
	ASSERT_EQ(gl_wait_until(request_running, &self->d, 60000), 0);
	ASSERT_EQ(gl_ctl_write(&self->d, "models/ctl", "unload m\n"), 0);
	pthread_join(t, NULL);
	EXPECT_EQ(c.ret, -ECANCELED);
	EXPECT_EQ(gl_ctl_write(&self->d, "ctl", "model_step_hold 0\n"), 0);
	gl_model_close(c.m);
}

struct parts {
	struct gl_daemon *d;
	int calls;
};

/* The first part lets the daemon go on no more: it is killed. */
static int on_part(void *arg, const void *buf, size_t n)
{
	struct parts *p = arg;

	(void)buf;
	(void)n;
	if (!p->calls++)
		kill(p->d->pid, SIGKILL);
	return 0;
}

/* Half an answer streamed cannot be taken back: ENOTCONN, no second
 * try; the next request reconnects. */
TEST_F_TIMEOUT(model_restart, stream_cut_not_resent, 120)
{
	struct parts p = { .d = &self->d };
	struct gl_model *m;
	char ans[1024];
	ssize_t n;

	ASSERT_EQ(gl_model_open(self->g, "m", &m), 0);
	ASSERT_EQ(gl_model_set_retry(m, RETRY_MS), 0);
	ASSERT_EQ(gl_ctl_write(&self->d, "ctl", "model_step_hold 1\n"), 0);
	EXPECT_EQ(gl_model_stream(m, REQ, strlen(REQ), on_part, &p),
		  -ENOTCONN);
	EXPECT_EQ(p.calls, 1);
	EXPECT_EQ(gl_daemon_reap(&self->d), 128 + SIGKILL);
	ASSERT_EQ(gl_daemon_restart(&self->d, self->args), 0);
	n = gl_model_infer(m, REQ, strlen(REQ), ans, sizeof(ans) - 1);
	ASSERT_EQ(n, (ssize_t)strlen(self->want));
	ans[n] = '\0';
	EXPECT_STREQ(ans, self->want);
	gl_model_close(m);
}

TEST_HARNESS_MAIN
