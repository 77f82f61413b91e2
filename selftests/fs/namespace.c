/* SPDX-License-Identifier: MIT */
/*
 * namespace.c - the tree's names: a lease may never take a name leases/
 * holds itself (ctl), by mkdir or by acquire alike, so no lease can become
 * unreachable; and nothing but mkdir/rmdir of a lease changes a name:
 * rename, create, mknod, symlink, link and unlink give EPERM, as configfs
 * and cgroupfs answer.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "selftests/harness.h"
#include "selftests/lib/gltest.h"

static const char *const args[] = { "--cpu-vram", "64M", NULL };

FIXTURE(ns) {
	struct gl_daemon d;
};

FIXTURE_SETUP(ns)
{
	GL_DAEMON_SETUP(&self->d, args);
	ASSERT_EQ(lease_create(&self->d, "a"), 0);
}

FIXTURE_TEARDOWN(ns)
{
	GL_DAEMON_TEARDOWN(&self->d);
}

/* -errno of a libc call that returns -1 on failure, else 0. */
static int err_of(int ret)
{
	return ret < 0 ? -errno : 0;
}

static int reserved_refused(void *arg)
{
	const struct gl_daemon *d = arg;
	char text[GL_TEXT_MAX];

	EXPECT_EQ(gl_ctl_write(d, "leases/ctl",
			       "acquire ctl vram=128K ttl=86400\n"), -EEXIST);
	EXPECT_EQ(lease_create(d, "ctl"), -EEXIST);
	ASSERT_GE(gl_read(d, "leases/ctl", text, sizeof(text)), 0);
	EXPECT_TRUE(strstr(text, "acquire ctl ") == NULL) TH_LOG("%s", text);
	return 0;
}

TEST_F(ns, reserved_name_refused_by_mkdir_and_acquire)
{
	struct gl_daemon *d = &self->d;
	char text[GL_TEXT_MAX];
	long long used = dev_read_u64(d, 0, "vram.used");

	EXPECT_EQ(reserved_refused(d), 0);
	EXPECT_EQ(gl_run_as_nobody(reserved_refused, d), 0);
	/* nothing was reserved, leases/ctl is still the file it was */
	EXPECT_EQ(dev_read_u64(d, 0, "vram.used"), used);
	EXPECT_EQ(gl_count_leases(d), 1);
	EXPECT_GE(gl_read(d, "leases/ctl", text, sizeof(text)), 0);
	EXPECT_EQ(lease_remove(d, "ctl"), -ENOTDIR);
	/* past any ttl: nothing named ctl is left to expire */
	ASSERT_EQ(gl_ctl_write(d, "ctl", "clock_offset 90000\n"), 0);
	EXPECT_EQ(lease_remove(d, "a"), 0);
	EXPECT_EQ(gl_count_leases(d), 0);
}

static int namespace_eperm(void *arg)
{
	const struct gl_daemon *d = arg;

	/* rename: a lease, a file in it, leases/ctl */
	EXPECT_EQ(err_of(rename(gl_path(d, "leases/a"),
				gl_path(d, "leases/b"))), -EPERM);
	EXPECT_EQ(err_of(rename(gl_path(d, "leases/a/ctl"),
				gl_path(d, "leases/a/c2"))), -EPERM);
	EXPECT_EQ(err_of(rename(gl_path(d, "leases/ctl"),
				gl_path(d, "leases/c2"))), -EPERM);
	/* create, in leases/ and in a lease */
	EXPECT_EQ(err_of(open(gl_path(d, "leases/x"),
			      O_CREAT | O_WRONLY, 0600)), -EPERM);
	EXPECT_EQ(err_of(open(gl_path(d, "leases/a/x"),
			      O_CREAT | O_EXCL | O_WRONLY, 0600)), -EPERM);
	/* mknod */
	EXPECT_EQ(err_of(mkfifo(gl_path(d, "leases/a/fifo"), 0600)), -EPERM);
	EXPECT_EQ(err_of(mknod(gl_path(d, "leases/a/f"), S_IFREG | 0600, 0)),
		  -EPERM);
	/* symlink, link */
	EXPECT_EQ(err_of(symlink("ctl", gl_path(d, "leases/a/l"))), -EPERM);
	EXPECT_EQ(err_of(symlink("a", gl_path(d, "leases/l"))), -EPERM);
	EXPECT_EQ(err_of(link(gl_path(d, "leases/a/ctl"),
			      gl_path(d, "leases/a/c2"))), -EPERM);
	/* unlink: a lease's file, leases/ctl */
	EXPECT_EQ(err_of(unlink(gl_path(d, "leases/a/ctl"))), -EPERM);
	EXPECT_EQ(err_of(unlink(gl_path(d, "leases/a/vram"))), -EPERM);
	EXPECT_EQ(err_of(unlink(gl_path(d, "leases/ctl"))), -EPERM);
	return 0;
}

TEST_F(ns, name_changes_eperm)
{
	struct gl_daemon *d = &self->d;
	struct stat st;

	EXPECT_EQ(namespace_eperm(d), 0);
	/* and nothing changed */
	EXPECT_EQ(stat(gl_path(d, "leases/a/ctl"), &st), 0);
	EXPECT_EQ(stat(gl_path(d, "leases/a/vram"), &st), 0);
	EXPECT_EQ(stat(gl_path(d, "leases/ctl"), &st), 0);
	EXPECT_EQ(err_of(stat(gl_path(d, "leases/b"), &st)), -ENOENT);
	EXPECT_EQ(err_of(stat(gl_path(d, "leases/a/x"), &st)), -ENOENT);
	EXPECT_EQ(gl_count_leases(d), 1);
}

/* A user in its own lease gets EPERM too, not EACCES or ENOSYS. */
static int nobody_eperm(void *arg)
{
	const struct gl_daemon *d = arg;

	if (lease_create(d, "n1"))
		return -EIO;
	EXPECT_EQ(err_of(rename(gl_path(d, "leases/n1"),
				gl_path(d, "leases/n2"))), -EPERM);
	EXPECT_EQ(err_of(open(gl_path(d, "leases/n1/x"),
			      O_CREAT | O_WRONLY, 0600)), -EPERM);
	EXPECT_EQ(err_of(unlink(gl_path(d, "leases/n1/ctl"))), -EPERM);
	EXPECT_EQ(err_of(symlink("ctl", gl_path(d, "leases/n1/l"))), -EPERM);
	return lease_remove(d, "n1");
}

TEST_F(ns, name_changes_eperm_for_owner)
{
	EXPECT_EQ(gl_run_as_nobody(nobody_eperm, &self->d), 0);
}

TEST_HARNESS_MAIN
