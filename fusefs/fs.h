/* SPDX-License-Identifier: MIT */
/*
 * The FUSE front end's shared types: the node kinds of the tree, the node
 * classes they belong to, the table of nodes the kernel holds, open-file
 * handles, and the fs_* operations.
 *
 * A node class (root and the static files, kernels/<k>, devices/<n>/,
 * leases/<name>/ and its files) owns a contiguous run of kinds, the
 * object they stand for (get/put a reference on it), its inode numbers
 * and its objects' names under one static directory. Inode numbers are
 * (class << FS_INO_CLASS_SHIFT) + 1 + index * kinds + kind offset: the
 * same object and kind always get the same number, across forgets, and
 * the root is FUSE_ROOT_ID. Every node the kernel was handed in an entry
 * reply lives in the node table with its own lookup count and one class
 * reference, put when forget brings the count to zero (never below).
 */
#ifndef GL_FS_H
#define GL_FS_H

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

#include <pthread.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <urcu/list.h>

#include "daemon/broker.h"

struct strbuf;

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
	FS_MODELS,
	FS_MODELS_CTL,
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
	/* per model */
	FS_MODEL_DIR,
	FS_MODEL_CTL,
	FS_MODEL_INFER,
	FS_MODEL_STATS,
	FS_MODEL_IO,		/* symlink to its lease's io file, if any */
	FS_NR_KINDS,
};

#define FS_INO_CLASS_SHIFT 56

/* A kind's fixed place in the tree. */
struct fs_kind_info {
	const char *name;	/* NULL: named by its object (find/list) */
	enum fs_kind parent;	/* the kind of the directory it sits in */
	mode_t mode;
};

struct fs_node {
	enum fs_kind kind;
	unsigned idx;		/* devices and kernels: which one */
	union {
		void *obj;	/* the class's object, or NULL */
		struct lease *lease;	/* the lease class's */
		struct model *model;	/* the model class's */
	};
};

struct fs;
struct fs_dirlist;
struct cds_lfht;

/*
 * One class of nodes: kinds first..last, listed in fs_classes[]. Hooks
 * may be NULL where the class has nothing to say. None replies.
 */
struct fs_class {
	const char *name;		/* in metrics */
	unsigned nr;			/* unique, < FS_NR_CLASSES: the top
					 * bits of its inode numbers, its
					 * slot in fs_nodes.stats */
	enum fs_kind first, last;	/* its kinds; first: the object's */
	const struct fs_kind_info *kinds;	/* by kind - first */
	/* the static directory its objects are listed in, with find/list */
	enum fs_kind dir;
	double dir_timeout, file_timeout;	/* entry replies, seconds */
	double attr_timeout;		/* getattr, seconds */
	/* which object: unique and stable while it lives */
	uint64_t (*index)(const struct fs_node *n);
	/* take / put back one reference on n->obj */
	void (*get)(const struct fs_node *n);
	void (*put)(const struct fs_node *n);
	/* the object named @name in dir, with a reference: 0, -ENOENT */
	int (*find)(struct fs *fs, const char *name, struct fs_node *out);
	/* add every object @uid may see to @d (fs_dirlist_add): 0, -errno */
	int (*list)(struct fs *fs, uid_t uid, struct fs_dirlist *d);
	/* 0 while the object serves, else its errno (-EKEYEXPIRED...) */
	int (*check)(const struct fs_node *n);
	/* a fixed child that does not exist right now (leases/x/io) */
	bool (*hidden)(const struct fs_node *n);
	/* attributes beyond the kind's mode and the daemon's start time */
	void (*stat)(const struct fs_node *n, struct stat *st);
	/* a symlink's target: 0 or -errno */
	int (*readlink)(const struct fs_node *n, char *buf, size_t size);
};

/* class-*.c; fs_classes[] (ino.c) lists them, static first */
extern const struct fs_class fs_static_class;
extern const struct fs_class fs_kernel_class;
extern const struct fs_class fs_dev_class;
extern const struct fs_class fs_lease_class;
extern const struct fs_class fs_model_class;
#define FS_NR_CLASSES 8		/* room for more */

/* Per class: what the kernel holds. Guarded by fs_nodes.lock. */
struct fs_class_stats {
	uint64_t nodes;		/* nodes in the table */
	uint64_t lookups;	/* sum of their lookup counts */
};

/* The nodes the kernel holds, by inode number (node.c). */
struct fs_nodes {
	struct cds_lfht *table;		/* of struct fs_inode; RCU readers */
	pthread_mutex_t lock;		/* writers: counts, add, delete */
	struct fs_class_stats stats[FS_NR_CLASSES];	/* lock */
	uint64_t refused;		/* lock; forgets below zero or of
					 * an unknown node (a bug, the
					 * kernel's or ours): the assert
					 * aborts first unless NDEBUG */
};

struct fs_notify;

struct fs {
	struct broker broker;
	struct fuse_session *se;
	struct fs_nodes nodes;
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
	struct fs_node node;	/* holds its own class reference */
	struct lease *lease;	/* node.lease for lease-class nodes (the
				 * node's reference), else NULL */
	pthread_mutex_t lock;	/* guards text, len */
	char *text;		/* files: rendered text; dirs: fs_dirent[] */
	size_t len;		/* files: bytes; dirs: entries */
	bool binds;		/* a lease may be bound to this handle */
	struct fs_cq *cq;	/* submit: completions of O_NONBLOCK
				 * launches made through this handle */
	struct model_req *rq;	/* infer: its one request, or NULL;
				 * lock */
};

/* ino.c: classes, names, attributes */
extern const struct fs_class *const fs_classes[];
const struct fs_class *fs_class_of(enum fs_kind kind);
const struct fs_kind_info *fs_kind(enum fs_kind kind);
fuse_ino_t fs_ino(const struct fs_node *n);
int fs_child(struct fs *fs, const struct fs_node *dir, const char *name,
	     struct fs_node *out);
void fs_stat(struct fs *fs, const struct fs_node *n, struct stat *st);
bool fs_is_dir(enum fs_kind kind);
void fs_node_get(const struct fs_node *n);
void fs_node_put(const struct fs_node *n);
int fs_node_check(const struct fs_node *n, bool stat);
void fs_reply_entry(fuse_req_t req, struct fs *fs, struct fs_node *n);
int fs_nodes_hold_root(struct fs *fs);
/* dir.c */
int fs_dirlist_add(struct fs_dirlist *d, struct fs *fs,
		   const struct fs_node *n, const char *name);

/* node.c: the node table */
int fs_nodes_init(struct fs_nodes *t);
void fs_nodes_destroy(struct fs_nodes *t);
int fs_nodes_hold(struct fs_nodes *t, const struct fs_class *cls,
		  fuse_ino_t ino, const struct fs_node *n);
void fs_nodes_forget(struct fs_nodes *t, fuse_ino_t ino, uint64_t nlookup);
int fs_nodes_find(struct fs_nodes *t, fuse_ino_t ino, struct fs_node *n);
uint64_t fs_nodes_stats(struct fs_nodes *t, struct fs_class_stats *stats);
static inline int fs_node_of(struct fs *fs, fuse_ino_t ino,
			     struct fs_node *n)
{
	return fs_nodes_find(&fs->nodes, ino, n);
}

/* class-lease.c */
bool fs_has_io(struct lease *l);

/* text.c */
int fs_text_render(struct fs *fs, const struct fs_node *n, uid_t uid,
		   char **text, size_t *len);
int fs_text_write(struct fs *fs, struct fs_handle *h, uid_t uid, gid_t gid,
		  const char *buf, size_t size);

/* class-model.c: models/ctl and models/NAME/infer */
void fs_models_ctl_write(fuse_req_t req, struct fs_handle *h,
			 const char *buf, size_t size);
void fs_infer_write(fuse_req_t req, struct fs_handle *h, const char *buf,
		    size_t size);
void fs_infer_read(fuse_req_t req, struct fs_handle *h, size_t size,
		   bool nonblock);
void fs_infer_release(struct fs_handle *h);

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
