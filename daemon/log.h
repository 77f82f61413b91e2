/* SPDX-License-Identifier: MIT */
/*
 * Error reporting: every error that reaches a client leaves through
 * gl_fail_at() (gl_fail() for a lease, in lease.h), which logs file:line,
 * the object's name and the reason, and records the reason in the
 * object's last_error. The log calls into no object: the caller passes
 * the name and the struct gl_last_error the object embeds. Lines go to
 * standard error or to
 * syslog (facility daemon, ident "gpuleased"), and each call site may log
 * at most LOG_RL_BURST lines per LOG_RL_INTERVAL_NS: the rest are counted
 * and reported as one "N similar messages suppressed" line.
 */
#ifndef GL_LOG_H
#define GL_LOG_H

#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define LOG_RL_BURST		10			/* lines per window */
#define LOG_RL_INTERVAL_NS	(5 * 1000000000LL)	/* window length */

enum gl_log_target {
	GL_LOG_STDERR,		/* "gpuleased: ..." lines on fd 2 */
	GL_LOG_SYSLOG,		/* syslog(3), LOG_DAEMON, ident gpuleased */
};

/*
 * gl_log_open - send every later line to @target (the default, before
 * any call, is GL_LOG_STDERR). Call before threads that log exist.
 */
void gl_log_open(enum gl_log_target target);

/*
 * gl_log_close - report what the rate limiter still holds back, then
 * close syslog. Lines logged later go to standard error.
 */
void gl_log_close(void);

#define LOG_LAST_ERROR_LEN	160	/* bytes of a last_error, with NUL */

/*
 * One object's last_error: the reason of its latest failure, written by
 * gl_fail_at() and read by whoever shows it (a lease's ctl file). The
 * object embeds it between gl_last_error_init() and _destroy().
 */
struct gl_last_error {
	pthread_mutex_t lock;		/* a leaf lock; guards msg */
	char msg[LOG_LAST_ERROR_LEN];	/* "ENOSPC: reason" or "" */
};

/* gl_last_error_init - an empty last_error. 0 or -errno (the lock's). */
int gl_last_error_init(struct gl_last_error *e);

/* gl_last_error_destroy - release @e's lock; nobody may use it now. */
void gl_last_error_destroy(struct gl_last_error *e);

/* gl_last_error_set - record @msg (truncated to fit). Any thread; takes
 * @e's lock (a leaf). */
void gl_last_error_set(struct gl_last_error *e, const char *msg);

/* gl_last_error_get - copy the last reason into @buf ("" when none yet,
 * truncated to @size). Any thread; takes @e's lock (a leaf). */
void gl_last_error_get(struct gl_last_error *e, char *buf, size_t size);

/*
 * gl_fail_at - log an error of the object named @who and record it in
 * @last (may be NULL: nothing is recorded, as for a name that was asked
 * for and is no object). Returns @err (a negative errno) so callers can
 * "return gl_fail_at(...)". Takes @last's lock (a leaf lock): safe in
 * any context but under that lock.
 */
int gl_fail_at(const char *file, int line, const char *who,
	       struct gl_last_error *last, int err, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

/* gl_fail_name - an error about @name, which has no last_error. */
#define gl_fail_name(name, err, ...) \
	gl_fail_at(__FILE__, __LINE__, (name), NULL, (err), __VA_ARGS__)

/* gl_info_at - one informational line (syslog LOG_INFO), rate-limited
 * per call site like gl_fail. Any thread. */
void gl_info_at(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
#define gl_info(...) gl_info_at(__FILE__, __LINE__, __VA_ARGS__)

/* gl_err - a fatal condition of the daemon (syslog LOG_ERR), never
 * rate-limited. Any thread. */
void gl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * log_ratelimit - the limiter behind every line, exposed for its test:
 * may the call site @file:@line log a line at @now_ns (CLOCK_MONOTONIC)?
 * Returns 1 (log it) or 0 (suppressed, counted). When it returns 1 after
 * suppressing lines of this site, *@suppressed is their number (else 0):
 * the caller reports it first. Takes the limiter's lock; any thread.
 */
int log_ratelimit(const char *file, int line, int64_t now_ns,
		  unsigned long *suppressed);

/* gl_errno_name - "ENOSPC" for ENOSPC, "E<n>" for the unknown. */
const char *gl_errno_name(int err);

#endif
