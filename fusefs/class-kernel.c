/* SPDX-License-Identifier: MIT */
/*
 * The kernel class: kernels/<name>, one read-only file per registered
 * kernel. Its object is the registry index (entries are never removed, so
 * there is nothing to get or put).
 */
#include <errno.h>
#include <string.h>

#include "daemon/registry.h"
#include "fusefs/fs.h"

static const struct fs_kind_info kernel_kinds[] = {
	{ NULL, FS_KERNELS, S_IFREG | 0444 },		/* FS_KERNEL */
};

static uint64_t kernel_index(const struct fs_node *n)
{
	return n->idx;
}

static int kernel_find(struct fs *fs, const char *name, struct fs_node *out)
{
	const struct kernel_entry *e = registry_find(&fs->broker.reg, name);

	if (!e)
		return -ENOENT;
	memset(out, 0, sizeof(*out));
	out->kind = FS_KERNEL;
	out->idx = e->idx;
	return 0;
}

static int kernel_list(struct fs *fs, uid_t uid, struct fs_dirlist *d)
{
	const struct kernel_entry *e;
	struct fs_node n = { .kind = FS_KERNEL };
	int err = 0;

	for (n.idx = 0; !err && (e = registry_get(&fs->broker.reg, n.idx));
	     n.idx++)
		err = fs_dirlist_add(d, fs, &n, e->k->name);
	return err;
}

const struct fs_class fs_kernel_class = {
	.name = "kernel",
	.nr = 1,
	.first = FS_KERNEL,
	.last = FS_KERNEL,
	.kinds = kernel_kinds,
	.dir = FS_KERNELS,
	.dir_timeout = 60.0,
	.file_timeout = 60.0,
	.attr_timeout = 60.0,
	.index = kernel_index,
	.find = kernel_find,
	.list = kernel_list,
};
