/* SPDX-License-Identifier: MIT */
/*
 * enospc.c - no overcommit: an acquire or a resize that does not fit in the
 * device's free memory fails with ENOSPC and changes nothing (size, content,
 * accounting); exactly the capacity fits.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "selftests/harness.h"
#include "selftests/lib/gltest.h"

#define MiB (1024LL * 1024)
#define CAP (16 * MiB)

static const char *const args[] = { "--cpu-vram", "16M", NULL };

FIXTURE(enospc) {
	struct gl_daemon d;
};

FIXTURE_SETUP(enospc)
{
	GL_DAEMON_SETUP(&self->d, args);
	ASSERT_EQ(dev_read_u64(&self->d, 0, "vram.capacity"), CAP);
}

FIXTURE_TEARDOWN(enospc)
{
	GL_DAEMON_TEARDOWN(&self->d);
}

static long long vram_size(const struct gl_daemon *d, const char *name)
{
	long long v;
	int ret = lease_read_key(d, name, "vram", &v);

	return ret ? ret : v;
}

TEST_F(enospc, mkdir_over_free)
{
	struct gl_daemon *d = &self->d;
	struct stat st;

	ASSERT_EQ(gl_ctl_write(d, "ctl", "default_vram 17M\n"), 0);
	EXPECT_EQ(lease_create(d, "big"), -ENOSPC);
	EXPECT_EQ(stat(gl_path(d, "leases/big"), &st), -1);
	EXPECT_EQ(errno, ENOENT);
	EXPECT_EQ(gl_count_leases(d), 0);
	EXPECT_EQ(dev_read_u64(d, 0, "vram.used"), 0);
	ASSERT_EQ(gl_ctl_write(d, "ctl", "default_vram 16M\n"), 0);
	EXPECT_EQ(lease_create(d, "big"), 0);
	EXPECT_EQ(dev_read_u64(d, 0, "vram.free"), 0);
	EXPECT_EQ(lease_create(d, "big2"), -ENOSPC);
	ASSERT_EQ(lease_remove(d, "big"), 0);
	EXPECT_EQ(lease_create(d, "big2"), 0);
}

TEST_F(enospc, acquire_over_free)
{
	struct gl_daemon *d = &self->d;

	EXPECT_EQ(gl_ctl_write(d, "leases/ctl", "acquire x vram=17M\n"),
		  -ENOSPC);
	EXPECT_EQ(gl_count_leases(d), 0);
	EXPECT_EQ(dev_read_u64(d, 0, "vram.used"), 0);
	EXPECT_EQ(gl_ctl_write(d, "leases/ctl", "acquire x vram=16M\n"), 0);
	EXPECT_EQ(gl_ctl_write(d, "leases/ctl", "acquire y vram=1\n"),
		  -ENOSPC);
	EXPECT_EQ(gl_count_leases(d), 1);
}

/* A failed resize keeps the size, the content and the accounting. */
TEST_F(enospc, resize_all_or_nothing)
{
	struct gl_daemon *d = &self->d;
	unsigned long long seed = 42;
	char in[4096], out[4096], s[128];
	struct stat st;
	int fd;

	ASSERT_EQ(lease_create(d, "r1"), 0);
	ASSERT_EQ(lease_write(d, "r1", "ctl", "vram 8M\n"), 0);
	fd = lease_open(d, "r1", "vram", O_RDWR);
	ASSERT_GE(fd, 0);
	gl_fill_random(in, sizeof(in), &seed);
	ASSERT_EQ(pwrite(fd, in, sizeof(in), 4 * MiB), sizeof(in));
	close(fd);

	EXPECT_EQ(lease_write(d, "r1", "ctl", "vram 17M\n"), -ENOSPC);
	EXPECT_EQ(lease_write(d, "r1", "ctl", "vram 1G\n"), -ENOSPC);
	EXPECT_EQ(vram_size(d, "r1"), 8 * MiB);
	EXPECT_EQ(dev_read_u64(d, 0, "vram.used"), 8 * MiB);
	EXPECT_EQ(dev_read_u64(d, 0, "vram.free"), 8 * MiB);
	ASSERT_EQ(stat(gl_path(d, "leases/r1/vram"), &st), 0);
	EXPECT_EQ(st.st_size, 8 * MiB);
	fd = lease_open(d, "r1", "vram", O_RDONLY);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(pread(fd, out, sizeof(out), 4 * MiB), sizeof(out));
	close(fd);
	EXPECT_EQ(memcmp(in, out, sizeof(in)), 0);
	ASSERT_EQ(lease_read_key_str(d, "r1", "last_error", s, sizeof(s)), 0);
	EXPECT_STRNE(s, "-");

	/* Growing to exactly what is free works. */
	EXPECT_EQ(lease_write(d, "r1", "ctl", "vram 16M\n"), 0);
	EXPECT_EQ(dev_read_u64(d, 0, "vram.free"), 0);
	ASSERT_EQ(lease_remove(d, "r1"), 0);
	EXPECT_EQ(dev_read_u64(d, 0, "vram.free"), CAP);
}

TEST_F(enospc, resize_against_other_lease)
{
	struct gl_daemon *d = &self->d;

	ASSERT_EQ(lease_create(d, "a"), 0);
	ASSERT_EQ(lease_create(d, "b"), 0);
	ASSERT_EQ(lease_write(d, "a", "ctl", "vram 10M\n"), 0);
	ASSERT_EQ(lease_write(d, "b", "ctl", "vram 2M\n"), 0);
	EXPECT_EQ(lease_write(d, "b", "ctl", "vram 7M\n"), -ENOSPC);
	EXPECT_EQ(vram_size(d, "b"), 2 * MiB);
	EXPECT_EQ(lease_write(d, "b", "ctl", "vram 6M\n"), 0);
	EXPECT_EQ(dev_read_u64(d, 0, "vram.free"), 0);
	/* Shrinking a frees at once, so b can grow. */
	ASSERT_EQ(lease_write(d, "a", "ctl", "vram 4M\n"), 0);
	EXPECT_EQ(dev_read_u64(d, 0, "vram.free"), 6 * MiB);
	EXPECT_EQ(lease_write(d, "b", "ctl", "vram 12M\n"), 0);
	EXPECT_EQ(dev_read_u64(d, 0, "vram.used"), CAP);
	EXPECT_EQ(dev_read_u64(d, 0, "leases"), 2);
}

TEST_F(enospc, many_small_leases)
{
	struct gl_daemon *d = &self->d;
	char name[16];
	int i;

	for (i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "s%d", i);
		ASSERT_EQ(lease_create(d, name), 0);
		ASSERT_EQ(lease_write(d, name, "ctl", "vram 4M\n"), 0);
	}
	ASSERT_EQ(lease_create(d, "s4"), 0);
	EXPECT_EQ(lease_write(d, "s4", "ctl", "vram 1\n"), -ENOSPC);
	EXPECT_EQ(vram_size(d, "s4"), 0);
	ASSERT_EQ(lease_remove(d, "s2"), 0);
	EXPECT_EQ(lease_write(d, "s4", "ctl", "vram 4M\n"), 0);
	EXPECT_EQ(lease_write(d, "s4", "ctl", "vram 4194305\n"), -ENOSPC);
	EXPECT_EQ(vram_size(d, "s4"), 4 * MiB);
}

TEST_HARNESS_MAIN
