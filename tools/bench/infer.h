/* SPDX-License-Identifier: MIT */
/*
 * infer: one timed request through a model's infer file
 * (Documentation/models.md, "infer"), as the model benchmarks make them:
 * text or binary, the answer read to its end.
 */
#ifndef GL_BENCH_INFER_H
#define GL_BENCH_INFER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * infer_request() - open @path (a models/NAME/infer), write @req (@len
 * bytes) in one write, read the answer to its end (or until @size - 1
 * bytes) into @out and NUL-terminate it, close. *@ttft: ns from the
 * write to the first answer byte (0: none came); *@total: from the write
 * to the end. The open and close are not timed. Returns the answer's
 * bytes, or -errno (printed by verb_fail()). Thread-safe.
 */
ssize_t infer_request(const char *path, const void *req, size_t len,
		      char *out, size_t size, uint64_t *ttft,
		      uint64_t *total);

#endif /* GL_BENCH_INFER_H */
