/* SPDX-License-Identifier: MIT */
/*
 * verbs: file-system steps on a gpulease mount for the benchmarks' set-up.
 *
 * Invariant: every file opened here is closed before the verb returns,
 * on every path; nothing here is timed.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "uapi/gpulease.h"
#include "verbs.h"

int verb_fail(const char *what, const char *path, int err)
{
	fprintf(stderr, "%s: %s %s: %s\n", program_invocation_short_name,
		what, path, strerror(-err));
	return err;
}

/* open PATH with FLAGS (O_CREAT: mode 0644), write LEN bytes of BUF in
 * one write, close; 0 or -errno, printed */
static int verb_put(const char *path, int flags, const void *buf, size_t len)
{
	ssize_t n;
	int fd, err = 0;

	fd = open(path, flags | O_CLOEXEC, 0644);
	if (fd < 0)
		return verb_fail(flags & O_CREAT ? "create" : "open", path,
				 -errno);
	n = write(fd, buf, len);
	if (n != (ssize_t)len)
		err = verb_fail("write to", path, n < 0 ? -errno : -EIO);
	if (close(fd) && !err)
		err = verb_fail("close", path, -errno);
	return err;
}

int verb_write_file(const char *path, const char *line)
{
	return verb_put(path, O_WRONLY, line, strlen(line));
}

int verb_create_file(const char *path, const void *buf, size_t len)
{
	return verb_put(path, O_WRONLY | O_CREAT | O_TRUNC, buf, len);
}

int verb_acquire(const char *mnt, const char *name, uint64_t vram,
		 char *dir, size_t size)
{
	char path[PATH_MAX], line[GL_CTL_LINE_MAX];
	int err;

	if ((size_t)snprintf(dir, size, "%s/%s/%s", mnt, GL_FILE_LEASES,
			     name) >= size)
		return -ENAMETOOLONG;
	snprintf(path, sizeof(path), "%s/%s/%s", mnt, GL_FILE_LEASES,
		 GL_FILE_CTL);
	snprintf(line, sizeof(line), "acquire %s vram=%llu", name,
		 (unsigned long long)vram);
	err = verb_write_file(path, line);
	if (err)
		dir[0] = '\0';
	return err;
}

int verb_vram_io(const char *dir, void *buf, size_t len, off_t off,
		 bool write_it)
{
	char path[PATH_MAX];
	size_t done = 0;
	ssize_t n;
	int fd, err = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, GL_FILE_VRAM);
	fd = open(path, (write_it ? O_WRONLY : O_RDONLY) | O_CLOEXEC);
	if (fd < 0)
		return verb_fail("open", path, -errno);
	while (done < len) {
		if (write_it)
			n = pwrite(fd, (char *)buf + done, len - done,
				   off + (off_t)done);
		else
			n = pread(fd, (char *)buf + done, len - done,
				  off + (off_t)done);
		if (n <= 0) {
			err = verb_fail(write_it ? "pwrite to" : "pread from",
					path, n < 0 ? -errno : -EIO);
			break;
		}
		done += (size_t)n;
	}
	close(fd);
	return err;
}
