/* SPDX-License-Identifier: MIT */
/*
 * The model listing: "gpulease models" and the models section of top,
 * read from models/ctl and each model's ctl and stats
 * (Documentation/models.md), and the small file helpers the model
 * verbs share (model.c).
 *
 * Invariant: a listed model whose files cannot be read (unloaded since
 * models/ctl was read) keeps its list line with "-" for the rest:
 * listing never fails for one model's files.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/gpulease/cli.h"

/* @buf = MOUNT/models/NAME/FILE (NAME NULL: MOUNT/models/FILE): 0 or
 * -ENAMETOOLONG. */
int cli_model_path(struct cli *c, char *buf, size_t size, const char *name,
		   const char *file)
{
	int n;

	if (name)
		n = snprintf(buf, size, "%s/models/%s/%s",
			     gl_mount_path(c->g), name, file);
	else
		n = snprintf(buf, size, "%s/models/%s", gl_mount_path(c->g),
			     file);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* A whole small file into @buf, NUL-terminated: its length or -errno. */
int cli_read_small(const char *path, char *buf, size_t size)
{
	size_t got = 0;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (got + 1 < size) {
		n = read(fd, buf + got, size - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			n = -errno;
			close(fd);
			return (int)n;
		}
		if (!n)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	close(fd);
	return (int)got;
}

/* The value of "KEY VALUE" in @text into @out ("" when absent). */
void cli_text_value(const char *text, const char *key, char *out,
		    size_t size)
{
	size_t klen = strlen(key), n;
	const char *p = text;

	out[0] = '\0';
	while (p && *p) {
		if (!strncmp(p, key, klen) && p[klen] == ' ') {
			p += klen + 1;
			n = strcspn(p, "\n");
			if (n >= size)
				n = size - 1;
			memcpy(out, p, n);
			out[n] = '\0';
			return;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
}

static uint64_t text_u64(const char *text, const char *key)
{
	char v[32];

	cli_text_value(text, key, v, sizeof(v));
	return strtoull(v, NULL, 10);
}

/* A command whose only option is --help: -1 to go on with the operands
 * from optind, else the exit status (0 after the help). */
int cli_help_only(const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int o;

	/* '+': options only before the operands (a prompt may start
	 * with '-') */
	while ((o = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
		if (o == 'h')
			return cli_help(cmd);
		return cli_bad_opt(cmd, o, argv);
	}
	return -1;
}

/*
 * Every model the caller can see, from models/ctl and each model's ctl
 * and stats (a model whose files cannot be read keeps its list line):
 * the count with *@out (free() it), or -errno of models/ctl.
 */
int cli_model_list(struct cli *c, struct cli_model **out)
{
	char path[PATH_MAX], *list, *line, *save = NULL, text[4096];
	struct cli_model *v = NULL, *m, *nv;
	int n = 0, len;

	list = malloc(1 << 20);
	if (!list)
		return -ENOMEM;
	len = cli_model_path(c, path, sizeof(path), NULL, "ctl");
	if (!len)
		len = cli_read_small(path, list, 1 << 20);
	if (len < 0) {
		free(list);
		return len;
	}
	for (line = strtok_r(list, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, "last_error", 10))
			continue;
		nv = realloc(v, (size_t)(n + 1) * sizeof(*v));
		if (!nv) {
			free(v);
			free(list);
			return -ENOMEM;
		}
		v = nv;
		m = &v[n++];
		memset(m, 0, sizeof(*m));
		if (sscanf(line, "%63s %15s %*s %llu", m->name, m->state,
			   (unsigned long long *)&m->vram) < 2) {
			n--;
			continue;
		}
		strcpy(m->arch, "-");
		/* gone since the list, or not ours: the list's line only */
		if (cli_model_path(c, path, sizeof(path), m->name, "ctl") ||
		    cli_read_small(path, text, sizeof(text)) < 0)
			continue;
		cli_text_value(text, "arch", m->arch, sizeof(m->arch));
		m->vram = text_u64(text, "vram");
		if (cli_model_path(c, path, sizeof(path), m->name, "stats") ||
		    cli_read_small(path, text, sizeof(text)) < 0)
			continue;
		m->requests = text_u64(text, "requests");
		m->failures = text_u64(text, "failures");
		m->tokens = text_u64(text, "tokens");
		m->running = (uint32_t)text_u64(text, "running");
		m->lat_count = text_u64(text, "latency_count");
		m->lat_sum_us = text_u64(text, "latency_sum_us");
		m->stats = 1;
	}
	free(list);
	*out = v;
	return n;
}

/* Mean latency of @m as "12.3ms", or "-" before its first request. */
void cli_fmt_latency(char *buf, size_t size, const struct cli_model *m)
{
	double us;

	if (!m->lat_count) {
		snprintf(buf, size, "-");
		return;
	}
	us = (double)m->lat_sum_us / (double)m->lat_count;
	if (us < 1000)
		snprintf(buf, size, "%.0fus", us);
	else if (us < 1e6)
		snprintf(buf, size, "%.1fms", us / 1e3);
	else
		snprintf(buf, size, "%.2fs", us / 1e6);
}

static int models_run(struct cli *c, const struct cli_cmd *cmd, int argc,
		      char **argv)
{
	char vram[16], lat[16];
	struct cli_model *v;
	int r, i, n;

	r = cli_help_only(cmd, argc, argv);
	if (r >= 0)
		return r;
	r = optind;
	if (r != argc)
		return cli_usage(cmd, "unexpected argument '%s'", argv[r]);
	if (cli_open(c))
		return EXIT_FAIL;
	n = cli_model_list(c, &v);
	if (n < 0) {
		cli_err(c, NULL, n);
		return EXIT_FAIL;
	}
	printf("%-20s %-8s %-8s %7s %9s %8s %7s %9s %9s\n", "NAME", "STATE",
	       "ARCH", "VRAM", "REQUESTS", "FAILURES", "RUNNING", "LATENCY",
	       "TOKENS");
	for (i = 0; i < n; i++) {
		cli_fmt_size(vram, sizeof(vram), v[i].vram);
		cli_fmt_latency(lat, sizeof(lat), &v[i]);
		printf("%-20s %-8s %-8s %7s %9llu %8llu %7u %9s %9llu\n",
		       v[i].name, v[i].state, v[i].arch, vram,
		       (unsigned long long)v[i].requests,
		       (unsigned long long)v[i].failures, v[i].running, lat,
		       (unsigned long long)v[i].tokens);
	}
	free(v);
	return EXIT_OK;
}

const struct cli_cmd cli_cmd_models = {
	.name = "models",
	.args = "",
	.summary = "list the models you can see",
	.run = models_run,
	.help =
	"List the loaded models the caller can see (its own; root: all):\n"
	"NAME, STATE (warm, expired), ARCH (llama2c, hf-llama, mlp), VRAM\n"
	"(its lease's), REQUESTS (received, refused ones included),\n"
	"FAILURES (refused or failed), RUNNING, LATENCY (the mean of its\n"
	"finished requests) and TOKENS (generated).\n"
	"\n"
	"  -h, --help  show this help\n",
};
