/* SPDX-License-Identifier: MIT */
/*
 * team: a model's compute threads (team.h). Workers wait for a new
 * generation number, spinning briefly and then sleeping on a futex; the
 * caller waits for the count of unfinished parts the same way.
 *
 * Invariant: a job's fields are written before the generation is bumped
 * (release) and read after it is seen (acquire); a worker touches a job
 * only between seeing its generation and decrementing @left, and the
 * caller returns only once @left is 0, so a job never outlives its call.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "daemon/model/team.h"

#define TEAM_MAX	64u
/* Looks at a word before sleeping on it: 20000 pauses took 0.42 ms on
 * the machine of Documentation/performance.md (a pause's length varies
 * by CPU); longer than the gaps between a step's jobs, short enough that
 * an idle model's threads are asleep within a millisecond. */
#define TEAM_SPIN	20000

struct team_worker {
	struct team *team;
	unsigned int part;
	pthread_t thread;
};

struct team {
	unsigned int threads;
	_Atomic uint32_t gen;		/* bumped per job and at stop */
	_Atomic uint32_t left;		/* workers still on this job */
	_Atomic bool stop;
	team_fn fn;			/* the job; written before gen */
	void *arg;
	int err[TEAM_MAX];		/* per part, this job's */
	struct team_worker w[];		/* threads - 1 */
};

static void futex_wait(_Atomic uint32_t *w, uint32_t v)
{
	syscall(SYS_futex, w, FUTEX_WAIT_PRIVATE, v, NULL, NULL, 0);
}

static void futex_wake(_Atomic uint32_t *w)
{
	syscall(SYS_futex, w, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/* wait_change - until *@w is no longer @v; its new value */
static uint32_t wait_change(_Atomic uint32_t *w, uint32_t v)
{
	uint32_t now;
	int i;

	for (;;) {
		for (i = 0; i < TEAM_SPIN; i++) {
			now = atomic_load_explicit(w, memory_order_acquire);
			if (now != v)
				return now;
			cpu_relax();
		}
		futex_wait(w, v);
	}
}

static void *team_main(void *arg)
{
	struct team_worker *me = arg;
	struct team *t = me->team;
	uint32_t seen = 0;

	for (;;) {
		seen = wait_change(&t->gen, seen);
		if (atomic_load(&t->stop))
			return NULL;
		t->err[me->part] = t->fn(t->arg, me->part, t->threads);
		if (atomic_fetch_sub_explicit(&t->left, 1,
					      memory_order_acq_rel) == 1)
			futex_wake(&t->left);
	}
}

/* stop and join the first @n workers */
static void team_stop(struct team *t, unsigned int n)
{
	unsigned int i;

	atomic_store(&t->stop, true);
	atomic_fetch_add_explicit(&t->gen, 1, memory_order_release);
	futex_wake(&t->gen);
	for (i = 0; i < n; i++)
		pthread_join(t->w[i].thread, NULL);
}

int team_new(unsigned int threads, struct team **out)
{
	struct team *t;
	unsigned int i;
	int err;

	*out = NULL;
	if (threads < 2 || threads > TEAM_MAX)
		return -EINVAL;
	t = calloc(1, sizeof(*t) + (threads - 1) * sizeof(t->w[0]));
	if (!t)
		return -ENOMEM;
	t->threads = threads;
	for (i = 0; i + 1 < threads; i++) {
		t->w[i].team = t;
		t->w[i].part = i + 1;
		err = pthread_create(&t->w[i].thread, NULL, team_main,
				     &t->w[i]);
		if (err) {
			team_stop(t, i);
			free(t);
			return -err;
		}
	}
	*out = t;
	return 0;
}

void team_free(struct team *t)
{
	if (!t)
		return;
	team_stop(t, t->threads - 1);
	free(t);
}

unsigned int team_threads(const struct team *t)
{
	return t ? t->threads : 1;
}

int team_run(struct team *t, team_fn fn, void *arg)
{
	uint32_t left;
	unsigned int i;
	int err;

	if (!t)
		return fn(arg, 0, 1);
	t->fn = fn;
	t->arg = arg;
	atomic_store_explicit(&t->left, t->threads - 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&t->gen, 1, memory_order_release);
	futex_wake(&t->gen);
	err = fn(arg, 0, t->threads);
	while ((left = atomic_load_explicit(&t->left,
					    memory_order_acquire)))
		wait_change(&t->left, left);
	for (i = 1; !err && i < t->threads; i++)
		err = t->err[i];
	return err;
}

void team_span(uint64_t n, unsigned int part, unsigned int parts,
	       uint64_t *lo, uint64_t *hi)
{
	uint64_t lines = (n + 15) / 16;

	*lo = lines * part / parts * 16;
	*hi = lines * (part + 1) / parts * 16;
	*lo = *lo < n ? *lo : n;
	*hi = *hi < n ? *hi : n;
}
