/* SPDX-License-Identifier: MIT */
/*
 * Kernel signatures: parse "u32 n, f32 a, buf x, buf y" into a typed
 * parameter list, and match resolved launch arguments against one.
 *
 * Invariant: a parsed signature has at most GL_KPARAMS_MAX parameters,
 * each of a valid type, with distinct C-identifier names that fit
 * GL_KPARAM_NAME_MAX; anything else is -EINVAL and leaves no half state
 * the caller could use (count is 0).
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "kernels/kernels.h"

static const char *const ktype_names[GL_KT_COUNT] = {
	[GL_KT_U32] = "u32", [GL_KT_I32] = "i32", [GL_KT_U64] = "u64",
	[GL_KT_F32] = "f32", [GL_KT_F64] = "f64", [GL_KT_BUF] = "buf",
	[GL_KT_IO] = "io",
};

const char *gl_ktype_name(enum gl_ktype type)
{
	if ((unsigned int)type >= GL_KT_COUNT)
		return NULL;
	return ktype_names[type];
}

int gl_ktype_parse(const char *word, size_t len)
{
	int t;

	for (t = 0; t < GL_KT_COUNT; t++)
		if (strlen(ktype_names[t]) == len &&
		    !memcmp(ktype_names[t], word, len))
			return t;
	return -EINVAL;
}

static bool sig_space(char c)
{
	return c == ' ' || c == '\t';
}

static bool sig_ident(char c, bool first)
{
	if (c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
		return true;
	return !first && c >= '0' && c <= '9';
}

/* sig_param - parse "TYPE NAME" at *@p into @kp, advancing *@p. */
static int sig_param(const char **p, struct gl_kparam *kp)
{
	const char *s = *p, *word;
	size_t len;
	int t;

	while (sig_space(*s))
		s++;
	word = s;
	while (*s && !sig_space(*s) && *s != ',')
		s++;
	t = gl_ktype_parse(word, s - word);
	if (t < 0)
		return t;
	while (sig_space(*s))
		s++;
	word = s;
	while (sig_ident(*s, s == word))
		s++;
	len = s - word;
	if (!len || len >= GL_KPARAM_NAME_MAX)
		return -EINVAL;
	while (sig_space(*s))
		s++;
	if (*s && *s != ',')
		return -EINVAL;
	kp->type = t;
	memcpy(kp->name, word, len);
	kp->name[len] = '\0';
	*p = s;
	return 0;
}

int gl_ksig_parse(const char *text, struct gl_ksig *sig)
{
	const char *p = text;
	uint32_t i, j;
	int err;

	memset(sig, 0, sizeof(*sig));
	while (sig_space(*p))
		p++;
	if (!*p)
		return 0;
	for (i = 0;; i++) {
		if (i == GL_KPARAMS_MAX)
			goto invalid;
		err = sig_param(&p, &sig->param[i]);
		if (err)
			goto invalid;
		for (j = 0; j < i; j++)
			if (!strcmp(sig->param[j].name, sig->param[i].name))
				goto invalid;
		if (!*p)
			break;
		p++;	/* the comma */
	}
	sig->count = i + 1;
	return 0;
invalid:
	memset(sig, 0, sizeof(*sig));
	return -EINVAL;
}

int gl_ksig_match(const struct gl_ksig *sig, const struct gl_kargs *args)
{
	uint32_t i;

	if (args->count != sig->count)
		return -EINVAL;
	for (i = 0; i < sig->count; i++)
		if (args->v[i].type != sig->param[i].type)
			return -EINVAL;
	return 0;
}
