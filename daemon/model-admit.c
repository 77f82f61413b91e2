// SPDX-License-Identifier: MIT
/*
 * Admission control of a model's requests: a request starts only when
 * its estimated run time fits both in the TTL its model lease has left
 * and in its own deadline (the request's deadline_ms, else the model's),
 * and is refused with ETIME before it starts otherwise, so none is cut
 * off halfway for lack of time. The estimate is a moving average of the
 * requests that ran whole: ns per prompt row (an mlp: per row) and per
 * token generated after the first. The refusals by reason (etime, ebusy,
 * expired) are counted here for the metrics, and the deadline a request
 * asks for is read here before its parse, to end its wait for room
 * (model-cold.c). Documentation/models.md, "Admission control".
 * Invariant: every field is an atomic of struct model_admit, read and
 * written lock-free; an estimate of 0 is unknown and admits.
 */
#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "daemon/clock.h"
#include "daemon/lease.h"
#include "daemon/model.h"
#include "daemon/parse.h"
#include "daemon/strbuf.h"
#include "uapi/model.h"

#define NSEC_PER_MSEC	1000000ull
#define ADMIT_WEIGHT	4	/* a new run weighs 1/4 in the average */

static const int refuse_errnos[MODEL_REFUSE_REASONS] = {
	ETIME, EBUSY, EKEYEXPIRED,
};

static const char *const refuse_names[MODEL_REFUSE_REASONS] = {
	"etime", "ebusy", "expired",
};

const char *model_refuse_reason(int i)
{
	return i >= 0 && i < MODEL_REFUSE_REASONS ? refuse_names[i] : "?";
}

void model_admit_refused(struct model *m, int err)
{
	int i;

	for (i = 0; i < MODEL_REFUSE_REASONS; i++)
		if (refuse_errnos[i] == -err)
			atomic_fetch_add(&m->admit.refused[i], 1);
}

/* @a * @b, or UINT64_MAX when it does not fit. */
static uint64_t mul_sat(uint64_t a, uint64_t b)
{
	uint64_t r;

	return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}

int model_admit(struct model *m, uint32_t deadline_ms, uint32_t rows,
		uint32_t tokens, int64_t *deadline_ns)
{
	uint64_t est, left, after;

	if (!deadline_ms)
		deadline_ms = atomic_load(&m->admit.deadline_ms);
	*deadline_ns = deadline_ms ? clock_mono() +
		(int64_t)(deadline_ms * NSEC_PER_MSEC) : 0;
	after = tokens ? tokens - 1 : 0;	/* the first is the prompt's */
	est = mul_sat(atomic_load(&m->admit.row_ns), rows);
	after = mul_sat(atomic_load(&m->admit.token_ns), after);
	est = est + after < est ? UINT64_MAX : est + after;
	if (!est)
		return 0;	/* nothing ran yet: no estimate */
	left = m->lease ? lease_expires_in_ns(m->lease) : UINT64_MAX;
	if (est > left)
		return model_fail(m, -ETIME, "request refused: estimated "
				  "%llu ms, its lease has %llu ms left",
				  (unsigned long long)(est / NSEC_PER_MSEC),
				  (unsigned long long)(left / NSEC_PER_MSEC));
	if (deadline_ms && est > deadline_ms * NSEC_PER_MSEC)
		return model_fail(m, -ETIME, "request refused: estimated "
				  "%llu ms, deadline_ms %u",
				  (unsigned long long)(est / NSEC_PER_MSEC),
				  deadline_ms);
	return 0;
}

/* The text form's "deadline_ms=N" among the words before the prompt
 * (ended by "ids", "--", a word without '=' or the line's end). */
static uint32_t asked_ms_text(const char *p, const char *end)
{
	static const char key[] = "deadline_ms=";
	const size_t klen = sizeof(key) - 1;
	uint32_t ms = 0, v;
	const char *w;
	char val[12];
	size_t n;

	for (;;) {
		while (p < end && *p == ' ')
			p++;
		for (w = p; p < end && *p != ' ' && *p != '\n'; p++)
			;
		n = (size_t)(p - w);
		if (!n || !memchr(w, '=', n))
			return ms;	/* the prompt, "ids" or "--" */
		if (n > klen && n - klen < sizeof(val) &&
		    !memcmp(w, key, klen)) {	/* the last one counts */
			memcpy(val, w + klen, n - klen);
			val[n - klen] = '\0';
			ms = parse_u32(val, &v) ? 0 : v;
		}
		if (p == end || *p == '\n')
			return ms;
	}
}

uint32_t model_admit_asked_ms(const char *buf, size_t len)
{
	size_t off = 0;
	uint32_t w = 0;

	if (len >= sizeof(w))
		memcpy(&w, buf, sizeof(w));
	if (w == GL_INFER_MAGIC)
		off = offsetof(struct gl_infer_tensor, deadline_ms);
	else if (w == GL_INFER_IDS_MAGIC)
		off = offsetof(struct gl_infer_ids, deadline_ms);
	else
		return asked_ms_text(buf, buf + len);
	if (len < off + sizeof(w))
		return 0;
	memcpy(&w, buf + off, sizeof(w));
	return le32toh(w);
}

/* Fold @ns over @n units into the average @avg (the first one sets
 * it). */
static void admit_fold(_Atomic uint64_t *avg, uint32_t n, int64_t ns)
{
	uint64_t old = atomic_load(avg), want, per;

	if (!n || ns <= 0)
		return;
	per = (uint64_t)ns / n;
	if (!per)
		per = 1;	/* 0 is "unknown" */
	do {
		if (!old)
			want = per;
		else if (per >= old)
			want = old + (per - old) / ADMIT_WEIGHT;
		else
			want = old - (old - per) / ADMIT_WEIGHT;
	} while (!atomic_compare_exchange_weak(avg, &old, want));
}

void model_admit_learn(struct model *m, uint32_t rows, int64_t rows_ns,
		       uint32_t tokens, int64_t tokens_ns)
{
	admit_fold(&m->admit.row_ns, rows, rows_ns);
	admit_fold(&m->admit.token_ns, tokens, tokens_ns);
}

void model_admit_render(struct model *m, struct strbuf *sb)
{
	strbuf_printf(sb, "deadline_ms %u\nest_row_ns %llu\n",
		      atomic_load(&m->admit.deadline_ms),
		      (unsigned long long)atomic_load(&m->admit.row_ns));
	if (!m->mlp)
		strbuf_printf(sb, "est_token_ns %llu\n", (unsigned long long)
			      atomic_load(&m->admit.token_ns));
}

void model_admit_stats(struct model *m, struct strbuf *sb)
{
	int i;

	for (i = 0; i < MODEL_REFUSE_REASONS; i++)
		strbuf_printf(sb, "refused_%s %llu\n", refuse_names[i],
			      (unsigned long long)
			      atomic_load(&m->admit.refused[i]));
}

int model_admit_ctl(struct model *m, uid_t uid, int argc, char *const *argv)
{
	_Atomic uint64_t *est;
	uint32_t ms;
	uint64_t v;

	if (argc != 2)
		return -ENOTTY;
	if (!strcmp(argv[0], "deadline_ms")) {
		if (uid && uid != m->owner)
			return model_fail(m, -EACCES, "uid %u may not set "
					  "its deadline_ms", (unsigned)uid);
		if (parse_u32(argv[1], &ms) || ms > MODEL_DEADLINE_MAX_MS)
			return model_fail(m, -EINVAL, "deadline_ms: 0 .. %u",
					  MODEL_DEADLINE_MAX_MS);
		atomic_store(&m->admit.deadline_ms, ms);
		return 0;
	}
	if (!strcmp(argv[0], "est_row_ns"))
		est = &m->admit.row_ns;
	else if (!strcmp(argv[0], "est_token_ns") && !m->mlp)
		est = &m->admit.token_ns;
	else
		return -ENOTTY;
	/* a debug seed for the tests, as the clock is: root's only */
	if (uid)
		return model_fail(m, -EACCES, "%s: root only", argv[0]);
	if (parse_u64(argv[1], &v))
		return model_fail(m, -EINVAL, "%s: no u64", argv[0]);
	atomic_store(est, v);
	return 0;
}
