/* SPDX-License-Identifier: MIT */
/*
 * The static class: the root and the files and directories that exist for
 * the daemon's whole life (ctl, metrics, devices/, leases/, kernels/,
 * models/ and their ctl files). No object, nothing to get or put; cached a minute.
 * Invariant: the root is its first kind, so its inode is FUSE_ROOT_ID.
 */
#include "fusefs/fs.h"

static const struct fs_kind_info static_kinds[] = {
	[FS_ROOT] = { NULL, FS_ROOT, S_IFDIR | 0755 },
	[FS_CTL] = { GL_FILE_CTL, FS_ROOT, S_IFREG | 0644 },
	[FS_METRICS] = { "metrics", FS_ROOT, S_IFREG | 0444 },
	[FS_DEVICES] = { GL_FILE_DEVICES, FS_ROOT, S_IFDIR | 0755 },
	[FS_LEASES] = { GL_FILE_LEASES, FS_ROOT, S_IFDIR | 0777 },
	[FS_LEASES_CTL] = { GL_FILE_CTL, FS_LEASES, S_IFREG | 0666 },
	[FS_KERNELS] = { "kernels", FS_ROOT, S_IFDIR | 0755 },
	[FS_KERNELS_CTL] = { GL_FILE_CTL, FS_KERNELS, S_IFREG | 0644 },
	[FS_MODELS] = { "models", FS_ROOT, S_IFDIR | 0755 },
	[FS_MODELS_CTL] = { GL_FILE_CTL, FS_MODELS, S_IFREG | 0666 },
};

_Static_assert(FS_ROOT == 0 && FS_NR_STATIC == 10 &&
	       sizeof(static_kinds) / sizeof(static_kinds[0]) == FS_NR_STATIC,
	       "one entry per static kind, the root first");

const struct fs_class fs_static_class = {
	.name = "static",
	.nr = 0,
	.first = FS_ROOT,
	.last = FS_NR_STATIC - 1,
	.kinds = static_kinds,
	.dir = FS_NR_KINDS,		/* not listed in any directory */
	.dir_timeout = 60.0,
	.file_timeout = 60.0,
	.attr_timeout = 60.0,
};
