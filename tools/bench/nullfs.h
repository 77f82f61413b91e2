/* SPDX-License-Identifier: MIT */
/*
 * nullfs: a FUSE file system that does nothing, the floor the lease
 * benchmark compares gpuleased against. It serves the same system calls as
 * a lease cycle (mkdir NAME, write NAME/ctl, rmdir NAME) with zero broker
 * work, in a forked child, so the kernel and libfuse costs are all that is
 * left.
 */
#ifndef GL_BENCH_NULLFS_H
#define GL_BENCH_NULLFS_H

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

struct nullfs_opts {
	double timeout;		/* s, entry and attr cache of dirs and ctl */
	bool single;		/* fuse_session_loop, not the mt loop */
	bool debug;		/* libfuse's -d: print every request */
};

struct nullfs {
	pid_t pid;		/* the serving child, 0 when stopped */
	char mnt[PATH_MAX];	/* where it is mounted */
};

/*
 * nullfs_start() - fork a child that mounts a null file system on MNT (an
 * existing empty directory) and serves it until nullfs_stop().
 *
 * Returns 0 once the mount is live, or -errno: the child's mount error, or
 * -ECHILD when the child died without saying why. The child gets SIGTERM
 * should the caller die first. Not thread-safe (it forks).
 */
int nullfs_start(struct nullfs *nfs, const char *mnt,
		 const struct nullfs_opts *opts);

/*
 * nullfs_stop() - unmount and reap the child of a successful nullfs_start().
 *
 * SIGTERMs the child, which unmounts itself; after a few seconds it is
 * SIGKILLed and the mount detached. Returns 0, or -EIO when the child did
 * not exit cleanly. Safe to call twice.
 */
int nullfs_stop(struct nullfs *nfs);

#endif /* GL_BENCH_NULLFS_H */
