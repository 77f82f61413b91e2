/* SPDX-License-Identifier: MIT */
/*
 * vram_io.c - the vram file as memory: pread/pwrite at any offset read back
 * what was written (checked against a shadow copy at random, odd and page
 * boundary offsets), the size is the reservation, reads at the end return
 * 0, writes past it fail whole with EFBIG (per write request: FUSE splits
 * writes over its max_write, and the page cache at a page it filled only
 * partly), truncate and O_TRUNC keep the size and zero
 * the tail, resizes keep the contents up to the smaller size.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "selftests/harness.h"
#include "selftests/lib/gltest.h"

#define MiB (1024LL * 1024)
#define SIZE (MiB + 123)	/* odd on purpose */
#define OPS 2000

static const char *const args[] = { "--cpu-vram", "64M", NULL };

FIXTURE(vram) {
	struct gl_daemon d;
	unsigned char *shadow;	/* what the lease must hold */
	unsigned char *buf;
	int fd;
};

FIXTURE_SETUP(vram)
{
	unsigned long long seed = 7;

	self->fd = -1;
	GL_DAEMON_SETUP(&self->d, args);
	self->shadow = malloc(SIZE);
	self->buf = malloc(SIZE);
	ASSERT_TRUE(self->shadow && self->buf);
	ASSERT_EQ(lease_create(&self->d, "v1"), 0);
	ASSERT_EQ(lease_write(&self->d, "v1", "ctl", "vram %lld\n", SIZE), 0);
	self->fd = lease_open(&self->d, "v1", "vram", O_RDWR);
	ASSERT_GE(self->fd, 0);
	gl_fill_random(self->shadow, SIZE, &seed);
	ASSERT_EQ(pwrite(self->fd, self->shadow, SIZE, 0), SIZE);
}

FIXTURE_TEARDOWN(vram)
{
	if (self->fd >= 0)
		close(self->fd);
	free(self->shadow);
	free(self->buf);
	GL_DAEMON_TEARDOWN(&self->d);
}

/* Compare [off, off+len) of the file with the shadow; 0 or first bad. */
static long long check_range(int fd, const unsigned char *shadow,
			     unsigned char *buf, long long off, long long len)
{
	ssize_t n = pread(fd, buf, len, off);
	long long i;

	if (n != len)
		return n < 0 ? -errno : -EIO;
	for (i = 0; i < len; i++)
		if (buf[i] != shadow[off + i])
			return off + i + 1;
	return 0;
}

TEST_F(vram, size_is_reservation)
{
	struct stat st;

	ASSERT_EQ(fstat(self->fd, &st), 0);
	EXPECT_EQ(st.st_size, SIZE);
	EXPECT_TRUE(S_ISREG(st.st_mode));
	EXPECT_EQ(check_range(self->fd, self->shadow, self->buf, 0, SIZE), 0);
}

TEST_F(vram, random_read_after_write)
{
	unsigned long long seed = 99;
	long long off, len, bad;
	int i;

	for (i = 0; i < OPS; i++) {
		off = gl_rand(&seed) % SIZE;
		/* Mostly small and odd, sometimes large. */
		len = gl_rand(&seed) % (i % 10 ? 5000 : 200000) + 1;
		if (off + len > SIZE)
			len = SIZE - off;
		gl_fill_random(self->shadow + off, len, &seed);
		ASSERT_EQ(pwrite(self->fd, self->shadow + off, len, off), len)
			TH_LOG("pwrite off %lld len %lld: %s", off, len,
			       strerror(errno));
		off = gl_rand(&seed) % SIZE;
		len = gl_rand(&seed) % 9000 + 1;
		if (off + len > SIZE)
			len = SIZE - off;
		bad = check_range(self->fd, self->shadow, self->buf, off, len);
		ASSERT_EQ(bad, 0) TH_LOG("op %d: read off %lld len %lld", i,
					 off, len);
	}
	EXPECT_EQ(check_range(self->fd, self->shadow, self->buf, 0, SIZE), 0);
}

TEST_F(vram, page_boundaries_and_last_byte)
{
	static const long long offs[] = {
		0, 1, 4095, 4096, 4097, 8191, 8192, 65535, 65536,
		MiB - 1, MiB, SIZE - 4097, SIZE - 4096, SIZE - 2, SIZE - 1,
	};
	static const long long lens[] = { 1, 2, 3, 4095, 4096, 4097, 8193 };
	unsigned long long seed = 3;
	size_t i, j;
	long long len;

	for (i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		for (j = 0; j < sizeof(lens) / sizeof(lens[0]); j++) {
			len = lens[j];
			if (offs[i] + len > SIZE)
				len = SIZE - offs[i];
			gl_fill_random(self->shadow + offs[i], len, &seed);
			ASSERT_EQ(pwrite(self->fd, self->shadow + offs[i], len,
					 offs[i]), len)
				TH_LOG("off %lld len %lld", offs[i], len);
			EXPECT_EQ(check_range(self->fd, self->shadow,
					      self->buf, offs[i], len), 0)
				TH_LOG("off %lld len %lld", offs[i], len);
		}
	}
	EXPECT_EQ(check_range(self->fd, self->shadow, self->buf, 0, SIZE), 0);
}

TEST_F(vram, past_end)
{
	char two[2] = { 'x', 'y' }, c = 0;
	ssize_t n;
	int fd;

	/* A write that would reach past the end fails whole. */
	EXPECT_EQ(pwrite(self->fd, two, 2, SIZE - 1), -1);
	EXPECT_EQ(errno, EFBIG);
	EXPECT_EQ(pwrite(self->fd, two, 1, SIZE), -1);
	EXPECT_EQ(errno, EFBIG);
	EXPECT_EQ(pwrite(self->fd, two, 1, SIZE + 4096), -1);
	EXPECT_EQ(errno, EFBIG);
	/*
	 * One request (under FUSE's max_write) crossing the end: no part.
	 * O_DIRECT makes the 64 KiB one request. Through the page cache
	 * the kernel first sends the rest of the page it starts in when it
	 * does not hold that page (evicted, or invalidated by the daemon
	 * after a write elsewhere): then that part is stored, up to the
	 * page's end, and the count says so (Documentation/filesystem.md).
	 */
	memset(self->buf, 0xa5, 65536);
	fd = lease_open(&self->d, "v1", "vram", O_RDWR | O_DIRECT);
	ASSERT_GE(fd, 0);
	EXPECT_EQ(pwrite(fd, self->buf, 65536, SIZE - 1000), -1);
	EXPECT_EQ(errno, EFBIG);
	close(fd);
	n = pwrite(self->fd, self->buf, 65536, SIZE - 1000);
	if (n < 0) {
		EXPECT_EQ(errno, EFBIG);
	} else {
		EXPECT_LT(n, 1000);
		EXPECT_EQ((SIZE - 1000 + n) % 4096, 0) TH_LOG("%zd bytes", n);
		memset(self->shadow + SIZE - 1000, 0xa5, (size_t)n);
	}
	ASSERT_EQ(pread(self->fd, &c, 1, SIZE - 1), 1);
	EXPECT_EQ((unsigned char)c, self->shadow[SIZE - 1]);
	EXPECT_EQ(check_range(self->fd, self->shadow, self->buf, SIZE - 8192,
			      8192), 0);

	/* Reads at or past the end return 0; across it, the rest. */
	EXPECT_EQ(pread(self->fd, self->buf, 100, SIZE), 0);
	EXPECT_EQ(pread(self->fd, self->buf, 100, SIZE + 1), 0);
	EXPECT_EQ(pread(self->fd, self->buf, 100, SIZE + MiB), 0);
	EXPECT_EQ(pread(self->fd, self->buf, 100, SIZE - 10), 10);
	EXPECT_EQ(memcmp(self->buf, self->shadow + SIZE - 10, 10), 0);

	/* Sequential write() stops with EFBIG at the end, keeping the rest. */
	ASSERT_EQ(lseek(self->fd, SIZE - 1, SEEK_SET), SIZE - 1);
	EXPECT_EQ(write(self->fd, two, 2), -1);
	EXPECT_EQ(errno, EFBIG);
}

/*
 * An 8K lease, fresh: its end is a page boundary. One request crossing it
 * (O_DIRECT: one request up to 1 MiB) fails whole and stores nothing.
 * Through the page cache the kernel ends a request at the end of a page it
 * filled partly and did not hold, so a buffered write crossing the end
 * may store the bytes that fit and return that count; it never stores a
 * byte past the end, and the next write fails with EFBIG.
 */
TEST_F(vram, past_page_aligned_end)
{
	struct gl_daemon *d = &self->d;
	char two[2] = { 'x', 'y' }, got[2] = { 0 };
	struct stat st;
	ssize_t n;
	int fd;

	ASSERT_EQ(lease_create(d, "p8"), 0);
	ASSERT_EQ(lease_write(d, "p8", "ctl", "vram 8K\n"), 0);
	fd = lease_open(d, "p8", "vram", O_RDWR | O_DIRECT);
	ASSERT_GE(fd, 0);
	EXPECT_EQ(pwrite(fd, two, 2, 8191), -1);
	EXPECT_EQ(errno, EFBIG);
	EXPECT_EQ(pwrite(fd, self->buf, 4096, 8000), -1);
	EXPECT_EQ(errno, EFBIG);
	ASSERT_EQ(pread(fd, got, 2, 8190), 2);
	EXPECT_EQ(got[0], 0);
	EXPECT_EQ(got[1], 0);
	close(fd);

	fd = lease_open(d, "p8", "vram", O_RDWR);
	ASSERT_GE(fd, 0);
	n = pwrite(fd, two, 2, 8191);
	if (n < 0)
		EXPECT_EQ(errno, EFBIG);
	else
		EXPECT_EQ(n, 1);	/* the byte that fits, no more */
	EXPECT_EQ(pwrite(fd, two + 1, 1, 8192), -1);
	EXPECT_EQ(errno, EFBIG);
	close(fd);
	ASSERT_EQ(stat(gl_path(d, "leases/p8/vram"), &st), 0);
	EXPECT_EQ(st.st_size, 8192);
}

TEST_F(vram, sequential_io)
{
	const long long wchunk = 12345, rchunk = 7777;
	unsigned long long seed = 11;
	long long off, n;
	ssize_t r;

	gl_fill_random(self->shadow, SIZE, &seed);
	ASSERT_EQ(lseek(self->fd, 0, SEEK_SET), 0);
	for (off = 0; off < SIZE; off += n) {
		n = SIZE - off < wchunk ? SIZE - off : wchunk;
		ASSERT_EQ(write(self->fd, self->shadow + off, n), n);
	}
	ASSERT_EQ(lseek(self->fd, 0, SEEK_SET), 0);
	for (off = 0;; off += r) {
		r = read(self->fd, self->buf + off, rchunk);
		ASSERT_GE(r, 0);
		if (!r)
			break;
		ASSERT_LE(off + r, SIZE);
	}
	EXPECT_EQ(off, SIZE);
	EXPECT_EQ(memcmp(self->buf, self->shadow, SIZE), 0);
}

static int all_zero(const unsigned char *p, long long len)
{
	long long i;

	for (i = 0; i < len; i++)
		if (p[i])
			return 0;
	return 1;
}

/* O_TRUNC keeps the size and zeroes; "cat file > vram" then works. */
TEST_F(vram, o_trunc_zeroes)
{
	struct stat st;
	int fd;

	fd = lease_open(&self->d, "v1", "vram", O_WRONLY | O_TRUNC);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(fstat(fd, &st), 0);
	EXPECT_EQ(st.st_size, SIZE);
	/* Write the first 1000 bytes, as a short cat would. */
	ASSERT_EQ(write(fd, self->shadow, 1000), 1000);
	close(fd);
	ASSERT_EQ(stat(gl_path(&self->d, "leases/v1/vram"), &st), 0);
	EXPECT_EQ(st.st_size, SIZE);
	ASSERT_EQ(pread(self->fd, self->buf, SIZE, 0), SIZE);
	EXPECT_EQ(memcmp(self->buf, self->shadow, 1000), 0);
	EXPECT_TRUE(all_zero(self->buf + 1000, SIZE - 1000));
}

TEST_F(vram, truncate_zeroes_tail)
{
	struct stat st;

	ASSERT_EQ(truncate(gl_path(&self->d, "leases/v1/vram"), 5000), 0);
	ASSERT_EQ(fstat(self->fd, &st), 0);
	EXPECT_EQ(st.st_size, SIZE);
	ASSERT_EQ(pread(self->fd, self->buf, SIZE, 0), SIZE);
	EXPECT_EQ(memcmp(self->buf, self->shadow, 5000), 0);
	EXPECT_TRUE(all_zero(self->buf + 5000, SIZE - 5000));

	ASSERT_EQ(ftruncate(self->fd, 4096), 0);
	ASSERT_EQ(fstat(self->fd, &st), 0);
	EXPECT_EQ(st.st_size, SIZE);
	ASSERT_EQ(pread(self->fd, self->buf, SIZE, 0), SIZE);
	EXPECT_EQ(memcmp(self->buf, self->shadow, 4096), 0);
	EXPECT_TRUE(all_zero(self->buf + 4096, SIZE - 4096));

	/* Truncating to the size itself changes nothing. */
	ASSERT_EQ(pwrite(self->fd, self->shadow, SIZE, 0), SIZE);
	ASSERT_EQ(ftruncate(self->fd, SIZE), 0);
	EXPECT_EQ(check_range(self->fd, self->shadow, self->buf, 0, SIZE), 0);

	ASSERT_EQ(ftruncate(self->fd, 0), 0);
	ASSERT_EQ(pread(self->fd, self->buf, SIZE, 0), SIZE);
	EXPECT_TRUE(all_zero(self->buf, SIZE));
}

TEST_F(vram, resize_keeps_contents)
{
	struct gl_daemon *d = &self->d;
	struct stat st;
	int fd;

	ASSERT_EQ(lease_write(d, "v1", "ctl", "vram 16K\n"), 0);
	close(self->fd);
	self->fd = -1;
	fd = lease_open(d, "v1", "vram", O_RDWR);
	ASSERT_GE(fd, 0);
	self->fd = fd;
	ASSERT_EQ(fstat(fd, &st), 0);
	EXPECT_EQ(st.st_size, 16384);
	EXPECT_EQ(pread(fd, self->buf, SIZE, 0), 16384);
	EXPECT_EQ(memcmp(self->buf, self->shadow, 16384), 0);
	EXPECT_EQ(pwrite(fd, self->buf, 1, 16384), -1);
	EXPECT_EQ(errno, EFBIG);

	ASSERT_EQ(lease_write(d, "v1", "ctl", "vram 128K\n"), 0);
	ASSERT_EQ(stat(gl_path(d, "leases/v1/vram"), &st), 0);
	EXPECT_EQ(st.st_size, 131072);
	ASSERT_EQ(fstat(fd, &st), 0);
	EXPECT_EQ(st.st_size, 131072);
	EXPECT_EQ(pread(fd, self->buf, SIZE, 0), 131072);
	EXPECT_EQ(memcmp(self->buf, self->shadow, 16384), 0);
	EXPECT_EQ(pwrite(fd, self->shadow, 131072, 0), 131072);
}

TEST_F(vram, empty_lease)
{
	struct gl_daemon *d = &self->d;
	struct stat st;
	char c = 1;
	int fd;

	ASSERT_EQ(lease_create(d, "e0"), 0);
	ASSERT_EQ(stat(gl_path(d, "leases/e0/vram"), &st), 0);
	EXPECT_EQ(st.st_size, 0);
	fd = lease_open(d, "e0", "vram", O_RDWR);
	ASSERT_GE(fd, 0);
	EXPECT_EQ(pread(fd, &c, 1, 0), 0);
	EXPECT_EQ(pwrite(fd, &c, 1, 0), -1);
	EXPECT_EQ(errno, EFBIG);
	close(fd);
}

TEST_HARNESS_MAIN
