/* SPDX-License-Identifier: MIT */
/*
 * The errnos of DESIGN.md's table told in gpulease terms, for messages a
 * user reads ("not enough device memory" rather than "No space left on
 * device").
 *
 * Invariant: the strings are static and never change once shipped
 * without the man page gl_strerror(3) changing with them.
 */
#include <string.h>

#include "tools/lib/internal.h"

/*
 * gl_strerror - what errno @err (positive or negative) means to a gpulease
 * client; strerror(3) for one outside the table. Returns a string that
 * lives as long as the program and must not be freed.
 */
GL_EXPORT const char *gl_strerror(int err)
{
	if (err < 0)
		err = -err;
	switch (err) {
	case 0:
		return "success";
	case GL_ERR_EXPIRED:
		return "lease expired";
	case GL_ERR_DISCONNECTED:
		return "daemon not running";
	case GL_ERR_NOSPACE:
		return "not enough device memory";
	case GL_ERR_QUOTA:
		return "over your quota";
	case GL_ERR_FAULT:
		return "argument outside the lease";
	case GL_ERR_INVALID:
		return "invalid argument";
	case GL_ERR_TOOBIG:
		return "too big for the lease or the line";
	case GL_ERR_TIMEOUT:
		return "kernel ran past its time limit";
	case GL_ERR_DEVICE:
		return "kernel or device fault";
	case GL_ERR_TTL_SHORT:
		return "lease has too little time left for the work";
	case GL_ERR_BUSY:
		return "queue full, try again";
	case GL_ERR_QUEUE_FULL:
		return "launch queue of the lease full, try again";
	case GL_ERR_CANCELED:
		return "launch cancelled";
	case GL_ERR_INTERRUPTED:
		return "interrupted; the launch was cancelled";
	case ENOENT:
		return "no such lease, model or device";
	case EEXIST:
		return "lease name taken";
	case EACCES:
	case EPERM:
		return "permission denied (another user's lease?)";
	case EPROTO:
		return "unexpected reply from the daemon (version mismatch?)";
	default:
		return strerror(err);
	}
}
