/* SPDX-License-Identifier: MIT */
/*
 * The model service: models loaded from files into leases of their own
 * (model.NAME), served one request per open infer file, each forward
 * step a launch body on the lease's queue. It sits above leases and
 * launches and below the broker: it acquires its leases like any
 * client, hears their expiry and drop through their owner operations,
 * and never reaches into the lease table. Documentation/models.md.
 *
 * Lifetime: the set's list holds one reference per model from load to
 * unload; every user (a front-end node or handle, a request) holds one
 * per model_find or model_get. A model holds its lease's reference until
 * its last put.
 */
#ifndef GL_MODEL_H
#define GL_MODEL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <urcu/list.h>

#include "daemon/log.h"
#include "daemon/hist.h"
#include "daemon/timer.h"
#include "daemon/stopstr.h"
#include "uapi/gpulease.h"

struct lease;
struct lease_table;
struct policy;
struct registry;
struct strbuf;
struct model;
struct model_req;

struct model_set {
	pthread_mutex_t lock;		/* guards models, loads */
	struct cds_list_head models;	/* lock; every loaded model */
	struct lease_table *lt;		/* borrowed, fixed */
	struct registry *reg;		/* borrowed, fixed */
	const struct policy *pol;	/* borrowed, fixed */
	_Atomic uint64_t next_id;	/* model ids, never reused */
	struct gl_last_error last_error;	/* models/ctl's */
	_Atomic uint64_t bytes_in;	/* request bytes, every model's ever */
	_Atomic uint64_t bytes_out;	/* answer bytes read, likewise */
	_Atomic bool stopping;		/* model_set_destroy() has begun */
};

/* The loading user's credentials, used to open a model's files. */
struct model_cred {
	uid_t uid;
	gid_t gid;
	const gid_t *groups;		/* supplementary groups, or NULL */
	int ngroups;
};

/* model_set_init - an empty set over the broker's lease table, kernel
 * registry and policy (all borrowed). 0 or -errno. */
int model_set_init(struct model_set *s, struct lease_table *lt,
		   struct registry *reg, const struct policy *pol);

/* model_set_destroy - unload every model (leases dropped, requests
 * failed with ECANCELED) and free the set. Sleeps; before the lease
 * table goes. */
void model_set_destroy(struct model_set *s);

/*
 * model_ctl_write - one line of models/ctl: "load NAME PATH [key=value
 * ...]" or "unload NAME". Returns 0, -EINVAL (line, name, option, file
 * format), -EACCES (a file the caller cannot read, another's model),
 * -EEXIST, -ENOENT, -ENOSPC, -EDQUOT, -EOPNOTSUPP (a CUDA device),
 * -ENOTSUP (what the parsers do not compute), -EFBIG, -ENOMEM. Sleeps.
 */
int model_ctl_write(struct model_set *s, const struct model_cred *c,
		    const char *buf, size_t len);

/* model_ctl_render - models/ctl's text for @uid: "name state lease
 * vram" per model it may see. 0 or -ENOMEM. */
int model_ctl_render(struct model_set *s, uid_t uid, struct strbuf *sb);

/* model_find - the listed model @name (warm, cold or expired), with a
 * reference, or NULL. */
struct model *model_find(struct model_set *s, const char *name);

/* model_for_each - call @fn for every listed model @uid may see, under
 * the set's lock (@fn must not sleep or call back). Stops at and
 * returns @fn's first non-zero value. */
int model_for_each(struct model_set *s, uid_t uid,
		   int (*fn)(void *arg, struct model *m), void *arg);

void model_get(struct model *m);
void model_put(struct model *m);

/* Fixed for the model's life. */
uint64_t model_id(const struct model *m);
const char *model_name(const struct model *m);
uid_t model_owner(const struct model *m);
gid_t model_group(const struct model *m);

/* Why requests fail, as the metrics count them: errnos by name, and the
 * rest as "other". */
#define MODEL_FAIL_REASONS	12

/* model_fail_reason - the label of failure slot @i (< MODEL_FAIL_REASONS):
 * "EINVAL", ..., "other". */
const char *model_fail_reason(int i);

/* Requests refused before they start, as the metrics count them: ETIME,
 * EBUSY, EKEYEXPIRED (model-admit.c). */
#define MODEL_REFUSE_REASONS	3

/* model_refuse_reason - the label of refusal slot @i (<
 * MODEL_REFUSE_REASONS): "etime", "ebusy", "expired". */
const char *model_refuse_reason(int i);

/* @m's counters as the metrics show them, read lock-free (each atomic on
 * its own: a snapshot need not add up to the instant). */
struct model_meter {
	uint64_t requests;		/* received, refused ones included */
	uint64_t tokens;		/* generated */
	uint64_t bytes_in;		/* request bytes written */
	uint64_t bytes_out;		/* answer bytes read */
	uint64_t fail[MODEL_FAIL_REASONS];	/* refused or failed */
	uint64_t refused[MODEL_REFUSE_REASONS];	/* refused, by reason */
	const struct hist *latency;	/* @m's, lives with @m */
	uint64_t cold_starts;		/* reloads after cold or expired */
	const struct hist *cold_start;	/* their times, lives with @m */
	uint64_t fallbacks;		/* requests served by its fallback */
	const char *fallback;		/* that model's name, or NULL */
	uint64_t lease_ns;		/* lease time, dropped leases too */
	const struct hist *queue_time;	/* likewise: start to admission */
	const struct hist_size *batch_size;	/* likewise: rows per step */
};

/* model_meter_read - fill @out from @m, under the set's lock (a
 * model_for_each callback: lease_ns reads m->lease). */
void model_meter_read(struct model *m, struct model_meter *out);

/* model_set_bytes - every model's request bytes in and answer bytes out
 * since the start, unloaded models included. Lock-free. */
void model_set_bytes(struct model_set *s, uint64_t *in, uint64_t *out);

/* model_lease_model - the model whose lease @l is ("NAME" of
 * model.NAME), or NULL for a lease no model acquired. Fixed for @l's
 * life: no lock, no reference. */
const char *model_lease_model(const struct lease *l);

/* model_check - 0 while warm or reloadable by a request (cold, or
 * expired with renew=manual), -EKEYEXPIRED once its lease expired,
 * -ENOENT once unloaded. Lock-free. */
int model_check(struct model *m);

/* model_render_ctl, model_render_stats - the text of models/NAME/ctl
 * and stats. 0 or -ENOMEM. */
int model_render_ctl(struct model *m, struct strbuf *sb);
int model_render_stats(struct model *m, struct strbuf *sb);

/* model_write_ctl - "unload", "warm", "cold" (model_set_warm,
 * model_set_cold), or "io SIZE" (the lease's io region,
 * lease_set_io()), from @uid: 0, -EACCES, -EINVAL, -ENOENT, -EBUSY,
 * or the reload's or lease_set_io()'s -errno. Sleeps. */
int model_write_ctl(struct model *m, uid_t uid, const char *buf,
		    size_t len);

/*
 * model_req_start - parse one request on @m (a language model's text
 * form or gl_infer_ids; an mlp's gl_infer_tensor, uapi/model.h) and
 * start it. Returns 0 with *@out (put with model_req_put), or -EINVAL
 * (malformed), -EFBIG (a request over 64 KiB, a prompt over the
 * context, max_tokens over max_ctx, rows over max_batch), -EBUSY (the
 * queue full: max_batch + max_queue held), -ETIME (admission:
 * model_admit), -EOPNOTSUPP (text prompt without an encoder, the other
 * kind of model's binary form),
 * -EKEYEXPIRED, -ENOENT, -ENOMEM.
 * Counts the request and its bytes in @m's meter, a refusal in its
 * failures (and by reason in its refusals); a started one's latency
 * and failure are counted when it ends. Lock-free on the counters.
 */
int model_req_start(struct model *m, const char *buf, size_t len,
		    struct model_req **out);

/*
 * model_req_read - up to @size bytes of the answer not yet read. Blocks
 * (unless @nonblock: -EAGAIN) until at least one new byte or the end.
 * Returns the byte count, 0 at the end of a whole answer, or the
 * request's -errno (-EKEYEXPIRED, -ECANCELED, ...) once it failed.
 */
ssize_t model_req_read(struct model_req *rq, char *buf, size_t size,
		       bool nonblock);

/* model_req_put - the opener's reference; the request stops when it
 * goes and its last step has ended. */
void model_req_put(struct model_req *rq);

/*
 * model_req_watch - have @fn(@ctx, answer, bytes, ended, err) called
 * each time @rq's answer grows and once when it ends (@err 0 or its
 * -errno), with the whole answer so far; at once if it already grew or
 * ended. @fn runs under the request's lock, on the thread that ran the
 * step (or this one): it must not sleep, block on a client or call
 * model_req_*() but model_req_sent(); it may copy the bytes and post a
 * completion (and count them with model_req_sent()). @fn NULL
 * stops the calls: once model_req_watch() returns, none runs or will.
 * The ring's GL_OP_INFER (ring-op-infer.c) is the caller; a reader of
 * model_req_read() needs none.
 */
/* model_req_sent - @n answer bytes of @rq reached its client: the
 * model's bytes_out and the daemon's. Lock-free. */
void model_req_sent(struct model_req *rq, size_t n);

typedef void model_req_watch_fn(void *ctx, const char *out, size_t len,
				bool ended, int err);
void model_req_watch(struct model_req *rq, model_req_watch_fn *fn,
		     void *ctx);

/* model_for_lease - the model whose lease @l is, with a reference (put
 * with model_put), or NULL (another lease, a load in progress, an
 * unloaded model). Any thread; takes the set's lock. */
struct lease;
struct model *model_for_lease(struct lease *l);

/* model_for_lease_err - why model_for_lease(@l) was NULL: -EINVAL (not
 * a model's lease), -ECANCELED (its model is being retired by the
 * daemon's stop: a request then is the stop's, as one in flight), or
 * -ENOENT (loading, or unloaded). */
int model_for_lease_err(struct lease *l);

/* model_io_path - the model's request ring (its lease's io file) into
 * @buf: 0, -ENOENT (none, or the model is not warm). */
int model_io_path(struct model *m, char *buf, size_t size);


/* What follows is the service's own (model*.c); others use the calls. */
#include <stdatomic.h>

#include "daemon/launch.h"
#include "daemon/model/llama.h"
#include "daemon/model/mlp.h"
#include "daemon/model/sample.h"
#include "daemon/model/tokenizer.h"

/* How a language model's answer is written. */
enum model_out {
	MODEL_OUT_TEXT,			/* decoded by its tokenizer */
	MODEL_OUT_IDS,			/* " ID" per token */
	MODEL_OUT_U32,			/* the binary form: u32 per token */
};

/*
 * The scheduler (model-batch.c) and the request it schedules
 * (model-infer.c). A model runs one step launch at a time over every
 * request admitted to its batch; requests wait in a bounded queue until
 * a step admits them. Documentation/models.md, "Batching".
 */
#define MODEL_MAX_BATCH	64	/* KV slots: one bit each in slots */
#define MODEL_MAX_QUEUE	4096	/* max_queue's bound */
#define MODEL_QUEUE_DEFAULT 64	/* max_queue when not given */
#define MODEL_MAX_DELAY_US 10000000	/* max_delay_us's bound: 10 s */

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
	int64_t first_ns;		/* clock_mono() at its first token */
	int64_t deadline_ns;		/* clock_mono() it must end by, 0:
					 * none (model_admit) */
	uint64_t served_by;		/* m's id when m is the fallback of
					 * the model asked, else 0 */
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
	bool usage;			/* end with the usage trailer */
	bool stopped;			/* a stop string ended it */
	struct stopstr_set *stops;	/* stop=, or NULL: malloc'ed */
	char tail[STOPSTR_LEN - 1];	/* the answer's last bytes */
	size_t tail_len;		/* for stopstr_find() */
	bool served_hdr;		/* open with gl_infer_served */
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


enum model_state {
	MODEL_LOADING,		/* name taken, not listed yet */
	MODEL_WARM,
	MODEL_EXPIRED,		/* its lease expired: requests fail, or
				 * (renew=manual) the next one reloads */
	MODEL_COLD,		/* no lease; the next request reloads */
	MODEL_UNLOADED,		/* out of the set */
};

/* A model's file sources, kept from its load for reloads (model-load.c). */
struct model_src;

struct kernel_entry;

/* A model's admission control (model-admit.c). Lock-free: atomics. */
struct model_admit {
	_Atomic uint32_t deadline_ms;	/* a request's default, 0: none */
	_Atomic uint64_t row_ns;	/* moving average, ns per prompt row
					 * (an mlp: per row); 0: unknown */
	_Atomic uint64_t token_ns;	/* likewise per token generated after
					 * the first; 0: unknown */
	_Atomic uint64_t refused[MODEL_REFUSE_REASONS];
};

struct model {
	struct cds_list_head link;	/* set->models; set->lock */
	_Atomic long refs;
	struct model_set *set;		/* fixed */
	uint64_t id;			/* fixed, never reused */
	char name[GL_NAME_MAX + 1];	/* fixed */
	uid_t owner;			/* fixed */
	gid_t group;			/* fixed */
	struct lease *lease;		/* reference, or NULL while cold;
					 * changed under burst_lock and
					 * set->lock, never while running
					 * or users (model-cold.c) */
	_Atomic int state;		/* enum model_state */
	const char *arch;		/* "llama2c", "hf-llama", "mlp";
					 * fixed */
	bool mlp;			/* a gpulease-mlp: mplan, not plan */
	struct llama_plan plan;		/* fixed once warm */
	struct mlp_plan mplan;		/* fixed once warm */
	float *stage;			/* an mlp on another device than
					 * the CPU: its output rows copied
					 * out, max_batch x outputs; NULL
					 * on the CPU. Fixed */
	char *host;			/* a language model on another
					 * device than the CPU: a host
					 * mapping of need bytes at the
					 * lease's offsets, of which only
					 * the host's parts are touched
					 * (tokenizer tables, sampling
					 * scratch, the logits copied out
					 * after each step; the weights
					 * pass through at a load, then
					 * are dropped); NULL on the CPU.
					 * Fixed */
	uint64_t scratch;		/* sampling scratch's offset */
	uint64_t need;			/* bytes the plan uses */
	struct team *team;		/* threads=, or NULL for 1; fixed
					 * once warm */
	const struct kernel_entry *ke;	/* named by its step launches */
	struct tokenizer tok;		/* may be empty; placed in the lease
					 * (its tables there), fixed once warm */
	pthread_mutex_t lock;		/* guards slots, batch's queue */
	uint64_t slots;			/* KV slots in use, a bit each */
	struct model_batch batch;	/* the scheduler's (model-batch.c) */
	_Atomic uint64_t requests;	/* received, refused ones too */
	_Atomic uint64_t failures;	/* refused or ended with an error */
	_Atomic uint64_t tokens;	/* generated */
	_Atomic uint32_t running;	/* requests not ended */
	_Atomic uint64_t fail[MODEL_FAIL_REASONS]; /* failures by reason */
	_Atomic uint64_t bytes_in;	/* request bytes written to infer */
	_Atomic uint64_t bytes_out;	/* answer bytes read from infer */
	struct hist latency;	/* started requests, start to end */
	struct model_admit admit;	/* model-admit.c's */
	struct gl_last_error last_error;
	/* burst, renewal and pressure: model-cold.c's */
	struct model_src *src;		/* files and parse, fixed once warm */
	uint64_t vram_floor;		/* vram=, bytes; fixed */
	uint32_t ttl;			/* ttl=, 0: the default; fixed */
	uint32_t device;		/* fixed */
	uid_t lease_uid;		/* the lease's owner; fixed */
	gid_t lease_gid;
	uint32_t burst_s;		/* burst=, idle seconds; 0: off */
	bool renew_manual;		/* renew=manual */
	uint32_t wait_ms;		/* wait_ms=: no room, wait this long */
	char fallback[GL_NAME_MAX + 1];	/* fallback=, or "" */
	pthread_mutex_t burst_lock;	/* state changes to and from cold
					 * and expired, lease swaps */
	pthread_cond_t burst_cond;	/* running fell, or room freed */
	_Atomic uint32_t users;		/* requests between enter and leave
					 * (model_warm_enter) */
	_Atomic uint32_t waiting;	/* of them, waiting for room */
	_Atomic int64_t last_use;	/* lease clock ns of the last
					 * request's start or end */
	struct timer idle;		/* burst: the idle drop; holds a
					 * reference while queued */
	uint64_t io_size;		/* burst_lock; io SIZE, made again
					 * at a reload */
	_Atomic uint64_t cold_starts;	/* reloads after cold or expired */
	_Atomic uint64_t last_cold_us;	/* the latest one's time */
	struct hist cold_start;		/* every one's time */
	_Atomic uint64_t fallbacks;	/* requests its fallback served */
	_Atomic uint64_t evictions;	/* made cold early for another */
	_Atomic uint64_t lease_ns;	/* time held by its dropped leases */
};

/* model_fail - log @err of @m with a reason and record it in its ctl's
 * last_error. Returns @err. */
#define model_fail(m, err, ...) \
	gl_fail_at(__FILE__, __LINE__, (m)->name, &(m)->last_error, (err), \
		   __VA_ARGS__)

/* model_count_failure - count a request of @m refused or failed with
 * @err (< 0) in its failures and their reason. Lock-free. */
void model_count_failure(struct model *m, int err);

/* model_req_get, model_req_unref - a reader's reference on @rq (the
 * last unref frees it; unlike model_req_put it does not stop it). */
void model_req_get(struct model_req *rq);
void model_req_unref(struct model_req *rq);

/* model-load.c: open and parse a model's files as @c into @m (kept in
 * m->src for reloads), acquire its lease and copy the weights in. 0 or
 * -errno, nothing left on failure (the reason in @why). */
struct model_opts {
	const char *path;
	const char *tokenizer;		/* or NULL */
	uint64_t vram;			/* floor, 0: none */
	uint32_t ttl;			/* 0: the default */
	uint32_t device;
	uint32_t max_batch;		/* 0: 1 */
	uint32_t max_ctx;		/* 0: the model's */
	uint32_t threads;		/* 0: 1 */
	uint32_t deadline_ms;		/* a request's default, 0: none */
	uint32_t burst;			/* idle seconds, 0: off */
	bool renew_manual;
	uint32_t wait_ms;
	const char *fallback;		/* or NULL */
	uint32_t max_queue;		/* requests waiting at most */
	uint32_t max_delay_us;		/* an mlp waits for company */
};
int model_load_files(struct model *m, const struct model_cred *c,
		     const struct model_opts *o, char *why, size_t whylen);

/*
 * model_lease_fill - acquire a new lease for @m (its load's size, ttl,
 * device and owner) and copy the weights in from m->src, after checking
 * its files are those it loaded. 0 with *@out (a reference), or -errno
 * with the reason in @why: -EIO (a file removed, or changed since the
 * load), -ENOSPC, -EDQUOT, the acquire's. Nothing left on failure.
 * Sleeps; with @m's burst_lock held, or during its load.
 */
int model_lease_fill(struct model *m, struct lease **out, char *why,
		     size_t whylen);

/* model_src_free - the kept files of @m, closed and unmapped, and its
 * host rows (stage) and host mapping freed. */
void model_src_free(struct model *m);

/* model_host_base - where the CPU reads a language model's host parts
 * (tokenizer tables, sampling scratch, logits): its host mapping on
 * another device, else its lease's block at @base. */
static inline char *model_host_base(const struct model *m, void *base)
{
	return m->host ? m->host : base;
}

/* model-cold.c: burst models, renewal and memory pressure. */

/* model_cold_init - @m's burst state, after model_new. 0 or -errno. */
int model_cold_init(struct model *m);

/* model_cold_destroy - undo model_cold_init, at the last put. */
void model_cold_destroy(struct model *m);

/* model_cold_arm - @m turned warm: start its idle clock (burst=). */
void model_cold_arm(struct model *m);

/* model_cold_disarm - @m leaves the set: its idle timer stopped. With
 * burst_lock held. */
void model_cold_disarm(struct model *m);

/*
 * model_warm_enter - a request starts on @m: make it warm (reload it
 * when cold, or expired with renew=manual, waiting for room until
 * @deadline_ns on the lease clock, model_wait_deadline()'s; 0: its
 * wait_ms from now), renew its lease
 * (renew=auto), and count it in users until model_warm_leave. Returns
 * 0, -EBUSY (no room by the deadline), -EKEYEXPIRED (expired, renew
 * auto), -ENOENT (unloaded), -EIO (its files changed), or the
 * acquire's -errno; -ENOSPC only with a fallback (the caller's to use).
 * Sleeps.
 */
int model_warm_enter(struct model *m, int64_t deadline_ns);

/* model_warm_leave - the request's start is over (started or
 * refused). Lock-free. */
void model_warm_leave(struct model *m);

/* model_req_ended - a started request of @m ended (after running fell):
 * its idle clock restarts. Lock-free, any thread. */
void model_req_ended(struct model *m);

/* model_wait_deadline - the lease-clock end of a request's wait for
 * room on @m: now + wait_ms, or now + @deadline_ms (0: @m's
 * deadline_ms; both 0: none) when that ends first. Lock-free. */
int64_t model_wait_deadline(struct model *m, uint32_t deadline_ms);

/*
 * model_set_cold, model_set_warm - ctl "cold" and "warm": drop the
 * lease now (-EBUSY with work in flight), or reload now (-ENOSPC,
 * -EIO, ...). 0 when already so. Sleeps.
 */
int model_set_cold(struct model *m);
int model_set_warm(struct model *m);

/* model_lease_get - @m's lease with a reference, or NULL when cold. */
struct lease *model_lease_get(struct model *m);

/* model_render_burst - the ctl lines of burst, renewal, pressure. */
void model_render_burst(struct model *m, struct strbuf *sb);

/* model_fallback - the model serving @m's requests when it has no
 * room, with a reference, or NULL (none, unloaded, not the same
 * owner's). */
struct model *model_fallback(struct model *m);

/* A language model's request, parsed (model-ask.c). */
struct model_ask {
	uint32_t *ids;			/* the prompt, malloc'ed */
	uint32_t n_ids;			/* 1 .. max_ctx - 1 */
	uint32_t max_tokens;		/* 1 .. the positions left */
	struct sample_params sp;
	uint64_t seed;
	enum model_out out;
	bool stop;			/* BOS or EOS ends it, unwritten */
	uint32_t deadline_ms;		/* the request's, 0: the model's */
	bool usage;			/* usage=1: the answer ends with
					 * "\x1eusage PROMPT MADE\n" */
	struct stopstr_set stops;	/* stop=: the answer ends after the
					 * first of them it makes */
	bool served_hdr;		/* GL_INFER_SERVED_BY: the answer
					 * opens with gl_infer_served */
};

/*
 * model_ask_parse - a language model's request of @len bytes in either
 * form (text, or uapi/model.h's gl_infer_ids) checked against @m's plan
 * and tokenizer into @a (the caller frees a->ids). Returns 0, or -EINVAL
 * (malformed, a value outside its range, an id outside the vocabulary),
 * -EFBIG (a prompt of max_ctx ids or more, max_tokens over max_ctx),
 * -EOPNOTSUPP (a text prompt without a tokenizer, a gl_infer_tensor),
 * -ENOMEM, the lease's error when a text prompt finds its memory gone
 * (EKEYEXPIRED, EFAULT); the reason, naming the field, in *@why. Takes
 * the lease's memory read lock to encode a text prompt with a tokenizer
 * placed in the lease, no other lock.
 */
int model_ask_parse(const struct model *m, const char *buf, size_t len,
		    struct model_ask *a, const char **why);

/*
 * Admission control (model-admit.c): a request starts only if its
 * estimated run time (the moving averages of struct model_admit times
 * its prompt rows and tokens) fits both in its model lease's TTL left
 * and in its deadline. Documentation/models.md, "Admission control".
 */

/* The longest deadline_ms, load option, ctl or request: a day. */
#define MODEL_DEADLINE_MAX_MS	86400000u

/*
 * model_admit - admit a request of @rows prompt rows (an mlp: rows) and
 * up to @tokens generated tokens (an mlp: 0) with @deadline_ms (0: the
 * model's default) on @m. Returns 0 with *@deadline_ns the
 * clock_mono() ns by which it must end (0: no deadline), or -ETIME
 * (logged with both numbers) when the estimate outlasts the lease's
 * TTL left or the deadline. An unknown estimate (no request ran yet)
 * admits. Lock-free; no sleep.
 */
int model_admit(struct model *m, uint32_t deadline_ms, uint32_t rows,
		uint32_t tokens, int64_t *deadline_ns);

/*
 * model_admit_asked_ms - the deadline_ms a request of @len bytes at @buf
 * asks for, read before it is parsed (a cold model cannot encode a text
 * prompt): gl_infer_tensor's or gl_infer_ids's field, or the text
 * form's deadline_ms= among the options before the prompt. 0 when it
 * names none or it is malformed (the parse refuses it later). Pure.
 */
uint32_t model_admit_asked_ms(const char *buf, size_t len);

/* model_admit_learn - a request of @m ran whole: its @rows prompt rows
 * (an mlp: rows) took @rows_ns, its @tokens tokens after the first
 * @tokens_ns; fold them into the moving averages. Lock-free. */
void model_admit_learn(struct model *m, uint32_t rows, int64_t rows_ns,
		       uint32_t tokens, int64_t tokens_ns);

/* model_admit_refused - count a request of @m refused before it started
 * with @err by reason, if ETIME, EBUSY or EKEYEXPIRED. Lock-free. */
void model_admit_refused(struct model *m, int err);

/* model_admit_render - the model's ctl lines: deadline_ms, est_row_ns,
 * est_token_ns (language models); model_admit_stats - its stats lines
 * refused_etime, refused_ebusy, refused_expired. Lock-free. */
void model_admit_render(struct model *m, struct strbuf *sb);
void model_admit_stats(struct model *m, struct strbuf *sb);

/*
 * model_admit_ctl - a ctl line "deadline_ms N" (owner or root) or, as
 * root, the debug seeds "est_row_ns N", "est_token_ns N" (0: unknown),
 * from @uid in @argv[0..@argc). Returns -ENOTTY when the line is not
 * one of them, else 0, -EACCES or -EINVAL.
 */
int model_admit_ctl(struct model *m, uid_t uid, int argc, char *const *argv);

#endif
