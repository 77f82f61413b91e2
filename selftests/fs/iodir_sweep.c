/* SPDX-License-Identifier: MIT */
/*
 * iodir_sweep.c - at start gpuleased removes the io directories
 * (/dev/shm/gpulease.*) of dead daemons, and nothing else: not a
 * symlink planted under that name (nor what it points at), not a
 * directory of another owner or mode, not one whose lock a live process
 * holds, and not the directory of a live background daemon. Each test
 * runs in a mount namespace of its own with a private /dev/shm.
 *
 * run_tests: no-background (each test starts its own daemons, both ways)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "selftests/harness.h"
#include "selftests/lib/gltest.h"

FIXTURE(sweep) {
	struct gl_daemon d;
	struct gl_daemon d2;
	char victim[64];
};

FIXTURE_SETUP(sweep)
{
	const char *why = gl_daemon_unavailable();

	if (why)
		SKIP(return, "%s", why);
	ASSERT_EQ(gl_private_shm(), 0);
}

FIXTURE_TEARDOWN(sweep)
{
	char path[128];

	GL_DAEMON_TEARDOWN(&self->d2);
	GL_DAEMON_TEARDOWN(&self->d);
	if (self->victim[0]) {
		snprintf(path, sizeof(path), "%s/precious", self->victim);
		unlink(path);
		rmdir(self->victim);
	}
}

static int exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* A file of root's behind a symlink named like an io directory stays. */
TEST_F(sweep, symlink_not_followed)
{
	char path[128];
	int fd;

	snprintf(self->victim, sizeof(self->victim),
		 "/tmp/gltest-victim.XXXXXX");
	ASSERT_NE(mkdtemp(self->victim), NULL);
	ASSERT_EQ(chmod(self->victim, 0711), 0);
	snprintf(path, sizeof(path), "%s/precious", self->victim);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	ASSERT_GE(fd, 0);
	close(fd);
	ASSERT_EQ(symlink(self->victim, "/dev/shm/gpulease.2147483000"), 0);
	ASSERT_EQ(symlink(self->victim, "/dev/shm/gpulease.AbCdEf"), 0);
	ASSERT_EQ(gl_daemon_start_bg(&self->d, NULL), 0);
	EXPECT_TRUE(exists(path)) TH_LOG("the sweep followed a symlink");
	EXPECT_TRUE(exists("/dev/shm/gpulease.2147483000"));
	EXPECT_TRUE(exists("/dev/shm/gpulease.AbCdEf"));
}

/* Plant /dev/shm/@name of @uid and @mode, with a file in it. */
static int plant(const char *name, uid_t uid, mode_t mode)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "/dev/shm/%s", name);
	if (mkdir(path, 0700))
		return -errno;
	snprintf(path, sizeof(path), "/dev/shm/%s/m1.1", name);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	if (fd < 0)
		return -errno;
	close(fd);
	snprintf(path, sizeof(path), "/dev/shm/%s", name);
	if (chown(path, uid, uid) || chmod(path, mode))
		return -errno;
	return 0;
}

/*
 * A dead daemon's directory (root, 0711, unlocked) goes; one of another
 * owner, of another mode, locked by a live process, or named
 * gpulease.<pid> (before the lock) for a pid that runs stays.
 */
TEST_F(sweep, only_dead_daemons_dirs)
{
	char legacy[64], path[128];
	int held;

	ASSERT_EQ(plant("gpulease.2147483001", 0, 0711), 0);
	ASSERT_EQ(plant("gpulease.2147483002", GL_NOBODY_UID, 0711), 0);
	ASSERT_EQ(plant("gpulease.2147483003", 0, 0755), 0);
	ASSERT_EQ(plant("gpulease.2147483004", 0, 0711), 0);
	held = open("/dev/shm/gpulease.2147483004", O_RDONLY | O_DIRECTORY);
	ASSERT_GE(held, 0);
	ASSERT_EQ(flock(held, LOCK_EX), 0);
	snprintf(legacy, sizeof(legacy), "gpulease.%d", (int)getpid());
	ASSERT_EQ(plant(legacy, 0, 0711), 0);
	ASSERT_EQ(gl_daemon_start_bg(&self->d, NULL), 0);
	EXPECT_FALSE(exists("/dev/shm/gpulease.2147483001"));
	EXPECT_TRUE(exists("/dev/shm/gpulease.2147483002/m1.1"));
	EXPECT_TRUE(exists("/dev/shm/gpulease.2147483003/m1.1"));
	EXPECT_TRUE(exists("/dev/shm/gpulease.2147483004/m1.1"));
	snprintf(path, sizeof(path), "/dev/shm/%s/m1.1", legacy);
	EXPECT_TRUE(exists(path)) TH_LOG("a live pid's %s went", legacy);
	close(held);
}

/* A second daemon's start leaves the first (background) daemon's io
 * files alone. */
TEST_F(sweep, live_daemon_kept)
{
	char io[256];
	ssize_t n;

	ASSERT_EQ(gl_daemon_start_bg(&self->d, NULL), 0);
	ASSERT_EQ(lease_create(&self->d, "r"), 0);
	ASSERT_EQ(lease_write(&self->d, "r", "ctl", "io 64K\n"), 0);
	n = readlink(gl_path(&self->d, "leases/r/io"), io, sizeof(io) - 1);
	ASSERT_GT(n, 0);
	io[n] = '\0';
	ASSERT_TRUE(exists(io)) TH_LOG("%s", io);
	ASSERT_EQ(gl_daemon_start_bg(&self->d2, NULL), 0);
	EXPECT_TRUE(exists(io)) TH_LOG("the second daemon removed %s", io);
	EXPECT_EQ(lease_remove(&self->d, "r"), 0);
}

TEST_HARNESS_MAIN
