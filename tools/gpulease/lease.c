/* SPDX-License-Identifier: MIT */
/*
 * The lease subcommands: acquire (and hold with --bind), drop, renew,
 * resize. Each is one libgpulease call; --bind is the one that stays.
 *
 * Invariant: acquire --bind never leaves its lease behind: it is tied to
 * the command's open leases/ctl, so whatever ends the process (a signal
 * it waits for, or SIGKILL) drops the lease.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tools/gpulease/cli.h"

/* Wait for SIGINT, SIGTERM or SIGHUP while lease @name lives. */
static int hold(struct cli *c, const char *name, const sigset_t *set)
{
	struct timespec tick = { .tv_sec = 1 };
	struct gl_lease_info info;
	int sig, err;

	fprintf(stderr, "gpulease: holding lease %s; SIGINT or SIGTERM "
		"drops it\n", name);
	for (;;) {
		sig = sigtimedwait(set, NULL, &tick);
		if (sig > 0)
			break;
		if (errno != EAGAIN && errno != EINTR) {
			err = -errno;
			goto fail;
		}
		err = gl_lease_info(c->g, name, &info);
		if (!err && info.state == GL_LEASE_EXPIRED)
			err = -EKEYEXPIRED;
		if (err == -ENOENT) {
			fprintf(stderr, "gpulease: lease %s was dropped\n",
				name);
			return EXIT_FAIL;
		}
		if (err)
			goto fail;
	}
	err = gl_lease_drop(c->g, name);
	if (err && err != -ENOENT) {
		cli_err(c, name, err);
		return EXIT_FAIL;
	}
	return EXIT_OK;
fail:
	cli_err(c, name, err);
	gl_lease_drop(c->g, name);
	return EXIT_FAIL;
}

static int acquire_run(struct cli *c, const struct cli_cmd *cmd, int argc,
		       char **argv)
{
	static const struct option opts[] = {
		{ "vram", required_argument, NULL, 'v' },
		{ "ttl", required_argument, NULL, 't' },
		{ "device", required_argument, NULL, 'd' },
		{ "bind", no_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t vram = GL_VRAM_DEFAULT;
	uint32_t ttl = 0, dev;
	int device = -1, o, err;
	unsigned int flags = 0;
	const char *name;
	sigset_t set;

	while ((o = getopt_long(argc, argv, ":v:t:d:bh", opts, NULL)) != -1) {
		switch (o) {
		case 'v':
			if (cli_parse_size(optarg, &vram))
				return cli_usage(cmd, "bad size '%s'", optarg);
			break;
		case 't':
			if (cli_parse_secs(optarg, &ttl) || !ttl)
				return cli_usage(cmd, "bad ttl '%s'", optarg);
			break;
		case 'd':
			if (cli_parse_uint(optarg, INT32_MAX, &dev))
				return cli_usage(cmd, "bad device '%s'",
						 optarg);
			device = (int)dev;
			break;
		case 'b':
			flags |= GL_ACQUIRE_BIND;
			break;
		case 'h':
			return cli_help(cmd);
		default:
			return cli_bad_opt(cmd, o, argv);
		}
	}
	if (optind != argc - 1)
		return cli_usage(cmd, "expected one lease NAME");
	name = argv[optind];
	if (gl_name_valid(name))
		return cli_usage(cmd, "'%s' is not a lease name", name);
	if (cli_open(c))
		return EXIT_FAIL;
	if (flags & GL_ACQUIRE_BIND) {
		/* a background job of sh ignores SIGINT: take it back */
		sigemptyset(&set);
		sigaddset(&set, SIGINT);
		sigaddset(&set, SIGTERM);
		sigaddset(&set, SIGHUP);
		signal(SIGINT, SIG_DFL);
		sigprocmask(SIG_BLOCK, &set, NULL);
	}
	err = gl_lease_acquire(c->g, name, vram, ttl, device, flags);
	if (err) {
		cli_err(c, name, err);
		return EXIT_FAIL;
	}
	if (flags & GL_ACQUIRE_BIND)
		return hold(c, name, &set);
	return EXIT_OK;
}

const struct cli_cmd cli_cmd_acquire = {
	.name = "acquire",
	.args = "NAME [--vram SIZE] [--ttl SECS] [--device N] [--bind]",
	.summary = "acquire lease NAME (hold it with --bind)",
	.run = acquire_run,
	.help =
	"Acquire lease NAME in one atomic step: its memory is reserved whole\n"
	"and its TTL set, or nothing is created.\n"
	"\n"
	"  -v, --vram SIZE   memory to reserve: bytes, or with K, M, G, T\n"
	"                    (powers of 1024); default: the daemon's\n"
	"                    default_vram\n"
	"  -t, --ttl SECS    lifetime until the next renew, in seconds or\n"
	"                    with s, m, h, d; default: the daemon's\n"
	"                    default_ttl\n"
	"  -d, --device N    device index (default 0)\n"
	"  -b, --bind        tie the lease to this command and wait: it is\n"
	"                    dropped when SIGINT, SIGTERM or SIGHUP arrives\n"
	"                    or the command dies (even by SIGKILL); the\n"
	"                    command fails if the lease expires or is\n"
	"                    dropped meanwhile. The TTL still applies.\n"
	"  -h, --help        show this help\n",
};

static int drop_run(struct cli *c, const struct cli_cmd *cmd, int argc,
		    char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int o, i, err, st = EXIT_OK;

	while ((o = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		if (o == 'h')
			return cli_help(cmd);
		return cli_bad_opt(cmd, o, argv);
	}
	if (optind == argc)
		return cli_usage(cmd, "expected a lease NAME");
	if (cli_open(c))
		return EXIT_FAIL;
	for (i = optind; i < argc; i++) {
		err = gl_lease_drop(c->g, argv[i]);
		if (err) {
			cli_err(c, argv[i], err);
			st = EXIT_FAIL;
		}
	}
	return st;
}

const struct cli_cmd cli_cmd_drop = {
	.name = "drop",
	.args = "NAME...",
	.summary = "drop leases (their memory is free when it returns)",
	.run = drop_run,
	.help =
	"Drop each lease NAME (rmdir): running launches finish, then the\n"
	"memory is back on the device before the command returns. Expired\n"
	"leases drop too. Fails (exit 1) if any NAME could not be dropped.\n"
	"\n"
	"  -h, --help   show this help\n",
};

/* The "NAME VALUE" subcommands parse alike. */
static int name_arg_opts(const struct cli_cmd *cmd, int argc, char **argv,
			 int min, int max)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int o;

	while ((o = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		if (o == 'h')
			return -cli_help(cmd) - 1;
		return cli_bad_opt(cmd, o, argv);
	}
	if (argc - optind < min || argc - optind > max)
		return cli_usage(cmd, "expected %s", cmd->args);
	return 0;
}

static int renew_run(struct cli *c, const struct cli_cmd *cmd, int argc,
		     char **argv)
{
	uint32_t secs = 0;
	int st, err;

	st = name_arg_opts(cmd, argc, argv, 1, 2);
	if (st)
		return st < 0 ? EXIT_OK : st;
	if (argc - optind == 2 &&
	    (cli_parse_secs(argv[optind + 1], &secs) || !secs))
		return cli_usage(cmd, "bad duration '%s'", argv[optind + 1]);
	if (cli_open(c))
		return EXIT_FAIL;
	err = gl_lease_renew(c->g, argv[optind], secs);
	if (err) {
		cli_err(c, argv[optind], err);
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

const struct cli_cmd cli_cmd_renew = {
	.name = "renew",
	.args = "NAME [SECS]",
	.summary = "push a lease's expiry to now + its ttl (or SECS)",
	.run = renew_run,
	.help =
	"Renew lease NAME: it now expires its ttl from now, or SECS from\n"
	"now (seconds, or with s, m, h, d) without changing its ttl. An\n"
	"expired lease cannot be renewed.\n"
	"\n"
	"  -h, --help   show this help\n",
};

static int resize_run(struct cli *c, const struct cli_cmd *cmd, int argc,
		      char **argv)
{
	uint64_t size;
	int st, err;

	st = name_arg_opts(cmd, argc, argv, 2, 2);
	if (st)
		return st < 0 ? EXIT_OK : st;
	if (cli_parse_size(argv[optind + 1], &size))
		return cli_usage(cmd, "bad size '%s'", argv[optind + 1]);
	if (cli_open(c))
		return EXIT_FAIL;
	err = gl_lease_resize(c->g, argv[optind], size);
	if (err) {
		cli_err(c, argv[optind], err);
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

const struct cli_cmd cli_cmd_resize = {
	.name = "resize",
	.args = "NAME SIZE",
	.summary = "change how much memory a lease reserves",
	.run = resize_run,
	.help =
	"Make lease NAME reserve SIZE bytes (or with K, M, G, T: powers of\n"
	"1024). Contents up to the smaller size are kept. Growing fails\n"
	"with 'not enough device memory' or 'over your quota' and changes\n"
	"nothing.\n"
	"\n"
	"  -h, --help   show this help\n",
};
