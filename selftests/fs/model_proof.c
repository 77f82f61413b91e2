// SPDX-License-Identifier: MIT
/*
 * model_proof.c - the Llama proof through the daemon: the stories15M-shape
 * model of selftests/fixtures/write_proof.py (seeded random weights, tied,
 * 6 kv heads) loaded through models/ctl as its llama2.c file and as its
 * HF directory (the same weights, q and k permuted, rotate-half RoPE)
 * generates through models/NAME/infer (output=ids) the 64 greedy tokens
 * of the numpy Llama in f64 from the same prompt, both files the same
 * tokens. The logits themselves are unit/model_proof's.
 *
 * run_tests: no-background no-valgrind (its subject is the arithmetic; a
 * step at this shape takes about 4 s under valgrind)
 */
#include <stdint.h>

#include "selftests/harness.h"
#include "selftests/fs/model_common.h"

/* two stories15M-shape models of 65 MB each at once */
static const char *const args[] = { "--cpu-vram", "256M", NULL };

#define STEPS		64

MODEL_FIXTURE(model_proof, "write_proof.py", "--only tied")

/*
 * The request of reference @name (write_proof.py's format: u32 vocab,
 * n_prompt, steps, then the prompt and the tokens) into @req, its tokens
 * into @want, asking for the first @steps. 0, or -1 for a file not of
 * STEPS tokens.
 */
static int ref_request(const char *dir, const char *name, char *req,
		       size_t size, unsigned *want, unsigned steps)
{
	uint32_t h[3], t;
	struct blob b;
	int len, ret = -1;
	unsigned i;

	if (slurp(dir, name, &b))
		return -1;
	if (b.len < sizeof(h))
		goto out;
	memcpy(h, b.p, sizeof(h));
	if (h[2] != STEPS || b.len < sizeof(h) + 4ull * (h[1] + h[2]))
		goto out;
	len = snprintf(req, size, "max_tokens=%u output=ids ids", steps);
	for (i = 0; i < h[1] + h[2]; i++) {
		memcpy(&t, b.p + sizeof(h) + 4 * i, 4);
		if (i < h[1])
			len += snprintf(req + len, size - len, " %u", t);
		else
			want[i - h[1]] = t;
	}
	snprintf(req + len, size - len, "\n");
	ret = 0;
out:
	free(b.p);
	return ret;
}

TEST_F_TIMEOUT(model_proof, llama2c_and_hf_generate_numpys_tokens, 300)
{
	const struct gl_daemon *d = &self->d;
	unsigned want[STEPS], want_hf[STEPS], got[STEPS + 1];
	char tied[128], req[512], out[2048];
	static const char *const names[] = { "l", "h" };
	unsigned i, steps = STEPS;

	snprintf(tied, sizeof(tied), "%s/tied", self->dir);
	ASSERT_EQ(ref_request(tied, "ref-l2c.bin", req, sizeof(req), want,
			      steps), 0);
	ASSERT_EQ(ref_request(tied, "ref-hf.bin", out, sizeof(out), want_hf,
			      steps), 0);
	/* numpy's two conventions over the two layouts agree */
	ASSERT_EQ(memcmp(want, want_hf, sizeof(want)), 0);
	/* a step is a launch: no watchdog on a slow, loaded machine */
	ASSERT_EQ(gl_ctl_write(d, "ctl", "launch_timeout_ms 3600000\n"), 0);
	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load l %s/legacy.bin\n",
			       tied), 0);
	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load h %s/hf\n", tied), 0);
	for (i = 0; i < 2; i++) {
		int n;

		ASSERT_GT(model_infer(d, names[i], req, out, sizeof(out)), 0);
		n = model_ids(out, got, STEPS + 1);
		EXPECT_EQ(n, (int)steps) TH_LOG("%s: %s", names[i], out);
		EXPECT_EQ(memcmp(got, want, steps * sizeof(*want)), 0)
			TH_LOG("%s: %s", names[i], out);
	}
	EXPECT_EQ(gl_ctl_write(d, "models/ctl", "unload l\n"), 0);
	EXPECT_EQ(gl_ctl_write(d, "models/ctl", "unload h\n"), 0);
	EXPECT_EQ(gl_count_leases(d), 0);
}

TEST_HARNESS_MAIN
