/* SPDX-License-Identifier: MIT */
/*
 * A lease's io region: one shared-memory file laid out as uapi/ring.h
 * says, owned by the lease's uid, mapped by the daemon and by the client,
 * and served by its own poller thread. Everything the client writes into
 * it is untrusted: geometry and indices come from the daemon's private
 * copies, every loop over client memory is bounded and checks for stop,
 * and a SIGBUS on the mapping (the client truncated the file) is caught:
 * the faulting range turns into anonymous pages and the ring BROKEN.
 */
#ifndef GL_RING_H
#define GL_RING_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "daemon/lease.h"
#include "daemon/mapguard.h"
#include "uapi/barrier.h"
#include "uapi/ring.h"

struct launcher;
struct policy;

/*
 * What every ring of the daemon shares: the broker owns it, wires it and
 * registers ring_io_new with it on the lease table, so that a lease
 * makes its io area without naming this module.
 */
struct ring_set {
	const char *dir;		/* where io files go; fixed */
	struct policy *pol;		/* ring_idle_us, ring_complete_hold
					 * (a futex word) */
	struct launcher *launcher;	/* GL_OP_LAUNCH submits here */
	_Atomic uint64_t copy_waits;	/* copies that waited for the ring's
					 * earlier launches */
};

struct chain;
struct launch;
struct ring_infer;

#define RING_INFER_MAX	32	/* GL_OP_INFER requests in flight per
				 * ring; more: EBUSY */

struct ring {
	struct lease_io io;		/* what the lease sees: fixed */
	struct ring_set *set;		/* fixed */
	struct lease *lease;		/* owner; the ring dies before it */
	char path[256];			/* the file; leases/<name>/io points
					 * here */
	int fd;
	void *map;			/* the whole file, MAP_SHARED */
	uint64_t size;			/* bytes of the file */
	struct gl_ring_hdr *hdr;
	struct gl_sqe *sq;
	struct gl_cqe *cq;
	char *data;			/* the data area */
	uint64_t data_size;
	uint32_t sq_entries;		/* private geometry: never read back */
	uint32_t cq_entries;		/* from the shared header */
	uint32_t sq_mask;
	uint32_t cq_mask;
	uint32_t sq_head;		/* poller only: next SQE to read */
	struct mapguard guard;		/* the map's; guard.hit: the client
					 * truncated the file */
	_Atomic uint32_t park;		/* private futex word: a broken ring's
					 * poller sleeps on it */

	pthread_mutex_t cq_lock;	/* serialises CQE producers */
	uint32_t cq_tail;		/* cq_lock: next CQE to fill */
	_Atomic uint32_t committed;	/* CQ slots promised so far, by
					 * compare-and-swap (the poller, a
					 * GL_OP_INFER stream); cq_tail <=
					 * committed, the rest is in flight */
	pthread_t poller;
	bool poller_started;
	atomic_bool stop;
	atomic_bool broken;
	_Atomic uint64_t polls;		/* SQEs consumed, for stats */
	_Atomic uint32_t launches;	/* launches of this ring not yet
					 * completed; copies wait for them
					 * (a private futex word) */
	struct chain *chains[GL_CHAIN_IDS];/* poller only: built chains by
					 * id (ring-op-chain.c); a run in
					 * flight holds its own reference;
					 * ring_destroy puts them */
	struct ring_infer *infer[RING_INFER_MAX];/* poller only (then
					 * ring_stop): GL_OP_INFER requests
					 * not yet reaped (ring-op-infer.c) */
	uint32_t infer_seen;		/* poller only: infer_ended reaped */
	_Atomic uint32_t infer_ended;	/* requests whose last CQE is posted;
					 * the poller reaps them */
};

/*
 * ring_create - make the io file of @bytes for lease @l in @rs->dir,
 * owned by @l's owner and group, mode 0600, committed, mapped, its header
 * written, and start its poller. Returns 0, -EINVAL (size), -ENOSPC,
 * -ENOMEM, -errno.
 */
int ring_create(struct ring_set *rs, struct lease *l, uint64_t bytes,
		struct ring **out);

/* ring_io_new - ring_create as the lease table's io_new (lease.h), @ctx
 * the ring_set: the lease then stops, drains and destroys it through
 * r->io.ops. */
lease_io_new_fn ring_io_new;

/* ring_stop - stop and join the poller. Never with mem_lock held (the
 * poller may be waiting for its read side); callers hold the lease's
 * io_lock, which the poller never takes. Idempotent. */
void ring_stop(struct ring *r);

/* ring_destroy - wait until every promised completion is posted
 * (ring_drain), mark the header DEAD, drop the OFD lock that tells
 * clients the daemon lives (by closing the file), unmap, unlink, free.
 * After ring_stop, with no launch reading its data area (io: arguments of
 * a launch from submit: off the lease or past mem_lock's write side). */
void ring_destroy(struct ring *r);

/* ring_drain - wait until every CQE promised by @r's stopped poller is
 * posted; after it returns no thread touches the shared header. */
void ring_drain(struct ring *r);

/*
 * ring_complete - post one CQE into the slot reserved when its SQE was
 * consumed; wakes a client sleeping on the CQ. Any thread. Every write
 * to the header is done before the CQE counts as posted (ring_drain), so
 * @r may be gone when this returns.
 */
void ring_complete(struct ring *r, uint64_t user_data, int status,
		   uint64_t duration_ns);

/* ring_complete_step - ring_complete() with the CQE's step field (the
 * chain opcodes). */
void ring_complete_step(struct ring *r, uint64_t user_data, int status,
			uint64_t duration_ns, uint64_t step);

/* ring_complete_cqe - ring_complete() of a whole CQE (flags, the ans
 * field of GL_OP_INFER): into the slot reserved for its SQE, or one
 * ring_cq_reserve() just took. */
void ring_complete_cqe(struct ring *r, const struct gl_cqe *c);

/*
 * ring_cq_reserve - promise one more CQ slot, for a completion beyond
 * the one reserved with its SQE (GL_OP_INFER's GL_CQE_F_MORE): true
 * when the client left one free, false when the CQ is full (or its
 * cq_head is impossible): then post nothing, never wait. Any thread;
 * lock-free against the poller's own promises. Post it at once with
 * ring_complete_cqe().
 */
bool ring_cq_reserve(struct ring *r);

/* ring_launch_done - the completion of a launch or chain run queued by
 * the ring (ring-op-launch.c): its CQE, and the wake of copies behind
 * it. A launch_done_fn whose ctx is the ring. */
void ring_launch_done(struct launch *la);

/* ring_poll_main - the poller thread (ring-poll.c). */
void *ring_poll_main(void *arg);

#define RING_SLEEP_MS	1000	/* longest futex sleep of the poller: a
				 * client that forgets a wake-up stalls,
				 * never hangs */

/*
 * Opcode handlers: one daemon/ring-op-*.c per opcode and one line of the
 * table in ring-poll.c (Documentation/ring.md, "Adding an opcode"). The
 * poller calls a handler with its own copy of the SQE (flags and reserved
 * fields already checked zero), its CQ slot reserved, on the poller
 * thread. The handler bounds-checks every offset against the ring's
 * private geometry, copies what it parses out of the shared memory first,
 * and checks r->stop in any wait. It returns 0 or -errno, which the
 * poller posts as the completion, or RING_OP_QUEUED when it handed the
 * entry on and ring_complete() will be called for it later, exactly once
 * (an untimed handler never queues). State an opcode keeps across entries
 * (the chains of GL_OP_CHAIN_*) belongs in struct ring, freed by
 * ring_destroy().
 */
#define RING_OP_QUEUED	1

typedef int ring_op_fn(struct ring *r, const struct gl_sqe *sqe);

ring_op_fn ring_op_nop;		/* ring-op-nop.c */
ring_op_fn ring_op_launch;	/* ring-op-launch.c */
ring_op_fn ring_op_copy_in;	/* ring-op-copy.c */
ring_op_fn ring_op_copy_out;	/* ring-op-copy.c */
ring_op_fn ring_op_chain_build;	/* ring-op-chain.c */
ring_op_fn ring_op_chain_run;	/* ring-op-chain.c */
ring_op_fn ring_op_chain_free;	/* ring-op-chain.c */
ring_op_fn ring_op_infer;	/* ring-op-infer.c */

/* ring_infer_reap - free the GL_OP_INFER requests whose last CQE is
 * posted. The poller, each turn (cheap when none ended). */
void ring_infer_reap(struct ring *r);

/* ring_infer_stop - after the poller stopped: stop watching every
 * request in flight, post ECANCELED for each whose last CQE is not
 * posted yet, and let the requests go (they stop at their next step).
 * ring_stop()'s. */
void ring_infer_stop(struct ring *r);

/* ring_futex_wake - FUTEX_WAKE on a word of the shared header. */
void ring_futex_wake(uint32_t *word);

/* ring_futex_wait - FUTEX_WAIT on @word while it holds @val, up to @ms
 * (< 0: no limit); @private for daemon-only words. */
void ring_futex_wait(_Atomic uint32_t *word, uint32_t val, int ms,
		     bool private);

#endif
