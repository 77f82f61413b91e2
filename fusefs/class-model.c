// SPDX-License-Identifier: MIT
/*
 * The model class: models/<name>/ and its files (ctl, infer, stats, the
 * io symlink to the request ring: its lease's io region), and
 * the two writes that need more than text.c's uid: models/ctl (a load
 * opens files with the caller's groups too) and infer (a request per
 * open file, its answer read back, blocking until it grows).
 * Its object is the model; every node of it the kernel holds, and every
 * open handle, keeps one model reference. Inodes number by the model's
 * id, never reused. Nothing is cached in the kernel: a model comes and
 * goes under it. Directories are 0700 and owned by the loading uid, so
 * the kernel's permission check gives another uid EACCES, as for leases.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/model.h"
#include "fusefs/fs.h"

#define MODEL_KIND(name, mode) { name, FS_MODEL_DIR, mode }
#define FS_GROUPS_MAX 256

static const struct fs_kind_info model_kinds[] = {
	[FS_MODEL_DIR - FS_MODEL_DIR] = { NULL, FS_MODELS, S_IFDIR | 0700 },
	[FS_MODEL_CTL - FS_MODEL_DIR] = MODEL_KIND(GL_FILE_CTL,
						   S_IFREG | 0600),
	[FS_MODEL_INFER - FS_MODEL_DIR] = MODEL_KIND("infer",
						     S_IFREG | 0600),
	[FS_MODEL_STATS - FS_MODEL_DIR] = MODEL_KIND(GL_FILE_STATS,
						     S_IFREG | 0400),
	[FS_MODEL_IO - FS_MODEL_DIR] = MODEL_KIND("io", S_IFLNK | 0777),
};

_Static_assert(sizeof(model_kinds) / sizeof(model_kinds[0]) ==
	       FS_MODEL_IO - FS_MODEL_DIR + 1, "one entry per model kind");

static uint64_t model_node_index(const struct fs_node *n)
{
	return model_id(n->model);
}

static void model_node_get(const struct fs_node *n)
{
	model_get(n->model);
}

static void model_node_put(const struct fs_node *n)
{
	model_put(n->model);
}

static int model_node_find(struct fs *fs, const char *name,
			   struct fs_node *out)
{
	memset(out, 0, sizeof(*out));
	out->kind = FS_MODEL_DIR;
	out->model = model_find(&fs->broker.models, name);
	return out->model ? 0 : -ENOENT;
}

struct model_lister {
	struct fs *fs;
	struct fs_dirlist *d;
};

static int model_list_one(void *arg, struct model *m)
{
	struct model_lister *ml = arg;
	struct fs_node n = { .kind = FS_MODEL_DIR, .model = m };

	return fs_dirlist_add(ml->d, ml->fs, &n, model_name(m));
}

static int model_node_list(struct fs *fs, uid_t uid, struct fs_dirlist *d)
{
	struct model_lister ml = { fs, d };

	return model_for_each(&fs->broker.models, uid, model_list_one, &ml);
}

/* An expired model still shows its ctl and stats: only infer fails. */
static int model_node_check(const struct fs_node *n)
{
	int err = model_check(n->model);

	if (err == -EKEYEXPIRED && n->kind != FS_MODEL_INFER)
		return 0;
	return err;
}

static void model_node_stat(const struct fs_node *n, struct stat *st)
{
	st->st_uid = model_owner(n->model);
	st->st_gid = model_group(n->model);
}

/* io: the request ring, while its lease has an io region. */
static bool model_node_hidden(const struct fs_node *n)
{
	char path[8];

	return n->kind == FS_MODEL_IO &&
	       model_io_path(n->model, path, sizeof(path));
}

static int model_node_readlink(const struct fs_node *n, char *buf,
			       size_t size)
{
	return model_io_path(n->model, buf, size);
}

const struct fs_class fs_model_class = {
	.name = "model",
	.nr = 4,
	.first = FS_MODEL_DIR,
	.last = FS_MODEL_IO,
	.kinds = model_kinds,
	.dir = FS_MODELS,
	.dir_timeout = 0.0,
	.file_timeout = 0.0,
	.attr_timeout = 0.0,
	.index = model_node_index,
	.get = model_node_get,
	.put = model_node_put,
	.find = model_node_find,
	.list = model_node_list,
	.check = model_node_check,
	.stat = model_node_stat,
	.hidden = model_node_hidden,
	.readlink = model_node_readlink,
};

void fs_models_ctl_write(fuse_req_t req, struct fs_handle *h,
			 const char *buf, size_t size)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	gid_t *groups = malloc(FS_GROUPS_MAX * sizeof(*groups));
	struct model_cred c = { ctx->uid, ctx->gid, NULL, 0 };
	int n, err;

	(void)h;
	if (!groups) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	/* the caller's supplementary groups, when the kernel tells them */
	n = fuse_req_getgroups(req, FS_GROUPS_MAX, groups);
	if (n >= 0 && n <= FS_GROUPS_MAX) {
		c.groups = groups;
		c.ngroups = n;
	}
	err = model_ctl_write(&fs_of(req)->broker.models, &c, buf, size);
	free(groups);
	if (err)
		fuse_reply_err(req, -err);
	else
		fuse_reply_write(req, size);
}

void fs_infer_write(fuse_req_t req, struct fs_handle *h, const char *buf,
		    size_t size)
{
	int err = 0;

	pthread_mutex_lock(&h->lock);
	if (h->rq)
		err = -EINVAL;	/* one request per open file */
	else
		err = model_req_start(h->node.model, buf, size, &h->rq);
	pthread_mutex_unlock(&h->lock);
	if (err)
		fuse_reply_err(req, -err);
	else
		fuse_reply_write(req, size);
}

void fs_infer_read(fuse_req_t req, struct fs_handle *h, size_t size,
		   bool nonblock)
{
	struct model_req *rq;
	ssize_t n;
	char *buf;

	pthread_mutex_lock(&h->lock);
	rq = h->rq;
	if (rq)
		model_req_get(rq);
	pthread_mutex_unlock(&h->lock);
	if (!rq) {
		fuse_reply_buf(req, NULL, 0);	/* nothing asked yet */
		return;
	}
	buf = malloc(size ? size : 1);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		goto out;
	}
	n = model_req_read(rq, buf, size, nonblock);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
	free(buf);
out:
	model_req_unref(rq);
}

void fs_infer_release(struct fs_handle *h)
{
	if (h->rq)
		model_req_put(h->rq);
	h->rq = NULL;
}
