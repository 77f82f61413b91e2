/* SPDX-License-Identifier: MIT */
/*
 * io file directories. Invariant: a directory named gpulease.<pid> is
 * removed only when kill(pid, 0) says no such process, so a live daemon's
 * files are never touched, whoever runs it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/iodir.h"
#include "daemon/log.h"

#define IODIR_PREFIX "gpulease."

void iodir_remove(const char *dir)
{
	struct dirent *e;
	DIR *d = opendir(dir);

	if (d) {
		while ((e = readdir(d)))
			if (e->d_name[0] != '.')
				unlinkat(dirfd(d), e->d_name, 0);
		closedir(d);
	}
	rmdir(dir);
}

/* The pid a directory name stands for, or 0 for anything else. */
static pid_t iodir_pid(const char *name)
{
	const char *p = name + strlen(IODIR_PREFIX);
	char *end;
	long v;

	if (strncmp(name, IODIR_PREFIX, strlen(IODIR_PREFIX)) || !*p)
		return 0;
	v = strtol(p, &end, 10);
	return (*end || v <= 0 || v > 0x7fffffff) ? 0 : (pid_t)v;
}

static void iodir_sweep(const char *parent)
{
	char path[PATH_MAX];
	struct dirent *e;
	pid_t pid;
	DIR *d = opendir(parent);

	if (!d)
		return;
	while ((e = readdir(d))) {
		pid = iodir_pid(e->d_name);
		if (!pid || pid == getpid())
			continue;
		if (kill(pid, 0) == 0 || errno != ESRCH)
			continue;	/* alive, or not ours to judge */
		if (snprintf(path, sizeof(path), "%s/%s", parent, e->d_name) >=
		    (int)sizeof(path))
			continue;
		gl_info("removing %s, left by a daemon that died", path);
		iodir_remove(path);
	}
	closedir(d);
}

int iodir_create(const char *parent, char *out, size_t size)
{
	int n;

	iodir_sweep(parent);
	n = snprintf(out, size, "%s/" IODIR_PREFIX "%d", parent, (int)getpid());
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	/* our pid's, from an earlier daemon of the same pid: stale too */
	iodir_remove(out);
	if (mkdir(out, 0711))
		return -errno;
	/* mkdir obeys the umask: set the mode for sure */
	if (chmod(out, 0711)) {
		n = -errno;
		rmdir(out);
		return n;
	}
	return 0;
}
