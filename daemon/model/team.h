/* SPDX-License-Identifier: MIT */
/*
 * team: a model's compute threads (threads=N at load). A step hands one
 * job at a time to all of them; the calling thread runs part 0, the
 * N - 1 workers parts 1 to N - 1, and the call returns when every part
 * has. Not daemon/dev/pool.c: that pool's hand-off (a condition variable,
 * tens of microseconds when a worker sleeps) is made for launches of
 * 2^16 elements and more, while a step hands out some 25 jobs of a few
 * microseconds to a millisecond per token; a team spins briefly before
 * it sleeps. Documentation/models.md, "Threads".
 */
#ifndef GL_MODEL_TEAM_H
#define GL_MODEL_TEAM_H

#include <stdint.h>

struct team;

/* A job's part: 0 or a negative errno. */
typedef int (*team_fn)(void *arg, unsigned int part, unsigned int parts);

/*
 * team_new - start @threads - 1 workers (@threads in [2, 64]). Returns
 * 0 with *@out set, -EINVAL, -ENOMEM or -EAGAIN (no thread); nothing is
 * left behind on failure.
 */
int team_new(unsigned int threads, struct team **out);

/* team_free - stop and join the workers, free @t (NULL is fine). Not
 * while a team_run() on @t is in progress. */
void team_free(struct team *t);

/* team_threads - the parts a job is split into: 1 for a NULL team. */
unsigned int team_threads(const struct team *t);

/*
 * team_span - the share [*lo, *hi) of @n columns that part @part of
 * @parts takes: contiguous, cut at multiples of 16 (a cache line of
 * floats) so two parts never write one line; empty for some parts when
 * @n is small.
 */
void team_span(uint64_t n, unsigned int part, unsigned int parts,
	       uint64_t *lo, uint64_t *hi);

/*
 * team_run - run @fn(@arg, part, parts) for every part, part 0 on the
 * calling thread, and wait for all. A NULL @t runs @fn(@arg, 0, 1).
 * Returns 0 or the lowest-numbered part's error. One caller at a time.
 */
int team_run(struct team *t, team_fn fn, void *arg);

#endif
