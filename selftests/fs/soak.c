/* SPDX-License-Identifier: MIT */
/*
 * soak.c - many acquire/size/drop cycles (mkdir, "vram <random up to
 * 1M>", rmdir) from two threads: nothing may be left behind (vram.used 0,
 * no leases) and the daemon's resident memory must not grow by 1 MiB or
 * more between a warm-up point and the end.  SOAK=N sets the cycle count.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "selftests/harness.h"
#include "selftests/lib/gltest.h"

#define NTHREADS	2
#define CYCLES		20000	/* default total over all threads */
#define WARMUP		2000
#define RSS_GROWTH_KB	1024

static const char *const args[] = { "--cpu-vram", "64M", NULL };

FIXTURE(soak) {
	struct gl_daemon d;
};

FIXTURE_SETUP(soak)
{
	GL_DAEMON_SETUP(&self->d, args);
}

FIXTURE_TEARDOWN(soak)
{
	GL_DAEMON_TEARDOWN(&self->d);
}

struct cycler {
	const struct gl_daemon *d;
	pthread_t thread;
	unsigned long long seed;
	int id;
	long start, count;	/* cycle numbers, for unique names */
	long errors;
	int first_err;
	long first_at;
};

static void *cycle_worker(void *arg)
{
	struct cycler *c = arg;
	unsigned long long size;
	char name[48];
	int ret, ret2;
	long i;

	for (i = c->start; i < c->start + c->count; i++) {
		snprintf(name, sizeof(name), "soak-%d-%ld", c->id, i);
		ret = lease_create(c->d, name);
		if (!ret) {
			size = gl_rand(&c->seed) % (1024 * 1024 + 1);
			ret = lease_write(c->d, name, "ctl", "vram %llu\n",
					  size);
			ret2 = lease_remove(c->d, name);
			if (!ret)
				ret = ret2;
		}
		if (ret && !c->errors++) {
			c->first_err = ret;
			c->first_at = i;
		}
	}
	return NULL;
}

/* Run @total cycles split over the threads; returns the error count. */
static long run_cycles(const struct gl_daemon *d, struct cycler *c,
		       long start, long total)
{
	long errors = 0;
	int i;

	for (i = 0; i < NTHREADS; i++) {
		c[i].d = d;
		c[i].id = i;
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
	}
	return errors;
}

/* RSS growth means nothing under ASan (quarantine) or valgrind. */
static int rss_meaningful(const struct gl_daemon *d)
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

TEST_F_TIMEOUT(soak, acquire_size_drop, 600)
{
	struct gl_daemon *d = &self->d;
	struct cycler c[NTHREADS];
	const char *env = getenv("SOAK");
	long total = env ? atol(env) : CYCLES;
	long rss_warm, rss_end;
	int i;

	if (total < 2 * WARMUP)
		total = 2 * WARMUP;
	memset(c, 0, sizeof(c));
	for (i = 0; i < NTHREADS; i++)
		c[i].seed = 0x5eed + i;
	TH_LOG("%ld cycles on %d threads", total, NTHREADS);

	ASSERT_EQ(run_cycles(d, c, 0, WARMUP), 0);
	EXPECT_EQ(dev_read_u64(d, 0, "vram.used"), 0);
	rss_warm = gl_daemon_rss_kb(d);
	ASSERT_GT(rss_warm, 0);

	ASSERT_EQ(run_cycles(d, c, WARMUP, total - WARMUP), 0);
	EXPECT_EQ(dev_read_u64(d, 0, "vram.used"), 0);
	EXPECT_EQ(dev_read_u64(d, 0, "leases"), 0);
	EXPECT_EQ(gl_count_leases(d), 0);
	rss_end = gl_daemon_rss_kb(d);
	ASSERT_GT(rss_end, 0);
	TH_LOG("daemon VmRSS: %ld kB after warm-up, %ld kB at the end",
	       rss_warm, rss_end);
	if (rss_meaningful(d))
		EXPECT_LT(rss_end - rss_warm, RSS_GROWTH_KB);
	else
		TH_LOG("sanitizer or wrapper: RSS growth not checked");
}

TEST_HARNESS_MAIN
