/* SPDX-License-Identifier: MIT */
/*
 * model_common.h - what the model fs tests share: a seeded tiny Llama
 * written by selftests/fixtures/write_checkpoints.py into a directory
 * any uid can read, loading it, and one infer request read whole.
 */
#ifndef GL_SELFTEST_MODEL_COMMON_H
#define GL_SELFTEST_MODEL_COMMON_H

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "selftests/lib/gltest.h"
#include "selftests/unit/model_fixture.h"

/* A fresh fixture directory (0755) written by selftests/fixtures/
 * @script: 0, 1 (no numpy: skip) or -1. */
static inline int model_fixture_by(char *dir, size_t size,
				   const char *script, const char *args)
{
	int r;

	snprintf(dir, size, "/tmp/gl-model-XXXXXX");
	if (!mkdtemp(dir) || chmod(dir, 0755))
		return -1;
	r = run_fixture(script, dir, args);
	if (r)
		return r;
	return chmod(dir, 0755) ? -1 : 0;
}

/* The Llama checkpoints of write_checkpoints.py. */
static inline int model_fixture(char *dir, size_t size, const char *args)
{
	return model_fixture_by(dir, size, "write_checkpoints.py", args);
}

static inline void model_fixture_rm(const char *dir)
{
	char cmd[300];

	if (!dir[0])
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd))
		fprintf(stderr, "# %s failed\n", cmd);
}

/*
 * MODEL_FIXTURE(fix, script, script_args) - the fixture of most model
 * tests: a daemon started with the file's own args[], and a model
 * directory in self->dir written by selftests/fixtures/@script with
 * @script_args (the tests skip when /usr/bin/python3 has no numpy);
 * both gone after each test. Needs selftests/harness.h first.
 */
#define MODEL_FIXTURE(fix, script, script_args)				\
FIXTURE(fix) {								\
	struct gl_daemon d;						\
	char dir[64];							\
};									\
									\
FIXTURE_SETUP(fix)							\
{									\
	int r;								\
									\
	self->dir[0] = '\0';						\
	GL_DAEMON_SETUP(&self->d, args);				\
	r = model_fixture_by(self->dir, sizeof(self->dir), script,	\
			     script_args);				\
	if (r == 1)							\
		SKIP(return, "/usr/bin/python3 has no numpy");		\
	ASSERT_EQ(r, 0);						\
}									\
									\
FIXTURE_TEARDOWN(fix)							\
{									\
	model_fixture_rm(self->dir);					\
	GL_DAEMON_TEARDOWN(&self->d);					\
}

/*
 * One request on models/NAME/infer: write @req, read the answer whole
 * into @out (NUL-terminated). Returns the answer's length, or the -errno
 * of the open, the write or the read that failed.
 */
static inline int model_infer(const struct gl_daemon *d, const char *name,
			      const char *req, char *out, size_t size)
{
	size_t got = 0;
	ssize_t n;
	int fd, err = 0;

	fd = open(gl_path(d, "models/%s/infer", name), O_RDWR);
	if (fd < 0)
		return -errno;
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
		err = -errno;
		goto out;
	}
	while (got + 1 < size) {
		n = read(fd, out + got, size - 1 - got);
		if (n < 0) {
			err = -errno;
			goto out;
		}
		if (!n)
			break;
		got += (size_t)n;
	}
out:
	out[got] = '\0';
	close(fd);
	return err ? err : (int)got;
}

/*
 * One binary request on models/NAME/infer: write @len bytes of @req in
 * one write on a fresh open, read the answer into @ans until its end or
 * @size bytes. Returns the bytes read, or the -errno of the open, the
 * write or the read that failed.
 */
static inline int model_infer_raw(const struct gl_daemon *d,
				  const char *name, const void *req,
				  size_t len, void *ans, size_t size)
{
	ssize_t n = 0, got = 0;
	int fd, err = 0;

	fd = open(gl_path(d, "models/%s/infer", name), O_RDWR);
	if (fd < 0)
		return -errno;
	if (write(fd, req, len) != (ssize_t)len) {
		err = -errno;
		goto out;
	}
	while ((size_t)got < size &&
	       (n = read(fd, (char *)ans + got, size - got)) > 0)
		got += n;
	if (n < 0)
		err = -errno;
out:
	close(fd);
	return err ? err : (int)got;
}

/* Parse " ID ID ..." into @ids: the count. */
static inline int model_ids(const char *s, unsigned *ids, int max)
{
	int n = 0;
	char *end;

	while (n < max) {
		unsigned long v = strtoul(s, &end, 10);

		if (end == s)
			break;
		ids[n++] = (unsigned)v;
		s = end;
	}
	return n;
}

#endif
