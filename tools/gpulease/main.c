/* SPDX-License-Identifier: MIT */
/*
 * gpulease: the command-line client of a mounted gpulease tree. main()
 * takes the global options, picks the subcommand from the table and runs
 * it; this file also holds the usage and error messages they share.
 *
 * Invariant: every failure prints one "gpulease: ..." line on stderr and
 * exits 1; every usage error prints a hint too and exits 2.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/gpulease/cli.h"

static const struct cli_cmd *const cli_cmds[] = {
	&cli_cmd_ls,
	&cli_cmd_acquire,
	&cli_cmd_drop,
	&cli_cmd_renew,
	&cli_cmd_resize,
	&cli_cmd_run,
	&cli_cmd_top,
	&cli_cmd_models,
	&cli_cmd_load,
	&cli_cmd_unload,
	&cli_cmd_generate,
	&cli_cmd_infer,
};

#define NCMDS (sizeof(cli_cmds) / sizeof(cli_cmds[0]))

static void main_usage(FILE *f)
{
	size_t i;

	fprintf(f,
		"usage: gpulease [--mount DIR] COMMAND [ARGS]\n"
		"\n"
		"Lease GPU memory from gpuleased and use it.\n"
		"\n"
		"commands:\n");
	for (i = 0; i < NCMDS; i++)
		fprintf(f, "  %-8s %s\n", cli_cmds[i]->name,
			cli_cmds[i]->summary);
	fprintf(f,
		"\n"
		"options:\n"
		"  -m, --mount DIR  the gpulease tree (default $%s, else %s)\n"
		"  -h, --help       show this help and exit\n"
		"  -V, --version    show the version and exit\n"
		"\n"
		"'gpulease COMMAND --help' describes one command; see "
		"gpulease(1).\n"
		"Exit status: 0 done, 1 failed, 2 usage error.\n",
		GL_MOUNT_ENV, GL_MOUNT_DEFAULT);
}

/* Print "gpulease CMD: MESSAGE" and a hint; returns EXIT_USAGE. */
int cli_usage(const struct cli_cmd *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "gpulease%s%s: ", cmd ? " " : "",
		cmd ? cmd->name : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'gpulease %s%s--help'.\n",
		cmd ? cmd->name : "", cmd ? " " : "");
	return EXIT_USAGE;
}

/* A getopt_long() failure ('?' or ':') as a usage error. */
int cli_bad_opt(const struct cli_cmd *cmd, int opt, char **argv)
{
	const char *arg = argv[optind - 1];

	if (opt == ':')
		return cli_usage(cmd, "option '%s' needs an argument", arg);
	if (optopt && strncmp(arg, "--", 2))
		return cli_usage(cmd, "unknown option '-%c'", optopt);
	return cli_usage(cmd, "unknown option '%s'", arg);
}

/* "gpulease CMD --help": the synopsis and the text. Returns 0. */
int cli_help(const struct cli_cmd *cmd)
{
	printf("usage: gpulease [--mount DIR] %s %s\n\n%s", cmd->name,
	       cmd->args, cmd->help);
	return EXIT_OK;
}

/*
 * Print what @err means, about lease @lease (may be NULL), on stderr,
 * with the daemon's own reason (the lease's last_error) where it has one.
 */
void cli_err(struct cli *c, const char *lease, int err)
{
	const char *mnt = c->g ? gl_mount_path(c->g) : c->mount;
	struct gl_lease_info info;

	if (err < 0)
		err = -err;
	if (!mnt)
		mnt = getenv(GL_MOUNT_ENV) ? getenv(GL_MOUNT_ENV) :
					     GL_MOUNT_DEFAULT;
	if (err == ENOTCONN || !c->g) {
		if (err == ENOTCONN || err == ENOENT)
			fprintf(stderr, "gpulease: daemon not running "
				"(is %s mounted?)\n", mnt);
		else
			fprintf(stderr, "gpulease: %s: %s\n", mnt,
				gl_strerror(err));
		return;
	}
	if (!lease) {
		fprintf(stderr, "gpulease: %s\n", gl_strerror(err));
		return;
	}
	switch (err) {
	case EKEYEXPIRED:
		fprintf(stderr, "gpulease: lease %s expired\n", lease);
		return;
	case ENOENT:
		fprintf(stderr, "gpulease: no lease %s\n", lease);
		return;
	case EEXIST:
		fprintf(stderr, "gpulease: lease %s already exists\n", lease);
		return;
	case EACCES:
	case EPERM:
		fprintf(stderr, "gpulease: lease %s: permission denied\n",
			lease);
		return;
	}
	if (gl_name_valid(lease)) {
		fprintf(stderr, "gpulease: '%s' is not a lease name "
			"([A-Za-z0-9._-], at most %d)\n", lease, GL_NAME_MAX);
		return;
	}
	if (!gl_lease_info(c->g, lease, &info) && strcmp(info.last_error, "-"))
		fprintf(stderr, "gpulease: lease %s: %s (%s)\n", lease,
			gl_strerror(err), info.last_error);
	else
		fprintf(stderr, "gpulease: lease %s: %s\n", lease,
			gl_strerror(err));
}

/* Open the tree once for the subcommand. 0, or EXIT_FAIL after a message. */
int cli_open(struct cli *c)
{
	int err;

	if (c->g)
		return 0;
	err = gl_open(c->mount, &c->g);
	if (err) {
		cli_err(c, NULL, err);
		return EXIT_FAIL;
	}
	return 0;
}

static const struct cli_cmd *cmd_find(const char *name)
{
	size_t i;

	for (i = 0; i < NCMDS; i++)
		if (!strcmp(cli_cmds[i]->name, name))
			return cli_cmds[i];
	return NULL;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "mount", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const struct cli_cmd *cmd;
	struct cli c = { 0 };
	int o, st;

	opterr = 0;
	while ((o = getopt_long(argc, argv, "+:m:hV", opts, NULL)) != -1) {
		switch (o) {
		case 'm':
			c.mount = optarg;
			break;
		case 'h':
			main_usage(stdout);
			return EXIT_OK;
		case 'V':
			printf("gpulease %s (ABI %d)\n", GPULEASE_VERSION,
			       GL_ABI_VERSION);
			return EXIT_OK;
		default:
			return cli_bad_opt(NULL, o, argv);
		}
	}
	if (optind == argc) {
		main_usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[optind], "help")) {
		if (optind + 1 == argc) {
			main_usage(stdout);
			return EXIT_OK;
		}
		cmd = cmd_find(argv[optind + 1]);
		if (!cmd)
			return cli_usage(NULL, "no command '%s'",
					 argv[optind + 1]);
		return cli_help(cmd);
	}
	cmd = cmd_find(argv[optind]);
	if (!cmd)
		return cli_usage(NULL, "no command '%s'", argv[optind]);
	argc -= optind;
	argv += optind;
	optind = 0;	/* glibc: start over on the subcommand's argv */
	st = cmd->run(&c, cmd, argc, argv);
	gl_close(c.g);
	if (fflush(stdout) && !st) {
		fprintf(stderr, "gpulease: write error\n");
		st = EXIT_FAIL;
	}
	return st;
}
