/* SPDX-License-Identifier: MIT */
/*
 * soak.c - 100,000 lease cycles from two threads, and nothing left behind.
 * A plain cycle is mkdir, "vram <random up to 1M>", rmdir; every
 * RING_EVERY-th cycle instead acquires a lease through libgpulease, gives
 * it an io region, runs copy-in, a launch and copy-out through the ring
 * and a second launch through submit, checks both results and drops it.
 * After a warm-up and at the end the daemon is measured at rest: its open
 * files (/proc/PID/fd), its threads (/proc/PID/task), the entries of its
 * io directory (/dev/shm/gpulease.<pid>) and its mappings of them must be
 * equal; VmRSS may grow by less than RSS_GROWTH_KB (and FUSE_WORKER_KB for
 * each worker libfuse added meanwhile). SOAK=N sets the cycle count; a
 * sanitizer build runs CYCLES_SAN by default, as its RSS says nothing and
 * each cycle costs more.
 *
 * Threads: libfuse adds a worker whenever a request finds none idle, up to
 * its max_threads, and with our max_idle_threads never removes one, so how
 * many it has after a burst depends on timing. The counts compared are
 * those of every other thread (the daemon's own, main included); libfuse's
 * idle workers, the tasks waiting in fuse_dev_do_read, are logged.
 *
 * run_tests: no-background no-valgrind (its subject is the lease cycle, not
 * the start; 100,000 cycles take hours under valgrind)
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "selftests/harness.h"
#include "selftests/lib/gltest.h"
#include "tools/lib/gpulease.h"

#define NTHREADS	2
#define CYCLES		100000	/* default total over all threads */
#define CYCLES_SAN	20000	/* the default under a sanitizer */
#define WARMUP		2000
#define RING_EVERY	50	/* one cycle in RING_EVERY uses a ring */
#define RING_BYTES	(64 << 10)	/* the smallest io region */
#define N		256	/* floats the kernels scale */
/*
 * RSS. The daemon runs with one malloc arena and fixed mmap and trim
 * thresholds (MALLOC_TUNABLES): by default glibc gives threads arenas of
 * their own and raises its thresholds as it goes, and keeps hundreds of
 * KiB more or less resident at two points of rest without any leak. What
 * is left was measured at 100-150 KiB (heap fragmentation); RSS_GROWTH_KB
 * over 98,000 cycles still catches a leak of 11 bytes a cycle. Each worker
 * libfuse adds after the warm-up brings its stack and receive buffer (the
 * pages requests touched), measured at about 130 KiB resident:
 * FUSE_WORKER_KB more is allowed for each.
 */
#define RSS_GROWTH_KB	1024
#define FUSE_WORKER_KB	256
#define MALLOC_TUNABLES	"glibc.malloc.arena_max=1:" \
			"glibc.malloc.mmap_threshold=131072:" \
			"glibc.malloc.trim_threshold=131072"
#define REST_MS		10000	/* bound on waiting for the daemon at rest */

static const char *const args[] = { "--cpu-vram", "64M", NULL };

FIXTURE(soak) {
	struct gl_daemon d;
};

FIXTURE_SETUP(soak)
{
	setenv("GLIBC_TUNABLES", MALLOC_TUNABLES, 1);
	GL_DAEMON_SETUP(&self->d, args);
}

FIXTURE_TEARDOWN(soak)
{
	GL_DAEMON_TEARDOWN(&self->d);
}

struct cycler {
	const struct gl_daemon *d;
	struct gl *g;
	pthread_t thread;
	unsigned long long seed;
	int id;
	long start, count;	/* cycle numbers, for unique names */
	long errors, rings;
	int first_err;
	long first_at;
};

/* The ring's next completion: its status, or the wait's -errno. */
static int take(struct gl_ring *r)
{
	struct gl_cqe *cqe;
	int err, st;

	err = gl_ring_wait_cqe(r, &cqe, 10000);
	if (err)
		return err;
	st = cqe->status;
	gl_ring_cqe_seen(r, cqe);
	return st;
}

/* x[i] == want * (i - 100) for every float: 0 or -EIO. */
static int check_scaled(const float *x, float want)
{
	int i;

	for (i = 0; i < N; i++)
		if (x[i] != want * ((float)i - 100.0f))
			return -EIO;
	return 0;
}

/*
 * Copy N floats in, scale them by 2 with a launch from the ring, copy them
 * out (the ring orders the copy after the launch); then scale them by 2
 * again through submit and read vram. 0 or the first -errno.
 */
static int ring_work(struct gl *g, const char *name, struct gl_ring *r)
{
	const size_t bytes = N * sizeof(float);
	char line[128], *data;
	struct gl_launch_desc desc;
	float out[N];
	size_t size;
	int err, i;

	data = gl_ring_data(r, &size);
	if (!data || size < 3 * 4096)
		return -EINVAL;
	for (i = 0; i < N; i++)
		((float *)data)[i] = (float)i - 100.0f;
	err = gl_launch_init(&desc, "scale", 1, N);
	err = err ?: gl_launch_arg(&desc, GL_ARG_U32, N, 0);
	err = err ?: gl_launch_arg_f32(&desc, 2.0f);
	err = err ?: gl_launch_arg(&desc, GL_ARG_BUF, 0, bytes);
	err = err ?: gl_launch_arg(&desc, GL_ARG_BUF, 0, bytes);
	if (err)
		return err;
	memcpy(data + 4096, &desc, GL_LAUNCH_DESC_SIZE(desc.nargs));
	gl_ring_prep_copy_in(gl_ring_get_sqe(r), 0, 0, bytes, 1);
	gl_ring_prep_launch(gl_ring_get_sqe(r), 4096,
			    (uint32_t)GL_LAUNCH_DESC_SIZE(desc.nargs), 2);
	gl_ring_prep_copy_out(gl_ring_get_sqe(r), 8192, 0, bytes, 3);
	if (gl_ring_submit(r) != 3)
		return -EIO;
	for (i = 0; i < 3; i++) {
		err = take(r);
		if (err)
			return err;
	}
	err = check_scaled((const float *)(data + 8192), 2.0f);
	if (err)
		return err;
	snprintf(line, sizeof(line),
		 "scale grid=1 block=%d u32:%d f32:2 buf:0:%zu buf:0:%zu",
		 N, N, bytes, bytes);
	err = gl_submit_text(g, name, line);
	if (err)
		return err;
	if (gl_vram_pread(g, name, out, bytes, 0) != (ssize_t)bytes)
		return -EIO;
	return check_scaled(out, 4.0f);
}

/* One ring cycle: acquire, io region, ring_work(), close, drop. */
static int ring_cycle(struct cycler *c, const char *name)
{
	struct gl_ring *r = NULL;
	int err, err2;

	err = gl_lease_acquire(c->g, name, 4096, 0, -1, 0);
	if (err)
		return err;
	err = gl_ring_setup(c->g, name, RING_BYTES);
	err = err ?: gl_ring_open(c->g, name, &r);
	err = err ?: ring_work(c->g, name, r);
	gl_ring_close(r);
	err2 = gl_lease_drop(c->g, name);
	c->rings++;
	return err ?: err2;
}

static int plain_cycle(struct cycler *c, const char *name)
{
	unsigned long long size;
	int ret, ret2;

	ret = lease_create(c->d, name);
	if (ret)
		return ret;
	size = gl_rand(&c->seed) % (1024 * 1024 + 1);
	ret = lease_write(c->d, name, "ctl", "vram %llu\n", size);
	ret2 = lease_remove(c->d, name);
	return ret ?: ret2;
}

static void *cycle_worker(void *arg)
{
	struct cycler *c = arg;
	char name[48];
	int ret;
	long i;

	for (i = c->start; i < c->start + c->count; i++) {
		snprintf(name, sizeof(name), "soak-%d-%ld", c->id, i);
		if (i % RING_EVERY == RING_EVERY - 1)
			ret = ring_cycle(c, name);
		else
			ret = plain_cycle(c, name);
		if (ret && !c->errors++) {
			c->first_err = ret;
			c->first_at = i;
		}
	}
	return NULL;
}

/* Run @total cycles split over the threads; returns the error count. */
static long run_cycles(struct cycler *c, long start, long total)
{
	long errors = 0;
	int i;

	for (i = 0; i < NTHREADS; i++) {
		c[i].start = start;
		c[i].count = total / NTHREADS;
		if (pthread_create(&c[i].thread, NULL, cycle_worker, &c[i]))
			return -1;
	}
	for (i = 0; i < NTHREADS; i++) {
		pthread_join(c[i].thread, NULL);
		if (c[i].errors)
			TH_LOG("thread %d: %ld errors, first %d (%s) at cycle "
			       "%ld", i, c[i].errors, c[i].first_err,
			       strerror(-c[i].first_err), c[i].first_at);
		errors += c[i].errors;
		c[i].errors = 0;
	}
	return errors;
}

/* What must come back to where it was. */
struct rest {
	int fds;
	int threads;		/* all but libfuse's idle workers */
	int fuse_idle;		/* libfuse workers in fuse_dev_do_read */
	int io_files;		/* entries of the daemon's io directory */
	int io_maps;		/* its mappings of files there */
};

/* Entries of @path but . and ..: a count or -errno. */
static int count_dir(const char *path)
{
	struct dirent *e;
	DIR *dir = opendir(path);
	int n = 0;

	if (!dir)
		return -errno;
	while ((e = readdir(dir)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(dir);
	return n;
}

/* First line of /proc/PID/task/TID/FILE into buf: 0 or -errno. */
static int task_read(pid_t pid, const char *tid, const char *file,
		     char *buf, size_t size)
{
	char path[96];
	FILE *f;
	int err = 0;

	snprintf(path, sizeof(path), "/proc/%d/task/%s/%s", (int)pid, tid,
		 file);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	if (!fgets(buf, (int)size, f))
		err = -EIO;
	fclose(f);
	return err;
}

/*
 * Count the daemon's threads; 1 when every one sleeps (state S), the daemon
 * at rest, 0 when one runs, or -errno.
 */
static int count_threads(pid_t pid, struct rest *s)
{
	char path[64], buf[512], *p;
	struct dirent *e;
	DIR *dir;
	int idle = 1;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	dir = opendir(path);
	if (!dir)
		return -errno;
	while ((e = readdir(dir))) {
		if (e->d_name[0] == '.')
			continue;
		/* the state follows the ")" that ends the command name */
		if (task_read(pid, e->d_name, "stat", buf, sizeof(buf)))
			continue;	/* gone meanwhile */
		p = strrchr(buf, ')');
		if (!p || p[1] != ' ' || p[2] != 'S')
			idle = 0;
		if (!task_read(pid, e->d_name, "wchan", buf, sizeof(buf)) &&
		    !strcmp(buf, "fuse_dev_do_read"))
			s->fuse_idle++;
		else
			s->threads++;
	}
	closedir(dir);
	return idle;
}

/* Mappings in /proc/PID/maps of files under @io_dir: a count or -errno. */
static int count_maps(pid_t pid, const char *io_dir)
{
	char path[64], line[PATH_MAX + 128];
	size_t len = strlen(io_dir);
	FILE *f;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		const char *p = strchr(line, '/');

		n += p && !strncmp(p, io_dir, len) && p[len] == '/';
	}
	fclose(f);
	return n;
}

/* One look at the daemon: 1 at rest, 0 busy, -errno. */
static int look(pid_t pid, const char *io_dir, struct rest *s)
{
	char path[64];
	int idle;

	memset(s, 0, sizeof(*s));
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	s->fds = count_dir(path);
	s->io_files = count_dir(io_dir);
	s->io_maps = count_maps(pid, io_dir);
	idle = count_threads(pid, s);
	if (s->fds < 0 || s->io_files < 0 || s->io_maps < 0 || idle < 0)
		return -EIO;
	return idle;
}

/*
 * Wait until the daemon is at rest (every thread asleep) and two looks
 * 20 ms apart agree, or @want (if set) is matched; REST_MS at most. Work
 * still draining after the last client call (a FORGET from the kernel)
 * only adds to the counts for a moment. Returns 0 or -ETIMEDOUT (@s holds
 * the last look).
 */
static int at_rest(const struct gl_daemon *d, const char *io_dir,
		   const struct rest *want, struct rest *s)
{
	long long end = gl_now_ms() + gl_scale_ms(d, REST_MS);
	struct rest prev;
	int have_prev = 0, idle;

	for (;;) {
		idle = look(d->pid, io_dir, s);
		if (idle < 0)
			return idle;
		if (idle && want && s->threads == want->threads &&
		    s->fds == want->fds && s->io_files == want->io_files &&
		    s->io_maps == want->io_maps)
			return 0;	/* libfuse may have added a worker */
		if (idle && !want && have_prev &&
		    !memcmp(s, &prev, sizeof(*s)))
			return 0;
		if (gl_now_ms() > end)
			return -ETIMEDOUT;
		prev = *s;
		have_prev = idle;
		usleep(20000);
	}
}

/*
 * 1 when the daemon runs plain, 0 under ASan (its quarantine holds freed
 * memory: RSS growth means nothing), TSan, or a wrapper such as valgrind.
 */
static int daemon_plain(const struct gl_daemon *d)
{
	char path[64], line[512];
	FILE *f;
	int ok = 1;

	if (d->wrapped)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)d->pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "libasan") || strstr(line, "libtsan") ||
		    strstr(line, "vgpreload"))
			ok = 0;
	fclose(f);
	return ok;
}

/* The daemon's io directory: where a lease's io symlink points. */
static int find_io_dir(struct gl *g, const struct gl_daemon *d,
		       char *buf, size_t size)
{
	ssize_t n;
	char *slash;
	int err;

	err = gl_lease_acquire(g, "soak-probe", 0, 0, -1, 0);
	err = err ?: gl_ring_setup(g, "soak-probe", RING_BYTES);
	if (err)
		return err;
	n = readlink(gl_path(d, "leases/soak-probe/io"), buf, size - 1);
	err = n < 0 ? -errno : 0;
	gl_lease_drop(g, "soak-probe");
	if (err)
		return err;
	buf[n] = '\0';
	slash = strrchr(buf, '/');
	if (!slash || slash == buf)
		return -EINVAL;
	*slash = '\0';
	return 0;
}

static void log_rest(const char *when, const struct rest *s, long rss)
{
	TH_LOG("%s: %d fds, %d threads (+%d idle libfuse workers), %d io "
	       "files, %d io mappings, VmRSS %ld kB", when, s->fds,
	       s->threads, s->fuse_idle, s->io_files, s->io_maps, rss);
}

TEST_F_TIMEOUT(soak, acquire_size_drop_with_rings, 600)
{
	struct gl_daemon *d = &self->d;
	struct cycler c[NTHREADS];
	const char *env = getenv("SOAK");
	int plain = daemon_plain(d);
	long total = env ? atol(env) : plain ? CYCLES : CYCLES_SAN;
	struct rest warm, end;
	char io_dir[PATH_MAX];
	long rss_warm, rss_end, rings = 0;
	int i;

	if (total < 2 * WARMUP)
		total = 2 * WARMUP;
	memset(c, 0, sizeof(c));
	for (i = 0; i < NTHREADS; i++) {
		c[i].d = d;
		c[i].id = i;
		c[i].seed = 0x5eed + i;
		ASSERT_EQ(gl_open(d->mnt, &c[i].g), 0);
	}
	ASSERT_EQ(find_io_dir(c[0].g, d, io_dir, sizeof(io_dir)), 0);
	TH_LOG("%ld cycles on %d threads, one in %d with a ring; io files "
	       "in %s", total, NTHREADS, RING_EVERY, io_dir);

	ASSERT_EQ(run_cycles(c, 0, WARMUP), 0);
	EXPECT_EQ(dev_read_u64(d, 0, "vram.used"), 0);
	if (!d->wrapped)
		ASSERT_EQ(at_rest(d, io_dir, NULL, &warm), 0);
	rss_warm = gl_daemon_rss_kb(d);
	ASSERT_GT(rss_warm, 0);

	ASSERT_EQ(run_cycles(c, WARMUP, total - WARMUP), 0);
	for (i = 0; i < NTHREADS; i++) {
		rings += c[i].rings;
		gl_close(c[i].g);
	}
	EXPECT_EQ(rings, total / RING_EVERY);
	EXPECT_EQ(dev_read_u64(d, 0, "vram.used"), 0);
	EXPECT_EQ(dev_read_u64(d, 0, "leases"), 0);
	EXPECT_EQ(gl_count_leases(d), 0);
	rss_end = gl_daemon_rss_kb(d);
	ASSERT_GT(rss_end, 0);
	if (d->wrapped) {
		TH_LOG("wrapper: the daemon's pid is not known, not measured");
		return;
	}
	EXPECT_EQ(at_rest(d, io_dir, &warm, &end), 0);
	log_rest("after warm-up", &warm, rss_warm);
	log_rest("at the end", &end, rss_end);
	EXPECT_EQ(end.fds, warm.fds);
	EXPECT_EQ(end.threads, warm.threads);
	EXPECT_EQ(end.io_files, 0);
	EXPECT_EQ(warm.io_files, 0);
	EXPECT_EQ(end.io_maps, 0);
	EXPECT_EQ(warm.io_maps, 0);
	if (plain)
		EXPECT_LT(rss_end - rss_warm, RSS_GROWTH_KB + FUSE_WORKER_KB *
			  (long)(end.fuse_idle - warm.fuse_idle));
	else
		TH_LOG("sanitizer: RSS growth not checked");
}

TEST_HARNESS_MAIN
