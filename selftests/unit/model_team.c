/* SPDX-License-Identifier: MIT */
/*
 * model_team.c - a model's compute threads (daemon/model/team.c): every
 * part of every job runs exactly once, on as many distinct threads as the
 * team has, part 0 on the caller; a job returns the lowest-numbered
 * failing part's error; a NULL team runs the one part on the caller; bad
 * sizes are EINVAL. Many short jobs in a row (as a step hands out) lose
 * none.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "daemon/model/team.h"
#include "selftests/harness.h"

struct job {
	atomic_uint runs[8];		/* per part */
	pthread_t who[8];
	unsigned int parts;
	int fail_from;			/* parts >= this fail; -1: none */
};

static int job_part(void *arg, unsigned int part, unsigned int parts)
{
	struct job *j = arg;

	atomic_fetch_add(&j->runs[part], 1);
	j->who[part] = pthread_self();
	j->parts = parts;
	if (j->fail_from >= 0 && part >= (unsigned int)j->fail_from)
		return -(int)(EIO + part);
	return 0;
}

TEST(parts_run_once_each_on_their_own_threads)
{
	struct team *t;
	struct job j;
	unsigned int n, i, k;

	for (n = 2; n <= 5; n++) {
		ASSERT_EQ(team_new(n, &t), 0);
		EXPECT_EQ(team_threads(t), n);
		for (k = 0; k < 2000; k++) {
			memset(&j, 0, sizeof(j));
			j.fail_from = -1;
			ASSERT_EQ(team_run(t, job_part, &j), 0);
			ASSERT_EQ(j.parts, n);
			for (i = 0; i < n; i++)
				ASSERT_EQ(atomic_load(&j.runs[i]), 1u)
					TH_LOG("%u threads, job %u, part %u",
					       n, k, i);
			EXPECT_TRUE(pthread_equal(j.who[0], pthread_self()));
			for (i = 1; i < n; i++)
				EXPECT_FALSE(pthread_equal(j.who[i],
							   pthread_self()));
		}
		team_free(t);
	}
}

TEST(the_lowest_failing_part_is_the_error)
{
	struct team *t;
	struct job j = { .fail_from = 2 };

	ASSERT_EQ(team_new(4, &t), 0);
	EXPECT_EQ(team_run(t, job_part, &j), -(EIO + 2));
	memset(&j, 0, sizeof(j));
	j.fail_from = 0;
	EXPECT_EQ(team_run(t, job_part, &j), -EIO);
	memset(&j, 0, sizeof(j));
	j.fail_from = -1;
	EXPECT_EQ(team_run(t, job_part, &j), 0);
	team_free(t);
}

TEST(no_team_is_the_caller_alone_and_bad_sizes_are_einval)
{
	struct team *t = (struct team *)&t;
	struct job j = { .fail_from = -1 };

	EXPECT_EQ(team_threads(NULL), 1u);
	EXPECT_EQ(team_run(NULL, job_part, &j), 0);
	EXPECT_EQ(j.parts, 1u);
	EXPECT_EQ(atomic_load(&j.runs[0]), 1u);
	EXPECT_EQ(team_new(1, &t), -EINVAL);
	EXPECT_EQ(t, NULL);
	EXPECT_EQ(team_new(0, &t), -EINVAL);
	EXPECT_EQ(team_new(65, &t), -EINVAL);
	team_free(NULL);
}

TEST_HARNESS_MAIN
