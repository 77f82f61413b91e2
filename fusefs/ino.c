/* SPDX-License-Identifier: MIT */
/*
 * Inode numbers, names and attributes of the tree's nodes.
 * Invariant: fs_ino() and fs_node_of() are inverse for every node the
 * kernel may hold, and lease nodes are only handed out (fs_reply_entry)
 * together with a lease reference.
 */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/lease.h"
#include "daemon/registry.h"
#include "fusefs/fs.h"

/* Names of the fixed children, by kind. */
static const char *const kind_names[FS_NR_KINDS] = {
	[FS_CTL] = GL_FILE_CTL,
	[FS_METRICS] = "metrics",
	[FS_DEVICES] = GL_FILE_DEVICES,
	[FS_LEASES] = GL_FILE_LEASES,
	[FS_LEASES_CTL] = GL_FILE_CTL,
	[FS_KERNELS] = "kernels",
	[FS_KERNELS_CTL] = GL_FILE_CTL,
	[FS_DEV_NAME] = "name",
	[FS_DEV_KIND] = "kind",
	[FS_DEV_CAP] = "vram.capacity",
	[FS_DEV_USED] = "vram.used",
	[FS_DEV_FREE] = "vram.free",
	[FS_DEV_LEASES] = "leases",
	[FS_DEV_STATE] = "state",
	[FS_DEV_RESERVED] = "vram.reserved",
	[FS_LEASE_CTL] = GL_FILE_CTL,
	[FS_LEASE_VRAM] = GL_FILE_VRAM,
	[FS_LEASE_STATS] = GL_FILE_STATS,
	[FS_LEASE_SUBMIT] = "submit",
	[FS_LEASE_IO] = "io",
};

/* Which directory each fixed child lives in. */
static const enum fs_kind kind_parent[FS_NR_KINDS] = {
	[FS_CTL] = FS_ROOT,
	[FS_METRICS] = FS_ROOT,
	[FS_DEVICES] = FS_ROOT,
	[FS_LEASES] = FS_ROOT,
	[FS_LEASES_CTL] = FS_LEASES,
	[FS_KERNELS] = FS_ROOT,
	[FS_KERNELS_CTL] = FS_KERNELS,
	[FS_DEV_NAME] = FS_DEV_DIR,
	[FS_DEV_KIND] = FS_DEV_DIR,
	[FS_DEV_CAP] = FS_DEV_DIR,
	[FS_DEV_USED] = FS_DEV_DIR,
	[FS_DEV_FREE] = FS_DEV_DIR,
	[FS_DEV_LEASES] = FS_DEV_DIR,
	[FS_DEV_STATE] = FS_DEV_DIR,
	[FS_DEV_RESERVED] = FS_DEV_DIR,
	[FS_LEASE_CTL] = FS_LEASE_DIR,
	[FS_LEASE_VRAM] = FS_LEASE_DIR,
	[FS_LEASE_STATS] = FS_LEASE_DIR,
	[FS_LEASE_SUBMIT] = FS_LEASE_DIR,
	[FS_LEASE_IO] = FS_LEASE_DIR,
};

static const mode_t kind_mode[FS_NR_KINDS] = {
	[FS_ROOT] = S_IFDIR | 0755,
	[FS_CTL] = S_IFREG | 0644,
	[FS_METRICS] = S_IFREG | 0444,
	[FS_DEVICES] = S_IFDIR | 0755,
	[FS_LEASES] = S_IFDIR | 0777,
	[FS_LEASES_CTL] = S_IFREG | 0666,
	[FS_KERNELS] = S_IFDIR | 0755,
	[FS_KERNELS_CTL] = S_IFREG | 0644,
	[FS_KERNEL] = S_IFREG | 0444,
	[FS_DEV_DIR] = S_IFDIR | 0555,
	[FS_DEV_NAME] = S_IFREG | 0444,
	[FS_DEV_KIND] = S_IFREG | 0444,
	[FS_DEV_CAP] = S_IFREG | 0444,
	[FS_DEV_USED] = S_IFREG | 0444,
	[FS_DEV_FREE] = S_IFREG | 0444,
	[FS_DEV_LEASES] = S_IFREG | 0444,
	[FS_DEV_STATE] = S_IFREG | 0444,
	[FS_DEV_RESERVED] = S_IFREG | 0444,
	[FS_LEASE_DIR] = S_IFDIR | 0700,
	[FS_LEASE_CTL] = S_IFREG | 0600,
	[FS_LEASE_VRAM] = S_IFREG | 0600,
	[FS_LEASE_STATS] = S_IFREG | 0400,
	[FS_LEASE_SUBMIT] = S_IFREG | 0600,
	[FS_LEASE_IO] = S_IFLNK | 0777,
};

_Static_assert(FS_NR_KINDS - FS_LEASE_DIR <= 64,
	       "lease kinds fit below the lease's 64-byte alignment");

bool fs_has_io(struct lease *l)
{
	char path[8];

	return lease_io_path(l, path, sizeof(path)) == 0;
}

bool fs_is_dir(enum fs_kind kind)
{
	return S_ISDIR(kind_mode[kind]);
}

bool fs_is_lease(enum fs_kind kind)
{
	return kind >= FS_LEASE_DIR;
}

const char *fs_static_name(enum fs_kind kind)
{
	return kind_names[kind];
}

enum fs_kind fs_static_parent(enum fs_kind kind)
{
	return kind_parent[kind];
}

fuse_ino_t fs_ino(const struct fs_node *n)
{
	if (n->kind < FS_NR_STATIC)
		return FUSE_ROOT_ID + n->kind;
	if (n->kind == FS_KERNEL)
		return FS_INO_KERNEL_BASE + n->idx;
	if (!fs_is_lease(n->kind))
		return FS_INO_DEV_BASE + 16 * n->idx + (n->kind - FS_DEV_DIR);
	/* the kind lives in the low bits of the lease's address */
	assert(!((uintptr_t)n->lease & 63) && n->kind < FS_NR_KINDS);
	return (fuse_ino_t)(uintptr_t)n->lease + (n->kind - FS_LEASE_DIR);
}

int fs_node_of(struct fs *fs, fuse_ino_t ino, struct fs_node *n)
{
	memset(n, 0, sizeof(*n));
	if (ino >= FUSE_ROOT_ID && ino < FUSE_ROOT_ID + FS_NR_STATIC) {
		n->kind = (enum fs_kind)(ino - FUSE_ROOT_ID);
		return 0;
	}
	if (ino >= FS_INO_KERNEL_BASE && ino < FS_INO_KERNEL_BASE + 0x100) {
		n->kind = FS_KERNEL;
		n->idx = (unsigned)(ino - FS_INO_KERNEL_BASE);
		return registry_get(&fs->broker.reg, n->idx) ? 0 : -ENOENT;
	}
	if (ino >= FS_INO_DEV_BASE && ino < FS_INO_DEV_BASE + 16 * 16) {
		n->idx = (unsigned)((ino - FS_INO_DEV_BASE) / 16);
		n->kind = FS_DEV_DIR + (ino - FS_INO_DEV_BASE) % 16;
		if (n->kind >= FS_LEASE_DIR ||
		    !dev_set_get(&fs->broker.devs, n->idx))
			return -ENOENT;
		return 0;
	}
	if (ino < FS_INO_LEASE_MIN)
		return -ENOENT;
	n->kind = FS_LEASE_DIR + (ino & 63);
	n->lease = (struct lease *)(uintptr_t)(ino & ~(fuse_ino_t)63);
	return n->kind < FS_NR_KINDS ? 0 : -ENOENT;
}

/* Find a fixed child of @dir's kind named @name. */
static int fs_fixed_child(const struct fs_node *dir, const char *name,
			  struct fs_node *out)
{
	int k;

	for (k = 0; k < FS_NR_KINDS; k++) {
		if (!kind_names[k] || kind_parent[k] != dir->kind ||
		    strcmp(kind_names[k], name))
			continue;
		*out = *dir;
		out->kind = (enum fs_kind)k;
		return 0;
	}
	return -ENOENT;
}

int fs_child(struct fs *fs, const struct fs_node *dir, const char *name,
	     struct fs_node *out)
{
	char *end;
	unsigned long idx;
	int err;

	switch (dir->kind) {
	case FS_KERNELS: {
		const struct kernel_entry *e;

		if (!fs_fixed_child(dir, name, out))
			return 0;
		e = registry_find(&fs->broker.reg, name);
		if (!e)
			return -ENOENT;
		memset(out, 0, sizeof(*out));
		out->kind = FS_KERNEL;
		out->idx = e->idx;
		return 0;
	}
	case FS_DEVICES:
		if (name[0] < '0' || name[0] > '9' ||
		    (name[0] == '0' && name[1]))
			return -ENOENT;
		idx = strtoul(name, &end, 10);
		if (*end || idx >= GL_MAX_DEVICES ||
		    !dev_set_get(&fs->broker.devs, (unsigned)idx))
			return -ENOENT;
		memset(out, 0, sizeof(*out));
		out->kind = FS_DEV_DIR;
		out->idx = (unsigned)idx;
		return 0;
	case FS_LEASES:
		if (!fs_fixed_child(dir, name, out))
			return 0;
		memset(out, 0, sizeof(*out));
		out->kind = FS_LEASE_DIR;
		out->lease = lease_lookup(&fs->broker.leases, name);
		/* the reference is the caller's (fs_reply_entry keeps it) */
		return out->lease ? 0 : -ENOENT;
	case FS_LEASE_DIR:
		err = lease_check(dir->lease);
		if (err)
			return err;
		err = fs_fixed_child(dir, name, out);
		if (!err && out->kind == FS_LEASE_IO && !fs_has_io(dir->lease))
			err = -ENOENT;
		if (!err)
			lease_get(out->lease);
		return err;
	default:
		return fs_fixed_child(dir, name, out);
	}
}

void fs_stat(struct fs *fs, const struct fs_node *n, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = fs_ino(n);
	st->st_mode = kind_mode[n->kind];
	st->st_nlink = fs_is_dir(n->kind) ? 2 : 1;
	st->st_blksize = 4096;
	st->st_atim = st->st_mtim = st->st_ctim = fs->started;
	if (!fs_is_lease(n->kind))
		return;
	st->st_uid = n->lease->owner;
	st->st_gid = n->lease->group;
	st->st_atim = st->st_mtim = st->st_ctim = n->lease->born;
	if (n->kind == FS_LEASE_VRAM) {
		int64_t t = atomic_load(&n->lease->data_mtime);

		/* a new mtime makes the kernel drop stale cached pages */
		st->st_mtim.tv_sec = t / NSEC_PER_SEC;
		st->st_mtim.tv_nsec = t % NSEC_PER_SEC;
		st->st_ctim = st->st_mtim;
		st->st_size = (off_t)atomic_load(&n->lease->vram);
		st->st_blocks = (st->st_size + 511) / 512;
	}
}

int fs_reply_entry(fuse_req_t req, struct fs *fs, const struct fs_node *n)
{
	struct fuse_entry_param e;
	/* lease nodes change under us: never cache them in the kernel */
	double t = fs_is_lease(n->kind) ? 0.0 : 60.0;

	if (n->kind >= FS_DEV_DIR && !fs_is_lease(n->kind) &&
	    !fs_is_dir(n->kind))
		t = 0.0;
	memset(&e, 0, sizeof(e));
	e.ino = fs_ino(n);
	e.generation = 1;
	e.attr_timeout = t;
	e.entry_timeout = t;
	fs_stat(fs, n, &e.attr);
	return fuse_reply_entry(req, &e);
}
