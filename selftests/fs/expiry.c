/* SPDX-License-Identifier: MIT */
/*
 * expiry.c - a lease past its TTL: memory freed at once, state expired,
 * every file inside fails EKEYEXPIRED (lookup, open, read, write, also on
 * files opened before), the name stays taken until rmdir, which works.
 * Driven by ttl 1 with a bounded poll and by the clock_offset debug knob.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "selftests/harness.h"
#include "selftests/lib/gltest.h"

#define MiB (1024LL * 1024)

static const char *const args[] = { "--cpu-vram", "64M", NULL };

FIXTURE(expiry) {
	struct gl_daemon d;
};

FIXTURE_SETUP(expiry)
{
	GL_DAEMON_SETUP(&self->d, args);
}

FIXTURE_TEARDOWN(expiry)
{
	GL_DAEMON_TEARDOWN(&self->d);
}

struct lease_ref {
	const struct gl_daemon *d;
	const char *name;
};

static int is_expired(void *arg)
{
	struct lease_ref *r = arg;
	char s[64];

	return lease_read_key_str(r->d, r->name, "state", s,
				  sizeof(s)) == -EKEYEXPIRED;
}

struct used_is {
	const struct gl_daemon *d;
	long long bytes;
};

static int used_is(void *arg)
{
	struct used_is *u = arg;

	return dev_read_u64(u->d, 0, "vram.used") == u->bytes;
}

/*
 * The reaper may free an expired lease just after the clock_offset write
 * returns: wait (bounded) for vram.used to reach @bytes.
 */
static int wait_used(const struct gl_daemon *d, long long bytes)
{
	struct used_is u = { d, bytes };

	return gl_wait_until(used_is, &u, gl_scale_ms(d, 5000));
}

/* Every way into an expired lease fails with EKEYEXPIRED. */
static void expect_all_expired(const struct gl_daemon *d, const char *name)
{
	static const char *const files[] = { "ctl", "vram", "stats" };
	char buf[256];
	struct stat st;
	size_t i;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		EXPECT_EQ(lease_open(d, name, files[i], O_RDONLY),
			  -EKEYEXPIRED) TH_LOG("open %s/%s", name, files[i]);
		EXPECT_EQ(lease_read(d, name, files[i], buf, sizeof(buf)),
			  -EKEYEXPIRED);
		errno = 0;
		EXPECT_EQ(stat(gl_path(d, "leases/%s/%s", name, files[i]),
			       &st), -1) TH_LOG("stat %s/%s", name, files[i]);
		EXPECT_EQ(errno, EKEYEXPIRED);
	}
	EXPECT_EQ(lease_write(d, name, "ctl", "renew\n"), -EKEYEXPIRED);
	EXPECT_EQ(lease_write(d, name, "ctl", "vram 4096\n"), -EKEYEXPIRED);
	EXPECT_EQ(lease_open(d, name, "vram", O_WRONLY), -EKEYEXPIRED);
}

TEST_F(expiry, ttl_one_expires)
{
	struct gl_daemon *d = &self->d;
	struct lease_ref r = { d, "e1" };
	long long cap = dev_read_u64(d, 0, "vram.capacity");

	ASSERT_EQ(lease_create(d, "e1"), 0);
	ASSERT_EQ(lease_write(d, "e1", "ctl", "vram 2M\n"), 0);
	ASSERT_EQ(dev_read_u64(d, 0, "vram.used"), 2 * MiB);
	ASSERT_EQ(lease_write(d, "e1", "ctl", "ttl 1\n"), 0);
	ASSERT_EQ(gl_wait_until(is_expired, &r, gl_scale_ms(d, 15000)), 0)
		TH_LOG("lease e1 with ttl 1 never expired");
	/* Expiry frees the memory at once. */
	EXPECT_EQ(dev_read_u64(d, 0, "vram.used"), 0);
	EXPECT_EQ(dev_read_u64(d, 0, "vram.free"), cap);
	EXPECT_EQ(dev_read_u64(d, 0, "leases"), 0);
	expect_all_expired(d, "e1");
	EXPECT_EQ(lease_remove(d, "e1"), 0);
	EXPECT_EQ(gl_count_leases(d), 0);
}

TEST_F(expiry, acquire_ttl_one_expires)
{
	struct gl_daemon *d = &self->d;
	struct lease_ref r = { d, "e1" };

	ASSERT_EQ(gl_ctl_write(d, "leases/ctl",
			       "acquire e1 vram=1M ttl=1\n"), 0);
	ASSERT_EQ(gl_wait_until(is_expired, &r, gl_scale_ms(d, 15000)), 0);
	EXPECT_EQ(dev_read_u64(d, 0, "vram.used"), 0);
	EXPECT_EQ(lease_remove(d, "e1"), 0);
}

TEST_F(expiry, clock_offset_expires)
{
	struct gl_daemon *d = &self->d;
	long long cap = dev_read_u64(d, 0, "vram.capacity"), v;
	char s[64];

	ASSERT_EQ(lease_create(d, "e1"), 0);
	ASSERT_EQ(lease_write(d, "e1", "ctl", "vram 2M\n"), 0);
	ASSERT_EQ(lease_create(d, "live"), 0);
	ASSERT_EQ(lease_write(d, "live", "ctl", "ttl 86400\n"), 0);
	ASSERT_EQ(lease_write(d, "live", "ctl", "vram 1M\n"), 0);
	ASSERT_EQ(lease_read_key_str(d, "e1", "state", s, sizeof(s)), 0);
	EXPECT_STREQ(s, GL_STATE_ACTIVE);

	/* Default TTL is 3600 s: two hours later e1 is gone, live is not. */
	ASSERT_EQ(gl_ctl_write(d, "ctl", "clock_offset 7200\n"), 0);
	ASSERT_EQ(gl_read_key(d, "ctl", "clock_offset", &v), 0);
	EXPECT_EQ(v, 7200);
	EXPECT_EQ(wait_used(d, MiB), 0);
	EXPECT_EQ(dev_read_u64(d, 0, "vram.used"), MiB);
	EXPECT_EQ(dev_read_u64(d, 0, "vram.free"), cap - MiB);
	EXPECT_EQ(dev_read_u64(d, 0, "leases"), 1);
	expect_all_expired(d, "e1");

	ASSERT_EQ(lease_read_key_str(d, "live", "state", s, sizeof(s)), 0);
	EXPECT_STREQ(s, GL_STATE_ACTIVE);
	ASSERT_EQ(lease_read_key(d, "live", "expires_in", &v), 0);
	EXPECT_LE(v, 86400 - 7200);
	EXPECT_GE(v, 86400 - 7200 - 5);

	/* The name stays taken until rmdir; rmdir works. */
	EXPECT_EQ(gl_count_leases(d), 2);
	EXPECT_EQ(lease_create(d, "e1"), -EEXIST);
	EXPECT_EQ(gl_ctl_write(d, "leases/ctl", "acquire e1\n"), -EEXIST);
	EXPECT_EQ(lease_remove(d, "e1"), 0);
	EXPECT_EQ(lease_create(d, "e1"), 0);
	ASSERT_EQ(lease_read_key_str(d, "e1", "state", s, sizeof(s)), 0);
	EXPECT_STREQ(s, GL_STATE_ACTIVE);
	EXPECT_EQ(lease_remove(d, "live"), 0);
	EXPECT_EQ(dev_read_u64(d, 0, "vram.used"), 0);
}

/* Files opened before expiry fail too: no stale reads or writes. */
TEST_F(expiry, open_files_fail_after_expiry)
{
	struct gl_daemon *d = &self->d;
	char buf[4096];
	int ctl, vram;

	ASSERT_EQ(lease_create(d, "e1"), 0);
	ASSERT_EQ(lease_write(d, "e1", "ctl", "vram 64K\n"), 0);
	ctl = lease_open(d, "e1", "ctl", O_RDWR);
	ASSERT_GE(ctl, 0);
	vram = lease_open(d, "e1", "vram", O_RDWR);
	ASSERT_GE(vram, 0);
	ASSERT_EQ(gl_ctl_write(d, "ctl", "clock_offset 4000\n"), 0);
	EXPECT_EQ(wait_used(d, 0), 0);

	memset(buf, 0x5a, sizeof(buf));
	EXPECT_EQ(pread(ctl, buf, sizeof(buf), 0), -1);
	EXPECT_EQ(errno, EKEYEXPIRED);
	EXPECT_EQ(write(ctl, "renew\n", 6), -1);
	EXPECT_EQ(errno, EKEYEXPIRED);
	EXPECT_EQ(pwrite(vram, buf, sizeof(buf), 0), -1);
	EXPECT_EQ(errno, EKEYEXPIRED);
	EXPECT_EQ(pread(vram, buf, sizeof(buf), 0), -1);
	EXPECT_EQ(errno, EKEYEXPIRED);
	close(ctl);
	close(vram);
	EXPECT_EQ(lease_remove(d, "e1"), 0);
}

TEST_F(expiry, clock_offset_never_back)
{
	struct gl_daemon *d = &self->d;
	long long v;

	ASSERT_EQ(gl_read_key(d, "ctl", "clock_offset", &v), 0);
	EXPECT_EQ(v, 0);
	ASSERT_EQ(gl_ctl_write(d, "ctl", "clock_offset 100\n"), 0);
	EXPECT_EQ(gl_ctl_write(d, "ctl", "clock_offset 50\n"), -EINVAL);
	EXPECT_EQ(gl_ctl_write(d, "ctl", "clock_offset -1\n"), -EINVAL);
	ASSERT_EQ(gl_read_key(d, "ctl", "clock_offset", &v), 0);
	EXPECT_EQ(v, 100);
	EXPECT_EQ(gl_ctl_write(d, "ctl", "clock_offset 100\n"), 0);
	EXPECT_EQ(gl_ctl_write(d, "ctl", "clock_offset 101\n"), 0);
}

/* An expired lease still counts as a name but not as device memory. */
TEST_F(expiry, expired_not_in_device_leases)
{
	struct gl_daemon *d = &self->d;

	ASSERT_EQ(gl_ctl_write(d, "leases/ctl", "acquire a vram=1M ttl=10\n"),
		  0);
	ASSERT_EQ(gl_ctl_write(d, "leases/ctl", "acquire b vram=1M ttl=100\n"),
		  0);
	EXPECT_EQ(dev_read_u64(d, 0, "leases"), 2);
	ASSERT_EQ(gl_ctl_write(d, "ctl", "clock_offset 20\n"), 0);
	EXPECT_EQ(wait_used(d, MiB), 0);
	EXPECT_EQ(dev_read_u64(d, 0, "leases"), 1);
	EXPECT_EQ(dev_read_u64(d, 0, "vram.used"), MiB);
	ASSERT_EQ(gl_ctl_write(d, "ctl", "clock_offset 200\n"), 0);
	EXPECT_EQ(wait_used(d, 0), 0);
	EXPECT_EQ(dev_read_u64(d, 0, "leases"), 0);
	EXPECT_EQ(dev_read_u64(d, 0, "vram.used"), 0);
	EXPECT_EQ(gl_count_leases(d), 2);
	EXPECT_EQ(lease_remove(d, "a"), 0);
	EXPECT_EQ(lease_remove(d, "b"), 0);
}

TEST_HARNESS_MAIN
