/* SPDX-License-Identifier: MIT */
/*
 * fuse_steal.h - hold the daemon's FUSE connection as a supervisor would,
 * so that a daemon killed with SIGKILL leaves a file system that never
 * answers instead of one that says ENOTCONN: the case a client library
 * must detect by itself (fs/libring.c, fs/model_ring.c).
 */
#ifndef GL_SELFTEST_FUSE_STEAL_H
#define GL_SELFTEST_FUSE_STEAL_H

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

/* A copy of the daemon's /dev/fuse descriptor, as a supervisor that
 * mounted it for the daemon would hold: -errno when there is none. */
static inline int steal_fuse_fd(pid_t pid)
{
	char path[64], link[64];
	struct dirent *e;
	int pfd, fd = -ENOENT;
	DIR *dir;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	dir = opendir(path);
	if (!dir)
		return -errno;
	while (fd == -ENOENT && (e = readdir(dir))) {
		snprintf(path, sizeof(path), "/proc/%d/fd/%.16s", (int)pid,
			 e->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (strcmp(link, "/dev/fuse"))
			continue;
		pfd = (int)syscall(SYS_pidfd_open, pid, 0);
		if (pfd < 0) {
			fd = -errno;
			break;
		}
		fd = (int)syscall(SYS_pidfd_getfd, pfd, atoi(e->d_name), 0);
		if (fd < 0)
			fd = -errno;
		close(pfd);
	}
	closedir(dir);
	return fd;
}

#endif
