/* SPDX-License-Identifier: MIT */
/*
 * verbs.c - one helper per verb of the gpulease filesystem contract, so a
 * test reads like Documentation/filesystem.md: lease_create(), lease_write(),
 * lease_read_key(), dev_read_u64(), and running a step as another user.
 *
 * Invariant: each helper opens, does exactly one write(2) (or reads to EOF)
 * and closes; the result is >= 0 or -errno, never -1 with errno.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "selftests/lib/gltest.h"

#define GL_PATH_BUFS	4

const char *gl_path(const struct gl_daemon *d, const char *fmt, ...)
{
	static __thread char bufs[GL_PATH_BUFS][PATH_MAX];
	static __thread unsigned int next;
	char *buf = bufs[next++ % GL_PATH_BUFS];
	int n;
	va_list ap;

	n = snprintf(buf, PATH_MAX, "%s/", d->mnt);
	va_start(ap, fmt);
	vsnprintf(buf + n, PATH_MAX - n, fmt, ap);
	va_end(ap);
	return buf;
}

int lease_create(const struct gl_daemon *d, const char *name)
{
	if (mkdir(gl_path(d, "leases/%s", name), 0700))
		return -errno;
	return 0;
}

int lease_remove(const struct gl_daemon *d, const char *name)
{
	if (rmdir(gl_path(d, "leases/%s", name)))
		return -errno;
	return 0;
}

int lease_sized(const struct gl_daemon *d, const char *name, long long bytes)
{
	int err = lease_create(d, name);

	return err ? err : lease_write(d, name, "ctl", "vram %lld\n", bytes);
}

int lease_open(const struct gl_daemon *d, const char *name, const char *file,
	       int flags)
{
	int fd = open(gl_path(d, "leases/%s/%s", name, file),
		      flags | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

/* One write of buf to an open path; close errors count too. */
static int gl_write_path(const char *path, const void *buf, size_t len)
{
	ssize_t n;
	int fd, ret = 0;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, buf, len);
	if (n < 0)
		ret = -errno;
	else if ((size_t)n != len)
		ret = -EIO;
	if (close(fd) && !ret)
		ret = -errno;
	return ret;
}

static int gl_read_path(const char *path, char *buf, size_t size)
{
	size_t off = 0;
	ssize_t n;
	int fd, ret;

	if (!size)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (off < size - 1) {
		n = read(fd, buf + off, size - 1 - off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			close(fd);
			buf[off] = '\0';
			return ret;
		}
		if (n == 0)
			break;
		off += n;
	}
	buf[off] = '\0';
	close(fd);
	return (int)off;
}

/* Find "key value\n" in text; copy the value. */
static int gl_find_key(const char *text, const char *key, char *val,
		       size_t size)
{
	size_t klen = strlen(key), vlen;
	const char *p = text, *end;

	while (p && *p) {
		if (!strncmp(p, key, klen) && p[klen] == ' ') {
			p += klen + 1;
			end = strchrnul(p, '\n');
			vlen = end - p;
			if (vlen >= size)
				return -ENOBUFS;
			memcpy(val, p, vlen);
			val[vlen] = '\0';
			return 0;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return -ENOKEY;
}

static int gl_parse_ll(const char *s, long long *val)
{
	char *end;

	errno = 0;
	*val = strtoll(s, &end, 10);
	if (errno || end == s || *end)
		return -EINVAL;
	return 0;
}

int lease_write(const struct gl_daemon *d, const char *name, const char *file,
		const char *fmt, ...)
{
	char line[4096];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line))
		return -ENOBUFS;
	return gl_write_path(gl_path(d, "leases/%s/%s", name, file), line, n);
}

int lease_read(const struct gl_daemon *d, const char *name, const char *file,
	       char *buf, size_t size)
{
	return gl_read_path(gl_path(d, "leases/%s/%s", name, file), buf, size);
}

int lease_read_key_str(const struct gl_daemon *d, const char *name,
		       const char *key, char *buf, size_t size)
{
	char text[GL_TEXT_MAX];
	int ret = lease_read(d, name, GL_FILE_CTL, text, sizeof(text));

	if (ret < 0)
		return ret;
	return gl_find_key(text, key, buf, size);
}

int lease_read_key(const struct gl_daemon *d, const char *name,
		   const char *key, long long *val)
{
	char buf[64];
	int ret = lease_read_key_str(d, name, key, buf, sizeof(buf));

	return ret ? ret : gl_parse_ll(buf, val);
}

int gl_ctl_write(const struct gl_daemon *d, const char *rel,
		 const char *fmt, ...)
{
	char line[4096];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line))
		return -ENOBUFS;
	return gl_write_path(gl_path(d, "%s", rel), line, n);
}

int gl_write_raw(const struct gl_daemon *d, const char *rel, const void *buf,
		 size_t len)
{
	return gl_write_path(gl_path(d, "%s", rel), buf, len);
}

int gl_read(const struct gl_daemon *d, const char *rel, char *buf,
	    size_t size)
{
	return gl_read_path(gl_path(d, "%s", rel), buf, size);
}

int gl_read_key_str(const struct gl_daemon *d, const char *rel,
		    const char *key, char *buf, size_t size)
{
	char text[GL_TEXT_MAX];
	int ret = gl_read(d, rel, text, sizeof(text));

	if (ret < 0)
		return ret;
	return gl_find_key(text, key, buf, size);
}

int gl_read_key(const struct gl_daemon *d, const char *rel, const char *key,
		long long *val)
{
	char buf[64];
	int ret = gl_read_key_str(d, rel, key, buf, sizeof(buf));

	return ret ? ret : gl_parse_ll(buf, val);
}

long long dev_read_u64(const struct gl_daemon *d, int dev, const char *file)
{
	char buf[64], rel[128];
	long long val;
	int ret;

	snprintf(rel, sizeof(rel), "devices/%d/%s", dev, file);
	ret = gl_read(d, rel, buf, sizeof(buf));
	if (ret < 0)
		return ret;
	if (ret == 0 || buf[ret - 1] != '\n')
		return -EINVAL;	/* contract: a number and a newline */
	buf[ret - 1] = '\0';
	ret = gl_parse_ll(buf, &val);
	if (ret)
		return ret;
	return val < 0 ? -ERANGE : val;
}

int gl_count_leases(const struct gl_daemon *d)
{
	struct dirent *de;
	int n = 0;
	DIR *dir;

	dir = opendir(gl_path(d, "leases"));
	if (!dir)
		return -errno;
	while ((de = readdir(dir))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    !strcmp(de->d_name, GL_FILE_CTL))
			continue;
		n++;
	}
	closedir(dir);
	return n;
}

int gl_wait_until(int (*cond)(void *arg), void *arg, int timeout_ms)
{
	long long deadline = gl_now_ms() + timeout_ms;
	struct timespec tick = { 0, 10 * 1000 * 1000 };

	for (;;) {
		if (cond(arg))
			return 0;
		if (gl_now_ms() > deadline)
			return -ETIMEDOUT;
		nanosleep(&tick, NULL);
	}
}

struct gl_gone {
	const struct gl_daemon *d;
	const char *name;
};

static int gl_is_gone(void *arg)
{
	struct gl_gone *g = arg;
	struct stat st;

	return stat(gl_path(g->d, "leases/%s", g->name), &st) &&
	       errno == ENOENT;
}

int gl_wait_gone(const struct gl_daemon *d, const char *name, int timeout_ms)
{
	struct gl_gone g = { d, name };

	return gl_wait_until(gl_is_gone, &g, gl_scale_ms(d, timeout_ms));
}

int gl_run_as(uid_t uid, gid_t gid, int (*fn)(void *arg), void *arg)
{
	int pfd[2], status, ret = -ECHILD;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC))
		return -errno;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		ret = -errno;
		close(pfd[0]);
		close(pfd[1]);
		return ret;
	}
	if (pid == 0) {
		close(pfd[0]);
		if (setgroups(0, NULL) || setgid(gid) || setuid(uid))
			ret = -errno;
		else
			ret = fn(arg);
		if (write(pfd[1], &ret, sizeof(ret)) != sizeof(ret))
			_exit(2);
		fflush(stdout);
		_exit(0);
	}
	close(pfd[1]);
	if (read(pfd[0], &ret, sizeof(ret)) != sizeof(ret))
		ret = -ECHILD;
	close(pfd[0]);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status))
		ret = -ECHILD;
	return ret;
}

int gl_run_as_nobody(int (*fn)(void *arg), void *arg)
{
	return gl_run_as(GL_NOBODY_UID, GL_NOBODY_GID, fn, arg);
}

unsigned long long gl_rand(unsigned long long *seed)
{
	unsigned long long x = *seed ? *seed : 0x9e3779b97f4a7c15ULL;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*seed = x;
	return x;
}

void gl_fill_random(void *buf, size_t len, unsigned long long *seed)
{
	unsigned char *p = buf;
	unsigned long long r;
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		r = gl_rand(seed);
		memcpy(p + i, &r, 8);
	}
	r = gl_rand(seed);
	for (; i < len; i++, r >>= 8)
		p[i] = (unsigned char)r;
}
