/* SPDX-License-Identifier: MIT */
/*
 * Error reporting. Invariant: every line names the source position and the
 * lease (or the name that was asked for), so the log alone explains every
 * errno a client saw.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "daemon/lease.h"
#include "daemon/log.h"

static const struct {
	int err;
	const char *name;
} errno_names[] = {
	{ EKEYEXPIRED, "EKEYEXPIRED" }, { ENOTCONN, "ENOTCONN" },
	{ ENOSPC, "ENOSPC" },		{ EDQUOT, "EDQUOT" },
	{ EFAULT, "EFAULT" },		{ EINVAL, "EINVAL" },
	{ EFBIG, "EFBIG" },		{ ETIMEDOUT, "ETIMEDOUT" },
	{ EIO, "EIO" },			{ ETIME, "ETIME" },
	{ EBUSY, "EBUSY" },		{ ENOENT, "ENOENT" },
	{ EEXIST, "EEXIST" },		{ EACCES, "EACCES" },
	{ EPERM, "EPERM" },		{ ENOMEM, "ENOMEM" },
	{ ECANCELED, "ECANCELED" },	{ ENODEV, "ENODEV" },
	{ EOPNOTSUPP, "EOPNOTSUPP" },	{ EAGAIN, "EAGAIN" },
	{ EINTR, "EINTR" },
};

const char *gl_errno_name(int err)
{
	static __thread char buf[16];
	size_t i;

	if (err < 0)
		err = -err;
	for (i = 0; i < sizeof(errno_names) / sizeof(errno_names[0]); i++)
		if (errno_names[i].err == err)
			return errno_names[i].name;
	snprintf(buf, sizeof(buf), "E%d", err);
	return buf;
}

/* Names that failed validation may hold anything: log them printable. */
static void log_safe_name(char *dst, size_t size, const char *name)
{
	size_t i;

	for (i = 0; name[i] && i + 1 < size; i++)
		dst[i] = (name[i] >= 0x20 && name[i] < 0x7f) ? name[i] : '?';
	dst[i] = '\0';
}

int gl_fail_at(const char *file, int line, struct lease *l, const char *name,
	       int err, const char *fmt, ...)
{
	char reason[128], msg[160], who[GL_NAME_MAX + 2];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	snprintf(msg, sizeof(msg), "%s: %s", gl_errno_name(err), reason);
	log_safe_name(who, sizeof(who), l ? l->name : (name ? name : "-"));
	fprintf(stderr, "gpuleased: %s:%d: lease %s: %s\n", file, line, who,
		msg);
	if (l)
		lease_set_error(l, msg);
	return err;
}

void gl_info(const char *fmt, ...)
{
	char line[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "gpuleased: %s\n", line);
}
