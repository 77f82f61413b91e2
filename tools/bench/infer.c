/* SPDX-License-Identifier: MIT */
/*
 * infer: one timed request through a model's infer file (infer.h), the
 * loop the generate, streams and mlp benchmarks share.
 *
 * Invariant: the file is closed before infer_request() returns, on every
 * path; the clock runs from the write to the answer's end only.
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "tools/bench/infer.h"
#include "tools/bench/stats.h"
#include "tools/bench/verbs.h"

ssize_t infer_request(const char *path, const void *req, size_t len,
		      char *out, size_t size, uint64_t *ttft,
		      uint64_t *total)
{
	size_t got = 0;
	uint64_t t0;
	ssize_t n;
	int fd;

	if (!size)
		return -EINVAL;
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return verb_fail("open", path, -errno);
	t0 = stats_now_ns();
	n = write(fd, req, len);
	if (n != (ssize_t)len) {
		n = verb_fail("write", path, n < 0 ? -errno : -EIO);
		goto out;
	}
	*ttft = 0;
	while (got + 1 < size) {
		n = read(fd, out + got, size - 1 - got);
		if (n < 0) {
			n = verb_fail("read", path, -errno);
			goto out;
		}
		if (!n)
			break;
		if (!got)
			*ttft = stats_now_ns() - t0;
		got += (size_t)n;
	}
	*total = stats_now_ns() - t0;
	out[got] = '\0';
	n = (ssize_t)got;
out:
	close(fd);
	return n;
}
