/* SPDX-License-Identifier: MIT */
/*
 * Cache invalidation. Every lease the filesystem creates has fs_lease_ops
 * as its owner operations: its changes arrive from any thread (timer,
 * ops, launches) and are queued here and a dedicated thread tells the
 * kernel, because a notify_inval_* must never run inside an operation or
 * under a lock an operation takes.
 * Invariant: each queued item holds a lease reference, put once sent; a
 * waiter's flag is written only while that waiter still waits for it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/lease.h"
#include "daemon/log.h"
#include "fusefs/fs.h"

struct notify_item {
	struct notify_item *next;
	struct lease *lease;	/* reference */
	enum lease_event ev;
	bool *done;		/* lock: a waiter's flag, set once sent; NULL
				 * when nobody waits (any more) */
};

struct fs_notify {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_cond_t sent;			/* an item with done was sent */
	struct notify_item *head, **tail;	/* lock; FIFO */
	bool stop;				/* lock */
	pthread_t thread;
	struct fs *fs;
};

static void notify_inval(struct fs *fs, struct lease *l, enum fs_kind kind)
{
	struct fs_node n = { .kind = kind, .lease = l };

	fuse_lowlevel_notify_inval_inode(fs->se, fs_ino(&n), 0, 0);
}

static void notify_send(struct fs *fs, struct notify_item *it)
{
	struct lease *l = it->lease;
	uint32_t delay_ms = atomic_load(&fs->broker.pol.notify_delay_ms);

	if (delay_ms) {		/* debug knob: a slow notifier */
		struct timespec ts = { delay_ms / 1000,
				       (long)(delay_ms % 1000) * 1000000 };

		nanosleep(&ts, NULL);
	}
	switch (it->ev) {
	case LEASE_EV_DROPPED:
		fuse_lowlevel_notify_inval_entry(fs->se,
						 FUSE_ROOT_ID + FS_LEASES,
						 l->name, strlen(l->name));
		break;
	case LEASE_EV_EXPIRED:
		notify_inval(fs, l, FS_LEASE_DIR);
		/* fall through */
	case LEASE_EV_RESIZED:
	case LEASE_EV_DATA:
		notify_inval(fs, l, FS_LEASE_VRAM);
		break;
	}
}

static void *notify_main(void *arg)
{
	struct fs_notify *nt = arg;
	struct notify_item *it;

	pthread_mutex_lock(&nt->lock);
	for (;;) {
		while (!nt->head && !nt->stop)
			pthread_cond_wait(&nt->cond, &nt->lock);
		it = nt->head;
		if (!it)
			break;	/* stopping, queue drained */
		nt->head = it->next;
		if (!nt->head)
			nt->tail = &nt->head;
		pthread_mutex_unlock(&nt->lock);
		if (!nt->stop)
			notify_send(nt->fs, it);
		lease_put(it->lease);
		pthread_mutex_lock(&nt->lock);
		/* a waiter that timed out cleared it->done under the lock */
		if (it->done) {
			*it->done = true;
			pthread_cond_broadcast(&nt->sent);
		}
		free(it);
	}
	pthread_mutex_unlock(&nt->lock);
	return NULL;
}

/*
 * Queue @ev for @l. With @done, the item is returned so that the waiter
 * can disown it; it stays valid while the caller holds nt->lock and
 * *@done is false. NULL when nothing was queued. Never returns with
 * nt->lock held.
 */
static struct notify_item *notify_queue(struct fs_notify *nt,
					struct lease *l, enum lease_event ev,
					bool *done)
{
	struct notify_item *it;

	it = malloc(sizeof(*it));
	if (!it) {
		/* attributes are never cached; pages are, until next open */
		gl_info("lease %s: no memory to queue an invalidation",
			l->name);
		return NULL;
	}
	lease_get(l);
	it->lease = l;
	it->ev = ev;
	it->next = NULL;
	it->done = done;
	pthread_mutex_lock(&nt->lock);
	*nt->tail = it;
	nt->tail = &it->next;
	pthread_cond_signal(&nt->cond);
	pthread_mutex_unlock(&nt->lock);
	return it;
}

/*
 * DATA comes from a ring launch's completion, on the launcher thread and
 * before its CQE is posted: wait for it, bounded, as submit.c does, so a
 * client that sees the CQE finds no stale page in a live mapping. Every
 * other event may come from inside an operation: queue it only.
 */
static void fs_lease_event(void *ctx, struct lease *l, enum lease_event ev)
{
	struct fs *fs = ctx;

	if (ev == LEASE_EV_DATA)
		fs_notify_wait(fs, l, ev, 200);
	else if (fs->notify)
		notify_queue(fs->notify, l, ev, NULL);
}

static void fs_on_resize(void *ctx, struct lease *l)
{
	fs_lease_event(ctx, l, LEASE_EV_RESIZED);
}

static void fs_on_data(void *ctx, struct lease *l)
{
	fs_lease_event(ctx, l, LEASE_EV_DATA);
}

static void fs_on_expire(void *ctx, struct lease *l)
{
	fs_lease_event(ctx, l, LEASE_EV_EXPIRED);
}

static void fs_on_drop(void *ctx, struct lease *l)
{
	fs_lease_event(ctx, l, LEASE_EV_DROPPED);
}

void fs_notify_wait(struct fs *fs, struct lease *l, enum lease_event ev,
		    int timeout_ms)
{
	struct fs_notify *nt = fs->notify;
	struct notify_item *it;
	struct timespec ts;
	bool done = false;

	if (!nt)
		return;
	/* no vram file open: none of its pages is cached past an open */
	if (ev == LEASE_EV_DATA && !atomic_load(&l->vram_open))
		return;
	it = notify_queue(nt, l, ev, &done);
	if (!it)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += (long)timeout_ms * 1000000;
	ts.tv_sec += ts.tv_nsec / 1000000000;
	ts.tv_nsec %= 1000000000;
	pthread_mutex_lock(&nt->lock);
	while (!done)
		if (pthread_cond_timedwait(&nt->sent, &nt->lock, &ts))
			break;
	/*
	 * Timed out: the item is still queued or being sent (the notifier
	 * frees it only after setting done, under this lock). Disown it, so
	 * that nothing writes to @done once this frame is gone.
	 */
	if (!done)
		it->done = NULL;
	pthread_mutex_unlock(&nt->lock);
}

/* The owner operations of every lease the filesystem creates (mkdir,
 * leases/ctl acquire). */
const struct lease_ops fs_lease_ops = {
	.on_resize = fs_on_resize,
	.on_data = fs_on_data,
	.on_expire = fs_on_expire,
	.on_drop = fs_on_drop,
};

int fs_notify_start(struct fs *fs)
{
	struct fs_notify *nt = calloc(1, sizeof(*nt));
	int err;

	if (!nt)
		return -ENOMEM;
	nt->tail = &nt->head;
	nt->fs = fs;
	pthread_mutex_init(&nt->lock, NULL);
	pthread_cond_init(&nt->cond, NULL);
	pthread_cond_init(&nt->sent, NULL);
	err = pthread_create(&nt->thread, NULL, notify_main, nt);
	if (err) {
		pthread_cond_destroy(&nt->cond);
		pthread_mutex_destroy(&nt->lock);
		free(nt);
		return -err;
	}
	fs->notify = nt;
	return 0;
}

void fs_notify_stop(struct fs *fs)
{
	struct fs_notify *nt = fs->notify;

	if (!nt)
		return;
	pthread_mutex_lock(&nt->lock);
	nt->stop = true;
	pthread_cond_signal(&nt->cond);
	pthread_mutex_unlock(&nt->lock);
	pthread_join(nt->thread, NULL);
	fs->notify = NULL;
	pthread_cond_destroy(&nt->sent);
	pthread_cond_destroy(&nt->cond);
	pthread_mutex_destroy(&nt->lock);
	free(nt);
}
