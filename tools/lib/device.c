/* SPDX-License-Identifier: MIT */
/*
 * Devices: devices/<n>/ read as a struct, and the list of all of them.
 *
 * Invariant: each figure is one read of its own file, so the fields of
 * one struct are each exact but not a snapshot together (used and free
 * may straddle an acquire).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/lib/internal.h"

/* Read devices/@index/@file as one word into @buf. Length or -errno. */
static int dev_read(struct gl *g, unsigned int index, const char *file,
		    char *buf, size_t size)
{
	char path[64];
	int len;

	snprintf(path, sizeof(path), GL_FILE_DEVICES "/%u/%s", index, file);
	len = __gl_read_at(g, path, buf, size);
	if (len < 0)
		return len;
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
		buf[--len] = '\0';
	return len;
}

static int dev_read_u64(struct gl *g, unsigned int index, const char *file,
			uint64_t *out)
{
	char buf[32];
	int len;

	len = dev_read(g, index, file, buf, sizeof(buf));
	if (len < 0)
		return len;
	return __gl_parse_u64(buf, out);
}

/*
 * gl_device_info - read devices/@index/ into @info. Returns 0 or -ENOENT
 * (no such device), -ENOTCONN, -EPROTO.
 */
GL_EXPORT int gl_device_info(struct gl *g, unsigned int index,
			     struct gl_device_info *info)
{
	uint64_t leases;
	int err;

	memset(info, 0, sizeof(*info));
	info->index = index;
	err = dev_read(g, index, "name", info->name, sizeof(info->name));
	if (err < 0)
		return err;
	err = dev_read(g, index, "kind", info->kind, sizeof(info->kind));
	if (err < 0)
		return err;
	err = dev_read_u64(g, index, "vram.capacity", &info->capacity);
	if (!err)
		err = dev_read_u64(g, index, "vram.used", &info->used);
	if (!err)
		err = dev_read_u64(g, index, "vram.free", &info->free);
	if (!err)
		err = dev_read_u64(g, index, "leases", &leases);
	if (err)
		return err;
	info->leases = leases > UINT32_MAX ? UINT32_MAX : (uint32_t)leases;
	return 0;
}

static int dev_cmp(const void *a, const void *b)
{
	const struct gl_device_info *x = a, *y = b;

	return (x->index > y->index) - (x->index < y->index);
}

/* The index a devices/ entry names, or -1 for anything else. */
static long dev_index(const char *s)
{
	char *end;
	long v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	return errno || *end || v > INT32_MAX ? -1 : v;
}

/*
 * gl_device_list - every device, sorted by index, in *@out (free(3) it;
 * NULL when there are none). Returns the count or -ENOTCONN, -ENOMEM,
 * -EPROTO, or opendir/readdir's -errno.
 */
/* __gl_list's @add: devices/N, read whole. */
static int list_dev(struct gl *g, int dfd, const struct dirent *de,
		    void *slot)
{
	long idx = dev_index(de->d_name);
	int err;

	(void)dfd;
	if (idx < 0)
		return 0;
	err = gl_device_info(g, (unsigned int)idx, slot);
	return err ? err : 1;
}

GL_EXPORT int gl_device_list(struct gl *g, struct gl_device_info **out)
{
	return __gl_list(g, GL_FILE_DEVICES, sizeof(**out), list_dev, dev_cmp,
			 (void **)out);
}
