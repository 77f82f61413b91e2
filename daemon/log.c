/* SPDX-License-Identifier: MIT */
/*
 * Error reporting. Invariant: every line names the source position and the
 * lease (or the name that was asked for), so the log alone explains every
 * errno a client saw; a flood from one call site costs at most
 * LOG_RL_BURST lines per window plus one line that counts the rest.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "daemon/clock.h"
#include "daemon/log.h"
#include "uapi/gpulease.h"

#define LOG_RL_SLOTS	64	/* call sites tracked at once */

/* One call site's window; a slot is reused by whichever site hashes to it */
struct log_site {
	const char *file;	/* NULL: free; compared by address */
	int line;
	int64_t start_ns;	/* the window began, CLOCK_MONOTONIC */
	unsigned printed;	/* lines in this window */
	unsigned long suppressed; /* lines held back in this window */
};

static struct {
	pthread_mutex_t lock;	/* guards sites */
	struct log_site sites[LOG_RL_SLOTS];
	enum gl_log_target target; /* set before threads start */
} log_state = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.target = GL_LOG_STDERR,
};

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

void gl_log_open(enum gl_log_target target)
{
	log_state.target = target;
	if (target == GL_LOG_SYSLOG)
		openlog("gpuleased", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

/* One line to the target; @prio is syslog's. */
static void log_emit(int prio, const char *line)
{
	if (log_state.target == GL_LOG_SYSLOG)
		syslog(prio, "%s", line);
	else
		fprintf(stderr, "gpuleased: %s\n", line);
}

static void log_suppressed(const char *file, int line, unsigned long n)
{
	char msg[160];

	snprintf(msg, sizeof(msg), "%s:%d: %lu similar messages suppressed",
		 file, line, n);
	log_emit(LOG_NOTICE, msg);
}

void gl_log_close(void)
{
	struct log_site *s;

	pthread_mutex_lock(&log_state.lock);
	for (s = log_state.sites; s < log_state.sites + LOG_RL_SLOTS; s++) {
		if (s->file && s->suppressed)
			log_suppressed(s->file, s->line, s->suppressed);
		s->file = NULL;
	}
	pthread_mutex_unlock(&log_state.lock);
	if (log_state.target == GL_LOG_SYSLOG)
		closelog();
	log_state.target = GL_LOG_STDERR;
}

int log_ratelimit(const char *file, int line, int64_t now_ns,
		  unsigned long *suppressed)
{
	uintptr_t h = ((uintptr_t)file >> 3) * 31 + (unsigned)line;
	struct log_site *s = &log_state.sites[h % LOG_RL_SLOTS];
	int ok = 1;

	*suppressed = 0;
	pthread_mutex_lock(&log_state.lock);
	if (s->file != file || s->line != line) {
		/* another site had the slot: its count must not be lost */
		if (s->file && s->suppressed)
			log_suppressed(s->file, s->line, s->suppressed);
		*s = (struct log_site){ .file = file, .line = line,
					.start_ns = now_ns };
	} else if (now_ns - s->start_ns >= LOG_RL_INTERVAL_NS) {
		*suppressed = s->suppressed;
		s->start_ns = now_ns;
		s->printed = 0;
		s->suppressed = 0;
	}
	if (s->printed < LOG_RL_BURST) {
		s->printed++;
	} else {
		s->suppressed++;
		ok = 0;
	}
	pthread_mutex_unlock(&log_state.lock);
	return ok;
}

/* Log @msg for @file:@line unless its site is over its rate. */
static void log_limited(int prio, const char *file, int line,
			const char *msg)
{
	unsigned long n;

	if (!log_ratelimit(file, line, clock_mono(), &n))
		return;
	if (n)
		log_suppressed(file, line, n);
	log_emit(prio, msg);
}

/* Names that failed validation may hold anything: log them printable. */
static void log_safe_name(char *dst, size_t size, const char *name)
{
	size_t i;

	for (i = 0; name[i] && i + 1 < size; i++)
		dst[i] = (name[i] >= 0x20 && name[i] < 0x7f) ? name[i] : '?';
	dst[i] = '\0';
}

int gl_last_error_init(struct gl_last_error *e)
{
	e->msg[0] = '\0';
	return -pthread_mutex_init(&e->lock, NULL);
}

void gl_last_error_destroy(struct gl_last_error *e)
{
	pthread_mutex_destroy(&e->lock);
}

void gl_last_error_set(struct gl_last_error *e, const char *msg)
{
	pthread_mutex_lock(&e->lock);
	snprintf(e->msg, sizeof(e->msg), "%s", msg);
	pthread_mutex_unlock(&e->lock);
}

void gl_last_error_get(struct gl_last_error *e, char *buf, size_t size)
{
	pthread_mutex_lock(&e->lock);
	snprintf(buf, size, "%s", e->msg);
	pthread_mutex_unlock(&e->lock);
}

int gl_fail_at(const char *file, int line, const char *who,
	       struct gl_last_error *last, int err, const char *fmt, ...)
{
	char reason[128], msg[LOG_LAST_ERROR_LEN], name[GL_NAME_MAX + 2];
	char out[384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	snprintf(msg, sizeof(msg), "%s: %s", gl_errno_name(err), reason);
	log_safe_name(name, sizeof(name), who ? who : "-");
	snprintf(out, sizeof(out), "%s:%d: lease %s: %s", file, line, name,
		 msg);
	log_limited(LOG_WARNING, file, line, out);
	if (last)
		gl_last_error_set(last, msg);
	return err;
}

void gl_info_at(const char *file, int line, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_limited(LOG_INFO, file, line, msg);
}

void gl_err(const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_emit(LOG_ERR, msg);
}
