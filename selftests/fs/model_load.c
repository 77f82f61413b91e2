// SPDX-License-Identifier: MIT
/*
 * model_load.c - models/ctl: a load makes models/NAME/ and lease
 * model.NAME of the model's size, unload (by ctl or by the model's own
 * ctl) gives the memory back before it returns; a load that fails
 * (malformed or truncated file, a file the caller cannot read, a lease
 * that does not fit the device, its free memory or the quota, bad
 * options) leaves no model, no lease and no memory behind; another uid
 * gets EACCES on a model it does not own (infer, ctl, stats, unload);
 * a model file truncated while it loads (the debug knob model_load_hold
 * keeps the load waiting with its files mapped) is EINVAL, leaves
 * nothing behind, and the daemon serves on.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "selftests/harness.h"
#include "selftests/fs/model_common.h"

static const char *const args[] = { "--cpu-vram", "64M", NULL };

MODEL_FIXTURE(model_load, "write_checkpoints.py", "--no-ref")

/* Nothing of a model is left: no model listed, no lease, all free. */
static void expect_nothing(const struct gl_daemon *d, long long free0)
{
	char buf[GL_TEXT_MAX];
	struct stat st;

	EXPECT_GE(gl_read(d, "models/ctl", buf, sizeof(buf)), 0);
	EXPECT_EQ(strncmp(buf, "last_error", 10), 0) TH_LOG("%s", buf);
	EXPECT_EQ(gl_count_leases(d), 0);
	EXPECT_EQ(dev_read_u64(d, 0, "vram.free"), free0);
	EXPECT_EQ(stat(gl_path(d, "models/m"), &st), -1);
}

TEST_F(model_load, load_unload_gives_memory_back)
{
	const struct gl_daemon *d = &self->d;
	long long free0 = dev_read_u64(d, 0, "vram.free"), vram, w, a, kv;
	long long tok;
	char buf[GL_TEXT_MAX];

	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load m %s/legacy.bin "
			       "tokenizer=%s/tokenizer.bin max_batch=2 "
			       "max_ctx=16\n", self->dir, self->dir), 0);
	ASSERT_EQ(gl_read_key_str(d, "models/m/ctl", "state", buf,
				  sizeof(buf)), 0);
	EXPECT_STREQ(buf, "warm");
	ASSERT_EQ(gl_read_key(d, "models/m/ctl", "vram", &vram), 0);
	ASSERT_EQ(gl_read_key(d, "models/m/ctl", "weights", &w), 0);
	ASSERT_EQ(gl_read_key(d, "models/m/ctl", "activations", &a), 0);
	ASSERT_EQ(gl_read_key(d, "models/m/ctl", "kv", &kv), 0);
	ASSERT_EQ(gl_read_key(d, "models/m/ctl", "tokenizer", &tok), 0);
	/* K and V, 2 layers, 2 slots, 16 positions, kv_dim 32 (2 kv heads
	 * of 16), f32 */
	EXPECT_EQ(kv, 2LL * 2 * 2 * 16 * 32 * 4);
	/* the tokenizer's tables are in the lease too (models.md) */
	EXPECT_GT(tok, 0);
	EXPECT_EQ(tok % 64, 0);
	EXPECT_EQ(vram, w + a + kv + tok);
	EXPECT_EQ(lease_read_key(d, "model.m", "vram", &vram), 0);
	EXPECT_EQ(vram, w + a + kv + tok);
	EXPECT_LT(dev_read_u64(d, 0, "vram.free"), free0 - vram + 1);
	EXPECT_GE(gl_read(d, "models/ctl", buf, sizeof(buf)), 0);
	EXPECT_EQ(strncmp(buf, "m warm model.m ", 15), 0) TH_LOG("%s", buf);
	EXPECT_EQ(gl_ctl_write(d, "models/ctl", "load m %s/legacy.bin\n",
			       self->dir), -EEXIST);

	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "unload m\n"), 0);
	expect_nothing(d, free0);
	EXPECT_EQ(gl_ctl_write(d, "models/ctl", "unload m\n"), -ENOENT);

	/* the HF directory, unloaded through its own ctl */
	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load m %s/hf\n",
			       self->dir), 0);
	EXPECT_EQ(gl_read_key_str(d, "models/m/ctl", "arch", buf,
				  sizeof(buf)), 0);
	EXPECT_STREQ(buf, "hf-llama");
	ASSERT_EQ(gl_ctl_write(d, "models/m/ctl", "unload\n"), 0);
	expect_nothing(d, free0);
}

TEST_F(model_load, bad_files_leave_nothing)
{
	const struct gl_daemon *d = &self->d;
	long long free0 = dev_read_u64(d, 0, "vram.free");
	char path[128], buf[GL_TEXT_MAX];
	struct stat st;
	int fd;

	/* a tokenizer is no checkpoint */
	EXPECT_EQ(gl_ctl_write(d, "models/ctl", "load m %s/tokenizer.bin\n",
			       self->dir), -EINVAL);
	expect_nothing(d, free0);
	EXPECT_EQ(gl_read_key_str(d, "models/ctl", "last_error", buf,
				  sizeof(buf)), 0);
	EXPECT_EQ(strncmp(buf, "EINVAL: load: ", 14), 0) TH_LOG("%s", buf);

	/* a tokenizer.json that parses but whose tables do not hold
	 * together, found only as they are built in the acquired lease:
	 * the lease is dropped, the reason given */
	snprintf(path, sizeof(path), "%s/bad-tokenizer.json", self->dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ASSERT_GE(fd, 0);
	snprintf(buf, sizeof(buf), "{\"model\": {\"type\": \"BPE\", "
		 "\"vocab\": {\"a\": 0, \"b\": 1}, \"merges\": [\"a b\"]}}");
	ASSERT_EQ(write(fd, buf, strlen(buf)), (ssize_t)strlen(buf));
	close(fd);
	snprintf(path, sizeof(path), "%s/legacy.bin", self->dir);
	EXPECT_EQ(gl_ctl_write(d, "models/ctl", "load m %s tokenizer=%s/"
			       "bad-tokenizer.json\n", path, self->dir),
		  -EINVAL);
	expect_nothing(d, free0);
	EXPECT_EQ(gl_read_key_str(d, "models/ctl", "last_error", buf,
				  sizeof(buf)), 0);
	EXPECT_TRUE(strstr(buf, "merges[0]") != NULL) TH_LOG("%s", buf);

	/* a truncated checkpoint */
	snprintf(path, sizeof(path), "%s/legacy.bin", self->dir);
	ASSERT_EQ(stat(path, &st), 0);
	ASSERT_EQ(truncate(path, st.st_size - 4), 0);
	EXPECT_EQ(gl_ctl_write(d, "models/ctl", "load m %s\n", path),
		  -EINVAL);
	expect_nothing(d, free0);

	/* a directory without config.json, a missing file, a relative path */
	EXPECT_EQ(gl_ctl_write(d, "models/ctl", "load m %s\n", self->dir),
		  -ENOENT);
	EXPECT_EQ(gl_ctl_write(d, "models/ctl", "load m %s/nope\n",
			       self->dir), -ENOENT);
	EXPECT_EQ(gl_ctl_write(d, "models/ctl", "load m legacy.bin\n"),
		  -EINVAL);
	/* a broken config.json */
	snprintf(path, sizeof(path), "%s/hf/config.json", self->dir);
	fd = open(path, O_WRONLY | O_TRUNC);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(write(fd, "{\"architectures\": [", 19), 19);
	close(fd);
	EXPECT_EQ(gl_ctl_write(d, "models/ctl", "load m %s/hf\n",
			       self->dir), -EINVAL);
	expect_nothing(d, free0);
}

TEST_F(model_load, bad_options_and_no_room)
{
	const struct gl_daemon *d = &self->d;
	long long free0 = dev_read_u64(d, 0, "vram.free");
	static const char *const bad[] = {
		"max_batch=0", "max_batch=65", "max_ctx=0", "max_ctx=33",
		"ttl=0", "vram=1Q", "threads=0", "threads=17", "device=99",
		"tokenizer=tokenizer.bin",
	};
	unsigned i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int err = gl_ctl_write(d, "models/ctl", "load m %s/ak42.bin "
				       "%s\n", self->dir, bad[i]);

		EXPECT_TRUE(err == -EINVAL || err == -ENOENT)
			TH_LOG("%s: %d", bad[i], err);
		expect_nothing(d, free0);
	}
	EXPECT_EQ(gl_ctl_write(d, "models/ctl", "load ../m %s/ak42.bin\n",
			       self->dir), -EINVAL);
	EXPECT_EQ(gl_ctl_write(d, "models/ctl", "load m %s/ak42.bin "
			       "vram=1G\n", self->dir), -ENOSPC);
	expect_nothing(d, free0);
	/* over the writer's quota */
	ASSERT_EQ(gl_ctl_write(d, "ctl", "quota 0 64K\n"), 0);
	EXPECT_EQ(gl_ctl_write(d, "models/ctl", "load m %s/ak42.bin\n",
			       self->dir), -EDQUOT);
	ASSERT_EQ(gl_ctl_write(d, "ctl", "quota 0 none\n"), 0);
	expect_nothing(d, free0);
	/* a tokenizer of another vocabulary size */
	EXPECT_EQ(gl_ctl_write(d, "models/ctl", "load m %s/ak42.bin "
			       "tokenizer=%s/legacy.bin\n", self->dir,
			       self->dir), -EINVAL);
	expect_nothing(d, free0);
}

/*
 * A model whose lease does not fit the device's free memory (another
 * lease holds the rest): ENOSPC, and nothing of it left: no directory,
 * no lease, vram.free unchanged; it loads once the room is back.
 */
TEST_F(model_load, lease_that_does_not_fit_is_enospc)
{
	const struct gl_daemon *d = &self->d;
	long long free0 = dev_read_u64(d, 0, "vram.free"), vram, free1;
	char buf[GL_TEXT_MAX];
	struct stat st;

	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load m %s/legacy.bin\n",
			       self->dir), 0);
	ASSERT_EQ(gl_read_key(d, "models/m/ctl", "vram", &vram), 0);
	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "unload m\n"), 0);
	ASSERT_EQ(dev_read_u64(d, 0, "vram.free"), free0);
	/* leave half the model's size free */
	ASSERT_EQ(lease_create(d, "fill"), 0);
	ASSERT_EQ(lease_write(d, "fill", "ctl", "vram %lld\n",
			      (free0 - vram / 2) / 4096 * 4096), 0);
	free1 = dev_read_u64(d, 0, "vram.free");
	ASSERT_LT(free1, vram);
	EXPECT_EQ(gl_ctl_write(d, "models/ctl", "load m %s/legacy.bin\n",
			       self->dir), -ENOSPC);
	EXPECT_EQ(stat(gl_path(d, "models/m"), &st), -1);
	EXPECT_EQ(errno, ENOENT);
	EXPECT_EQ(gl_count_leases(d), 1);
	EXPECT_EQ(dev_read_u64(d, 0, "vram.free"), free1);
	EXPECT_GE(gl_read(d, "models/ctl", buf, sizeof(buf)), 0);
	EXPECT_EQ(strncmp(buf, "last_error ENOSPC", 17), 0) TH_LOG("%s", buf);
	/* the room back, the same model loads */
	ASSERT_EQ(lease_remove(d, "fill"), 0);
	EXPECT_EQ(gl_ctl_write(d, "models/ctl", "load m %s/legacy.bin\n",
			       self->dir), 0);
}

struct as_nobody {
	const struct gl_daemon *d;
	const char *dir;
};

static int nobody_loads_secret(void *arg)
{
	struct as_nobody *a = arg;

	return gl_ctl_write(a->d, "models/ctl", "load m %s/secret.bin\n",
			    a->dir);
}

TEST_F(model_load, unreadable_file_is_eacces)
{
	const struct gl_daemon *d = &self->d;
	long long free0 = dev_read_u64(d, 0, "vram.free");
	struct as_nobody a = { d, self->dir };
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "cp %s/legacy.bin %s/secret.bin && "
		 "chmod 0600 %s/secret.bin", self->dir, self->dir, self->dir);
	ASSERT_EQ(system(cmd), 0);
	EXPECT_EQ(gl_run_as_nobody(nobody_loads_secret, &a), -EACCES);
	expect_nothing(d, free0);
	/* the same file readable to nobody loads, owned by nobody */
	snprintf(cmd, sizeof(cmd), "chmod 0644 %s/secret.bin", self->dir);
	ASSERT_EQ(system(cmd), 0);
	EXPECT_EQ(gl_run_as_nobody(nobody_loads_secret, &a), 0);
	EXPECT_EQ(lease_read_key(d, "model.m", "owner", &free0), 0);
	EXPECT_EQ(free0, GL_NOBODY_UID);
}

static int nobody_touches_roots(void *arg)
{
	struct as_nobody *a = arg;
	char buf[GL_TEXT_MAX];
	int fd, err;

	fd = open(gl_path(a->d, "models/m/infer"), O_RDWR);
	if (fd >= 0 || errno != EACCES)
		return fd >= 0 ? 100 : 101;
	err = gl_read(a->d, "models/m/ctl", buf, sizeof(buf));
	if (err != -EACCES)
		return 102;
	err = gl_ctl_write(a->d, "models/ctl", "unload m\n");
	if (err != -EACCES)
		return 103;
	if (gl_ctl_write(a->d, "models/m/ctl", "unload\n") != -EACCES)
		return 105;
	if (gl_read(a->d, "models/m/stats", buf, sizeof(buf)) != -EACCES)
		return 106;
	gl_read(a->d, "models/ctl", buf, sizeof(buf));
	return strstr(buf, "model.m") ? 104 : 0;	/* not listed */
}

TEST_F(model_load, another_uid_gets_eacces)
{
	const struct gl_daemon *d = &self->d;
	struct as_nobody a = { d, self->dir };
	char buf[GL_TEXT_MAX];

	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load m %s/legacy.bin\n",
			       self->dir), 0);
	EXPECT_EQ(gl_run_as_nobody(nobody_touches_roots, &a), 0);
	EXPECT_EQ(gl_read_key_str(d, "models/m/ctl", "state", buf,
				  sizeof(buf)), 0);
	EXPECT_STREQ(buf, "warm");
}

struct loader {
	const struct gl_daemon *d;
	char line[160];
	pthread_t thread;
	atomic_bool done;
	int err;
};

static void *loader_main(void *arg)
{
	struct loader *ld = arg;

	ld->err = gl_ctl_write(ld->d, "models/ctl", "%s", ld->line);
	atomic_store(&ld->done, true);
	return NULL;
}

/*
 * Load @what (PATH's argument) held by model_load_hold, truncate @file to
 * half while the load waits with it mapped and its lease acquired, let
 * it go: the load's result.
 */
static int load_truncated(const struct gl_daemon *d, const char *what,
			  const char *file)
{
	struct loader ld = { .d = d };
	struct stat st;
	int t = -1;

	snprintf(ld.line, sizeof(ld.line), "load m %s\n", what);
	if (stat(file, &st) ||
	    gl_ctl_write(d, "ctl", "model_load_hold 1\n") ||
	    pthread_create(&ld.thread, NULL, loader_main, &ld))
		return -1000;
	/* the lease is acquired after the files are mapped */
	while (!atomic_load(&ld.done) && gl_count_leases(d) != 1)
		usleep(1000);
	if (!atomic_load(&ld.done))
		t = truncate(file, st.st_size / 2);
	gl_ctl_write(d, "ctl", "model_load_hold 0\n");
	pthread_join(ld.thread, NULL);
	return t ? -1001 : ld.err;
}

TEST_F(model_load, file_truncated_while_loading_is_einval)
{
	const struct gl_daemon *d = &self->d;
	long long free0 = dev_read_u64(d, 0, "vram.free");
	char what[128], file[160], buf[GL_TEXT_MAX];
	long long hold = -1;

	/* the llama2.c checkpoint */
	snprintf(what, sizeof(what), "%s/legacy.bin", self->dir);
	EXPECT_EQ(load_truncated(d, what, what), -EINVAL);
	EXPECT_EQ(gl_read_key_str(d, "models/ctl", "last_error", buf,
				  sizeof(buf)), 0);
	EXPECT_NE(strstr(buf, "PATH changed while loading"), NULL)
		TH_LOG("%s", buf);
	expect_nothing(d, free0);
	EXPECT_EQ(gl_read_key(d, "ctl", "model_load_hold", &hold), 0);
	EXPECT_EQ(hold, 0);
	EXPECT_EQ(gl_ctl_write(d, "ctl", "model_load_hold 2\n"), -EINVAL);

	/* the daemon lives and loads: the HF directory, whole */
	snprintf(what, sizeof(what), "%s/hf", self->dir);
	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "load m %s\n", what), 0);
	ASSERT_EQ(gl_ctl_write(d, "models/ctl", "unload m\n"), 0);
	expect_nothing(d, free0);

	/* its model.safetensors */
	snprintf(file, sizeof(file), "%s/model.safetensors", what);
	EXPECT_EQ(load_truncated(d, what, file), -EINVAL);
	EXPECT_EQ(gl_read_key_str(d, "models/ctl", "last_error", buf,
				  sizeof(buf)), 0);
	EXPECT_NE(strstr(buf, "model.safetensors changed while loading"),
		  NULL) TH_LOG("%s", buf);
	expect_nothing(d, free0);
	/* and serves on */
	snprintf(what, sizeof(what), "%s/ak42.bin", self->dir);
	EXPECT_EQ(gl_ctl_write(d, "models/ctl", "load m %s\n", what), 0);
	EXPECT_EQ(gl_read_key_str(d, "models/m/ctl", "state", buf,
				  sizeof(buf)), 0);
	EXPECT_STREQ(buf, "warm");
}

TEST_HARNESS_MAIN
