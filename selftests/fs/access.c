/* SPDX-License-Identifier: MIT */
/*
 * access.c - ownership: a lease belongs to its creator's uid, mode 0700;
 * another uid (nobody) gets EACCES for every access to it, cannot write the
 * daemon policy in /ctl and does not see it in leases/ctl; nobody can still
 * make and use its own leases; root may read and drop any lease. Lease
 * names are visible to their owner and root only, in every listing alike:
 * ls leases/, leases/ctl and the per-lease series of metrics.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "selftests/harness.h"
#include "selftests/lib/gltest.h"

#define MiB (1024LL * 1024)

static const char *const args[] = { "--cpu-vram", "64M", NULL };

FIXTURE(access) {
	struct gl_daemon d;
};

FIXTURE_SETUP(access)
{
	GL_DAEMON_SETUP(&self->d, args);
	ASSERT_EQ(gl_ctl_write(&self->d, "leases/ctl",
			       "acquire r1 vram=1M\n"), 0);
}

FIXTURE_TEARDOWN(access)
{
	GL_DAEMON_TEARDOWN(&self->d);
}

/* Callbacks run as nobody in a child; EXPECT_* reports into the test. */
static int nobody_denied(void *arg)
{
	const struct gl_daemon *d = arg;
	char buf[512];
	struct stat st;

	EXPECT_EQ(lease_read(d, "r1", "ctl", buf, sizeof(buf)), -EACCES);
	EXPECT_EQ(lease_open(d, "r1", "vram", O_RDONLY), -EACCES);
	EXPECT_EQ(lease_open(d, "r1", "vram", O_WRONLY), -EACCES);
	EXPECT_EQ(lease_read(d, "r1", "stats", buf, sizeof(buf)), -EACCES);
	EXPECT_EQ(lease_write(d, "r1", "ctl", "renew\n"), -EACCES);
	EXPECT_EQ(lease_write(d, "r1", "ctl", "vram 2M\n"), -EACCES);
	EXPECT_EQ(lease_remove(d, "r1"), -EACCES);
	errno = 0;
	EXPECT_EQ(stat(gl_path(d, "leases/r1/ctl"), &st), -1);
	EXPECT_EQ(errno, EACCES);
	return 0;
}

TEST_F(access, other_uid_eacces)
{
	struct gl_daemon *d = &self->d;
	long long v = -1;

	EXPECT_EQ(gl_run_as_nobody(nobody_denied, d), 0);
	/* Nothing changed. */
	ASSERT_EQ(lease_read_key(d, "r1", "vram", &v), 0);
	EXPECT_EQ(v, MiB);
	EXPECT_EQ(gl_count_leases(d), 1);
}

static int nobody_policy(void *arg)
{
	const struct gl_daemon *d = arg;
	char text[GL_TEXT_MAX];

	/* /ctl is 0644: readable, but only root writes. */
	EXPECT_GT(gl_read(d, "ctl", text, sizeof(text)), 0);
	EXPECT_EQ(gl_ctl_write(d, "ctl", "default_ttl 10\n"), -EACCES);
	EXPECT_EQ(gl_ctl_write(d, "ctl", "quota 65534 none\n"), -EACCES);
	EXPECT_EQ(gl_ctl_write(d, "ctl", "clock_offset 99999\n"), -EACCES);
	/* The device files are for everyone. */
	EXPECT_GE(dev_read_u64(d, 0, "vram.free"), 0);
	return 0;
}

TEST_F(access, other_uid_policy_readonly)
{
	struct gl_daemon *d = &self->d;
	long long v = -1;

	EXPECT_EQ(gl_run_as_nobody(nobody_policy, d), 0);
	ASSERT_EQ(gl_read_key(d, "ctl", "default_ttl", &v), 0);
	EXPECT_EQ(v, 3600);
	ASSERT_EQ(gl_read_key(d, "ctl", "clock_offset", &v), 0);
	EXPECT_EQ(v, 0);
}

static int nobody_own_lease(void *arg)
{
	const struct gl_daemon *d = arg;
	char text[GL_TEXT_MAX];
	struct stat st;
	long long v = -1;
	int fd;

	EXPECT_EQ(lease_create(d, "n1"), 0);
	EXPECT_EQ(stat(gl_path(d, "leases/n1"), &st), 0);
	EXPECT_EQ(st.st_uid, GL_NOBODY_UID);
	EXPECT_EQ(st.st_mode & 07777, 0700);
	EXPECT_EQ(lease_write(d, "n1", "ctl", "vram 1M\n"), 0);
	EXPECT_EQ(lease_read_key(d, "n1", "owner", &v), 0);
	EXPECT_EQ(v, GL_NOBODY_UID);
	fd = lease_open(d, "n1", "vram", O_RDWR);
	EXPECT_GE(fd, 0);
	if (fd >= 0) {
		EXPECT_EQ(pwrite(fd, "nobody", 6, 100), 6);
		close(fd);
	}
	EXPECT_EQ(gl_ctl_write(d, "leases/ctl", "acquire n2 vram=4K\n"), 0);
	/* leases/ctl lists only what the caller can see. */
	EXPECT_GT(gl_read(d, "leases/ctl", text, sizeof(text)), 0);
	EXPECT_TRUE(strstr(text, "acquire n1 ") != NULL)
		TH_LOG("leases/ctl as nobody:\n%s", text);
	EXPECT_TRUE(strstr(text, "acquire n2 ") != NULL);
	EXPECT_TRUE(strstr(text, "acquire r1 ") == NULL);
	return 0;
}

TEST_F(access, other_uid_own_lease_root_drops)
{
	struct gl_daemon *d = &self->d;
	char buf[16] = "";
	long long v = -1;
	int fd;

	EXPECT_EQ(gl_run_as_nobody(nobody_own_lease, d), 0);
	/* Root reads and drops anyone's lease. */
	ASSERT_EQ(lease_read_key(d, "n1", "owner", &v), 0);
	EXPECT_EQ(v, GL_NOBODY_UID);
	fd = lease_open(d, "n1", "vram", O_RDONLY);
	ASSERT_GE(fd, 0);
	EXPECT_EQ(pread(fd, buf, 6, 100), 6);
	close(fd);
	EXPECT_STREQ(buf, "nobody");
	EXPECT_EQ(dev_read_u64(d, 0, "vram.used"), 2 * MiB + 4096);
	EXPECT_EQ(lease_remove(d, "n1"), 0);
	EXPECT_EQ(lease_remove(d, "n2"), 0);
	EXPECT_EQ(dev_read_u64(d, 0, "vram.used"), MiB);
}

/* Whether leases/ lists @name. */
static int ls_has(const struct gl_daemon *d, const char *name)
{
	struct dirent *de;
	int found = 0;
	DIR *dir;

	dir = opendir(gl_path(d, "leases"));
	if (!dir)
		return -errno;
	while ((de = readdir(dir)))
		found |= !strcmp(de->d_name, name);
	closedir(dir);
	return found;
}

/* Whether metrics has a gpulease_lease_seconds_total sample for @name. */
static int metrics_has(const struct gl_daemon *d, const char *name)
{
	char text[GL_TEXT_MAX], want[128];
	int n = gl_read(d, "metrics", text, sizeof(text));

	if (n < 0)
		return n;
	snprintf(want, sizeof(want),
		 "gpulease_lease_seconds_total{lease=\"%s\",", name);
	return strstr(text, want) != NULL;
}

/* leases/ctl lists @name. */
static int ctl_has(const struct gl_daemon *d, const char *name)
{
	char text[GL_TEXT_MAX], want[128];
	int n = gl_read(d, "leases/ctl", text, sizeof(text));

	if (n < 0)
		return n;
	snprintf(want, sizeof(want), "acquire %s ", name);
	return strstr(text, want) != NULL;
}

static int nobody_sees(void *arg)
{
	const struct gl_daemon *d = arg;
	long long active = -1;

	EXPECT_EQ(lease_create(d, "n1"), 0);
	/* its own lease, in every listing */
	EXPECT_EQ(ls_has(d, "n1"), 1);
	EXPECT_EQ(ctl_has(d, "n1"), 1);
	EXPECT_EQ(metrics_has(d, "n1"), 1);
	/* root's lease, in none of them */
	EXPECT_EQ(ls_has(d, "r1"), 0);
	EXPECT_EQ(ctl_has(d, "r1"), 0);
	EXPECT_EQ(metrics_has(d, "r1"), 0);
	/* counts carry no names: they stay daemon-wide */
	EXPECT_EQ(gl_read_key(d, "metrics",
			      "gpulease_leases{state=\"active\"}", &active), 0);
	EXPECT_EQ(active, 2);
	return 0;
}

TEST_F(access, names_visible_to_owner_and_root)
{
	struct gl_daemon *d = &self->d;

	EXPECT_EQ(gl_run_as_nobody(nobody_sees, d), 0);
	/* root sees every name, in every listing */
	EXPECT_EQ(ls_has(d, "r1"), 1);
	EXPECT_EQ(ls_has(d, "n1"), 1);
	EXPECT_EQ(ctl_has(d, "r1"), 1);
	EXPECT_EQ(ctl_has(d, "n1"), 1);
	EXPECT_EQ(metrics_has(d, "r1"), 1);
	EXPECT_EQ(metrics_has(d, "n1"), 1);
	EXPECT_EQ(gl_count_leases(d), 2);
}

TEST_HARNESS_MAIN
