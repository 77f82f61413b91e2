/* SPDX-License-Identifier: MIT */
/*
 * Directory operations: lookup/forget (the kernel's references), getattr
 * and setattr, mkdir (acquire), rmdir (drop), readdir, and the refusal
 * of every other namespace change.
 * Invariant: every fs_* here ends in exactly one fuse_reply_*; an entry
 * reply is counted in the node table (fs_reply_entry), a forget takes it
 * back there; nothing here knows a class but through its hooks, except
 * mkdir and rmdir, which are leases/ (acquire and drop).
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/lease-ctl.h"
#include "daemon/lease.h"
#include "daemon/log.h"
#include "fusefs/fs.h"

void fs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = fs_of(req);
	struct fs_node dir, child;
	int err;

	err = fs_node_of(fs, parent, &dir);
	if (err)
		goto out_err;
	if (!fs_is_dir(dir.kind)) {
		err = -ENOTDIR;
		goto out_err;
	}
	err = fs_child(fs, &dir, name, &child);
	if (err)
		goto out_err;
	fs_reply_entry(req, fs, &child);
	return;
out_err:
	fuse_reply_err(req, -err);
}

void fs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	fs_nodes_forget(&fs_of(req)->nodes, ino, nlookup);
	fuse_reply_none(req);
}

void fs_forget_multi(fuse_req_t req, size_t count,
		     struct fuse_forget_data *forgets)
{
	struct fs *fs = fs_of(req);
	size_t i;

	for (i = 0; i < count; i++)
		fs_nodes_forget(&fs->nodes, forgets[i].ino,
				forgets[i].nlookup);
	fuse_reply_none(req);
}

static void fs_reply_stat(fuse_req_t req, struct fs *fs,
			  const struct fs_node *n)
{
	struct stat st;

	fs_stat(fs, n, &st);
	fuse_reply_attr(req, &st, fs_class_of(n->kind)->attr_timeout);
}

void fs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct fs_node n;
	int err;

	err = fs_node_of(fs, ino, &n);
	if (!err)
		err = fs_node_check(&n, true);
	if (err) {
		fuse_reply_err(req, -err);
		return;
	}
	fs_reply_stat(req, fs, &n);
}

/*
 * Time updates renew a lease (touch); a size change on vram zeroes the
 * tail and keeps the size; a size change on a text file is the O_TRUNC of
 * "echo > ctl" and means nothing. Everything else is refused.
 */
void fs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		int to_set, struct fuse_file_info *fi)
{
	const int times = FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME |
			  FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_MTIME_NOW |
			  FUSE_SET_ATTR_CTIME;
	struct fs *fs = fs_of(req);
	struct fs_node n;
	int err;

	err = fs_node_of(fs, ino, &n);
	if (!err)
		err = fs_node_check(&n, true);
	if (err)
		goto out_err;
	if (to_set & ~(times | FUSE_SET_ATTR_SIZE)) {
		err = -EPERM;
		goto out_err;
	}
	if (to_set & FUSE_SET_ATTR_SIZE) {
		if (fs_is_dir(n.kind)) {
			err = -EISDIR;
			goto out_err;
		}
		/*
		 * The size stays, so the kernel keeps its cached pages: have
		 * them dropped before the reply. Bounded: with dirty mmap
		 * pages the kernel flushes them only after our reply.
		 */
		if (n.kind == FS_LEASE_VRAM) {
			err = lease_zero_from(n.lease, (uint64_t)attr->st_size);
			if (err)
				goto out_err;
			fs_notify_wait(fs, n.lease, LEASE_EV_DATA, 200);
		}
	}
	if ((to_set & times) && n.kind == FS_LEASE_DIR) {
		err = lease_renew(n.lease, 0, false);
		if (err)
			goto out_err;
	}
	fs_reply_stat(req, fs, &n);
	return;
out_err:
	fuse_reply_err(req, -err);
}

void fs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
	      mode_t mode)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct fs *fs = fs_of(req);
	struct fs_node n = { .kind = FS_LEASE_DIR };
	struct lease_req lr;
	int err;

	if (parent != FUSE_ROOT_ID + FS_LEASES) {
		fuse_reply_err(req, EPERM);
		return;
	}
	leases_req_init(&lr, &fs->broker.leases, name, ctx->uid, ctx->gid);
	lr.ops = &fs_lease_ops;
	lr.ops_ctx = fs;
	err = lease_acquire(&fs->broker.leases, &lr, &n.lease);
	if (err) {
		fuse_reply_err(req, -err);
		return;
	}
	fs_reply_entry(req, fs, &n);
}

void fs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct fs *fs = fs_of(req);
	struct lease *l;
	int err;

	if (parent != FUSE_ROOT_ID + FS_LEASES) {
		fuse_reply_err(req, EPERM);
		return;
	}
	l = lease_lookup(&fs->broker.leases, name);
	if (!l) {
		fuse_reply_err(req, !strcmp(name, GL_FILE_CTL) ? ENOTDIR :
								 ENOENT);
		return;
	}
	/* a lease another creator made (a model's) is its to hear of */
	err = lease_drop(l, ctx->uid, l->ops != &fs_lease_ops);
	lease_put(l);
	fuse_reply_err(req, -err);
}

void fs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct fs_handle *h;
	struct fs_node n;
	int err;

	err = fs_node_of(fs, ino, &n);
	if (!err)
		err = fs_node_check(&n, false);
	if (err) {
		fuse_reply_err(req, -err);
		return;
	}
	h = fs_handle_new(fs, &n);
	if (!h) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fi->fh = (uintptr_t)h;
	if (fuse_reply_open(req, fi))
		fs_handle_free(fs, h);
}

struct fs_dirent {
	char name[GL_NAME_MAX + 1];
	fuse_ino_t ino;
	mode_t mode;
};

struct fs_dirlist {
	struct fs_dirent *ents;
	size_t nr, cap;
};

/* fs_dirlist_add - append @n as @name: 0 or -ENOMEM. */
int fs_dirlist_add(struct fs_dirlist *d, struct fs *fs,
		   const struct fs_node *n, const char *name)
{
	struct fs_dirent *e;
	struct stat st;

	if (d->nr == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 16;

		e = realloc(d->ents, cap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		d->ents = e;
		d->cap = cap;
	}
	e = &d->ents[d->nr++];
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->ino = fs_ino(n);
	fs_stat(fs, n, &st);
	e->mode = st.st_mode;
	return 0;
}

/*
 * Snapshot the entries of @dir as @uid sees them: "." and "..", its fixed
 * children, then the objects of the classes listed in it.
 */
static int fs_dirlist_fill(struct fs_dirlist *d, struct fs *fs,
			   const struct fs_node *dir, uid_t uid)
{
	const struct fs_class *const *c;
	struct fs_node n = *dir;
	int k, err;

	err = fs_dirlist_add(d, fs, dir, ".");
	if (!err)
		err = fs_dirlist_add(d, fs, dir, "..");
	for (c = fs_classes; !err && *c; c++) {
		for (k = (*c)->first; !err && k <= (int)(*c)->last; k++) {
			const struct fs_kind_info *ki = fs_kind(k);

			if (!ki->name || ki->parent != dir->kind)
				continue;
			n.kind = (enum fs_kind)k;
			if ((*c)->hidden && (*c)->hidden(&n))
				continue;
			err = fs_dirlist_add(d, fs, &n, ki->name);
		}
		if (!err && (*c)->dir == dir->kind && (*c)->list)
			err = (*c)->list(fs, uid, d);
	}
	return err;
}

void fs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		struct fuse_file_info *fi)
{
	struct fs_handle *h = (struct fs_handle *)(uintptr_t)fi->fh;
	struct fs_dirlist d = { NULL, 0, 0 };
	size_t pos = 0, i;
	char *buf;
	int err = 0;

	buf = malloc(size);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	pthread_mutex_lock(&h->lock);
	if (off == 0 || !h->text) {
		err = fs_dirlist_fill(&d, fs_of(req), &h->node,
				      fuse_req_ctx(req)->uid);
		if (err) {
			free(d.ents);
			goto out;
		}
		free(h->text);
		h->text = (char *)d.ents;
		h->len = d.nr;
	}
	for (i = (size_t)off; i < h->len; i++) {
		const struct fs_dirent *e = (struct fs_dirent *)h->text + i;
		struct stat st = { .st_ino = e->ino, .st_mode = e->mode };
		size_t n;

		n = fuse_add_direntry(req, buf + pos, size - pos, e->name, &st,
				      (off_t)(i + 1));
		if (n > size - pos)
			break;
		pos += n;
	}
out:
	pthread_mutex_unlock(&h->lock);
	if (err)
		fuse_reply_err(req, -err);
	else
		fuse_reply_buf(req, buf, pos);
	free(buf);
}

void fs_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct fs *fs = fs_of(req);
	char path[256];
	struct fs_node n;
	int err;

	err = fs_node_of(fs, ino, &n);
	if (!err) {
		const struct fs_class *c = fs_class_of(n.kind);

		err = S_ISLNK(fs_kind(n.kind)->mode) && c->readlink ?
		      c->readlink(&n, path, sizeof(path)) : -EINVAL;
	}
	if (err)
		fuse_reply_err(req, -err);
	else
		fuse_reply_readlink(req, path);
}

void fs_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fs_handle_free(fs_of(req), (struct fs_handle *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

/*
 * The tree's names are made by mkdir (a lease) and by the daemon; nothing
 * else creates, renames or removes one. EPERM, as configfs and cgroupfs
 * answer, rather than the ENOSYS of an operation libfuse does not know.
 */
void fs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
	      mode_t mode, dev_t rdev)
{
	fuse_reply_err(req, EPERM);
}

void fs_create(fuse_req_t req, fuse_ino_t parent, const char *name,
	       mode_t mode, struct fuse_file_info *fi)
{
	fuse_reply_err(req, EPERM);
}

void fs_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		const char *name)
{
	fuse_reply_err(req, EPERM);
}

void fs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
	     const char *newname)
{
	fuse_reply_err(req, EPERM);
}

void fs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, EPERM);
}

void fs_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
	       fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	fuse_reply_err(req, EPERM);
}
