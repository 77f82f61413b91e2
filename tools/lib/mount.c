/* SPDX-License-Identifier: MIT */
/*
 * The handle on a mounted tree and the file helpers under every call:
 * paths are resolved relative to one directory fd of the mount point, so
 * a handle keeps working on the tree it opened whatever the caller's cwd.
 *
 * Invariant: a lease name reaches a path only after gl_name_valid(), so
 * no call can leave leases/<name>/.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <unistd.h>

#include "tools/lib/internal.h"

/*
 * gl_open - open the tree mounted at @mnt (NULL or "": $GPULEASE_MOUNT,
 * else /gpu). Returns 0 and *@out, freed by gl_close(); -ENOENT when @mnt
 * does not exist, -ENOTCONN when no daemon serves it (a dead FUSE mount,
 * or a plain directory), -ENOMEM, or open(2)'s errno.
 */
GL_EXPORT int gl_open(const char *mnt, struct gl **out)
{
	struct gl *g;
	size_t len;
	int err;

	*out = NULL;
	if (!mnt || !*mnt)
		mnt = secure_getenv(GL_MOUNT_ENV);
	if (!mnt || !*mnt)
		mnt = GL_MOUNT_DEFAULT;
	len = strlen(mnt);
	g = malloc(sizeof(*g) + len + 1);
	if (!g)
		return -ENOMEM;
	memcpy(g->mnt, mnt, len + 1);
	atomic_init(&g->bind_fd, -1);
	g->root = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (g->root < 0) {
		err = -errno;
		goto fail;
	}
	if (faccessat(g->root, GL_FILE_LEASES "/" GL_FILE_CTL, F_OK, 0)) {
		err = errno == ENOENT ? -ENOTCONN : -errno;
		close(g->root);
		goto fail;
	}
	*out = g;
	return 0;
fail:
	free(g);
	return err;
}

/*
 * gl_close - close @g (NULL is fine). Leases acquired with GL_ACQUIRE_BIND
 * through it are dropped by the daemon as their open file goes.
 */
GL_EXPORT void gl_close(struct gl *g)
{
	int fd;

	if (!g)
		return;
	fd = atomic_load(&g->bind_fd);
	if (fd >= 0)
		close(fd);
	close(g->root);
	free(g);
}

/* gl_mount_path - the mount point @g was opened on; lives as long as @g. */
GL_EXPORT const char *gl_mount_path(const struct gl *g)
{
	return g->mnt;
}

/* gl_name_valid - 0 when @name is a valid lease name, else -EINVAL. */
GL_EXPORT int gl_name_valid(const char *name)
{
	size_t len;

	if (!name)
		return -EINVAL;
	len = strlen(name);
	if (!len || len > GL_NAME_MAX || strspn(name, GL_NAME_CHARS) != len ||
	    !strcmp(name, ".") || !strcmp(name, ".."))
		return -EINVAL;
	return 0;
}

/*
 * Build "leases/NAME[/FILE]" into @buf. Returns 0, -EINVAL for a bad name
 * or a file name with a '/', -ENAMETOOLONG when it does not fit.
 */
int __gl_lease_path(char *buf, size_t size, const char *name,
		    const char *file)
{
	int n;

	if (gl_name_valid(name) || (file && (!*file || strchr(file, '/'))))
		return -EINVAL;
	if (file)
		n = snprintf(buf, size, GL_FILE_LEASES "/%s/%s", name, file);
	else
		n = snprintf(buf, size, GL_FILE_LEASES "/%s", name);
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	return 0;
}

/*
 * gl_lease_openat - open(2) FILE of lease NAME ("ctl", "vram", "submit",
 * "stats") with @flags (O_CLOEXEC is added). Returns the fd, the caller's
 * to close, or -errno: -EINVAL for a bad name, -ENOENT, -EACCES,
 * -EKEYEXPIRED, -ENOTCONN.
 */
GL_EXPORT int gl_lease_openat(struct gl *g, const char *name,
			      const char *file, int flags)
{
	char path[GL_PATH_MAX];
	int fd, err;

	err = __gl_lease_path(path, sizeof(path), name, file);
	if (err)
		return err;
	fd = openat(g->root, path, flags | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/*
 * Read all of @path (relative to the mount) into @buf as a string.
 * Returns its length, -EFBIG when it needs more than @size - 1 bytes, or
 * -errno from open/read.
 */
int __gl_list(struct gl *g, const char *rel, size_t elem,
	      int (*add)(struct gl *g, int dfd, const struct dirent *de,
			 void *slot),
	      int (*cmp)(const void *a, const void *b), void **out)
{
	char *list = NULL, *grown;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *dir;
	int fd, err = 0;

	*out = NULL;
	fd = openat(g->root, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	dir = fdopendir(fd);
	if (!dir) {
		err = -errno;
		close(fd);
		return err;
	}
	for (;;) {
		errno = 0;
		de = readdir(dir);
		if (!de) {
			err = -errno;
			break;
		}
		if (n == cap) {
			cap = cap ? 2 * cap : 8;
			grown = reallocarray(list, cap, elem);
			if (!grown) {
				err = -ENOMEM;
				break;
			}
			list = grown;
		}
		err = add(g, dirfd(dir), de, list + n * elem);
		if (err < 0)
			break;
		n += err;
		err = 0;
	}
	closedir(dir);
	if (!err && n > INT32_MAX)
		err = -EOVERFLOW;
	if (err || !n) {
		free(list);
		return err;
	}
	qsort(list, n, elem, cmp);
	*out = list;
	return (int)n;
}

int __gl_parse_u64(const char *s, uint64_t *out)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -EPROTO;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno || *end ? -EPROTO : 0;
}

int __gl_read_at(struct gl *g, const char *path, char *buf, size_t size)
{
	size_t len = 0;
	ssize_t n;
	int fd, err = 0;

	fd = openat(g->root, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (;;) {
		if (len == size - 1) {
			err = -EFBIG;
			break;
		}
		n = read(fd, buf + len, size - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			break;
		}
		if (!n)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	return err ? err : (int)len;
}

/*
 * One write(2) of all of @buf: a ctl command or a descriptor must arrive
 * whole. Returns 0, -EIO on a short write, or the write's -errno; -EINTR
 * is not retried, since the daemon may already have applied the command.
 */
int __gl_write_fd(int fd, const void *buf, size_t len)
{
	ssize_t n;

	n = write(fd, buf, len);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

/* Write one line to @path (relative to the mount). 0 or -errno. */
int __gl_write_at(struct gl *g, const char *path, const char *line)
{
	int fd, err;

	fd = openat(g->root, path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	err = __gl_write_fd(fd, line, strlen(line));
	close(fd);
	return err;
}
