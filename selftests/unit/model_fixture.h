/* SPDX-License-Identifier: MIT */
/*
 * model_fixture.h - what the model unit tests share: reading a fixture
 * file whole, running a selftests/fixtures/ script under Debian's
 * /usr/bin/python3 (the one with numpy) into a test's directory, and for
 * the mlp tests their fixture and loader.
 */
#ifndef GL_SELFTEST_MODEL_FIXTURE_H
#define GL_SELFTEST_MODEL_FIXTURE_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef GL_FIXTURES
#define GL_FIXTURES "selftests/fixtures"
#endif

struct blob {
	unsigned char *p;	/* malloc'ed, the caller frees */
	size_t len;
};

/* slurp - read @dir/@name into @b: 0, -errno, or -EIO on a short read */
static inline int slurp(const char *dir, const char *name, struct blob *b)
{
	char path[512];
	struct stat st;
	int fd;

	b->p = NULL;
	b->len = 0;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || !(b->p = malloc(st.st_size + 1)) ||
	    read(fd, b->p, st.st_size) != st.st_size) {
		free(b->p);
		b->p = NULL;
		close(fd);
		return -EIO;
	}
	b->len = st.st_size;
	close(fd);
	return 0;
}

/*
 * run_fixture - run selftests/fixtures/@script with @dir and @args:
 * 0, 1 when /usr/bin/python3 has no numpy (the test skips), -1 when the
 * script failed.
 */
static inline int run_fixture(const char *script, const char *dir,
			      const char *args)
{
	char cmd[1024];

	if (system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1"))
		return 1;
	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s/%s %s %s",
		 GL_FIXTURES, script, dir, args);
	if (system(cmd)) {
		fprintf(stderr, "# %s failed\n", cmd);
		return -1;
	}
	return 0;
}

/*
 * The mlp unit tests' own (model_mlp.c, model_digits.c): define
 * MODEL_FIXTURE_MLP before including this header (after
 * selftests/harness.h). The fs tests, clients of uapi/ alone, do not.
 */
#ifdef MODEL_FIXTURE_MLP
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "daemon/model/hfconfig.h"
#include "daemon/model/mlp.h"
#include "daemon/model/safetensors.h"

/* MLP_FIXTURE - fixture fx: a fresh /tmp/PREFIX-XXXXXX, removed after. */
#define MLP_FIXTURE(prefix)						\
	FIXTURE(fx) {							\
		char dir[64];						\
	};								\
	FIXTURE_SETUP(fx)						\
	{								\
		strcpy(self->dir, "/tmp/" prefix "-XXXXXX");		\
		ASSERT_NE(mkdtemp(self->dir), NULL);			\
	}								\
	FIXTURE_TEARDOWN(fx)						\
	{								\
		char cmd[128];						\
									\
		snprintf(cmd, sizeof(cmd), "rm -rf %s", self->dir);	\
		if (self->dir[0] && system(cmd))			\
			TH_LOG("%s failed", cmd);			\
	}

struct mlp_model {
	struct mlp_plan p;
	void *base;		/* aligned_alloc'ed, the caller frees */
};

/*
 * mlp_model_load - @dir/config.json and @dir/@name through the real
 * parsers (hf_config_parse, st_parse, hf_mlp_map) and mlp_load() into @m
 * for @batch rows; with @lie, planned for a layer 1 one wider than the
 * file's tensors. 0 or -errno, the parsers' reason on stderr.
 */
static inline int mlp_model_load(const char *dir, const char *name,
				 struct mlp_model *m, uint32_t batch,
				 bool lie)
{
	struct blob cb, sb;
	struct hf_mlp_map map;
	struct hf_config c;
	struct st_file sf = { 0 };
	char why[160] = "";
	int err;

	m->base = NULL;
	err = slurp(dir, "config.json", &cb);
	if (err)
		return err;
	err = slurp(dir, name, &sb);
	if (!err)
		err = hf_config_parse(cb.p, cb.len, &c, why, sizeof(why));
	if (!err)
		err = c.arch == HF_MLP ? 0 : -EINVAL;
	if (!err)
		err = st_parse(sb.p, sb.len, &sf, why, sizeof(why));
	if (!err)
		err = hf_mlp_map(&c.mlp, &sf, &map, why, sizeof(why));
	if (!err && lie) {
		c.mlp.layer[1].out++;
		c.mlp.layer[2].in++;
	}
	if (!err)
		err = mlp_plan(&c.mlp, batch, &m->p);
	if (!err) {
		m->base = aligned_alloc(64, m->p.total_bytes);
		err = m->base ? 0 : -ENOMEM;
		if (m->base)	/* as a lease starts */
			memset(m->base, 0, m->p.total_bytes);
	}
	if (!err)
		err = mlp_load(&m->p, &map, sb.p, sb.len, m->base);
	if (err)
		fprintf(stderr, "# %s: %d %s\n", name, err, why);
	st_free(&sf);
	free(cb.p);
	free(sb.p);
	return err;
}
#endif

#endif
