/* SPDX-License-Identifier: MIT */
/*
 * notify.c - the front end's notifier: an operation waits a bounded time
 * (200 ms) for its invalidation to be sent and then returns without it. A
 * notifier slowed by the root-only notify_delay_ms knob forces that
 * timeout on every truncate; the late invalidations must still be sent and
 * touch nothing of the waiters that gave up. Started with ASan's
 * detect_stack_use_after_return, so a notifier writing into a waiter's
 * dead frame kills the daemon in the sanitizer build.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "selftests/harness.h"
#include "selftests/lib/gltest.h"

#define SIZE	(64 * 1024)
#define DELAY	500	/* ms the notifier sleeps per item: > 200 */
#define ROUNDS	4

static const char *const args[] = { "--cpu-vram", "64M", NULL };

FIXTURE(notify) {
	struct gl_daemon d;
};

FIXTURE_SETUP(notify)
{
	const char *old = getenv("ASAN_OPTIONS");
	char opts[512];

	snprintf(opts, sizeof(opts), "%s%sdetect_stack_use_after_return=1",
		 old ? old : "", old && *old ? ":" : "");
	setenv("ASAN_OPTIONS", opts, 1);
	GL_DAEMON_SETUP(&self->d, args);
	ASSERT_EQ(lease_create(&self->d, "n"), 0);
	ASSERT_EQ(lease_write(&self->d, "n", "ctl", "vram %d\n", SIZE), 0);
}

FIXTURE_TEARDOWN(notify)
{
	GL_DAEMON_TEARDOWN(&self->d);
}

TEST_F(notify, truncate_outlives_slow_notifier)
{
	struct gl_daemon *d = &self->d;
	static unsigned char buf[SIZE], zero[SIZE];
	unsigned char *map;
	int fd, i;

	fd = lease_open(d, "n", "vram", O_RDWR);
	ASSERT_GE(fd, 0);
	map = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(map, MAP_FAILED);
	ASSERT_EQ(gl_ctl_write(d, "ctl", "notify_delay_ms %d\n", DELAY), 0);
	for (i = 0; i < ROUNDS; i++) {
		/* cached pages, then a truncate whose wait times out */
		memset(buf, 0x40 + i, sizeof(buf));
		ASSERT_EQ(pwrite(fd, buf, SIZE, 0), SIZE);
		EXPECT_EQ(map[SIZE - 1], 0x40 + i);
		ASSERT_EQ(ftruncate(fd, 0), 0) TH_LOG("round %d: %s", i,
						      strerror(errno));
		/* the workers go on with other calls meanwhile */
		EXPECT_EQ(lease_write(d, "n", "ctl", "renew\n"), 0);
		EXPECT_EQ(gl_count_leases(d), 1);
	}
	/* give every late invalidation time to be sent, workers idle */
	usleep((ROUNDS + 1) * DELAY * 1000);
	ASSERT_EQ(gl_ctl_write(d, "ctl", "notify_delay_ms 0\n"), 0);
	/* the last truncate's invalidation has been sent: zeros, everywhere */
	ASSERT_EQ(pread(fd, buf, SIZE, 0), SIZE);
	EXPECT_EQ(memcmp(buf, zero, SIZE), 0);
	EXPECT_EQ(memcmp(map, zero, SIZE), 0);
	munmap(map, SIZE);
	close(fd);
	EXPECT_EQ(lease_remove(d, "n"), 0);
}

static int nobody_knob(void *arg)
{
	return gl_ctl_write(arg, "ctl", "notify_delay_ms 1000\n");
}

TEST_F(notify, knob_root_only_and_bounded)
{
	struct gl_daemon *d = &self->d;
	long long v = -1;

	EXPECT_EQ(gl_run_as_nobody(nobody_knob, d), -EACCES);
	EXPECT_EQ(gl_ctl_write(d, "ctl", "notify_delay_ms 10001\n"), -EINVAL);
	EXPECT_EQ(gl_ctl_write(d, "ctl", "notify_delay_ms x\n"), -EINVAL);
	ASSERT_EQ(gl_ctl_write(d, "ctl", "notify_delay_ms 7\n"), 0);
	ASSERT_EQ(gl_read_key(d, "ctl", "notify_delay_ms", &v), 0);
	EXPECT_EQ(v, 7);
	ASSERT_EQ(gl_ctl_write(d, "ctl", "notify_delay_ms 0\n"), 0);
}

TEST_HARNESS_MAIN
