/* SPDX-License-Identifier: MIT */
/*
 * The text files of the tree: what each one reads as, and where a write to
 * a ctl file goes. Rendering and parsing live in daemon/; this file only
 * routes by node kind.
 */
#include <errno.h>
#include <stdio.h>

#include "daemon/lease-ctl.h"
#include "daemon/lease.h"
#include "daemon/registry.h"
#include "daemon/policy.h"
#include "daemon/strbuf.h"
#include "fusefs/fs.h"

static void fs_dev_render(struct dev *d, enum fs_kind kind,
			  struct strbuf *sb)
{
	uint64_t used = atomic_load(&d->used);

	switch (kind) {
	case FS_DEV_NAME:
		strbuf_printf(sb, "%s\n", d->name);
		break;
	case FS_DEV_KIND:
		strbuf_printf(sb, "%s\n", d->ops->kind);
		break;
	case FS_DEV_CAP:
		strbuf_printf(sb, "%llu\n", (unsigned long long)d->capacity);
		break;
	case FS_DEV_USED:
		strbuf_printf(sb, "%llu\n", (unsigned long long)used);
		break;
	case FS_DEV_FREE:
		strbuf_printf(sb, "%llu\n",
			      (unsigned long long)(d->capacity - used));
		break;
	case FS_DEV_RESERVED:
		strbuf_printf(sb, "%llu\n", (unsigned long long)d->reserved);
		break;
	case FS_DEV_STATE:
		strbuf_printf(sb, "%s\n",
			      dev_state_name(atomic_load(&d->state)));
		break;
	default:
		strbuf_printf(sb, "%u\n", atomic_load(&d->leases));
		break;
	}
}

/* The node table's counts by class, as Prometheus text. */
static void fs_nodes_render(struct fs *fs, struct strbuf *sb)
{
	struct fs_class_stats st[FS_NR_CLASSES];
	const struct fs_class *const *c;
	uint64_t refused = fs_nodes_stats(&fs->nodes, st);

	strbuf_printf(sb, "# HELP gpulease_fs_nodes Nodes the kernel holds, "
			  "by class.\n# TYPE gpulease_fs_nodes gauge\n");
	for (c = fs_classes; *c; c++)
		strbuf_printf(sb, "gpulease_fs_nodes{class=\"%s\"} %llu\n",
			      (*c)->name,
			      (unsigned long long)st[(*c)->nr].nodes);
	strbuf_printf(sb, "# HELP gpulease_fs_lookups The kernel's lookup "
			  "counts of those nodes, by class.\n"
			  "# TYPE gpulease_fs_lookups gauge\n");
	for (c = fs_classes; *c; c++)
		strbuf_printf(sb, "gpulease_fs_lookups{class=\"%s\"} %llu\n",
			      (*c)->name,
			      (unsigned long long)st[(*c)->nr].lookups);
	strbuf_printf(sb, "# HELP gpulease_fs_forgets_refused_total Forgets "
			  "below a node's lookup count.\n"
			  "# TYPE gpulease_fs_forgets_refused_total counter\n"
			  "gpulease_fs_forgets_refused_total %llu\n",
		      (unsigned long long)refused);
}

int fs_text_render(struct fs *fs, const struct fs_node *n, uid_t uid,
		   char **text, size_t *len)
{
	struct strbuf sb = STRBUF_INIT;
	int err = 0;

	switch (n->kind) {
	case FS_CTL:
		policy_show(&fs->broker, &sb);
		break;
	case FS_METRICS:
		metrics_show(&fs->broker.metrics, uid, &sb);
		fs_nodes_render(fs, &sb);
		break;
	case FS_LEASES_CTL:
		leases_ctl_show(&fs->broker.leases, uid, &sb);
		break;
	case FS_KERNELS_CTL:
		break;	/* write-only: registering is the one command */
	case FS_MODELS_CTL:
		model_ctl_render(&fs->broker.models, uid, &sb);
		break;
	case FS_MODEL_CTL:
		model_render_ctl(n->model, &sb);
		break;
	case FS_MODEL_STATS:
		model_render_stats(n->model, &sb);
		break;
	case FS_KERNEL:
		registry_show(registry_get(&fs->broker.reg, n->idx), &sb);
		break;
	case FS_LEASE_CTL:
	case FS_LEASE_STATS:
		err = lease_check(n->lease);
		if (err)
			return err;
		if (n->kind == FS_LEASE_CTL)
			lease_show(n->lease, &sb);
		else
			lease_show_stats(n->lease, &sb);
		break;
	default:
		fs_dev_render(dev_set_get(&fs->broker.devs, n->idx), n->kind,
			      &sb);
		break;
	}
	*text = strbuf_detach(&sb, len);
	return *text ? 0 : -ENOMEM;
}

int fs_text_write(struct fs *fs, struct fs_handle *h, uid_t uid, gid_t gid,
		  const char *buf, size_t size)
{
	bool bound = false;
	int err;

	switch (h->node.kind) {
	case FS_CTL:
		return policy_write(&fs->broker, uid, buf, size);
	case FS_LEASES_CTL:
		err = leases_ctl_write(&fs->broker.leases, &fs_lease_ops, fs,
				       uid, gid, buf, size, h,
				       &bound);
		if (bound)
			h->binds = true;
		return err;
	case FS_KERNELS_CTL:
		return registry_add(&fs->broker.reg, &fs->broker.devs, uid, buf,
				    size);
	case FS_LEASE_CTL:
		err = lease_check(h->lease);
		if (!err)
			err = lease_ctl_write(h->lease, buf, size, h);
		if (lease_is_bound_to(h->lease, h))
			h->binds = true;
		return err;
	case FS_MODEL_CTL:
		return model_write_ctl(h->node.model, uid, buf, size);
	default:
		return -EACCES;
	}
}
