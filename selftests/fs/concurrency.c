/* SPDX-License-Identifier: MIT */
/*
 * concurrency.c - many threads at once: unique names acquire and drop
 * without interference; racing mkdir/rmdir of one name lets exactly one
 * win; racing resizes never overcommit and "used" stays the sum of the
 * reservations.  At the end nothing is left: used 0, no leases.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "selftests/harness.h"
#include "selftests/lib/gltest.h"

#define MiB (1024LL * 1024)
#define NTHREADS 4
#define ROUNDS 400
#define RACES 200

static const char *const args[] = { "--cpu-vram", "16M", NULL };

FIXTURE(conc) {
	struct gl_daemon d;
};

FIXTURE_SETUP(conc)
{
	GL_DAEMON_SETUP(&self->d, args);
	ASSERT_EQ(gl_ctl_write(&self->d, "ctl", "default_vram 4K\n"), 0);
}

FIXTURE_TEARDOWN(conc)
{
	GL_DAEMON_TEARDOWN(&self->d);
}

struct worker {
	const struct gl_daemon *d;
	pthread_barrier_t *barrier;
	pthread_t thread;
	int id;
	int errors;		/* unexpected results */
	int first_err;		/* the first of them */
	int create_ok[RACES];	/* race: mkdir result per round */
	int remove_ok[RACES];
	int enospc;
};

static void *unique_worker(void *arg)
{
	struct worker *w = arg;
	char name[32];
	int i, ret;

	for (i = 0; i < ROUNDS; i++) {
		snprintf(name, sizeof(name), "t%d-%d", w->id, i);
		ret = lease_create(w->d, name);
		if (!ret)
			ret = lease_remove(w->d, name);
		if (ret && !w->errors++)
			w->first_err = ret;
	}
	return NULL;
}

static void expect_empty(const struct gl_daemon *d)
{
	EXPECT_EQ(dev_read_u64(d, 0, "vram.used"), 0);
	EXPECT_EQ(dev_read_u64(d, 0, "leases"), 0);
	EXPECT_EQ(gl_count_leases(d), 0);
}

TEST_F(conc, unique_names)
{
	struct worker w[NTHREADS];
	int i;

	memset(w, 0, sizeof(w));
	for (i = 0; i < NTHREADS; i++) {
		w[i].d = &self->d;
		w[i].id = i;
		ASSERT_EQ(pthread_create(&w[i].thread, NULL, unique_worker,
					 &w[i]), 0);
	}
	for (i = 0; i < NTHREADS; i++) {
		pthread_join(w[i].thread, NULL);
		EXPECT_EQ(w[i].errors, 0)
			TH_LOG("thread %d: first error %d", i, w[i].first_err);
	}
	expect_empty(&self->d);
}

static void *race_worker(void *arg)
{
	struct worker *w = arg;
	char name[32];
	int i;

	for (i = 0; i < RACES; i++) {
		snprintf(name, sizeof(name), "race-%d", i);
		pthread_barrier_wait(w->barrier);
		w->create_ok[i] = lease_create(w->d, name);
		pthread_barrier_wait(w->barrier);
		w->remove_ok[i] = lease_remove(w->d, name);
	}
	return NULL;
}

TEST_F(conc, same_name_one_winner)
{
	struct worker w[NTHREADS];
	pthread_barrier_t barrier;
	int i, r, created, removed;

	memset(w, 0, sizeof(w));
	ASSERT_EQ(pthread_barrier_init(&barrier, NULL, NTHREADS), 0);
	for (i = 0; i < NTHREADS; i++) {
		w[i].d = &self->d;
		w[i].barrier = &barrier;
		ASSERT_EQ(pthread_create(&w[i].thread, NULL, race_worker,
					 &w[i]), 0);
	}
	for (i = 0; i < NTHREADS; i++)
		pthread_join(w[i].thread, NULL);
	pthread_barrier_destroy(&barrier);
	for (r = 0; r < RACES; r++) {
		created = removed = 0;
		for (i = 0; i < NTHREADS; i++) {
			if (!w[i].create_ok[r])
				created++;
			else
				EXPECT_EQ(w[i].create_ok[r], -EEXIST);
			if (!w[i].remove_ok[r])
				removed++;
			else
				EXPECT_EQ(w[i].remove_ok[r], -ENOENT);
		}
		EXPECT_EQ(created, 1) TH_LOG("round %d", r);
		EXPECT_EQ(removed, 1) TH_LOG("round %d", r);
	}
	expect_empty(&self->d);
}

static void *resize_worker(void *arg)
{
	struct worker *w = arg;
	unsigned long long seed = 1234 + w->id;
	char name[32];
	long long size;
	int i, ret;

	snprintf(name, sizeof(name), "rs%d", w->id);
	for (i = 0; i < ROUNDS; i++) {
		size = (long long)(gl_rand(&seed) % (8 * MiB + 1));
		ret = lease_write(w->d, name, "ctl", "vram %lld\n", size);
		if (ret == -ENOSPC)
			w->enospc++;
		else if (ret && !w->errors++)
			w->first_err = ret;
	}
	return NULL;
}

TEST_F(conc, resizes_never_overcommit)
{
	struct gl_daemon *d = &self->d;
	struct worker w[NTHREADS];
	long long sum = 0, v, cap;
	char name[32];
	int i;

	cap = dev_read_u64(d, 0, "vram.capacity");
	memset(w, 0, sizeof(w));
	for (i = 0; i < NTHREADS; i++) {
		snprintf(name, sizeof(name), "rs%d", i);
		ASSERT_EQ(lease_create(d, name), 0);
		w[i].d = d;
		w[i].id = i;
		ASSERT_EQ(pthread_create(&w[i].thread, NULL, resize_worker,
					 &w[i]), 0);
	}
	for (i = 0; i < NTHREADS; i++) {
		pthread_join(w[i].thread, NULL);
		EXPECT_EQ(w[i].errors, 0)
			TH_LOG("thread %d: first error %d", i, w[i].first_err);
	}
	for (i = 0; i < NTHREADS; i++) {
		snprintf(name, sizeof(name), "rs%d", i);
		ASSERT_EQ(lease_read_key(d, name, "vram", &v), 0);
		sum += v;
	}
	EXPECT_LE(sum, cap);
	EXPECT_EQ(dev_read_u64(d, 0, "vram.used"), sum);
	EXPECT_EQ(dev_read_u64(d, 0, "vram.free"), cap - sum);
	for (i = 0; i < NTHREADS; i++) {
		snprintf(name, sizeof(name), "rs%d", i);
		EXPECT_EQ(lease_remove(d, name), 0);
	}
	expect_empty(d);
}

TEST_HARNESS_MAIN
