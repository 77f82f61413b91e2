/* SPDX-License-Identifier: MIT */
/*
 * The node table: every node the kernel holds, by inode number, with the
 * kernel's lookup count for it (fuse_lowlevel.h: each entry reply counts
 * one, forget takes nlookup back) and one reference of its class on the
 * object it stands for.
 *
 * Invariant: a node is in the table exactly while its lookup count is
 * above zero; the count never goes below zero (asserted, as libfuse's
 * passthrough_ll.c does; counted in `refused` when NDEBUG drops the
 * assert); the class reference is put exactly once, when it reaches zero.
 * Readers (fs_nodes_find) take no lock: an RCU read-side section, and the
 * kernel never sends an inode it has forgotten, so the node they copy
 * stays valid for the whole operation. Writers take `lock`.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <urcu-bp.h>
#include <urcu/rculfhash.h>

#include "fusefs/fs.h"

struct fs_inode {
	struct cds_lfht_node hnode;	/* in fs_nodes.table, by ino */
	struct rcu_head rcu;
	fuse_ino_t ino;
	const struct fs_class *cls;
	struct fs_node node;		/* holds one class reference */
	uint64_t nlookup;		/* fs_nodes.lock; > 0 in the table */
};

static unsigned long ino_hash(fuse_ino_t ino)
{
	uint64_t h = ino * 0x9e3779b97f4a7c15ull;

	return (unsigned long)(h ^ (h >> 29));
}

static int ino_match(struct cds_lfht_node *hn, const void *key)
{
	return caa_container_of(hn, struct fs_inode, hnode)->ino ==
	       *(const fuse_ino_t *)key;
}

/* The node numbered @ino, or NULL. Inside a read section or under lock. */
static struct fs_inode *inode_lookup(struct fs_nodes *t, fuse_ino_t ino)
{
	struct cds_lfht_iter iter;
	struct cds_lfht_node *hn;

	cds_lfht_lookup(t->table, ino_hash(ino), ino_match, &ino, &iter);
	hn = cds_lfht_iter_get_node(&iter);
	return hn ? caa_container_of(hn, struct fs_inode, hnode) : NULL;
}

static void inode_free_rcu(struct rcu_head *head)
{
	free(caa_container_of(head, struct fs_inode, rcu));
}

/* fs_nodes_init - an empty table: 0 or -ENOMEM. */
int fs_nodes_init(struct fs_nodes *t)
{
	memset(t, 0, sizeof(*t));
	t->table = cds_lfht_new(64, 64, 0, CDS_LFHT_AUTO_RESIZE, NULL);
	if (!t->table)
		return -ENOMEM;
	pthread_mutex_init(&t->lock, NULL);
	return 0;
}

/*
 * fs_nodes_destroy - put back what the kernel still held (it need not
 * forget at unmount) and free the table. Only once no operation runs.
 */
void fs_nodes_destroy(struct fs_nodes *t)
{
	struct cds_lfht_iter iter;
	struct cds_lfht_node *hn;
	struct fs_inode *e;

	if (!t->table)
		return;
	rcu_read_lock();
	for (cds_lfht_first(t->table, &iter);
	     (hn = cds_lfht_iter_get_node(&iter));
	     cds_lfht_next(t->table, &iter)) {
		e = caa_container_of(hn, struct fs_inode, hnode);
		if (cds_lfht_del(t->table, hn))
			continue;
		if (e->cls->put)
			e->cls->put(&e->node);
		call_rcu(&e->rcu, inode_free_rcu);
	}
	rcu_read_unlock();
	rcu_barrier();
	cds_lfht_destroy(t->table, NULL);
	t->table = NULL;
	pthread_mutex_destroy(&t->lock);
}

/*
 * fs_nodes_hold - count one kernel lookup of @n (class @cls, number @ino),
 * before the entry reply that hands it out. Takes over the reference on
 * n->obj the caller holds: kept by a new node, put back when the node
 * already held one. Returns 0, or -ENOMEM with the reference put back.
 */
int fs_nodes_hold(struct fs_nodes *t, const struct fs_class *cls,
		  fuse_ino_t ino, const struct fs_node *n)
{
	struct fs_inode *e, *fresh;
	bool took = false;

	assert(cls->nr < FS_NR_CLASSES);
	/* allocated outside the lock; freed unused when the node exists */
	fresh = calloc(1, sizeof(*fresh));
	pthread_mutex_lock(&t->lock);
	e = inode_lookup(t, ino);
	if (e) {
		assert(e->cls == cls && e->nlookup > 0);
		e->nlookup++;
	} else if (fresh) {
		e = fresh;
		fresh = NULL;
		e->ino = ino;
		e->cls = cls;
		e->node = *n;
		e->nlookup = 1;
		took = true;
		cds_lfht_node_init(&e->hnode);
		cds_lfht_add(t->table, ino_hash(ino), &e->hnode);
		t->stats[cls->nr].nodes++;
	}
	if (e)
		t->stats[cls->nr].lookups++;
	pthread_mutex_unlock(&t->lock);
	free(fresh);
	if (!took && cls->put)
		cls->put(n);
	return e ? 0 : -ENOMEM;
}

/*
 * fs_nodes_forget - the kernel forgets @nlookup lookups of @ino; the node
 * goes, and its class reference is put, when its count reaches zero.
 * A forget below zero, or of a node not in the table, is a bug of the
 * kernel's or ours: assert, and with NDEBUG count it and take what there
 * is. Any thread; takes the table lock.
 */
void fs_nodes_forget(struct fs_nodes *t, fuse_ino_t ino, uint64_t nlookup)
{
	struct fs_inode *e;
	bool gone = false;

	pthread_mutex_lock(&t->lock);
	e = inode_lookup(t, ino);
	if (!e || e->nlookup < nlookup) {
		t->refused++;
		assert(!"forget below a node's lookup count");
		if (!e)
			goto out;
		nlookup = e->nlookup;
	}
	e->nlookup -= nlookup;
	t->stats[e->cls->nr].lookups -= nlookup;
	if (!e->nlookup) {
		cds_lfht_del(t->table, &e->hnode);
		t->stats[e->cls->nr].nodes--;
		gone = true;
	}
out:
	pthread_mutex_unlock(&t->lock);
	if (!gone)
		return;
	if (e->cls->put)
		e->cls->put(&e->node);
	call_rcu(&e->rcu, inode_free_rcu);
}

/*
 * fs_nodes_find - copy the node numbered @ino into @n: 0, or -ENOENT when
 * the kernel holds no such node. Lock-free; @n's object stays valid while
 * the operation on @ino runs (the kernel holds the node until it forgets).
 */
int fs_nodes_find(struct fs_nodes *t, fuse_ino_t ino, struct fs_node *n)
{
	struct fs_inode *e;

	rcu_read_lock();
	e = inode_lookup(t, ino);
	if (e)
		*n = e->node;
	rcu_read_unlock();
	return e ? 0 : -ENOENT;
}

/*
 * fs_nodes_stats - a snapshot of the counts by class number into @stats
 * (FS_NR_CLASSES entries); returns the forgets refused so far.
 */
uint64_t fs_nodes_stats(struct fs_nodes *t, struct fs_class_stats *stats)
{
	uint64_t refused;

	pthread_mutex_lock(&t->lock);
	memcpy(stats, t->stats, sizeof(t->stats));
	refused = t->refused;
	pthread_mutex_unlock(&t->lock);
	return refused;
}
