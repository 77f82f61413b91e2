/* SPDX-License-Identifier: MIT */
/*
 * The model subcommands: models (the list), load, unload, generate (a
 * text request, the answer streamed) and infer (raw bytes in and out),
 * over the tree's models/ files (Documentation/models.md), and the
 * listing top shows.
 *
 * Invariant: a request is one write(2) on its own open infer file, and
 * its answer goes to stdout as each read(2) returns it, never held back;
 * an answer that ends in an error is followed by the error, never passed
 * off as whole (exit 1).
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

#define MODEL_LINE_MAX	512		/* a models/ctl line, as the daemon */
#define MODEL_REQ_MAX	65536		/* an infer request, as the daemon */
#define MODEL_NAME_MAX	(GL_NAME_MAX - 6)	/* "model." + NAME */

/* @buf = MOUNT/models/NAME/FILE (NAME NULL: MOUNT/models/FILE). */
static int model_path(struct cli *c, char *buf, size_t size,
		      const char *name, const char *file)
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
static int read_small(const char *path, char *buf, size_t size)
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
static void text_value(const char *text, const char *key, char *out,
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

	text_value(text, key, v, sizeof(v));
	return strtoull(v, NULL, 10);
}

/* One write of @line to @path: 0 or -errno. */
static int write_line(const char *path, const char *line)
{
	size_t len = strlen(line);
	ssize_t n;
	int fd;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, line, len);
	if (n < 0)
		n = -errno;
	close(fd);
	return n < 0 ? (int)n : (size_t)n == len ? 0 : -EIO;
}

/*
 * Print what @err means for model @name on stderr, with the daemon's
 * reason: @ctl, a models/ctl write failed: models/ctl's last_error
 * (root's only), else the model's.
 */
static void model_err(struct cli *c, const char *name, int err, int ctl)
{
	char path[PATH_MAX], text[4096], why[200] = "";

	if (err < 0)
		err = -err;
	if (err == ENOTCONN) {
		cli_err(c, NULL, err);
		return;
	}
	switch (err) {
	case ENOENT:
		fprintf(stderr, "gpulease: no model %s\n", name);
		return;
	case EEXIST:
		fprintf(stderr, "gpulease: model %s already exists\n", name);
		return;
	case EKEYEXPIRED:
		fprintf(stderr, "gpulease: model %s expired (its lease "
			"model.%s did; unload it)\n", name, name);
		return;
	case ENOSPC:
		fprintf(stderr, "gpulease: model %s: not enough device "
			"memory\n", name);
		return;
	case EDQUOT:
		fprintf(stderr, "gpulease: model %s: over your quota\n", name);
		return;
	case EACCES:
	case EPERM:
		/* another's model: its reasons are not the caller's to read */
		fprintf(stderr, "gpulease: model %s: permission denied\n",
			name);
		return;
	}
	if (!model_path(c, path, sizeof(path), ctl ? NULL : name, "ctl") &&
	    read_small(path, text, sizeof(text)) > 0)
		text_value(text, "last_error", why, sizeof(why));
	if (why[0])
		fprintf(stderr, "gpulease: model %s: %s (%s)\n", name,
			gl_strerror(err), why);
	else
		fprintf(stderr, "gpulease: model %s: %s\n", name,
			gl_strerror(err));
}

/* A usage error unless @name is a model name. */
static int check_name(const struct cli_cmd *cmd, const char *name)
{
	if (gl_name_valid(name) || strlen(name) > MODEL_NAME_MAX)
		return cli_usage(cmd, "'%s' is not a model name "
				 "([A-Za-z0-9._-], at most %d)", name,
				 MODEL_NAME_MAX);
	return 0;
}

/* Only --help: -1 to go on with the operands from optind, else the exit
 * status. */
static int plain_opts(const struct cli_cmd *cmd, int argc, char **argv)
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
	len = model_path(c, path, sizeof(path), NULL, "ctl");
	if (!len)
		len = read_small(path, list, 1 << 20);
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
		if (model_path(c, path, sizeof(path), m->name, "ctl") ||
		    read_small(path, text, sizeof(text)) < 0)
			continue;
		text_value(text, "arch", m->arch, sizeof(m->arch));
		m->vram = text_u64(text, "vram");
		if (model_path(c, path, sizeof(path), m->name, "stats") ||
		    read_small(path, text, sizeof(text)) < 0)
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

	r = plain_opts(cmd, argc, argv);
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

/* @p as an absolute path (the daemon's rule) into @buf. */
static int abs_path(const char *p, char *buf, size_t size)
{
	char cwd[PATH_MAX], *r;
	int n;

	if (p[0] == '/') {
		n = snprintf(buf, size, "%s", p);
	} else {
		r = realpath(p, NULL);
		if (r) {
			n = snprintf(buf, size, "%s", r);
			free(r);
		} else if (getcwd(cwd, sizeof(cwd))) {
			n = snprintf(buf, size, "%s/%s", cwd, p);
		} else {
			return -errno;
		}
	}
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

static int load_run(struct cli *c, const struct cli_cmd *cmd, int argc,
		    char **argv)
{
	char path[PATH_MAX], line[MODEL_LINE_MAX + 1], file[PATH_MAX];
	size_t len;
	int r, i, err;

	r = plain_opts(cmd, argc, argv);
	if (r >= 0)
		return r;
	r = optind;
	if (argc - r < 2)
		return cli_usage(cmd, "expected a model NAME and a PATH");
	if (check_name(cmd, argv[r]))
		return EXIT_USAGE;
	if (abs_path(argv[r + 1], file, sizeof(file)))
		return cli_usage(cmd, "path too long");
	len = (size_t)snprintf(line, sizeof(line), "load %s %s", argv[r],
			       file);
	for (i = r + 2; i < argc && len < sizeof(line); i++) {
		if (!strchr(argv[i], '=') || strpbrk(argv[i], " \t\n"))
			return cli_usage(cmd, "'%s' is not a key=value",
					 argv[i]);
		/* a relative tokenizer= is the caller's, as PATH */
		if (!strncmp(argv[i], "tokenizer=", 10) &&
		    argv[i][10] != '/') {
			if (abs_path(argv[i] + 10, path, sizeof(path)))
				return cli_usage(cmd, "path too long");
			len += (size_t)snprintf(line + len, sizeof(line) - len,
						" tokenizer=%s", path);
		} else {
			len += (size_t)snprintf(line + len, sizeof(line) - len,
						" %s", argv[i]);
		}
	}
	if (len >= sizeof(line) || strpbrk(file, " \t\n"))
		return cli_usage(cmd, "the load line must be one line of at "
				 "most %d bytes without blanks in paths",
				 MODEL_LINE_MAX);
	if (cli_open(c))
		return EXIT_FAIL;
	err = model_path(c, path, sizeof(path), NULL, "ctl");
	if (!err)
		err = write_line(path, line);
	/* not the model: a file it names (the daemon's reason says which) */
	if (err == -ENOENT || err == -EACCES)
		fprintf(stderr, "gpulease: model %s: cannot read %s or its "
			"files: %s\n", argv[r], file, strerror(-err));
	else if (err)
		model_err(c, argv[r], err, 1);
	return err ? EXIT_FAIL : EXIT_OK;
}

static int unload_run(struct cli *c, const struct cli_cmd *cmd, int argc,
		      char **argv)
{
	char path[PATH_MAX], line[GL_NAME_MAX + 16];
	int r, err;

	r = plain_opts(cmd, argc, argv);
	if (r >= 0)
		return r;
	r = optind;
	if (argc - r != 1)
		return cli_usage(cmd, "expected one model NAME");
	if (check_name(cmd, argv[r]))
		return EXIT_USAGE;
	if (cli_open(c))
		return EXIT_FAIL;
	snprintf(line, sizeof(line), "unload %s", argv[r]);
	err = model_path(c, path, sizeof(path), NULL, "ctl");
	if (!err)
		err = write_line(path, line);
	if (err)
		model_err(c, argv[r], err, 1);
	return err ? EXIT_FAIL : EXIT_OK;
}

/* Write all of @buf to stdout: 0 or -errno. */
static int put_out(const char *buf, size_t len)
{
	ssize_t n;

	while (len) {
		n = write(STDOUT_FILENO, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * One request on model @name: @req in one write, then the answer to
 * stdout as it comes. @text: end a non-empty answer with a newline.
 * Returns the exit status, after a message on failure.
 */
static int request(struct cli *c, const char *name, const char *req,
		   size_t len, int text)
{
	char path[PATH_MAX], buf[65536], last = '\n';
	ssize_t n;
	int fd, err = 0;

	err = model_path(c, path, sizeof(path), name, "infer");
	if (err)
		goto fail;
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		goto fail;
	}
	n = write(fd, req, len);
	if (n < 0 || (size_t)n != len) {
		err = n < 0 ? -errno : -EIO;
		goto close;
	}
	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			break;
		}
		if (!n)
			break;
		last = buf[n - 1];
		err = put_out(buf, (size_t)n);
		if (err) {
			close(fd);
			fprintf(stderr, "gpulease: write error: %s\n",
				strerror(-err));
			return EXIT_FAIL;
		}
	}
	if (text && last != '\n')
		put_out("\n", 1);
close:
	close(fd);
	if (!err)
		return EXIT_OK;
fail:
	model_err(c, name, err, 0);
	return EXIT_FAIL;
}

static int generate_run(struct cli *c, const struct cli_cmd *cmd, int argc,
			char **argv)
{
	char req[MODEL_REQ_MAX + 1];
	const char *prompt;
	size_t len = 0;
	int r, i, n;

	r = plain_opts(cmd, argc, argv);
	if (r >= 0)
		return r;
	r = optind;
	if (argc - r < 2)
		return cli_usage(cmd, "expected a model NAME and a PROMPT");
	if (check_name(cmd, argv[r]))
		return EXIT_USAGE;
	prompt = argv[r + 1];
	if (strchr(prompt, '\n'))
		return cli_usage(cmd, "the prompt must be one line");
	for (i = r + 2; i < argc; i++) {
		if (!strchr(argv[i], '=') || strpbrk(argv[i], " \t\n"))
			return cli_usage(cmd, "'%s' is not a key=value",
					 argv[i]);
		n = snprintf(req + len, sizeof(req) - len, "%s ", argv[i]);
		if (n < 0 || (size_t)n >= sizeof(req) - len)
			return cli_usage(cmd, "request over 64K");
		len += (size_t)n;
	}
	/* "--": the prompt is text even when it looks like an option */
	n = snprintf(req + len, sizeof(req) - len, "-- %s\n", prompt);
	if (n < 0 || (size_t)n >= sizeof(req) - len ||
	    len + (size_t)n > MODEL_REQ_MAX)
		return cli_usage(cmd, "request over 64K");
	len += (size_t)n;
	if (cli_open(c))
		return EXIT_FAIL;
	return request(c, argv[r], req, len, 1);
}

static int infer_run(struct cli *c, const struct cli_cmd *cmd, int argc,
		     char **argv)
{
	char *req;
	size_t len = 0;
	ssize_t n;
	int r, st;

	r = plain_opts(cmd, argc, argv);
	if (r >= 0)
		return r;
	r = optind;
	if (argc - r != 1)
		return cli_usage(cmd, "expected one model NAME (the request "
				 "on standard input)");
	if (check_name(cmd, argv[r]))
		return EXIT_USAGE;
	req = malloc(MODEL_REQ_MAX + 1);
	if (!req) {
		fprintf(stderr, "gpulease: out of memory\n");
		return EXIT_FAIL;
	}
	/* one byte past the daemon's bound: over it is EFBIG, not cut */
	while (len <= MODEL_REQ_MAX) {
		n = read(STDIN_FILENO, req + len, MODEL_REQ_MAX + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "gpulease: standard input: %s\n",
				strerror(errno));
			free(req);
			return EXIT_FAIL;
		}
		if (!n)
			break;
		len += (size_t)n;
	}
	if (len > MODEL_REQ_MAX) {
		fprintf(stderr, "gpulease: model %s: request over %d bytes\n",
			argv[r], MODEL_REQ_MAX);
		free(req);
		return EXIT_FAIL;
	}
	st = cli_open(c);
	if (!st)
		st = request(c, argv[r], req, len, 0);
	free(req);
	return st;
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

const struct cli_cmd cli_cmd_load = {
	.name = "load",
	.args = "NAME PATH [key=value...]",
	.summary = "load a model into a lease of its own",
	.run = load_run,
	.help =
	"Load the model at PATH (a llama2.c checkpoint or a Hugging Face\n"
	"directory) as NAME, in lease model.NAME owned by the caller and\n"
	"under its quota. The daemon opens PATH with the caller's\n"
	"permissions; a relative PATH or tokenizer= is made absolute here.\n"
	"Keys: tokenizer=PATH vram=SIZE ttl=SECS device=N max_batch=N\n"
	"max_ctx=N (Documentation/models.md). A failed load leaves nothing.\n"
	"\n"
	"  -h, --help  show this help\n",
};

const struct cli_cmd cli_cmd_unload = {
	.name = "unload",
	.args = "NAME",
	.summary = "unload a model, its memory free on return",
	.run = unload_run,
	.help =
	"Unload model NAME (its owner or root): its requests in flight\n"
	"fail, its lease is dropped, and the memory is free when this\n"
	"returns.\n"
	"\n"
	"  -h, --help  show this help\n",
};

const struct cli_cmd cli_cmd_generate = {
	.name = "generate",
	.args = "NAME PROMPT [key=value...]",
	.summary = "generate text from a prompt, streamed",
	.run = generate_run,
	.help =
	"Send PROMPT (one line of text) to model NAME and print the answer\n"
	"as it is generated, then a newline. Keys: max_tokens=N\n"
	"temperature=T top_p=P seed=S output=text|ids. An answer cut by an\n"
	"error (the model expired, was unloaded) is followed by the error\n"
	"and exit status 1.\n"
	"\n"
	"  -h, --help  show this help\n",
};

const struct cli_cmd cli_cmd_infer = {
	.name = "infer",
	.args = "NAME < REQUEST > ANSWER",
	.summary = "one raw request from stdin, the answer to stdout",
	.run = infer_run,
	.help =
	"Send standard input (at most 64K: a text request line, or an mlp's\n"
	"binary request, uapi/model.h) to model NAME in one write and copy\n"
	"the answer, byte for byte, to standard output as it comes.\n"
	"\n"
	"  -h, --help  show this help\n",
};
