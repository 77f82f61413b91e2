/* SPDX-License-Identifier: MIT */
/*
 * io file directories. Invariant: a directory is swept only when it is a
 * real directory (never a symlink's target), owned by us, of mode 0711,
 * and its flock() can be taken: the lock is held by its daemon from
 * before the mode is set until it exits, so a live daemon's files are
 * never touched, whatever pid namespace it runs in. Everything is done
 * relative to directory fds, and nothing below the parent is followed.
 * Daemons from before the lock named theirs gpulease.<pid> and took no
 * lock: such a name is swept only when that pid does not exist either.
 */
#include <dirent.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/iodir.h"
#include "daemon/log.h"
#include "daemon/parse.h"

#define IODIR_PREFIX	"gpulease."
#define IODIR_MODE	0711

/* Unlink every entry of the directory @fd; subdirectories stay. */
static void iodir_empty(int fd)
{
	struct dirent *e;
	int dfd = dup(fd);
	DIR *d = dfd < 0 ? NULL : fdopendir(dfd);

	if (!d) {
		if (dfd >= 0)
			close(dfd);
		return;
	}
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			unlinkat(fd, e->d_name, 0);	/* never follows */
	closedir(d);
}

void iodir_remove(const char *dir, int fd)
{
	if (fd < 0)
		return;
	iodir_empty(fd);
	rmdir(dir);
	close(fd);	/* drops the lock */
}

/*
 * Is @name the gpulease.<pid> of a daemon from before the lock whose pid
 * still runs? Only ever spares a directory, never condemns one.
 */
static bool iodir_legacy_alive(const char *name)
{
	const char *p = name + strlen(IODIR_PREFIX);
	uint64_t v;

	if (parse_u64(p, &v) || !v || v > 0x7fffffff)
		return false;
	return kill((pid_t)v, 0) == 0 || errno != ESRCH;
}

/* Remove @parent/@name (open as @pfd) if it is a dead daemon's. */
static void iodir_sweep_one(int pfd, const char *parent, const char *name)
{
	struct stat st;
	int fd;

	fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
	if (fd < 0)
		return;		/* a symlink, a file, gone: not ours */
	/* the mode is checked under the lock: see the invariant */
	if (flock(fd, LOCK_EX | LOCK_NB) || fstat(fd, &st) ||
	    !S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 07777) != IODIR_MODE || iodir_legacy_alive(name)) {
		close(fd);
		return;		/* alive, being made, or not a daemon's */
	}
	gl_info("removing %s/%s, left by a daemon that died", parent, name);
	iodir_empty(fd);
	if (unlinkat(pfd, name, AT_REMOVEDIR))
		gl_info("cannot remove %s/%s: %s", parent, name,
			strerror(errno));
	close(fd);
}

static void iodir_sweep(const char *parent)
{
	struct dirent *e;
	int pfd, dfd;
	DIR *d;

	pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pfd < 0)
		return;
	dfd = dup(pfd);
	d = dfd < 0 ? NULL : fdopendir(dfd);
	if (!d) {
		if (dfd >= 0)
			close(dfd);
		close(pfd);
		return;
	}
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, IODIR_PREFIX, strlen(IODIR_PREFIX)))
			iodir_sweep_one(pfd, parent, e->d_name);
	closedir(d);
	close(pfd);
}

int iodir_create(const char *parent, char *out, size_t size)
{
	int n, fd;

	iodir_sweep(parent);
	n = snprintf(out, size, "%s/" IODIR_PREFIX "XXXXXX", parent);
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	if (!mkdtemp(out))	/* mode 0700: no sweeper takes it yet */
		return -errno;
	fd = open(out, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		n = -errno;
		rmdir(out);
		return n;
	}
	/*
	 * Lock first, then the mode that makes it a daemon's. A sweeper
	 * may hold the lock for a moment (it lets go of a 0700 directory):
	 * wait for it.
	 */
	if (flock(fd, LOCK_EX) || fchmod(fd, IODIR_MODE)) {
		n = -errno;
		iodir_remove(out, fd);
		return n;
	}
	return fd;
}
