/* SPDX-License-Identifier: MIT */
/*
 * gpulease run: launch kernels on a lease and print how each ended. By
 * default every descriptor goes through the lease's ring (its io region,
 * made when missing) as a binary descriptor in the data area, all in one
 * batch; --submit writes them one at a time to the submit file instead.
 * The descriptors come from the command line, a file, or standard input.
 *
 * Invariant: launches of a lease run in order, one result line each, in
 * the order given; one that fails does not stop the rest, unless the
 * lease itself is gone. Through the ring this process holds an exclusive
 * flock(2) on the io file and tags its entries, so two runs on one lease
 * take turns and never read each other's completions. A text line is
 * turned into the binary form by the daemon's own launch grammar
 * (daemon/launch-parse.c, linked here alone), so it means the same
 * through the ring as through submit.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "daemon/launch-parse.h"	/* the one launch grammar, a leaf */
#include "tools/gpulease/cli.h"

#define RUN_IO_DEFAULT		(64u * 1024)
#define RUN_DESC_ALIGN		8

struct run_job {
	char *text;			/* the descriptor as given */
	struct gl_launch_desc d;
	int status;			/* 0 or -errno once done */
	uint64_t ns;			/* the daemon's duration */
	bool done;
};

struct run {
	struct cli *c;
	const char *name;
	struct run_job *jobs;
	size_t njobs, cap;
	size_t printed;			/* jobs before it are reported */
	int failed;			/* some launch failed */
	int gone;			/* -errno: the lease is gone */
};

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void print_ok(double us, const char *desc)
{
	if (us < 1000)
		printf("ok %7.1fus  %s\n", us, desc);
	else
		printf("ok %7.1fms  %s\n", us / 1000, desc);
}

/* An errno that means the lease (or the daemon) is gone, not the launch. */
static bool lease_gone(int err)
{
	return err == -EKEYEXPIRED || err == -ENOENT || err == -ENOTCONN ||
	       err == -EACCES;
}

static void print_fail(struct cli *c, const char *name, const char *desc,
		       int err)
{
	struct gl_lease_info info;

	fflush(stdout);
	if (!gl_lease_info(c->g, name, &info) &&
	    strcmp(info.last_error, "-"))
		fprintf(stderr, "gpulease: lease %s: '%s': %s (%s)\n", name,
			desc, gl_strerror(err), info.last_error);
	else
		fprintf(stderr, "gpulease: lease %s: '%s': %s\n", name, desc,
			gl_strerror(err));
}

/*
 * --submit: run one descriptor through the submit file. Returns 0, 1
 * when it failed, or -errno when the lease is gone and nothing more can
 * run.
 */
static int submit_one(struct cli *c, const char *name, const char *desc)
{
	double t0, dt;
	int err;

	t0 = now_us();
	err = gl_submit_text(c->g, name, desc);
	dt = now_us() - t0;
	if (!err) {
		print_ok(dt, desc);
		fflush(stdout);
		return 0;
	}
	if (lease_gone(err))
		return err;
	print_fail(c, name, desc, err);
	return 1;
}

static int job_add(struct run *r, const char *text)
{
	struct run_job *j;

	if (r->njobs == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 16;

		j = realloc(r->jobs, cap * sizeof(*j));
		if (!j)
			return -ENOMEM;
		r->jobs = j;
		r->cap = cap;
	}
	j = &r->jobs[r->njobs];
	memset(j, 0, sizeof(*j));
	j->text = strdup(text);
	if (!j->text)
		return -ENOMEM;
	r->njobs++;
	return 0;
}

/* Descriptors from @f, one a line; blank lines and # comments skipped. */
static int jobs_read(struct run *r, FILE *f)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int err = 0;

	while (!err && (len = getline(&line, &cap, f)) >= 0) {
		while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len && line[0] != '#')
			err = job_add(r, line);
	}
	if (!err && ferror(f))
		err = -EIO;
	free(line);
	return err;
}

/* The default block.x of @kernel from kernels/NAME: "NAME(SIG) block=N". */
static int kernel_block(struct cli *c, const char *kernel, uint32_t *block)
{
	char path[4096], buf[512], *p;
	ssize_t n;
	int fd;

	if (strchr(kernel, '/') || kernel[0] == '.')
		return -EINVAL;
	snprintf(path, sizeof(path), "%s/kernels/%s", gl_mount_path(c->g),
		 kernel);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -EINVAL : -errno;	/* unknown */
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	p = strstr(buf, ") block=");
	if (!p)
		return -EPROTO;
	*block = (uint32_t)strtoul(p + 8, NULL, 10);
	return *block ? 0 : -EPROTO;
}

/* Report finished jobs in order, as far as they are done. */
static void jobs_print(struct run *r)
{
	struct run_job *j;

	for (; r->printed < r->njobs; r->printed++) {
		j = &r->jobs[r->printed];
		if (!j->done)
			break;
		if (!j->status) {
			print_ok((double)j->ns / 1e3, j->text);
			continue;
		}
		r->failed = 1;
		if (lease_gone(j->status)) {
			if (!r->gone)
				r->gone = j->status;
			continue;
		}
		print_fail(r->c, r->name, j->text, j->status);
	}
	fflush(stdout);
}

/* Parse every job; those that fail are done with their errno. */
static void jobs_parse(struct run *r)
{
	struct run_job *j;
	uint32_t block;
	size_t i;
	int err;

	for (i = 0; i < r->njobs; i++) {
		j = &r->jobs[i];
		err = launch_text_encode(j->text, strlen(j->text), &j->d);
		if (!err && !j->d.block[0]) {
			err = kernel_block(r->c, j->d.kernel, &block);
			j->d.block[0] = block;
			j->d.block[1] = j->d.block[2] = 1;
		}
		if (err) {
			j->status = err;
			j->done = true;
		}
	}
}

/* The lease's ring, with an io region of @io bytes made when it has none. */
static int ring_get(struct run *r, uint64_t io, struct gl_ring **ring,
		    int *lock)
{
	int err;

	err = gl_ring_open(r->c->g, r->name, ring);
	if (err == -ENOENT) {
		err = gl_ring_setup(r->c->g, r->name, io);
		if (!err)
			err = gl_ring_open(r->c->g, r->name, ring);
	}
	if (err)
		return err;
	*lock = gl_lease_openat(r->c->g, r->name, "io", O_RDONLY);
	if (*lock < 0)
		return *lock;
	while (flock(*lock, LOCK_EX))
		if (errno != EINTR)
			return -errno;
	return 0;
}

/*
 * Through the ring: as many launches as the SQ and the data area hold go
 * in one gl_ring_submit(), their descriptors packed down from the top of
 * the data area (the bottom is left to io: arguments); then every
 * completion of that batch is taken before the next. Returns 0 or the
 * -errno that ended the run.
 */
static int run_ring(struct run *r, uint64_t io)
{
	uint64_t tag = (uint64_t)getpid() << 32, ud;
	struct gl_ring *ring = NULL;
	struct gl_cqe *cqe;
	struct gl_sqe *sqe;
	size_t size, off, len, next = 0, inflight;
	char *data;
	int lock = -1, err;

	err = ring_get(r, io, &ring, &lock);
	if (err)
		goto out;
	data = gl_ring_data(ring, &size);
	while (next < r->njobs) {
		inflight = 0;
		off = size;
		for (; next < r->njobs; next++) {
			struct run_job *j = &r->jobs[next];

			if (j->done)
				continue;
			len = GL_LAUNCH_DESC_SIZE(j->d.nargs);
			if (off < (len + RUN_DESC_ALIGN) && inflight)
				break;
			if (off < len) {	/* a tiny data area */
				j->status = -EFBIG;
				j->done = true;
				continue;
			}
			sqe = gl_ring_get_sqe(ring);
			if (!sqe)
				break;
			off = (off - len) & ~(size_t)(RUN_DESC_ALIGN - 1);
			memcpy(data + off, &j->d, len);
			gl_ring_prep_launch(sqe, off, (uint32_t)len,
					    tag | next);
			inflight++;
		}
		err = gl_ring_submit(ring);
		if (err < 0)
			goto out;
		while (inflight) {
			err = gl_ring_wait_cqe(ring, &cqe, -1);
			if (err)
				goto out;
			ud = cqe->user_data;
			if ((ud & ~0xffffffffull) == tag &&
			    (ud & 0xffffffffu) < r->njobs &&
			    !r->jobs[ud & 0xffffffffu].done) {
				struct run_job *j = &r->jobs[ud & 0xffffffffu];

				j->status = cqe->status;
				j->ns = cqe->duration_ns;
				j->done = true;
				inflight--;
			}	/* else a completion of an earlier client */
			gl_ring_cqe_seen(ring, cqe);
			jobs_print(r);
		}
		jobs_print(r);
	}
	err = 0;
out:
	jobs_print(r);
	if (lock >= 0)
		close(lock);
	gl_ring_close(ring);
	return err;
}

/* The lease went away under a ring: expired, or dropped (ENOENT). */
static int ring_gone(struct run *r, int err)
{
	struct gl_lease_info info;
	int e;

	if (err != -EKEYEXPIRED)
		return err;
	e = gl_lease_info(r->c->g, r->name, &info);
	return e == -ENOENT ? -ENOENT : err;
}

static int run_run(struct cli *c, const struct cli_cmd *cmd, int argc,
		   char **argv)
{
	static const struct option opts[] = {
		{ "submit", no_argument, NULL, 's' },
		{ "file", required_argument, NULL, 'f' },
		{ "io-size", required_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct run r = { .c = c };
	const char *file = NULL;
	uint64_t io = RUN_IO_DEFAULT;
	bool use_submit = false;
	FILE *f;
	size_t i;
	int o, err = 0, st;

	/*
	 * '+': options before and after NAME; "--" or the first descriptor
	 * ends them
	 */
	for (;;) {
		while ((o = getopt_long(argc, argv, "+:sf:i:h", opts,
					NULL)) != -1) {
			switch (o) {
			case 's':
				use_submit = true;
				break;
			case 'f':
				file = optarg;
				break;
			case 'i':
				if (cli_parse_size(optarg, &io) ||
				    io < GL_RING_SIZE_MIN ||
				    io > GL_RING_SIZE_MAX || io % 4096)
					return cli_usage(cmd, "bad io size "
							 "'%s' (64K to 1G, a "
							 "multiple of 4K)",
							 optarg);
				break;
			case 'h':
				return cli_help(cmd);
			default:
				return cli_bad_opt(cmd, o, argv);
			}
		}
		if (r.name || optind == argc ||
		    !strcmp(argv[optind - 1], "--"))
			break;
		r.name = argv[optind++];
	}
	if (!r.name && optind < argc)
		r.name = argv[optind++];
	if (!r.name)
		return cli_usage(cmd, "expected a lease NAME");
	if (optind < argc && !strcmp(argv[optind], "--"))
		optind++;
	if (gl_name_valid(r.name))
		return cli_usage(cmd, "'%s' is not a lease name", r.name);
	if (file && optind < argc)
		return cli_usage(cmd, "descriptors from --file or the command "
				 "line, not both");
	for (i = (size_t)optind; !err && i < (size_t)argc; i++)
		err = job_add(&r, argv[i]);
	if (!err && optind == argc) {
		f = !file || !strcmp(file, "-") ? stdin : fopen(file, "re");
		if (!f) {
			fprintf(stderr, "gpulease: %s: %s\n", file,
				strerror(errno));
			return EXIT_FAIL;
		}
		err = jobs_read(&r, f);
		if (f != stdin)
			fclose(f);
	}
	if (err) {
		fprintf(stderr, "gpulease: %s\n", strerror(-err));
		st = EXIT_FAIL;
		goto out;
	}
	st = cli_open(c);
	if (st)
		goto out;
	if (use_submit) {
		for (i = 0; i < r.njobs && err >= 0; i++) {
			err = submit_one(c, r.name, r.jobs[i].text);
			if (err)
				r.failed = 1;
		}
	} else {
		jobs_parse(&r);
		err = run_ring(&r, io);
		if (!err)
			err = r.gone;
		err = ring_gone(&r, err);
	}
	if (err < 0)
		cli_err(c, r.name, err);
	st = err < 0 || r.failed ? EXIT_FAIL : EXIT_OK;
out:
	for (i = 0; i < r.njobs; i++)
		free(r.jobs[i].text);
	free(r.jobs);
	return st;
}

const struct cli_cmd cli_cmd_run = {
	.name = "run",
	.args = "NAME [--submit] [--io-size SIZE] [--file FILE] [--] "
		"[DESCRIPTOR...]",
	.summary = "run kernel launches on a lease",
	.run = run_run,
	.help =
	"Launch each DESCRIPTOR on lease NAME, in order; with none, read them\n"
	"from --file FILE or standard input, one per line (empty lines and\n"
	"lines starting with # are skipped). A descriptor is one text launch\n"
	"line, quoted as one argument:\n"
	"\n"
	"  KERNEL grid=X block=X [timeout_ms=N] ARG...\n"
	"  ARG: u32:N i32:N u64:N f32:X f64:X buf:OFFSET:LEN io:OFFSET:LEN\n"
	"\n"
	"e.g. gpulease run m1 -- 'noop grid=1' \\\n"
	"       'saxpy grid=1 block=256 u32:4 f32:2 buf:0:16 buf:16:16'\n"
	"\n"
	"By default they go through the lease's ring (its io region): each is\n"
	"turned into a binary descriptor in the data area, packed down from\n"
	"its top, and all are submitted as one batch, as many as the ring\n"
	"holds at a time. A lease without an io region gets one of --io-size\n"
	"bytes ('io SIZE' in its ctl), which stays after the run ('io 0' in\n"
	"the ctl removes it). With --submit each is written to the submit\n"
	"file instead and waited for before the next.\n"
	"\n"
	"Each launch prints 'ok TIME DESCRIPTOR' on standard output (TIME:\n"
	"the daemon's duration of the launch through the ring, the whole\n"
	"write with --submit), or its error on standard error; the rest\n"
	"still run, unless the lease has expired or is gone. Exit status 1\n"
	"if any failed. The signatures of the kernels are in the tree's\n"
	"kernels/ directory.\n"
	"\n"
	"  -s, --submit         launch through the submit file, one at a time\n"
	"  -i, --io-size SIZE   io region to make when there is none (64K)\n"
	"  -f, --file FILE      read descriptors from FILE ('-': stdin)\n"
	"  -h, --help           show this help\n",
};
