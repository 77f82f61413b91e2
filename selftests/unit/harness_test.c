/* SPDX-License-Identifier: MIT */
/*
 * harness_test.c - the test harness tests itself: it re-runs this program
 * on its deliberately failing "inner" tests and checks the TAP they
 * produce and the exit status: a failed ASSERT is "not ok" and exit 1, a
 * SKIP alone exits 4, a hung test is killed at its timeout, a crash is a
 * failure, teardown runs after a failed ASSERT and after a skipped setup.
 *
 * Invariant: the inner tests never run in a plain invocation (main()
 * excludes them); only the outer tests decide this program's result.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "selftests/harness.h"

#define OUT_MAX 65536

/* Append a word to the file named by $TH_MARK: proves what code ran. */
static void mark(const char *what)
{
	const char *path = getenv("TH_MARK");
	int fd;

	if (!path)
		return;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0600);
	if (fd < 0)
		return;
	if (write(fd, what, strlen(what)) < 0 || write(fd, "\n", 1) < 0)
		perror("mark");
	close(fd);
}

/* The inner tests: each is meant to end exactly as its name says. */

TEST(inner_pass)
{
	EXPECT_EQ(1, 1);
	ASSERT_STREQ("x", "x");
}

TEST(inner_assert_fails)
{
	ASSERT_EQ(1 + 1, 3);
	mark("after-assert");
}

TEST(inner_expect_goes_on)
{
	EXPECT_EQ(-EINVAL, -ENOSPC);
	EXPECT_STREQ("abc", "abd");
	mark("after-expect");
}

TEST(inner_skip)
{
	SKIP(return, "no widget here");
	mark("after-skip");
}

TEST_TIMEOUT(inner_hang, 1)
{
	for (;;)
		pause();
}

/* SIGABRT: sanitizers catch SIGSEGV and exit instead of dying of it */
TEST(inner_crash)
{
	raise(SIGABRT);
}

TEST(inner_exit_nonzero)
{
	_exit(3);
}

FIXTURE(inner_fix) {
	int ready;
};

FIXTURE_SETUP(inner_fix)
{
	mark("setup");
	self->ready = 1;
}

FIXTURE_TEARDOWN(inner_fix)
{
	mark(self->ready ? "teardown" : "teardown-unready");
}

TEST_F(inner_fix, fail_in_body)
{
	ASSERT_EQ(self->ready, 0);
	mark("body-after-assert");
}

FIXTURE(inner_skipfix) {
	int unused;
};

FIXTURE_SETUP(inner_skipfix)
{
	SKIP(return, "setup skips");
}

FIXTURE_TEARDOWN(inner_skipfix)
{
	mark("teardown");
}

TEST_F(inner_skipfix, never_runs)
{
	mark("body");
}

/* The outer tests: run this program on inner tests and read its TAP. */

struct run {
	int status;			/* exit status, or 128 + signal */
	long long ms;			/* wall time */
	char out[OUT_MAX];		/* stdout and stderr */
	char marks[1024];		/* what the inner code marked */
};

static struct run r;

static void run_inner(const char *a1, const char *a2, const char *a3,
		      const char *a4, const char *a5, const char *a6)
{
	char mark_path[] = "/tmp/th-mark.XXXXXX";
	const char *argv[8] = { "/proc/self/exe", a1, a2, a3, a4, a5, a6 };
	struct timespec t0, t1;
	size_t off = 0;
	int pfd[2], fd, st;
	ssize_t n;
	pid_t pid;

	memset(&r, 0, sizeof(r));
	fd = mkstemp(mark_path);
	if (fd >= 0)
		close(fd);
	if (pipe(pfd))
		return;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		dup2(pfd[1], STDOUT_FILENO);
		dup2(pfd[1], STDERR_FILENO);
		close(pfd[0]);
		close(pfd[1]);
		setenv("TH_MARK", mark_path, 1);
		unsetenv("TH_TIMEOUT_MULT");
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(pfd[1]);
	while (off < sizeof(r.out) - 1 &&
	       (n = read(pfd[0], r.out + off, sizeof(r.out) - 1 - off)) > 0)
		off += n;
	close(pfd[0]);
	waitpid(pid, &st, 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	r.ms = (t1.tv_sec - t0.tv_sec) * 1000LL +
	       (t1.tv_nsec - t0.tv_nsec) / 1000000;
	r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	fd = open(mark_path, O_RDONLY);
	if (fd >= 0) {
		n = read(fd, r.marks, sizeof(r.marks) - 1);
		r.marks[n > 0 ? n : 0] = '\0';
		close(fd);
	}
	unlink(mark_path);
}

#define HAS(s)		(strstr(r.out, s) != NULL)
#define EXPECT_OUT(s) \
	EXPECT_TRUE(HAS(s)) TH_LOG("want \"%s\" in:\n%s", s, r.out)

TEST(reports_pass)
{
	run_inner("-t", "inner_pass", NULL, NULL, NULL, NULL);
	EXPECT_EQ(r.status, 0);
	EXPECT_TRUE(!strncmp(r.out, "TAP version 13\n1..1\n", 20));
	EXPECT_OUT("\nok 1 inner_pass\n");
	EXPECT_OUT("# Totals: pass:1 fail:0 xfail:0 xpass:0 skip:0 error:0\n");
}

TEST(reports_assert_failure)
{
	run_inner("-t", "inner_assert_fails", NULL, NULL, NULL, NULL);
	EXPECT_EQ(r.status, 1);
	EXPECT_OUT("\nnot ok 1 inner_assert_fails\n");
	EXPECT_OUT("harness_test.c:");
	EXPECT_OUT(": expected 1 + 1 == 3 (3), got 2\n");
	EXPECT_OUT("# Totals: pass:0 fail:1 xfail:0 xpass:0 skip:0 error:0\n");
	/* ASSERT stops the test. */
	EXPECT_FALSE(strstr(r.marks, "after-assert"));
}

TEST(expect_goes_on)
{
	run_inner("-t", "inner_expect_goes_on", NULL, NULL, NULL, NULL);
	EXPECT_EQ(r.status, 1);
	EXPECT_OUT("\nnot ok 1 inner_expect_goes_on\n");
	EXPECT_OUT("expected -EINVAL == -ENOSPC (-28 (No space left on "
		   "device)), got -22 (Invalid argument)\n");
	EXPECT_OUT("expected \"abc\" == \"abd\" (\"abd\"), got \"abc\"\n");
	EXPECT_TRUE(strstr(r.marks, "after-expect"));
}

TEST(reports_skip)
{
	run_inner("-t", "inner_skip", NULL, NULL, NULL, NULL);
	EXPECT_EQ(r.status, 4);
	EXPECT_OUT("\nok 1 inner_skip # SKIP no widget here\n");
	EXPECT_OUT("# Totals: pass:0 fail:0 xfail:0 xpass:0 skip:1 error:0\n");
	EXPECT_FALSE(strstr(r.marks, "after-skip"));
}

TEST(pass_and_skip_exit_zero)
{
	run_inner("-t", "inner_pass", "-t", "inner_skip", NULL, NULL);
	EXPECT_EQ(r.status, 0);
	EXPECT_OUT("1..2\n");
}

TEST(mixed_counts_and_numbering)
{
	run_inner("-t", "inner_pass", "-t", "inner_assert_fails", "-t",
		  "inner_skip");
	EXPECT_EQ(r.status, 1);
	EXPECT_OUT("1..3\n");
	EXPECT_OUT("\nok 1 inner_pass\n");
	EXPECT_OUT("\nnot ok 2 inner_assert_fails\n");
	EXPECT_OUT("\nok 3 inner_skip # SKIP no widget here\n");
	EXPECT_OUT("# Totals: pass:1 fail:1 xfail:0 xpass:0 skip:1 error:0\n");
}

TEST(timeout_killed)
{
	run_inner("-t", "inner_hang", NULL, NULL, NULL, NULL);
	EXPECT_EQ(r.status, 1);
	EXPECT_OUT("\nnot ok 1 inner_hang\n");
	EXPECT_OUT("timeout after 1 s");
	EXPECT_LT(r.ms, 20000);
}

TEST(crash_is_failure)
{
	run_inner("-t", "inner_crash", NULL, NULL, NULL, NULL);
	EXPECT_EQ(r.status, 1);
	EXPECT_OUT("\nnot ok 1 inner_crash\n");
	EXPECT_OUT("killed by signal 6");
}

TEST(bad_exit_is_failure)
{
	run_inner("-t", "inner_exit_nonzero", NULL, NULL, NULL, NULL);
	EXPECT_EQ(r.status, 1);
	EXPECT_OUT("\nnot ok 1 inner_exit_nonzero\n");
}

TEST(teardown_after_failed_assert)
{
	run_inner("-t", "inner_fix.fail_in_body", NULL, NULL, NULL, NULL);
	EXPECT_EQ(r.status, 1);
	EXPECT_OUT("\nnot ok 1 inner_fix.fail_in_body\n");
	EXPECT_STREQ(r.marks, "setup\nteardown\n");
}

TEST(teardown_after_setup_skip)
{
	run_inner("-t", "inner_skipfix.*", NULL, NULL, NULL, NULL);
	EXPECT_EQ(r.status, 4);
	EXPECT_OUT("\nok 1 inner_skipfix.never_runs # SKIP setup skips\n");
	EXPECT_STREQ(r.marks, "teardown\n");
}

TEST(list_and_exclude)
{
	run_inner("-l", NULL, NULL, NULL, NULL, NULL);
	EXPECT_EQ(r.status, 0);
	EXPECT_OUT("inner_hang\n");
	EXPECT_OUT("inner_fix.fail_in_body\n");
	EXPECT_OUT("reports_pass\n");
	run_inner("-l", "-T", "inner*", NULL, NULL, NULL);
	EXPECT_FALSE(HAS("inner_"));
	EXPECT_OUT("reports_pass\n");
}

TEST(compare_signedness)
{
	size_t one = 1;
	unsigned long long big = ~0ULL;

	EXPECT_GT(one, -1);
	EXPECT_LT(-1, one);
	EXPECT_GT(big, 1);
	EXPECT_NE(big, -1);
	EXPECT_EQ(sizeof(int), 4);
	EXPECT_LE(-5LL, -5);
	EXPECT_GE(0, -1);
	EXPECT_NE(NULL, &r);
	EXPECT_FALSE(0);
	EXPECT_STRNE("a", "b");
}

int main(int argc, char **argv)
{
	char *plain[] = { argv[0], "-T", "inner*", NULL };

	/* A plain run leaves the inner tests out. */
	if (argc == 1)
		return th_run(3, plain);
	return th_run(argc, argv);
}
