/* SPDX-License-Identifier: MIT */
/*
 * devices.c - devices/<n>/: each file is one number or word and a newline;
 * the CPU device offers exactly --cpu-vram; used + free == capacity and the
 * leases count follow every acquire, resize and drop; no such device gives
 * ENOENT.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "selftests/harness.h"
#include "selftests/lib/gltest.h"

#define MiB (1024LL * 1024)

static const char *const args[] = { "--cpu-vram", "32M", NULL };

FIXTURE(dev) {
	struct gl_daemon d;
};

FIXTURE_SETUP(dev)
{
	GL_DAEMON_SETUP(&self->d, args);
}

FIXTURE_TEARDOWN(dev)
{
	GL_DAEMON_TEARDOWN(&self->d);
}

TEST_F(dev, files_format)
{
	static const char *const files[] = {
		"name", "kind", "vram.capacity", "vram.used", "vram.free",
		"leases", "state", "vram.reserved",
	};
	struct gl_daemon *d = &self->d;
	char buf[256], rel[64];
	size_t i;
	int n;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(rel, sizeof(rel), "devices/0/%s", files[i]);
		n = gl_read(d, rel, buf, sizeof(buf));
		ASSERT_GT(n, 1) TH_LOG("devices/0/%s", files[i]);
		EXPECT_EQ(buf[n - 1], '\n') TH_LOG("devices/0/%s", files[i]);
		EXPECT_EQ(strchr(buf, '\n'), buf + n - 1)
			TH_LOG("devices/0/%s: one line", files[i]);
		EXPECT_FALSE(strchr(buf, ' '));
	}
	ASSERT_GT(gl_read(d, "devices/0/state", buf, sizeof(buf)), 0);
	EXPECT_STREQ(buf, "ready\n");
	ASSERT_GT(gl_read(d, "devices/0/kind", buf, sizeof(buf)), 0);
	EXPECT_TRUE(!strcmp(buf, GL_KIND_CPU "\n") ||
		    !strcmp(buf, GL_KIND_CUDA "\n")) TH_LOG("kind %s", buf);
}

TEST_F(dev, cpu_capacity_and_accounting)
{
	struct gl_daemon *d = &self->d;
	char kind[32];
	long long cap;

	ASSERT_GT(gl_read(d, "devices/0/kind", kind, sizeof(kind)), 0);
	if (strcmp(kind, GL_KIND_CPU "\n"))
		SKIP(return, "device 0 is not the CPU device");
	cap = dev_read_u64(d, 0, "vram.capacity");
	EXPECT_EQ(cap, 32 * MiB);
	EXPECT_EQ(dev_read_u64(d, 0, "vram.used"), 0);
	EXPECT_EQ(dev_read_u64(d, 0, "vram.free"), cap);
	EXPECT_EQ(dev_read_u64(d, 0, "leases"), 0);

	ASSERT_EQ(gl_ctl_write(d, "leases/ctl", "acquire a vram=3M\n"), 0);
	ASSERT_EQ(gl_ctl_write(d, "leases/ctl", "acquire b vram=5M\n"), 0);
	ASSERT_EQ(gl_ctl_write(d, "leases/ctl", "acquire c\n"), 0);
	EXPECT_EQ(dev_read_u64(d, 0, "vram.used"), 8 * MiB);
	EXPECT_EQ(dev_read_u64(d, 0, "vram.free"), cap - 8 * MiB);
	EXPECT_EQ(dev_read_u64(d, 0, "leases"), 3);
	ASSERT_EQ(lease_write(d, "b", "ctl", "vram 1M\n"), 0);
	EXPECT_EQ(dev_read_u64(d, 0, "vram.used"), 4 * MiB);
	EXPECT_EQ(dev_read_u64(d, 0, "vram.capacity"), cap);
	ASSERT_EQ(lease_remove(d, "a"), 0);
	EXPECT_EQ(dev_read_u64(d, 0, "vram.used"), MiB);
	EXPECT_EQ(dev_read_u64(d, 0, "leases"), 2);
}

TEST_F(dev, no_such_device)
{
	struct gl_daemon *d = &self->d;
	struct stat st;
	int n;

	for (n = 1; n < 64; n++)
		if (stat(gl_path(d, "devices/%d", n), &st))
			break;
	EXPECT_EQ(errno, ENOENT);
	EXPECT_EQ(dev_read_u64(d, n, "vram.free"), -ENOENT);
	EXPECT_EQ(dev_read_u64(d, 0, "nofile"), -ENOENT);
}

TEST_HARNESS_MAIN
