/* SPDX-License-Identifier: MIT */
/*
 * bench: the command line and the start of main() every benchmark shares
 * (bench.h). Invariant: every option a bench takes is parsed here, so
 * each reports a bad value, an unknown option and an extra argument the
 * same way, and exits 2 for them.
 */
#include <assert.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "tools/bench/bench.h"

#define BENCH_OPTS_MAX	32

/* Take @arg for @o. 0 or -EINVAL. */
static int bench_opt_set(const struct bench_opt *o, const char *arg)
{
	char *end;
	double d;

	switch (o->type) {
	case BENCH_OPT_LONG:
		if (spawn_parse_long(arg, o->min, o->val) ||
		    (o->max && *(long *)o->val > o->max))
			return -EINVAL;
		return 0;
	case BENCH_OPT_FLAG:
		*(bool *)o->val = true;
		return 0;
	case BENCH_OPT_STR:
		if (strlen(arg) > (size_t)o->max)
			return -EINVAL;
		*(const char **)o->val = arg;
		return 0;
	case BENCH_OPT_REAL:
		d = strtod(arg, &end);
		if (end == arg || *end || !(d >= 0))
			return -EINVAL;
		*(double *)o->val = d;
		return 0;
	}
	return -EINVAL;
}

/* Append one getopt_long entry (and its short letter) to the tables. */
static void bench_add(struct option *lo, size_t *n, char *so, const char *name,
		      bool arg, int key, int val)
{
	assert(*n < BENCH_OPTS_MAX);
	lo[*n] = (struct option){ name, arg ? required_argument : no_argument,
				  NULL, val };
	(*n)++;
	if (key > 0 && key < 128) {
		size_t l = strlen(so);

		so[l++] = (char)key;
		if (arg)
			so[l++] = ':';
		so[l] = '\0';
	}
}

int bench_cli_parse(const struct bench_cli *cli, int argc, char **argv)
{
	struct option lo[BENCH_OPTS_MAX + 1];
	char so[2 * BENCH_OPTS_MAX + 1] = "h";
	const struct bench_opt *o;
	size_t n = 0, i;
	int c, err;

	if (cli->count_name) {
		*cli->common.count = cli->defaults[0];
		*cli->common.round = cli->defaults[1];
		*cli->common.warmup = cli->defaults[2];
		spawn_common_defaults(&cli->common);
		if (cli->unpinned)
			*cli->common.cpu = -1;
		bench_add(lo, &n, so, cli->count_name, true, 'n', 'n');
		bench_add(lo, &n, so, cli->round_name ? cli->round_name :
				      "round", true, 'r', 'r');
		bench_add(lo, &n, so, "warmup", true, 'w', 'w');
		bench_add(lo, &n, so, "daemon", true, 0, SPAWN_OPT_DAEMON);
		bench_add(lo, &n, so, "cpu", true, 0, SPAWN_OPT_CPU);
		if (cli->pin)
			bench_add(lo, &n, so, "no-pin", false, 0,
				  SPAWN_OPT_NO_PIN);
	}
	/* a bench's own option is found by its index: val 0x2000 + i */
	for (o = cli->opts, i = 0; o && o->name; o++, i++) {
		if (o->type == BENCH_OPT_LONG)
			*(long *)o->val = o->def;
		bench_add(lo, &n, so, o->name, o->type != BENCH_OPT_FLAG,
			  o->key, o->key ? o->key : 0x2000 + (int)i);
	}
	bench_add(lo, &n, so, "help", false, 'h', 'h');
	lo[n] = (struct option){ NULL, 0, NULL, 0 };

	optind = 1;
	while ((c = getopt_long(argc, argv, so, lo, NULL)) != -1) {
		if (c == 'h') {
			cli->usage(stdout);
			exit(0);
		}
		err = cli->count_name ?
			spawn_common_opt(&cli->common, c, optarg) : 0;
		if (err > 0)
			continue;
		for (o = cli->opts, i = 0; !err && o && o->name; o++, i++)
			if (c == (o->key ? o->key : 0x2000 + (int)i))
				break;
		if (!err && (!o || !o->name)) {
			cli->usage(stderr);
			return 2;
		}
		if (err || bench_opt_set(o, optarg)) {
			fprintf(stderr, "%s: bad value '%s' (see --help)\n",
				cli->prog, optarg);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", cli->prog,
			argv[optind]);
		cli->usage(stderr);
		return 2;
	}
	return 0;
}

void *bench_new(size_t size, const char *prog,
		int (*parse)(void *state, int argc, char **argv),
		int argc, char **argv, int *status)
{
	void *b = calloc(1, size);

	if (!b) {
		perror(prog);
		*status = 1;
		return NULL;
	}
	*status = parse(b, argc, argv);
	if (*status) {
		free(b);
		return NULL;
	}
	spawn_signals();
	return b;
}

int bench_done(void *b, int cleanup_err, int status)
{
	free(b);
	return cleanup_err ? 1 : status;
}

int bench_failed(const char *prog, int err)
{
	if (err == -EINTR)
		fprintf(stderr, "%s: interrupted by signal %d\n", prog,
			(int)spawn_stop);
	else if (err)
		fprintf(stderr, "%s: %s\n", prog, strerror(-err));
	return err ? 1 : 0;
}
