/* SPDX-License-Identifier: MIT */
/*
 * cuda_chain.c - launch chains on the CUDA device, in process against
 * the fake driver (selftests/fakecuda/): a chain whose steps allow it is
 * recorded once into a CUDA graph (one capture, one executable) and each
 * run is one cuGraphLaunch of all its steps; memory that moved (a
 * resize) gets a new graph and the old one is freed; a chain whose steps
 * take run parameters is replayed step by step, with each run's values;
 * freeing the chain frees its graph.
 *
 * Invariant: each test starts its own broker and destroys it.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "daemon/broker.h"
#include "daemon/chain.h"
#include "daemon/lease.h"
#include "selftests/fakecuda/fakecuda.h"
#include "selftests/harness.h"

#define MIB (1ull << 20)

FIXTURE(cc) {
	char path[PATH_MAX];
	void *lib;
	struct fakecuda *fc;
	struct broker b;
	bool up;
};

FIXTURE_SETUP(cc)
{
	struct broker_config cfg = {
		.cpu_vram = 64 * MIB, .default_ttl = 600, .max_ttl = 3600,
		.launch_timeout_ms = 10000, .executors = 2,
	};

	ASSERT_EQ(fakecuda_path(self->path, sizeof(self->path)), 0);
	self->fc = fakecuda_load(self->path, &self->lib);
	if (!self->fc)
		SKIP(return, "fake driver not built: %s", self->path);
	ASSERT_EQ(broker_init(&self->b, &cfg), 0);
	self->up = true;
	ASSERT_STREQ(self->b.devs.devs[0].ops->kind, GL_KIND_CUDA);
}

FIXTURE_TEARDOWN(cc)
{
	if (self->up)
		broker_destroy(&self->b);
	if (self->lib)
		dlclose(self->lib);
}

struct chain_wait {
	atomic_int done;
	int status;
	uint32_t step;
};

static void chain_done(struct launch *la)
{
	struct chain_wait *w = la->ctx;

	w->status = la->status;
	w->step = la->chain->step;
	atomic_store(&w->done, 1);
}

/* One run of @c, waited for: its status; w->step its step. */
static int run_chain(struct chain *c, const uint64_t *params,
		     struct chain_wait *w)
{
	_Atomic uint64_t seq;
	int err;

	atomic_store(&w->done, 0);
	err = chain_submit(c, params, 0, chain_done, w, &seq, false);
	if (err)
		return err;
	while (!atomic_load(&w->done))
		usleep(1000);
	return w->status;
}

static int build(FIXTURE_DATA(cc) *self, struct lease *l, const char *text,
		 struct chain_spec *spec, struct chain **c)
{
	uint32_t bad;
	int err = chain_parse(text, strlen(text), spec);

	if (err)
		return err;
	err = chain_build(&self->b.launcher, l, spec, c, &bad);
	chain_spec_release(spec);
	return err;
}

static const char text[] = "chain\n"
	"fill grid=4 u32:1024 f32:1 buf:0:4K\n"
	"saxpy grid=4 u32:1024 f32:2 buf:0:4K buf:4K:4K\n"
	"noop grid=1\n";

TEST_F(cc, graph_recorded_once_launched_per_run)
{
	struct lease_req req = { .name = "g", .vram = 4 * MIB, .ttl = 600 };
	struct fakecuda *fc = self->fc;
	struct chain_spec spec;
	struct chain_wait w;
	struct chain *c;
	struct lease *l;
	int launches;

	ASSERT_EQ(lease_acquire(&self->b.leases, &req, &l), 0);
	ASSERT_EQ(build(self, l, text, &spec, &c), 0);
	EXPECT_EQ(fc->captures, 0);	/* recorded at the first run */
	launches = fc->launches;
	ASSERT_EQ(run_chain(c, NULL, &w), 0);
	EXPECT_EQ(w.step, 3u);
	EXPECT_EQ(fc->captures, 1);
	EXPECT_EQ(fc->graph_execs, 1);
	EXPECT_EQ(fc->graphs, 0);	/* only the executable is kept */
	EXPECT_EQ(fc->graph_launches, 1);
	EXPECT_EQ(fc->launches - launches, 3);
	EXPECT_STREQ(fc->last.name, "noop");
	ASSERT_EQ(run_chain(c, NULL, &w), 0);
	EXPECT_EQ(fc->captures, 1);
	EXPECT_EQ(fc->graph_launches, 2);
	EXPECT_EQ(fc->launches - launches, 6);
	/* the memory moves: a new graph over the new addresses */
	ASSERT_EQ(lease_resize(l, 8 * MIB), 0);
	ASSERT_EQ(run_chain(c, NULL, &w), 0);
	EXPECT_EQ(fc->captures, 2);
	EXPECT_EQ(fc->graph_execs, 1);
	EXPECT_EQ(fc->graph_launches, 3);
	chain_put(c);
	EXPECT_EQ(fc->graph_execs, 0);
	lease_drop(l, 0, false);
	lease_put(l);
}

static const char two[] = "chain\nnoop grid=1\n"
	"fill grid=4 u32:1024 f32:1 buf:0:4K\n";

/* A step that takes a run parameter: replayed, each run's value used. */
TEST_F(cc, parameters_replay_steps)
{
	struct lease_req req = { .name = "p", .vram = 4 * MIB, .ttl = 600 };
	struct fakecuda *fc = self->fc;
	struct chain_spec spec;
	struct chain_wait w;
	struct chain *c;
	struct lease *l;
	uint32_t bad;
	uint64_t p[1];
	float v = 6.5f, got;
	int launches;

	ASSERT_EQ(lease_acquire(&self->b.leases, &req, &l), 0);
	ASSERT_EQ(chain_parse(two, strlen(two), &spec), 0);
	spec.nparams = 1;
	spec.nrefs = 1;
	spec.refs[0] = (struct gl_chain_ref){ .step = 1, .arg = 1 };
	ASSERT_EQ(chain_build(&self->b.launcher, l, &spec, &c, &bad), 0);
	chain_spec_release(&spec);
	launches = fc->launches;
	memcpy(p, &v, sizeof(v));
	p[0] &= 0xffffffffu;
	ASSERT_EQ(run_chain(c, p, &w), 0);
	EXPECT_EQ(fc->captures, 0);
	EXPECT_EQ(fc->graph_launches, 0);
	EXPECT_EQ(fc->launches - launches, 2);
	EXPECT_STREQ(fc->last.name, "fill");
	memcpy(&got, &fc->last.value[1], sizeof(got));
	EXPECT_EQ(got, v);
	chain_put(c);
	lease_drop(l, 0, false);
	lease_put(l);
}

TEST_HARNESS_MAIN
