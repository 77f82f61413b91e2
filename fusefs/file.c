/* SPDX-License-Identifier: MIT */
/*
 * File operations: open, read, write, release. vram goes through the page
 * cache (so mmap works); every other file is direct I/O text, rendered
 * afresh by a read at offset 0.
 * Invariant: a handle holds its own class reference on its node's object
 * (a lease node's: the lease) until release, and a handle that a lease
 * was bound to drops those leases at release.
 */
#include <errno.h>
#include <assert.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/lease.h"
#include "fusefs/fs.h"

struct fs_handle *fs_handle_new(struct fs *fs, const struct fs_node *n)
{
	struct fs_handle *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	if (pthread_mutex_init(&h->lock, NULL)) {
		free(h);
		return NULL;
	}
	h->node = *n;
	fs_node_get(&h->node);
	if (fs_class_of(n->kind) == &fs_lease_class)
		h->lease = n->lease;
	if (n->kind == FS_LEASE_VRAM)
		atomic_fetch_add(&h->lease->vram_open, 1);
	pthread_mutex_lock(&fs->handles_lock);
	cds_list_add(&h->link, &fs->handles);
	pthread_mutex_unlock(&fs->handles_lock);
	return h;
}

void fs_handle_free(struct fs *fs, struct fs_handle *h)
{
	pthread_mutex_lock(&fs->handles_lock);
	cds_list_del(&h->link);
	pthread_mutex_unlock(&fs->handles_lock);
	fs_submit_release(h);
	fs_infer_release(h);
	if (h->binds)
		lease_release_token(&fs->broker.leases, h);
	if (h->node.kind == FS_LEASE_VRAM) {
		assert(atomic_load(&h->lease->vram_open) > 0);
		atomic_fetch_sub(&h->lease->vram_open, 1);
	}
	fs_node_put(&h->node);
	free(h->text);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

void fs_handle_free_all(struct fs *fs)
{
	struct fs_handle *h;

	for (;;) {
		pthread_mutex_lock(&fs->handles_lock);
		h = cds_list_empty(&fs->handles) ? NULL :
			cds_list_first_entry(&fs->handles, struct fs_handle,
					     link);
		pthread_mutex_unlock(&fs->handles_lock);
		if (!h)
			return;
		fs_handle_free(fs, h);
	}
}

static struct fs_handle *fs_handle_of(struct fuse_file_info *fi)
{
	return (struct fs_handle *)(uintptr_t)fi->fh;
}

void fs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct fs_handle *h;
	struct fs_node n;
	int err;

	err = fs_node_of(fs, ino, &n);
	if (!err && fs_is_dir(n.kind))
		err = -EISDIR;
	if (!err)
		err = fs_node_check(&n, false);
	/* atomic O_TRUNC: vram keeps its size and reads zero from 0 on */
	if (!err && n.kind == FS_LEASE_VRAM && (fi->flags & O_TRUNC))
		err = lease_zero_from(n.lease, 0);
	if (err) {
		fuse_reply_err(req, -err);
		return;
	}
	h = fs_handle_new(fs, &n);
	if (!h) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (n.kind == FS_LEASE_SUBMIT && fs_submit_open(fs, h)) {
		fs_handle_free(fs, h);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fi->fh = (uintptr_t)h;
	fi->direct_io = n.kind != FS_LEASE_VRAM;
	fi->keep_cache = 0;
	if (fuse_reply_open(req, fi))
		fs_handle_free(fs, h);
}

static void fs_read_vram(fuse_req_t req, struct fs_handle *h, size_t size,
			 off_t off)
{
	ssize_t n;
	char *buf;

	buf = malloc(size ? size : 1);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	n = lease_pread(h->lease, buf, size, (uint64_t)off);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
	free(buf);
}

void fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
	     struct fuse_file_info *fi)
{
	struct fs_handle *h = fs_handle_of(fi);
	struct fs *fs = fs_of(req);
	char *out = NULL;
	size_t n = 0;
	int err = 0;

	if (h->node.kind == FS_LEASE_VRAM) {
		fs_read_vram(req, h, size, off);
		return;
	}
	if (h->node.kind == FS_LEASE_SUBMIT) {
		fs_submit_read(req, h, size, fi->flags & O_NONBLOCK);
		return;
	}
	if (h->node.kind == FS_MODEL_INFER) {
		fs_infer_read(req, h, size, fi->flags & O_NONBLOCK);
		return;
	}
	pthread_mutex_lock(&h->lock);
	if (off == 0 || !h->text) {
		char *text;
		size_t len;

		err = fs_text_render(fs, &h->node, fuse_req_ctx(req)->uid,
				     &text, &len);
		if (!err) {
			free(h->text);
			h->text = text;
			h->len = len;
		}
	}
	/*
	 * Copy the slice out: once the reply is sent the client may close
	 * and release may free @h on another thread, so nothing of @h may
	 * be touched after fuse_reply_*.
	 */
	if (!err && (size_t)off < h->len) {
		n = h->len - (size_t)off < size ? h->len - (size_t)off : size;
		out = malloc(n);
		if (out)
			memcpy(out, h->text + off, n);
		else
			err = -ENOMEM;
	}
	pthread_mutex_unlock(&h->lock);
	if (err)
		fuse_reply_err(req, -err);
	else
		fuse_reply_buf(req, out, n);
	free(out);
}

void fs_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
	      off_t off, struct fuse_file_info *fi)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct fs_handle *h = fs_handle_of(fi);
	ssize_t n;
	int err;

	if (h->node.kind == FS_LEASE_VRAM) {
		n = lease_pwrite(h->lease, buf, size, (uint64_t)off);
		if (n < 0)
			fuse_reply_err(req, (int)-n);
		else
			fuse_reply_write(req, (size_t)n);
		return;
	}
	if (h->node.kind == FS_LEASE_SUBMIT) {
		fs_submit_write(req, h, buf, size, fi->flags & O_NONBLOCK);
		return;
	}
	if (h->node.kind == FS_MODEL_INFER) {
		fs_infer_write(req, h, buf, size);
		return;
	}
	if (h->node.kind == FS_MODELS_CTL) {
		fs_models_ctl_write(req, h, buf, size);
		return;
	}
	err = fs_text_write(fs_of(req), h, ctx->uid, ctx->gid, buf, size);
	if (err)
		fuse_reply_err(req, -err);
	else
		fuse_reply_write(req, size);
}

void fs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fs_handle_free(fs_of(req), fs_handle_of(fi));
	fuse_reply_err(req, 0);
}

/* Copies into a lease are synchronous: there is nothing to flush. */
void fs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
	      struct fuse_file_info *fi)
{
	fuse_reply_err(req, 0);
}
