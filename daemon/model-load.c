// SPDX-License-Identifier: MIT
/*
 * Loading a model: open its files with the loading user's credentials,
 * map the weights' files (read the small ones), parse them with the pure
 * parsers of daemon/model/, acquire the lease model.NAME sized from the
 * plan (weights, activations, KV cache, sampling scratch, then the
 * tokenizer's tables), build the tokenizer in it and copy the weights
 * in: nothing of the model stays on the heap but struct model itself.
 * The owner may truncate a mapped file meanwhile: daemon/mapguard.c
 * turns the SIGBUS into zeros and a flag, and the load fails with
 * EINVAL ("... changed while loading").
 * Invariant: all or nothing. On any failure the files are closed, the
 * buffers freed or unmapped and the lease, if acquired, dropped before returning,
 * and the reason names fields and numbers, never bytes of a file.
 * A loaded model keeps its files open and mapped, and their parse, in
 * m->src until its last put: a reload (model_lease_fill, a burst model's
 * cold start) copies the weights again from the same pages, after
 * checking the files are still those it loaded (EIO otherwise).
 * The credentials change only the calling thread's filesystem ids and
 * groups (setfsuid, setfsgid, the raw setgroups system call), and every
 * path out of model_open_as() restores them.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "daemon/dev/dev.h"
#include "daemon/knobs.h"
#include "daemon/lease.h"
#include "daemon/mapguard.h"
#include "daemon/model.h"
#include "daemon/model/hfconfig.h"
#include "daemon/model/llama2c.h"
#include "daemon/model/safetensors.h"
#include "daemon/model/sample.h"
#include "daemon/model/team.h"
#include "daemon/model/why.h"

#define MODEL_FILE_MAX	(UINT64_C(1) << 40)	/* bytes of one file */
#define MODEL_GROUPS_MAX 256

enum { F_MAIN, F_CONFIG, F_TENSORS, F_TOKENIZER, F_NR };

struct model_files {
	int fd[F_NR];			/* -1: none */
	bool hf;			/* PATH is a directory */
	void *buf[F_NR];		/* mapped[]: the file's mapping;
					 * else malloc'd */
	size_t len[F_NR];
	bool mapped[F_NR];
	struct mapguard guard[F_NR];	/* mapped[]: its SIGBUS guard */
	struct stat st[F_NR];		/* as first read */
};

/* What a reload needs, kept from the load: files and their parse. */
struct model_src {
	struct model_files f;
	struct l2c_file l2c;
	struct st_file st;
	struct hf_llama_map map;
	struct hf_mlp_map mmap;
};

/* Switch this thread's filesystem identity to @c; *@saved keeps ours.
 * 0 or -EACCES when the switch did not take. */
struct model_ids {
	uid_t fsuid;
	gid_t fsgid;
	gid_t groups[MODEL_GROUPS_MAX];
	int ngroups;
};

static int ids_enter(const struct model_cred *c, struct model_ids *s)
{
	int n = c->groups ? c->ngroups : 0;
	gid_t one = c->gid;

	s->ngroups = getgroups(MODEL_GROUPS_MAX, s->groups);
	if (s->ngroups < 0)
		return -errno;
	s->fsuid = (uid_t)setfsuid((uid_t)-1);
	s->fsgid = (gid_t)setfsgid((gid_t)-1);
	if (n > MODEL_GROUPS_MAX)
		n = MODEL_GROUPS_MAX;
	/* the raw call: glibc's setgroups() changes every thread */
	if (syscall(SYS_setgroups, n ? n : 1, n ? c->groups : &one) &&
	    c->uid != s->fsuid)
		return -EACCES;
	setfsgid(c->gid);
	setfsuid(c->uid);
	if ((uid_t)setfsuid((uid_t)-1) != c->uid ||
	    (gid_t)setfsgid((gid_t)-1) != c->gid)
		return -EACCES;
	return 0;
}

static void ids_leave(const struct model_ids *s)
{
	setfsuid(s->fsuid);
	setfsgid(s->fsgid);
	syscall(SYS_setgroups, s->ngroups, s->groups);
}

static int open_at(int dir, const char *path, int *fd)
{
	*fd = openat(dir, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	return *fd < 0 ? -errno : 0;
}

/* Every file of the model opened as @c: PATH (a checkpoint, or a
 * directory with config.json and model.safetensors), and tokenizer=, or
 * else the directory's tokenizer.json if it has one. */
static int model_open_as(const struct model_cred *c,
			 const struct model_opts *o, struct model_files *f,
			 char *why, size_t whylen)
{
	struct model_ids saved;
	struct stat st;
	int err;

	err = ids_enter(c, &saved);
	if (err) {
		ids_leave(&saved);
		return model_why(why, whylen, err, "cannot take the "
				 "caller's credentials");
	}
	err = open_at(AT_FDCWD, o->path, &f->fd[F_MAIN]);
	if (err) {
		model_why(why, whylen, err, "cannot open PATH");
		goto out;
	}
	if (fstat(f->fd[F_MAIN], &st)) {
		err = model_why(why, whylen, -errno, "cannot stat PATH");
		goto out;
	}
	f->hf = S_ISDIR(st.st_mode);
	if (f->hf) {
		err = open_at(f->fd[F_MAIN], "config.json", &f->fd[F_CONFIG]);
		if (err) {
			model_why(why, whylen, err, "cannot open config.json");
			goto out;
		}
		err = open_at(f->fd[F_MAIN], "model.safetensors",
			      &f->fd[F_TENSORS]);
		if (err) {
			model_why(why, whylen, err,
				  "cannot open model.safetensors");
			goto out;
		}
	}
	if (o->tokenizer) {
		err = open_at(AT_FDCWD, o->tokenizer, &f->fd[F_TOKENIZER]);
		if (err)
			model_why(why, whylen, err, "cannot open tokenizer");
	} else if (f->hf) {
		err = open_at(f->fd[F_MAIN], "tokenizer.json",
			      &f->fd[F_TOKENIZER]);
		if (err == -ENOENT)
			err = 0;	/* none: prompts as ids only */
		else if (err)
			model_why(why, whylen, err,
				  "cannot open tokenizer.json");
	}
out:
	ids_leave(&saved);
	return err;
}

/* The @size bytes of @fd into a fresh buffer: 0, -ENOMEM, -EIO (it
 * shrank under us) or read's -errno. */
static int slurp_fd(int fd, size_t size, void **buf, size_t *len)
{
	size_t got = 0;
	ssize_t n;
	char *p;

	p = malloc(size ? size : 1);
	if (!p)
		return -ENOMEM;
	while (got < size) {
		n = pread(fd, p + got, size - got, (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(p);
			return n < 0 ? -errno : -EIO;
		}
		got += (size_t)n;
	}
	*buf = p;
	*len = got;
	return 0;
}

/* File @i of @size bytes mapped private and read-only, so its pages come
 * from the page cache and nothing is copied twice; guarded, since its
 * owner may truncate it under us. 0, -ENOMEM or sigaction's -errno. */
static int map_fd(struct model_files *f, int i, size_t size)
{
	void *p;
	int err;

	p = mmap(NULL, size, PROT_READ, MAP_PRIVATE, f->fd[i], 0);
	if (p == MAP_FAILED)
		return -ENOMEM;
	f->guard[i].addr = p;
	f->guard[i].len = size;
	f->guard[i].on_fault = NULL;
	err = mapguard_add(&f->guard[i]);
	if (err) {
		munmap(p, size);
		return err;
	}
	f->mapped[i] = true;
	f->buf[i] = p;
	f->len[i] = size;
	return 0;
}

/* The weights are in the lease: the mappings stay (a cold start copies
 * from them again) but their pages leave the daemon's page tables, so
 * a kept model costs no resident memory beyond its lease; they stay in
 * the page cache, which a cold start faults them back from. */
static void files_unmap_pages(struct model_files *f)
{
	int i;

	for (i = 0; i < F_NR; i++)
		if (f->mapped[i])
			madvise(f->buf[i], f->len[i], MADV_DONTNEED);
}

static void files_close(struct model_files *f)
{
	int i;

	for (i = 0; i < F_NR; i++) {
		if (f->fd[i] >= 0)
			close(f->fd[i]);
		if (f->mapped[i]) {
			mapguard_del(&f->guard[i]);
			munmap(f->buf[i], f->len[i]);
		} else {
			free(f->buf[i]);
		}
	}
}

static const char *const file_what[F_NR] = {
	"PATH", "config.json", "model.safetensors", "tokenizer",
};

/* Every file's bytes: the weights' files (PATH's checkpoint,
 * model.safetensors) mapped, the small ones read. 0, -EINVAL (not a
 * regular file), -EFBIG, -ENOMEM, -EIO, with the reason in @why. */
static int files_read(struct model_files *f, char *why, size_t whylen)
{
	int i, err;

	for (i = 0; i < F_NR; i++) {
		if (f->fd[i] < 0 || (i == F_MAIN && f->hf))
			continue;
		err = fstat(f->fd[i], &f->st[i]) ? -errno : 0;
		if (!err && !S_ISREG(f->st[i].st_mode))
			err = -EINVAL;
		if (!err && (uint64_t)f->st[i].st_size > MODEL_FILE_MAX)
			err = -EFBIG;
		/* mapped, not read, but config.json: the kept files of a
		 * loaded model stay in the page cache, not on the heap */
		if (!err && f->st[i].st_size && i != F_CONFIG)
			err = map_fd(f, i, (size_t)f->st[i].st_size);
		else if (!err)
			err = slurp_fd(f->fd[i], (size_t)f->st[i].st_size,
				       &f->buf[i], &f->len[i]);
		if (err)
			return model_why(why, whylen, err, "cannot read %s",
					 file_what[i]);
	}
	return 0;
}

/* Did a mapped file change while we read it, or since (@since: a
 * reload; truncated: its guard was hit; rewritten: its size or mtime
 * moved; removed)? 0, or -EINVAL (the load) or -EIO (a reload) with
 * why. */
static int files_changed(struct model_files *f, bool since, char *why,
			 size_t whylen)
{
	struct stat st;
	int i;

	for (i = 0; i < F_NR; i++) {
		if (!f->mapped[i])
			continue;
		memset(&st, 0, sizeof(st));
		if (fstat(f->fd[i], &st))
			st.st_size = -1;
		if (since && !st.st_nlink)
			return model_why(why, whylen, -EIO, "%s was removed "
					 "since the load", file_what[i]);
		if (atomic_load(&f->guard[i].hit) ||
		    st.st_size != f->st[i].st_size ||
		    st.st_mtim.tv_sec != f->st[i].st_mtim.tv_sec ||
		    st.st_mtim.tv_nsec != f->st[i].st_mtim.tv_nsec)
			return since ? model_why(why, whylen, -EIO, "%s "
						 "changed since the load "
						 "(%lld bytes, now %lld)",
						 file_what[i],
						 (long long)f->st[i].st_size,
						 (long long)st.st_size) :
				       model_why(why, whylen, -EINVAL, "%s "
						 "changed while loading",
						 file_what[i]);
	}
	return 0;
}

/* The debug knob model_load_hold: while 1, a load waits here, its files
 * mapped and its lease acquired, so tests can change a file under it. */
static void model_load_hold(const struct model *m)
{
	while (atomic_load(&m->set->pol->model_load_hold))
		usleep(1000);
}

/* The computation's config from the files; @l2c or @st/@map filled. */
static int model_parse(struct model *m, struct model_files *f,
		       struct l2c_file *l2c, struct st_file *st,
		       struct hf_llama_map *map, struct hf_mlp_map *mmap,
		       struct llama_config *lc, char *why, size_t whylen)
{
	struct hf_config hc;
	int err;

	if (!f->hf) {
		err = l2c_parse(f->buf[F_MAIN], f->len[F_MAIN], l2c, why,
				whylen);
		if (err)
			return err;
		llama_config_l2c(&l2c->cfg, lc);
		m->arch = "llama2c";
		return 0;
	}
	err = hf_config_parse(f->buf[F_CONFIG], f->len[F_CONFIG], &hc, why,
			      whylen);
	if (err)
		return err;
	err = st_parse(f->buf[F_TENSORS], f->len[F_TENSORS], st, why,
		       whylen);
	if (err)
		return err;
	if (hc.arch == HF_MLP) {
		m->mlp = true;
		m->arch = "mlp";
		m->mplan.cfg = hc.mlp;	/* planned by the caller */
		return hf_mlp_map(&hc.mlp, st, mmap, why, whylen);
	}
	err = hf_llama_map(&hc.llama, st, map, why, whylen);
	if (err)
		return err;
	llama_config_hf(&hc.llama, lc);
	m->arch = "hf-llama";
	return 0;
}

/* An mlp's weights into lease @l (its block at @base): in place on the
 * CPU; on another device (m->stage set) converted on the host first, then
 * copied in. 0, -EINVAL (the file's), -ENOMEM or the copy's. */
static int mlp_fill(struct model *m, struct lease *l,
		    const struct hf_mlp_map *mmap, struct model_files *f,
		    void *base)
{
	const struct mlp_plan *p = &m->mplan;
	void *host;
	int err;

	if (!m->stage)
		return mlp_load(p, mmap, f->buf[F_TENSORS], f->len[F_TENSORS],
				base);
	host = calloc(1, p->weight_bytes);	/* no heap bytes in gaps */
	if (!host)
		return -ENOMEM;
	err = mlp_load(p, mmap, f->buf[F_TENSORS], f->len[F_TENSORS], host);
	if (!err)
		err = l->dev->ops->copy_in(l->region, 0, host,
					   p->weight_bytes);
	free(host);
	return err;
}

/*
 * model_host_map - a language model's host mapping (m->host) of m->need
 * bytes: reserved, not backed, until a part of it is touched. 0 or
 * -ENOMEM with the reason in @why.
 */
static int model_host_map(struct model *m, char *why, size_t whylen)
{
	void *p = mmap(NULL, m->need, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED)
		return model_why(why, whylen, -ENOMEM, "no host mapping of "
				 "%llu bytes", (unsigned long long)m->need);
	m->host = p;
	return 0;
}

/* A language model's weights into lease @l at @base: in place on the
 * CPU; on another device (m->host set) converted in the host mapping,
 * copied in, and dropped from it. 0, -EINVAL (the file's) or the
 * copy's. */
static int llama_fill(struct model *m, struct lease *l, struct model_files *f,
		      const struct l2c_file *l2c,
		      const struct hf_llama_map *map, void *base)
{
	void *to = model_host_base(m, base);
	int err;

	err = f->hf ? llama_load_hf(&m->plan, map, f->buf[F_TENSORS],
				    f->len[F_TENSORS], to) :
		      llama_load_l2c(&m->plan, l2c, f->buf[F_MAIN],
				     f->len[F_MAIN], to);
	if (err || !m->host)
		return err;
	err = l->dev->ops->copy_in(l->region, 0, m->host,
				   m->plan.weight_bytes);
	madvise(m->host, m->plan.weight_bytes, MADV_DONTNEED);
	return err;
}

/* Build the tokenizer at its offset (from @tp at the load, again from
 * its kept file at a reload: @tp NULL) and copy the weights into the new
 * lease @l. A language model on another device keeps its tokenizer in
 * its host mapping. */
static int model_fill(struct model *m, struct lease *l,
		      struct model_files *f, const struct l2c_file *l2c,
		      const struct hf_llama_map *map,
		      const struct hf_mlp_map *mmap,
		      const struct tokenizer_prep *tp, uint64_t tok_off,
		      char *why, size_t whylen)
{
	struct tokenizer tk = { 0 };
	bool tok_failed = false;
	void *base = NULL;
	char *host;
	int err;

	pthread_rwlock_rdlock(&l->mem_lock);
	err = lease_state_err(l);
	if (!err && atomic_load(&l->vram) < m->need)
		err = -EFAULT;
	if (!err)
		err = l->dev->ops->resolve(l->region, 0, m->need, &base);
	host = model_host_base(m, base);
	if (!err && tp && tp->kind != TOKENIZER_NONE) {
		err = tokenizer_build(&m->tok, tp, host + tok_off,
				      tok_off, why, whylen);
		tok_failed = err;
	} else if (!err && !tp && m->tok.bytes) {
		/* the same file, checked unchanged: the same image */
		err = tokenizer_load_at(&tk, f->buf[F_TOKENIZER],
					f->len[F_TOKENIZER],
					m->plan.cfg.vocab_size, host,
					m->tok.off, m->need - m->tok.off,
					why, whylen);
		tok_failed = err;
		if (!err)
			m->tok = tk;
	}
	if (!err && m->mlp)
		err = mlp_fill(m, l, mmap, f, base);
	else if (!err)
		err = llama_fill(m, l, f, l2c, map, base);
	pthread_rwlock_unlock(&l->mem_lock);
	if (tok_failed)
		return err;	/* the tokenizer's reason */
	return err ? model_why(why, whylen, err, "copying the weights "
			       "into the lease failed") : 0;
}

/* threads=: the model's team, when above 1. 0 or -errno (said why). */
static int model_team(struct model *m, const struct model_opts *o,
		      char *why, size_t whylen)
{
	int err;

	if (o->threads <= 1)
		return 0;
	err = team_new(o->threads, &m->team);
	return err ? model_why(why, whylen, err, "no %u threads",
			       o->threads) : 0;
}

/* The mlp's plan: max_batch rows per pass, no context, no tokenizer;
 * on a device other than the CPU, the host rows its outputs come to. */
static int model_plan_mlp(struct model *m, const struct model_opts *o,
			  struct dev *d, char *why, size_t whylen)
{
	struct hf_mlp_config c = m->mplan.cfg;
	int err;

	if (o->tokenizer || o->max_ctx)
		return model_why(why, whylen, -EINVAL, "an mlp takes no "
				 "tokenizer= or max_ctx=");
	err = mlp_plan(&c, o->max_batch ? o->max_batch : 1, &m->mplan);
	if (err)
		return model_why(why, whylen, err, "no plan for max_batch "
				 "%u", o->max_batch);
	m->need = m->mplan.total_bytes;
	if (!strcmp(d->ops->kind, GL_KIND_CPU))
		return 0;
	m->stage = calloc((size_t)m->mplan.max_batch *
			  c.layer[c.n_layers - 1].out, sizeof(float));
	if (!m->stage)
		return model_why(why, whylen, -ENOMEM, "no memory");
	return 0;
}

extern const struct lease_ops model_lease_ops;

void model_src_free(struct model *m)
{
	struct model_src *src = m->src;

	free(m->stage);
	m->stage = NULL;
	if (m->host)
		munmap(m->host, m->need);
	m->host = NULL;
	if (!src)
		return;
	hf_llama_map_free(&src->map);
	st_free(&src->st);
	files_close(&src->f);
	free(src);
	m->src = NULL;
}

/* model_lease_fill's, and the load's with its tokenizer's prep @tp to be
 * built at @tok_off (a reload: NULL, built again from its file). */
static int lease_fill(struct model *m, struct lease **out,
		      const struct tokenizer_prep *tp, uint64_t tok_off,
		      char *why, size_t whylen)
{
	struct model_src *src = m->src;
	char lname[GL_NAME_MAX + 8];
	struct lease_req req;
	struct lease *l;
	int err;

	/* a cold start copies from what the load checked, or not at all */
	if (atomic_load(&m->state) != MODEL_LOADING) {
		err = files_changed(&src->f, true, why, whylen);
		if (err)
			return err;
	}
	snprintf(lname, sizeof(lname), "model.%s", m->name);
	memset(&req, 0, sizeof(req));
	req.name = lname;
	req.uid = m->lease_uid;
	req.gid = m->lease_gid;
	req.vram = m->vram_floor > m->need ? m->vram_floor : m->need;
	req.ttl = m->ttl ? m->ttl :
		atomic_load(&m->set->lt->pol->default_ttl);
	req.dev = m->device;
	req.ops = &model_lease_ops;
	req.ops_ctx = m->set;	/* not m: see model_of_lease() */
	err = lease_acquire(m->set->lt, &req, &l);
	if (err)
		return model_why(why, whylen, err, "lease %s of %llu bytes "
				 "refused", lname,
				 (unsigned long long)req.vram);
	model_load_hold(m);
	err = model_fill(m, l, &src->f, &src->l2c, &src->map, &src->mmap,
			 tp, tok_off, why, whylen);
	/* weights copied from a changed file are not the model's */
	err = files_changed(&src->f, atomic_load(&m->state) !=
			    MODEL_LOADING, why, whylen) ?: err;
	if (err) {
		lease_drop(l, 0, false);
		lease_put(l);
		return err;
	}
	files_unmap_pages(&src->f);
	*out = l;
	return 0;
}

int model_lease_fill(struct model *m, struct lease **out, char *why,
		     size_t whylen)
{
	return lease_fill(m, out, NULL, 0, why, whylen);
}

int model_load_files(struct model *m, const struct model_cred *c,
		     const struct model_opts *o, char *why, size_t whylen)
{
	struct tokenizer_prep tp = { 0 };
	uint64_t tok_off = 0;
	struct model_src *src;
	struct model_files *f;
	struct llama_config lc;
	struct dev *d;
	uint32_t ctx;
	bool on_cpu;
	int err;

	d = dev_set_get(m->set->lt->devs, o->device);
	if (!d)
		return model_why(why, whylen, -ENOENT, "no device %u",
				 o->device);
	src = calloc(1, sizeof(*src));
	if (!src)
		return model_why(why, whylen, -ENOMEM, "no memory");
	f = &src->f;
	for (int i = 0; i < F_NR; i++)
		f->fd[i] = -1;
	m->src = src;
	m->vram_floor = o->vram;
	m->ttl = o->ttl;
	m->device = o->device;
	m->lease_uid = c->uid;
	m->lease_gid = c->gid;
	err = model_open_as(c, o, f, why, whylen);
	if (!err)
		err = files_read(f, why, whylen);
	if (!err) {
		err = model_parse(m, f, &src->l2c, &src->st, &src->map,
				  &src->mmap, &lc, why, whylen);
		/* a parser that read zeros says less than this */
		if (err && files_changed(f, false, why, whylen))
			err = -EINVAL;
	}
	if (err)
		goto out;
	on_cpu = !strcmp(d->ops->kind, GL_KIND_CPU);
	if (!on_cpu && o->threads > 1) {
		err = model_why(why, whylen, -EINVAL, "threads= is the CPU "
				"device's: device %u is %s", o->device,
				d->ops->kind);
		goto out;
	}
	if (m->mlp) {
		err = model_plan_mlp(m, o, d, why, whylen);
		if (!err)
			err = model_team(m, o, why, whylen);
		if (err)
			goto out;
		goto acquire;
	}
	if (o->max_delay_us) {
		err = model_why(why, whylen, -EINVAL, "max_delay_us= is an "
				"mlp's: a language model batches between "
				"steps");
		goto out;
	}
	if (f->fd[F_TOKENIZER] >= 0) {
		err = tokenizer_prepare(&tp, f->buf[F_TOKENIZER],
					f->len[F_TOKENIZER], lc.vocab_size,
					why, whylen);
		if (err)
			goto out;
	}
	ctx = o->max_ctx ? o->max_ctx : lc.seq_len;
	err = llama_plan(&lc, o->max_batch ? o->max_batch : 1, ctx,
			 &m->plan);
	if (err) {
		model_why(why, whylen, err, "no plan for max_batch %u "
			  "max_ctx %u (the model knows %u positions)",
			  o->max_batch, ctx, lc.seq_len);
		goto out;
	}
	err = model_team(m, o, why, whylen);
	if (err)
		goto out;
	m->scratch = m->plan.total_bytes;
	m->need = m->scratch + ((sample_scratch_bytes(lc.vocab_size) +
				 LLAMA_ALIGN - 1) & ~(uint64_t)(LLAMA_ALIGN - 1));
	/* then the tokenizer's tables, built in place (tokenizer.h) */
	tok_off = m->need;
	m->need += (tp.bytes + LLAMA_ALIGN - 1) & ~(uint64_t)(LLAMA_ALIGN - 1);
	if (!on_cpu) {
		err = model_host_map(m, why, whylen);
		if (err)
			goto out;
	}
acquire:
	err = lease_fill(m, &m->lease, &tp, tok_off, why, whylen);
out:
	if (err) {
		tokenizer_free(&m->tok);
		team_free(m->team);
		m->team = NULL;
		model_src_free(m);
	}
	tokenizer_prep_free(&tp);
	return err;
}
