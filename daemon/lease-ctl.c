/* SPDX-License-Identifier: MIT */
/*
 * Lease ctl grammars. Invariant: a command is parsed whole before anything
 * is applied, so a malformed line changes nothing. mkdir is an acquire
 * with every option left out: both start from leases_req_init().
 */
#include <errno.h>
#include <string.h>

#include "daemon/broker.h"
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

void leases_req_init(struct lease_req *req, struct broker *b,
		     const char *name, uid_t uid, gid_t gid)
{
	*req = (struct lease_req){
		.name = name,
		.uid = uid,
		.gid = gid,
		.vram = atomic_load(&b->pol.default_vram),
		.ttl = atomic_load(&b->pol.default_ttl),
	};
}

int leases_ctl_write(struct broker *b, uid_t uid, gid_t gid,
		     const char *data, size_t len, const void *token,
		     bool *bound)
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
	leases_req_init(&req, b, cl.argv[1], uid, gid);
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
	err = lease_acquire(b, &req, &l);
	if (err)
		return err;
	*bound = req.bind != NULL;
	lease_put(l);
	return 0;
bad:
	return gl_fail_name(cl.argc > 1 ? cl.argv[1] : "leases/ctl", -EINVAL,
			    "bad acquire line");
}

void leases_ctl_show(struct broker *b, uid_t uid, struct strbuf *sb)
{
	struct cds_lfht_iter iter;
	struct lease *l;

	rcu_read_lock();
	lease_for_each(b->leases, &iter, l) {
		if (!lease_visible_to(l, uid))
			continue;
		strbuf_printf(sb, "acquire %s vram=%llu ttl=%u device=%d\n",
			      l->name,
			      (unsigned long long)atomic_load(&l->vram),
			      atomic_load(&l->ttl), l->dev->index);
	}
	rcu_read_unlock();
}
