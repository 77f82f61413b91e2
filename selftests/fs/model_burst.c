// SPDX-License-Identifier: MIT
/*
 * model_burst.c - burst models, lease renewal and memory pressure
 * (Documentation/models.md, "Burst, renewal and pressure"): burst=IDLE_S
 * drops the lease after IDLE_S seconds of the lease clock without a
 * request (the clock_offset knob, no sleeping) and the next request
 * reloads and gets the same tokens; ctl "cold" and "warm" force either
 * state, "cold" with a request in flight is EBUSY; renew=auto renews at
 * each request, renew=manual lets the lease expire, the request in
 * flight fails EKEYEXPIRED and the next one reloads; a cold start
 * without room waits (waiting in ctl) until memory frees or its
 * deadline passes (EBUSY), or is served by fallback= ("served_by NAME"
 * first in the text form, served_by in the binary header, a metrics
 * label); before that, the least recently used idle burst model on the
 * device is made cold (never one with a request in flight, never a
 * model without burst=); a reload from a file changed or removed since
 * the load fails EIO with the reason and leaves the model cold with
 * nothing held; a cold start builds the tokenizer in the new lease
 * again; the options are checked and read back.
 */
#include <pthread.h>

#include "selftests/harness.h"
#include "selftests/fs/model_common.h"
#include "uapi/model.h"

static const char *const args[] = { "--cpu-vram", "64M", NULL };

#define REQ "max_tokens=6 output=ids ids 1 2 3\n"
#define METRICS_MAX 65536

MODEL_FIXTURE(model_burst, "write_checkpoints.py", "--no-ref")

/* The state of model @name, or "?". */
static const char *state_of(const struct gl_daemon *d, const char *name,
			    char *buf, size_t size)
{
	char rel[128];

	snprintf(rel, sizeof(rel), "models/%s/ctl", name);
	if (gl_read_key_str(d, rel, "state", buf, size))
		snprintf(buf, size, "?");
	return buf;
}

#define expect_state(md, d, name, want)					\
	do {								\
		char _s[64];						\
		EXPECT_STREQ(state_of(d, name, _s, sizeof(_s)), want)	\
			TH_LOG("model %s", name);			\
	} while (0)

static long long key(const struct gl_daemon *d, const char *name,
		     const char *k)
{
	char rel[128];
	long long v = -1;

	snprintf(rel, sizeof(rel), "models/%s/ctl", name);
	if (gl_read_key(d, rel, k, &v))
		return -1;
	return v;
}

/* Whether metrics holds the line @want. */
static int metrics_has(const struct gl_daemon *d, const char *want)
{
	static char text[METRICS_MAX];
	int n = gl_read(d, "metrics", text, sizeof(text));

	if (n < 0)
		return n;
	return strstr(text, want) != NULL;
}

TEST_F(model_burst, idle_drop_then_cold_start_same_tokens)
{
	const struct gl_daemon *d = &self->d;
	long long free0 = dev_read_u64(d, 0, "vram.free"), vram;
	char warm[256], cold[256];

	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load m %s/legacy.bin "
			       "burst=5 ttl=3600\n", self->dir), 0);
	EXPECT_EQ(key(d, "m", "burst"), 5);
	ASSERT_GT(model_infer(d, "m", REQ, warm, sizeof(warm)), 0);
	vram = key(d, "m", "vram");
	EXPECT_GT(vram, 0);
	EXPECT_EQ(dev_read_u64(d, 0, "vram.free"), free0 - vram);
	/* 4 s idle: still warm; 6 s: cold, its memory back, no lease */
	ASSERT_EQ(gl_ctl_write(d, "ctl", "clock_offset 4\n"), 0);
	expect_state(_metadata, d, "m", "warm");
	ASSERT_EQ(gl_ctl_write(d, "ctl", "clock_offset 6\n"), 0);
	expect_state(_metadata, d, "m", "cold");
	EXPECT_EQ(dev_read_u64(d, 0, "vram.free"), free0);
	EXPECT_EQ(gl_count_leases(d), 0);
	EXPECT_EQ(key(d, "m", "vram"), 0);
	EXPECT_EQ(key(d, "m", "cold_starts"), 0);
	/* the next request reloads and gets the same tokens */
	ASSERT_GT(model_infer(d, "m", REQ, cold, sizeof(cold)), 0);
	EXPECT_STREQ(cold, warm);
	expect_state(_metadata, d, "m", "warm");
	EXPECT_EQ(key(d, "m", "cold_starts"), 1);
	EXPECT_GE(key(d, "m", "last_cold_start_us"), 0);
	EXPECT_EQ(dev_read_u64(d, 0, "vram.free"), free0 - vram);
	EXPECT_EQ(metrics_has(d, "gpulease_model_cold_starts_total"
			      "{model=\"m\"} 1\n"), 1);
	EXPECT_EQ(metrics_has(d, "gpulease_model_cold_start_seconds_count"
			      "{model=\"m\"} 1\n"), 1);
	EXPECT_EQ(metrics_has(d, "gpulease_model_lease_seconds_total"
			      "{model=\"m\"} "), 1);
	/* a request restarts the idle clock: 5 s after it, cold again */
	ASSERT_EQ(gl_ctl_write(d, "ctl", "clock_offset 10\n"), 0);
	expect_state(_metadata, d, "m", "warm");
	ASSERT_EQ(gl_ctl_write(d, "ctl", "clock_offset 12\n"), 0);
	expect_state(_metadata, d, "m", "cold");
	EXPECT_EQ(gl_ctl_write(d, "models/ctl", "unload m\n"), 0);
	EXPECT_EQ(dev_read_u64(d, 0, "vram.free"), free0);
}

/* The tokenizer lives in the lease: a cold start builds it again there,
 * and a text prompt gets the same text. */
TEST_F(model_burst, cold_start_builds_its_tokenizer_again)
{
	const struct gl_daemon *d = &self->d;
	const char *req = "max_tokens=6 Once upon\n";
	char warm[256], cold[256];

	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load m %s/legacy.bin "
			       "tokenizer=%s/tokenizer.bin burst=5\n",
			       self->dir, self->dir), 0);
	EXPECT_GT(key(d, "m", "tokenizer"), 0);
	ASSERT_GT(model_infer(d, "m", req, warm, sizeof(warm)), 0);
	ASSERT_EQ(gl_ctl_write(d, "models/m/ctl", "cold\n"), 0);
	expect_state(_metadata, d, "m", "cold");
	ASSERT_GT(model_infer(d, "m", req, cold, sizeof(cold)), 0);
	EXPECT_STREQ(cold, warm);
	EXPECT_EQ(key(d, "m", "cold_starts"), 1);
	EXPECT_GT(key(d, "m", "tokenizer"), 0);
}

/* Start a request on @name held after its first token: the open fd. */
static int held_request(const struct gl_daemon *d, const char *name)
{
	char first[64];
	int fd;

	if (gl_ctl_write(d, "ctl", "model_step_hold 1\n"))
		return -1;
	fd = open(gl_path(d, "models/%s/infer", name), O_RDWR);
	if (fd < 0)
		return -1;
	if (write(fd, "max_tokens=20 output=ids ids 1 2 3\n", 35) != 35 ||
	    read(fd, first, sizeof(first)) <= 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static ssize_t read_to_end(int fd)
{
	char buf[256];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		;
	return n;
}

TEST_F(model_burst, ctl_cold_and_warm)
{
	const struct gl_daemon *d = &self->d;
	long long free0 = dev_read_u64(d, 0, "vram.free");
	char warm[256], out[256];
	int fd;

	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load m %s/legacy.bin\n",
			       self->dir), 0);
	EXPECT_EQ(key(d, "m", "burst"), 0);
	ASSERT_GT(model_infer(d, "m", REQ, warm, sizeof(warm)), 0);
	/* never cold with work in flight */
	fd = held_request(d, "m");
	ASSERT_GE(fd, 0);
	EXPECT_EQ(gl_ctl_write(d, "models/m/ctl", "cold\n"), -EBUSY);
	expect_state(_metadata, d, "m", "warm");
	ASSERT_EQ(gl_ctl_write(d, "ctl", "model_step_hold 0\n"), 0);
	EXPECT_EQ(read_to_end(fd), 0);
	close(fd);

	ASSERT_EQ(gl_ctl_write(d, "models/m/ctl", "cold\n"), 0);
	expect_state(_metadata, d, "m", "cold");
	EXPECT_EQ(dev_read_u64(d, 0, "vram.free"), free0);
	EXPECT_EQ(gl_ctl_write(d, "models/m/ctl", "cold\n"), 0);
	EXPECT_EQ(gl_ctl_write(d, "models/m/ctl", "io 64K\n"), -EBUSY);
	ASSERT_EQ(gl_ctl_write(d, "models/m/ctl", "warm\n"), 0);
	expect_state(_metadata, d, "m", "warm");
	EXPECT_EQ(gl_ctl_write(d, "models/m/ctl", "warm\n"), 0);
	EXPECT_EQ(key(d, "m", "cold_starts"), 1);
	EXPECT_LT(dev_read_u64(d, 0, "vram.free"), free0);
	ASSERT_GT(model_infer(d, "m", REQ, out, sizeof(out)), 0);
	EXPECT_STREQ(out, warm);
	EXPECT_EQ(gl_ctl_write(d, "models/m/ctl", "cold now\n"), -EINVAL);
	EXPECT_EQ(gl_ctl_write(d, "models/m/ctl", "tepid\n"), -EINVAL);
}

TEST_F(model_burst, never_idle_with_a_request_in_flight)
{
	const struct gl_daemon *d = &self->d;
	int fd;

	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load m %s/legacy.bin "
			       "burst=5 ttl=3600\n", self->dir), 0);
	fd = held_request(d, "m");
	ASSERT_GE(fd, 0);
	/* its timer fires at 5 s and 11 s: the request holds it warm */
	ASSERT_EQ(gl_ctl_write(d, "ctl", "clock_offset 6\n"), 0);
	expect_state(_metadata, d, "m", "warm");
	ASSERT_EQ(gl_ctl_write(d, "ctl", "clock_offset 12\n"), 0);
	expect_state(_metadata, d, "m", "warm");
	ASSERT_EQ(gl_ctl_write(d, "ctl", "model_step_hold 0\n"), 0);
	EXPECT_EQ(read_to_end(fd), 0);
	close(fd);
	/* idle from its end (at 12 s): cold by 18 s, not before 17 */
	ASSERT_EQ(gl_ctl_write(d, "ctl", "clock_offset 16\n"), 0);
	expect_state(_metadata, d, "m", "warm");
	ASSERT_EQ(gl_ctl_write(d, "ctl", "clock_offset 18\n"), 0);
	expect_state(_metadata, d, "m", "cold");
	EXPECT_EQ(gl_count_leases(d), 0);
}

TEST_F(model_burst, renew_auto_and_manual)
{
	const struct gl_daemon *d = &self->d;
	char warm[256], out[256], buf[64];
	int fd;

	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load a %s/legacy.bin "
			       "ttl=60\n", self->dir), 0);
	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load m %s/legacy.bin "
			       "ttl=60 renew=manual\n", self->dir), 0);
	EXPECT_EQ(gl_read_key_str(d, "models/a/ctl", "renew", buf,
				  sizeof(buf)), 0);
	EXPECT_STREQ(buf, "auto");
	EXPECT_EQ(gl_read_key_str(d, "models/m/ctl", "renew", buf,
				  sizeof(buf)), 0);
	EXPECT_STREQ(buf, "manual");
	ASSERT_EQ(gl_ctl_write(d, "ctl", "clock_offset 50\n"), 0);
	/* a request at 50 s renews a's lease to 110 s, not m's */
	ASSERT_GT(model_infer(d, "a", REQ, warm, sizeof(warm)), 0);
	ASSERT_GT(model_infer(d, "m", REQ, out, sizeof(out)), 0);
	EXPECT_STREQ(out, warm);
	fd = held_request(d, "m");
	ASSERT_GE(fd, 0);
	ASSERT_EQ(gl_ctl_write(d, "ctl", "clock_offset 100\n"), 0);
	expect_state(_metadata, d, "a", "warm");
	/* m's expired under its request: EKEYEXPIRED, then expired */
	EXPECT_EQ(read_to_end(fd), -1);
	EXPECT_EQ(errno, EKEYEXPIRED);
	close(fd);
	ASSERT_EQ(gl_ctl_write(d, "ctl", "model_step_hold 0\n"), 0);
	expect_state(_metadata, d, "m", "expired");
	/* the next request re-acquires and reloads */
	ASSERT_GT(model_infer(d, "m", REQ, out, sizeof(out)), 0);
	EXPECT_STREQ(out, warm);
	expect_state(_metadata, d, "m", "warm");
	EXPECT_EQ(key(d, "m", "cold_starts"), 1);
	EXPECT_EQ(lease_read_key_str(d, "model.m", "state", buf,
				     sizeof(buf)), 0);
	EXPECT_STREQ(buf, "active");
	/* a, not renewed since 50 s, expires at 110 s and stays so */
	ASSERT_EQ(gl_ctl_write(d, "ctl", "clock_offset 111\n"), 0);
	expect_state(_metadata, d, "a", "expired");
	EXPECT_EQ(model_infer(d, "a", REQ, out, sizeof(out)), -EKEYEXPIRED);
}

/* Take every free byte of device 0 into lease hog. */
static int hog(const struct gl_daemon *d)
{
	return lease_sized(d, "hog", dev_read_u64(d, 0, "vram.free"));
}

struct bg_req {
	const struct gl_daemon *d;
	const char *name;
	int ret;
	char out[256];
};

static void *bg_infer(void *arg)
{
	struct bg_req *b = arg;

	b->ret = model_infer(b->d, b->name, REQ, b->out, sizeof(b->out));
	return NULL;
}

static int m_waiting(void *arg)
{
	const struct gl_daemon *d = arg;

	return key(d, "m", "waiting") == 1;
}

TEST_F(model_burst, no_room_waits_then_ebusy_or_served)
{
	const struct gl_daemon *d = &self->d;
	struct bg_req b = { .d = d, .name = "m" };
	char warm[256], out[256];
	pthread_t t;

	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load m %s/legacy.bin "
			       "ttl=3600 wait_ms=0\n", self->dir), 0);
	EXPECT_EQ(key(d, "m", "wait_ms"), 0);
	ASSERT_GT(model_infer(d, "m", REQ, warm, sizeof(warm)), 0);
	ASSERT_EQ(gl_ctl_write(d, "models/m/ctl", "cold\n"), 0);
	ASSERT_EQ(hog(d), 0);
	/* no wait: EBUSY at once, still cold, nothing held */
	EXPECT_EQ(model_infer(d, "m", REQ, out, sizeof(out)), -EBUSY);
	expect_state(_metadata, d, "m", "cold");
	EXPECT_EQ(gl_ctl_write(d, "models/m/ctl", "warm\n"), -ENOSPC);
	EXPECT_EQ(gl_count_leases(d), 1);
	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "unload m\n"), 0);

	/* a long wait: served once memory frees */
	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load m %s/legacy.bin "
			       "ttl=3600 wait_ms=3600000\n", self->dir),
		  -ENOSPC);	/* a load does not wait */
	ASSERT_EQ(lease_remove(d, "hog"), 0);
	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load m %s/legacy.bin "
			       "ttl=3600 wait_ms=3600000\n", self->dir), 0);
	ASSERT_EQ(gl_ctl_write(d, "models/m/ctl", "cold\n"), 0);
	ASSERT_EQ(hog(d), 0);
	ASSERT_EQ(pthread_create(&t, NULL, bg_infer, &b), 0);
	EXPECT_EQ(gl_wait_until(m_waiting, (void *)d, 60000), 0);
	expect_state(_metadata, d, "m", "cold");
	EXPECT_EQ(lease_remove(d, "hog"), 0);
	pthread_join(t, NULL);
	EXPECT_GT(b.ret, 0);
	EXPECT_STREQ(b.out, warm);
	expect_state(_metadata, d, "m", "warm");

	/* a wait of 60 s: EBUSY once its deadline passes (the lease
	 * clock; hog's default ttl is longer) */
	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "unload m\n"), 0);
	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load m %s/legacy.bin "
			       "ttl=3600 wait_ms=60000\n", self->dir), 0);
	ASSERT_EQ(gl_ctl_write(d, "models/m/ctl", "cold\n"), 0);
	ASSERT_EQ(hog(d), 0);
	ASSERT_EQ(pthread_create(&t, NULL, bg_infer, &b), 0);
	EXPECT_EQ(gl_wait_until(m_waiting, (void *)d, 60000), 0);
	ASSERT_EQ(gl_ctl_write(d, "ctl", "clock_offset 61\n"), 0);
	pthread_join(t, NULL);
	EXPECT_EQ(b.ret, -EBUSY);
	expect_state(_metadata, d, "m", "cold");
	EXPECT_EQ(metrics_has(d, "gpulease_inference_failures_total"
			      "{model=\"m\",reason=\"EBUSY\"} 1\n"), 1);
}

TEST_F(model_burst, fallback_serves_and_says_so)
{
	const struct gl_daemon *d = &self->d;
	char warm[256], out[512], want[512];

	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load small %s/legacy.bin "
			       "ttl=3600\n", self->dir), 0);
	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load big %s/legacy.bin "
			       "ttl=3600 fallback=small\n", self->dir), 0);
	EXPECT_EQ(gl_read_key_str(d, "models/big/ctl", "fallback", out,
				  sizeof(out)), 0);
	EXPECT_STREQ(out, "small");
	ASSERT_GT(model_infer(d, "big", REQ, warm, sizeof(warm)), 0);
	/* warm: big serves */
	ASSERT_GT(model_infer(d, "big", REQ, out, sizeof(out)), 0);
	EXPECT_STREQ(out, warm);
	ASSERT_EQ(gl_ctl_write(d, "models/big/ctl", "cold\n"), 0);
	ASSERT_EQ(hog(d), 0);
	ASSERT_GT(model_infer(d, "big", REQ, out, sizeof(out)), 0);
	snprintf(want, sizeof(want), "served_by small\n%s", warm);
	EXPECT_STREQ(out, want);
	expect_state(_metadata, d, "big", "cold");
	EXPECT_EQ(key(d, "big", "fallbacks"), 1);
	EXPECT_EQ(metrics_has(d, "gpulease_model_fallback_total{model="
			      "\"big\",served_by=\"small\"} 1\n"), 1);
	/* the fallback cold too and no room: EBUSY */
	ASSERT_EQ(gl_ctl_write(d, "models/small/ctl", "cold\n"), 0);
	ASSERT_EQ(lease_remove(d, "hog"), 0);
	ASSERT_EQ(hog(d), 0);
	EXPECT_EQ(model_infer(d, "big", REQ, out, sizeof(out)), -EBUSY);
	/* its fallback gone: EBUSY */
	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "unload small\n"), 0);
	EXPECT_EQ(model_infer(d, "big", REQ, out, sizeof(out)), -EBUSY);
	EXPECT_EQ(key(d, "big", "fallbacks"), 1);
}

#define RLEN (int)(sizeof(struct gl_infer_tensor) + 13 * sizeof(float))
#define ALEN (int)(sizeof(struct gl_infer_tensor) + 3 * sizeof(float))

TEST_F(model_burst, mlp_fallback_names_server_in_header)
{
	const struct gl_daemon *d = &self->d;
	struct {
		struct gl_infer_tensor h;
		float x[13];
	} r = { .h = { GL_INFER_MAGIC, GL_INFER_F32, 1, 13 } };
	struct {
		struct gl_infer_tensor h;
		float y[3];
	} a1, a2;
	char mdir[64];
	long long id;
	int ret;

	ret = model_fixture_by(mdir, sizeof(mdir), "write_mlp.py", "");
	if (ret == 1)
		SKIP(return, "no numpy");
	ASSERT_EQ(ret, 0);
	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load s %s\n", mdir), 0);
	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load n %s fallback=s "
			       "wait_ms=0\n", mdir), 0);
	id = key(d, "s", "id");
	EXPECT_GT(id, 0);
	r.x[0] = 1.0f;
	ASSERT_EQ(model_infer_raw(d, "n", &r, RLEN, &a1, sizeof(a1)), ALEN);
	EXPECT_EQ(a1.h.served_by, 0);
	ASSERT_EQ(gl_ctl_write(d, "models/n/ctl", "cold\n"), 0);
	ASSERT_EQ(hog(d), 0);
	ASSERT_EQ(model_infer_raw(d, "n", &r, RLEN, &a2, sizeof(a2)), ALEN);
	EXPECT_EQ(a2.h.served_by, (unsigned long long)id);
	EXPECT_EQ(memcmp(a1.y, a2.y, sizeof(a1.y)), 0);
	/* served_by is the answer's: a request setting it is EINVAL */
	r.h.served_by = 1;
	EXPECT_EQ(model_infer_raw(d, "s", &r, RLEN, &a2, sizeof(a2)),
		  -EINVAL);
	model_fixture_rm(mdir);
}

TEST_F(model_burst, reload_from_changed_or_removed_file_fails)
{
	const struct gl_daemon *d = &self->d;
	long long free0 = dev_read_u64(d, 0, "vram.free");
	char path[128], out[256], err[GL_TEXT_MAX];
	struct stat st;
	int fd;

	snprintf(path, sizeof(path), "%s/legacy.bin", self->dir);
	ASSERT_EQ(stat(path, &st), 0);
	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load m %s burst=5 "
			       "ttl=3600\n", path), 0);
	ASSERT_EQ(gl_ctl_write(d, "models/m/ctl", "cold\n"), 0);
	/* grown by a byte since the load */
	fd = open(path, O_WRONLY | O_APPEND);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(write(fd, "x", 1), 1);
	close(fd);
	EXPECT_EQ(model_infer(d, "m", REQ, out, sizeof(out)), -EIO);
	EXPECT_EQ(gl_read_key_str(d, "models/m/ctl", "last_error", err,
				  sizeof(err)), 0);
	EXPECT_NE(strstr(err, "changed since the load"), NULL)
		TH_LOG("%s", err);
	expect_state(_metadata, d, "m", "cold");
	EXPECT_EQ(gl_count_leases(d), 0);
	EXPECT_EQ(dev_read_u64(d, 0, "vram.free"), free0);
	EXPECT_EQ(gl_ctl_write(d, "models/m/ctl", "warm\n"), -EIO);
	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "unload m\n"), 0);
	ASSERT_EQ(truncate(path, st.st_size), 0);

	/* removed since the load */
	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load m %s burst=5 "
			       "ttl=3600\n", path), 0);
	ASSERT_EQ(gl_ctl_write(d, "models/m/ctl", "cold\n"), 0);
	ASSERT_EQ(unlink(path), 0);
	EXPECT_EQ(model_infer(d, "m", REQ, out, sizeof(out)), -EIO);
	EXPECT_EQ(gl_read_key_str(d, "models/m/ctl", "last_error", err,
				  sizeof(err)), 0);
	EXPECT_NE(strstr(err, "removed since the load"), NULL)
		TH_LOG("%s", err);
	expect_state(_metadata, d, "m", "cold");
	EXPECT_EQ(gl_count_leases(d), 0);
	EXPECT_EQ(dev_read_u64(d, 0, "vram.free"), free0);
	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "unload m\n"), 0);
	EXPECT_EQ(dev_read_u64(d, 0, "vram.free"), free0);
}

TEST_F(model_burst, eviction_lru_idle_burst_only)
{
	const struct gl_daemon *d = &self->d;
	char out[256];
	int fd;

	/* a used before c: a is the least recently used; n not burst */
	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load a %s/legacy.bin "
			       "burst=1000 ttl=3600\n", self->dir), 0);
	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load n %s/legacy.bin "
			       "ttl=3600\n", self->dir), 0);
	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load c %s/legacy.bin "
			       "burst=1000 ttl=3600\n", self->dir), 0);
	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load b %s/legacy.bin "
			       "ttl=3600 wait_ms=0\n", self->dir), 0);
	ASSERT_EQ(gl_ctl_write(d, "ctl", "clock_offset 1\n"), 0);
	ASSERT_GT(model_infer(d, "a", REQ, out, sizeof(out)), 0);
	ASSERT_EQ(gl_ctl_write(d, "ctl", "clock_offset 2\n"), 0);
	ASSERT_GT(model_infer(d, "c", REQ, out, sizeof(out)), 0);
	ASSERT_EQ(gl_ctl_write(d, "models/b/ctl", "cold\n"), 0);
	ASSERT_EQ(hog(d), 0);
	ASSERT_GT(model_infer(d, "b", REQ, out, sizeof(out)), 0);
	expect_state(_metadata, d, "b", "warm");
	expect_state(_metadata, d, "a", "cold");
	expect_state(_metadata, d, "c", "warm");
	expect_state(_metadata, d, "n", "warm");
	EXPECT_EQ(key(d, "a", "evictions"), 1);
	/* c has a request in flight: never evicted; n is no burst model */
	ASSERT_EQ(gl_ctl_write(d, "models/b/ctl", "cold\n"), 0);
	ASSERT_GT(model_infer(d, "a", REQ, out, sizeof(out)), 0);
	expect_state(_metadata, d, "a", "warm");
	EXPECT_EQ(key(d, "b", "evictions"), 0);
	fd = held_request(d, "c");
	ASSERT_GE(fd, 0);
	ASSERT_EQ(gl_ctl_write(d, "models/a/ctl", "cold\n"), 0);
	ASSERT_EQ(lease_remove(d, "hog"), 0);
	ASSERT_EQ(hog(d), 0);
	EXPECT_EQ(model_infer(d, "b", REQ, out, sizeof(out)), -EBUSY);
	expect_state(_metadata, d, "c", "warm");
	expect_state(_metadata, d, "n", "warm");
	ASSERT_EQ(gl_ctl_write(d, "ctl", "model_step_hold 0\n"), 0);
	EXPECT_EQ(read_to_end(fd), 0);
	close(fd);
}

TEST_F(model_burst, options_checked_and_read_back)
{
	const struct gl_daemon *d = &self->d;
	static const char *const bad[] = {
		"burst=0", "burst=x", "renew=sometimes", "renew=",
		"wait_ms=-1", "wait_ms=3600001", "fallback=m",
		"fallback=a/b", "fallback=",
	};
	char buf[GL_TEXT_MAX];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		EXPECT_EQ(gl_ctl_write(d, "models/ctl", "load m %s/legacy.bin"
				       " %s\n", self->dir, bad[i]), -EINVAL)
			TH_LOG("%s", bad[i]);
	EXPECT_EQ(gl_count_leases(d), 0);
	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load m %s/legacy.bin "
			       "burst=30 renew=manual wait_ms=250 "
			       "fallback=other\n", self->dir), 0);
	EXPECT_EQ(key(d, "m", "burst"), 30);
	EXPECT_EQ(key(d, "m", "wait_ms"), 250);
	EXPECT_EQ(gl_read_key_str(d, "models/m/ctl", "renew", buf,
				  sizeof(buf)), 0);
	EXPECT_STREQ(buf, "manual");
	EXPECT_EQ(gl_read_key_str(d, "models/m/ctl", "fallback", buf,
				  sizeof(buf)), 0);
	EXPECT_STREQ(buf, "other");
	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load n %s/legacy.bin\n",
			       self->dir), 0);
	EXPECT_EQ(key(d, "n", "burst"), 0);
	EXPECT_EQ(key(d, "n", "wait_ms"), 1000);
	EXPECT_EQ(gl_read_key_str(d, "models/n/ctl", "fallback", buf,
				  sizeof(buf)), 0);
	EXPECT_STREQ(buf, "-");
}

TEST_HARNESS_MAIN
