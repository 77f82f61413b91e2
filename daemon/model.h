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

/* model_find - the warm or expired model @name, with a reference, or
 * NULL. */
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

/* @m's counters as the metrics show them, read lock-free (each atomic on
 * its own: a snapshot need not add up to the instant). */
struct model_meter {
	uint64_t requests;		/* received, refused ones included */
	uint64_t tokens;		/* generated */
	uint64_t bytes_in;		/* request bytes written */
	uint64_t bytes_out;		/* answer bytes read */
	uint64_t fail[MODEL_FAIL_REASONS];	/* refused or failed */
	const struct hist *latency;	/* @m's, lives with @m */
};

/* model_meter_read - fill @out from @m (with a reference). Lock-free. */
void model_meter_read(struct model *m, struct model_meter *out);

/* model_set_bytes - every model's request bytes in and answer bytes out
 * since the start, unloaded models included. Lock-free. */
void model_set_bytes(struct model_set *s, uint64_t *in, uint64_t *out);

/* model_lease_model - the model whose lease @l is ("NAME" of
 * model.NAME), or NULL for a lease no model acquired. Fixed for @l's
 * life: no lock, no reference. */
const char *model_lease_model(const struct lease *l);

/* model_check - 0 while warm, -EKEYEXPIRED once its lease expired,
 * -ENOENT once unloaded. Lock-free. */
int model_check(struct model *m);

/* model_render_ctl, model_render_stats - the text of models/NAME/ctl
 * and stats. 0 or -ENOMEM. */
int model_render_ctl(struct model *m, struct strbuf *sb);
int model_render_stats(struct model *m, struct strbuf *sb);

/* model_write_ctl - "unload", or "io SIZE" (the lease's io region,
 * lease_set_io()), from @uid: 0, -EACCES, -EINVAL, -ENOENT, or
 * lease_set_io()'s -errno. Sleeps. */
int model_write_ctl(struct model *m, uid_t uid, const char *buf,
		    size_t len);

/*
 * model_req_start - parse one request on @m (a language model's text
 * form or gl_infer_ids; an mlp's gl_infer_tensor, uapi/model.h) and
 * start it. Returns 0 with *@out (put with model_req_put), or -EINVAL
 * (malformed), -EFBIG (a request over 64 KiB, a prompt over the
 * context, max_tokens over max_ctx, rows over max_batch), -EBUSY (every
 * KV slot taken), -EOPNOTSUPP (text prompt without an encoder, the
 * other kind of model's binary form), -EKEYEXPIRED, -ENOENT, -ENOMEM.
 * Counts the request and its bytes in @m's meter, a refusal in its
 * failures; a started one's latency and failure are counted when it
 * ends. Lock-free on the counters.
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

/* model_io_path - the model's request ring (its lease's io file) into
 * @buf: 0, -ENOENT (none, or the model is not warm). */
int model_io_path(struct model *m, char *buf, size_t size);


/* What follows is the service's own (model*.c); others use the calls. */
#include <stdatomic.h>

#include "daemon/model/llama.h"
#include "daemon/model/mlp.h"
#include "daemon/model/sample.h"
#include "daemon/model/tokenizer.h"

#define MODEL_MAX_BATCH	64	/* KV slots: one bit each in slots */

enum model_state {
	MODEL_LOADING,		/* name taken, not listed yet */
	MODEL_WARM,
	MODEL_EXPIRED,		/* its lease expired: requests fail */
	MODEL_UNLOADED,		/* out of the set */
};

struct kernel_entry;

struct model {
	struct cds_list_head link;	/* set->models; set->lock */
	_Atomic long refs;
	struct model_set *set;		/* fixed */
	uint64_t id;			/* fixed, never reused */
	char name[GL_NAME_MAX + 1];	/* fixed */
	uid_t owner;			/* fixed */
	gid_t group;			/* fixed */
	struct lease *lease;		/* reference; fixed once warm */
	_Atomic int state;		/* enum model_state */
	const char *arch;		/* "llama2c", "hf-llama", "mlp";
					 * fixed */
	bool mlp;			/* a gpulease-mlp: mplan, not plan */
	struct llama_plan plan;		/* fixed once warm */
	struct mlp_plan mplan;		/* fixed once warm */
	uint64_t scratch;		/* sampling scratch's offset */
	uint64_t need;			/* bytes the plan uses */
	struct team *team;		/* threads=, or NULL for 1; fixed
					 * once warm */
	const struct kernel_entry *ke;	/* named by its step launches */
	struct tokenizer tok;		/* may be empty; placed in the lease
					 * (its tables there), fixed once warm */
	pthread_mutex_t lock;		/* guards slots */
	uint64_t slots;			/* KV slots in use, a bit each */
	_Atomic uint64_t requests;	/* received, refused ones too */
	_Atomic uint64_t failures;	/* refused or ended with an error */
	_Atomic uint64_t tokens;	/* generated */
	_Atomic uint32_t running;	/* requests not ended */
	_Atomic uint64_t fail[MODEL_FAIL_REASONS]; /* failures by reason */
	_Atomic uint64_t bytes_in;	/* request bytes written to infer */
	_Atomic uint64_t bytes_out;	/* answer bytes read from infer */
	struct hist latency;	/* started requests, start to end */
	struct gl_last_error last_error;
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

/* model-load.c: open and parse a model's files as @c into @m, acquire
 * its lease and copy the weights in. 0 or -errno, nothing left on
 * failure (the reason in @why). */
struct model_opts {
	const char *path;
	const char *tokenizer;		/* or NULL */
	uint64_t vram;			/* floor, 0: none */
	uint32_t ttl;			/* 0: the default */
	uint32_t device;
	uint32_t max_batch;		/* 0: 1 */
	uint32_t max_ctx;		/* 0: the model's */
	uint32_t threads;		/* 0: 1 */
};
int model_load_files(struct model *m, const struct model_cred *c,
		     const struct model_opts *o, char *why, size_t whylen);

/* How a language model's answer is written. */
enum model_out {
	MODEL_OUT_TEXT,			/* decoded by its tokenizer */
	MODEL_OUT_IDS,			/* " ID" per token */
	MODEL_OUT_U32,			/* the binary form: u32 per token */
};

/* A language model's request, parsed (model-ask.c). */
struct model_ask {
	uint32_t *ids;			/* the prompt, malloc'ed */
	uint32_t n_ids;			/* 1 .. max_ctx - 1 */
	uint32_t max_tokens;		/* 1 .. the positions left */
	struct sample_params sp;
	uint64_t seed;
	enum model_out out;
	bool stop;			/* BOS or EOS ends it, unwritten */
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

#endif
