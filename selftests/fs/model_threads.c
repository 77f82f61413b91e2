// SPDX-License-Identifier: MIT
/*
 * model_threads.c - the load option threads=N: a model loaded with
 * threads=2 or 3 generates exactly the tokens of the same model on one
 * thread, through models/NAME/infer, greedy and sampled, for a prompt
 * of several tokens (a prompt step) and a long decode; threads=0, 17
 * (past LLAMA_MAX_THREADS) and a non-number are EINVAL and leave no
 * model behind; unloading a model with threads stops them (valgrind and
 * the sanitizer builds see a leaked or running thread).
 */
#include <stdbool.h>
#include <stdint.h>

#include "selftests/harness.h"
#include "selftests/fs/model_common.h"

static const char *const args[] = { "--cpu-vram", "64M", NULL };

MODEL_FIXTURE(model_threads, "write_checkpoints.py", "")

TEST_F(model_threads, the_same_tokens_on_any_thread_count)
{
	static const char *const reqs[] = {
		"max_tokens=24 output=ids ids 1 5 9 13 2 7",
		"max_tokens=28 temperature=0.9 top_p=0.8 seed=11 output=ids "
		"ids 3 4",
	};
	const struct gl_daemon *d = &self->d;
	char one[1024], many[1024];
	unsigned int i, t;
	long long v;

	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load m1 %s/legacy.bin "
			       "max_batch=4\n", self->dir), 0);
	for (t = 2; t <= 3; t++) {
		ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load mt %s/legacy.bin "
				       "max_batch=4 threads=%u\n", self->dir,
				       t), 0);
		EXPECT_EQ(gl_read_key(d, "models/mt/ctl", "threads", &v), 0);
		EXPECT_EQ(v, (long long)t);
		for (i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
			ASSERT_GT(model_infer(d, "m1", reqs[i], one,
					      sizeof(one)), 0);
			ASSERT_GT(model_infer(d, "mt", reqs[i], many,
					      sizeof(many)), 0);
			EXPECT_STREQ(one, many) TH_LOG("threads=%u, %s", t,
						       reqs[i]);
		}
		ASSERT_EQ(gl_ctl_write(d, "models/ctl", "unload mt\n"), 0);
	}
	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "unload m1\n"), 0);
}

TEST_F(model_threads, a_bad_count_is_einval)
{
	static const char *const bad[] = { "0", "17", "two", "-1", "" };
	const struct gl_daemon *d = &self->d;
	char buf[GL_TEXT_MAX];
	unsigned int i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		EXPECT_EQ(gl_ctl_write(d, "models/ctl", "load m %s/legacy.bin "
				       "threads=%s\n", self->dir, bad[i]),
			  -EINVAL) TH_LOG("threads=%s", bad[i]);
		EXPECT_GE(gl_read(d, "models/ctl", buf, sizeof(buf)), 0);
		EXPECT_EQ(strncmp(buf, "last_error", 10), 0)
			TH_LOG("threads=%s left: %s", bad[i], buf);
	}
}

TEST_HARNESS_MAIN
