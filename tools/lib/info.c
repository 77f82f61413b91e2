/* SPDX-License-Identifier: MIT */
/*
 * A lease's ctl read as a struct, and the list of all leases: a readdir
 * of leases/ and one ctl read per entry.
 *
 * Invariant: keys this library does not know are skipped, so a newer
 * daemon that prints more keys still parses; a key it does know but
 * cannot parse fails the read with -EPROTO.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tools/lib/internal.h"

#define GL_CTL_READ_MAX		4096

static int parse_u32(const char *s, uint32_t *out)
{
	uint64_t v;

	if (__gl_parse_u64(s, &v) || v > UINT32_MAX)
		return -EPROTO;
	*out = (uint32_t)v;
	return 0;
}

static int info_key(struct gl_lease_info *info, const char *key,
		    const char *val)
{
	uint32_t dev;

	if (!strcmp(key, "state")) {
		if (!strcmp(val, GL_STATE_ACTIVE))
			info->state = GL_LEASE_ACTIVE;
		else if (!strcmp(val, GL_STATE_EXPIRED))
			info->state = GL_LEASE_EXPIRED;
		else
			return -EPROTO;
	} else if (!strcmp(key, "device")) {
		if (parse_u32(val, &dev) || dev > INT32_MAX)
			return -EPROTO;
		info->device = (int32_t)dev;
	} else if (!strcmp(key, "vram")) {
		return __gl_parse_u64(val, &info->vram);
	} else if (!strcmp(key, "used")) {
		return __gl_parse_u64(val, &info->used);
	} else if (!strcmp(key, "ttl")) {
		return parse_u32(val, &info->ttl);
	} else if (!strcmp(key, "expires_in")) {
		return __gl_parse_u64(val, &info->expires_in);
	} else if (!strcmp(key, "owner")) {
		return parse_u32(val, &info->owner);
	} else if (!strcmp(key, "bound")) {
		return parse_u32(val, &info->bound);
	} else if (!strcmp(key, "launches")) {
		return __gl_parse_u64(val, &info->launches);
	} else if (!strcmp(key, "last_error")) {
		snprintf(info->last_error, sizeof(info->last_error), "%s",
			 val);
	}
	return 0;
}

/* Parse "key value" lines of a lease's ctl into @info. 0 or -EPROTO. */
static int info_parse(struct gl_lease_info *info, char *text)
{
	char *line, *save = NULL, *sp;
	int err;

	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		sp = strchr(line, ' ');
		if (!sp)
			return -EPROTO;
		*sp = '\0';
		err = info_key(info, line, sp + 1);
		if (err)
			return err;
	}
	return 0;
}

/* Start @info for lease @name with what its directory tells. */
static int info_from_dir(struct gl *g, const char *name,
			 struct gl_lease_info *info, uint32_t state)
{
	char path[GL_PATH_MAX];
	struct stat st;
	int err;

	err = __gl_lease_path(path, sizeof(path), name, NULL);
	if (err)
		return err;
	memset(info, 0, sizeof(*info));
	snprintf(info->name, sizeof(info->name), "%s", name);
	strcpy(info->last_error, "-");
	info->device = -1;
	info->state = state;
	if (fstatat(g->root, path, &st, 0))
		return -errno;
	info->owner = st.st_uid;
	return 0;
}

/*
 * gl_lease_info - read leases/@name/ctl into @info. An expired lease is
 * described, not an error: 0 with state GL_LEASE_EXPIRED, its owner, and
 * device -1 (its ctl is gone until the lease is dropped). Returns 0 or
 * -EINVAL (bad name), -ENOENT, -EACCES (another user's), -ENOTCONN,
 * -EPROTO (a ctl this library cannot read), -ENOMEM.
 */
GL_EXPORT int gl_lease_info(struct gl *g, const char *name,
			    struct gl_lease_info *info)
{
	char path[GL_PATH_MAX];
	char *text;
	int err;

	err = __gl_lease_path(path, sizeof(path), name, GL_FILE_CTL);
	if (err)
		return err;
	text = malloc(GL_CTL_READ_MAX);
	if (!text)
		return -ENOMEM;
	err = __gl_read_at(g, path, text, GL_CTL_READ_MAX);
	if (err == -EKEYEXPIRED) {
		err = info_from_dir(g, name, info, GL_LEASE_EXPIRED);
		goto out;
	}
	if (err < 0)
		goto out;
	err = info_from_dir(g, name, info, GL_LEASE_ACTIVE);
	if (err)
		goto out;
	err = info_parse(info, text);
out:
	free(text);
	return err;
}

static int info_cmp(const void *a, const void *b)
{
	const struct gl_lease_info *x = a, *y = b;

	return strcmp(x->name, y->name);
}

static int is_dir(int dfd, const struct dirent *de)
{
	struct stat st;

	if (de->d_type != DT_UNKNOWN)
		return de->d_type == DT_DIR;
	return !fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) &&
	       S_ISDIR(st.st_mode);
}

/* Append lease @name to @list. 0, 1 to skip it (gone), or -errno. */
static int list_add(struct gl *g, const char *name,
		    struct gl_lease_info *info)
{
	int err;

	err = gl_lease_info(g, name, info);
	if (err == -EACCES)
		err = info_from_dir(g, name, info, GL_LEASE_HIDDEN);
	if (err == -ENOENT || err == -EINVAL)
		return 1;	/* dropped since the readdir, or not a lease */
	return err;
}

/*
 * gl_lease_list - every lease under leases/, sorted by name, in *@out
 * (free(3) it; NULL when there are none). Another user's lease is listed
 * as GL_LEASE_HIDDEN with its name and owner. Returns the count or
 * -ENOTCONN, -ENOMEM, -EPROTO, or opendir/readdir's -errno.
 */
/* __gl_list's @add: a lease's directory under leases/. */
static int list_lease(struct gl *g, int dfd, const struct dirent *de,
		      void *slot)
{
	int err;

	if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
	    !is_dir(dfd, de))
		return 0;
	err = list_add(g, de->d_name, slot);
	return err < 0 ? err : !err;
}

GL_EXPORT int gl_lease_list(struct gl *g, struct gl_lease_info **out)
{
	return __gl_list(g, GL_FILE_LEASES, sizeof(**out), list_lease,
			 info_cmp, (void **)out);
}
