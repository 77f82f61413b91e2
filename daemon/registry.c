/* SPDX-License-Identifier: MIT */
/*
 * Kernel registry. Invariant: ents[i].k == gl_kernel_get(i) and
 * ents[i].sig is its parsed signature, for every i < count, from
 * registry_init on; only the counters change afterwards.
 */
#include <errno.h>
#include <string.h>

#include "daemon/log.h"
#include "daemon/registry.h"
#include "daemon/strbuf.h"

int registry_init(struct registry *r)
{
	unsigned i;
	int err;

	memset(r, 0, sizeof(*r));
	for (i = 0; i < GL_K_COUNT; i++) {
		struct kernel_entry *e = &r->ents[i];

		e->k = gl_kernel_get(i);
		err = gl_ksig_parse(e->k->sig, &e->sig);
		if (err) {
			gl_info("kernel %s: bad built-in signature",
				e->k->name);
			return err;
		}
	}
	r->count = GL_K_COUNT;
	return 0;
}

const struct kernel_entry *registry_find(const struct registry *r,
					 const char *name)
{
	unsigned i;

	for (i = 0; i < r->count; i++)
		if (!strcmp(r->ents[i].k->name, name))
			return &r->ents[i];
	return NULL;
}

const struct kernel_entry *registry_get(const struct registry *r, unsigned i)
{
	return i < r->count ? &r->ents[i] : NULL;
}

void registry_show(const struct kernel_entry *e, struct strbuf *sb)
{
	strbuf_printf(sb, "%s(%s) block=%u\nlaunches %llu\nfailures %llu\n"
			  "time_ns %llu\n",
		      e->k->name, e->k->sig, e->k->block,
		      (unsigned long long)atomic_load(&e->launches),
		      (unsigned long long)atomic_load(&e->failures),
		      (unsigned long long)atomic_load(&e->ns));
}

int registry_add(struct registry *r, uid_t uid, const char *data,
		 size_t len)
{
	if (uid != 0)
		return gl_fail_name("kernels/ctl", -EPERM,
				    "uid %u may not register kernels",
				    (unsigned)uid);
	return gl_fail_name("kernels/ctl", -EOPNOTSUPP,
			    "the cpu device runs only its built-in kernels");
}

void registry_account(const struct kernel_entry *e, int status, uint64_t ns)
{
	struct kernel_entry *m = (struct kernel_entry *)e;

	atomic_fetch_add(&m->launches, 1);
	if (status)
		atomic_fetch_add(&m->failures, 1);
	atomic_fetch_add(&m->ns, ns);
}
