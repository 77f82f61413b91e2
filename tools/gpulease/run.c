/* SPDX-License-Identifier: MIT */
/*
 * gpulease run: submit launch descriptors to a lease, one at a time, and
 * print how each ended. The descriptors come from the command line or,
 * when there are none, one per line from standard input.
 *
 * Invariant: descriptors run in order and each is waited for; one that
 * fails does not stop the rest, unless the lease itself is gone.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tools/gpulease/cli.h"

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/*
 * Run one descriptor. Returns 0, 1 when it failed, or -errno when the
 * lease is gone and nothing more can run.
 */
static int run_one(struct cli *c, const char *name, const char *desc)
{
	struct gl_lease_info info;
	double t0, dt;
	int err;

	t0 = now_us();
	err = gl_submit_text(c->g, name, desc);
	dt = now_us() - t0;
	if (!err) {
		if (dt < 1000)
			printf("ok %7.1fus  %s\n", dt, desc);
		else
			printf("ok %7.1fms  %s\n", dt / 1000, desc);
		fflush(stdout);
		return 0;
	}
	if (err == -EKEYEXPIRED || err == -ENOENT || err == -ENOTCONN ||
	    err == -EACCES)
		return err;
	fflush(stdout);
	if (!gl_lease_info(c->g, name, &info) &&
	    strcmp(info.last_error, "-"))
		fprintf(stderr, "gpulease: lease %s: '%s': %s (%s)\n", name,
			desc, gl_strerror(err), info.last_error);
	else
		fprintf(stderr, "gpulease: lease %s: '%s': %s\n", name, desc,
			gl_strerror(err));
	return 1;
}

static int run_run(struct cli *c, const struct cli_cmd *cmd, int argc,
		   char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	const char *name;
	int o, i, err = 0, st = EXIT_OK;

	/* '+': "--" or the first descriptor ends the options */
	while ((o = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
		if (o == 'h')
			return cli_help(cmd);
		return cli_bad_opt(cmd, o, argv);
	}
	if (optind == argc)
		return cli_usage(cmd, "expected a lease NAME");
	name = argv[optind++];
	if (optind < argc && !strcmp(argv[optind], "--"))
		optind++;
	if (gl_name_valid(name))
		return cli_usage(cmd, "'%s' is not a lease name", name);
	if (cli_open(c))
		return EXIT_FAIL;
	if (optind < argc) {
		for (i = optind; i < argc && err >= 0; i++) {
			err = run_one(c, name, argv[i]);
			if (err)
				st = EXIT_FAIL;
		}
	} else {
		while (err >= 0 && (len = getline(&line, &cap, stdin)) >= 0) {
			while (len && (line[len - 1] == '\n' ||
				       line[len - 1] == '\r'))
				line[--len] = '\0';
			if (!len || line[0] == '#')
				continue;
			err = run_one(c, name, line);
			if (err)
				st = EXIT_FAIL;
		}
		free(line);
	}
	if (err < 0)
		cli_err(c, name, err);
	return st;
}

const struct cli_cmd cli_cmd_run = {
	.name = "run",
	.args = "NAME [--] [DESCRIPTOR...]",
	.summary = "run kernel launches on a lease",
	.run = run_run,
	.help =
	"Submit each DESCRIPTOR to lease NAME through its submit file, in\n"
	"order, waiting for each; with none, read them from standard input,\n"
	"one per line (empty lines and lines starting with # are skipped).\n"
	"A descriptor is one text launch line, quoted as one argument:\n"
	"\n"
	"  KERNEL grid=X block=X [timeout_ms=N] ARG...\n"
	"  ARG: u32:N i32:N u64:N f32:X f64:X buf:OFFSET:LEN io:OFFSET:LEN\n"
	"\n"
	"e.g. gpulease run m1 -- 'noop grid=1' \\\n"
	"       'saxpy grid=1 block=256 u32:4 f32:2 buf:0:16 buf:16:16'\n"
	"\n"
	"Each launch prints 'ok TIME DESCRIPTOR' on standard output, or its\n"
	"error on standard error; the rest still run, unless the lease has\n"
	"expired or is gone. Exit status 1 if any failed. The signatures of\n"
	"the kernels are in the tree's kernels/ directory.\n"
	"\n"
	"  -h, --help   show this help\n",
};
