/* SPDX-License-Identifier: MIT */
/*
 * bench: the command line and the start of main() that every benchmark
 * shares. A bench describes its options in a table (the shared -n, -r,
 * -w, --daemon, --cpu, --no-pin come from struct spawn_common) and gets
 * one parser, one set of messages and one exit status convention: 0 run,
 * 1 failed, 2 bad command line.
 */
#ifndef GL_BENCH_BENCH_H
#define GL_BENCH_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "tools/bench/spawn.h"

enum bench_opt_type {
	BENCH_OPT_LONG,		/* a decimal in [min, max] into long *val */
	BENCH_OPT_FLAG,		/* no argument: bool *val = true */
	BENCH_OPT_STR,		/* const char **val, at most max chars */
	BENCH_OPT_REAL,		/* a decimal >= 0 into double *val */
};

/* One option of a bench's own. A table ends with a NULL name. */
struct bench_opt {
	const char *name;	/* --name */
	int key;		/* -key, or 0: only the long name */
	enum bench_opt_type type;
	void *val;
	long min, max;		/* LONG: bounds (max 0: none); STR: max */
	long def;		/* LONG: the default, set before parsing */
};

/* The shared options' places in a bench's state @b: the fields @n (-n,
 * at most @max, 0: no bound) and @r (-r), and warmup, cpu and daemon[]. */
#define BENCH_COMMON(b, n, max, r) {					\
	.count = &(b)->n, .count_max = (max), .round = &(b)->r,		\
	.warmup = &(b)->warmup,						\
	.cpu = &(b)->cpu, .daemon = (b)->daemon,			\
	.daemon_size = sizeof((b)->daemon),				\
}

struct bench_cli {
	const char *prog;	/* the bench's name, first in messages */
	void (*usage)(FILE *f);
	/*
	 * The shared options: -n (long name @count_name), -r (@round_name,
	 * default "round"), -w (warmup), --daemon, --cpu and, with @pin,
	 * --no-pin. @count_name NULL: none of them.
	 */
	const char *count_name;
	long defaults[3];	/* of -n, -r and -w */
	const char *round_name;
	bool pin;
	bool unpinned;		/* --cpu's default: not pinned (-1), not
				 * the last CPU */
	struct spawn_common common;
	const struct bench_opt *opts;	/* may be NULL */
};

/*
 * bench_cli_parse() - parse @argv by @cli, after setting every default
 * (the table's, @cli->defaults, --cpu's and --daemon's). -h prints
 * the usage and exits 0. Returns 0, or 2 after a message and the usage
 * on stderr (a bad value, an unknown option or an extra argument).
 */
int bench_cli_parse(const struct bench_cli *cli, int argc, char **argv);

/*
 * bench_new() - the state of a bench: @size zeroed bytes, its command
 * line parsed by @parse(state, argc, argv) (0, or an exit status), and
 * SIGINT, SIGTERM, SIGHUP turned into spawn_stop. Returns the state, or
 * NULL with *@status the exit status main should return (1: no memory,
 * reported; 2: bad command line).
 */
void *bench_new(size_t size, const char *prog,
		int (*parse)(void *state, int argc, char **argv),
		int argc, char **argv, int *status);

/*
 * bench_done() - free the state @b of a bench whose cleanup returned
 * @cleanup_err (0 or -errno). Returns the exit status: 1 when the
 * cleanup failed, else @status.
 */
int bench_done(void *b, int cleanup_err, int status);

/*
 * bench_failed() - report the end of a run that returned @err (0 or
 * -errno; -EINTR: a signal stopped it). Returns 0 for 0, else 1: the
 * exit status.
 */
int bench_failed(const char *prog, int err);

#endif /* GL_BENCH_BENCH_H */
