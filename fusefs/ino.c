/* SPDX-License-Identifier: MIT */
/*
 * Classes, inode numbers, names and attributes of the tree's nodes: the
 * dispatch from a kind to its class, with no class named here but in
 * fs_classes[].
 * Invariant: fs_ino() of a node depends only on its class, object index
 * and kind, so a node keeps its number across the kernel's forgets; the
 * number's top bits are the class, so no two classes' numbers meet.
 */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "fusefs/fs.h"

/* Every class, static first; a new class is one line here. */
const struct fs_class *const fs_classes[] = {
	&fs_static_class,
	&fs_kernel_class,
	&fs_dev_class,
	&fs_lease_class,
	&fs_model_class,
	NULL,
};

const struct fs_class *fs_class_of(enum fs_kind kind)
{
	const struct fs_class *const *c;

	for (c = fs_classes; *c; c++)
		if (kind >= (*c)->first && kind <= (*c)->last)
			return *c;
	assert(!"a kind without a class");
	return NULL;
}

const struct fs_kind_info *fs_kind(enum fs_kind kind)
{
	const struct fs_class *c = fs_class_of(kind);

	return &c->kinds[kind - c->first];
}

bool fs_is_dir(enum fs_kind kind)
{
	return S_ISDIR(fs_kind(kind)->mode);
}

fuse_ino_t fs_ino(const struct fs_node *n)
{
	const struct fs_class *c = fs_class_of(n->kind);
	uint64_t nr_kinds = c->last - c->first + 1;
	uint64_t idx = c->index ? c->index(n) : 0;

	assert(c->nr < FS_NR_CLASSES &&
	       idx < (UINT64_C(1) << FS_INO_CLASS_SHIFT) / nr_kinds - 1);
	return ((fuse_ino_t)c->nr << FS_INO_CLASS_SHIFT) + FUSE_ROOT_ID +
	       idx * nr_kinds + (n->kind - c->first);
}

void fs_node_get(const struct fs_node *n)
{
	const struct fs_class *c = fs_class_of(n->kind);

	if (c->get)
		c->get(n);
}

void fs_node_put(const struct fs_node *n)
{
	const struct fs_class *c = fs_class_of(n->kind);

	if (c->put)
		c->put(n);
}

/*
 * fs_node_check - the errno of an operation on @n: 0, or its object's
 * (-ENOENT gone, -EKEYEXPIRED). With @stat, the directory of an expired
 * object passes: it stays visible so that it can be removed.
 */
int fs_node_check(const struct fs_node *n, bool stat)
{
	const struct fs_class *c = fs_class_of(n->kind);
	int err = c->check ? c->check(n) : 0;

	if (stat && err == -EKEYEXPIRED && n->kind == c->first &&
	    fs_is_dir(n->kind))
		return 0;
	return err;
}

/* A fixed child of @dir named @name, same object; no reference taken. */
static int fs_fixed_child(const struct fs_node *dir, const char *name,
			  struct fs_node *out)
{
	const struct fs_class *const *c;
	int k;

	for (c = fs_classes; *c; c++) {
		for (k = (*c)->first; k <= (int)(*c)->last; k++) {
			const struct fs_kind_info *ki = fs_kind(k);

			if (!ki->name || ki->parent != dir->kind ||
			    strcmp(ki->name, name))
				continue;
			*out = *dir;
			out->kind = (enum fs_kind)k;
			return (*c)->hidden && (*c)->hidden(out) ? -ENOENT : 0;
		}
	}
	return -ENOENT;
}

/*
 * fs_child - the child @name of directory @dir, with a reference of its
 * class on its object (fs_node_put, or fs_reply_entry, puts it): a fixed
 * child of @dir's kind, else an object of the class listed in @dir.
 * Returns 0, -ENOENT, or @dir's object's errno (fs_node_check).
 */
int fs_child(struct fs *fs, const struct fs_node *dir, const char *name,
	     struct fs_node *out)
{
	const struct fs_class *const *c;
	int err;

	err = fs_node_check(dir, false);
	if (err)
		return err;
	if (!fs_fixed_child(dir, name, out)) {
		fs_node_get(out);
		return 0;
	}
	for (c = fs_classes; *c; c++)
		if ((*c)->dir == dir->kind && (*c)->find)
			return (*c)->find(fs, name, out);
	return -ENOENT;
}

void fs_stat(struct fs *fs, const struct fs_node *n, struct stat *st)
{
	const struct fs_class *c = fs_class_of(n->kind);

	memset(st, 0, sizeof(*st));
	st->st_ino = fs_ino(n);
	st->st_mode = fs_kind(n->kind)->mode;
	st->st_nlink = S_ISDIR(st->st_mode) ? 2 : 1;
	st->st_blksize = 4096;
	st->st_atim = st->st_mtim = st->st_ctim = fs->started;
	if (c->stat)
		c->stat(n, st);
}

/*
 * fs_reply_entry - hand @n to the kernel: count the lookup in the node
 * table (which takes over @n's reference), then reply. A reply the
 * kernel never got takes the lookup back. Always replies.
 */
void fs_reply_entry(fuse_req_t req, struct fs *fs, struct fs_node *n)
{
	const struct fs_class *c = fs_class_of(n->kind);
	struct fuse_entry_param e;
	double t = fs_is_dir(n->kind) ? c->dir_timeout : c->file_timeout;
	int err;

	memset(&e, 0, sizeof(e));
	e.ino = fs_ino(n);
	e.generation = 1;
	e.attr_timeout = t;
	e.entry_timeout = t;
	fs_stat(fs, n, &e.attr);
	err = fs_nodes_hold(&fs->nodes, c, e.ino, n);
	if (err) {
		fuse_reply_err(req, -err);
		return;
	}
	if (fuse_reply_entry(req, &e))
		fs_nodes_forget(&fs->nodes, e.ino, 1);
}

/* Every kind in exactly one class, every class number used once. */
static bool fs_classes_valid(void)
{
	unsigned used = 0;
	int i, k;

	for (k = 0; k < FS_NR_KINDS; k++) {
		int owners = 0;

		for (i = 0; fs_classes[i]; i++)
			owners += k >= (int)fs_classes[i]->first &&
				  k <= (int)fs_classes[i]->last;
		if (owners != 1)
			return false;
	}
	for (i = 0; fs_classes[i]; i++) {
		if (fs_classes[i]->nr >= FS_NR_CLASSES ||
		    used & (1u << fs_classes[i]->nr))
			return false;
		used |= 1u << fs_classes[i]->nr;
	}
	return true;
}

/*
 * fs_nodes_hold_root - the root's node: the kernel looks it up once, at
 * mount, without asking. Returns 0 or -ENOMEM. Once, at start.
 */
int fs_nodes_hold_root(struct fs *fs)
{
	struct fs_node root = { .kind = FS_ROOT };

	assert(fs_classes_valid());
	assert(fs_ino(&root) == FUSE_ROOT_ID);
	return fs_nodes_hold(&fs->nodes, &fs_static_class, FUSE_ROOT_ID,
			     &root);
}
