/* SPDX-License-Identifier: MIT */
/*
 * leases/<name>/submit: a write is one launch descriptor, or one chain
 * (chain-parse.h: "chain" then a launch line per step, or the binary
 * chain without parameters), built and run once. A blocking write
 * is answered when the launch finishes, with its errno; an O_NONBLOCK
 * write is answered once queued, and its completion line is read back
 * from the same open file. Replies are sent from the completion callback.
 * A blocking write of a small launch to an idle lease runs it on the FUSE
 * thread (launch_submit_inline), as an executor would; any other launch
 * is queued and no FUSE thread waits for it. A blocking writer that
 * gets a signal (FUSE's INTERRUPT) has its launch cancelled and hears
 * EINTR. An open file holds at most GL_LAUNCH_QUEUE_MAX launches queued
 * or running plus completion lines not yet read: one more is EAGAIN.
 *
 * Invariant: a cq lives while its handle or any launch queued through it
 * holds a reference; a reader parked on it is answered exactly once. A
 * wait lives while its writer or its launch holds a reference, and its
 * launch's completion waits for a running interrupt callback (libfuse
 * runs it under the request's lock) before it lets go of it.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/chain.h"
#include "daemon/launch.h"
#include "daemon/lease.h"
#include "daemon/log.h"
#include "daemon/registry.h"
#include "daemon/strbuf.h"
#include "fusefs/fs.h"

struct fs_cq {
	atomic_int refs;
	struct fs *fs;
	pthread_mutex_t lock;
	struct strbuf lines;	/* lock; completion lines not yet read */
	size_t head;		/* lock; bytes of lines already read */
	unsigned outstanding;	/* lock; O_NONBLOCK launches running */
	unsigned unread;	/* lock; whole lines not yet read */
	fuse_req_t reader;	/* lock; a parked blocking read, or NULL */
	size_t reader_size;	/* lock */
};

/* A blocking write waiting for its launch. */
struct fs_wait {
	atomic_int refs;	/* the writer's and the launch's */
	fuse_req_t req;
	size_t size;
	struct fs *fs;
	struct lease *lease;	/* reference */
	pthread_mutex_t lock;
	_Atomic uint64_t seq;	/* the launch's, 0 until it has one: stored
				 * before it may start (also inline) */
	bool interrupted;	/* lock; FUSE sent INTERRUPT */
};

/* The wait whose interrupt callback this thread is in, if any: its
 * launch may complete right there, under the request's lock. */
static __thread struct fs_wait *submit_interrupting;

/*
 * The launch wrote the lease's memory: pages of vram cached before are
 * stale. Have them dropped before the client hears of the completion,
 * so a pread right after it sees the kernel's result.
 */
static void submit_inval(struct fs *fs, struct launch *la)
{
	if (launch_touches_vram(la))
		fs_notify_wait(fs, la->lease, LEASE_EV_DATA, 200);
}

static void cq_put(struct fs_cq *cq)
{
	int r = atomic_fetch_sub(&cq->refs, 1);

	assert(r > 0);
	if (r != 1)
		return;
	strbuf_release(&cq->lines);
	pthread_mutex_destroy(&cq->lock);
	free(cq);
}

int fs_submit_open(struct fs *fs, struct fs_handle *h)
{
	struct fs_cq *cq = calloc(1, sizeof(*cq));

	if (!cq)
		return -ENOMEM;
	cq->fs = fs;
	atomic_init(&cq->refs, 1);
	pthread_mutex_init(&cq->lock, NULL);
	h->cq = cq;
	return 0;
}

/* @n bytes of lines were read: count the whole lines among them. */
static void cq_count_read(struct fs_cq *cq, size_t n)
{
	const char *p = cq->lines.buf + cq->head, *end = p + n;

	while (n && (p = memchr(p, '\n', (size_t)(end - p)))) {
		assert(cq->unread > 0);
		cq->unread--;
		if (++p == end)
			break;
	}
}

/* Answer a read from the unread lines. Called with cq->lock held. */
static void cq_reply(struct fs_cq *cq, fuse_req_t req, size_t size)
{
	size_t n = cq->lines.len - cq->head;

	if (n > size)
		n = size;
	fuse_reply_buf(req, n ? cq->lines.buf + cq->head : NULL, n);
	cq_count_read(cq, n);
	cq->head += n;
	if (cq->head == cq->lines.len) {
		strbuf_release(&cq->lines);
		cq->head = 0;
	}
}

static void submit_done_nonblock(struct launch *la)
{
	struct fs_cq *cq = la->ctx;

	submit_inval(cq->fs, la);
	pthread_mutex_lock(&cq->lock);
	strbuf_printf(&cq->lines,
		      "seq=%llu status=%d duration_ns=%llu user_data=%llu "
		      "kernel=%s",
		      (unsigned long long)la->seq, la->status,
		      (unsigned long long)la->duration_ns,
		      (unsigned long long)la->desc.user_data,
		      launch_name(la));
	if (la->chain)
		strbuf_printf(&cq->lines, " step=%u", la->chain->step);
	strbuf_printf(&cq->lines, "\n");
	assert(cq->outstanding > 0);
	cq->outstanding--;
	cq->unread++;
	if (cq->reader) {
		cq_reply(cq, cq->reader, cq->reader_size);
		cq->reader = NULL;
	}
	pthread_mutex_unlock(&cq->lock);
	cq_put(cq);
}

static void wait_put(struct fs_wait *w)
{
	int r = atomic_fetch_sub(&w->refs, 1);

	assert(r > 0);
	if (r != 1)
		return;
	lease_put(w->lease);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

static void submit_done_wait(struct launch *la)
{
	struct fs_wait *w = la->ctx;
	bool intr;

	submit_inval(w->fs, la);
	/* wait out a running interrupt callback; none comes after this */
	if (submit_interrupting != w)
		fuse_req_interrupt_func(w->req, NULL, NULL);
	pthread_mutex_lock(&w->lock);
	intr = w->interrupted;
	pthread_mutex_unlock(&w->lock);
	if (intr && la->status == -ECANCELED)
		fuse_reply_err(w->req, EINTR);
	else if (la->status)
		fuse_reply_err(w->req, -la->status);
	else
		fuse_reply_write(w->req, w->size);
	wait_put(w);
}

/*
 * FUSE's INTERRUPT for a blocked writer (a signal, Ctrl-C): cancel its
 * launch. libfuse calls it under the request's lock, so the launch's
 * completion has not let go of @data; it may happen inside this call.
 */
static void submit_interrupt(fuse_req_t req, void *data)
{
	struct fs_wait *w = data;
	struct lease *l = w->lease;
	uint64_t seq;

	pthread_mutex_lock(&w->lock);
	w->interrupted = true;
	seq = atomic_load(&w->seq);
	pthread_mutex_unlock(&w->lock);
	if (!seq)
		return;	/* not queued yet: the writer cancels it */
	submit_interrupting = w;
	launch_cancel(l, seq, -ECANCELED);	/* @w may be gone after */
	submit_interrupting = NULL;
}

/*
 * What a write queues: one launch (@c NULL) or one run of chain @c
 * (built for this write only: the run holds it).
 */
struct submit_work {
	struct launch_desc d;
	struct chain *c;
};

/* Parse @buf; a chain is built now. 0 or -errno, logged. */
static int submit_parse(struct fs *fs, struct lease *l, const char *buf,
			size_t size, struct submit_work *wk)
{
	struct chain_spec spec;
	uint32_t step;
	int err;

	wk->c = NULL;
	if (!chain_is(buf, size)) {
		err = launch_parse(buf, size, &wk->d);
		return err ? gl_fail(l, err, "malformed launch descriptor") :
			     0;
	}
	err = chain_parse(buf, size, &spec);
	if (err)
		return gl_fail(l, err, "malformed chain at step %u",
			       spec.bad_step);
	if (spec.nparams) {	/* a run through submit has none to give */
		chain_spec_release(&spec);
		return gl_fail(l, -EINVAL, "a chain through submit takes no "
			       "parameters");
	}
	err = chain_build(&fs->broker.launcher, l, &spec, &wk->c, &step);
	chain_spec_release(&spec);
	return err;	/* chain_build logged it */
}

/* Queue what submit_parse made, or with @inl run a small launch on this
 * thread (launch_submit_inline); *seq is stored before it can start. The
 * chain's build reference is put. */
static int submit_queue(struct fs *fs, struct lease *l,
			struct submit_work *wk, launch_done_fn done,
			void *ctx, _Atomic uint64_t *seq, bool inl)
{
	static const uint64_t none[GL_CHAIN_PARAMS_MAX];
	uint64_t s;
	int err;

	if (wk->c) {
		err = chain_submit(wk->c, none, 0, done, ctx, seq, inl);
		chain_put(wk->c);
		return err;
	}
	if (inl)
		return launch_submit_inline(&fs->broker.launcher, l, &wk->d,
					    done, ctx, seq);
	err = launch_submit(&fs->broker.launcher, l, &wk->d, done, ctx, &s);
	if (!err)
		atomic_store(seq, s);
	return err;
}

void fs_submit_write(fuse_req_t req, struct fs_handle *h, const char *buf,
		     size_t size, bool nonblock)
{
	struct submit_work wk;
	struct fs_cq *cq = h->cq;
	struct fs_wait *w = NULL;
	_Atomic uint64_t seq;
	bool intr;
	int err;

	err = submit_parse(fs_of(req), h->lease, buf, size, &wk);
	if (err) {
		fuse_reply_err(req, -err);
		return;
	}
	if (nonblock) {
		pthread_mutex_lock(&cq->lock);
		if (cq->outstanding + cq->unread >= GL_LAUNCH_QUEUE_MAX) {
			unsigned out = cq->outstanding, unread = cq->unread;

			pthread_mutex_unlock(&cq->lock);
			chain_put(wk.c);
			fuse_reply_err(req, -gl_fail(h->lease, -EAGAIN,
				"%u launches of this file in flight and %u "
				"completions unread", out, unread));
			return;
		}
		atomic_fetch_add(&cq->refs, 1);
		cq->outstanding++;
		pthread_mutex_unlock(&cq->lock);
		err = submit_queue(fs_of(req), h->lease, &wk,
				   submit_done_nonblock, cq, &seq, false);
		if (err) {
			pthread_mutex_lock(&cq->lock);
			cq->outstanding--;
			pthread_mutex_unlock(&cq->lock);
			cq_put(cq);
			fuse_reply_err(req, -err);
			return;
		}
		fuse_reply_write(req, size);
		return;
	}
	w = calloc(1, sizeof(*w));
	if (!w) {
		chain_put(wk.c);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	atomic_init(&w->refs, 2);
	atomic_init(&w->seq, 0);
	w->req = req;
	w->size = size;
	w->fs = fs_of(req);
	w->lease = h->lease;
	lease_get(w->lease);
	pthread_mutex_init(&w->lock, NULL);
	fuse_req_interrupt_func(req, submit_interrupt, w);
	/* a small launch of an idle lease runs right here, this thread
	 * its executor: the interrupt cancels it through w->seq */
	err = submit_queue(fs_of(req), h->lease, &wk, submit_done_wait, w,
			   &w->seq, true);
	if (err) {
		fuse_req_interrupt_func(req, NULL, NULL);
		fuse_reply_err(req, -err);
		wait_put(w);
		wait_put(w);
		return;
	}
	/* submit_done_wait answers, maybe already: only @w is ours now.
	 * An INTERRUPT that came before the launch had its seq: cancel it
	 * now (an inline one has ended, as if the signal came after) */
	pthread_mutex_lock(&w->lock);
	intr = w->interrupted;
	pthread_mutex_unlock(&w->lock);
	if (intr)
		launch_cancel(w->lease, atomic_load(&w->seq), -ECANCELED);
	wait_put(w);
}

void fs_submit_read(fuse_req_t req, struct fs_handle *h, size_t size,
		    bool nonblock)
{
	struct fs_cq *cq = h->cq;

	/* our own reference: after the reply, release may put the handle's */
	atomic_fetch_add(&cq->refs, 1);
	pthread_mutex_lock(&cq->lock);
	if (cq->lines.len > cq->head || !cq->outstanding)
		cq_reply(cq, req, size);	/* lines, or end of file */
	else if (nonblock)
		fuse_reply_err(req, EAGAIN);
	else if (cq->reader)
		fuse_reply_err(req, EBUSY);	/* one parked reader */
	else {
		cq->reader = req;
		cq->reader_size = size;
	}
	pthread_mutex_unlock(&cq->lock);
	cq_put(cq);
}

void fs_submit_release(struct fs_handle *h)
{
	struct fs_cq *cq = h->cq;

	if (!cq)
		return;
	pthread_mutex_lock(&cq->lock);
	if (cq->reader) {	/* only at teardown: end its wait */
		fuse_reply_buf(cq->reader, NULL, 0);
		cq->reader = NULL;
	}
	pthread_mutex_unlock(&cq->lock);
	h->cq = NULL;
	cq_put(cq);
}
