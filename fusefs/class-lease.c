/* SPDX-License-Identifier: MIT */
/*
 * The lease class: leases/<name>/ and its files. Its object is the lease;
 * every node of it the kernel holds, and every open handle, keeps one
 * lease reference, so the lease outlives its name (rmdir) for as long as
 * the kernel may still send one of its inodes. Inodes number by the
 * lease's id, which is never reused. Nothing is cached in the kernel:
 * size, times and existence change under it.
 */
#include <errno.h>
#include <string.h>

#include "daemon/lease.h"
#include "fusefs/fs.h"

#define LEASE_KIND(name, mode) { name, FS_LEASE_DIR, mode }

static const struct fs_kind_info lease_kinds[] = {
	[FS_LEASE_DIR - FS_LEASE_DIR] = { NULL, FS_LEASES, S_IFDIR | 0700 },
	[FS_LEASE_CTL - FS_LEASE_DIR] = LEASE_KIND(GL_FILE_CTL,
						   S_IFREG | 0600),
	[FS_LEASE_VRAM - FS_LEASE_DIR] = LEASE_KIND(GL_FILE_VRAM,
						    S_IFREG | 0600),
	[FS_LEASE_STATS - FS_LEASE_DIR] = LEASE_KIND(GL_FILE_STATS,
						     S_IFREG | 0400),
	[FS_LEASE_SUBMIT - FS_LEASE_DIR] = LEASE_KIND("submit",
						      S_IFREG | 0600),
	[FS_LEASE_IO - FS_LEASE_DIR] = LEASE_KIND("io", S_IFLNK | 0777),
};

_Static_assert(sizeof(lease_kinds) / sizeof(lease_kinds[0]) ==
	       FS_LEASE_IO - FS_LEASE_DIR + 1, "one entry per lease kind");

bool fs_has_io(struct lease *l)
{
	char path[8];

	return lease_io_path(l, path, sizeof(path)) == 0;
}

static uint64_t lease_node_index(const struct fs_node *n)
{
	return n->lease->id;
}

static void lease_node_get(const struct fs_node *n)
{
	lease_get(n->lease);
}

static void lease_node_put(const struct fs_node *n)
{
	lease_put(n->lease);
}

static int lease_node_find(struct fs *fs, const char *name, struct fs_node *out)
{
	memset(out, 0, sizeof(*out));
	out->kind = FS_LEASE_DIR;
	out->lease = lease_lookup(&fs->broker.leases, name);
	return out->lease ? 0 : -ENOENT;
}

static int lease_node_list(struct fs *fs, uid_t uid, struct fs_dirlist *d)
{
	struct fs_node n = { .kind = FS_LEASE_DIR };
	struct cds_lfht_iter iter;
	struct lease *l;
	int err = 0;

	rcu_read_lock();
	lease_for_each(&fs->broker.leases, &iter, l) {
		if (!lease_visible_to(l, uid))
			continue;
		n.lease = l;
		err = fs_dirlist_add(d, fs, &n, l->name);
		if (err)
			break;
	}
	rcu_read_unlock();
	return err;
}

static int lease_node_check(const struct fs_node *n)
{
	return lease_check(n->lease);
}

static bool lease_node_hidden(const struct fs_node *n)
{
	return n->kind == FS_LEASE_IO && !fs_has_io(n->lease);
}

static void lease_node_stat(const struct fs_node *n, struct stat *st)
{
	struct lease *l = n->lease;
	int64_t t;

	st->st_uid = l->owner;
	st->st_gid = l->group;
	st->st_atim = st->st_mtim = st->st_ctim = l->born;
	if (n->kind != FS_LEASE_VRAM)
		return;
	/* a new mtime makes the kernel drop stale cached pages */
	t = atomic_load(&l->data_mtime);
	st->st_mtim.tv_sec = t / NSEC_PER_SEC;
	st->st_mtim.tv_nsec = t % NSEC_PER_SEC;
	st->st_ctim = st->st_mtim;
	st->st_size = (off_t)atomic_load(&l->vram);
	st->st_blocks = (st->st_size + 511) / 512;
}

static int lease_node_readlink(const struct fs_node *n, char *buf, size_t size)
{
	int err = lease_check(n->lease);

	return err ? err : lease_io_path(n->lease, buf, size);
}

const struct fs_class fs_lease_class = {
	.name = "lease",
	.nr = 3,
	.first = FS_LEASE_DIR,
	.last = FS_LEASE_IO,
	.kinds = lease_kinds,
	.dir = FS_LEASES,
	.dir_timeout = 0.0,
	.file_timeout = 0.0,
	.attr_timeout = 0.0,
	.index = lease_node_index,
	.get = lease_node_get,
	.put = lease_node_put,
	.find = lease_node_find,
	.list = lease_node_list,
	.check = lease_node_check,
	.hidden = lease_node_hidden,
	.stat = lease_node_stat,
	.readlink = lease_node_readlink,
};
