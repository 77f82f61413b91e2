/* SPDX-License-Identifier: MIT */
/*
 * Launches on the CUDA device: the kernel's check, parameters marshalled
 * from the resolved arguments, cuLaunchKernel (or cuBLAS for matmul) on
 * the stream of the region the arguments point into, and a wait that
 * polls the stream so the cancel flag can end it; loading the modules
 * of kernels root registers; and recording a chain into a CUDA graph
 * that one cuGraphLaunch runs whole.
 *
 * Invariant: a launch returns only when its device work is done, a
 * cancelled one too (a kernel cannot be preempted).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/dev/cuda-dev.h"
#include "daemon/log.h"
#include "kernels/kernels.h"

/*
 * The stream of the region @args point into (the caller holds it for
 * the whole launch), or the device's own for a launch with no buffer;
 * NULL when that region died with a device fault (its range may be
 * another region's after the reset: never launch into it).
 */
static CUstream cuda_stream_of(struct cuda_dev *cd,
			       const struct gl_kargs *args)
{
	CUstream s = cd->stream;
	struct cuda_region *r;
	CUdeviceptr p = 0;
	uint32_t i;

	for (i = 0; i < args->count && !p; i++)
		if (args->v[i].type == GL_KT_BUF)
			p = (CUdeviceptr)(uintptr_t)args->v[i].buf.ptr;
	if (!p)
		return s;
	pthread_mutex_lock(&cd->lock);
	for (r = cd->regions; r; r = r->next)
		if (p >= r->mem.va && p - r->mem.va < r->mem.size) {
			s = atomic_load(&r->dead) ? NULL : r->stream;
			break;
		}
	pthread_mutex_unlock(&cd->lock);
	return s;
}

static int64_t cuda_now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/*
 * Wait for @s by polling, so a cancel is seen while the kernel @name
 * runs. A kernel cannot be preempted: on cancel the wait goes on until
 * the stream drains, then the cancel's errno is returned; if it has not
 * drained grace_ms later, only a reset can end it, so the device fails
 * (and is reset) and the wait ends with the cancel's errno. -EIO when
 * the kernel faulted or the device failed meanwhile.
 */
static int cuda_wait(struct cuda_dev *cd, CUstream s, atomic_int *cancel,
		     const char *name)
{
	int64_t cancelled = -1;
	struct cuda_poll p;
	CUresult rc;
	int c;

	cuda_poll_start(&p);
	for (;;) {
		rc = cuda.cu.StreamQuery(s);
		c = cancel ? atomic_load(cancel) : 0;
		if (rc != CUDA_ERROR_NOT_READY) {
			rc = cuda_err(rc, name);
			return rc ? rc : -c;
		}
		if (atomic_load(&cd->dev->state) != DEV_READY)
			return -EIO;
		if (c && cancelled < 0)
			cancelled = cuda_now_ms();
		if (c && cuda_now_ms() - cancelled >= cd->grace_ms) {
			cuda_dev_fail(cd, "kernel %s still ran %u ms after "
				      "its launch ended (%s)", name,
				      cd->grace_ms, gl_errno_name(c));
			return -c;
		}
		cuda_poll_pause(&p);
	}
}

static uint32_t cuda_ld(uint32_t ld, uint32_t cols)
{
	if (ld)
		return ld;
	return cols ? cols : 1;
}

/*
 * matmul through cuBLAS. Our matrices are row-major; cuBLAS's are
 * column-major, and a row-major r x c matrix is the column-major c x r
 * matrix of its transpose with the same leading dimension. So
 * C = op(A) op(B) is computed as C^T = op(B)^T op(A)^T: cuBLAS gets
 * (B, A) in that order, m and n swapped, each op as the client wrote
 * it. One handle is shared by every stream of the device (rebound under
 * blas_lock, only for the enqueue).
 *
 * The workspace is explicitly none: cublasSetStream resets it to
 * cuBLAS's default pool, which cuBLAS allocates per stream on first use,
 * device memory no lease or vram.reserved accounts for; so
 * cublasSetWorkspace(NULL, 0) follows every rebind, before the GEMM.
 * cuBLAS then picks only algorithms that need no workspace; where it has
 * none for a shape (CUBLAS_STATUS_ALLOC_FAILED) this returns 1 and the
 * caller runs the fatbin's matmul kernel instead. 0 when enqueued, 1,
 * or -EIO on any other failure.
 */
static int cuda_matmul(struct cuda_dev *cd, CUstream s,
		       const struct gl_kargs *a)
{
	uint32_t m = a->v[0].u32, n = a->v[1].u32, k = a->v[2].u32;
	uint32_t ta = a->v[3].u32, tb = a->v[4].u32, batch = a->v[5].u32;
	uint32_t lda = cuda_ld(a->v[6].u32, ta ? m : k);
	uint32_t ldb = cuda_ld(a->v[7].u32, tb ? k : n);
	uint32_t ldc = cuda_ld(a->v[8].u32, n);
	long long sa = batch > 1 ? (long long)a->v[9].u64 : 0;
	long long sb = batch > 1 ? (long long)a->v[10].u64 : 0;
	long long sc = batch > 1 ? (long long)a->v[11].u64 : 0;
	float alpha = a->v[12].f32, beta = a->v[13].f32;
	cublasStatus_t st;

	if (!batch || !m || !n)
		return 0;
	pthread_mutex_lock(&cd->blas_lock);
	st = cuda.blas.SetStream(cd->blas, s);
	if (!st)
		st = cuda.blas.SetWorkspace(cd->blas, NULL, 0);
	if (!st)
		st = cuda.blas.SgemmStridedBatched(cd->blas,
				tb ? CUBLAS_OP_T : CUBLAS_OP_N,
				ta ? CUBLAS_OP_T : CUBLAS_OP_N,
				(int)n, (int)m, (int)k, &alpha,
				a->v[15].buf.ptr, (int)ldb, sb,
				a->v[14].buf.ptr, (int)lda, sa, &beta,
				a->v[16].buf.ptr, (int)ldc, sc, (int)batch);
	pthread_mutex_unlock(&cd->blas_lock);
	if (st == CUBLAS_STATUS_ALLOC_FAILED)
		return 1;
	if (st) {
		gl_info("cuda: cublasSgemmStridedBatched: status %d", st);
		return -EIO;
	}
	return 0;
}

/* Point params[i] at each argument's value, buffers as device pointers. */
static int cuda_params(const struct gl_kargs *args, uint64_t *vals,
		       void **params)
{
	uint32_t i;

	if (args->count > GL_KPARAMS_MAX)
		return -EINVAL;
	for (i = 0; i < args->count; i++) {
		const struct gl_karg *a = &args->v[i];

		vals[i] = 0;
		switch (a->type) {
		case GL_KT_U32:
			memcpy(&vals[i], &a->u32, sizeof(a->u32));
			break;
		case GL_KT_I32:
			memcpy(&vals[i], &a->i32, sizeof(a->i32));
			break;
		case GL_KT_U64:
			vals[i] = a->u64;
			break;
		case GL_KT_F32:
			memcpy(&vals[i], &a->f32, sizeof(a->f32));
			break;
		case GL_KT_F64:
			memcpy(&vals[i], &a->f64, sizeof(a->f64));
			break;
		case GL_KT_BUF:
		case GL_KT_IO:
			vals[i] = (CUdeviceptr)(uintptr_t)a->buf.ptr;
			break;
		default:
			return -EINVAL;
		}
		params[i] = &vals[i];
	}
	return 0;
}

/* @k's function on @cd, or NULL when it has none. */
static CUfunction cuda_fn(struct cuda_dev *cd, const struct gl_kernel *k)
{
	return k->id < GL_K_COUNT ? cd->fn[k->id] :
	       k->id < REGISTRY_MAX ? cd->dyn_fn[k->id - GL_K_COUNT] : NULL;
}

int cuda_launch(struct dev *d, const struct gl_kernel *k,
		       const struct gl_kargs *args, const struct gl_grid *grid,
		       atomic_int *cancel)
{
	struct cuda_dev *cd = d->priv;
	void *params[GL_KPARAMS_MAX];
	uint64_t vals[GL_KPARAMS_MAX];
	CUfunction f;
	CUstream s;
	int err, c;


	/* the only length check on the device side: never skip it */
	err = k->check(args, grid);
	if (err)
		return err;
	c = cancel ? atomic_load(cancel) : 0;
	if (c)
		return -c;
	err = cuda_params(args, vals, params);
	if (err)
		return err;
	err = cuda_hold(cd);
	if (err)
		return err;
	s = cuda_stream_of(cd, args);
	if (!s) {
		err = -EIO;	/* its region died with a device fault */
		goto out;
	}
	if (k->id == GL_K_matmul && cd->blas &&
	    !(args->flags & GL_KARGS_ROWS_ALONE)) {
		err = cuda_matmul(cd, s, args);
		if (!err && !(args->flags & GL_KARGS_NO_WAIT))
			err = cuda_wait(cd, s, cancel, k->name);
		if (err <= 0)
			goto out;
		/* no workspace-free algorithm: the kernel, in the lease */
	}
	f = cuda_fn(cd, k);
	if (!f) {
		gl_info("cuda: %s: kernel %s is not in the fatbin", d->name,
			k->name);
		err = -EIO;
		goto out;
	}
	err = cuda_err(cuda.cu.LaunchKernel(f, grid->grid.x, grid->grid.y,
					    grid->grid.z, grid->block.x,
					    grid->block.y, grid->block.z, 0, s,
					    args->count ? params : NULL,
					    NULL), k->name);
	if (err == -ENOSPC)
		err = -EIO;	/* launch resources, not lease memory */
	if (!err && !(args->flags & GL_KARGS_NO_WAIT))
		err = cuda_wait(cd, s, cancel, k->name);
out:
	cuda_unhold(cd);
	return err;
}

int cuda_launch_wait(struct dev_region *base, atomic_int *cancel)
{
	struct cuda_region *r = (struct cuda_region *)base;
	struct cuda_dev *cd = base->dev->priv;
	int err;

	err = cuda_region_hold(r);
	if (err)
		return err;
	err = cuda_wait(cd, r->stream, cancel, "(launches queued)");
	cuda_unhold(cd);
	return err;
}

/*
 * Whether the function @f of module image for @k takes exactly the
 * parameters @k's signature names, by count and size, as the driver
 * reports them (cuFuncGetParamInfo, CUDA 12.4). 0, or -EINVAL (logged);
 * 0 where the driver cannot tell: the signature is then trusted, as root
 * registered it.
 */
static int cuda_check_params(struct dev *d, CUfunction f,
			     const struct gl_kernel *k)
{
	size_t off, size, want;
	struct gl_ksig sig;
	uint32_t i;

	if (!cuda.cu.FuncGetParamInfo)
		return 0;
	if (gl_ksig_parse(k->sig, &sig))
		return -EINVAL;
	for (i = 0; i < sig.count; i++) {
		switch (sig.param[i].type) {
		case GL_KT_U32:
		case GL_KT_I32:
		case GL_KT_F32:
			want = 4;
			break;
		default:
			want = 8;
		}
		if (cuda.cu.FuncGetParamInfo(f, i, &off, &size)) {
			gl_info("cuda: %s: kernel %s has %u parameters, its "
				"signature %u", d->name, k->name, i,
				sig.count);
			return -EINVAL;
		}
		if (size != want) {
			gl_info("cuda: %s: parameter %u of kernel %s is %zu "
				"bytes, its signature says %zu", d->name, i,
				k->name, size, want);
			return -EINVAL;
		}
	}
	if (!cuda.cu.FuncGetParamInfo(f, sig.count, &off, &size)) {
		gl_info("cuda: %s: kernel %s has more parameters than its "
			"signature's %u", d->name, k->name, sig.count);
		return -EINVAL;
	}
	return 0;
}

int cuda_load_kernel(struct dev *d, const struct gl_kernel *k,
			    const void *image, size_t len)
{
	struct cuda_dev *cd = d->priv;
	unsigned slot = (unsigned)k->id - GL_K_COUNT;
	unsigned char *copy;
	CUmodule mod;
	CUfunction f;
	int err;

	if (k->id < GL_K_COUNT || k->id >= REGISTRY_MAX || !len)
		return -EINVAL;
	if (!cd)
		return 0;	/* unusable device: nothing runs there */
	/* NUL-terminated for PTX */
	copy = malloc(len + 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, image, len);
	copy[len] = '\0';
	err = cuda_hold(cd);
	if (err)
		goto out;
	/* a cubin, a fatbin, or NUL-terminated PTX: the driver tells */
	err = cuda_err(cuda.cu.ModuleLoadData(&mod, copy),
		       "cuModuleLoadData");
	if (err) {
		err = err == -ENOSPC ? -EIO : -EINVAL;
		goto out_unhold;
	}
	if (cuda.cu.ModuleGetFunction(&f, mod, k->name)) {
		gl_info("cuda: %s: no kernel %s in the module", d->name,
			k->name);
		cuda.cu.ModuleUnload(mod);
		err = -EINVAL;
		goto out_unhold;
	}
	err = cuda_check_params(d, f, k);
	if (err) {
		cuda.cu.ModuleUnload(mod);
		goto out_unhold;
	}
	/* a slot left by an add that failed on another device */
	if (cd->dyn_mod[slot])
		cuda.cu.ModuleUnload(cd->dyn_mod[slot]);
	cd->dyn_mod[slot] = mod;
	cd->dyn_fn[slot] = f;
out_unhold:
	cuda_unhold(cd);
out:
	free(copy);
	return err;
}

/* A chain recorded once (cuStreamBeginCapture ... cuGraphInstantiate),
 * run whole by cuGraphLaunch on the stream of its lease's region. */
struct cuda_graph {
	CUgraphExec exec;
	CUstream s;
};

static bool cuda_has_graphs(void)
{
	return cuda.cu.StreamBeginCapture && cuda.cu.StreamEndCapture &&
	       cuda.cu.GraphInstantiateWithFlags && cuda.cu.GraphLaunch &&
	       cuda.cu.GraphExecDestroy && cuda.cu.GraphDestroy;
}

/* Whether every step can be recorded; 0, -EOPNOTSUPP or a check's. */
static int cuda_graph_allows(struct cuda_dev *cd,
			     const struct dev_step *steps, unsigned n)
{
	unsigned i, a;
	int err;

	if (!cuda_has_graphs())
		return -EOPNOTSUPP;
	for (i = 0; i < n; i++) {
		const struct gl_kernel *k = steps[i].k;

		/* cuBLAS picks its algorithm per call: replayed */
		if ((k->id == GL_K_matmul && cd->blas) || !cuda_fn(cd, k))
			return -EOPNOTSUPP;
		for (a = 0; a < steps[i].args->count; a++)
			if (steps[i].args->v[a].type == GL_KT_IO)
				return -EOPNOTSUPP;
		err = k->check(steps[i].args, steps[i].grid);
		if (err)
			return err;
	}
	return 0;
}

/* Capture the steps on @s into @g->exec. Device held. */
static int cuda_graph_record(const struct dev_step *steps, unsigned n,
			     struct cuda_dev *cd, struct cuda_graph *g)
{
	void *params[GL_KPARAMS_MAX];
	uint64_t vals[GL_KPARAMS_MAX];
	CUgraph graph = NULL;
	unsigned i;
	int err, end;

	err = cuda_err(cuda.cu.StreamBeginCapture(g->s,
				CU_STREAM_CAPTURE_MODE_THREAD_LOCAL), "chain");
	if (err)
		return err;
	for (i = 0; i < n && !err; i++) {
		const struct dev_step *st = &steps[i];

		err = cuda_params(st->args, vals, params);
		if (!err)
			err = cuda_err(cuda.cu.LaunchKernel(cuda_fn(cd, st->k),
					st->grid->grid.x, st->grid->grid.y,
					st->grid->grid.z, st->grid->block.x,
					st->grid->block.y, st->grid->block.z,
					0, g->s, st->args->count ? params : NULL,
					NULL), st->k->name);
	}
	/* always end the capture: the stream must not stay capturing */
	end = cuda_err(cuda.cu.StreamEndCapture(g->s, &graph), "chain");
	err = err ? err : end;
	if (!err)
		err = cuda_err(cuda.cu.GraphInstantiateWithFlags(&g->exec,
								 graph, 0),
			       "chain");
	if (graph)
		cuda.cu.GraphDestroy(graph);
	return err;
}

int cuda_graph_build(struct dev *d, const struct dev_step *steps,
		     unsigned n, void **out)
{
	struct cuda_dev *cd = d->priv;
	struct cuda_graph *g;
	CUstream s;
	unsigned i;
	int err;

	err = cuda_hold(cd);
	if (err)
		return err;
	err = cuda_graph_allows(cd, steps, n);
	if (err)
		goto out;
	g = calloc(1, sizeof(*g));
	if (!g) {
		err = -ENOMEM;
		goto out;
	}
	/* one lease, one region: the stream of whichever step has a buf */
	g->s = cd->stream;
	for (i = 0; i < n && g->s; i++)
		if ((s = cuda_stream_of(cd, steps[i].args)) != cd->stream)
			g->s = s;
	err = g->s ? cuda_graph_record(steps, n, cd, g) : -EIO;
	if (err)
		free(g);
	else
		*out = g;
out:
	cuda_unhold(cd);
	return err;
}

int cuda_graph_launch(struct dev *d, void *graph, atomic_int *cancel)
{
	struct cuda_dev *cd = d->priv;
	struct cuda_graph *g = graph;
	int err, c;

	c = cancel ? atomic_load(cancel) : 0;
	if (c)
		return -c;
	err = cuda_hold(cd);
	if (err)
		return err;
	err = cuda_err(cuda.cu.GraphLaunch(g->exec, g->s), "chain");
	if (!err)
		err = cuda_wait(cd, g->s, cancel, "chain");
	cuda_unhold(cd);
	return err;
}

void cuda_graph_free(struct dev *d, void *graph)
{
	struct cuda_dev *cd = d->priv;
	struct cuda_graph *g = graph;

	if (!g)
		return;
	/* not cuda_hold(): a failed device frees too (errors ignored) */
	if (cd) {
		pthread_rwlock_rdlock(&cd->gate);
		cuda_enter(cd);
		cuda.cu.GraphExecDestroy(g->exec);
		pthread_rwlock_unlock(&cd->gate);
	}
	free(g);
}
