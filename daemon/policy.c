/* SPDX-License-Identifier: MIT */
/*
 * /gpu/ctl: daemon policy. Invariant (under pol.lock for writers):
 * GL_TTL_MIN (1) <= default_ttl <= max_ttl <= GL_TTL_LIMIT.
 */
#include <assert.h>
#include <errno.h>
#include <string.h>

#include "daemon/broker.h"
#include "daemon/log.h"
#include "daemon/parse.h"
#include "daemon/policy.h"
#include "daemon/strbuf.h"
#include "uapi/gpulease.h"

void policy_show(struct broker *b, struct strbuf *sb)
{
	strbuf_printf(sb,
		      "default_vram %llu\ndefault_ttl %u\nmax_ttl %u\n"
		      "launch_timeout_ms %u\nring_idle_us %u\n"
		      "ring_complete_hold %u\nclock_offset %lld\n"
		      "notify_delay_ms %u\nmodel_step_hold %u\n"
		      "model_load_hold %u\nmodel_retire_delay_ms %u\n",
		      (unsigned long long)atomic_load(&b->pol.default_vram),
		      atomic_load(&b->pol.default_ttl),
		      atomic_load(&b->pol.max_ttl),
		      atomic_load(&b->pol.launch_timeout_ms),
		      atomic_load(&b->pol.ring_idle_us),
		      atomic_load(&b->pol.ring_complete_hold),
		      (long long)(atomic_load(&b->clock.offset_ns) /
				  NSEC_PER_SEC),
		      atomic_load(&b->pol.notify_delay_ms),
		      atomic_load(&b->pol.model_step_hold),
		      atomic_load(&b->pol.model_load_hold),
		      atomic_load(&b->pol.model_retire_delay_ms));
	account_show_quotas(&b->acct, sb);
}

/* Apply a parsed command. Called with pol.lock held. */
static int policy_apply(struct broker *b, struct cmdline *cl)
{
	const char *verb = cl->argv[0];
	uint64_t v;
	uint32_t u;

	if (!strcmp(verb, "quota")) {
		if (cl->argc != 3 || parse_u32(cl->argv[1], &u))
			return -EINVAL;
		if (!strcmp(cl->argv[2], "none"))
			v = ACCOUNT_NO_QUOTA;
		else if (parse_size(cl->argv[2], &v) || v == ACCOUNT_NO_QUOTA)
			return -EINVAL;
		return account_set_quota(&b->acct, (uid_t)u, v);
	}
	if (cl->argc != 2)
		return -EINVAL;
	if (!strcmp(verb, "default_vram")) {
		if (parse_size(cl->argv[1], &v))
			return -EINVAL;
		atomic_store(&b->pol.default_vram, v);
		return 0;
	}
	if (!strcmp(verb, "default_ttl")) {
		if (parse_u32(cl->argv[1], &u) || u < GL_TTL_MIN ||
		    u > atomic_load(&b->pol.max_ttl))
			return -EINVAL;
		atomic_store(&b->pol.default_ttl, u);
		return 0;
	}
	if (!strcmp(verb, "max_ttl")) {
		if (parse_u32(cl->argv[1], &u) || u > GL_TTL_LIMIT ||
		    u < atomic_load(&b->pol.default_ttl))
			return -EINVAL;
		atomic_store(&b->pol.max_ttl, u);
		return 0;
	}
	if (!strcmp(verb, "launch_timeout_ms")) {
		if (parse_u32(cl->argv[1], &u) || !u)
			return -EINVAL;
		atomic_store(&b->pol.launch_timeout_ms, u);
		return 0;
	}
	if (!strcmp(verb, "ring_idle_us")) {
		if (parse_u32(cl->argv[1], &u) || u > 10000000)
			return -EINVAL;
		atomic_store(&b->pol.ring_idle_us, u);
		return 0;
	}
	if (!strcmp(verb, "notify_delay_ms")) {
		if (parse_u32(cl->argv[1], &u) || u > 10000)
			return -EINVAL;
		atomic_store(&b->pol.notify_delay_ms, u);
		return 0;
	}
	if (!strcmp(verb, "ring_complete_hold")) {	/* debug knob */
		if (parse_u32(cl->argv[1], &u) || u > 1)
			return -EINVAL;
		atomic_store(&b->pol.ring_complete_hold, u);
		return 0;
	}
	if (!strcmp(verb, "model_step_hold")) {	/* debug knob */
		if (parse_u32(cl->argv[1], &u) || u > 2)
			return -EINVAL;
		atomic_store(&b->pol.model_step_hold, u);
		return 0;
	}
	if (!strcmp(verb, "model_load_hold")) {	/* debug knob */
		if (parse_u32(cl->argv[1], &u) || u > 1)
			return -EINVAL;
		atomic_store(&b->pol.model_load_hold, u);
		return 0;
	}
	if (!strcmp(verb, "model_retire_delay_ms")) {	/* debug knob */
		if (parse_u32(cl->argv[1], &u) || u > 10000)
			return -EINVAL;
		atomic_store(&b->pol.model_retire_delay_ms, u);
		return 0;
	}
	if (!strcmp(verb, "clock_offset")) {
		int err;

		if (parse_u64(cl->argv[1], &v))
			return -EINVAL;
		err = clock_advance_to(&b->clock, v);
		if (!err)
			reaper_run_due(&b->reaper);
		return err;
	}
	return -EINVAL;
}

int policy_write(struct broker *b, uid_t uid, const char *data, size_t len)
{
	struct cmdline cl;
	int err;

	if (uid != 0)
		return gl_fail_name("/ctl", -EACCES, "uid %u is not root",
				    (unsigned)uid);
	err = parse_cmdline(&cl, data, len);
	if (err < 0)
		return gl_fail_name("/ctl", err, "malformed line");
	pthread_mutex_lock(&b->pol.lock);
	err = policy_apply(b, &cl);
	assert(GL_TTL_MIN <= atomic_load(&b->pol.default_ttl) &&
	       atomic_load(&b->pol.default_ttl) <=
	       atomic_load(&b->pol.max_ttl) &&
	       atomic_load(&b->pol.max_ttl) <= GL_TTL_LIMIT);
	pthread_mutex_unlock(&b->pol.lock);
	if (err)
		return gl_fail_name("/ctl", err, "'%s' refused", cl.argv[0]);
	return 0;
}
