/* SPDX-License-Identifier: MIT */
/*
 * safetensors files: an 8-byte little-endian header length, a JSON header
 * mapping tensor names to {dtype, shape, data_offsets}, then the data area.
 * A pure parser over the bytes of the whole file.
 */
#ifndef GL_MODEL_SAFETENSORS_H
#define GL_MODEL_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#define ST_HEADER_MAX	(100u << 20)	/* the reference library's */
#define ST_MAX_TENSORS	65536
#define ST_MAX_DIMS	4
#define ST_NAME_MAX	256		/* with the NUL */

enum st_dtype {
	ST_F32,
	ST_F16,
	ST_BF16,
};

struct st_tensor {
	char name[ST_NAME_MAX];
	enum st_dtype dtype;
	int ndim;			/* 0 (a scalar) .. ST_MAX_DIMS */
	uint64_t shape[ST_MAX_DIMS];	/* unused dims are 1 */
	uint64_t nelem;			/* product of shape */
	uint64_t off;			/* from the start of the file */
	uint64_t len;			/* bytes, nelem * dtype size */
};

struct st_file {
	struct st_tensor *t;		/* sorted by name; st_free frees */
	size_t n;
	uint64_t data_off;		/* 8 + header length */
};

/*
 * st_parse - parse the safetensors file in @buf (@len bytes) into @out.
 * Returns 0, -ENOMEM, -ENOTSUP for a well-formed tensor this parser does
 * not carry (a dtype other than F32, F16 or BF16, more than 4 dims), or
 * -EINVAL with a reason in @why for anything malformed: a header length
 * past the file or over ST_HEADER_MAX, JSON that is not an object, a
 * duplicate name, a bad dtype, shape or data_offsets, offsets out of the
 * data area or overlapping, a byte length that is not the shape's product
 * times the dtype size, a name over ST_NAME_MAX - 1 bytes, a
 * __metadata__ that is not an object of strings. On failure @out is empty.
 * The caller frees a parsed @out with st_free().
 */
int st_parse(const void *buf, size_t len, struct st_file *out,
	     char *why, size_t whylen);

/* st_find - the tensor called @name, or NULL. O(log n). */
const struct st_tensor *st_find(const struct st_file *f, const char *name);

/* st_free - free @f's table; @f is empty afterwards. NULL-safe. */
void st_free(struct st_file *f);

/* st_dtype_size - bytes per element */
unsigned int st_dtype_size(enum st_dtype d);

/* st_dtype_name - "F32", "F16", "BF16" */
const char *st_dtype_name(enum st_dtype d);

#endif
