/* SPDX-License-Identifier: MIT */
/*
 * model_fixture.h - what the model unit tests share: reading a fixture
 * file whole, and running a selftests/fixtures/ script under Debian's
 * /usr/bin/python3 (the one with numpy) into a test's directory.
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

#endif
