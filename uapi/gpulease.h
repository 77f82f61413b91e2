/* SPDX-License-Identifier: MIT */
/*
 * gpulease user ABI: the names, limits, ctl grammar words and errno table
 * that every client of a mounted gpulease tree relies on.
 *
 * Invariant: this header changes only together with
 * Documentation/filesystem.md; values never change meaning once shipped.
 * It compiles alone, in C and in C++.
 */
#ifndef GPULEASE_UAPI_H
#define GPULEASE_UAPI_H

#include <errno.h>
#include <stdint.h>

#define GL_ABI_VERSION		1

/* Layout checks that read the same in C and C++. */
#ifdef __cplusplus
#define GL_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#else
#define GL_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif

/* Default mount point of gpuleased. */
#define GL_MOUNT_DEFAULT	"/gpu"

/* Lease names: [A-Za-z0-9._-]{1,GL_NAME_MAX}, not "." or "..". */
#define GL_NAME_MAX		64
#define GL_NAME_CHARS \
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-"

/* One ctl write carries one command line of at most this many bytes. */
#define GL_CTL_LINE_MAX		512

/* TTL bounds in seconds; max_ttl policy may only lower the upper one. */
#define GL_TTL_MIN		1
#define GL_TTL_LIMIT		(365u * 24 * 3600)

/* Lease states, as the "state" key of a lease's ctl prints them. */
#define GL_STATE_ACTIVE		"active"
#define GL_STATE_EXPIRED	"expired"

/* Device kinds, as devices/<n>/kind prints them. */
#define GL_KIND_CPU		"cpu"
#define GL_KIND_CUDA		"cuda"

/* File names of the tree (relative to the mount point). */
#define GL_FILE_CTL		"ctl"
#define GL_FILE_DEVICES		"devices"
#define GL_FILE_LEASES		"leases"
#define GL_FILE_VRAM		"vram"
#define GL_FILE_STATS		"stats"

/*
 * The errno table: every condition a client can see, and its errno.
 * Only these, plus the ordinary file-system errnos (ENOENT, EEXIST,
 * EACCES, EPERM, ENOTDIR, EISDIR, ENOTEMPTY), reach a client.
 */
#define GL_ERR_EXPIRED		EKEYEXPIRED	/* lease expired */
#define GL_ERR_DISCONNECTED	ENOTCONN	/* daemon gone */
#define GL_ERR_NOSPACE		ENOSPC		/* not enough device memory */
#define GL_ERR_QUOTA		EDQUOT		/* per-uid quota exceeded */
#define GL_ERR_FAULT		EFAULT		/* argument outside the lease */
#define GL_ERR_INVALID		EINVAL		/* malformed ctl line or descriptor */
#define GL_ERR_TOOBIG		EFBIG		/* input or output over its bound */
#define GL_ERR_TIMEOUT		ETIMEDOUT	/* kernel over its time limit */
#define GL_ERR_DEVICE		EIO		/* kernel or device fault */
#define GL_ERR_TTL_SHORT	ETIME		/* TTL left too short for the work */
#define GL_ERR_BUSY		EBUSY		/* model queue full */
#define GL_ERR_QUEUE_FULL	EAGAIN		/* launch queue full */
#define GL_ERR_CANCELED		ECANCELED	/* launch cancelled */
#define GL_ERR_INTERRUPTED	EINTR		/* submit interrupted */

#endif /* GPULEASE_UAPI_H */
