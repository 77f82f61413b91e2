/* SPDX-License-Identifier: MIT */
/*
 * Error reporting: every error that reaches a client leaves through
 * gl_fail(), which logs file:line, the lease and the reason, and records
 * the reason as the lease's last_error. Lines go to standard error or to
 * syslog (facility daemon, ident "gpuleased"), and each call site may log
 * at most LOG_RL_BURST lines per LOG_RL_INTERVAL_NS: the rest are counted
 * and reported as one "N similar messages suppressed" line.
 */
#ifndef GL_LOG_H
#define GL_LOG_H

#include <stdarg.h>
#include <stdint.h>

struct lease;

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

/*
 * gl_fail_at - log an error and record it on @l (may be NULL; then @name
 * names the object). Returns @err (a negative errno) so callers can
 * "return gl_fail(...)". Takes @l's err_lock (a leaf lock): safe in
 * any context but under that lock.
 */
int gl_fail_at(const char *file, int line, struct lease *l, const char *name,
	       int err, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

#define gl_fail(l, err, ...) \
	gl_fail_at(__FILE__, __LINE__, (l), NULL, (err), __VA_ARGS__)
#define gl_fail_name(name, err, ...) \
	gl_fail_at(__FILE__, __LINE__, NULL, (name), (err), __VA_ARGS__)

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
