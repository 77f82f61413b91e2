/* SPDX-License-Identifier: MIT */
/*
 * vram_mmap.c - mmap(MAP_SHARED) of a lease's vram goes through the page
 * cache and is coherent with pread/pwrite: stores reach the lease at msync
 * and a later pread sees them; a pwrite is seen by a fresh mapping.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "selftests/harness.h"
#include "selftests/lib/gltest.h"

#define SIZE (256 * 1024 + 100)		/* not a page multiple */

static const char *const args[] = { "--cpu-vram", "64M", NULL };

FIXTURE(mmap) {
	struct gl_daemon d;
	unsigned char *data;
	unsigned char *buf;
};

FIXTURE_SETUP(mmap)
{
	unsigned long long seed = 5;

	GL_DAEMON_SETUP(&self->d, args);
	self->data = malloc(SIZE);
	self->buf = malloc(SIZE + 1);	/* lease_read() adds a NUL */
	ASSERT_TRUE(self->data && self->buf);
	gl_fill_random(self->data, SIZE, &seed);
	ASSERT_EQ(lease_create(&self->d, "m1"), 0);
	ASSERT_EQ(lease_write(&self->d, "m1", "ctl", "vram %d\n", SIZE), 0);
}

FIXTURE_TEARDOWN(mmap)
{
	free(self->data);
	free(self->buf);
	GL_DAEMON_TEARDOWN(&self->d);
}

TEST_F(mmap, store_msync_then_pread)
{
	static const long offs[] = { 0, 1, 4095, 4096, 65537, SIZE - 1 };
	unsigned char *map;
	size_t i;
	int fd, fd2;

	fd = lease_open(&self->d, "m1", "vram", O_RDWR);
	ASSERT_GE(fd, 0);
	map = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(map, MAP_FAILED) TH_LOG("mmap: %s", strerror(errno));
	memcpy(map, self->data, SIZE);
	for (i = 0; i < sizeof(offs) / sizeof(offs[0]); i++)
		map[offs[i]] = self->data[offs[i]] ^= 0xff;
	ASSERT_EQ(msync(map, SIZE, MS_SYNC), 0);

	fd2 = lease_open(&self->d, "m1", "vram", O_RDONLY);
	ASSERT_GE(fd2, 0);
	ASSERT_EQ(pread(fd2, self->buf, SIZE, 0), SIZE);
	EXPECT_EQ(memcmp(self->buf, self->data, SIZE), 0);
	close(fd2);

	/* Through the same fd and mapping too. */
	ASSERT_EQ(pread(fd, self->buf, SIZE, 0), SIZE);
	EXPECT_EQ(memcmp(self->buf, self->data, SIZE), 0);
	munmap(map, SIZE);
	close(fd);
}

TEST_F(mmap, pwrite_then_fresh_map)
{
	unsigned char *map;
	int fd;

	fd = lease_open(&self->d, "m1", "vram", O_RDWR);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(pwrite(fd, self->data, SIZE, 0), SIZE);
	close(fd);

	fd = lease_open(&self->d, "m1", "vram", O_RDONLY);
	ASSERT_GE(fd, 0);
	map = mmap(NULL, SIZE, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(map, MAP_FAILED) TH_LOG("mmap: %s", strerror(errno));
	EXPECT_EQ(memcmp(map, self->data, SIZE), 0);
	EXPECT_EQ(map[SIZE - 1], self->data[SIZE - 1]);
	munmap(map, SIZE);
	close(fd);
}

TEST_F(mmap, pwrite_seen_by_live_map)
{
	unsigned char *map;
	int fd;

	fd = lease_open(&self->d, "m1", "vram", O_RDWR);
	ASSERT_GE(fd, 0);
	map = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(map, MAP_FAILED);
	ASSERT_EQ(pwrite(fd, self->data, 8192, 4096), 8192);
	EXPECT_EQ(memcmp(map + 4096, self->data, 8192), 0);
	munmap(map, SIZE);
	close(fd);
}

TEST_F(mmap, unmap_close_persists)
{
	unsigned char *map;
	int fd;

	fd = lease_open(&self->d, "m1", "vram", O_RDWR);
	ASSERT_GE(fd, 0);
	map = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(map, MAP_FAILED);
	memcpy(map, self->data, SIZE);
	ASSERT_EQ(msync(map, SIZE, MS_SYNC), 0);
	munmap(map, SIZE);
	close(fd);
	ASSERT_EQ(lease_read(&self->d, "m1", "vram", (char *)self->buf,
			     SIZE + 1), SIZE);
	EXPECT_EQ(memcmp(self->buf, self->data, SIZE), 0);
}

TEST_HARNESS_MAIN
