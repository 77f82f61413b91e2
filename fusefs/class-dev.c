/* SPDX-License-Identifier: MIT */
/*
 * The device class: devices/<n>/ and its files. Its object is the device
 * index (devices live as long as the daemon: nothing to get or put). The
 * files change under load, so entries of files are never cached.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/parse.h"
#include "fusefs/fs.h"

#define DEV_FILE(name) { name, FS_DEV_DIR, S_IFREG | 0444 }

static const struct fs_kind_info dev_kinds[] = {
	[FS_DEV_DIR - FS_DEV_DIR] = { NULL, FS_DEVICES, S_IFDIR | 0555 },
	[FS_DEV_NAME - FS_DEV_DIR] = DEV_FILE("name"),
	[FS_DEV_KIND - FS_DEV_DIR] = DEV_FILE("kind"),
	[FS_DEV_CAP - FS_DEV_DIR] = DEV_FILE("vram.capacity"),
	[FS_DEV_USED - FS_DEV_DIR] = DEV_FILE("vram.used"),
	[FS_DEV_FREE - FS_DEV_DIR] = DEV_FILE("vram.free"),
	[FS_DEV_LEASES - FS_DEV_DIR] = DEV_FILE("leases"),
	[FS_DEV_STATE - FS_DEV_DIR] = DEV_FILE("state"),
	[FS_DEV_RESERVED - FS_DEV_DIR] = DEV_FILE("vram.reserved"),
};

_Static_assert(sizeof(dev_kinds) / sizeof(dev_kinds[0]) ==
	       FS_DEV_RESERVED - FS_DEV_DIR + 1, "one entry per device kind");

static uint64_t dev_index(const struct fs_node *n)
{
	return n->idx;
}

/* "0", "1"...: no sign, no leading zero, a device that exists */
static int dev_find(struct fs *fs, const char *name, struct fs_node *out)
{
	uint32_t idx;

	if (name[0] == '0' && name[1])
		return -ENOENT;
	if (parse_u32(name, &idx) || idx >= GL_MAX_DEVICES ||
	    !dev_set_get(&fs->broker.devs, idx))
		return -ENOENT;
	memset(out, 0, sizeof(*out));
	out->kind = FS_DEV_DIR;
	out->idx = (unsigned)idx;
	return 0;
}

static int dev_list(struct fs *fs, uid_t uid, struct fs_dirlist *d)
{
	struct fs_node n = { .kind = FS_DEV_DIR };
	char name[16];
	int err = 0;

	for (n.idx = 0; !err && n.idx < (unsigned)fs->broker.devs.count;
	     n.idx++) {
		snprintf(name, sizeof(name), "%u", n.idx);
		err = fs_dirlist_add(d, fs, &n, name);
	}
	return err;
}

const struct fs_class fs_dev_class = {
	.name = "device",
	.nr = 2,
	.first = FS_DEV_DIR,
	.last = FS_DEV_RESERVED,
	.kinds = dev_kinds,
	.dir = FS_DEVICES,
	.dir_timeout = 60.0,
	.file_timeout = 0.0,
	.attr_timeout = 60.0,
	.index = dev_index,
	.find = dev_find,
	.list = dev_list,
};
