/* SPDX-License-Identifier: MIT */
/*
 * gpulease top: a live view of the devices (a VRAM bar each), the
 * leases (biggest first, with launches per second from the change of
 * each lease's launch count between two refreshes) and the models (with
 * tokens per second, likewise from their token counts). Plain ANSI escapes on
 * the terminal's alternate screen; q, SIGINT or SIGTERM quits.
 *
 * Invariant: once the terminal is switched (raw input, alternate screen,
 * hidden cursor), every way out of top_run() but SIGKILL restores it.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "tools/gpulease/cli.h"

#define TOP_BAR_MIN	10
#define TOP_BAR_MAX	40

struct top {
	struct cli *c;
	int interactive;	/* stdin and stdout are a terminal */
	int screen;		/* stdout is a terminal: draw in place */
	int raw;		/* termios changed: restore @saved */
	struct termios saved;
	int sfd;		/* signalfd: INT, TERM, HUP, WINCH */
	unsigned int rows, cols;
	double interval;	/* seconds between refreshes */
	unsigned long iterations;	/* 0: until quit */
	struct gl_lease_info *prev;	/* last sample, sorted by name */
	int nprev;
	double prev_t;		/* when @prev was taken, CLOCK_MONOTONIC */
	struct cli_model *mprev;	/* last model sample, by name */
	int nmprev;
	char *frame;		/* the frame being built (open_memstream) */
	size_t frame_len;
	FILE *out;
};

static double mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void top_size(struct top *t)
{
	struct winsize ws;

	t->rows = 24;
	t->cols = 80;
	if (!t->screen) {
		t->rows = 0;	/* batch: no limit */
		t->cols = 4096;
		return;
	}
	if (!ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) && ws.ws_row && ws.ws_col) {
		t->rows = ws.ws_row;
		t->cols = ws.ws_col;
	}
}

/* One line of the frame, cut at the terminal's width. */
static void top_line(struct top *t, unsigned int *used, const char *fmt,
		     ...) __attribute__((format(printf, 3, 4)));
static void top_line(struct top *t, unsigned int *used, const char *fmt, ...)
{
	char buf[4096];
	va_list ap;
	size_t len;

	if (t->rows && *used >= t->rows)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	len = strlen(buf);
	if (len > t->cols)
		len = t->cols;
	fwrite(buf, 1, len, t->out);
	/* the last row gets no newline: it would scroll the screen */
	if (t->screen)
		fputs(t->rows && *used + 1 == t->rows ? "\033[K" : "\033[K\r\n",
		      t->out);
	else
		fputc('\n', t->out);
	(*used)++;
}

static int info_name_cmp(const void *a, const void *b)
{
	const struct gl_lease_info *x = a, *y = b;

	return strcmp(x->name, y->name);
}

/* Biggest reservation first, then by name. */
static int info_vram_cmp(const void *a, const void *b)
{
	const struct gl_lease_info *x = *(const struct gl_lease_info *const *)a;
	const struct gl_lease_info *y = *(const struct gl_lease_info *const *)b;

	if (x->vram != y->vram)
		return x->vram < y->vram ? 1 : -1;
	return strcmp(x->name, y->name);
}

/* Launches per second of @in since the last sample, or < 0 if unknown. */
static double top_rate(const struct top *t, const struct gl_lease_info *in,
		       double dt)
{
	const struct gl_lease_info *p;

	if (!t->prev || dt <= 0 || in->state != GL_LEASE_ACTIVE)
		return -1;
	p = bsearch(in, t->prev, (size_t)t->nprev, sizeof(*in),
		    info_name_cmp);
	if (!p || p->state != GL_LEASE_ACTIVE || p->launches > in->launches)
		return -1;
	return (double)(in->launches - p->launches) / dt;
}

static void top_devices(struct top *t, unsigned int *used,
			const struct gl_device_info *dev, int ndev)
{
	char bar[TOP_BAR_MAX + 1], u[16], cap[16];
	unsigned int width, fill, j;
	int i;

	width = t->cols > 40 + TOP_BAR_MIN ? t->cols - 40 : TOP_BAR_MIN;
	if (width > TOP_BAR_MAX)
		width = TOP_BAR_MAX;
	top_line(t, used, "%-3s %-10s %-5s %-*s  %s", "DEV", "NAME", "KIND",
		 (int)width + 2, "VRAM", "USED/CAPACITY");
	for (i = 0; i < ndev; i++) {
		const struct gl_device_info *d = &dev[i];
		double frac = d->capacity ?
			(double)d->used / (double)d->capacity : 0;

		fill = (unsigned int)lround(frac * width);
		if (fill > width)
			fill = width;
		for (j = 0; j < width; j++)
			bar[j] = j < fill ? '#' : '.';
		bar[width] = '\0';
		cli_fmt_size(u, sizeof(u), d->used);
		cli_fmt_size(cap, sizeof(cap), d->capacity);
		top_line(t, used, "%-3u %-10.10s %-5.5s [%s]  %s/%s %3.0f%%",
			 d->index, d->name, d->kind, bar, u, cap, frac * 100);
	}
}

static void top_leases(struct top *t, unsigned int *used,
		       struct gl_lease_info *list, int n, double dt)
{
	struct gl_lease_info **order;
	char vram[16], usedb[16], ttl[16], owner[32], dev[16], rate[24];
	unsigned int room;
	int i;

	order = calloc(n ? (size_t)n : 1, sizeof(*order));
	if (!order)
		return;
	for (i = 0; i < n; i++)
		order[i] = &list[i];
	qsort(order, (size_t)n, sizeof(*order), info_vram_cmp);
	top_line(t, used, "%-20s %-7s %7s %7s %7s %-10s %3s %10s %10s",
		 "NAME", "STATE", "VRAM", "USED", "TTL", "OWNER", "DEV",
		 "LAUNCHES", "LAUNCH/S");
	for (i = 0; i < n; i++) {
		const struct gl_lease_info *in = order[i];
		double r = top_rate(t, in, dt);

		room = t->rows ? t->rows - *used : 2;
		if (t->rows && room == 1 && i < n - 1) {
			top_line(t, used, "... %d more", n - i);
			break;
		}
		cli_fmt_owner(owner, sizeof(owner), in->owner);
		if (in->state != GL_LEASE_ACTIVE) {
			top_line(t, used, "%-20s %-7s %7s %7s %7s %-10.10s "
				 "%3s %10s %10s", in->name,
				 cli_state_name(in->state), "-", "-", "-",
				 owner, "-", "-", "-");
			continue;
		}
		cli_fmt_size(vram, sizeof(vram), in->vram);
		cli_fmt_size(usedb, sizeof(usedb), in->used);
		cli_fmt_secs(ttl, sizeof(ttl), in->expires_in);
		snprintf(dev, sizeof(dev), "%d", in->device);
		if (r < 0)
			strcpy(rate, "-");
		else
			snprintf(rate, sizeof(rate), "%.1f", r);
		top_line(t, used, "%-20s %-7s %7s %7s %7s %-10.10s %3s %10llu "
			 "%10s", in->name, cli_state_name(in->state), vram,
			 usedb, ttl, owner, dev,
			 (unsigned long long)in->launches, rate);
	}
	free(order);
}

static int model_name_cmp(const void *a, const void *b)
{
	const struct cli_model *x = a, *y = b;

	return strcmp(x->name, y->name);
}

/* Tokens per second of @m since the last sample, or < 0 if unknown. */
static double model_rate(const struct top *t, const struct cli_model *m,
			 double dt)
{
	const struct cli_model *p;

	if (!t->mprev || dt <= 0 || !m->stats)
		return -1;
	p = bsearch(m, t->mprev, (size_t)t->nmprev, sizeof(*m),
		    model_name_cmp);
	if (!p || !p->stats || p->tokens > m->tokens)
		return -1;
	return (double)(m->tokens - p->tokens) / dt;
}

/* The models section; @list (sorted by name here) becomes the sample. */
static void top_models(struct top *t, unsigned int *used,
		       struct cli_model *list, int n, double dt)
{
	char vram[16], rate[24], lat[16];
	double r;
	int i;

	if (n)	/* list is NULL when there is none */
		qsort(list, (size_t)n, sizeof(*list), model_name_cmp);
	top_line(t, used, "%s", "");
	top_line(t, used, "%-20s %-8s %-8s %7s %9s %7s %9s %9s", "MODEL",
		 "STATE", "ARCH", "VRAM", "REQUESTS", "RUNNING", "TOKENS/S",
		 "LATENCY");
	for (i = 0; i < n; i++) {
		if (t->rows && t->rows - *used == 1 && i < n - 1) {
			top_line(t, used, "... %d more", n - i);
			break;
		}
		r = model_rate(t, &list[i], dt);
		if (r < 0)
			strcpy(rate, "-");
		else
			snprintf(rate, sizeof(rate), "%.1f", r);
		cli_fmt_size(vram, sizeof(vram), list[i].vram);
		cli_fmt_latency(lat, sizeof(lat), &list[i]);
		top_line(t, used, "%-20s %-8s %-8s %7s %9llu %7u %9s %9s",
			 list[i].name, list[i].state, list[i].arch, vram,
			 (unsigned long long)list[i].requests,
			 list[i].running, rate, lat);
	}
}

/* Sample the tree and draw one frame. 0 or -errno (tree gone). */
static int top_draw(struct top *t)
{
	struct gl_device_info *dev = NULL;
	struct gl_lease_info *list = NULL;
	struct cli_model *models = NULL;
	unsigned int used = 0;
	char clock[16];
	double now, dt, total = 0, r;
	int ndev, n, i, expired = 0, nmodels;
	time_t wall = time(NULL);
	struct tm tm;

	ndev = gl_device_list(t->c->g, &dev);
	if (ndev < 0)
		return ndev;
	n = gl_lease_list(t->c->g, &list);
	if (n < 0) {
		free(dev);
		return n;
	}
	/* no models/ (an older daemon): no models section */
	nmodels = cli_model_list(t->c, &models);
	now = mono_now();
	dt = now - t->prev_t;
	for (i = 0; i < n; i++) {
		expired += list[i].state == GL_LEASE_EXPIRED;
		r = top_rate(t, &list[i], dt);
		if (r > 0)
			total += r;
	}
	localtime_r(&wall, &tm);
	strftime(clock, sizeof(clock), "%H:%M:%S", &tm);
	t->frame_len = 0;
	t->out = open_memstream(&t->frame, &t->frame_len);
	if (!t->out) {
		free(dev);
		free(list);
		free(models);
		return -ENOMEM;
	}
	if (t->screen)
		fputs("\033[H", t->out);
	top_line(t, &used, "gpulease top - %s - %s - %d lease%s (%d expired),"
		 " %.1f launches/s%s", gl_mount_path(t->c->g), clock, n,
		 n == 1 ? "" : "s", expired, total,
		 t->interactive ? " - q quits" : "");
	top_line(t, &used, "%s", "");
	top_devices(t, &used, dev, ndev);
	top_line(t, &used, "%s", "");
	top_leases(t, &used, list, n, dt);
	if (nmodels >= 0)
		top_models(t, &used, models, nmodels, dt);
	if (t->screen)
		fputs("\033[J", t->out);
	else
		fputc('\n', t->out);
	fclose(t->out);
	t->out = NULL;
	if (fwrite(t->frame, 1, t->frame_len, stdout) != t->frame_len)
		n = -EIO;
	fflush(stdout);
	free(t->frame);
	t->frame = NULL;
	free(dev);
	free(t->prev);
	t->prev = list;
	t->nprev = n < 0 ? 0 : n;
	free(t->mprev);
	t->mprev = nmodels < 0 ? NULL : models;
	t->nmprev = nmodels < 0 ? 0 : nmodels;
	t->prev_t = now;
	return n < 0 ? n : 0;
}

static void top_restore(struct top *t)
{
	if (t->screen)
		fputs("\033[?25h\033[?1049l", stdout);
	fflush(stdout);
	if (t->raw)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &t->saved);
	t->raw = 0;
}

/* Alternate screen, hidden cursor, keys without Enter or echo. */
static int top_setup(struct top *t)
{
	struct termios raw;

	if (t->screen)
		fputs("\033[?1049h\033[?25l\033[H\033[2J", stdout);
	fflush(stdout);
	if (!t->interactive)
		return 0;
	if (tcgetattr(STDIN_FILENO, &t->saved))
		return -errno;
	raw = t->saved;
	raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);	/* keep ISIG: ^C */
	raw.c_cc[VMIN] = 1;
	raw.c_cc[VTIME] = 0;
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw))
		return -errno;
	t->raw = 1;
	return 0;
}

/*
 * Wait up to @secs for a key or a signal. Returns 1 to quit, 0 to
 * refresh, or -errno.
 */
static int top_wait(struct top *t, double secs)
{
	struct pollfd pfd[2] = {
		{ .fd = t->sfd, .events = POLLIN },
		{ .fd = STDIN_FILENO, .events = POLLIN },
	};
	struct signalfd_siginfo si;
	char key[16];
	double end = mono_now() + secs, left;
	ssize_t n;
	int r, i;

	for (;;) {
		left = end - mono_now();
		if (left <= 0)
			return 0;
		r = poll(pfd, t->interactive ? 2 : 1, (int)ceil(left * 1000));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (!r)
			return 0;
		if (pfd[0].revents & POLLIN) {
			if (read(t->sfd, &si, sizeof(si)) != sizeof(si))
				return -EIO;
			if (si.ssi_signo != SIGWINCH)
				return 1;
			top_size(t);
			return 0;
		}
		if (pfd[1].revents & (POLLHUP | POLLERR))
			return 1;
		if (pfd[1].revents & POLLIN) {
			n = read(STDIN_FILENO, key, sizeof(key));
			if (n <= 0)
				return 1;
			for (i = 0; i < n; i++)
				if (key[i] == 'q' || key[i] == 'Q' ||
				    key[i] == 3)
					return 1;
			return 0;	/* any other key: refresh now */
		}
	}
}

static int top_loop(struct top *t)
{
	unsigned long frames = 0;
	int err;

	for (;;) {
		err = top_draw(t);
		if (err)
			return err;
		if (t->iterations && ++frames >= t->iterations)
			return 0;
		err = top_wait(t, t->interval);
		if (err)
			return err < 0 ? err : 0;
	}
}

static int top_run(struct cli *c, const struct cli_cmd *cmd, int argc,
		   char **argv)
{
	static const struct option opts[] = {
		{ "interval", required_argument, NULL, 'd' },
		{ "iterations", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct top t = { .c = c, .interval = 1, .sfd = -1 };
	sigset_t set, old;
	uint32_t iters;
	char *end;
	int o, err;

	while ((o = getopt_long(argc, argv, ":d:n:h", opts, NULL)) != -1) {
		switch (o) {
		case 'd':
			t.interval = strtod(optarg, &end);
			if (*end || end == optarg || !(t.interval >= 0.1) ||
			    t.interval > 3600)
				return cli_usage(cmd, "bad interval '%s'",
						 optarg);
			break;
		case 'n':
			if (cli_parse_uint(optarg, UINT32_MAX, &iters))
				return cli_usage(cmd, "bad count '%s'",
						 optarg);
			t.iterations = iters;
			break;
		case 'h':
			return cli_help(cmd);
		default:
			return cli_bad_opt(cmd, o, argv);
		}
	}
	if (optind != argc)
		return cli_usage(cmd, "unexpected argument '%s'",
				 argv[optind]);
	if (cli_open(c))
		return EXIT_FAIL;
	t.screen = isatty(STDOUT_FILENO);
	t.interactive = t.screen && isatty(STDIN_FILENO);
	top_size(&t);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGWINCH);
	sigprocmask(SIG_BLOCK, &set, &old);
	t.sfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (t.sfd < 0) {
		err = -errno;
		goto out;
	}
	err = top_setup(&t);
	if (!err)
		err = top_loop(&t);
	top_restore(&t);
	close(t.sfd);
out:
	sigprocmask(SIG_SETMASK, &old, NULL);
	free(t.prev);
	free(t.mprev);
	if (err) {
		cli_err(c, NULL, err);
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

const struct cli_cmd cli_cmd_top = {
	.name = "top",
	.args = "[--interval SECS] [--iterations N]",
	.summary = "live view of devices, leases and models",
	.run = top_run,
	.help =
	"Show the devices, each with a bar of its VRAM in use, and the\n"
	"leases, biggest reservation first, with launches per second (the\n"
	"change of each lease's launch count since the last refresh), and\n"
	"the models you can see, with tokens per second (likewise) and the\n"
	"mean latency of their requests.\n"
	"Refreshes every second on the terminal's alternate screen; q, Q,\n"
	"SIGINT (Ctrl-C) or SIGTERM quits and restores the terminal, any\n"
	"other key refreshes at once. When standard output is not a terminal\n"
	"each refresh is printed as plain text after the last.\n"
	"\n"
	"  -d, --interval SECS   seconds between refreshes (0.1 to 3600;\n"
	"                        default 1)\n"
	"  -n, --iterations N    quit after N refreshes (default: never)\n"
	"  -h, --help            show this help\n",
};
