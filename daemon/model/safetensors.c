/* SPDX-License-Identifier: MIT */
/*
 * The safetensors header, parsed with jansson and checked against the
 * file: every tensor's [begin, end) lies inside the data area, no two
 * overlap, and end - begin is exactly its element count times its dtype's
 * size. Invariant: a parsed table only holds spans inside the buffer.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "daemon/model/safetensors.h"
#include "daemon/model/why.h"

static const struct {
	const char *name;
	int dtype;		/* enum st_dtype, or -1: not carried */
} dtypes[] = {
	{ "F32", ST_F32 }, { "F16", ST_F16 }, { "BF16", ST_BF16 },
	{ "F64", -1 }, { "I64", -1 }, { "I32", -1 }, { "I16", -1 },
	{ "I8", -1 }, { "U64", -1 }, { "U32", -1 }, { "U16", -1 },
	{ "U8", -1 }, { "BOOL", -1 }, { "F8_E4M3", -1 }, { "F8_E5M2", -1 },
};

unsigned int st_dtype_size(enum st_dtype d)
{
	return d == ST_F32 ? 4 : 2;
}

const char *st_dtype_name(enum st_dtype d)
{
	return dtypes[d].name;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct st_tensor *)a)->name,
		      ((const struct st_tensor *)b)->name);
}

static int by_off(const void *a, const void *b)
{
	const struct st_tensor *x = *(const struct st_tensor *const *)a;
	const struct st_tensor *y = *(const struct st_tensor *const *)b;

	if (x->off != y->off)
		return x->off < y->off ? -1 : 1;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return 0;
}

/* a JSON integer >= 0, else false */
static bool get_u64(const json_t *v, uint64_t *out)
{
	json_int_t i;

	if (!json_is_integer(v))
		return false;
	i = json_integer_value(v);
	if (i < 0)
		return false;
	*out = (uint64_t)i;
	return true;
}

static int check_metadata(const json_t *meta, char *why, size_t whylen)
{
	const char *key;
	json_t *v;

	if (!json_is_object(meta))
		return model_why(why, whylen, -EINVAL,
				 "__metadata__ is not an object");
	json_object_foreach((json_t *)meta, key, v) {
		if (!json_is_string(v))
			return model_why(why, whylen, -EINVAL,
					 "__metadata__ value is not a string");
	}
	return 0;
}

/* Fill @t from one header entry; offsets still relative to the data area */
static int get_tensor(const char *name, const json_t *v, uint64_t area,
		      struct st_tensor *t, size_t idx, char *why,
		      size_t whylen)
{
	const json_t *dt, *shape, *offs;
	uint64_t begin, end, bytes;
	const char *s;
	size_t i, nd;

	if (strlen(name) >= ST_NAME_MAX)
		return model_why(why, whylen, -EINVAL,
				 "tensor %zu: name of %zu bytes is over %d",
				 idx, strlen(name), ST_NAME_MAX - 1);
	strcpy(t->name, name);
	if (!json_is_object(v))
		return model_why(why, whylen, -EINVAL,
				 "tensor %zu: entry is not an object", idx);
	dt = json_object_get(v, "dtype");
	shape = json_object_get(v, "shape");
	offs = json_object_get(v, "data_offsets");
	if (!json_is_string(dt) || !json_is_array(shape) ||
	    !json_is_array(offs))
		return model_why(why, whylen, -EINVAL,
				 "tensor %zu: needs dtype, shape, data_offsets",
				 idx);
	if (json_object_size(v) != 3)
		return model_why(why, whylen, -EINVAL,
				 "tensor %zu: unknown keys", idx);
	s = json_string_value(dt);
	for (i = 0; i < sizeof(dtypes) / sizeof(dtypes[0]); i++)
		if (!strcmp(s, dtypes[i].name))
			break;
	if (i == sizeof(dtypes) / sizeof(dtypes[0]))
		return model_why(why, whylen, -EINVAL,
				 "tensor %zu: unknown dtype", idx);
	if (dtypes[i].dtype < 0)
		return model_why(why, whylen, -ENOTSUP,
				 "tensor %zu: dtype %s is not F32, F16 or BF16",
				 idx, dtypes[i].name);
	t->dtype = dtypes[i].dtype;
	nd = json_array_size(shape);
	if (nd > ST_MAX_DIMS)
		return model_why(why, whylen, -ENOTSUP,
				 "tensor %zu: %zu dims, at most %d carried",
				 idx, nd, ST_MAX_DIMS);
	t->ndim = nd;
	t->nelem = 1;
	for (i = 0; i < ST_MAX_DIMS; i++) {
		t->shape[i] = 1;
		if (i < nd && !get_u64(json_array_get(shape, i), &t->shape[i]))
			return model_why(why, whylen, -EINVAL,
					 "tensor %zu: dim %zu is not a count",
					 idx, i);
		if (__builtin_mul_overflow(t->nelem, t->shape[i], &t->nelem))
			return model_why(why, whylen, -EINVAL,
					 "tensor %zu: shape overflows", idx);
	}
	if (json_array_size(offs) != 2 ||
	    !get_u64(json_array_get(offs, 0), &begin) ||
	    !get_u64(json_array_get(offs, 1), &end) || begin > end)
		return model_why(why, whylen, -EINVAL,
				 "tensor %zu: data_offsets is not [begin, end]",
				 idx);
	if (end > area)
		return model_why(why, whylen, -EINVAL,
				 "tensor %zu: ends at %llu, data area is %llu",
				 idx, (unsigned long long)end,
				 (unsigned long long)area);
	if (__builtin_mul_overflow(t->nelem, (uint64_t)st_dtype_size(t->dtype),
				   &bytes) || bytes != end - begin)
		return model_why(why, whylen, -EINVAL,
				 "tensor %zu: %llu bytes for %llu elements of %s",
				 idx, (unsigned long long)(end - begin),
				 (unsigned long long)t->nelem,
				 dtypes[t->dtype].name);
	t->off = begin;
	t->len = bytes;
	return 0;
}

/* No two tensors share a byte (empty tensors share none) */
static int check_overlap(struct st_file *f, char *why, size_t whylen)
{
	const struct st_tensor **v;
	uint64_t end = 0;
	size_t i;

	if (!f->n)
		return 0;
	v = malloc(f->n * sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (i = 0; i < f->n; i++)
		v[i] = &f->t[i];
	qsort(v, f->n, sizeof(*v), by_off);
	for (i = 0; i < f->n; i++) {
		if (!v[i]->len)
			continue;
		if (v[i]->off < end) {
			end = v[i]->off - f->data_off;
			free(v);
			return model_why(why, whylen, -EINVAL,
					 "tensors overlap at data offset %llu",
					 (unsigned long long)end);
		}
		end = v[i]->off + v[i]->len;
	}
	free(v);
	return 0;
}

int st_parse(const void *buf, size_t len, struct st_file *out,
	     char *why, size_t whylen)
{
	const unsigned char *p = buf;
	uint64_t hlen = 0, area;
	json_error_t jerr;
	const char *key;
	json_t *root, *v;
	size_t n, i = 0;
	int err = 0;

	memset(out, 0, sizeof(*out));
	if (len < 8)
		return model_why(why, whylen, -EINVAL,
				 "file of %zu bytes has no header length", len);
	for (n = 0; n < 8; n++)
		hlen |= (uint64_t)p[n] << (8 * n);
	if (hlen > ST_HEADER_MAX)
		return model_why(why, whylen, -EINVAL,
				 "header length %llu is over %u",
				 (unsigned long long)hlen, ST_HEADER_MAX);
	if (hlen > len - 8)
		return model_why(why, whylen, -EINVAL,
				 "header length %llu is past the file's end",
				 (unsigned long long)hlen);
	out->data_off = 8 + hlen;
	area = len - out->data_off;
	root = json_loadb((const char *)p + 8, hlen, JSON_REJECT_DUPLICATES,
			  &jerr);
	if (!root)
		/* jerr.text may quote the file: give the position only */
		return model_why(why, whylen, -EINVAL,
				 "header is not JSON (line %d column %d)",
				 jerr.line, jerr.column);
	if (!json_is_object(root)) {
		err = model_why(why, whylen, -EINVAL,
				"header is not a JSON object");
		goto out;
	}
	n = json_object_size(root);
	v = json_object_get(root, "__metadata__");
	if (v) {
		err = check_metadata(v, why, whylen);
		if (err)
			goto out;
		n--;
	}
	if (n > ST_MAX_TENSORS) {
		err = model_why(why, whylen, -EINVAL,
				"%zu tensors, at most %d", n, ST_MAX_TENSORS);
		goto out;
	}
	out->t = calloc(n ? n : 1, sizeof(*out->t));
	if (!out->t) {
		err = -ENOMEM;
		goto out;
	}
	json_object_foreach(root, key, v) {
		if (!strcmp(key, "__metadata__"))
			continue;
		err = get_tensor(key, v, area, &out->t[i], i, why, whylen);
		if (err)
			goto out;
		out->t[i].off += out->data_off;
		out->n = ++i;
	}
	err = check_overlap(out, why, whylen);
	if (err)
		goto out;
	qsort(out->t, out->n, sizeof(*out->t), by_name);
out:
	json_decref(root);
	if (err)
		st_free(out);
	return err;
}

const struct st_tensor *st_find(const struct st_file *f, const char *name)
{
	struct st_tensor key;

	if (!f->n || strlen(name) >= ST_NAME_MAX)
		return NULL;
	strcpy(key.name, name);
	return bsearch(&key, f->t, f->n, sizeof(*f->t), by_name);
}

void st_free(struct st_file *f)
{
	if (!f)
		return;
	free(f->t);
	f->t = NULL;
	f->n = 0;
}
