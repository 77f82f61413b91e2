/* SPDX-License-Identifier: MIT */
/*
 * A lease's memory through leases/<name>/vram: pread and pwrite that
 * move the whole buffer or fail, so callers need no short-I/O loop.
 *
 * Invariant: a write never reaches past the end of the lease; the daemon
 * refuses it whole with -EFBIG and nothing is written.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <unistd.h>

#include "tools/lib/internal.h"

/*
 * gl_vram_pread - copy up to @len bytes at @off of lease @name into @buf.
 * Returns the bytes read (fewer only at the end of the lease, 0 at or past
 * it) or -EINVAL, -ENOENT, -EACCES, -EKEYEXPIRED, -ENOTCONN.
 */
GL_EXPORT ssize_t gl_vram_pread(struct gl *g, const char *name, void *buf,
				size_t len, uint64_t off)
{
	size_t done = 0;
	ssize_t n;
	int fd;

	if (off > INT64_MAX || len > SSIZE_MAX)
		return -EINVAL;
	fd = gl_lease_openat(g, name, GL_FILE_VRAM, O_RDONLY);
	if (fd < 0)
		return fd;
	while (done < len) {
		n = pread(fd, (char *)buf + done, len - done,
			  (off_t)(off + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			n = -errno;
			close(fd);
			return n;
		}
		if (!n)
			break;
		done += (size_t)n;
	}
	close(fd);
	return (ssize_t)done;
}

/*
 * gl_vram_pwrite - copy @len bytes of @buf into lease @name at @off.
 * Returns @len, or -EFBIG when the range reaches past the lease (nothing
 * written), -EINVAL, -ENOENT, -EACCES, -EKEYEXPIRED, -ENOTCONN.
 */
GL_EXPORT ssize_t gl_vram_pwrite(struct gl *g, const char *name,
				 const void *buf, size_t len, uint64_t off)
{
	size_t done = 0;
	ssize_t n;
	int fd;

	if (off > INT64_MAX || len > SSIZE_MAX)
		return -EINVAL;
	fd = gl_lease_openat(g, name, GL_FILE_VRAM, O_WRONLY);
	if (fd < 0)
		return fd;
	while (done < len) {
		n = pwrite(fd, (const char *)buf + done, len - done,
			   (off_t)(off + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			n = n ? -errno : -EIO;
			close(fd);
			return n;
		}
		done += (size_t)n;
	}
	close(fd);
	return (ssize_t)done;
}
