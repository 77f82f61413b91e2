/* SPDX-License-Identifier: MIT */
/*
 * tokenizer.json into a struct tokj: the model, the added tokens and the
 * pipeline around them. Invariants after a successful parse: every id in
 * [0, vocab.n) has bytes, every merge's parts and result are ids, every
 * template id is an id, and no configuration the encoder does not
 * implement got through (it is refused, never approximated).
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/model/tokjson.h"
#include "daemon/model/why.h"

#define WHY(...) model_why(why, whylen, -EINVAL, __VA_ARGS__)

static const json_t *get(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	return json_is_null(v) ? NULL : v;
}

static bool is_type(const json_t *o, const char *type)
{
	const json_t *v = json_object_get(o, "type");

	return json_is_string(v) && !strcmp(json_string_value(v), type);
}

/* a string member into @dst (< TOKJ_MAX_STR bytes, not empty) */
static int get_str(const json_t *o, const char *key, char *dst, uint8_t *len,
		   const char *what, char *why, size_t whylen)
{
	const json_t *v = get(o, key);
	size_t n;

	if (!json_is_string(v))
		return WHY("%s: %s is not a string", what, key);
	n = json_string_length(v);
	if (!n || n >= TOKJ_MAX_STR)
		return WHY("%s: %s is empty or over %d bytes", what, key,
			   TOKJ_MAX_STR - 1);
	memcpy(dst, json_string_value(v), n);
	*len = n;
	return 0;
}

/* Hugging Face's Strip and Metaspace take a char, one code point */
static bool one_char(const char *s, size_t len)
{
	return utf8_len((const unsigned char *)s, len) == len;
}

/* a flag that must be absent, null or false */
static int must_be_off(const json_t *o, const char *key, const char *what,
		       char *why, size_t whylen)
{
	const json_t *v = get(o, key);

	if (v && !json_is_false(v))
		return WHY("%s: %s is not supported", what, key);
	return 0;
}

/* {"String": s} only: regular expressions are refused */
static int get_pattern(const json_t *o, struct tokj_step *s, const char *what,
		       char *why, size_t whylen)
{
	const json_t *p = get(o, "pattern");

	if (!json_is_object(p) || json_object_size(p) != 1 ||
	    !json_object_get(p, "String"))
		return WHY("%s: pattern is not {\"String\": ...}", what);
	if (get_str(p, "String", s->a, &s->alen, what, why, whylen))
		return -EINVAL;
	return get_str(o, "content", s->b, &s->blen, what, why, whylen);
}

static int prepend_scheme(const json_t *o, enum tokj_prepend *out,
			  char *why, size_t whylen)
{
	const json_t *v = get(o, "prepend_scheme");
	const char *s;

	if (!v) {	/* the older form */
		v = get(o, "add_prefix_space");
		if (v && !json_is_boolean(v))
			return WHY("Metaspace: add_prefix_space is not a boolean");
		*out = !v || json_is_true(v) ? TOKJ_ALWAYS : TOKJ_NEVER;
		return 0;
	}
	s = json_string_value(v);
	if (!s)
		return WHY("Metaspace: prepend_scheme is not a string");
	if (!strcmp(s, "always"))
		*out = TOKJ_ALWAYS;
	else if (!strcmp(s, "first"))
		*out = TOKJ_FIRST;
	else if (!strcmp(s, "never"))
		*out = TOKJ_NEVER;
	else
		return WHY("Metaspace: prepend_scheme is not always, first or never");
	return 0;
}

static int get_steps(const json_t *o, bool dec, struct tokj_step *st, int *n,
		     int depth, char *why, size_t whylen)
{
	const char *what = dec ? "decoder" : "normalizer";
	const json_t *list, *v;
	struct tokj_step *s;
	enum tokj_prepend ps;
	size_t i;

	if (!json_is_object(o))
		return WHY("%s is not an object", what);
	if (is_type(o, "Sequence")) {
		list = get(o, dec ? "decoders" : "normalizers");
		if (!json_is_array(list) || depth > 4)
			return WHY("%s: a Sequence without a list, or nested too deep",
				   what);
		json_array_foreach(list, i, v)
			if (get_steps(v, dec, st, n, depth + 1, why, whylen))
				return -EINVAL;
		return 0;
	}
	if (*n == TOKJ_MAX_STEPS)
		return WHY("%s: more than %d steps", what, TOKJ_MAX_STEPS);
	s = &st[(*n)++];
	memset(s, 0, sizeof(*s));
	if (is_type(o, "Replace")) {
		s->op = TOKJ_REPLACE;
		return get_pattern(o, s, what, why, whylen);
	}
	if (!dec && is_type(o, "Prepend")) {
		s->op = TOKJ_PREPEND;
		return get_str(o, "prepend", s->a, &s->alen, what, why, whylen);
	}
	if (dec && is_type(o, "ByteFallback")) {
		s->op = TOKJ_BYTE_FALLBACK;
		return 0;
	}
	if (dec && is_type(o, "Fuse")) {
		s->op = TOKJ_FUSE;
		return 0;
	}
	if (dec && is_type(o, "Strip")) {
		s->op = TOKJ_STRIP;
		if (get_str(o, "content", s->a, &s->alen, what, why, whylen))
			return -EINVAL;
		if (!one_char(s->a, s->alen))
			return WHY("decoder: Strip's content is not one character");
		v = get(o, "start");
		list = get(o, "stop");
		if (!json_is_integer(v) || !json_is_integer(list) ||
		    json_integer_value(v) < 0 || json_integer_value(v) > 1024 ||
		    json_integer_value(list) < 0 ||
		    json_integer_value(list) > 1024)
			return WHY("decoder: Strip's start or stop is not in [0, 1024]");
		s->start = json_integer_value(v);
		s->stop = json_integer_value(list);
		return 0;
	}
	if (dec && is_type(o, "Metaspace")) {
		s->op = TOKJ_METASPACE;
		if (get_str(o, "replacement", s->a, &s->alen, what, why,
			    whylen) || prepend_scheme(o, &ps, why, whylen))
			return -EINVAL;
		if (!one_char(s->a, s->alen))
			return WHY("decoder: Metaspace's replacement is not one character");
		s->strip_first = ps != TOKJ_NEVER;
		return 0;
	}
	return dec ? WHY("decoder: a step is not Sequence, Replace, ByteFallback, Fuse, Strip or Metaspace")
		   : WHY("normalizer: a step is not Sequence, Prepend or Replace");
}

static int parse_pre_tokenizer(const json_t *o, struct tokj *t, char *why,
			       size_t whylen)
{
	const json_t *v;

	if (!o)
		return 0;
	if (is_type(o, "Sequence")) {
		v = get(o, "pretokenizers");
		if (!json_is_array(v) || json_array_size(v) != 1)
			return WHY("pre_tokenizer: a Sequence of other than one Metaspace");
		o = json_array_get(v, 0);
	}
	if (!json_is_object(o) || !is_type(o, "Metaspace"))
		return WHY("pre_tokenizer is not Metaspace or null");
	t->metaspace = true;
	if (get_str(o, "replacement", t->ms_rep, &t->ms_len, "pre_tokenizer",
		    why, whylen))
		return -EINVAL;
	if (!one_char(t->ms_rep, t->ms_len))
		return WHY("pre_tokenizer: replacement is not one character");
	v = get(o, "split");
	if (v && !json_is_boolean(v))
		return WHY("pre_tokenizer: split is not a boolean");
	t->ms_split = !v || json_is_true(v);
	return prepend_scheme(o, &t->ms_prepend, why, whylen);
}

/* TemplateProcessing's "single": special tokens around Sequence A */
static int parse_post(const json_t *o, struct tokj *t, char *why,
		      size_t whylen)
{
	const json_t *single, *item, *sp, *ids, *v;
	bool seen_a = false;
	size_t i, k;
	json_int_t id;

	if (!o)
		return 0;
	single = get(o, "single");
	sp = get(o, "special_tokens");
	if (!is_type(o, "TemplateProcessing") || !json_is_array(single) ||
	    (sp && !json_is_object(sp)))
		return WHY("post_processor is not TemplateProcessing or null");
	json_array_foreach(single, i, item) {
		v = get(item, "Sequence");
		if (v) {
			v = get(v, "id");
			if (seen_a || !json_is_string(v) ||
			    strcmp(json_string_value(v), "A"))
				return WHY("post_processor: single has other than one Sequence A");
			seen_a = true;
			continue;
		}
		v = get(get(item, "SpecialToken"), "id");
		ids = json_is_string(v) ? get(get(sp, json_string_value(v)),
					      "ids") : NULL;
		if (!json_is_array(ids))
			return WHY("post_processor: single[%zu] is not a known SpecialToken",
				   i);
		json_array_foreach(ids, k, v) {
			id = json_integer_value(v);
			if (!json_is_integer(v) || id < 0 || id >= t->vocab.n)
				return WHY("post_processor: an id is not in the vocab");
			if (t->n_pre + t->n_post == TOKJ_MAX_STEPS)
				return WHY("post_processor: more than %d ids",
					   TOKJ_MAX_STEPS);
			if (seen_a)
				t->post[t->n_post++] = id;
			else
				t->pre[t->n_pre++] = id;
		}
	}
	if (!seen_a)
		return WHY("post_processor: single has no Sequence A");
	return 0;
}

static int added_cmp(const void *a, const void *b)
{
	const struct tokj_added *x = a, *y = b;

	return (x->id > y->id) - (x->id < y->id);
}

/* added_tokens: checked and counted; their bytes go in later */
static int parse_added(const json_t *list, struct tokj *t, uint64_t *bytes,
		       json_int_t *max_id, struct bpe_arena *ar, char *why,
		       size_t whylen)
{
	static const char *const off[] = { "lstrip", "rstrip", "single_word",
					   "normalized" };
	const json_t *a, *c, *id;
	size_t i, k;

	if (!list)
		return 0;
	if (!json_is_array(list) || json_array_size(list) > TOKJ_MAX_ADDED)
		return WHY("added_tokens is not an array of at most %d",
			   TOKJ_MAX_ADDED);
	t->added = bpe_take(ar, (json_array_size(list) + 1) *
				sizeof(*t->added));
	if (!t->added)
		return -ENOSPC;
	memset(t->added, 0, (json_array_size(list) + 1) * sizeof(*t->added));
	json_array_foreach(list, i, a) {
		c = get(a, "content");
		id = get(a, "id");
		if (!json_is_string(c) || !json_string_length(c) ||
		    !json_is_integer(id) || json_integer_value(id) < 0 ||
		    json_integer_value(id) >= BPE_MAX_VOCAB)
			return WHY("added_tokens[%zu]: no content or no id in range",
				   i);
		for (k = 0; k < 4; k++)
			if (must_be_off(a, off[k], "added_tokens", why, whylen))
				return -EINVAL;
		t->added[i].id = json_integer_value(id);
		t->added[i].special = json_is_true(get(a, "special"));
		t->added_first[*(unsigned char *)json_string_value(c)] = 1;
		*bytes += json_string_length(c);
		if (json_integer_value(id) > *max_id)
			*max_id = json_integer_value(id);
	}
	t->n_added = i;
	qsort(t->added, t->n_added, sizeof(*t->added), added_cmp);
	for (i = 1; i < t->n_added; i++)
		if (t->added[i].id == t->added[i - 1].id)
			return WHY("two added tokens have id %u",
				   t->added[i].id);
	return 0;
}

static int set_added(const json_t *list, struct tokj *t, char *why,
		     size_t whylen)
{
	const json_t *a, *c;
	const char *have;
	size_t i, hlen;
	uint32_t id;
	int err;

	json_array_foreach(list, i, a) {
		c = get(a, "content");
		id = json_integer_value(get(a, "id"));
		have = bpe_vocab_get(&t->vocab, id, &hlen);
		if (have) {
			if (hlen != json_string_length(c) ||
			    memcmp(have, json_string_value(c), hlen))
				return WHY("added token %u differs from the vocab's",
					   id);
			continue;
		}
		err = bpe_vocab_set(&t->vocab, id, json_string_value(c),
				    json_string_length(c));
		if (err)
			return WHY("added token %u repeats another token", id);
	}
	return 0;
}

static int merge_put(struct tokj *t, uint32_t a, uint32_t b, uint32_t rank,
		     uint32_t id)
{
	uint64_t key = (uint64_t)a << 32 | b, i = bpe_mix64(key);

	for (i &= t->merge_mask;; i = (i + 1) & t->merge_mask) {
		if (t->merge_key[i] == key)
			return -EEXIST;
		if (t->merge_key[i] == UINT64_MAX)
			break;
	}
	t->merge_key[i] = key;
	t->merge_rank[i] = rank;
	t->merge_id[i] = id;
	return 0;
}

/* one merge, "a b" or ["a", "b"], into its parts' ids and the result's */
static int parse_merge(const json_t *m, struct tokj *t, char **cat,
		       size_t *catlen, uint32_t ab[3])
{
	const char *a, *b, *sp;
	size_t al, bl;

	if (json_is_string(m)) {
		a = json_string_value(m);
		sp = memchr(a, ' ', json_string_length(m));
		if (!sp || memchr(sp + 1, ' ', a + json_string_length(m) -
				  sp - 1))
			return -EINVAL;
		al = sp - a;
		b = sp + 1;
		bl = a + json_string_length(m) - b;
	} else if (json_is_array(m) && json_array_size(m) == 2 &&
		   json_is_string(json_array_get(m, 0)) &&
		   json_is_string(json_array_get(m, 1))) {
		a = json_string_value(json_array_get(m, 0));
		al = json_string_length(json_array_get(m, 0));
		b = json_string_value(json_array_get(m, 1));
		bl = json_string_length(json_array_get(m, 1));
	} else {
		return -EINVAL;
	}
	if (al + bl > *catlen) {
		free(*cat);
		*catlen = 2 * (al + bl);
		*cat = malloc(*catlen);
		if (!*cat)
			return -ENOMEM;
	}
	memcpy(*cat, a, al);
	memcpy(*cat + al, b, bl);
	ab[0] = bpe_vocab_find(&t->vocab, a, al);
	ab[1] = bpe_vocab_find(&t->vocab, b, bl);
	ab[2] = bpe_vocab_find(&t->vocab, *cat, al + bl);
	if (ab[0] == BPE_NONE || ab[1] == BPE_NONE || ab[2] == BPE_NONE)
		return -EINVAL;
	return 0;
}

uint64_t tokj_merge_slots(size_t n)
{
	uint64_t slots = 16;

	while (slots < 2 * n)
		slots <<= 1;
	return slots;
}

static int parse_merges(const json_t *list, struct tokj *t,
			struct bpe_arena *ar, char *why, size_t whylen)
{
	uint64_t slots;
	size_t i, catlen = 0;
	char *cat = NULL;
	const json_t *m;
	uint32_t ab[3];
	int err = 0;

	if (!json_is_array(list) || json_array_size(list) > BPE_MAX_VOCAB)
		return WHY("model: merges is not an array of at most %d",
			   BPE_MAX_VOCAB);
	slots = tokj_merge_slots(json_array_size(list));
	t->merge_mask = slots - 1;
	t->merge_key = bpe_take(ar, slots * sizeof(*t->merge_key));
	t->merge_rank = bpe_take(ar, slots * sizeof(*t->merge_rank));
	t->merge_id = bpe_take(ar, slots * sizeof(*t->merge_id));
	if (!t->merge_key || !t->merge_rank || !t->merge_id)
		return -ENOSPC;
	memset(t->merge_key, 0xff, slots * sizeof(*t->merge_key));
	json_array_foreach(list, i, m) {
		err = parse_merge(m, t, &cat, &catlen, ab);
		if (err == -EINVAL)
			err = WHY("model: merges[%zu] is not two tokens whose concatenation is a token",
				  i);
		else if (!err && merge_put(t, ab[0], ab[1], i, ab[2]))
			err = WHY("model: merges[%zu] repeats a merge", i);
		if (err)
			break;
	}
	t->n_merges = i;
	free(cat);
	return err;
}

static int parse_model(const json_t *m, struct tokj *t, uint64_t bytes,
		       json_int_t max_id, const json_t *added,
		       struct bpe_arena *ar, char *why, size_t whylen)
{
	static const char *const none[] = { "dropout", "ignore_merges" };
	static const char *const empty[] = { "continuing_subword_prefix",
					     "end_of_word_suffix" };
	const json_t *vocab, *v;
	const char *key;
	char name[8];
	size_t i, n;
	int err;

	if (!json_is_object(m) || !is_type(m, "BPE"))
		return WHY("model is not of type BPE");
	for (i = 0; i < 2; i++) {
		v = get(m, none[i]);
		if (v && !json_is_false(v) &&
		    !(json_is_number(v) && json_number_value(v) == 0))
			return WHY("model: %s is not supported", none[i]);
		v = get(m, empty[i]);
		if (v && (!json_is_string(v) || json_string_length(v)))
			return WHY("model: %s is not supported", empty[i]);
	}
	v = get(m, "byte_fallback");
	if (v && !json_is_boolean(v))
		return WHY("model: byte_fallback is not a boolean");
	t->byte_fallback = json_is_true(v);
	v = get(m, "fuse_unk");
	if (v && !json_is_boolean(v))
		return WHY("model: fuse_unk is not a boolean");
	t->fuse_unk = json_is_true(v);
	vocab = get(m, "vocab");
	if (!json_is_object(vocab) || !json_object_size(vocab))
		return WHY("model: vocab is not a non-empty object");
	json_object_foreach((json_t *)vocab, key, v) {
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) >= BPE_MAX_VOCAB)
			return WHY("model: a vocab id is not in [0, %d)",
				   BPE_MAX_VOCAB);
		if (json_integer_value(v) > max_id)
			max_id = json_integer_value(v);
		bytes += strlen(key);
	}
	n = json_object_size(vocab) + t->n_added;
	if ((size_t)max_id >= n)
		return WHY("ids leave gaps: %lld is over %zu tokens",
			   (long long)max_id, n);
	err = bpe_vocab_init(&t->vocab, max_id + 1, bytes, ar);
	if (err)
		return err == -ENOSPC ? err : WHY("vocab size out of range");
	json_object_foreach((json_t *)vocab, key, v)
		if (bpe_vocab_set(&t->vocab, json_integer_value(v), key,
				  strlen(key)))
			return WHY("model: vocab id %lld is given twice",
				   (long long)json_integer_value(v));
	err = set_added(added, t, why, whylen);
	if (err)
		return err;
	for (i = 0; i < t->vocab.n; i++)
		if (t->vocab.len[i] == BPE_NONE)
			return WHY("id %zu has no token", i);
	for (i = 0; i < 256; i++) {
		snprintf(name, sizeof(name), "<0x%02X>", (unsigned int)i);
		t->byte_id[i] = bpe_vocab_find(&t->vocab, name, 6);
		/* Hugging Face then orders a pending unk oddly: refused */
		if (t->byte_fallback && t->byte_id[i] == BPE_NONE)
			return WHY("model: byte_fallback without token <0x%02X>",
				   (unsigned int)i);
	}
	t->unk = BPE_NONE;
	v = get(m, "unk_token");
	if (v) {
		if (!json_is_string(v))
			return WHY("model: unk_token is not a string");
		t->unk = bpe_vocab_find(&t->vocab, json_string_value(v),
					json_string_length(v));
		if (t->unk == BPE_NONE)
			return WHY("model: unk_token is not in the vocab");
	}
	return parse_merges(get(m, "merges"), t, ar, why, whylen);
}

int tokj_build(const struct tokj_prep *p, struct tokj *t,
	       struct bpe_arena *ar, char *why, size_t whylen)
{
	const json_t *root = p->root, *model, *added, *v;
	json_int_t max_id = -1;
	uint64_t bytes = 0;
	int err;

	memset(t, 0, sizeof(*t));
	if (get(root, "truncation") || get(root, "padding"))
		return WHY("truncation or padding is set");
	model = get(root, "model");
	added = get(root, "added_tokens");
	err = parse_added(added, t, &bytes, &max_id, ar, why, whylen);
	if (!err)
		err = parse_model(model, t, bytes, max_id, added, ar, why,
				  whylen);
	if (!err && (v = get(root, "normalizer")))
		err = get_steps(v, false, t->norm, &t->n_norm, 0, why, whylen);
	if (!err)
		err = parse_pre_tokenizer(get(root, "pre_tokenizer"), t, why,
					  whylen);
	if (!err)
		err = parse_post(get(root, "post_processor"), t, why, whylen);
	if (!err && (v = get(root, "decoder")))
		err = get_steps(v, true, t->dec, &t->n_dec, 0, why, whylen);
	else if (!err)
		t->dec_join = true;
	return err;
}

int tokj_parse(const void *buf, size_t len, struct tokj *t, char *why,
	       size_t whylen)
{
	struct bpe_arena a = { 0 };
	struct tokj_prep p;
	int err;

	memset(t, 0, sizeof(*t));
	err = tokj_prepare(buf, len, &p, why, whylen);
	if (err)
		return err;
	/* the struct is the caller's: its share of the size goes spare */
	a.cap = p.size;
	a.p = malloc(a.cap);
	err = a.p ? tokj_build(&p, t, &a, why, whylen) : -ENOMEM;
	t->own = a.p;
	tokj_prep_free(&p);
	if (err == -ENOSPC)
		err = model_why(why, whylen, -ENOMEM, "tokenizer.json: "
				"its tables outgrew their measure");
	if (err)
		tokj_free(t);
	return err;
}

void tokj_free(struct tokj *t)
{
	if (!t)
		return;
	free(t->own);
	memset(t, 0, sizeof(*t));
}

bool tokj_is_special(const struct tokj *t, uint32_t id)
{
	struct tokj_added key = { .id = id }, *a;

	if (!t->n_added)
		return false;
	a = bsearch(&key, t->added, t->n_added, sizeof(key), added_cmp);
	return a && a->special;
}
