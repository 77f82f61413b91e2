/* SPDX-License-Identifier: MIT */
/*
 * Lease ctl grammars and texts. Invariant: a command is parsed whole
 * before anything is applied, so a malformed line changes nothing. mkdir
 * is an acquire with every option left out: both start from
 * leases_req_init(). The texts join the lease's fields and its launch
 * queue's (launch_stats), so this sits above both.
 */
#include <errno.h>
#include <string.h>

#include "daemon/dev/dev.h"
#include "daemon/knobs.h"
#include "daemon/launch.h"
#include "daemon/lease-ctl.h"
#include "daemon/lease.h"
#include "daemon/log.h"
#include "daemon/parse.h"
#include "daemon/strbuf.h"

int lease_ctl_write(struct lease *l, const char *data, size_t len,
		    const void *token)
{
	struct cmdline cl;
	const char *verb;
	uint64_t size;
	uint32_t secs = 0;
	int err;

	err = parse_cmdline(&cl, data, len);
	if (err < 0)
		return gl_fail(l, err, "malformed ctl line");
	verb = cl.argv[0];
	if (!strcmp(verb, "vram")) {
		if (cl.argc != 2 || parse_size(cl.argv[1], &size))
			goto bad;
		return lease_resize(l, size);
	}
	if (!strcmp(verb, "io")) {
		if (cl.argc != 2 || parse_size(cl.argv[1], &size))
			goto bad;
		return lease_set_io(l, size);
	}
	if (!strcmp(verb, "ttl")) {
		if (cl.argc != 2 || parse_u32(cl.argv[1], &secs) || !secs)
			goto bad;
		return lease_renew(l, secs, true);
	}
	if (!strcmp(verb, "renew")) {
		if (cl.argc > 2 ||
		    (cl.argc == 2 && (parse_u32(cl.argv[1], &secs) || !secs)))
			goto bad;
		return lease_renew(l, secs, false);
	}
	if (!strcmp(verb, "bind") || !strcmp(verb, "unbind")) {
		if (cl.argc != 1)
			goto bad;
		return lease_bind(l, verb[0] == 'b' ? token : NULL);
	}
bad:
	return gl_fail(l, -EINVAL, "bad ctl command '%.32s'", verb);
}

void leases_req_init(struct lease_req *req, struct lease_table *lt,
		     const char *name, uid_t uid, gid_t gid)
{
	*req = (struct lease_req){
		.name = name,
		.uid = uid,
		.gid = gid,
		.vram = atomic_load(&lt->pol->default_vram),
		.ttl = atomic_load(&lt->pol->default_ttl),
	};
}

int leases_ctl_write(struct lease_table *lt, const struct lease_ops *ops,
		     void *ops_ctx, uid_t uid, gid_t gid, const char *data,
		     size_t len, const void *token, bool *bound)
{
	struct lease_req req;
	struct lease *l;
	struct cmdline cl;
	const char *v;
	uint32_t dev;
	int i, err;

	*bound = false;
	err = parse_cmdline(&cl, data, len);
	if (err < 0)
		return gl_fail_name("leases/ctl", err, "malformed line");
	if (strcmp(cl.argv[0], "acquire") || cl.argc < 2)
		goto bad;
	leases_req_init(&req, lt, cl.argv[1], uid, gid);
	req.ops = ops;
	req.ops_ctx = ops_ctx;
	for (i = 2; i < cl.argc; i++) {
		const char *w = cl.argv[i];

		if (parse_key(w, "vram", &v)) {
			if (parse_size(v, &req.vram))
				goto bad;
		} else if (parse_key(w, "ttl", &v)) {
			if (parse_u32(v, &req.ttl) || !req.ttl)
				goto bad;
		} else if (parse_key(w, "device", &v)) {
			/* a number; no such device is ENOENT from acquire */
			if (parse_u32(v, &dev))
				goto bad;
			req.dev = dev;
		} else if (!strcmp(w, "bind")) {
			req.bind = token;
		} else {
			goto bad;
		}
	}
	err = lease_acquire(lt, &req, &l);
	if (err)
		return err;
	*bound = req.bind != NULL;
	lease_put(l);
	return 0;
bad:
	return gl_fail_name(cl.argc > 1 ? cl.argv[1] : "leases/ctl", -EINVAL,
			    "bad acquire line");
}

void leases_ctl_show(struct lease_table *lt, uid_t uid, struct strbuf *sb)
{
	struct cds_lfht_iter iter;
	struct lease *l;

	rcu_read_lock();
	lease_for_each(lt, &iter, l) {
		if (!lease_visible_to(l, uid))
			continue;
		strbuf_printf(sb, "acquire %s vram=%llu ttl=%u device=%d\n",
			      l->name,
			      (unsigned long long)atomic_load(&l->vram),
			      atomic_load(&l->ttl), l->dev->index);
	}
	rcu_read_unlock();
}

static const char *lease_state_name(struct lease *l)
{
	return l->state == LEASE_ACTIVE ? GL_STATE_ACTIVE : GL_STATE_EXPIRED;
}

void lease_show(struct lease *l, struct strbuf *sb)
{
	char last[LOG_LAST_ERROR_LEN];
	struct launch_stats ls;
	enum lease_state state;

	pthread_rwlock_rdlock(&l->mem_lock);
	state = l->state;
	strbuf_printf(sb, "name %s\nstate %s\ndevice %d\nvram %llu\nused %llu\n",
		      l->name, lease_state_name(l), l->dev->index,
		      (unsigned long long)atomic_load(&l->vram),
		      (unsigned long long)(l->io ? l->io->size : 0));
	pthread_rwlock_unlock(&l->mem_lock);
	launch_stats(l, &ls);
	strbuf_printf(sb, "ttl %u\nexpires_in %llu\nowner %u\nbound %d\n"
			  "launches %llu\nqueued %u\nrunning %u\n"
			  "queue_max %u\n",
		      atomic_load(&l->ttl),
		      (unsigned long long)(state == LEASE_ACTIVE ?
					   lease_expires_in(l) : 0),
		      (unsigned)l->owner, atomic_load(&l->bound_to) != NULL,
		      (unsigned long long)ls.launches, ls.queued, ls.running,
		      GL_LAUNCH_QUEUE_MAX);
	gl_last_error_get(&l->last_error, last, sizeof(last));
	strbuf_printf(sb, "last_error %s\n", last[0] ? last : "-");
}

void lease_show_stats(struct lease *l, struct strbuf *sb)
{
	struct launch_stats ls;
	struct timespec now;

	launch_stats(l, &ls);
	clock_gettime(CLOCK_REALTIME, &now);
	strbuf_printf(sb,
		      "reads %llu\nwrites %llu\nbytes_in %llu\n"
		      "bytes_out %llu\nrenews %llu\nresizes %llu\nage %lld\n"
		      "launches %llu\nlaunch_failures %llu\nlaunch_ns %llu\n",
		      (unsigned long long)atomic_load(&l->stats.reads),
		      (unsigned long long)atomic_load(&l->stats.writes),
		      (unsigned long long)atomic_load(&l->stats.bytes_in),
		      (unsigned long long)atomic_load(&l->stats.bytes_out),
		      (unsigned long long)atomic_load(&l->stats.renews),
		      (unsigned long long)atomic_load(&l->stats.resizes),
		      (long long)(now.tv_sec - l->born.tv_sec),
		      (unsigned long long)ls.launches,
		      (unsigned long long)ls.failures,
		      (unsigned long long)ls.ns);
}
