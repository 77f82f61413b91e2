/* SPDX-License-Identifier: MIT */
/*
 * generate: single-stream generation on a seeded random Llama of the
 * stories15M shape (dim 288, hidden 768, 6 layers, 6 heads, vocab 32000,
 * seq 256, tied classifier), written by this bench as a legacy llama2.c
 * file. In alternating rounds, greedy from token 1: through a real
 * daemon's models/NAME/infer ("output=ids"), through a direct in-process
 * call of the same forward pass (llama_step_team() on as many threads),
 * and through a plain C forward pass in run.c's style (tools/bench/
 * plain.c, OpenMP): tokens per second of wall time and time to first
 * token, as ratios, and against the memory floor of a token (the
 * file's bytes read once by plain C's threads, from plain C's copy and
 * from a lease-like one). The three must produce the same tokens. Then
 * load time and a burst model's cold start (ctl "cold", then a
 * one-token request to its end) against reading the file (page cache
 * warm) and against its floor here (a fresh region of the file's size,
 * made by the CPU device's own reserve, as a new lease's is, the file
 * copied into it, released), the
 * daemon's resident memory per loaded model beyond its lease, and
 * continuous batching: S concurrent streams against one (streams.c).
 *
 * Invariant: everything it starts or writes (the daemon, the temporary
 * directory, the models) is gone when it exits, on errors too.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/dev/dev.h"
#include "daemon/model/llama.h"
#include "daemon/model/team.h"
#include "kernels/blas.h"
#include "kernels/kernels.h"
#include "tools/bench/bench.h"
#include "tools/bench/infer.h"
#include "tools/bench/llama-ckpt.h"
#include "tools/bench/plain.h"
#include "tools/bench/stats.h"
#include "tools/bench/streams.h"
#include "tools/bench/verbs.h"

#define ROUNDS_MAX	64
#define MODELS_MAX	16
#define ANSWER_MAX	(16 * 256)

enum { WAY_INFER, WAY_DIRECT, WAY_PLAIN, WAYS };
static const char *const way_name[WAYS] = {
	"infer (daemon)", "direct llama_step", "plain C, run.c's method",
};

struct bench {
	long rounds, tokens, threads, models, streams, stream_tokens;
	const char *daemon_opt;
	char daemon[PATH_MAX];
	char base[32], mnt[PATH_MAX], file[PATH_MAX];
	struct spawn_daemon gl;
	void *ckpt;			/* the file's bytes */
	size_t ckpt_len;
	uint32_t ids[WAYS][256];	/* the first round's tokens */
	uint64_t gen_ns[WAYS][ROUNDS_MAX], ttft_ns[WAYS][ROUNDS_MAX];
	uint64_t load_ns[ROUNDS_MAX], read_ns[ROUNDS_MAX];
	uint64_t floor_ns[2][ROUNDS_MAX];	/* one sweep: file, lease */
	uint64_t cold_ns[ROUNDS_MAX];	/* cold, request, first token */
	uint64_t fresh_ns[ROUNDS_MAX];	/* a fresh region's first touch */
	/* the direct way */
	struct llama_plan plan;
	void *block;
	struct team *team;
	struct plain plain;
	/* the floor's lease-like copy of the file (huge pages) */
	struct dev_region *lease;
	void *lease_base;
};

static const uint32_t shape[7] = { 288, 768, 6, 6, 6, 32000, 256 };

static void bench_usage(FILE *f)
{
	fprintf(f,
"usage: generate [options]\n"
"\n"
"Generates greedy tokens on a seeded random stories15M-shape Llama\n"
"through a gpuleased's models/NAME/infer, a direct call of the same\n"
"forward pass, and a plain C forward pass in llama2.c run.c's style\n"
"(OpenMP; not run.c), in alternating rounds; then load time, a burst\n"
"model's cold start (against reading the file, and against a fresh\n"
"region of the file's size touched once per page: its floor here), the\n"
"daemon's memory per model and concurrent streams. Run as root.\n"
"\n"
"  -n, --tokens N       tokens per generation (default 255: with the\n"
"                       prompt token, the 256 positions)\n"
"  -r, --rounds N       rounds, the median is reported (default 3)\n"
"  -t, --threads N      the model's threads= and the direct call's\n"
"                       (default 2); the plain pass uses OpenMP's\n"
"                       default (OMP_NUM_THREADS)\n"
"  -m, --models N       models loaded for the memory figure (default 4)\n"
"  -s, --streams N      concurrent streams against one, on a model of\n"
"                       max_batch=N (default 8; 0: skipped)\n"
"      --stream-tokens N  tokens per request there (default 64)\n"
"      --daemon PATH    the gpuleased to run\n"
"  -h, --help           this text\n");
}

static int bench_parse(void *state, int argc, char **argv)
{
	struct bench *b = state;
	const struct bench_opt opts[] = {
		{ "tokens", 'n', BENCH_OPT_LONG, &b->tokens, 1, 255, 255 },
		{ "rounds", 'r', BENCH_OPT_LONG, &b->rounds, 1, ROUNDS_MAX,
		  3 },
		{ "threads", 't', BENCH_OPT_LONG, &b->threads, 1,
		  LLAMA_MAX_THREADS, 2 },
		{ "models", 'm', BENCH_OPT_LONG, &b->models, 1, MODELS_MAX,
		  4 },
		{ "streams", 's', BENCH_OPT_LONG, &b->streams, 0, 64, 8 },
		{ "stream-tokens", 0, BENCH_OPT_LONG, &b->stream_tokens, 1,
		  254, 64 },
		{ "daemon", 0, BENCH_OPT_STR, &b->daemon_opt, 0,
		  PATH_MAX - 1, 0 },
		{ NULL },
	};
	const struct bench_cli cli = {
		.prog = "generate", .usage = bench_usage, .opts = opts,
	};
	int err;

	err = bench_cli_parse(&cli, argc, argv);
	if (err)
		return err;
	return spawn_daemon_path(b->daemon_opt, b->daemon,
				 sizeof(b->daemon)) ? 2 : 0;
}

/*
 * lease_copy - a region of @len bytes reserved as the CPU device reserves
 * a lease's (daemon/dev/cpu.c: mapped, huge pages, populated), with the
 * @len bytes at @src copied in: *@out and its address *@base. 0 or
 * -errno (said); nothing is left on failure.
 */
static int lease_copy(const void *src, size_t len, struct dev_region **out,
		      void **base)
{
	int err;

	err = dev_cpu_ops.reserve(&(struct dev){ 0 }, len, out);
	if (err)
		return verb_fail("reserve", "region", err);
	err = dev_cpu_ops.resolve(*out, 0, len, base);
	if (err) {
		dev_cpu_ops.release(*out);
		*out = NULL;
		return verb_fail("resolve", "region", err);
	}
	memcpy(*base, src, len);
	return 0;
}

static int bench_setup(struct bench *b)
{
	struct l2c_file f;
	struct llama_config c;
	char why[128];
	int err;

	err = llama_ckpt_make(&(struct llama_ckpt){
		shape[0], shape[1], shape[2], shape[3], shape[4], shape[5],
		shape[6] }, &b->ckpt, &b->ckpt_len);
	if (!err)
		err = spawn_tempdir(b->base);
	if (!err)
		err = spawn_mountpoint(b->base, "mnt", b->mnt, sizeof(b->mnt));
	if (err)
		return err;
	snprintf(b->file, sizeof(b->file), "%s/model.bin", b->base);
	err = verb_create_file(b->file, b->ckpt, b->ckpt_len);
	if (err)
		return err;
	err = l2c_parse(b->ckpt, b->ckpt_len, &f, why, sizeof(why));
	if (err) {
		fprintf(stderr, "generate: %s\n", why);
		return err;
	}
	llama_config_l2c(&f.cfg, &c);
	err = llama_plan(&c, 1, c.seq_len, &b->plan);
	if (err)
		return err;
	b->block = aligned_alloc(LLAMA_ALIGN, b->plan.total_bytes);
	if (!b->block)
		return -ENOMEM;
	err = llama_load_l2c(&b->plan, &f, b->ckpt, b->ckpt_len, b->block);
	if (!err && b->threads > 1)
		err = team_new((unsigned int)b->threads, &b->team);
	if (!err)
		err = plain_init(&b->plain, b->ckpt, b->ckpt_len);
	if (!err)
		err = lease_copy(b->ckpt, b->ckpt_len, &b->lease,
				 &b->lease_base);
	return err;
}

static int bench_cleanup(struct bench *b)
{
	int err = spawn_daemon_stop(&b->gl);
	char cmd[64];

	if (b->lease)
		dev_cpu_ops.release(b->lease);
	team_free(b->team);
	plain_free(&b->plain);
	free(b->block);
	free(b->ckpt);
	if (b->base[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", b->base);
		if (system(cmd))
			err = err ? err : -EIO;
	}
	return err;
}

/* greedy: the first largest logit, as the argmax kernel */
static uint32_t argmax(const float *x, uint32_t n)
{
	uint32_t i, best = 0;

	for (i = 1; i < n; i++)
		if (x[i] > x[best])
			best = i;
	return best;
}

/* one generation through the daemon: time to the first byte, to EOF */
static int gen_infer(struct bench *b, uint32_t *ids, uint64_t *ttft,
		     uint64_t *total)
{
	char path[PATH_MAX + 32], req[64], out[ANSWER_MAX], *p, *end;
	ssize_t n;
	long i;

	snprintf(path, sizeof(path), "%s/models/gen/infer", b->mnt);
	snprintf(req, sizeof(req), "max_tokens=%ld output=ids ids 1",
		 b->tokens);
	n = infer_request(path, req, strlen(req), out, sizeof(out), ttft,
			  total);
	if (n < 0)
		return (int)n;
	for (p = out, i = 0; i < b->tokens; i++, p = end) {
		ids[i] = (uint32_t)strtoul(p, &end, 10);
		if (end == p) {
			fprintf(stderr, "generate: %ld tokens from infer\n",
				i);
			return -EIO;
		}
	}
	return 0;
}

/* one generation in process, by the daemon's forward pass or plain's */
static int gen_local(struct bench *b, bool plain, uint32_t *ids,
		     uint64_t *ttft, uint64_t *total)
{
	uint32_t tok = 1, slot = 0, pos;
	uint64_t t0 = stats_now_ns();
	const float *lg;
	int err;

	for (pos = 0; pos < b->tokens; pos++) {
		if (plain) {
			lg = plain_forward(&b->plain, (int)tok, (int)pos);
		} else {
			err = llama_step_team(&b->plan, b->block, b->team, 1,
					      &tok, &slot, &pos, NULL);
			if (err)
				return err;
			lg = llama_logits(&b->plan, b->block, 0);
		}
		tok = ids[pos] = argmax(lg, shape[5]);
		if (!pos)
			*ttft = stats_now_ns() - t0;
	}
	*total = stats_now_ns() - t0;
	return 0;
}

/* load (@load) or unload model @name through models/ctl */
static int ctl(struct bench *b, bool load, const char *name)
{
	char path[PATH_MAX + 16], line[2 * PATH_MAX];

	snprintf(path, sizeof(path), "%s/models/ctl", b->mnt);
	if (load)
		snprintf(line, sizeof(line), "load %s %s threads=%ld\n", name,
			 b->file, b->threads);
	else
		snprintf(line, sizeof(line), "unload %s\n", name);
	return verb_write_file(path, line);
}

/* Sweeps per round of the floor: about as many as a round's tokens. */
#define FLOOR_SWEEPS	64

/* The memory floor of a token, in round @r (0: untimed): the file (its
 * weights, the tied classifier included) read once by plain C's OpenMP
 * threads, where plain C reads it (4 KiB pages) and in a region made as
 * a lease's is (daemon/dev/cpu.c: huge pages) that holds a copy; the
 * median of FLOOR_SWEEPS sweeps of each, alternating. */
static void floor_sweeps(struct bench *b, long r)
{
	uint64_t ns[2][FLOOR_SWEEPS], t0;
	volatile float sink;
	int i, m;

	for (i = 0; i < FLOOR_SWEEPS; i++)
		for (m = 0; m < 2; m++) {
			t0 = stats_now_ns();
			sink = plain_sweep(m ? b->lease_base : b->ckpt,
					   b->ckpt_len);
			ns[m][i] = stats_now_ns() - t0;
		}
	(void)sink;
	for (m = 0; r && m < 2; m++) {
		stats_sort(ns[m], FLOOR_SWEEPS);
		b->floor_ns[m][r - 1] = ns[m][FLOOR_SWEEPS / 2];
	}
}

static int bench_generate(struct bench *b)
{
	uint32_t ids[256];
	long r;
	int w, err;

	err = ctl(b, true, "gen");
	/* round 0 warms caches, threads and pages up, and is not timed */
	for (r = 0; !err && r <= b->rounds; r++) {
		for (w = 0; !err && w < WAYS; w++) {
			int way = (int)((w + r) % WAYS);
			long t = r ? r - 1 : 0;

			if (spawn_stop)
				return -EINTR;
			err = way == WAY_INFER ?
				gen_infer(b, ids, &b->ttft_ns[way][t],
					  &b->gen_ns[way][t]) :
				gen_local(b, way == WAY_PLAIN, ids,
					  &b->ttft_ns[way][t],
					  &b->gen_ns[way][t]);
			if (!r)
				memcpy(b->ids[way], ids, sizeof(ids));
		}
		if (!err)
			floor_sweeps(b, r);
	}
	if (!err)
		err = ctl(b, false, "gen");
	return err;
}

/* loads and unloads against reads of the file, alternating */
static int bench_load(struct bench *b)
{
	static char buf[1 << 20];
	uint64_t t0;
	ssize_t n;
	long r;
	int fd, err = 0;

	for (r = -1; !err && r < b->rounds; r++) {
		t0 = stats_now_ns();
		fd = open(b->file, O_RDONLY);
		if (fd < 0)
			return verb_fail("open", b->file, -errno);
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			;
		close(fd);
		if (r >= 0)
			b->read_ns[r] = stats_now_ns() - t0;
		t0 = stats_now_ns();
		err = ctl(b, true, "ld");
		if (r >= 0)
			b->load_ns[r] = stats_now_ns() - t0;
		if (!err)
			err = ctl(b, false, "ld");
	}
	return err;
}

/*
 * The floor of a cold start on this machine: lease_copy() of the @len
 * bytes at @src (a new lease's first touch, then the weights a reload
 * copies from its kept mapping), released. Its time in *@ns; 0 or
 * -errno.
 */
static int fresh_touch(const void *src, size_t len, uint64_t *ns)
{
	uint64_t t0 = stats_now_ns();
	struct dev_region *r;
	void *base;
	int err;

	err = lease_copy(src, len, &r, &base);
	if (err)
		return err;
	dev_cpu_ops.release(r);
	*ns = stats_now_ns() - t0;
	return 0;
}

/* cold starts: model "cold" made cold through its ctl, then timed from
 * a one-token request's write to its answer's end (the lease acquired,
 * the weights copied from the kept mapping, one step) */
static int bench_cold(struct bench *b)
{
	char path[PATH_MAX + 32], out[64];
	static const char req[] = "max_tokens=1 output=ids ids 1";
	uint64_t t0, ns = 0;
	long r;
	int fd, err;

	err = ctl(b, true, "cold");
	for (r = -1; !err && r < b->rounds; r++) {
		snprintf(path, sizeof(path), "%s/models/cold/ctl", b->mnt);
		err = verb_write_file(path, "cold\n");
		if (err)
			break;
		snprintf(path, sizeof(path), "%s/models/cold/infer", b->mnt);
		t0 = stats_now_ns();
		fd = open(path, O_RDWR);
		if (fd < 0)
			return verb_fail("open", path, -errno);
		if (write(fd, req, sizeof(req) - 1) != sizeof(req) - 1)
			err = verb_fail("write", path, -errno);
		while (!err && (err = (int)read(fd, out, sizeof(out))) > 0)
			err = 0;
		if (err < 0)
			err = verb_fail("read", path, -errno);
		close(fd);
		if (r >= 0)
			b->cold_ns[r] = stats_now_ns() - t0;
		if (!err)
			err = fresh_touch(b->ckpt, b->ckpt_len, &ns);
		if (!err && r >= 0)
			b->fresh_ns[r] = ns;
	}
	if (ctl(b, false, "cold") && !err)
		err = -EIO;
	return err;
}

/* one field of /proc/PID/status in KiB, or -1 */
static long status_kib(pid_t pid, const char *key)
{
	char path[64], line[256];
	size_t len = strlen(key);
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, len) && line[len] == ':')
			v = strtol(line + len + 1, NULL, 10);
	fclose(f);
	return v;
}

/* the daemon's resident KiB: anonymous, file and shared pages */
static long rss_kib(pid_t pid)
{
	return status_kib(pid, "RssAnon") + status_kib(pid, "RssFile") +
	       status_kib(pid, "RssShmem");
}

/* lease model.@name's reservation in KiB (its vram file's size, all of
 * it resident: the CPU device populates a reservation), or -1 */
static long lease_kib(struct bench *b, const char *name)
{
	char path[PATH_MAX + 64];
	struct stat st;

	snprintf(path, sizeof(path), "%s/leases/model.%s/vram", b->mnt, name);
	if (stat(path, &st))
		return -1;
	return (long)((st.st_size + 4095) / 4096 * 4);
}

/* the daemon's RSS without its leases' pages */
static int bench_memory(struct bench *b)
{
	long rss0, rss1, leases = 0, kib, i;
	char name[32];
	int err = 0;

	rss0 = rss_kib(b->gl.pid);
	for (i = 0; !err && i < b->models; i++) {
		snprintf(name, sizeof(name), "mem%ld", i);
		err = ctl(b, true, name);
		kib = err ? 0 : lease_kib(b, name);
		if (kib < 0)
			err = verb_fail("stat", name, -errno);
		leases += kib;
	}
	rss1 = rss_kib(b->gl.pid);
	while (i-- > 0) {
		snprintf(name, sizeof(name), "mem%ld", i);
		if (ctl(b, false, name) && !err)
			err = -EIO;
	}
	if (err)
		return err;
	printf("memory: %ld models (threads=%ld) loaded: daemon RSS %+ld "
	       "KiB, of which leases %ld KiB (%.1f MiB per model); beyond "
	       "them %+ld KiB, %.1f KiB per model\n", b->models, b->threads,
	       rss1 - rss0, leases, (double)leases / b->models / 1024,
	       rss1 - rss0 - leases,
	       (double)(rss1 - rss0 - leases) / b->models);
	return 0;
}

static double ms(uint64_t *v, long n)
{
	stats_sort(v, (size_t)n);
	return (double)v[n / 2] / 1e6;
}

static void bench_report(struct bench *b)
{
	double gen[WAYS], ttft[WAYS], rd, ld, cold, fresh, fl, fh;
	int w, same;
	long i;

	printf("generate: stories15M shape, %ld tokens greedy from token 1, "
	       "%ld rounds after a warm-up (median), threads=%ld, plain C on "
	       "%d OpenMP threads\n", b->tokens, b->rounds, b->threads,
	       plain_threads());
	printf("%-26s | %10s %10s | %8s | %8s\n", "", "tokens/s", "ttft ms",
	       "/plain", "/direct");
	for (w = 0; w < WAYS; w++) {
		gen[w] = ms(b->gen_ns[w], b->rounds);
		ttft[w] = ms(b->ttft_ns[w], b->rounds);
	}
	for (w = 0; w < WAYS; w++)
		printf("%-26s | %10.1f %10.2f | %8.3f | %8.3f\n", way_name[w],
		       b->tokens / gen[w] * 1e3, ttft[w],
		       gen[WAY_PLAIN] / gen[w], gen[WAY_DIRECT] / gen[w]);
	for (w = 1; w < WAYS; w++) {
		for (i = 0, same = 0; i < b->tokens; i++, same++)
			if (b->ids[w][i] != b->ids[WAY_INFER][i])
				break;
		printf("tokens: %s equal to infer's for %d of %ld\n",
		       way_name[w], same, b->tokens);
	}
	fl = ms(b->floor_ns[0], b->rounds);
	fh = ms(b->floor_ns[1], b->rounds);
	printf("floor: the file's %.1f MB read once by %d OpenMP threads "
	       "(plain_sweep): %.2f ms on 4 KiB pages (plain C's copy), "
	       "%.2f ms on huge pages (a lease's); a token of plain C takes "
	       "%.2fx the first, of infer %.2fx the second; 1.5x plain C "
	       "needs %.2fx the second\n", (double)b->ckpt_len / 1e6,
	       plain_threads(), fl, fh, gen[WAY_PLAIN] / b->tokens / fl,
	       gen[WAY_INFER] / b->tokens / fh,
	       gen[WAY_PLAIN] / b->tokens / fh / 1.5);
	rd = ms(b->read_ns, b->rounds);
	ld = ms(b->load_ns, b->rounds);
	printf("load: %.1f ms (models/ctl load, threads=%ld) against %.1f ms "
	       "reading the %zu-byte file (warm): %.2fx\n", ld, b->threads,
	       rd, b->ckpt_len, ld / rd);
	cold = ms(b->cold_ns, b->rounds);
	printf("cold start: %.1f ms (ctl cold, then a 1-token request to "
	       "its end) against %.1f ms reading the file (warm): %.2fx "
	       "(target <= 2x)\n", cold, rd, cold / rd);
	fresh = ms(b->fresh_ns, b->rounds);
	printf("fresh region of the file's size (the CPU device's reserve), "
	       "the file copied into it, released: %.1f ms, %.2fx the read: "
	       "the floor of a cold start into a new lease here, before its "
	       "step; cold start / floor %.2fx\n", fresh, fresh / rd,
	       cold / fresh);
}

int main(int argc, char **argv)
{
	const char *const args[] = { "--cpu-vram", "2G", NULL };
	struct bench *b;
	int err, ret = 1;

	b = bench_new(sizeof(*b), "generate", bench_parse, argc, argv, &ret);
	if (!b)
		return ret;
	err = gl_kernel_cpu_init(1);
	if (err)
		fprintf(stderr, "generate: OpenBLAS: %s\n", gl_blas_why());
	if (!err)
		err = bench_setup(b);
	if (!err)
		err = spawn_daemon_start(&b->gl, b->daemon, b->mnt, args);
	if (!err)
		err = bench_generate(b);
	if (!err)
		err = bench_load(b);
	if (!err)
		err = bench_cold(b);
	if (!err)
		bench_report(b);
	if (!err)
		err = bench_memory(b);
	if (!err && b->streams) {
		struct streams_cfg sc = {
			.mnt = b->mnt, .file = b->file, .streams = b->streams,
			.tokens = b->stream_tokens, .threads = b->threads,
			.rounds = b->rounds,
		};

		err = streams_bench(&sc);
	}
	ret = bench_failed("generate", err);
	return bench_done(b, bench_cleanup(b), ret);
}
