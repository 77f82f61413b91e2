/* SPDX-License-Identifier: MIT */
/*
 * Lease life cycle over the tree: acquire through leases/ctl, drop by
 * rmdir, and the renew, ttl and vram commands of a lease's ctl.
 *
 * Invariant: each call is one ctl write or one rmdir, so it is as atomic
 * as the daemon makes that file operation: on error nothing changed.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <unistd.h>

#include "tools/lib/internal.h"

/*
 * The leases/ctl file bound acquires go through, opened on first use and
 * kept until gl_close(): the daemon ties each such lease to it. Returns
 * the fd or -errno. Safe to race: the loser closes its own open.
 */
static int bind_fd_get(struct gl *g)
{
	int fd = atomic_load(&g->bind_fd);
	int expect = -1;

	if (fd >= 0)
		return fd;
	fd = openat(g->root, GL_FILE_LEASES "/" GL_FILE_CTL,
		    O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (!atomic_compare_exchange_strong(&g->bind_fd, &expect, fd)) {
		close(fd);
		return expect;
	}
	return fd;
}

/*
 * gl_lease_acquire - create lease @name with @vram bytes (GL_VRAM_DEFAULT:
 * the policy's default_vram), @ttl seconds (0: default_ttl) on @device
 * (< 0: device 0), in one atomic write to leases/ctl. With GL_ACQUIRE_BIND
 * the lease is tied to a leases/ctl file @g holds, so it is dropped when
 * gl_close(@g) runs or the process dies. Returns 0 or -EINVAL (bad name,
 * flags or ttl), -EEXIST, -ENOSPC, -EDQUOT, -ENOENT (no such device),
 * -ENOTCONN.
 */
GL_EXPORT int gl_lease_acquire(struct gl *g, const char *name, uint64_t vram,
			       uint32_t ttl, int device, unsigned int flags)
{
	char line[GL_CTL_LINE_MAX + 1];
	size_t len;
	int fd, n;

	if (gl_name_valid(name) || (flags & ~GL_ACQUIRE_BIND))
		return -EINVAL;
	len = (size_t)snprintf(line, sizeof(line), "acquire %s", name);
	if (vram != GL_VRAM_DEFAULT)
		len += (size_t)snprintf(line + len, sizeof(line) - len,
					" vram=%" PRIu64, vram);
	if (ttl)
		len += (size_t)snprintf(line + len, sizeof(line) - len,
					" ttl=%" PRIu32, ttl);
	if (device >= 0)
		len += (size_t)snprintf(line + len, sizeof(line) - len,
					" device=%d", device);
	n = snprintf(line + len, sizeof(line) - len, "%s\n",
		     flags & GL_ACQUIRE_BIND ? " bind" : "");
	if (n < 0 || (size_t)n >= sizeof(line) - len)
		return -EINVAL;
	if (!(flags & GL_ACQUIRE_BIND))
		return __gl_write_at(g, GL_FILE_LEASES "/" GL_FILE_CTL, line);
	fd = bind_fd_get(g);
	if (fd < 0)
		return fd;
	return __gl_write_fd(fd, line, len + (size_t)n);
}

/*
 * gl_lease_drop - rmdir leases/@name: waits for its running launch and
 * frees its memory before it returns; an expired lease drops too.
 * Returns 0 or -EINVAL, -ENOENT, -EACCES (another user's), -ENOTCONN.
 */
GL_EXPORT int gl_lease_drop(struct gl *g, const char *name)
{
	char path[GL_PATH_MAX];
	int err;

	err = __gl_lease_path(path, sizeof(path), name, NULL);
	if (err)
		return err;
	return unlinkat(g->root, path, AT_REMOVEDIR) ? -errno : 0;
}

/* Write one command to leases/@name/ctl. */
static int lease_ctl(struct gl *g, const char *name, const char *line)
{
	char path[GL_PATH_MAX];
	int err;

	err = __gl_lease_path(path, sizeof(path), name, GL_FILE_CTL);
	if (err)
		return err;
	return __gl_write_at(g, path, line);
}

/*
 * gl_lease_renew - push the expiry of @name to now + @secs (0: now + its
 * ttl), leaving its ttl as it is. Returns 0 or -EINVAL (over max_ttl),
 * -EKEYEXPIRED, -ENOENT, -EACCES, -ENOTCONN.
 */
GL_EXPORT int gl_lease_renew(struct gl *g, const char *name, uint32_t secs)
{
	char line[32];

	if (secs)
		snprintf(line, sizeof(line), "renew %" PRIu32 "\n", secs);
	else
		snprintf(line, sizeof(line), "renew\n");
	return lease_ctl(g, name, line);
}

/*
 * gl_lease_set_ttl - set the ttl of @name to @secs and renew it with it.
 * Returns 0 or -EINVAL (0, over max_ttl), -EKEYEXPIRED, -ENOENT, -EACCES,
 * -ENOTCONN.
 */
GL_EXPORT int gl_lease_set_ttl(struct gl *g, const char *name, uint32_t secs)
{
	char line[32];

	if (!secs)
		return -EINVAL;
	snprintf(line, sizeof(line), "ttl %" PRIu32 "\n", secs);
	return lease_ctl(g, name, line);
}

/*
 * gl_lease_resize - make the reservation of @name @vram bytes; contents up
 * to the smaller size are kept. Returns 0 or -ENOSPC, -EDQUOT, -EINVAL,
 * -EKEYEXPIRED, -ENOENT, -EACCES, -ENOTCONN.
 */
GL_EXPORT int gl_lease_resize(struct gl *g, const char *name, uint64_t vram)
{
	char line[48];

	snprintf(line, sizeof(line), "vram %" PRIu64 "\n", vram);
	return lease_ctl(g, name, line);
}
