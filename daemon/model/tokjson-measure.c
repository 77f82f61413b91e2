// SPDX-License-Identifier: MIT
/*
 * tokenizer.json's first pass: the JSON parsed and its tables measured,
 * so that tokj_build() (tokjson.c) can fill them from an arena of that
 * size, in place in a model's lease. Invariant: the measure is never
 * less than what the build of a file it accepts takes (the same counts:
 * the added tokens, the vocab's keys and ids, the merges).
 */
#include <errno.h>
#include <jansson.h>
#include <string.h>

#include "daemon/model/tokjson.h"
#include "daemon/model/why.h"

/* member @key of @o, NULL when absent or null (tokjson.c's rule) */
static const json_t *get(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	return json_is_null(v) ? NULL : v;
}

static uint64_t merge_size(size_t n)
{
	uint64_t slots = tokj_merge_slots(n);

	return bpe_round(slots * 8) + 2 * bpe_round(slots * 4);
}

/* The bytes tokj_build() takes: an upper bound, exact for a file it
 * accepts (the counts parse_added() and parse_model() work from). */
static uint64_t tokj_measure(const json_t *root)
{
	const json_t *model = get(root, "model"), *list, *v, *c;
	json_int_t max_id = -1, id;
	uint64_t bytes = 0, n = 0, n_added = 0;
	const char *key;
	size_t i;

	list = get(root, "added_tokens");
	if (json_is_array(list) && json_array_size(list) <= TOKJ_MAX_ADDED) {
		n_added = json_array_size(list);
		json_array_foreach(list, i, v) {
			c = get(v, "content");
			id = json_integer_value(get(v, "id"));
			if (json_is_string(c))
				bytes += json_string_length(c);
			if (id > max_id && id < BPE_MAX_VOCAB)
				max_id = id;
		}
	}
	v = get(model, "vocab");
	if (json_is_object(v)) {
		n = json_object_size(v) + n_added;
		json_object_foreach((json_t *)v, key, c) {
			id = json_integer_value(c);
			if (id > max_id && id < BPE_MAX_VOCAB)
				max_id = id;
			bytes += strlen(key);
		}
	}
	if ((uint64_t)(max_id + 1) < n)
		n = max_id + 1;		/* else the build finds gaps */
	list = get(model, "merges");
	return bpe_round(sizeof(struct tokj)) +
	       bpe_vocab_size(n ? n : 1, bytes) +
	       bpe_round((n_added + 1) * sizeof(struct tokj_added)) +
	       merge_size(json_is_array(list) &&
			  json_array_size(list) <= BPE_MAX_VOCAB ?
			  json_array_size(list) : 0);
}

int tokj_prepare(const void *buf, size_t len, struct tokj_prep *p,
		 char *why, size_t whylen)
{
	json_error_t jerr;
	json_t *root;

	memset(p, 0, sizeof(*p));
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return model_why(why, whylen, -EINVAL, "tokenizer.json is "
				 "not JSON (line %d column %d)", jerr.line,
				 jerr.column);
	if (!json_is_object(root)) {
		json_decref(root);
		return model_why(why, whylen, -EINVAL, "tokenizer.json is "
				 "not an object");
	}
	p->root = root;
	p->size = tokj_measure(root);
	return 0;
}

void tokj_prep_free(struct tokj_prep *p)
{
	if (!p)
		return;
	json_decref(p->root);
	memset(p, 0, sizeof(*p));
}

