/* SPDX-License-Identifier: MIT */
/*
 * The model service's scheduler (model-batch.c) and the request it
 * schedules (model-infer.c): internal to model*.c. A model runs one
 * step launch at a time over every request admitted to its batch;
 * requests wait in a bounded queue until a step admits them.
 * Documentation/models.md, "Batching".
 */
#ifndef GL_MODEL_BATCH_H
#define GL_MODEL_BATCH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <urcu/list.h>

#include "daemon/hist.h"
#include "daemon/launch.h"
#include "daemon/model/sample.h"
#include "daemon/model/tokenizer.h"

#define MODEL_MAX_BATCH	64	/* KV slots: one bit each in slots */
#define MODEL_MAX_QUEUE	4096	/* max_queue's bound */
#define MODEL_QUEUE_DEFAULT 64	/* max_queue when not given */
#define MODEL_MAX_DELAY_US 10000000	/* max_delay_us's bound: 10 s */

struct model;
struct model_req;

/* One of a model's two step launches: launch.c's while it is queued,
 * running or finishing (busy), the model's again after release. */
struct model_step {
	struct launch la;		/* first: launch.c's view of it */
	struct model *m;		/* a reference while busy */
	atomic_bool busy;		/* enqueued, not yet released */
};

/*
 * A model's batch. The pending queue, the counts and the flags are
 * guarded by the model's lock; the batch itself (active[], the row
 * arrays) belongs to the step chain, which runs one step at a time.
 */
struct model_batch {
	pthread_cond_t company;		/* m->lock; a request was queued */
	struct cds_list_head pending;	/* m->lock; waiting requests, FIFO,
					 * one reference each */
	uint32_t n_pending;		/* m->lock; on pending */
	uint32_t held;			/* m->lock; requests queued or in
					 * the batch */
	bool inflight;			/* m->lock; a step queued or
					 * running */
	int closed;			/* m->lock; 0, or the -errno of a
					 * step failed by the queue's close:
					 * no more steps */
	uint32_t max_queue;		/* fixed: requests waiting at most */
	uint32_t max_delay_us;		/* fixed: an mlp pass waits this
					 * long for company */
	/* the step chain's own */
	uint32_t nsteps;		/* step[nsteps % 2] is the next's */
	struct model_step step[2];
	uint32_t n_active;
	struct model_req *active[MODEL_MAX_BATCH]; /* admitted, in order;
					 * one reference each */
	uint32_t tok[MODEL_MAX_BATCH];	/* the step's rows */
	uint32_t slot[MODEL_MAX_BATCH];
	uint32_t pos[MODEL_MAX_BATCH];
	/* metrics, lock-free */
	struct hist queue_time;		/* start to admission, us */
	struct hist_size batch_size;	/* rows per step */
	_Atomic uint64_t steps;		/* steps that ran */
};

/* A request: its input, its progress, its answer. */
struct model_req {
	_Atomic long refs;
	struct model *m;		/* reference */
	struct cds_list_head link;	/* batch pending; m->lock */
	uint32_t slot;			/* its KV slot, once has_slot */
	bool has_slot;			/* taken at admission (a language
					 * model's) */
	int64_t start_ns;		/* clock_mono() when queued; 0: never
					 * started (refused) */
	float *in;			/* mlp: rows * inputs f32 */
	uint32_t rows;			/* mlp: rows in */
	/* the step chain's: touched by one step at a time */
	uint32_t *ids;			/* the prompt, n_prompt ids */
	uint32_t n_prompt;
	uint32_t fed;			/* prompt ids fed so far */
	uint32_t pos;			/* next position */
	uint32_t last;			/* the latest token fed or made */
	uint32_t made;			/* tokens generated */
	uint32_t max_tokens;
	uint32_t row0, nrows;		/* its rows in the current step */
	int64_t admit_ns;		/* 0 until admitted */
	int err;			/* a failure of its own in a step */
	enum model_out emit;		/* the answer's form */
	bool stop;			/* BOS or EOS ends it, unwritten */
	bool complete;			/* the last step made the last token */
	struct tokenizer_dec dec;	/* the answer's text held back */
	struct sample_params sp;
	struct sample_rng rng;
	atomic_bool abandoned;		/* its opener closed it */
	/* the answer */
	pthread_mutex_t lock;		/* guards what follows */
	pthread_cond_t grown;		/* out grew, or the end */
	char *out;
	size_t out_len, out_cap, rd;
	bool ended;
	int end_err;			/* 0 or the -errno it ended with */
	model_req_watch_fn *watch;	/* or NULL; called under lock */
	void *watch_ctx;
};

/* model_batch_init, model_batch_destroy - @m's batch, empty (model.c,
 * at the model's making and its last put). */
void model_batch_init(struct model *m);
void model_batch_destroy(struct model *m);

/*
 * model_batch_add - queue @rq (started, its reference taken here) for
 * the next step of its model, starting a step when none is queued or
 * running. Returns 0, or -EBUSY (max_batch + max_queue requests held),
 * the -errno of the model's closed queue (-EKEYEXPIRED, -ECANCELED), or
 * launch_enqueue's; nothing is queued then and the caller ends @rq.
 * Takes the model's lock; never sleeps on a step.
 */
int model_batch_add(struct model_req *rq);

/* model_batch_queued - requests of @m waiting for a step. Takes the
 * model's lock. */
uint32_t model_batch_queued(struct model *m);

/* model-infer.c's, for the steps: the end of @rq (its slot back, its
 * readers woken); @rq's next token from logits row @row of the step
 * (0 or -errno); an mlp's answer from its @rows output rows. */
void model_req_end(struct model_req *rq, int err);
int model_req_sample(struct model_req *rq, void *base, uint32_t row);
int model_req_mlp_answer(struct model_req *rq, const float *rows);

#endif
