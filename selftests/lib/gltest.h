/* SPDX-License-Identifier: MIT */
/*
 * gltest.h - fixture and verb helpers for tests against a mounted gpulease
 * tree: start a private gpuleased on a fresh temp mount, then acquire,
 * configure, read and drop leases with one call per contract verb.
 *
 * Invariant: every helper returns >= 0 or -errno and leaves no file open;
 * paths are always inside the fixture's own mount point.
 */
#ifndef GL_SELFTEST_GLTEST_H
#define GL_SELFTEST_GLTEST_H

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

#include "uapi/gpulease.h"

#define GL_NOBODY_UID	65534
#define GL_NOBODY_GID	65534

#define GL_TEXT_MAX	8192	/* buffer for reading any ctl file */

struct gl_daemon {
	pid_t pid;		/* daemon (or its wrapper); 0: not running */
	int wrapped;		/* started under GL_DAEMON_WRAPPER */
	int background;		/* started without -f (GL_BACKGROUND) */
	char dir[64];		/* private temp dir: mnt/ and daemon.log */
	char mnt[96];		/* the mount point */
	char log[96];		/* daemon stdout+stderr */
};

/*
 * Why the daemon cannot run here (not root, no /dev/fuse), or NULL.
 * Tests SKIP with this reason.
 */
const char *gl_daemon_unavailable(void);

/*
 * Start gpuleased -f [extra_args] MNT on a fresh temp mount and wait for
 * MNT/ctl.  Binary: $GPULEASED, else ../../gpuleased next to this test.
 * Wrapper: $GL_DAEMON_WRAPPER split on spaces.  With GL_BACKGROUND=1 in
 * the environment, as gl_daemon_start_bg().  Returns 0 or -errno (the
 * log is printed on failure); d is valid for gl_daemon_stop() either way.
 */
int gl_daemon_start(struct gl_daemon *d, const char *const *extra_args);

/*
 * Start gpuleased --log stderr [extra_args] MNT in its default mode: it
 * goes to the background and its first process exits once the tree
 * serves. The calling process becomes a child subreaper, so the daemon
 * is its child: d->pid is the daemon's pid, and gl_daemon_stop() reports
 * the daemon's own exit status. Returns 0, -ECHILD when the first
 * process exits non-zero (its status printed), or -errno.
 */
int gl_daemon_start_bg(struct gl_daemon *d, const char *const *extra_args);

/*
 * gl_daemon_reap - wait for the daemon the test killed (SIGKILL, SIGTERM)
 * and lazily unmount what it left, as a supervisor would; the temp dir
 * stays for gl_daemon_restart(). Returns the exit status as
 * gl_daemon_stop() does (128 + signal when killed), or -errno.
 */
int gl_daemon_reap(struct gl_daemon *d);

/*
 * gl_daemon_restart - start the daemon again on the same mount point,
 * in the same mode, with @extra_args, after gl_daemon_reap(); its log is
 * appended to the first one's. 0 or -errno as gl_daemon_start();
 * -EBUSY while one runs.
 */
int gl_daemon_restart(struct gl_daemon *d, const char *const *extra_args);

/*
 * The pid of a child of @parent whose command line contains @needle, or
 * -ESRCH. For daemons reparented to a subreaper.
 */
pid_t gl_find_child(pid_t parent, const char *needle);

/*
 * Enter a mount namespace of this process's own with a fresh tmpfs on
 * /dev/shm (mounts made afterwards, a daemon's too, are seen only by this
 * process and its children). Returns 0 or -errno.
 */
int gl_private_shm(void);

/*
 * SIGTERM the daemon and wait; SIGKILL and lazy unmount when it does not
 * exit in time.  Removes the temp dir.  Prints the daemon log when the exit
 * is not clean or @dump_log is set.  Returns the exit status (0 for a clean
 * exit, 128 + signal when killed) or -errno; 0 when nothing was started.
 */
int gl_daemon_stop(struct gl_daemon *d, int dump_log);

/* Print the daemon log as "# " lines. */
void gl_daemon_dump_log(const struct gl_daemon *d);

/* The daemon's VmRSS in KiB, or -errno. */
long gl_daemon_rss_kb(const struct gl_daemon *d);

/*
 * Absolute path of a file under the mount: gl_path(d, "leases/%s/ctl", n).
 * Returns one of a few rotating thread-local buffers: valid until the
 * fourth-next call on the same thread.
 */
const char *gl_path(const struct gl_daemon *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* mkdir / rmdir leases/NAME: 0 or -errno. */
int lease_create(const struct gl_daemon *d, const char *name);
int lease_remove(const struct gl_daemon *d, const char *name);

/* lease_create, then "vram @bytes" to its ctl: 0 or -errno. */
int lease_sized(const struct gl_daemon *d, const char *name,
		long long bytes);

/*
 * A launch that runs until it is cancelled or times out: one attention
 * block (S=2048, head_dim=4096: 2^34 multiply-adds) that looks at its
 * cancel flag every 256 elements, so it stops at once, under valgrind
 * too. Its lease needs SPIN_VRAM bytes (q, k 32M, s 16M).
 */
#define SPIN_VRAM (80LL << 20)
#define SPIN "attn_scores grid=1 block=1 u32:2048 u32:2048 u32:1 u32:1 " \
	"u32:4096 u32:0 u32:0 f32:1 buf:0:32M buf:32M:32M buf:64M:16M"

/* Open leases/NAME/FILE with @flags: an fd or -errno. */
int lease_open(const struct gl_daemon *d, const char *name, const char *file,
	       int flags);

/* One write(2) of the formatted line to leases/NAME/FILE: 0 or -errno. */
int lease_write(const struct gl_daemon *d, const char *name, const char *file,
		const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Read leases/NAME/FILE into buf, NUL-terminated: bytes read or -errno. */
int lease_read(const struct gl_daemon *d, const char *name, const char *file,
	       char *buf, size_t size);

/* Value of "KEY value" in leases/NAME/ctl: 0 or -errno (-ENOKEY absent). */
int lease_read_key(const struct gl_daemon *d, const char *name,
		   const char *key, long long *val);
int lease_read_key_str(const struct gl_daemon *d, const char *name,
		       const char *key, char *buf, size_t size);

/* One write(2) of the formatted line to REL ("ctl", "leases/ctl"). */
int gl_ctl_write(const struct gl_daemon *d, const char *rel,
		 const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* One write(2) of exactly @len bytes to REL: 0 or -errno. */
int gl_write_raw(const struct gl_daemon *d, const char *rel, const void *buf,
		 size_t len);

/* Read REL into buf, NUL-terminated: bytes read or -errno. */
int gl_read(const struct gl_daemon *d, const char *rel, char *buf,
	    size_t size);

/* "KEY value" of REL: 0 or -errno (-ENOKEY when the key is absent). */
int gl_read_key(const struct gl_daemon *d, const char *rel, const char *key,
		long long *val);
int gl_read_key_str(const struct gl_daemon *d, const char *rel,
		    const char *key, char *buf, size_t size);

/* devices/DEV/FILE as a number: >= 0 or -errno. */
long long dev_read_u64(const struct gl_daemon *d, int dev, const char *file);

/* Number of entries in leases/ (ctl not counted), or -errno. */
int gl_count_leases(const struct gl_daemon *d);

/*
 * Poll until leases/NAME is gone (ENOENT) or @timeout_ms passes: 0 or
 * -ETIMEDOUT.  For asynchronous drops (bind on close, expiry).
 */
int gl_wait_gone(const struct gl_daemon *d, const char *name, int timeout_ms);

/* Poll until @cond(@arg) returns nonzero: 0 or -ETIMEDOUT. */
int gl_wait_until(int (*cond)(void *arg), void *arg, int timeout_ms);

/*
 * Run @fn(@arg) in a forked child as uid/gid (supplementary groups
 * dropped); returns what fn returned (an int >= 0 or -errno), or -ECHILD
 * when the child died.
 */
int gl_run_as(uid_t uid, gid_t gid, int (*fn)(void *arg), void *arg);
int gl_run_as_nobody(int (*fn)(void *arg), void *arg);

/* Deterministic pseudo-random bytes; xorshift64 state in *seed. */
void gl_fill_random(void *buf, size_t len, unsigned long long *seed);
unsigned long long gl_rand(unsigned long long *seed);

/* Milliseconds on CLOCK_MONOTONIC. */
long long gl_now_ms(void);

/* Timeouts scale under a wrapper: @ms times GL_SLOW when wrapped. */
int gl_scale_ms(const struct gl_daemon *d, int ms);

/*
 * Fixture glue for harness.h users: skip without root or FUSE, start the
 * daemon (ASSERT), and at teardown expect a clean exit 0.
 */
#define GL_DAEMON_SETUP(d, args) do { \
		const char *_gl_why = gl_daemon_unavailable(); \
		if (_gl_why) \
			SKIP(return, "%s", _gl_why); \
		ASSERT_EQ(gl_daemon_start(d, args), 0); \
	} while (0)

#define GL_DAEMON_TEARDOWN(d) \
	EXPECT_EQ(gl_daemon_stop(d, th_failed()), 0) \
		TH_LOG("gpuleased did not exit 0 (log above)")

#endif /* GL_SELFTEST_GLTEST_H */
