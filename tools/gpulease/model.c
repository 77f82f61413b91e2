/* SPDX-License-Identifier: MIT */
/*
 * The model subcommands that act: load, unload, generate (a text
 * request, the answer streamed) and infer (raw bytes in and out), over
 * the tree's models/ files (Documentation/models.md); the listing is
 * models.c's.
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
	if (!cli_model_path(c, path, sizeof(path), ctl ? NULL : name, "ctl") &&
	    cli_read_small(path, text, sizeof(text)) > 0)
		cli_text_value(text, "last_error", why, sizeof(why));
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

	r = cli_help_only(cmd, argc, argv);
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
	err = cli_model_path(c, path, sizeof(path), NULL, "ctl");
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

	r = cli_help_only(cmd, argc, argv);
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
	err = cli_model_path(c, path, sizeof(path), NULL, "ctl");
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

	err = cli_model_path(c, path, sizeof(path), name, "infer");
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

	r = cli_help_only(cmd, argc, argv);
	if (r >= 0)
		return r;
	r = optind;
	if (argc - r < 2)
		return cli_usage(cmd, "expected a model NAME and a PROMPT");
	if (check_name(cmd, argv[r]))
		return EXIT_USAGE;
	prompt = argv[r + 1];
	for (i = r + 2; i < argc; i++) {
		if (!strchr(argv[i], '=') || strpbrk(argv[i], " \t\n"))
			return cli_usage(cmd, "'%s' is not a key=value",
					 argv[i]);
		n = snprintf(req + len, sizeof(req) - len, "%s ", argv[i]);
		if (n < 0 || (size_t)n >= sizeof(req) - len)
			return cli_usage(cmd, "request over 64K");
		len += (size_t)n;
	}
	/* "--": the prompt is text even when it looks like an option; it
	 * runs to the end of the request, newlines included, less the one
	 * final newline the daemon strips (Documentation/models.md) */
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

	r = cli_help_only(cmd, argc, argv);
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
	"max_ctx=N threads=N max_queue=N max_delay_us=N deadline_ms=N\n"
	"(Documentation/models.md). A failed load leaves nothing.\n"
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
	"Send PROMPT (text, newlines included) to model NAME and print the\n"
	"answer as it is generated, then a newline. Keys: max_tokens=N\n"
	"temperature=T top_p=P seed=S output=text|ids deadline_ms=N\n"
	"stop=S (up to 4; %XX is a byte: stop=%0A ends at a newline). An\n"
	"answer cut by an error (the model expired, was unloaded) is\n"
	"followed by the error and exit status 1; ETIME: refused before it\n"
	"started, as it would not end within the lease or the deadline.\n"
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
