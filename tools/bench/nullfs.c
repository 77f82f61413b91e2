/* SPDX-License-Identifier: MIT */
/*
 * nullfs: the floor of the lease benchmark. A libfuse low-level file
 * system whose root holds directories made with mkdir, each with one "ctl"
 * file that accepts every write and keeps nothing. It runs in a forked
 * child, as gpuleased runs in its own process, and answers the way
 * gpuleased does wherever that changes which requests the kernel sends:
 * ctl opened direct_io, no flush operation, directories and ctl files
 * cached for opts->timeout (0, like leases, by default), the root for 60 s.
 *
 * Invariant: an inode number says what it is and is never reused within a
 * mount, so getattr and forget need no table: 1 is the root, directory k
 * (k >= 1, in creation order) is 2k, and its ctl file is 2k + 1. The only
 * state is the list of live names.
 */
#define FUSE_USE_VERSION 312

#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fusefs/loop.h"
#include "nullfs.h"

#define NULLFS_CTL		"ctl"
#define NULLFS_STOP_MS		5000
#define NULLFS_ROOT_TIMEOUT	60.0	/* s; gpuleased's for static nodes */

struct nullfs_dir {
	struct nullfs_dir *next;	/* guarded by nullfs_state.lock */
	fuse_ino_t ino;			/* even, fixed at mkdir */
	char name[];
};

struct nullfs_state {
	pthread_mutex_t lock;
	struct nullfs_dir *dirs;	/* guarded by lock */
	uint64_t next_dir;		/* guarded by lock: next mkdir's k */
	double timeout;			/* s, entry and attr, but the root */
	uid_t uid;			/* owner of every inode */
	gid_t gid;
	time_t birth;			/* every timestamp */
};

static bool nullfs_is_dir(fuse_ino_t ino)
{
	return ino == FUSE_ROOT_ID || !(ino & 1);
}

static void nullfs_fill_attr(const struct nullfs_state *st, fuse_ino_t ino,
			     struct stat *sb)
{
	memset(sb, 0, sizeof(*sb));
	sb->st_ino = ino;
	sb->st_uid = st->uid;
	sb->st_gid = st->gid;
	sb->st_atime = sb->st_mtime = sb->st_ctime = st->birth;
	if (ino == FUSE_ROOT_ID) {
		sb->st_mode = S_IFDIR | 0777;
		sb->st_nlink = 2;
	} else if (nullfs_is_dir(ino)) {
		sb->st_mode = S_IFDIR | 0700;
		sb->st_nlink = 2;
	} else {
		sb->st_mode = S_IFREG | 0600;
		sb->st_nlink = 1;
	}
}

static void nullfs_reply_entry(fuse_req_t req, const struct nullfs_state *st,
			       fuse_ino_t ino)
{
	struct fuse_entry_param e;

	memset(&e, 0, sizeof(e));
	e.ino = ino;
	e.attr_timeout = st->timeout;
	e.entry_timeout = st->timeout;
	nullfs_fill_attr(st, ino, &e.attr);
	fuse_reply_entry(req, &e);
}

/* The link that points at NAME's entry, or at the list's NULL end. */
static struct nullfs_dir **nullfs_find(struct nullfs_state *st,
				       const char *name)
{
	struct nullfs_dir **link;

	for (link = &st->dirs; *link; link = &(*link)->next)
		if (!strcmp((*link)->name, name))
			break;
	return link;
}

static void nullfs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct nullfs_state *st = fuse_req_userdata(req);
	struct nullfs_dir *d;
	fuse_ino_t ino = 0;

	if (parent == FUSE_ROOT_ID) {
		pthread_mutex_lock(&st->lock);
		d = *nullfs_find(st, name);
		if (d)
			ino = d->ino;
		pthread_mutex_unlock(&st->lock);
	} else if (nullfs_is_dir(parent) && !strcmp(name, NULLFS_CTL)) {
		ino = parent | 1;
	}
	if (!ino) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	nullfs_reply_entry(req, st, ino);
}

static void nullfs_getattr(fuse_req_t req, fuse_ino_t ino,
			   struct fuse_file_info *fi)
{
	struct nullfs_state *st = fuse_req_userdata(req);
	struct stat sb;

	nullfs_fill_attr(st, ino, &sb);
	fuse_reply_attr(req, &sb, ino == FUSE_ROOT_ID ? NULLFS_ROOT_TIMEOUT :
						       st->timeout);
}

/* Accepts and ignores every change, so `echo x > ctl` (O_TRUNC) works. */
static void nullfs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
			   int to_set, struct fuse_file_info *fi)
{
	nullfs_getattr(req, ino, fi);
}

static void nullfs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
			 mode_t mode)
{
	struct nullfs_state *st = fuse_req_userdata(req);
	struct nullfs_dir **link, *d;
	size_t len = strlen(name);
	fuse_ino_t ino;

	if (parent != FUSE_ROOT_ID) {
		fuse_reply_err(req, EPERM);
		return;
	}
	d = malloc(sizeof(*d) + len + 1);
	if (!d) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	memcpy(d->name, name, len + 1);
	pthread_mutex_lock(&st->lock);
	link = nullfs_find(st, name);
	if (*link) {
		pthread_mutex_unlock(&st->lock);
		free(d);
		fuse_reply_err(req, EEXIST);
		return;
	}
	ino = d->ino = (fuse_ino_t)(st->next_dir++ << 1);
	d->next = NULL;
	*link = d;
	pthread_mutex_unlock(&st->lock);
	nullfs_reply_entry(req, st, ino);
}

static void nullfs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct nullfs_state *st = fuse_req_userdata(req);
	struct nullfs_dir **link, *d;

	pthread_mutex_lock(&st->lock);
	link = nullfs_find(st, name);
	d = *link;
	if (d)
		*link = d->next;
	pthread_mutex_unlock(&st->lock);
	free(d);
	fuse_reply_err(req, d ? 0 : ENOENT);
}

/* Like a ctl file of gpuleased: no page cache, every write reaches us. */
static void nullfs_open(fuse_req_t req, fuse_ino_t ino,
			struct fuse_file_info *fi)
{
	if (nullfs_is_dir(ino)) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	fi->direct_io = 1;
	fuse_reply_open(req, fi);
}

static void nullfs_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
			 size_t size, off_t off, struct fuse_file_info *fi)
{
	fuse_reply_write(req, size);
}

static void nullfs_release(fuse_req_t req, fuse_ino_t ino,
			   struct fuse_file_info *fi)
{
	fuse_reply_err(req, 0);
}

/* Adds entry number IDX (offset IDX + 1) if it fits; false when full. */
static bool nullfs_add(fuse_req_t req, char *buf, size_t size, size_t *used,
		       const char *name, fuse_ino_t ino, off_t idx)
{
	struct stat sb;
	size_t len;

	memset(&sb, 0, sizeof(sb));
	sb.st_ino = ino;
	sb.st_mode = nullfs_is_dir(ino) ? S_IFDIR : S_IFREG;
	len = fuse_add_direntry(req, buf + *used, size - *used, name, &sb,
				idx + 1);
	if (len > size - *used)
		return false;
	*used += len;
	return true;
}

static void nullfs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
			   off_t off, struct fuse_file_info *fi)
{
	struct nullfs_state *st = fuse_req_userdata(req);
	struct nullfs_dir *d;
	size_t used = 0;
	off_t idx = 2;
	char *buf;

	if (!nullfs_is_dir(ino)) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	buf = malloc(size);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (off <= 0 && !nullfs_add(req, buf, size, &used, ".", ino, 0))
		goto out;
	if (off <= 1 && !nullfs_add(req, buf, size, &used, "..", ino, 1))
		goto out;
	if (ino != FUSE_ROOT_ID) {
		if (off <= 2)
			nullfs_add(req, buf, size, &used, NULLFS_CTL, ino | 1,
				   2);
		goto out;
	}
	pthread_mutex_lock(&st->lock);
	for (d = st->dirs; d; d = d->next, idx++)
		if (idx >= off &&
		    !nullfs_add(req, buf, size, &used, d->name, d->ino, idx))
			break;
	pthread_mutex_unlock(&st->lock);
out:
	fuse_reply_buf(req, buf, used);
	free(buf);
}

static void nullfs_destroy(void *userdata)
{
	struct nullfs_state *st = userdata;
	struct nullfs_dir *d;

	while ((d = st->dirs)) {
		st->dirs = d->next;
		free(d);
	}
}

static const struct fuse_lowlevel_ops nullfs_ops = {
	.destroy	= nullfs_destroy,
	.lookup		= nullfs_lookup,
	.getattr	= nullfs_getattr,
	.setattr	= nullfs_setattr,
	.mkdir		= nullfs_mkdir,
	.rmdir		= nullfs_rmdir,
	.open		= nullfs_open,
	.write		= nullfs_write,
	.release	= nullfs_release,
	.readdir	= nullfs_readdir,
};

static void nullfs_report(int fd, int err)
{
	ssize_t n;

	do
		n = write(fd, &err, sizeof(err));
	while (n < 0 && errno == EINTR);
	close(fd);
}

/* The child: mount, tell the parent through READY_FD, serve until SIGTERM. */
static int nullfs_serve(const char *mnt, const struct nullfs_opts *opts,
			int ready_fd)
{
	char opt_o[] = "-o";
	char opt_d[] = "-d";
	char name[] = "gl-nullfs";
	char mount_opts[128];
	char *argv[] = { name, opt_o, mount_opts, opt_d, NULL };
	struct fuse_args args = FUSE_ARGS_INIT(opts->debug ? 4 : 3, argv);
	struct fuse_loop_config *loop = NULL;
	struct nullfs_state st = {
		.lock = PTHREAD_MUTEX_INITIALIZER,
		.next_dir = 1,
		.timeout = opts->timeout,
		.uid = getuid(),
		.gid = getgid(),
		.birth = time(NULL),
	};
	struct fuse_session *se;
	int ret;

	snprintf(mount_opts, sizeof(mount_opts),
		 "fsname=gl-nullfs,subtype=gl-nullfs,default_permissions%s",
		 geteuid() == 0 ? ",allow_other" : "");
	se = fuse_session_new(&args, &nullfs_ops, sizeof(nullfs_ops), &st);
	if (!se) {
		ret = -EINVAL;
		goto out_report;
	}
	if (fuse_set_signal_handlers(se)) {
		ret = -EIO;
		goto out_destroy;
	}
	errno = 0;
	if (fuse_session_mount(se, mnt)) {
		ret = errno ? -errno : -EIO;
		goto out_signals;
	}
	nullfs_report(ready_fd, 0);
	ready_fd = -1;
	if (!opts->single) {
		loop = fs_loop_cfg_new();	/* gpuleased's loop */
		if (!loop) {
			ret = -ENOMEM;
			goto out_unmount;
		}
	}
	ret = loop ? fuse_session_loop_mt(se, loop) : fuse_session_loop(se);
	if (loop)
		fuse_loop_cfg_destroy(loop);
out_unmount:
	fuse_session_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
out_destroy:
	fuse_session_destroy(se);
out_report:
	if (ready_fd >= 0)
		nullfs_report(ready_fd, ret);
	fuse_opt_free_args(&args);
	return ret;
}

int nullfs_start(struct nullfs *nfs, const char *mnt,
		 const struct nullfs_opts *opts)
{
	pid_t parent = getpid(), pid;
	int fds[2], err = 0;
	ssize_t n;

	if (strlen(mnt) >= sizeof(nfs->mnt))
		return -ENAMETOOLONG;
	if (pipe2(fds, O_CLOEXEC))
		return -errno;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		err = -errno;
		close(fds[0]);
		close(fds[1]);
		return err;
	}
	if (pid == 0) {
		close(fds[0]);
		/* libfuse only takes over signals left at their default. */
		signal(SIGHUP, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(1);
		_exit(nullfs_serve(mnt, opts, fds[1]) < 0 ? 1 : 0);
	}
	close(fds[1]);
	do
		n = read(fds[0], &err, sizeof(err));
	while (n < 0 && errno == EINTR);
	close(fds[0]);
	if (n == sizeof(err) && err == 0) {
		nfs->pid = pid;
		strcpy(nfs->mnt, mnt);
		return 0;
	}
	waitpid(pid, NULL, 0);
	return n == sizeof(err) ? err : -ECHILD;
}

/* Waits up to MS milliseconds for PID; returns its status or -ETIMEDOUT. */
static int nullfs_wait(pid_t pid, int ms)
{
	struct timespec tick = { .tv_nsec = 10 * 1000 * 1000 };
	int status;
	pid_t r;

	for (;;) {
		r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return status;
		if (r < 0 && errno != EINTR)
			return -errno;
		if (ms <= 0)
			return -ETIMEDOUT;
		nanosleep(&tick, NULL);
		ms -= 10;
	}
}

int nullfs_stop(struct nullfs *nfs)
{
	int status;

	if (!nfs->pid)
		return 0;
	kill(nfs->pid, SIGTERM);
	status = nullfs_wait(nfs->pid, NULLFS_STOP_MS);
	if (status == -ETIMEDOUT) {
		kill(nfs->pid, SIGKILL);
		waitpid(nfs->pid, NULL, 0);
	}
	nfs->pid = 0;
	if (status < 0 || !WIFEXITED(status) || WEXITSTATUS(status)) {
		umount2(nfs->mnt, MNT_DETACH);
		return -EIO;
	}
	return 0;
}
