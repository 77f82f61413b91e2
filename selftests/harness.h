/* SPDX-License-Identifier: MIT */
/*
 * harness.h - a kselftest-style test harness with TAP 13 output.
 *
 * Each test runs in its own forked child, in its own process group, with a
 * fresh zeroed fixture: setup, body and teardown all run in the child, and
 * teardown runs however the setup or body ended (an ASSERT_* longjmps to it).
 * The runner waits for each child with a per-test timeout (SIGKILL to the
 * child's process group on expiry, reported as a failure) and prints one TAP
 * line per test and a "# Totals:" line.  Exit status: 0 all passed, 1 any
 * failed, 4 all skipped.
 *
 * Invariant: one test binary is one translation unit that includes this
 * header, so the registration list and the result pointer below exist once.
 *
 * Usage:
 *	TEST(name) { ASSERT_EQ(f(), 0); }
 *	FIXTURE(fix) { int fd; };
 *	FIXTURE_SETUP(fix) { self->fd = open(...); ASSERT_GE(self->fd, 0); }
 *	FIXTURE_TEARDOWN(fix) { if (self->fd > 0) close(self->fd); }
 *	TEST_F(fix, name) { EXPECT_EQ(read(self->fd, ...), 1) TH_LOG("..."); }
 *	TEST_HARNESS_MAIN
 *
 * ASSERT_* stops the test (teardown still runs); EXPECT_* records the failure
 * and goes on.  Either may be followed by a statement, run only on failure,
 * usually a TH_LOG().  ASSERT_* belongs on the test's own thread; from any
 * other thread it behaves as EXPECT_*.
 *
 * Command line: -l lists the tests, -t GLOB runs only matching tests,
 * -T GLOB excludes matching tests (both repeatable).  Environment:
 * TH_TIMEOUT_MULT=N multiplies every timeout (slow wrappers, valgrind).
 */
#ifndef GL_SELFTEST_HARNESS_H
#define GL_SELFTEST_HARNESS_H

#include <errno.h>
#include <fnmatch.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TH_TIMEOUT_DEFAULT	60	/* seconds per test */
#define TH_REASON_MAX		256
#define TH_MAX_FILTERS		32

#define TH_EXIT_PASS		0
#define TH_EXIT_FAIL		1
#define TH_EXIT_SKIP		4

/* Result of the running test: shared memory written by the child. */
struct th_result {
	int failed;			/* any ASSERT/EXPECT failed */
	int skipped;			/* SKIP() was called */
	char reason[TH_REASON_MAX];	/* SKIP() reason */
};

struct th_test {
	const char *name;		/* "fixture.test" or "test" */
	void (*run)(void);		/* setup, body, teardown (child) */
	int timeout;			/* seconds */
	int line;			/* registration order */
	struct th_test *next;
};

enum th_op { TH_EQ, TH_NE, TH_LT, TH_LE, TH_GT, TH_GE };

static struct th_test *_th_tests __attribute__((unused));
static struct th_result *_th_res __attribute__((unused));
static sigjmp_buf _th_jmp __attribute__((unused));
/* The one thread that may longjmp: the test process's main thread. */
static pid_t _th_tid __attribute__((unused));
static __thread int _th_trig __attribute__((unused));

static inline void _th_register(struct th_test *t)
{
	struct th_test **p = &_th_tests;

	/* Keep source order whatever order constructors run in. */
	while (*p && (*p)->line < t->line)
		p = &(*p)->next;
	t->next = *p;
	*p = t;
}

static inline void _th_mark_failed(void)
{
	if (_th_res)
		__atomic_store_n(&_th_res->failed, 1, __ATOMIC_SEQ_CST);
}

/* True once any check of the running test has failed. */
static inline int th_failed(void)
{
	return _th_res ? __atomic_load_n(&_th_res->failed, __ATOMIC_SEQ_CST)
		       : 0;
}

__attribute__((format(printf, 3, 4)))
static inline void _th_log(const char *file, int line, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	char *s, *nl;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* One "# " line per line of the message. */
	for (s = msg; s; s = nl) {
		nl = strchr(s, '\n');
		if (nl)
			*nl++ = '\0';
		if (nl && !*nl)
			nl = NULL;
		printf("# %s:%d: %s\n", file, line, s);
	}
	fflush(stdout);
}

#define TH_LOG(fmt, ...) _th_log(__FILE__, __LINE__, fmt, ##__VA_ARGS__)

__attribute__((format(printf, 3, 4)))
static inline void _th_skip(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	if (!_th_res)
		return;
	va_start(ap, fmt);
	vsnprintf(_th_res->reason, sizeof(_th_res->reason), fmt, ap);
	va_end(ap);
	_th_res->skipped = 1;
	printf("# %s:%d: skip: %s\n", file, line, _th_res->reason);
	fflush(stdout);
}

/* Record a skip with its reason, then run @statement (usually return). */
#define SKIP(statement, fmt, ...) do { \
		_th_skip(__FILE__, __LINE__, fmt, ##__VA_ARGS__); \
		statement; \
	} while (0)

/* Leave the test for its teardown when an ASSERT failed; returns 0. */
static inline int _th_bail(int is_assert)
{
	if (!is_assert)
		return 0;
	if ((pid_t)syscall(SYS_gettid) != _th_tid) {
		printf("# ASSERT failed on a helper thread: test goes on\n");
		fflush(stdout);
		return 0;
	}
	fflush(stdout);
	siglongjmp(_th_jmp, 1);
}

#define _TH_UNSIGNED(x) _Generic((x), \
		unsigned char: 1, unsigned short: 1, unsigned int: 1, \
		unsigned long: 1, unsigned long long: 1, default: 0)

static inline int _th_cmp(long long a, int ua, long long b, int ub,
			  enum th_op op)
{
	unsigned long long x = (unsigned long long)a;
	unsigned long long y = (unsigned long long)b;
	int c;

	if (ua && !ub && b < 0)
		c = 1;		/* unsigned a > negative b */
	else if (ub && !ua && a < 0)
		c = -1;		/* negative a < unsigned b */
	else if (ua || ub)
		c = x < y ? -1 : x > y;
	else
		c = a < b ? -1 : a > b;
	switch (op) {
	case TH_EQ:
		return c == 0;
	case TH_NE:
		return c != 0;
	case TH_LT:
		return c < 0;
	case TH_LE:
		return c <= 0;
	case TH_GT:
		return c > 0;
	case TH_GE:
		return c >= 0;
	}
	return 0;
}

/* Print @v as its own type would, with the errno name for -errno values. */
static inline const char *_th_fmt(long long v, int uns, char *buf,
				  size_t size)
{
	if (uns)
		snprintf(buf, size, "%llu", (unsigned long long)v);
	else if (v < 0 && v >= -4095)
		snprintf(buf, size, "%lld (%s)", v, strerror((int)-v));
	else
		snprintf(buf, size, "%lld", v);
	return buf;
}

/* Returns 1 (and reports) when "a op b" does not hold. */
static inline int _th_check_num(const char *file, int line, const char *sa,
				const char *sop, const char *sb, long long a,
				int ua, long long b, int ub, enum th_op op)
{
	char fa[96], fb[96];

	if (_th_cmp(a, ua, b, ub, op))
		return 0;
	_th_mark_failed();
	printf("# %s:%d: expected %s %s %s (%s), got %s\n", file, line, sa,
	       sop, sb, _th_fmt(b, ub, fb, sizeof(fb)),
	       _th_fmt(a, ua, fa, sizeof(fa)));
	fflush(stdout);
	return 1;
}

static inline int _th_check_str(const char *file, int line, const char *sa,
				const char *sb, const char *a, const char *b,
				int want_eq)
{
	int eq = a && b ? !strcmp(a, b) : a == b;

	if (eq == want_eq)
		return 0;
	_th_mark_failed();
	printf("# %s:%d: expected %s %s %s (\"%s\"), got \"%s\"\n", file, line,
	       sa, want_eq ? "==" : "!=", sb, b ? b : "(null)",
	       a ? a : "(null)");
	fflush(stdout);
	return 1;
}

static inline int _th_check_bool(const char *file, int line, const char *sa,
				 long long v, int want)
{
	if (!!v == want)
		return 0;
	_th_mark_failed();
	printf("# %s:%d: expected %s to be %s, got %lld\n", file, line, sa,
	       want ? "true" : "false", v);
	fflush(stdout);
	return 1;
}

/*
 * The trailing for() runs the statement after the macro (or the empty
 * statement) once on failure, then bails out for ASSERT_*.
 */
#define _TH_NUM(a, sa, op, sop, b, sb, is_assert) \
	for (_th_trig = _th_check_num(__FILE__, __LINE__, sa, sop, sb, \
				      (long long)(a), _TH_UNSIGNED(a), \
				      (long long)(b), _TH_UNSIGNED(b), op); \
	     _th_trig; _th_trig = _th_bail(is_assert))

#define _TH_STR(a, sa, b, sb, want_eq, is_assert) \
	for (_th_trig = _th_check_str(__FILE__, __LINE__, sa, sb, (a), (b), \
				      want_eq); \
	     _th_trig; _th_trig = _th_bail(is_assert))

#define _TH_BOOL(x, sx, want, is_assert) \
	for (_th_trig = _th_check_bool(__FILE__, __LINE__, sx, \
				       (long long)!!(x), want); \
	     _th_trig; _th_trig = _th_bail(is_assert))

#define ASSERT_EQ(a, b)		_TH_NUM(a, #a, TH_EQ, "==", b, #b, 1)
#define ASSERT_NE(a, b)		_TH_NUM(a, #a, TH_NE, "!=", b, #b, 1)
#define ASSERT_LT(a, b)		_TH_NUM(a, #a, TH_LT, "<", b, #b, 1)
#define ASSERT_LE(a, b)		_TH_NUM(a, #a, TH_LE, "<=", b, #b, 1)
#define ASSERT_GT(a, b)		_TH_NUM(a, #a, TH_GT, ">", b, #b, 1)
#define ASSERT_GE(a, b)		_TH_NUM(a, #a, TH_GE, ">=", b, #b, 1)
#define ASSERT_TRUE(x)		_TH_BOOL(x, #x, 1, 1)
#define ASSERT_FALSE(x)		_TH_BOOL(x, #x, 0, 1)
#define ASSERT_STREQ(a, b)	_TH_STR(a, #a, b, #b, 1, 1)
#define ASSERT_STRNE(a, b)	_TH_STR(a, #a, b, #b, 0, 1)

#define EXPECT_EQ(a, b)		_TH_NUM(a, #a, TH_EQ, "==", b, #b, 0)
#define EXPECT_NE(a, b)		_TH_NUM(a, #a, TH_NE, "!=", b, #b, 0)
#define EXPECT_LT(a, b)		_TH_NUM(a, #a, TH_LT, "<", b, #b, 0)
#define EXPECT_LE(a, b)		_TH_NUM(a, #a, TH_LE, "<=", b, #b, 0)
#define EXPECT_GT(a, b)		_TH_NUM(a, #a, TH_GT, ">", b, #b, 0)
#define EXPECT_GE(a, b)		_TH_NUM(a, #a, TH_GE, ">=", b, #b, 0)
#define EXPECT_TRUE(x)		_TH_BOOL(x, #x, 1, 0)
#define EXPECT_FALSE(x)		_TH_BOOL(x, #x, 0, 0)
#define EXPECT_STREQ(a, b)	_TH_STR(a, #a, b, #b, 1, 0)
#define EXPECT_STRNE(a, b)	_TH_STR(a, #a, b, #b, 0, 0)

#define _TH_REGISTER(id, tname, secs) \
	static struct th_test _th_test_##id = { \
		.name = tname, \
		.run = _th_run_##id, \
		.timeout = secs, \
		.line = __LINE__, \
	}; \
	__attribute__((constructor)) static void _th_reg_##id(void) \
	{ \
		_th_register(&_th_test_##id); \
	}

#define TEST(name) TEST_TIMEOUT(name, TH_TIMEOUT_DEFAULT)

#define TEST_TIMEOUT(name, secs) \
	static void _th_body_##name(void); \
	static void _th_run_##name(void) \
	{ \
		if (sigsetjmp(_th_jmp, 0) == 0) \
			_th_body_##name(); \
	} \
	_TH_REGISTER(name, #name, secs) \
	static void _th_body_##name(void)

#define FIXTURE_DATA(fix)	struct _th_fixture_##fix
#define FIXTURE(fix)		FIXTURE_DATA(fix)

#define FIXTURE_SETUP(fix) \
	static void _th_setup_##fix(FIXTURE_DATA(fix) *self \
				    __attribute__((unused)))

#define FIXTURE_TEARDOWN(fix) \
	static void _th_teardown_##fix(FIXTURE_DATA(fix) *self \
				       __attribute__((unused)))

#define TEST_F(fix, name) TEST_F_TIMEOUT(fix, name, TH_TIMEOUT_DEFAULT)

/* Teardown runs whether setup or body returned, skipped or bailed. */
#define TEST_F_TIMEOUT(fix, name, secs) \
	static void _th_body_##fix##_##name(FIXTURE_DATA(fix) *self \
					    __attribute__((unused))); \
	static void _th_run_##fix##_##name(void) \
	{ \
		static FIXTURE_DATA(fix) _th_self; \
		memset(&_th_self, 0, sizeof(_th_self)); \
		if (sigsetjmp(_th_jmp, 0) == 0) { \
			_th_setup_##fix(&_th_self); \
			if (!_th_res->skipped && !th_failed()) \
				_th_body_##fix##_##name(&_th_self); \
		} \
		if (sigsetjmp(_th_jmp, 0) == 0) \
			_th_teardown_##fix(&_th_self); \
	} \
	_TH_REGISTER(fix##_##name, #fix "." #name, secs) \
	static void _th_body_##fix##_##name(FIXTURE_DATA(fix) *self \
					    __attribute__((unused)))

static inline int _th_selected(const struct th_test *t, char **inc, int ninc,
			       char **exc, int nexc)
{
	int i, ok = !ninc;

	for (i = 0; i < ninc; i++)
		if (!fnmatch(inc[i], t->name, 0))
			ok = 1;
	for (i = 0; i < nexc; i++)
		if (!fnmatch(exc[i], t->name, 0))
			ok = 0;
	return ok;
}

static inline long long _th_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/*
 * Wait for @pid for at most @timeout_ms.  Returns 0 with *status set, or
 * -ETIMEDOUT with the child still running.
 */
static inline int _th_wait(pid_t pid, long long timeout_ms, int *status)
{
	long long deadline = _th_now_ms() + timeout_ms;
	struct timespec tick = { 0, 5 * 1000 * 1000 };
	long long left;
	int pfd = -1;
	pid_t r;

#ifdef SYS_pidfd_open
	pfd = (int)syscall(SYS_pidfd_open, pid, 0);
#endif
	for (;;) {
		r = waitpid(pid, status, WNOHANG);
		if (r == pid)
			break;
		if (r < 0 && errno != EINTR) {
			*status = 0;
			break;
		}
		left = deadline - _th_now_ms();
		if (left <= 0) {
			if (pfd >= 0)
				close(pfd);
			return -ETIMEDOUT;
		}
		if (pfd >= 0) {
			struct pollfd p = { .fd = pfd, .events = POLLIN };

			poll(&p, 1, left > 1000 ? 1000 : (int)left);
		} else {
			nanosleep(&tick, NULL);
		}
	}
	if (pfd >= 0)
		close(pfd);
	return 0;
}

/* Run one test in a child; returns TH_EXIT_PASS, _FAIL or _SKIP. */
static inline int _th_run_one(struct th_test *t, int mult)
{
	long long timeout_ms = (long long)t->timeout * mult * 1000;
	int status = 0;
	pid_t pid;

	memset(_th_res, 0, sizeof(*_th_res));
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		printf("# %s: fork: %s\n", t->name, strerror(errno));
		return TH_EXIT_FAIL;
	}
	if (pid == 0) {
		setpgid(0, 0);
		_th_tid = getpid();
		t->run();
		fflush(stdout);
		fflush(stderr);
		if (_th_res->failed)
			_exit(TH_EXIT_FAIL);
		_exit(_th_res->skipped ? TH_EXIT_SKIP : TH_EXIT_PASS);
	}
	setpgid(pid, pid);
	if (_th_wait(pid, timeout_ms, &status) < 0) {
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		printf("# %s: timeout after %d s, killed\n", t->name,
		       t->timeout * mult);
		return TH_EXIT_FAIL;
	}
	/* Reap stragglers of the test's process group. */
	kill(-pid, SIGKILL);
	if (WIFSIGNALED(status)) {
		printf("# %s: killed by signal %d (%s)\n", t->name,
		       WTERMSIG(status), strsignal(WTERMSIG(status)));
		return TH_EXIT_FAIL;
	}
	if (_th_res->failed)
		return TH_EXIT_FAIL;
	switch (WEXITSTATUS(status)) {
	case TH_EXIT_PASS:
		return TH_EXIT_PASS;
	case TH_EXIT_SKIP:
		return _th_res->skipped ? TH_EXIT_SKIP : TH_EXIT_FAIL;
	default:
		printf("# %s: exited with status %d\n", t->name,
		       WEXITSTATUS(status));
		return TH_EXIT_FAIL;
	}
}

static inline int th_run(int argc, char **argv)
{
	char *inc[TH_MAX_FILTERS], *exc[TH_MAX_FILTERS];
	int ninc = 0, nexc = 0, list = 0, n = 0, i = 0, opt, mult = 1;
	int pass = 0, fail = 0, skip = 0;
	struct th_test *t;
	const char *env;

	while ((opt = getopt(argc, argv, "hlt:T:")) != -1) {
		switch (opt) {
		case 'l':
			list = 1;
			break;
		case 't':
			if (ninc < TH_MAX_FILTERS)
				inc[ninc++] = optarg;
			break;
		case 'T':
			if (nexc < TH_MAX_FILTERS)
				exc[nexc++] = optarg;
			break;
		default:
			fprintf(stderr, "usage: %s [-l] [-t GLOB]... "
				"[-T GLOB]...\n", argv[0]);
			return opt == 'h' ? 0 : 2;
		}
	}
	for (t = _th_tests; t; t = t->next) {
		if (!_th_selected(t, inc, ninc, exc, nexc))
			continue;
		if (list)
			printf("%s\n", t->name);
		n++;
	}
	if (list)
		return 0;
	env = getenv("TH_TIMEOUT_MULT");
	if (env && atoi(env) > 0)
		mult = atoi(env);

	_th_res = mmap(NULL, sizeof(*_th_res), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (_th_res == MAP_FAILED) {
		perror("mmap");
		return TH_EXIT_FAIL;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("TAP version 13\n1..%d\n", n);
	for (t = _th_tests; t; t = t->next) {
		if (!_th_selected(t, inc, ninc, exc, nexc))
			continue;
		i++;
		printf("# RUN %s\n", t->name);
		switch (_th_run_one(t, mult)) {
		case TH_EXIT_PASS:
			pass++;
			printf("ok %d %s\n", i, t->name);
			break;
		case TH_EXIT_SKIP:
			skip++;
			printf("ok %d %s # SKIP %s\n", i, t->name,
			       _th_res->reason);
			break;
		default:
			fail++;
			printf("not ok %d %s\n", i, t->name);
			break;
		}
	}
	printf("# Totals: pass:%d fail:%d xfail:0 xpass:0 skip:%d error:0\n",
	       pass, fail, skip);
	fflush(stdout);
	munmap(_th_res, sizeof(*_th_res));
	_th_res = NULL;
	if (fail)
		return TH_EXIT_FAIL;
	if (skip && !pass)
		return TH_EXIT_SKIP;
	return TH_EXIT_PASS;
}

#define TEST_HARNESS_MAIN \
	int main(int argc, char **argv) \
	{ \
		return th_run(argc, argv); \
	}

#endif /* GL_SELFTEST_HARNESS_H */
