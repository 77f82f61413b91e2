/* SPDX-License-Identifier: MIT */
/*
 * Chain descriptor parsers (Documentation/ring.md, "Chains";
 * Documentation/kernels.md, "Chains through submit"). Each step goes
 * through the one launch parser, so a step means what the same launch
 * means alone. Invariant: total over arbitrary bytes (fuzzed), bounded
 * by the limits of uapi/chain.h; on success every step and ref is valid
 * as far as can be known without a lease; on failure nothing is held.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/chain-parse.h"

#define CHAIN_WORD	"chain"

bool chain_is(const void *data, size_t len)
{
	const size_t n = sizeof(CHAIN_WORD) - 1;
	uint32_t magic;

	if (len >= sizeof(magic)) {
		memcpy(&magic, data, sizeof(magic));
		if (magic == GL_CHAIN_MAGIC)
			return true;
	}
	return len > n && !memcmp(data, CHAIN_WORD, n) &&
	       ((const char *)data)[n] == '\n';
}

void chain_spec_release(struct chain_spec *s)
{
	free(s->steps);
	s->steps = NULL;
}

static bool arg_is_scalar(uint32_t type)
{
	return type != GL_ARG_BUF && type != GL_ARG_IO;
}

static int check_refs(struct chain_spec *s)
{
	uint32_t i, j;

	for (i = 0; i < s->nrefs; i++) {
		const struct gl_chain_ref *r = &s->refs[i];

		s->bad_step = r->step < s->nsteps ? r->step : s->nsteps;
		if (r->reserved || r->step >= s->nsteps ||
		    r->param >= s->nparams ||
		    r->arg >= s->steps[r->step].nargs ||
		    !arg_is_scalar(s->steps[r->step].args[r->arg].type))
			return -EINVAL;
		for (j = 0; j < i; j++)
			if (s->refs[j].step == r->step &&
			    s->refs[j].arg == r->arg)
				return -EINVAL;
	}
	s->bad_step = 0;
	return 0;
}

static int parse_binary(const unsigned char *p, size_t len,
			struct chain_spec *s)
{
	struct gl_chain_desc h;
	size_t off, refs_len;
	uint32_t i;
	int err;

	s->bad_step = 0;
	if (len > GL_CHAIN_DESC_MAX)
		return -EFBIG;
	if (len < sizeof(h))
		return -EINVAL;
	memcpy(&h, p, sizeof(h));
	if (h.magic != GL_CHAIN_MAGIC || h.version != GL_CHAIN_VERSION ||
	    h.flags || h.reserved[0] || h.reserved[1] || !h.nsteps)
		return -EINVAL;
	if (h.nsteps > GL_CHAIN_STEPS_MAX || h.nparams > GL_CHAIN_PARAMS_MAX ||
	    h.nrefs > GL_CHAIN_REFS_MAX)
		return -EFBIG;
	s->nsteps = h.nsteps;
	s->nparams = h.nparams;
	s->nrefs = h.nrefs;
	refs_len = (size_t)h.nrefs * sizeof(struct gl_chain_ref);
	if (len - sizeof(h) < refs_len)
		return -EINVAL;
	memcpy(s->refs, p + sizeof(h), refs_len);
	s->steps = calloc(h.nsteps, sizeof(*s->steps));
	if (!s->steps)
		return -ENOMEM;
	off = sizeof(h) + refs_len;
	for (i = 0; i < h.nsteps; i++) {
		uint16_t nargs;
		size_t n;

		s->bad_step = i;
		if (len - off < GL_LAUNCH_DESC_SIZE(0))
			return -EINVAL;
		memcpy(&nargs, p + off + offsetof(struct gl_launch_desc, nargs),
		       sizeof(nargs));
		if (nargs > GL_LAUNCH_ARGS_MAX)
			return -EFBIG;
		n = GL_LAUNCH_DESC_SIZE(nargs);
		if (len - off < n)
			return -EINVAL;
		err = launch_parse_binary(p + off, n, &s->steps[i]);
		if (err)
			return err;
		off += n;
	}
	s->bad_step = h.nsteps;
	if (off != len)
		return -EINVAL;	/* trailing bytes */
	return check_refs(s);
}

/* "chain\n" then lines; one trailing newline after the last. */
static int parse_text(const char *p, size_t len, struct chain_spec *s)
{
	const char *end = p + len, *line, *nl;
	uint32_t n = 0;
	int err;

	s->bad_step = 0;
	if (len > GL_CHAIN_TEXT_MAX)
		return -EFBIG;
	if (!chain_is(p, len) || memchr(p, '\0', len))
		return -EINVAL;
	line = p + sizeof(CHAIN_WORD);
	if (end[-1] == '\n')
		end--;
	s->steps = calloc(GL_CHAIN_STEPS_MAX, sizeof(*s->steps));
	if (!s->steps)
		return -ENOMEM;
	while (line < end) {
		nl = memchr(line, '\n', (size_t)(end - line));
		if (!nl)
			nl = end;
		s->bad_step = n;
		if (n == GL_CHAIN_STEPS_MAX)
			return -EFBIG;
		err = launch_parse_text(line, (size_t)(nl - line),
					&s->steps[n]);
		if (err)
			return err;
		n++;
		line = nl + 1;
	}
	s->bad_step = n;
	if (!n || line == end)	/* no step, or an empty last line */
		return -EINVAL;
	s->nsteps = n;
	return 0;
}

int chain_parse(const void *data, size_t len, struct chain_spec *s)
{
	uint32_t magic = 0;
	int err;

	memset(s, 0, sizeof(*s));
	if (len >= sizeof(magic))
		memcpy(&magic, data, sizeof(magic));
	if (magic == GL_CHAIN_MAGIC)
		err = parse_binary(data, len, s);
	else
		err = parse_text(data, len, s);
	if (err)
		chain_spec_release(s);
	return err;
}
