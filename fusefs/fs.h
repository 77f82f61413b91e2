/* SPDX-License-Identifier: MIT */
/*
 * The FUSE front end's shared types: the node kinds of the tree, how an
 * inode number maps to one, open-file handles, and the fs_* operations.
 *
 * Inode numbers: static nodes are small constants; device files are
 * FS_INO_DEV_BASE + 16 * device + kind; kernel files are
 * FS_INO_KERNEL_BASE + registry index; lease nodes are the lease's
 * address (64-byte aligned) ORed with the kind. The kernel holds one lease
 * reference per lookup it counts, put back by forget, so a lease address
 * stays valid for as long as the kernel may send it.
 */
#ifndef GL_FS_H
#define GL_FS_H

#define FUSE_USE_VERSION 35
#include <fuse_lowlevel.h>

#include <pthread.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <urcu/list.h>

#include "daemon/broker.h"

struct lease;

enum fs_kind {
	/* static */
	FS_ROOT,
	FS_CTL,
	FS_METRICS,
	FS_DEVICES,
	FS_LEASES,
	FS_LEASES_CTL,
	FS_KERNELS,
	FS_KERNELS_CTL,
	FS_NR_STATIC,
	/* per kernel */
	FS_KERNEL = FS_NR_STATIC,
	/* per device */
	FS_DEV_DIR,
	FS_DEV_NAME,
	FS_DEV_KIND,
	FS_DEV_CAP,
	FS_DEV_USED,
	FS_DEV_FREE,
	FS_DEV_LEASES,
	FS_DEV_STATE,
	FS_DEV_RESERVED,
	/* per lease */
	FS_LEASE_DIR,
	FS_LEASE_CTL,
	FS_LEASE_VRAM,
	FS_LEASE_STATS,
	FS_LEASE_SUBMIT,
	FS_LEASE_IO,		/* symlink to the io file, while there is one */
	FS_NR_KINDS,
};

#define FS_INO_DEV_BASE 0x100u
#define FS_INO_KERNEL_BASE 0x200u
#define FS_INO_LEASE_MIN 0x1000u

struct fs_node {
	enum fs_kind kind;
	unsigned idx;		/* FS_DEV_*: device; FS_KERNEL: registry */
	struct lease *lease;	/* FS_LEASE_*: borrowed from the kernel's
				 * lookup reference */
};

struct fs_notify;

struct fs {
	struct broker broker;
	struct fuse_session *se;
	struct fs_notify *notify;
	struct timespec started;	/* times of static nodes */
	pthread_mutex_t handles_lock;	/* guards handles */
	struct cds_list_head handles;	/* open handles, freed at exit if
					 * the kernel never released them */
	int ready_fd;			/* background start: the pipe fs_init
					 * tells the waiting parent on; -1 in
					 * the foreground and once told */
	bool ready_keep_stderr;		/* --log stderr in the background */
};

/* One open file or directory. */
struct fs_handle {
	struct cds_list_head link;	/* fs->handles; handles_lock */
	struct fs_node node;
	struct lease *lease;	/* own reference, lease nodes only */
	pthread_mutex_t lock;	/* guards text, len */
	char *text;		/* files: rendered text; dirs: fs_dirent[] */
	size_t len;		/* files: bytes; dirs: entries */
	bool binds;		/* a lease may be bound to this handle */
	struct fs_cq *cq;	/* submit: completions of O_NONBLOCK
				 * launches made through this handle */
};

/* ino.c */
fuse_ino_t fs_ino(const struct fs_node *n);
int fs_node_of(struct fs *fs, fuse_ino_t ino, struct fs_node *n);
int fs_child(struct fs *fs, const struct fs_node *dir, const char *name,
	     struct fs_node *out);
void fs_stat(struct fs *fs, const struct fs_node *n, struct stat *st);
bool fs_is_dir(enum fs_kind kind);
bool fs_is_lease(enum fs_kind kind);
bool fs_has_io(struct lease *l);
const char *fs_static_name(enum fs_kind kind);
enum fs_kind fs_static_parent(enum fs_kind kind);
int fs_reply_entry(fuse_req_t req, struct fs *fs, const struct fs_node *n);

/* text.c */
int fs_text_render(struct fs *fs, const struct fs_node *n, uid_t uid,
		   char **text, size_t *len);
int fs_text_write(struct fs *fs, struct fs_handle *h, uid_t uid, gid_t gid,
		  const char *buf, size_t size);

/* submit.c */
int fs_submit_open(struct fs *fs, struct fs_handle *h);
void fs_submit_write(fuse_req_t req, struct fs_handle *h, const char *buf,
		     size_t size, bool nonblock);
void fs_submit_read(fuse_req_t req, struct fs_handle *h, size_t size,
		    bool nonblock);
void fs_submit_release(struct fs_handle *h);

/* notify.c */
int fs_notify_start(struct fs *fs);
void fs_notify_stop(struct fs *fs);
/*
 * fs_notify_wait - send @ev for @l from the notifier and wait for it, at
 * most @timeout_ms: an operation may not notify itself (the kernel may
 * hold what the notification needs until the operation's reply), but it
 * may wait a bounded time for the notifier to have done it. On timeout the
 * notification is still sent, later, and touches nothing of the caller's.
 * LEASE_EV_DATA while no vram file of @l is open is skipped: the next
 * open drops whatever pages are cached.
 */
void fs_notify_wait(struct fs *fs, struct lease *l, enum lease_event ev,
		    int timeout_ms);
extern const struct lease_ops fs_lease_ops;

/* dir.c */
void fs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
void fs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup);
void fs_forget_multi(fuse_req_t req, size_t count,
		     struct fuse_forget_data *forgets);
void fs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		int to_set, struct fuse_file_info *fi);
void fs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
	      mode_t mode);
void fs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);
void fs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		struct fuse_file_info *fi);
void fs_releasedir(fuse_req_t req, fuse_ino_t ino,
		   struct fuse_file_info *fi);
void fs_readlink(fuse_req_t req, fuse_ino_t ino);
/* mknod, create, symlink, link, unlink, rename: EPERM, always */
void fs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
	      mode_t mode, dev_t rdev);
void fs_create(fuse_req_t req, fuse_ino_t parent, const char *name,
	       mode_t mode, struct fuse_file_info *fi);
void fs_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		const char *name);
void fs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
	     const char *newname);
void fs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
void fs_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
	       fuse_ino_t newparent, const char *newname, unsigned int flags);

/* file.c */
void fs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
	     struct fuse_file_info *fi);
void fs_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
	      off_t off, struct fuse_file_info *fi);
void fs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
	      struct fuse_file_info *fi);
struct fs_handle *fs_handle_new(struct fs *fs, const struct fs_node *n);
void fs_handle_free(struct fs *fs, struct fs_handle *h);
void fs_handle_free_all(struct fs *fs);

static inline struct fs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

#endif
