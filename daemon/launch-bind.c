/* SPDX-License-Identifier: MIT */
/*
 * A launch's arguments bound to its lease's memory: every buf and io
 * range checked against the lease and turned into a pointer the kernel
 * can use. Invariant: no pointer leaves here that is not inside the
 * lease's vram or its io data area; called with mem_lock held, so the
 * memory cannot move before the kernel has run.
 */
#include <errno.h>
#include <string.h>

#include "daemon/dev/dev.h"
#include "daemon/launch.h"
#include "daemon/lease.h"
#include "daemon/registry.h"

static const enum gl_ktype arg_ktype[] = {
	[GL_ARG_U32] = GL_KT_U32, [GL_ARG_I32] = GL_KT_I32,
	[GL_ARG_U64] = GL_KT_U64, [GL_ARG_F32] = GL_KT_F32,
	[GL_ARG_F64] = GL_KT_F64, [GL_ARG_BUF] = GL_KT_BUF,
	[GL_ARG_IO] = GL_KT_IO,
};

int launch_bind(const struct launch_desc *d, const struct kernel_entry *ke,
		const struct lease_mem *m, struct gl_kargs *out)
{
	uint64_t vram = m->vram;
	struct lease_io *io = m->io;
	uint32_t i;
	int err;

	memset(out, 0, sizeof(*out));
	if (d->nargs != ke->sig.count)
		return -EINVAL;
	out->count = d->nargs;
	for (i = 0; i < d->nargs; i++) {
		const struct gl_launch_arg *a = &d->args[i];
		struct gl_karg *k = &out->v[i];
		uint32_t bits;

		k->type = ke->sig.param[i].type;
		/* io:OFF:LEN names memory as buf:OFF:LEN does, elsewhere */
		if (arg_ktype[a->type] != k->type &&
		    !(a->type == GL_ARG_IO && k->type == GL_KT_BUF))
			return -EINVAL;
		switch (a->type) {
		case GL_ARG_U32:
			k->u32 = (uint32_t)a->value;
			break;
		case GL_ARG_I32:
			k->i32 = (int32_t)a->value;
			break;
		case GL_ARG_U64:
			k->u64 = a->value;
			break;
		case GL_ARG_F32:
			bits = (uint32_t)a->value;
			memcpy(&k->f32, &bits, sizeof(bits));
			break;
		case GL_ARG_F64:
			memcpy(&k->f64, &a->value, sizeof(k->f64));
			break;
		case GL_ARG_IO:
			/* the client's own pages: host memory, CPU only */
			if (!io || strcmp(m->dev->ops->kind, GL_KIND_CPU) ||
			    a->value > io->data_size ||
			    a->len > io->data_size - a->value)
				return -EFAULT;
			k->buf.len = a->len;
			k->buf.ptr = io->data + a->value;
			break;
		case GL_ARG_BUF:
			if (a->value > vram || a->len > vram - a->value)
				return -EFAULT;
			k->buf.len = a->len;
			err = m->dev->ops->resolve(m->region, a->value, a->len,
						   &k->buf.ptr);
			if (err)
				return err;
			break;
		}
	}
	return 0;
}
