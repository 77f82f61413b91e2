/* SPDX-License-Identifier: MIT */
/*
 * log.c - the log's per-call-site rate limiter: a burst passes, the rest
 * of the window is counted, the count is reported when the next window
 * opens, sites do not share a budget; end to end, a flood of one
 * gl_fail() line costs LOG_RL_BURST lines plus one summary; and the
 * reason lands in the last_error the caller passed, and nowhere else.
 * It links the log and the clock only (Kbuild: unit-log-y): the log
 * calls into no object it logs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/log.h"
#include "selftests/harness.h"

#define SEC 1000000000LL

/* Distinct call sites: the limiter keys on the file's address. */
static const char site_a[] = "a.c", site_b[] = "b.c";

TEST(burst_then_suppressed_then_reported)
{
	unsigned long n = 99;
	int i, ok = 0;

	for (i = 0; i < LOG_RL_BURST + 25; i++) {
		ok += log_ratelimit(site_a, 1, 100 * SEC + i, &n);
		EXPECT_EQ(n, 0ul);
	}
	EXPECT_EQ(ok, LOG_RL_BURST);
	/* still inside the window: held back */
	EXPECT_EQ(log_ratelimit(site_a, 1, 100 * SEC + LOG_RL_INTERVAL_NS - 1,
				&n), 0);
	/* the next window: logged, and the 26 held back are reported */
	EXPECT_EQ(log_ratelimit(site_a, 1, 100 * SEC + LOG_RL_INTERVAL_NS,
				&n), 1);
	EXPECT_EQ(n, 26ul);
	/* and the count starts over */
	EXPECT_EQ(log_ratelimit(site_a, 1, 200 * SEC, &n), 1);
	EXPECT_EQ(n, 0ul);
}

TEST(sites_are_independent)
{
	unsigned long n;
	int i;

	for (i = 0; i < LOG_RL_BURST; i++)
		EXPECT_EQ(log_ratelimit(site_a, 2, 300 * SEC, &n), 1);
	EXPECT_EQ(log_ratelimit(site_a, 2, 300 * SEC, &n), 0);
	/* another line, another file: their own budgets */
	EXPECT_EQ(log_ratelimit(site_a, 3, 300 * SEC, &n), 1);
	EXPECT_EQ(log_ratelimit(site_b, 2, 300 * SEC, &n), 1);
	EXPECT_EQ(n, 0ul);
}

/* Count lines of @f containing @needle. */
static int count_lines(FILE *f, const char *needle, char *last, size_t size)
{
	char line[512];
	int n = 0;

	rewind(f);
	while (fgets(line, sizeof(line), f))
		if (strstr(line, needle)) {
			n++;
			snprintf(last, size, "%s", line);
		}
	return n;
}

/* 300,000 failures from one site, as a rmdir of queued noops makes:
 * LOG_RL_BURST lines, then one summary line at gl_log_close(). */
TEST(flood_costs_burst_plus_summary)
{
	char last[512] = "";
	FILE *f = tmpfile();
	int saved, i;

	ASSERT_NE(f, NULL);
	saved = dup(STDERR_FILENO);
	ASSERT_GE(saved, 0);
	fflush(stderr);
	ASSERT_EQ(dup2(fileno(f), STDERR_FILENO), STDERR_FILENO);
	for (i = 0; i < 300000; i++)
		EXPECT_EQ(gl_fail_name("q", -ECANCELED, "noop %d dropped", i),
			  -ECANCELED);
	gl_log_close();
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	EXPECT_EQ(count_lines(f, "lease q: ECANCELED: noop", last,
			      sizeof(last)), LOG_RL_BURST);
	EXPECT_EQ(count_lines(f, "similar messages suppressed", last,
			      sizeof(last)), 1);
	EXPECT_NE(strstr(last, ": 299990 similar messages suppressed"), NULL)
		TH_LOG("%s", last);
	EXPECT_NE(strstr(last, "selftests/unit/log.c:"), NULL)
		TH_LOG("%s", last);
	fclose(f);
}

/* Run @fn with standard error into a temporary file; returns it. */
static FILE *quietly(void (*fn)(void *), void *arg)
{
	FILE *f = tmpfile();
	int saved;

	if (!f)
		return NULL;
	saved = dup(STDERR_FILENO);
	fflush(stderr);
	dup2(fileno(f), STDERR_FILENO);
	fn(arg);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	return f;
}

static void fail_two(void *arg)
{
	struct gl_last_error *e = arg;

	gl_fail_at("x.c", 7, "a\nb", e, -ENOSPC, "vram %d", 5);
	/* an asked-for name has no last_error: e keeps the first reason */
	gl_fail_at("x.c", 8, "other", NULL, -EINVAL, "bad");
}

TEST(last_error_is_the_callers)
{
	char buf[LOG_LAST_ERROR_LEN], small[8], last[512];
	struct gl_last_error e;
	FILE *f;

	ASSERT_EQ(gl_last_error_init(&e), 0);
	gl_last_error_get(&e, buf, sizeof(buf));
	EXPECT_STREQ(buf, "");
	f = quietly(fail_two, &e);
	ASSERT_NE(f, NULL);
	gl_last_error_get(&e, buf, sizeof(buf));
	EXPECT_STREQ(buf, "ENOSPC: vram 5");
	gl_last_error_get(&e, small, sizeof(small));
	EXPECT_STREQ(small, "ENOSPC:");
	/* the line names the object, made printable */
	EXPECT_EQ(count_lines(f, "x.c:7: lease a?b: ENOSPC: vram 5", last,
			      sizeof(last)), 1);
	EXPECT_EQ(count_lines(f, "x.c:8: lease other: EINVAL: bad", last,
			      sizeof(last)), 1);
	fclose(f);
	gl_last_error_set(&e, "EIO: device 0 failed");
	gl_last_error_get(&e, buf, sizeof(buf));
	EXPECT_STREQ(buf, "EIO: device 0 failed");
	gl_last_error_destroy(&e);
}

TEST_HARNESS_MAIN
