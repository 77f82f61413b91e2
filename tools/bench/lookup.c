/* SPDX-License-Identifier: MIT */
/*
 * lookup: lease lookups by name from 1, 2, 4 and 8 threads, through the
 * daemon's own lease table (lease_lookup() and lease_put() on a broker
 * set up in this process, no FUSE) against the same lookups in a hash
 * table guarded by one pthread mutex, measured in the same run.
 *
 * Both sides do the same work per lookup: hash the name (FNV-1a), walk a
 * bucket, compare names, take a reference on the very same struct lease
 * and put it. The only difference is how the reader is kept safe: an
 * urcu-bp read-side section in lease_lookup(), the mutex in the baseline.
 *
 * "Takes no lock" is counted, not assumed: the link wraps
 * pthread_mutex_lock/trylock and pthread_rwlock_rdlock/wrlock
 * (-Wl,--wrap), so every lock the daemon's code or this file takes is
 * counted per thread; each thread reports the locks it took inside its
 * timed loop. liburcu's own code is a shared library the wrap cannot
 * see; cds_lfht_lookup and urcu-bp's read lock take none once a thread
 * is registered, which the untimed warm-up does.
 *
 * Invariant: for each thread count the two tables run in alternating
 * rounds, so machine noise falls on both alike; the figure is the median
 * round. Thread i runs on CPU i mod the online count, so two threads use
 * two CPUs and more than that oversubscribe them. Everything allocated is
 * freed on every path.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon/broker.h"
#include "daemon/lease.h"
#include "bench.h"
#include "spawn.h"
#include "stats.h"

#define BENCH_LEASES		256
#define BENCH_ROUNDS		5
#define BENCH_ROUND_MS		200
#define BENCH_WARMUP		10000	/* untimed lookups per thread */
#define BENCH_CHECK_EVERY	64	/* lookups between stop checks */
#define BENCH_MAX_THREADS	8

static const int bench_threads[] = { 1, 2, 4, 8 };
#define BENCH_NCOUNTS	(sizeof(bench_threads) / sizeof(bench_threads[0]))

enum bench_table { T_RCU, T_MUTEX, T_COUNT };

/* Locks taken by this thread through the wrapped calls (see the top). */
static __thread unsigned long bench_locks;

/* __wrap_F: count one lock, then take it with the real F. */
#define BENCH_WRAP(f, type)						\
	int __real_##f(type *lock);					\
	int __wrap_##f(type *lock);					\
	int __wrap_##f(type *lock)					\
	{								\
		bench_locks++;						\
		return __real_##f(lock);				\
	}

BENCH_WRAP(pthread_mutex_lock, pthread_mutex_t)
BENCH_WRAP(pthread_mutex_trylock, pthread_mutex_t)
BENCH_WRAP(pthread_rwlock_rdlock, pthread_rwlock_t)
BENCH_WRAP(pthread_rwlock_wrlock, pthread_rwlock_t)

/* The baseline: chained buckets of the same leases, one mutex. */
struct mtx_entry {
	struct mtx_entry *next;
	struct lease *l;		/* the table's reference */
};

struct mtx_table {
	pthread_mutex_t lock;		/* guards every bucket; static init */
	struct mtx_entry **bucket;
	size_t mask;			/* buckets - 1, a power of two */
	struct mtx_entry *entries;	/* one allocation, @n of them */
};

/* What one round measured. */
struct round {
	double rate;			/* lookups per second of wall time */
	double per_cpu;			/* lookups per second of CPU time */
	double locks;			/* locks taken per lookup */
};

struct bench {
	/* options */
	long leases, rounds, round_ms;
	int ncpus;			/* online; thread i on CPU i mod it */

	/* run state */
	struct broker b;
	bool broker_up;
	char (*names)[GL_NAME_MAX + 1];
	struct lease **held;		/* one reference per lease, or NULL */
	struct mtx_table mt;
	/* per thread count and table: medians, and the most locks seen */
	struct round res[BENCH_NCOUNTS][T_COUNT];
	double samples[T_COUNT][2][64];	/* one thread count's rounds */
};

/* One round of one table on one thread. */
struct worker {
	struct bench *b;
	enum bench_table t;
	unsigned seed;
	int cpu;			/* pinned: thread i on CPU i mod N */
	atomic_bool *go, *stop;
	unsigned long lookups, locks, missing;
	uint64_t cpu_ns;		/* this thread's CPU time, timed loop */
	pthread_t tid;
};

static unsigned long name_hash(const char *name)
{
	uint64_t h = 0xcbf29ce484222325ull;	/* FNV-1a, as lease.c */

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 0x100000001b3ull;
	return (unsigned long)h;
}

static struct lease *mtx_lookup(struct mtx_table *mt, const char *name)
{
	unsigned long h = name_hash(name);	/* outside the lock */
	struct mtx_entry *e;
	struct lease *l = NULL;

	pthread_mutex_lock(&mt->lock);
	for (e = mt->bucket[h & mt->mask]; e; e = e->next) {
		if (!strcmp(e->l->name, name)) {
			l = e->l;
			lease_get(l);	/* the table holds one: never zero */
			break;
		}
	}
	pthread_mutex_unlock(&mt->lock);
	return l;
}

static int mtx_init(struct mtx_table *mt, struct lease **held, size_t n)
{
	size_t i, size = 1;
	struct mtx_entry *e;
	while (size < n)
		size <<= 1;
	mt->mask = size - 1;
	mt->bucket = calloc(size, sizeof(*mt->bucket));
	mt->entries = calloc(n, sizeof(*mt->entries));
	if (!mt->bucket || !mt->entries)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		e = &mt->entries[i];
		e->l = held[i];
		e->next = mt->bucket[name_hash(e->l->name) & mt->mask];
		mt->bucket[name_hash(e->l->name) & mt->mask] = e;
	}
	return 0;
}

/* xorshift32: a name index per lookup, the same stream on both tables */
static unsigned next_index(unsigned *s, long n)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s % (unsigned)n;
}

static struct lease *lookup_one(struct worker *w, const char *name)
{
	if (w->t == T_RCU)
		return lease_lookup(&w->b->b.leases, name);
	return mtx_lookup(&w->b->mt, name);
}

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct bench *b = w->b;
	/* locals only in the loop: workers sit side by side in an array */
	unsigned long n = 0, missing = 0, locks0;
	unsigned seed = w->seed;
	cpu_set_t cpus;
	uint64_t cpu0;
	struct lease *l;
	int i;

	CPU_ZERO(&cpus);
	CPU_SET(w->cpu, &cpus);
	pthread_setaffinity_np(pthread_self(), sizeof(cpus), &cpus);
	for (i = 0; i < BENCH_WARMUP; i++) {
		l = lookup_one(w, b->names[next_index(&seed, b->leases)]);
		if (l)
			lease_put(l);
	}
	while (!atomic_load(w->go))
		sched_yield();
	locks0 = bench_locks;
	cpu0 = thread_cpu_ns();
	while (!atomic_load_explicit(w->stop, memory_order_relaxed)) {
		for (i = 0; i < BENCH_CHECK_EVERY; i++) {
			l = lookup_one(w, b->names[next_index(&seed,
							      b->leases)]);
			if (!l) {
				missing++;
				continue;
			}
			lease_put(l);
		}
		n += BENCH_CHECK_EVERY;
	}
	w->cpu_ns = thread_cpu_ns() - cpu0;
	w->locks = bench_locks - locks0;
	w->lookups = n;
	w->missing = missing;
	return NULL;
}

/* One timed round of @t on @n threads into @out. Returns 0 or -errno. */
static int bench_round(struct bench *b, enum bench_table t, int n,
		       struct round *out)
{
	struct worker w[BENCH_MAX_THREADS];
	struct timespec pause = {
		.tv_sec = b->round_ms / 1000,
		.tv_nsec = b->round_ms % 1000 * 1000000,
	};
	atomic_bool go = false, stop = false;
	unsigned long total = 0, nlocks = 0, missing = 0;
	uint64_t t0, t1, cpu = 0;
	int i, started, err = 0;

	for (started = 0; started < n; started++) {
		w[started] = (struct worker){
			.b = b, .t = t, .go = &go, .stop = &stop,
			.seed = 2463534242u + 7919u * (unsigned)started,
			.cpu = started % b->ncpus,
		};
		err = -pthread_create(&w[started].tid, NULL, worker_main,
				      &w[started]);
		if (err)
			break;
	}
	if (err)
		atomic_store(&stop, true);
	t0 = stats_now_ns();
	atomic_store(&go, true);
	if (!err)
		nanosleep(&pause, NULL);
	atomic_store(&stop, true);
	for (i = 0; i < started; i++)
		pthread_join(w[i].tid, NULL);
	t1 = stats_now_ns();
	if (err)
		return err;
	for (i = 0; i < n; i++) {
		total += w[i].lookups;
		nlocks += w[i].locks;
		missing += w[i].missing;
		cpu += w[i].cpu_ns;
	}
	if (missing || !total) {
		fprintf(stderr, "lookup: %lu of %lu lookups found nothing\n",
			missing, total);
		return -EIO;
	}
	out->rate = (double)total * 1e9 / (double)(t1 - t0);
	out->per_cpu = (double)total * 1e9 / (double)(cpu ? cpu : 1);
	out->locks = (double)nlocks / (double)total;
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The median of @n values, sorted in place. */
static double median_of(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return v[n / 2];
}

static int bench_run(struct bench *b)
{
	struct round r;
	size_t c;
	long i;
	int t, err;

	for (c = 0; c < BENCH_NCOUNTS; c++) {
		for (t = 0; t < T_COUNT; t++)
			b->res[c][t].locks = 0;
		for (i = 0; i < b->rounds; i++) {
			for (t = 0; t < T_COUNT; t++) {
				err = bench_round(b, (enum bench_table)t,
						  bench_threads[c], &r);
				if (err)
					return err;
				b->samples[t][0][i] = r.rate;
				b->samples[t][1][i] = r.per_cpu;
				if (r.locks > b->res[c][t].locks)
					b->res[c][t].locks = r.locks;
			}
		}
		for (t = 0; t < T_COUNT; t++) {
			b->res[c][t].rate = median_of(b->samples[t][0],
						      (size_t)b->rounds);
			b->res[c][t].per_cpu = median_of(b->samples[t][1],
							 (size_t)b->rounds);
		}
	}
	return 0;
}

static void bench_print(const struct bench *b)
{
	const struct round *one = b->res[0];
	const struct round *r;
	size_t c;

	printf("lease lookups: %ld leases, median of %ld rounds of %ld ms, "
	       "thread i pinned to CPU i mod %d\n", b->leases, b->rounds,
	       b->round_ms, b->ncpus);
	printf("rcu = lease_lookup() + lease_put() on the daemon's table;\n"
	       "mutex = the same lookups in a hash table under one "
	       "pthread_mutex.\nM/s = million lookups per second, all "
	       "threads; xN = over one thread;\nM/cpu-s = per second of "
	       "CPU time the threads used; locks = per lookup.\n\n");
	printf("threads | %7s %5s %7s %5s | %7s %5s %7s %5s | rcu/mutex\n",
	       "rcu M/s", "xN", "M/cpu-s", "locks",
	       "mtx M/s", "xN", "M/cpu-s", "locks");
	for (c = 0; c < BENCH_NCOUNTS; c++) {
		r = b->res[c];
		printf("%7d | %7.2f %5.2f %7.2f %5.2f | %7.2f %5.2f %7.2f "
		       "%5.2f | %9.2f\n", bench_threads[c],
		       r[T_RCU].rate / 1e6, r[T_RCU].rate / one[T_RCU].rate,
		       r[T_RCU].per_cpu / 1e6, r[T_RCU].locks,
		       r[T_MUTEX].rate / 1e6,
		       r[T_MUTEX].rate / one[T_MUTEX].rate,
		       r[T_MUTEX].per_cpu / 1e6, r[T_MUTEX].locks,
		       r[T_RCU].rate / r[T_MUTEX].rate);
	}
}

static int bench_setup(struct bench *b)
{
	struct broker_config cfg = {
		.cpu_vram = 1 << 20,
		.default_ttl = 3600,
		.max_ttl = 86400,
		.executors = 1,
		.cpu_only = true,
	};
	struct lease_req req = { .ttl = 3600 };
	long i;
	int err;

	b->ncpus = (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (b->ncpus < 1 || b->ncpus > CPU_SETSIZE)
		b->ncpus = 1;
	b->names = calloc((size_t)b->leases, sizeof(*b->names));
	b->held = calloc((size_t)b->leases, sizeof(*b->held));
	if (!b->names || !b->held)
		return -ENOMEM;
	err = broker_init(&b->b, &cfg);
	if (err)
		return err;
	b->broker_up = true;
	for (i = 0; i < b->leases; i++) {
		snprintf(b->names[i], sizeof(b->names[i]), "bench-lookup-%ld",
			 i);
		req.name = b->names[i];
		err = lease_acquire(&b->b.leases, &req, &b->held[i]);
		if (err)
			return err;
	}
	return mtx_init(&b->mt, b->held, (size_t)b->leases);
}

static void bench_teardown(struct bench *b)
{
	long i;

	free(b->mt.bucket);
	free(b->mt.entries);
	for (i = 0; b->held && i < b->leases; i++)
		if (b->held[i])
			lease_put(b->held[i]);
	if (b->broker_up)
		broker_destroy(&b->b);
	free(b->held);
	free(b->names);
}

static void bench_usage(FILE *f)
{
	fprintf(f,
"usage: lookup [options]\n"
"\n"
"Looks leases up by name from 1, 2, 4 and 8 threads in the daemon's RCU\n"
"lease table (a broker in this process, no FUSE, no root needed) and in\n"
"a hash table under one pthread mutex, in alternating rounds; prints\n"
"lookups/s, the scaling over one thread, the locks taken per lookup and\n"
"the ratio rcu/mutex.\n"
"\n"
"  -l, --leases N       leases in the table (default %d)\n"
"  -r, --rounds N       rounds per table and thread count, the median is\n"
"                       reported (default %d, at most 64)\n"
"  -t, --round-ms MS    length of one round (default %d)\n"
"  -h, --help           this text\n",
		BENCH_LEASES, BENCH_ROUNDS, BENCH_ROUND_MS);
}

static int bench_parse(struct bench *b, int argc, char **argv)
{
	const struct bench_opt opts[] = {
		{ "leases", 'l', BENCH_OPT_LONG, &b->leases, 1, 100000,
		  BENCH_LEASES },
		{ "rounds", 'r', BENCH_OPT_LONG, &b->rounds, 1, 64,
		  BENCH_ROUNDS },
		{ "round-ms", 't', BENCH_OPT_LONG, &b->round_ms, 1, 60000,
		  BENCH_ROUND_MS },
		{ NULL },
	};
	const struct bench_cli cli = {
		.prog = "lookup", .usage = bench_usage, .opts = opts,
	};

	return bench_cli_parse(&cli, argc, argv);
}

int main(int argc, char **argv)
{
	static struct bench b = {
		.mt.lock = PTHREAD_MUTEX_INITIALIZER,
	};
	int err;

	err = bench_parse(&b, argc, argv);
	if (err)
		return 2;
	err = bench_setup(&b);
	if (!err)
		err = bench_run(&b);
	if (!err)
		bench_print(&b);
	bench_teardown(&b);
	if (err) {
		fprintf(stderr, "lookup: %s\n", strerror(-err));
		return 1;
	}
	return 0;
}
