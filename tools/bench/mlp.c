/* SPDX-License-Identifier: MIT */
/*
 * mlp: requests per second of a gpulease-mlp model through a daemon's
 * models/NAME/infer (the binary gl_infer_tensor form, one row per
 * request) at 1, 4 and 16 concurrent clients, batching off (a model of
 * max_batch=1) against on (max_batch=16, max_delay_us=D), both loaded
 * with threads=T from the same seeded checkpoint this bench writes
 * (config.json and model.safetensors), in alternating runs of the same rounds: the ratio
 * on/off per client count, and each request's latency (p50, p99). Each
 * client is a thread that opens infer anew for every request (a
 * transaction per open). Every answer is compared bit for bit with the
 * same row run alone in process (mlp_forward(), the daemon's code): a
 * wrong answer fails the run. As context, the in-process cost of a
 * 16-row pass against a 1-row pass.
 *
 * The shape: WIDTH inputs, LAYERS dense WIDTH x WIDTH relu layers, a
 * WIDTH -> 16 output layer; at the defaults (4096, 1) 67 MB of f32
 * weights, beyond the machine's caches, so a one-row pass (a
 * matrix-vector product, 2 flops per 4-byte weight) is bound by reading
 * the weights, which a 16-row pass reads once for all its rows
 * (kernels/matmul-nt.c). A few MB would not do: at 1024 x 2 (8.5 MB) the
 * weights stay in the last-level cache and a one-row pass already runs
 * at the kernel's arithmetic speed, 1/15 of a 16-row pass's time.
 * Passes in process are timed in the thread's CPU time, so neighbours
 * on a loaded machine do not stretch the long pass more than the short.
 * D defaults to 0: with clients in a closed loop the requests queued
 * during one pass make the next one's batch, and a positive delay only
 * made a lone client wait (Documentation/performance.md, "mlp").
 * Latency is a request's write to its answer's end; requests per second
 * count the whole loop, each request's open and close included.
 *
 * Invariant: everything it starts or writes (the daemon, its threads,
 * the temporary directory, the models) is gone when it exits, on errors
 * too.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon/model/hfconfig.h"
#include "daemon/model/mlp.h"
#include "daemon/model/safetensors.h"
#include "kernels/blas.h"
#include "kernels/kernels.h"
#include "tools/bench/bench.h"
#include "tools/bench/infer.h"
#include "tools/bench/mlp-ckpt.h"
#include "tools/bench/stats.h"
#include "tools/bench/verbs.h"
#include "uapi/model.h"

#define ROUNDS_MAX	32
#define REQUESTS_MAX	10000	/* per client per run */
#define CLIENTS_MAX	16
#define OUTS		16	/* the last layer's outputs */
#define BATCH		16	/* the batching model's max_batch */
#define ROWS_IN		64	/* distinct input rows the clients cycle */
#define PASS_REPS	16	/* in-process passes per timing */

static const long counts[] = { 1, 4, 16 };	/* clients */
#define NCOUNTS		(sizeof(counts) / sizeof(counts[0]))
enum { OFF, ON, MODES };
static const char *const mode_name[MODES] = { "off", "on" };

struct bench {
	long requests, rounds, width, layers, delay_us, threads;
	const char *daemon_opt;
	char daemon[PATH_MAX];
	char base[32], mnt[PATH_MAX], dir[PATH_MAX];
	struct spawn_daemon gl;
	size_t req_len, ans_len;	/* one row's request, answer */
	char *reqs;			/* ROWS_IN requests, req_len apart */
	float *want;			/* [ROWS_IN][OUTS]: rows alone */
	uint64_t pass_ns[2][ROUNDS_MAX];	/* 1 row, BATCH rows */
	uint64_t rate[NCOUNTS][MODES][ROUNDS_MAX];	/* req/s x 1000 */
	uint64_t rate_ratio[NCOUNTS][ROUNDS_MAX];	/* on/off x 1000 */
	uint64_t *lat[NCOUNTS][MODES];	/* every request's ns */
	size_t nlat[NCOUNTS][MODES];
	/* the model's stats over the kept runs: passes, their rows, the
	 * requests admitted and their summed queue time (us) */
	uint64_t stat[NCOUNTS][MODES][4];
	atomic_long wrong;		/* answers not the rows alone */
};

static void bench_usage(FILE *f)
{
	fprintf(f,
"usage: mlp [options]\n"
"\n"
"Requests per second of a seeded random gpulease-mlp (WIDTH inputs,\n"
"LAYERS WIDTH x WIDTH relu layers, 16 outputs) through a gpuleased's\n"
"models/NAME/infer, one row per request in the binary form, at 1, 4\n"
"and 16 concurrent clients (threads), batching off (max_batch=1)\n"
"against on (max_batch=16 max_delay_us=D), in alternating runs: the\n"
"ratio on/off, p50 and p99 latency, rows per pass. Every answer is\n"
"checked against the row run alone in process. Then, as context, a\n"
"16-row pass against a 1-row pass in process. Run as root.\n"
"\n"
"  -n, --requests N   requests per client per run (default 32)\n"
"  -r, --rounds N     rounds of runs, the median is reported\n"
"                     (default 3, at most 32)\n"
"  -d, --delay-us D   the batching model's max_delay_us (default 0: a\n"
"                     pass takes who queued during the last one)\n"
"      --width N      inputs and hidden width, 16..8192 (default 4096)\n"
"      --layers N     WIDTH x WIDTH relu layers, 1..8 (default 1)\n"
"  -t, --threads N    both models' threads=, 1..16 (default 1)\n"
"      --daemon PATH  the gpuleased to run (default: the build's)\n"
"  -h, --help         this text\n");
}

static int bench_parse(void *state, int argc, char **argv)
{
	struct bench *b = state;
	const struct bench_opt opts[] = {
		{ "requests", 'n', BENCH_OPT_LONG, &b->requests, 1, REQUESTS_MAX,
		  32 },
		{ "rounds", 'r', BENCH_OPT_LONG, &b->rounds, 1, ROUNDS_MAX,
		  3 },
		{ "delay-us", 'd', BENCH_OPT_LONG, &b->delay_us, 0, 10000000,
		  0 },
		{ "width", 0, BENCH_OPT_LONG, &b->width, 16, 8192, 4096 },
		{ "layers", 0, BENCH_OPT_LONG, &b->layers, 1, 8, 1 },
		{ "threads", 't', BENCH_OPT_LONG, &b->threads, 1, 16, 1 },
		{ "daemon", 0, BENCH_OPT_STR, &b->daemon_opt, 0,
		  PATH_MAX - 1, 0 },
		{ NULL },
	};
	const struct bench_cli cli = {
		.prog = "mlp", .usage = bench_usage, .opts = opts,
	};
	int err;

	err = bench_cli_parse(&cli, argc, argv);
	if (err)
		return err;
	return spawn_daemon_path(b->daemon_opt, b->daemon,
				 sizeof(b->daemon)) ? 2 : 0;
}

/* Is @out (@n bytes) the answer to input row @row alone? The first
 * wrong one is printed. */
static bool answer_ok(struct bench *b, const char *out, ssize_t n, long row,
		      const char *model)
{
	struct gl_infer_tensor h;
	const float *want = b->want + row * OUTS;
	float y[OUTS];
	int i;

	if (n == (ssize_t)b->ans_len) {
		memcpy(&h, out, sizeof(h));
		memcpy(y, out + sizeof(h), sizeof(y));
		if (h.magic == GL_INFER_MAGIC && h.dtype == GL_INFER_F32 &&
		    h.rows == 1 && h.cols == OUTS && !h.served_by &&
		    !memcmp(y, want, sizeof(y)))
			return true;
	}
	if (atomic_fetch_add(&b->wrong, 1))
		return false;
	fprintf(stderr, "mlp: model %s, input row %ld: a wrong answer (%zd "
		"bytes, want %zu)", model, row, n, b->ans_len);
	for (i = 0; n == (ssize_t)b->ans_len && i < OUTS; i++)
		if (memcmp(&y[i], &want[i], 4)) {
			fprintf(stderr, ": output %d is %.9g, alone %.9g", i,
				(double)y[i], (double)want[i]);
			break;
		}
	fprintf(stderr, "\n");
	return false;
}

/* this thread's CPU time in ns: a pass's cost whatever else runs */
static uint64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The in-process model: its plan and block, every input row's answer
 * alone into want, and the 1-row and 16-row passes timed. */
static int bench_model(struct bench *b, const char *cfg, const char *st,
		       size_t st_len)
{
	struct hf_config hc;
	struct st_file f = { 0 };
	struct hf_mlp_map map;
	struct mlp_plan plan;
	char why[256];
	float *x, *y;
	void *block = NULL;
	uint64_t t0;
	long r, i, k, rows;
	int err;

	err = hf_config_parse(cfg, strlen(cfg), &hc, why, sizeof(why));
	if (!err)
		err = st_parse(st, st_len, &f, why, sizeof(why));
	if (!err)
		err = hf_mlp_map(&hc.mlp, &f, &map, why, sizeof(why));
	if (err) {
		fprintf(stderr, "mlp: the checkpoint: %s\n", why);
		goto out;
	}
	err = mlp_plan(&hc.mlp, BATCH, &plan);
	if (err)
		goto out;
	block = aligned_alloc(64, (plan.total_bytes + 63) & ~(uint64_t)63);
	err = block ? mlp_load(&plan, &map, st, st_len, block) : -ENOMEM;
	if (err)
		goto out;
	x = mlp_input(&plan, block);
	y = mlp_output(&plan, block);
	for (i = 0; !err && i < ROWS_IN; i++) {
		memcpy(x, b->reqs + i * b->req_len +
		       sizeof(struct gl_infer_tensor), (size_t)b->width * 4);
		err = mlp_forward(&plan, block, 1, NULL, NULL);
		memcpy(b->want + i * OUTS, y, OUTS * 4);
	}
	/* alternately PASS_REPS 1-row and BATCH-row passes, each after
	 * its input rows are copied in (a pass overwrites them), a round of
	 * warm-up first; the batch's rows must be the rows alone */
	for (r = -1; !err && r < b->rounds; r++) {
		for (k = 0; !err && k < 2 * PASS_REPS; k++) {
			rows = k < PASS_REPS ? 1 : BATCH;
			t0 = cpu_ns();
			for (i = 0; i < rows; i++)
				memcpy(x + i * b->width, b->reqs +
				       i * b->req_len +
				       sizeof(struct gl_infer_tensor),
				       (size_t)b->width * 4);
			err = mlp_forward(&plan, block, (uint32_t)rows, NULL,
					  NULL);
			if (r >= 0)
				b->pass_ns[rows > 1][r] += (cpu_ns() - t0) /
							   PASS_REPS;
		}
		for (i = 0; !err && i < BATCH; i++)
			if (memcmp(y + i * OUTS, b->want + i * OUTS, OUTS * 4))
				err = -EIO;
	}
	if (err == -EIO)
		fprintf(stderr, "mlp: a %d-row pass in process is not its "
			"rows alone\n", BATCH);
out:
	free(block);
	st_free(&f);
	return err;
}

static int bench_setup(struct bench *b)
{
	struct gl_infer_tensor h = {
		.magic = GL_INFER_MAGIC, .dtype = GL_INFER_F32, .rows = 1,
		.cols = (uint32_t)b->width,
	};
	const struct mlp_ckpt ck = {
		.dir = b->dir, .width = b->width, .layers = b->layers,
		.outs = OUTS,
	};
	char cfg[8192], *st = NULL;
	size_t st_len = 0;
	uint32_t s = 11;
	float *x;
	long i, j;
	int err;

	b->req_len = sizeof(h) + (size_t)b->width * 4;
	b->ans_len = sizeof(h) + OUTS * 4;
	b->reqs = malloc(ROWS_IN * b->req_len);
	b->want = malloc(ROWS_IN * OUTS * sizeof(float));
	if (!b->reqs || !b->want)
		return -ENOMEM;
	for (i = 0; i < ROWS_IN; i++) {
		memcpy(b->reqs + i * b->req_len, &h, sizeof(h));
		x = (float *)(b->reqs + i * b->req_len + sizeof(h));
		for (j = 0; j < b->width; j++)
			x[j] = mlp_ckpt_rnd(&s);
	}
	err = spawn_tempdir(b->base);
	if (!err)
		err = spawn_mountpoint(b->base, "mnt", b->mnt, sizeof(b->mnt));
	if (!err)
		err = spawn_mountpoint(b->base, "model", b->dir,
				       sizeof(b->dir));
	if (!err)
		err = mlp_ckpt_write(&ck, &st, &st_len, cfg, sizeof(cfg));
	if (!err)
		err = bench_model(b, cfg, st, st_len);
	free(st);
	for (i = 0; !err && i < (long)NCOUNTS; i++)
		for (j = 0; !err && j < MODES; j++) {
			b->lat[i][j] = calloc((size_t)(b->rounds * counts[i] *
						       b->requests),
					      sizeof(uint64_t));
			if (!b->lat[i][j])
				err = -ENOMEM;
		}
	return err;
}

static int bench_cleanup(struct bench *b)
{
	int err = spawn_daemon_stop(&b->gl);
	char cmd[64];
	size_t i, j;

	for (i = 0; i < NCOUNTS; i++)
		for (j = 0; j < MODES; j++)
			free(b->lat[i][j]);
	free(b->reqs);
	free(b->want);
	if (b->base[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", b->base);
		if (system(cmd))
			err = err ? err : -EIO;
	}
	return err;
}

/* models/@model/stats's @key into *@v. 0 or -errno (printed). */
static int stat_key(const struct bench *b, const char *model,
		    const char *key, uint64_t *v)
{
	char path[PATH_MAX + 32], buf[4096], *p;
	size_t len = strlen(key);
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/models/%s/stats", b->mnt, model);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return verb_fail("open", path, -errno);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return verb_fail("read", path, -errno);
	buf[n] = '\0';
	for (p = buf; p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, key, len) && p[len] == ' ') {
			*v = strtoull(p + len + 1, NULL, 10);
			return 0;
		}
	return verb_fail("no key in", path, -ENOENT);
}

/* the counters of bench.stat[][][] from models/@model/stats */
static int stats_read(const struct bench *b, const char *model,
		      uint64_t v[4])
{
	static const char *const key[4] = {
		"steps", "batch_rows", "queue_count", "queue_sum_us",
	};
	int i, err = 0;

	for (i = 0; !err && i < 4; i++)
		err = stat_key(b, model, key[i], &v[i]);
	return err;
}

/* The clients' start line: they wait until main says go (1) or stop. */
struct start {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int state;			/* 0 wait, 1 go, -1 stop */
};

struct client {
	struct bench *b;
	struct start *start;
	const char *path;		/* the model's infer */
	const char *model;
	pthread_t th;
	long id;
	uint64_t *lat;			/* b->requests of them */
	int err;
};

static void *client_main(void *arg)
{
	struct client *c = arg;
	struct bench *b = c->b;
	char out[256];
	uint64_t ttft;
	long i, row;
	ssize_t n;
	int state;

	pthread_mutex_lock(&c->start->lock);
	while (!(state = c->start->state))
		pthread_cond_wait(&c->start->cond, &c->start->lock);
	pthread_mutex_unlock(&c->start->lock);
	for (i = 0; state > 0 && i < b->requests; i++) {
		if (spawn_stop) {
			c->err = -EINTR;
			break;
		}
		row = (c->id * 5 + i) % ROWS_IN;
		n = infer_request(c->path, b->reqs + row * b->req_len,
				  b->req_len, out, sizeof(out), &ttft,
				  &c->lat[i]);
		if (n < 0) {
			c->err = (int)n;
			break;
		}
		answer_ok(b, out, n, row, c->model);
	}
	return NULL;
}

/*
 * One run: counts[@ci] clients on model mode_name[@mode], b->requests
 * each, all started at once; round @r's rate and latencies (r < 0: a
 * warm-up, not kept) and the passes it took.
 */
static int run(struct bench *b, size_t ci, int mode, long r)
{
	static uint64_t scratch[CLIENTS_MAX * REQUESTS_MAX];
	struct start st = { PTHREAD_MUTEX_INITIALIZER,
			    PTHREAD_COND_INITIALIZER, 0 };
	struct client cl[CLIENTS_MAX];
	const char *model = mode_name[mode];
	char path[PATH_MAX + 32];
	uint64_t t0, wall, st0[4], st1[4], *lat;
	long n = counts[ci], i, started;
	int err;

	snprintf(path, sizeof(path), "%s/models/%s/infer", b->mnt, model);
	lat = r < 0 ? scratch : b->lat[ci][mode] + b->nlat[ci][mode];
	err = stats_read(b, model, st0);
	if (err)
		return err;
	for (started = 0; started < n; started++) {
		cl[started] = (struct client){
			.b = b, .start = &st, .path = path, .model = model,
			.id = started, .lat = lat + started * b->requests,
		};
		if (pthread_create(&cl[started].th, NULL, client_main,
				   &cl[started])) {
			err = -EAGAIN;
			break;
		}
	}
	pthread_mutex_lock(&st.lock);
	st.state = err ? -1 : 1;
	pthread_cond_broadcast(&st.cond);
	pthread_mutex_unlock(&st.lock);
	t0 = stats_now_ns();
	for (i = 0; i < started; i++) {
		pthread_join(cl[i].th, NULL);
		err = err ? err : cl[i].err;
	}
	wall = stats_now_ns() - t0;
	if (!err)
		err = stats_read(b, model, st1);
	if (err || r < 0)
		return err;
	b->rate[ci][mode][r] = (uint64_t)((double)(n * b->requests) *
					  1e12 / (double)wall);
	b->nlat[ci][mode] += (size_t)(n * b->requests);
	for (i = 0; i < 4; i++)
		b->stat[ci][mode][i] += st1[i] - st0[i];
	return 0;
}

static int load(struct bench *b, const char *name, const char *opts)
{
	char path[PATH_MAX + 16], line[2 * PATH_MAX];

	snprintf(path, sizeof(path), "%s/models/ctl", b->mnt);
	snprintf(line, sizeof(line), "load %s %s %s\n", name, b->dir, opts);
	return verb_write_file(path, line);
}

/* both models, then rounds of runs per client count, off and on in
 * turn (which first alternates by round), a warm-up round first */
static int bench_runs(struct bench *b)
{
	char opts[64], path[PATH_MAX + 16];
	size_t ci;
	long r;
	int first, err;

	snprintf(opts, sizeof(opts), "max_batch=1 threads=%ld", b->threads);
	err = load(b, mode_name[OFF], opts);
	snprintf(opts, sizeof(opts), "max_batch=%d max_delay_us=%ld "
		 "threads=%ld", BATCH, b->delay_us, b->threads);
	if (!err)
		err = load(b, mode_name[ON], opts);
	for (r = -1; !err && r < b->rounds; r++)
		for (ci = 0; !err && ci < NCOUNTS; ci++) {
			first = r & 1 ? ON : OFF;
			err = run(b, ci, first, r);
			if (!err)
				err = run(b, ci, !first, r);
			if (!err && r >= 0)
				b->rate_ratio[ci][r] = b->rate[ci][ON][r] *
					1000 / b->rate[ci][OFF][r];
		}
	snprintf(path, sizeof(path), "%s/models/ctl", b->mnt);
	if (verb_write_file(path, "unload on\n") && !err)
		err = -EIO;
	if (verb_write_file(path, "unload off\n") && !err)
		err = -EIO;
	return err;
}

static double median(uint64_t *v, long n)
{
	stats_sort(v, (size_t)n);
	return (double)v[n / 2];
}

static void bench_report(struct bench *b)
{
	double p1, p16, rate[MODES], pr;
	uint64_t *l, *st;
	size_t ci, n;
	long r;
	int m;

	printf("mlp: %ld inputs, %ld x %ld relu layer(s), %d outputs: "
	       "%.1f MB of f32 weights; on: max_batch=%d max_delay_us=%ld, "
	       "off: max_batch=1; both threads=%ld; %ld requests of 1 row "
	       "per client per run, %ld rounds (median)\n", b->width,
	       b->layers, b->width, OUTS,
	       (double)((b->layers * b->width + OUTS) * (b->width + 1) * 4) /
	       1e6, BATCH, b->delay_us, b->threads, b->requests, b->rounds);
	p1 = median(b->pass_ns[0], b->rounds);
	p16 = median(b->pass_ns[1], b->rounds);
	printf("in process, one thread: a 1-row pass %.1f us, a %d-row pass "
	       "%.1f us: "
	       "%.2fx the time for %dx the rows\n", p1 / 1e3, BATCH,
	       p16 / 1e3, p16 / p1, BATCH);
	printf("%7s | %9s %7s %7s %5s %7s | %9s %7s %7s %5s %7s | %6s | %s\n",
	       "clients", "off req/s", "p50 us", "p99 us", "rows", "queue",
	       "on req/s", "p50 us", "p99 us", "rows", "queue", "on/off",
	       "per round");
	for (ci = 0; ci < NCOUNTS; ci++) {
		printf("%7ld |", counts[ci]);
		for (m = 0; m < MODES; m++) {
			l = b->lat[ci][m];
			n = b->nlat[ci][m];
			stats_sort(l, n);
			st = b->stat[ci][m];
			printf(" %9.1f %7.0f %7.0f %5.2f %7.0f |",
			       median(b->rate[ci][m], b->rounds) / 1e3,
			       stats_percentile(l, n, 50) / 1e3,
			       stats_percentile(l, n, 99) / 1e3,
			       st[0] ? (double)st[1] / (double)st[0] : 0.0,
			       st[2] ? (double)st[3] / (double)st[2] : 0.0);
			rate[m] = median(b->rate[ci][m], b->rounds);
		}
		printf(" %5.2fx |", rate[ON] / rate[OFF]);
		for (r = 0; r < b->rounds; r++) {
			pr = (double)b->rate_ratio[ci][r] / 1e3;
			printf(" %.2f", pr);
		}
		printf("\n");
	}
	printf("target: on/off >= 5x at 16 clients: %.2fx, %s; answers not "
	       "their rows alone: %ld\n", rate[ON] / rate[OFF],
	       rate[ON] >= 5 * rate[OFF] ? "met" : "NOT met",
	       atomic_load(&b->wrong));
}

int main(int argc, char **argv)
{
	const char *const args[] = { "--cpu-vram", "2G", NULL };
	struct bench *b;
	int err, ret = 1;

	b = bench_new(sizeof(*b), "mlp", bench_parse, argc, argv, &ret);
	if (!b)
		return ret;
	err = gl_kernel_cpu_init(1);
	if (err)
		fprintf(stderr, "mlp: OpenBLAS: %s\n", gl_blas_why());
	if (!err)
		err = bench_setup(b);
	if (!err)
		err = spawn_daemon_start(&b->gl, b->daemon, b->mnt, args);
	if (!err)
		err = bench_runs(b);
	if (!err)
		bench_report(b);
	if (!err && atomic_load(&b->wrong))
		err = -EIO;
	ret = bench_failed("mlp", err);
	return bench_done(b, bench_cleanup(b), ret);
}
