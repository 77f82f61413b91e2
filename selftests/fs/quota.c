/* SPDX-License-Identifier: MIT */
/*
 * quota.c - per-uid quotas: a reservation that would take a uid over its
 * quota fails with EDQUOT and changes nothing, whether the quota comes from
 * "quota UID SIZE" in /ctl or --quota UID:SIZE, for root and for nobody;
 * "quota UID none" lifts it; lowering below holdings is allowed.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "selftests/harness.h"
#include "selftests/lib/gltest.h"

#define MiB (1024LL * 1024)

static const char *const args[] = {
	"--cpu-vram", "64M", "--quota", "65534:4M", NULL
};

FIXTURE(quota) {
	struct gl_daemon d;
};

FIXTURE_SETUP(quota)
{
	GL_DAEMON_SETUP(&self->d, args);
}

FIXTURE_TEARDOWN(quota)
{
	GL_DAEMON_TEARDOWN(&self->d);
}

static long long vram_size(const struct gl_daemon *d, const char *name)
{
	long long v;
	int ret = lease_read_key(d, name, "vram", &v);

	return ret ? ret : v;
}

TEST_F(quota, root_quota_from_ctl)
{
	struct gl_daemon *d = &self->d;
	struct stat st;

	ASSERT_EQ(gl_ctl_write(d, "ctl", "quota 0 8M\n"), 0);
	ASSERT_EQ(lease_create(d, "a"), 0);
	ASSERT_EQ(lease_write(d, "a", "ctl", "vram 8M\n"), 0);
	ASSERT_EQ(lease_create(d, "b"), 0);
	EXPECT_EQ(lease_write(d, "b", "ctl", "vram 1\n"), -EDQUOT);
	EXPECT_EQ(vram_size(d, "b"), 0);
	EXPECT_EQ(lease_write(d, "a", "ctl", "vram 9M\n"), -EDQUOT);
	EXPECT_EQ(vram_size(d, "a"), 8 * MiB);
	EXPECT_EQ(gl_ctl_write(d, "leases/ctl", "acquire c vram=1M\n"),
		  -EDQUOT);
	EXPECT_EQ(stat(gl_path(d, "leases/c"), &st), -1);
	EXPECT_EQ(dev_read_u64(d, 0, "vram.used"), 8 * MiB);

	ASSERT_EQ(gl_ctl_write(d, "ctl", "quota 0 none\n"), 0);
	EXPECT_EQ(lease_write(d, "b", "ctl", "vram 1M\n"), 0);
	EXPECT_EQ(gl_ctl_write(d, "leases/ctl", "acquire c vram=1M\n"), 0);
}

TEST_F(quota, mkdir_default_vram_over_quota)
{
	struct gl_daemon *d = &self->d;

	ASSERT_EQ(gl_ctl_write(d, "ctl", "quota 0 1M\n"), 0);
	ASSERT_EQ(gl_ctl_write(d, "ctl", "default_vram 2M\n"), 0);
	EXPECT_EQ(lease_create(d, "a"), -EDQUOT);
	EXPECT_EQ(gl_count_leases(d), 0);
	EXPECT_EQ(dev_read_u64(d, 0, "vram.used"), 0);
}

TEST_F(quota, sum_over_leases)
{
	struct gl_daemon *d = &self->d;

	ASSERT_EQ(gl_ctl_write(d, "ctl", "quota 0 10M\n"), 0);
	ASSERT_EQ(gl_ctl_write(d, "leases/ctl", "acquire a vram=4M\n"), 0);
	ASSERT_EQ(gl_ctl_write(d, "leases/ctl", "acquire b vram=4M\n"), 0);
	EXPECT_EQ(gl_ctl_write(d, "leases/ctl", "acquire c vram=4M\n"),
		  -EDQUOT);
	EXPECT_EQ(gl_ctl_write(d, "leases/ctl", "acquire c vram=2M\n"), 0);
	ASSERT_EQ(lease_remove(d, "a"), 0);
	EXPECT_EQ(lease_write(d, "c", "ctl", "vram 6M\n"), 0);
}

TEST_F(quota, lower_below_holdings)
{
	struct gl_daemon *d = &self->d;

	ASSERT_EQ(gl_ctl_write(d, "ctl", "quota 0 8M\n"), 0);
	ASSERT_EQ(gl_ctl_write(d, "leases/ctl", "acquire a vram=8M\n"), 0);
	EXPECT_EQ(gl_ctl_write(d, "ctl", "quota 0 4M\n"), 0);
	EXPECT_EQ(vram_size(d, "a"), 8 * MiB);
	EXPECT_EQ(dev_read_u64(d, 0, "vram.used"), 8 * MiB);
	EXPECT_EQ(gl_ctl_write(d, "leases/ctl", "acquire b vram=4096\n"),
		  -EDQUOT);
	EXPECT_EQ(lease_write(d, "a", "ctl", "vram 2M\n"), 0);
	EXPECT_EQ(gl_ctl_write(d, "leases/ctl", "acquire b vram=2M\n"), 0);
}

TEST_F(quota, flag_reads_back)
{
	struct gl_daemon *d = &self->d;
	char text[GL_TEXT_MAX];

	ASSERT_GT(gl_read(d, "ctl", text, sizeof(text)), 0);
	EXPECT_TRUE(strstr(text, "quota 65534 4194304\n"))
		TH_LOG("/ctl:\n%s", text);
}

struct nobody_ctx {
	const struct gl_daemon *d;
};

/*
 * Runs as nobody in a forked child: EXPECT_* there reports into the test
 * (ASSERT_* acts as EXPECT_* off the test's own process).
 */
static int nobody_over_quota(void *arg)
{
	const struct gl_daemon *d = ((struct nobody_ctx *)arg)->d;
	long long v = -1;

	EXPECT_EQ(lease_create(d, "n1"), 0);
	EXPECT_EQ(lease_write(d, "n1", "ctl", "vram 4M\n"), 0);
	EXPECT_EQ(lease_create(d, "n2"), 0);
	EXPECT_EQ(lease_write(d, "n2", "ctl", "vram 1\n"), -EDQUOT);
	EXPECT_EQ(lease_read_key(d, "n2", "vram", &v), 0);
	EXPECT_EQ(v, 0);
	EXPECT_EQ(gl_ctl_write(d, "leases/ctl", "acquire n3 vram=1K\n"),
		  -EDQUOT);
	/* Give back and the quota is free again. */
	EXPECT_EQ(lease_remove(d, "n1"), 0);
	EXPECT_EQ(gl_ctl_write(d, "leases/ctl", "acquire n3 vram=4M\n"), 0);
	return 0;
}

TEST_F(quota, nobody_over_flag_quota)
{
	struct nobody_ctx ctx = { &self->d };
	struct gl_daemon *d = &self->d;

	EXPECT_EQ(gl_run_as_nobody(nobody_over_quota, &ctx), 0);
	EXPECT_EQ(dev_read_u64(d, 0, "vram.used"), 4 * MiB);
	/* Root is not limited by nobody's quota. */
	ASSERT_EQ(gl_ctl_write(d, "leases/ctl", "acquire r vram=32M\n"), 0);
}

static int nobody_under_root_quota(void *arg)
{
	const struct gl_daemon *d = ((struct nobody_ctx *)arg)->d;

	return gl_ctl_write(d, "leases/ctl", "acquire n vram=2M\n");
}

TEST_F(quota, quota_is_per_uid)
{
	struct nobody_ctx ctx = { &self->d };
	struct gl_daemon *d = &self->d;

	ASSERT_EQ(gl_ctl_write(d, "ctl", "quota 0 1M\n"), 0);
	EXPECT_EQ(gl_run_as_nobody(nobody_under_root_quota, &ctx), 0);
	EXPECT_EQ(gl_ctl_write(d, "leases/ctl", "acquire r vram=2M\n"),
		  -EDQUOT);
}

TEST_HARNESS_MAIN
