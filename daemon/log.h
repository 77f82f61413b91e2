/* SPDX-License-Identifier: MIT */
/*
 * Error reporting: every error that reaches a client leaves through
 * gl_fail(), which logs file:line, the lease and the reason, and records
 * the reason as the lease's last_error.
 */
#ifndef GL_LOG_H
#define GL_LOG_H

#include <stdarg.h>

struct lease;

/*
 * gl_fail_at - log an error and record it on @l (may be NULL; then @name
 * names the object). Returns @err (a negative errno) so callers can
 * "return gl_fail(...)". Safe in any context but under the lease's
 * misc_lock.
 */
int gl_fail_at(const char *file, int line, struct lease *l, const char *name,
	       int err, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

#define gl_fail(l, err, ...) \
	gl_fail_at(__FILE__, __LINE__, (l), NULL, (err), __VA_ARGS__)
#define gl_fail_name(name, err, ...) \
	gl_fail_at(__FILE__, __LINE__, NULL, (name), (err), __VA_ARGS__)

/* gl_info - one informational line on stderr, prefixed "gpuleased: ". */
void gl_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* gl_errno_name - "ENOSPC" for ENOSPC, "E<n>" for the unknown. */
const char *gl_errno_name(int err);

#endif
