/* SPDX-License-Identifier: MIT */
/*
 * ttl.c - TTL and renewal: "ttl SECS" sets and renews, "renew" extends by
 * ttl, "renew SECS" by SECS with ttl unchanged, touch on the directory
 * renews, limits follow max_ttl; expiry falls on the second; policy
 * defaults and their flags.  Time moves through the clock_offset knob,
 * never by sleeping.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "selftests/harness.h"
#include "selftests/lib/gltest.h"

#define SLACK 3		/* seconds a read of expires_in may lag */

static const char *const args[] = { "--cpu-vram", "64M", NULL };

FIXTURE(ttl) {
	struct gl_daemon d;
};

FIXTURE_SETUP(ttl)
{
	GL_DAEMON_SETUP(&self->d, args);
}

FIXTURE_TEARDOWN(ttl)
{
	GL_DAEMON_TEARDOWN(&self->d);
}

static long long key(const struct gl_daemon *d, const char *name,
		     const char *k)
{
	long long v;
	int ret = lease_read_key(d, name, k, &v);

	return ret ? ret : v;
}

#define EXPECT_EXPIRES_IN(d, name, secs) do { \
		long long _e = key(d, name, "expires_in"); \
		EXPECT_LE(_e, (secs)); \
		EXPECT_GE(_e, (secs) - SLACK); \
	} while (0)

TEST_F(ttl, ttl_sets_and_renews)
{
	struct gl_daemon *d = &self->d;

	ASSERT_EQ(lease_create(d, "t1"), 0);
	ASSERT_EQ(lease_write(d, "t1", "ctl", "ttl 300\n"), 0);
	EXPECT_EQ(key(d, "t1", "ttl"), 300);
	EXPECT_EXPIRES_IN(d, "t1", 300);
	ASSERT_EQ(gl_ctl_write(d, "ctl", "clock_offset 100\n"), 0);
	EXPECT_EXPIRES_IN(d, "t1", 200);
	ASSERT_EQ(lease_write(d, "t1", "ctl", "ttl 300\n"), 0);
	EXPECT_EXPIRES_IN(d, "t1", 300);
	ASSERT_EQ(lease_write(d, "t1", "ctl", "ttl 10"), 0);
	EXPECT_EQ(key(d, "t1", "ttl"), 10);
	EXPECT_EXPIRES_IN(d, "t1", 10);
}

TEST_F(ttl, renew_extends_by_ttl)
{
	struct gl_daemon *d = &self->d;

	ASSERT_EQ(lease_create(d, "t1"), 0);
	ASSERT_EQ(lease_write(d, "t1", "ctl", "ttl 100\n"), 0);
	ASSERT_EQ(gl_ctl_write(d, "ctl", "clock_offset 60\n"), 0);
	EXPECT_EXPIRES_IN(d, "t1", 40);
	ASSERT_EQ(lease_write(d, "t1", "ctl", "renew\n"), 0);
	EXPECT_EXPIRES_IN(d, "t1", 100);
	EXPECT_EQ(key(d, "t1", "ttl"), 100);
	/* Renewed at +60 with ttl 100: alive at +150, expired at +170. */
	ASSERT_EQ(gl_ctl_write(d, "ctl", "clock_offset 150\n"), 0);
	EXPECT_EXPIRES_IN(d, "t1", 10);
	ASSERT_EQ(gl_ctl_write(d, "ctl", "clock_offset 170\n"), 0);
	EXPECT_EQ(key(d, "t1", "expires_in"), -EKEYEXPIRED);
	EXPECT_EQ(lease_remove(d, "t1"), 0);
}

TEST_F(ttl, renew_secs_keeps_ttl)
{
	struct gl_daemon *d = &self->d;

	ASSERT_EQ(lease_create(d, "t1"), 0);
	ASSERT_EQ(lease_write(d, "t1", "ctl", "ttl 100\n"), 0);
	ASSERT_EQ(lease_write(d, "t1", "ctl", "renew 500\n"), 0);
	EXPECT_EXPIRES_IN(d, "t1", 500);
	EXPECT_EQ(key(d, "t1", "ttl"), 100);
	ASSERT_EQ(lease_write(d, "t1", "ctl", "renew 5"), 0);
	EXPECT_EXPIRES_IN(d, "t1", 5);
	EXPECT_EQ(key(d, "t1", "ttl"), 100);
	ASSERT_EQ(lease_write(d, "t1", "ctl", "renew"), 0);
	EXPECT_EXPIRES_IN(d, "t1", 100);
}

TEST_F(ttl, touch_renews)
{
	struct gl_daemon *d = &self->d;
	long long renews0 = -1, renews1 = -1;

	ASSERT_EQ(lease_create(d, "t1"), 0);
	ASSERT_EQ(lease_write(d, "t1", "ctl", "ttl 100\n"), 0);
	ASSERT_EQ(gl_read_key(d, "leases/t1/stats", "renews", &renews0), 0);
	ASSERT_EQ(gl_ctl_write(d, "ctl", "clock_offset 50\n"), 0);
	EXPECT_EXPIRES_IN(d, "t1", 50);
	/* touch(1) on the directory: a time update renews the lease. */
	ASSERT_EQ(utimensat(AT_FDCWD, gl_path(d, "leases/t1"), NULL, 0), 0)
		TH_LOG("touch leases/t1: %s", strerror(errno));
	EXPECT_EXPIRES_IN(d, "t1", 100);
	EXPECT_EQ(key(d, "t1", "ttl"), 100);
	ASSERT_EQ(gl_read_key(d, "leases/t1/stats", "renews", &renews1), 0);
	EXPECT_GT(renews1, renews0);
}

TEST_F(ttl, limits_follow_max_ttl)
{
	struct gl_daemon *d = &self->d;

	ASSERT_EQ(lease_create(d, "t1"), 0);
	EXPECT_EQ(lease_write(d, "t1", "ctl", "ttl 86400\n"), 0);
	EXPECT_EQ(lease_write(d, "t1", "ctl", "ttl 86401\n"), -EINVAL);
	EXPECT_EQ(lease_write(d, "t1", "ctl", "renew 86401\n"), -EINVAL);
	EXPECT_EQ(key(d, "t1", "ttl"), 86400);

	/* max_ttl may not go under default_ttl: lower that first. */
	EXPECT_EQ(gl_ctl_write(d, "ctl", "max_ttl 1000\n"), -EINVAL);
	ASSERT_EQ(gl_ctl_write(d, "ctl", "default_ttl 100\n"), 0);
	ASSERT_EQ(gl_ctl_write(d, "ctl", "max_ttl 1000\n"), 0);
	EXPECT_EQ(lease_write(d, "t1", "ctl", "ttl 1001\n"), -EINVAL);
	EXPECT_EQ(lease_write(d, "t1", "ctl", "renew 1001\n"), -EINVAL);
	EXPECT_EQ(lease_write(d, "t1", "ctl", "ttl 1000\n"), 0);
	EXPECT_EQ(lease_write(d, "t1", "ctl", "renew 1000\n"), 0);
	EXPECT_EQ(gl_ctl_write(d, "leases/ctl", "acquire t2 ttl=1001\n"),
		  -EINVAL);
	EXPECT_EQ(gl_ctl_write(d, "leases/ctl", "acquire t2 ttl=1000\n"), 0);
	EXPECT_EQ(gl_ctl_write(d, "ctl", "default_ttl 1001\n"), -EINVAL);
}

TEST_F(ttl, default_ttl_applies)
{
	struct gl_daemon *d = &self->d;

	ASSERT_EQ(gl_ctl_write(d, "ctl", "default_ttl 120\n"), 0);
	ASSERT_EQ(lease_create(d, "t1"), 0);
	EXPECT_EQ(key(d, "t1", "ttl"), 120);
	EXPECT_EXPIRES_IN(d, "t1", 120);
	ASSERT_EQ(gl_ctl_write(d, "leases/ctl", "acquire t2\n"), 0);
	EXPECT_EQ(key(d, "t2", "ttl"), 120);
	ASSERT_EQ(gl_ctl_write(d, "leases/ctl", "acquire t3 ttl=7\n"), 0);
	EXPECT_EQ(key(d, "t3", "ttl"), 7);
	EXPECT_EXPIRES_IN(d, "t3", 7);
}

/* The lease is still active: its ctl reads (expires_in >= 0). */
static int active(const struct gl_daemon *d, const char *name)
{
	return key(d, name, "expires_in") >= 0;
}

/*
 * Expiry on the second, not one late or early: ttl=10 is active at +9 and
 * expired at +10, after acquire and after a renew; expires_in is whole
 * seconds left, rounded down, so never ttl right after either. The +10
 * checks are exact (the clock only moves forward); the +9 ones hold when
 * less than a second of real time passed since the acquire or renew, and
 * are only logged on a machine slower than that.
 */
TEST_F(ttl, expiry_on_the_second)
{
	struct gl_daemon *d = &self->d;
	long long t0;

	t0 = gl_now_ms();
	ASSERT_EQ(gl_ctl_write(d, "leases/ctl", "acquire b1 ttl=10\n"), 0);
	EXPECT_LE(key(d, "b1", "expires_in"), 9);
	EXPECT_GE(key(d, "b1", "expires_in"), 9 - SLACK);
	ASSERT_EQ(gl_ctl_write(d, "ctl", "clock_offset 9\n"), 0);
	if (gl_now_ms() - t0 < 900)
		EXPECT_TRUE(active(d, "b1")) TH_LOG("b1 expired at +9 of 10");
	else
		TH_LOG("slow machine: +9 check of b1 not made");
	ASSERT_EQ(gl_ctl_write(d, "ctl", "clock_offset 10\n"), 0);
	EXPECT_EQ(key(d, "b1", "expires_in"), -EKEYEXPIRED)
		TH_LOG("b1 still active at +10 of 10");

	/* the same after a renew, made at +10 */
	ASSERT_EQ(gl_ctl_write(d, "leases/ctl", "acquire b2 ttl=10\n"), 0);
	t0 = gl_now_ms();
	ASSERT_EQ(lease_write(d, "b2", "ctl", "renew\n"), 0);
	EXPECT_LE(key(d, "b2", "expires_in"), 9);
	EXPECT_GE(key(d, "b2", "expires_in"), 9 - SLACK);
	ASSERT_EQ(gl_ctl_write(d, "ctl", "clock_offset 19\n"), 0);
	if (gl_now_ms() - t0 < 900)
		EXPECT_TRUE(active(d, "b2")) TH_LOG("b2 expired at +9 of 10");
	else
		TH_LOG("slow machine: +9 check of b2 not made");
	ASSERT_EQ(gl_ctl_write(d, "ctl", "clock_offset 20\n"), 0);
	EXPECT_EQ(key(d, "b2", "expires_in"), -EKEYEXPIRED)
		TH_LOG("b2 still active at +10 of 10 after renew");
}

static const char *const flag_args[] = {
	"--cpu-vram", "64M", "--default-ttl", "77", "--max-ttl", "1000",
	"--default-vram", "64K", NULL
};

FIXTURE(flags) {
	struct gl_daemon d;
};

FIXTURE_SETUP(flags)
{
	GL_DAEMON_SETUP(&self->d, flag_args);
}

FIXTURE_TEARDOWN(flags)
{
	GL_DAEMON_TEARDOWN(&self->d);
}

TEST_F(flags, policy_flags)
{
	struct gl_daemon *d = &self->d;
	long long v;

	ASSERT_EQ(gl_read_key(d, "ctl", "default_ttl", &v), 0);
	EXPECT_EQ(v, 77);
	ASSERT_EQ(gl_read_key(d, "ctl", "max_ttl", &v), 0);
	EXPECT_EQ(v, 1000);
	ASSERT_EQ(gl_read_key(d, "ctl", "default_vram", &v), 0);
	EXPECT_EQ(v, 65536);
	ASSERT_EQ(lease_create(d, "t1"), 0);
	EXPECT_EQ(key(d, "t1", "ttl"), 77);
	EXPECT_EQ(key(d, "t1", "vram"), 65536);
	EXPECT_EQ(dev_read_u64(d, 0, "vram.used"), 65536);
	EXPECT_EQ(lease_write(d, "t1", "ctl", "ttl 1001\n"), -EINVAL);
	EXPECT_EQ(gl_ctl_write(d, "leases/ctl", "acquire t2 ttl=1001\n"),
		  -EINVAL);
}

TEST_HARNESS_MAIN
