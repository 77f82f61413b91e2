/* SPDX-License-Identifier: MIT */
/*
 * launch.c - launches through leases/<name>/submit: results against a
 * scalar reference, the text and binary forms agree, every validation
 * errno with bounds at the very edge, O_NONBLOCK completions, per-lease
 * order, the watchdog, rmdir and expiry with launches queued, kernels/.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "selftests/harness.h"
#include "selftests/lib/gltest.h"
#include "uapi/launch.h"

static const char *const args[] = { "--cpu-vram", "256M", NULL };

FIXTURE(launch) {
	struct gl_daemon d;
};

FIXTURE_SETUP(launch)
{
	GL_DAEMON_SETUP(&self->d, args);
}

FIXTURE_TEARDOWN(launch)
{
	GL_DAEMON_TEARDOWN(&self->d);
}

/* A lease of @bytes named @name. */
static int vram_io(const struct gl_daemon *d, const char *name, void *buf,
		   size_t len, off_t off, int write)
{
	int fd = lease_open(d, name, "vram", O_RDWR);
	ssize_t n;

	if (fd < 0)
		return fd;
	n = write ? pwrite(fd, buf, len, off) : pread(fd, buf, len, off);
	close(fd);
	if (n < 0)
		return -errno;
	return n == (ssize_t)len ? 0 : -EIO;
}

TEST_F(launch, saxpy_matches_reference)
{
	static const unsigned sizes[] = { 1, 7, 1023, 4097 };
	struct gl_daemon *d = &self->d;
	unsigned long long seed = 42;
	size_t i, k;

	ASSERT_EQ(lease_sized(d, "s", 2 * 4097 * 4), 0);
	for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		unsigned n = sizes[k];
		float x[4097], y[4097], want[4097], got[4097];

		for (i = 0; i < n; i++) {
			x[i] = (float)(gl_rand(&seed) % 2001) / 100.0f - 10;
			y[i] = (float)(gl_rand(&seed) % 2001) / 100.0f - 10;
			want[i] = 1.5f * x[i] + y[i];
		}
		ASSERT_EQ(vram_io(d, "s", x, n * 4, 0, 1), 0);
		ASSERT_EQ(vram_io(d, "s", y, n * 4, 4097 * 4, 1), 0);
		ASSERT_EQ(lease_write(d, "s", "submit",
				      "saxpy grid=%u block=256 u32:%u f32:1.5 "
				      "buf:0:%u buf:%u:%u\n",
				      (n + 255) / 256, n, n * 4, 4097 * 4,
				      n * 4), 0) TH_LOG("n=%u", n);
		ASSERT_EQ(vram_io(d, "s", got, n * 4, 4097 * 4, 0), 0);
		for (i = 0; i < n; i++)
			if (got[i] != want[i])
				break;
		EXPECT_EQ(i, n) TH_LOG("n=%u: y[%zu] = %g, want %g", n, i,
				       got[i], want[i]);
	}
}

/* A vram file kept open across launches reads each kernel's result: the
 * pages it cached before are dropped before the write to submit returns. */
TEST_F(launch, open_vram_sees_each_result)
{
	struct gl_daemon *d = &self->d;
	static float got[1 << 18];	/* 1 MiB */
	int fd, i, stale = 0;

	ASSERT_EQ(lease_sized(d, "c", sizeof(got)), 0);
	fd = lease_open(d, "c", "vram", O_RDWR);
	ASSERT_GE(fd, 0);
	for (i = 1; i <= 50; i++) {
		/* the client's own bytes through the page cache, then a
		 * kernel changes them behind it */
		ASSERT_EQ(pwrite(fd, got, sizeof(got), 0), (ssize_t)sizeof(got));
		ASSERT_EQ(lease_write(d, "c", "submit",
				      "fill grid=1024 u32:262144 f32:%d "
				      "buf:0:1M", i), 0);
		ASSERT_EQ(pread(fd, got, sizeof(got), 0), (ssize_t)sizeof(got));
		stale += got[0] != (float)i || got[262143] != (float)i;
	}
	EXPECT_EQ(stale, 0) TH_LOG("%d of 50 reads were stale", stale);
	close(fd);
}

/* The binary descriptor of uapi/launch.h does what the text line does. */
TEST_F(launch, binary_matches_text)
{
	struct gl_daemon *d = &self->d;
	struct gl_launch_desc b;
	float v = 3.25f, got[64];
	uint32_t bits;
	int fd, i;

	ASSERT_EQ(lease_sized(d, "b", 4096), 0);
	memset(&b, 0, sizeof(b));
	b.magic = GL_LAUNCH_MAGIC;
	b.version = GL_LAUNCH_VERSION;
	b.nargs = 3;
	strcpy(b.kernel, "fill");
	b.grid[0] = b.grid[1] = b.grid[2] = 1;
	b.block[0] = 64;
	b.block[1] = b.block[2] = 1;
	b.args[0].type = GL_ARG_U32;
	b.args[0].value = 64;
	b.args[1].type = GL_ARG_F32;
	memcpy(&bits, &v, 4);
	b.args[1].value = bits;
	b.args[2].type = GL_ARG_BUF;
	b.args[2].value = 0;
	b.args[2].len = 256;
	fd = lease_open(d, "b", "submit", O_WRONLY);
	ASSERT_GE(fd, 0);
	EXPECT_EQ(write(fd, &b, GL_LAUNCH_DESC_SIZE(3)),
		  (ssize_t)GL_LAUNCH_DESC_SIZE(3));
	/* a wrong size, a bad magic version, a reserved field: EINVAL */
	EXPECT_EQ(write(fd, &b, GL_LAUNCH_DESC_SIZE(3) - 1), -1);
	EXPECT_EQ(errno, EINVAL);
	b.reserved[0] = 1;
	EXPECT_EQ(write(fd, &b, GL_LAUNCH_DESC_SIZE(3)), -1);
	EXPECT_EQ(errno, EINVAL);
	b.reserved[0] = 0;
	b.nargs = GL_LAUNCH_ARGS_MAX + 1;
	EXPECT_EQ(write(fd, &b, sizeof(b)), -1);
	EXPECT_EQ(errno, EFBIG);
	close(fd);
	ASSERT_EQ(vram_io(d, "b", got, sizeof(got), 0, 0), 0);
	for (i = 0; i < 64; i++)
		EXPECT_EQ(got[i], v);
	ASSERT_EQ(lease_write(d, "b", "submit",
			      "fill grid=1 block=64 u32:64 f32:-1 buf:256:256"),
		  0);
	ASSERT_EQ(vram_io(d, "b", got, sizeof(got), 256, 0), 0);
	for (i = 0; i < 64; i++)
		EXPECT_EQ(got[i], -1.0f);
}

TEST_F(launch, validation_errnos)
{
	static const struct {
		const char *line;
		int err;
	} cases[] = {
		{ "nosuchkernel grid=1", -EINVAL },
		{ "saxpy block=256 u32:1 f32:1 buf:0:4 buf:4:4", -EINVAL },
		{ "saxpy grid=1 u32:1 f32:1 buf:0:4", -EINVAL },	/* arity */
		{ "saxpy grid=1 u32:1 u32:1 buf:0:4 buf:4:4", -EINVAL },
		{ "saxpy grid=1 f32:1 f32:1 buf:0:4 buf:4:4", -EINVAL },
		{ "saxpy grid=1 u32:1 f32:x buf:0:4 buf:4:4", -EINVAL },
		{ "saxpy grid=1 u32:-1 f32:1 buf:0:4 buf:4:4", -EINVAL },
		{ "saxpy grid=1 u32:4294967296 f32:1 buf:0:4 buf:4:4",
		  -EINVAL },
		{ "saxpy grid=0 u32:1 f32:1 buf:0:4 buf:4:4", -EINVAL },
		{ "saxpy grid=1,2 u32:1 f32:1 buf:0:4 buf:4:4", -EINVAL },
		{ "saxpy grid=1 block=2048 u32:1 f32:1 buf:0:4 buf:4:4",
		  -EINVAL },
		{ "saxpy grid=1,,1 u32:1 f32:1 buf:0:4 buf:4:4", -EINVAL },
		{ "saxpy grid=1 bogus=1 u32:1 f32:1 buf:0:4 buf:4:4",
		  -EINVAL },
		{ "saxpy grid=1 timeout_ms=0 u32:1 f32:1 buf:0:4 buf:4:4",
		  -EINVAL },
		/* an offset not aligned to the element (4 bytes) */
		{ "saxpy grid=1 u32:1 f32:1 buf:1:4 buf:8:4", -EINVAL },
		{ "saxpy grid=1 u32:1 f32:1 buf:0:4 buf:6:4", -EINVAL },
		/* last valid byte, then one past it: 8 KiB lease */
		{ "saxpy grid=1 u32:1 f32:1 buf:8188:4 buf:0:4", 0 },
		{ "saxpy grid=1 u32:1 f32:1 buf:8189:4 buf:0:4", -EFAULT },
		{ "saxpy grid=1 u32:1 f32:1 buf:0:4 buf:8192:4", -EFAULT },
		{ "saxpy grid=1 u32:1 f32:1 buf:0:4 buf:4:8189", -EFAULT },
		{ "saxpy grid=4 u32:1024 f32:1 buf:0:4096 buf:4096:4096", 0 },
		{ "saxpy grid=5 u32:1025 f32:1 buf:0:4096 buf:4096:4096",
		  -EFAULT },	/* n past the buffers: kernel check */
		{ "saxpy grid=1 u32:1 io:0:4 buf:0:4 buf:4:4", -EINVAL },
		{ "saxpy grid=1 u32:1 f32:1 io:0:4 buf:0:4", -EFAULT },
		{ "copy grid=1 u32:1 io:0:4 buf:0:4", -EFAULT },
	};
	struct gl_daemon *d = &self->d;
	char big[GL_LAUNCH_TEXT_MAX + 64];
	size_t i;

	ASSERT_EQ(lease_sized(d, "v", 8192), 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		EXPECT_EQ(lease_write(d, "v", "submit", "%s\n",
				      cases[i].line), cases[i].err)
			TH_LOG("'%s'", cases[i].line);
	/* over the text bound: EFBIG; 25 arguments: EFBIG */
	memset(big, ' ', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "noop grid=1", 11);
	EXPECT_EQ(gl_write_raw(d, "leases/v/submit", big, strlen(big)),
		  -EFBIG);
	EXPECT_EQ(gl_write_raw(d, "leases/v/submit", big,
			       GL_LAUNCH_TEXT_MAX), 0);	/* at the bound */
	strcpy(big, "noop grid=1");
	for (i = 0; i < GL_LAUNCH_ARGS_MAX + 1; i++)
		strcat(big, " u32:1");
	EXPECT_EQ(lease_write(d, "v", "submit", "%s", big), -EFBIG);
	EXPECT_EQ(lease_write(d, "v", "submit", "noop grid=1\nnoop grid=1"),
		  -EINVAL);
	ASSERT_EQ(lease_read_key_str(d, "v", "last_error", big, sizeof(big)),
		  0);
	EXPECT_EQ(strncmp(big, "EINVAL", 6), 0) TH_LOG("%s", big);
}

/* O_NONBLOCK writes return once queued; completions read back in order,
 * and the lease's launches ran in submission order. */
TEST_F(launch, nonblock_completions_in_order)
{
	struct gl_daemon *d = &self->d;
	char buf[4096], *p;
	float got[256];
	unsigned long long seq, ud;
	int fd, i, status, n = 0;

	ASSERT_EQ(lease_sized(d, "o", 4096), 0);
	fd = lease_open(d, "o", "submit", O_RDWR | O_NONBLOCK);
	ASSERT_GE(fd, 0);
	/* y = 1; y = 2y (x3) -> 8; order matters: fill last would give 1 */
	ASSERT_EQ(write(fd, "fill grid=1 u32:256 f32:1 buf:0:1024 user_data=7",
			48), 48);
	for (i = 0; i < 3; i++)
		ASSERT_EQ(write(fd, "scale grid=1 u32:256 f32:2 buf:0:1024 "
				    "buf:0:1024", 48), 48);
	/* block until all four are read back */
	ASSERT_EQ(fcntl(fd, F_SETFL, O_RDWR), 0);
	p = buf;
	while (p < buf + sizeof(buf) - 1) {
		ssize_t r = read(fd, p, buf + sizeof(buf) - 1 - p);

		ASSERT_GE(r, 0);
		if (!r)
			break;
		p += r;
	}
	*p = '\0';
	close(fd);
	for (p = buf; *p; p = strchr(p, '\n') + 1) {
		ASSERT_EQ(sscanf(p, "seq=%llu status=%d duration_ns=%*u "
				    "user_data=%llu", &seq, &status, &ud), 3)
			TH_LOG("line '%s'", p);
		EXPECT_EQ(status, 0);
		EXPECT_EQ(seq, (unsigned long long)n + 1);
		EXPECT_EQ(ud, n == 0 ? 7ull : 0ull);
		n++;
	}
	EXPECT_EQ(n, 4);
	ASSERT_EQ(vram_io(d, "o", got, sizeof(got), 0, 0), 0);
	for (i = 0; i < 256; i++)
		EXPECT_EQ(got[i], 8.0f);
	ASSERT_EQ(lease_read_key(d, "o", "launches", (long long *)&seq), 0);
	EXPECT_EQ(seq, 4ull);
}

/* A launch past its timeout ends with ETIMEDOUT; another lease's launch
 * running meanwhile finishes correctly. */
TEST_F(launch, watchdog_times_out_one_lease_only)
{
	struct gl_daemon *d = &self->d;
	float got[1024];
	pid_t pid;
	int st, i;

	ASSERT_EQ(lease_sized(d, "slow", SPIN_VRAM), 0);
	ASSERT_EQ(lease_sized(d, "fast", 8192), 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		int err = lease_write(d, "slow", "submit",
				      SPIN " timeout_ms=1");

		_exit(err == -ETIMEDOUT ? 0 : 1);
	}
	for (i = 0; i < 20; i++)
		EXPECT_EQ(lease_write(d, "fast", "submit",
				      "fill grid=4 u32:1024 f32:%d "
				      "buf:0:4096", i), 0);
	ASSERT_EQ(vram_io(d, "fast", got, sizeof(got), 0, 0), 0);
	for (i = 0; i < 1024; i++)
		EXPECT_EQ(got[i], 19.0f);
	ASSERT_EQ(waitpid(pid, &st, 0), pid);
	EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0)
		TH_LOG("the slow launch did not end with ETIMEDOUT");
	EXPECT_EQ(lease_write(d, "slow", "submit", "noop grid=1"), 0);
	ASSERT_EQ(lease_read_key_str(d, "slow", "last_error", (char *)got,
				     sizeof(got)), 0);
	EXPECT_EQ(strncmp((char *)got, "ETIMEDOUT", 9), 0);
}

/* Read every completion line from @fd (blocking): how many had @status. */
static int count_status(int fd, int status, int *total)
{
	char buf[8192], *p = buf;
	int n = 0, s;
	ssize_t r;

	while ((r = read(fd, p, buf + sizeof(buf) - 1 - p)) > 0)
		p += r;
	*p = '\0';
	*total = 0;
	for (p = buf; *p; p = strchr(p, '\n') + 1) {
		if (sscanf(p, "seq=%*u status=%d", &s) != 1)
			break;
		(*total)++;
		n += s == status;
	}
	return n;
}

struct lease_ref {
	const struct gl_daemon *d;
	const char *name;
	long long queued;
};

static int queued_is(void *arg)
{
	struct lease_ref *r = arg;
	long long v;

	return !lease_read_key(r->d, r->name, "queued", &v) && v == r->queued;
}

/*
 * rmdir cancels the running launch and fails the queued ones with
 * ECANCELED: when rmdir returns every launch has completed, any that had
 * finished before it with 0 and, after them in order, the cancelled ones:
 * at least the five queued. (rmdir waited for the running launch once;
 * now it cancels it, launch_cancel.c.)
 */
TEST_F(launch, rmdir_cancels_queued)
{
	static const char slow[] = SPIN " timeout_ms=600000";
	struct gl_daemon *d = &self->d;
	struct lease_ref r = { d, "q", 5 };
	char buf[4096], *p = buf;
	int fd, i, st, ran = 0, cancelled = 0;
	ssize_t n;

	ASSERT_EQ(lease_sized(d, "q", SPIN_VRAM), 0);
	fd = lease_open(d, "q", "submit", O_RDWR | O_NONBLOCK);
	ASSERT_GE(fd, 0);
	for (i = 0; i < 6; i++)
		ASSERT_EQ(write(fd, slow, strlen(slow)), (ssize_t)strlen(slow));
	/* the first is running once five wait */
	ASSERT_EQ(gl_wait_until(queued_is, &r, gl_scale_ms(d, 5000)), 0);
	EXPECT_EQ(lease_remove(d, "q"), 0);
	EXPECT_EQ(dev_read_u64(d, 0, "vram.used"), 0);
	/* all six are complete now: a non-blocking read gets every line */
	while ((n = read(fd, p, buf + sizeof(buf) - 1 - p)) > 0)
		p += n;
	*p = '\0';
	for (p = buf; *p; p = strchr(p, '\n') + 1) {
		ASSERT_EQ(sscanf(p, "seq=%*u status=%d", &st), 1);
		if (st == 0) {
			EXPECT_EQ(cancelled, 0) TH_LOG("ran after a cancel");
			ran++;
		} else {
			EXPECT_EQ(st, -ECANCELED);
			cancelled++;
		}
	}
	EXPECT_EQ(ran + cancelled, 6);
	EXPECT_GE(cancelled, 5) TH_LOG("queued launches were not cancelled");
	close(fd);
}

/* Expiry cancels the running launch and the queued ones: EKEYEXPIRED. */
TEST_F(launch, expiry_fails_inflight)
{
	struct gl_daemon *d = &self->d;
	int fd, i, total;

	ASSERT_EQ(lease_sized(d, "x", SPIN_VRAM), 0);
	fd = lease_open(d, "x", "submit", O_RDWR | O_NONBLOCK);
	ASSERT_GE(fd, 0);
	for (i = 0; i < 4; i++)
		ASSERT_GT(write(fd, SPIN, strlen(SPIN)), 0);
	ASSERT_EQ(gl_ctl_write(d, "ctl", "clock_offset 100000\n"), 0);
	ASSERT_EQ(fcntl(fd, F_SETFL, O_RDWR), 0);
	EXPECT_GE(count_status(fd, -EKEYEXPIRED, &total), 3);
	EXPECT_EQ(total, 4);
	EXPECT_EQ(lease_write(d, "x", "submit", "noop grid=1"), -EKEYEXPIRED);
	close(fd);
	EXPECT_EQ(dev_read_u64(d, 0, "vram.used"), 0);
	EXPECT_EQ(lease_remove(d, "x"), 0);
}

static int kernels_ctl_write(void *arg)
{
	const struct gl_daemon *d = arg;

	return gl_ctl_write(d, "kernels/ctl", "add k /tmp/k.cubin u32 n\n");
}

TEST_F(launch, kernels_directory)
{
	struct gl_daemon *d = &self->d;
	char buf[512];
	long long v;

	ASSERT_GT(gl_read(d, "kernels/saxpy", buf, sizeof(buf)), 0);
	EXPECT_EQ(strncmp(buf, "saxpy(u32 n, f32 a, buf x, buf y) block=256\n",
			  44), 0) TH_LOG("%s", buf);
	EXPECT_EQ(gl_read(d, "kernels/nope", buf, sizeof(buf)), -ENOENT);
	ASSERT_EQ(lease_sized(d, "k", 4096), 0);
	ASSERT_EQ(lease_write(d, "k", "submit", "noop grid=1"), 0);
	ASSERT_EQ(gl_read_key(d, "kernels/noop", "launches", &v), 0);
	EXPECT_EQ(v, 1);
	EXPECT_EQ(gl_run_as_nobody(kernels_ctl_write, d), -EACCES);
	EXPECT_EQ(kernels_ctl_write(d), -EOPNOTSUPP);
}

TEST_HARNESS_MAIN
