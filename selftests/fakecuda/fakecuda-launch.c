/* SPDX-License-Identifier: MIT */
/*
 * The fake driver's streams, modules, launches and graphs (a stream
 * captures launches that cuGraphLaunch replays, each node counting as a
 * launch): kernels cannot run,
 * so cuLaunchKernel records the launch (parameters decoded by
 * GL_KERNELS()'s signatures, or a FAKEMOD image's) and succeeds; a
 * misaligned buffer or a fault_* function poisons the context; streams
 * report busy while the test holds them. See fakecuda.c.
 *
 * Invariant: st.streams and st.modules count what is live; st.last is
 * the last launch, written under lock.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "selftests/fakecuda/fakecuda-int.h"

/* A recorded launch: what cuLaunchKernel decoded, and which parameters
 * are pointers (a misaligned one faults when it runs). */
struct fake_node {
	struct fakecuda_launch l;
	bool ptr[FAKECUDA_PARAMS_MAX];
};

#define FAKE_GRAPH_MAX	512	/* nodes of one graph */

/* A graph, and an executable (a copy of one). */
struct fake_graph {
	unsigned int n;
	struct fake_node node[FAKE_GRAPH_MAX];
};

struct fake_stream {
	int id;
	struct fake_graph *capture;	/* while capturing, or NULL */
};

struct fake_func {
	const char *name;
	const char *sig;
};

static const struct fake_func funcs[] = {
#define FAKE_FUNC(kname, ksig, kblock) { #kname, ksig },
	GL_KERNELS(FAKE_FUNC)
#undef FAKE_FUNC
};

/*
 * Modules other than the fatbin: an image "FAKEMOD\nNAME SIGNATURE\n..."
 * defines functions NAME with those signatures, as a cubin would.
 */
#define FAKE_EXTRA_MAX 8
static struct {
	struct fake_func f;
	char name[64];
	char sig[256];
} fake_extra[FAKE_EXTRA_MAX];
static unsigned int nr_extra;

static void load_fake_module(const char *image)
{
	const char *p = image + 8, *nl, *sp;

	while (*p && nr_extra < FAKE_EXTRA_MAX) {
		nl = strchr(p, '\n');
		if (!nl)
			nl = p + strlen(p);
		sp = memchr(p, ' ', (size_t)(nl - p));
		if (sp && sp - p < 64 && nl - sp - 1 < 256) {
			memcpy(fake_extra[nr_extra].name, p, (size_t)(sp - p));
			memcpy(fake_extra[nr_extra].sig, sp + 1,
			       (size_t)(nl - sp - 1));
			fake_extra[nr_extra].f.name = fake_extra[nr_extra].name;
			fake_extra[nr_extra].f.sig = fake_extra[nr_extra].sig;
			nr_extra++;
		}
		p = *nl ? nl + 1 : nl;
	}
}

CUresult cuStreamCreate(CUstream *s, unsigned int flags)
{
	struct fake_stream *fs;
	CUresult rc = need_live();

	if (rc)
		return rc;
	if (flags != CU_STREAM_NON_BLOCKING)
		return CUDA_ERROR_INVALID_VALUE;
	fs = calloc(1, sizeof(*fs));
	if (!fs)
		return CUDA_ERROR_OUT_OF_MEMORY;
	*s = (CUstream)fs;
	pthread_mutex_lock(&lock);
	st.last_stream = fs;
	pthread_mutex_unlock(&lock);
	st.streams++;
	return 0;
}

CUresult cuStreamDestroy_v2(CUstream s)
{
	CUresult rc = need_ctx();

	if (!rc && !s)
		rc = CUDA_ERROR_INVALID_VALUE;

	if (rc)
		return rc;
	free(((struct fake_stream *)s)->capture);
	free(s);
	st.streams--;
	return 0;
}

CUresult cuStreamQuery(CUstream s)
{
	CUresult rc = need_stream(s);

	if (rc)
		return rc;
	st.queries++;
	if (st.fault)
		return st.fault;
	return st.hold ? CUDA_ERROR_NOT_READY : CUDA_SUCCESS;
}

CUresult cuStreamSynchronize(CUstream s)
{
	CUresult rc = need_stream(s);

	if (rc)
		return rc;
	st.syncs++;
	return st.fault;
}

CUresult cuModuleLoadData(CUmodule *mod, const void *image)
{
	CUresult rc = need_live();

	if (rc)
		return rc;
	if (!strncmp(image, "FAKEMOD\n", 8))
		load_fake_module(image);
	else if (!strncmp(image, "BROKEN", 6))
		return CUDA_ERROR_INVALID_IMAGE;
	st.image = image;
	st.modules++;
	*mod = (CUmodule)&st;
	return 0;
}

CUresult cuModuleUnload(CUmodule mod)
{
	CUresult rc = need_ctx();

	if (!rc)
		st.modules--;
	return rc;
}

CUresult cuModuleGetFunction(CUfunction *f, CUmodule mod, const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(funcs) / sizeof(funcs[0]); i++)
		if (!strcmp(funcs[i].name, name)) {
			*f = (CUfunction)&funcs[i];
			return 0;
		}
	for (i = 0; i < nr_extra; i++)
		if (!strcmp(fake_extra[i].name, name)) {
			*f = (CUfunction)&fake_extra[i].f;
			return 0;
		}
	return CUDA_ERROR_NOT_FOUND;
}

/* Parameter sizes of signature @sig into @size, whether each is a
 * pointer into @ptr; their count. */
static unsigned int sig_sizes(const char *sig, unsigned int *size,
			      bool *ptr)
{
	unsigned int n = 0;
	const char *p = sig;

	while (*p && n < FAKECUDA_PARAMS_MAX) {
		while (*p == ' ' || *p == ',')
			p++;
		if (!*p)
			break;
		ptr[n] = !strncmp(p, "buf", 3) || !strncmp(p, "io", 2);
		size[n++] = (!strncmp(p, "u32", 3) || !strncmp(p, "i32", 3) ||
			     !strncmp(p, "f32", 3)) ? 4 : 8;
		while (*p && *p != ',')
			p++;
	}
	return n;
}

/* The parameter layout of @f, from its signature (naturally aligned). */
CUresult cuFuncGetParamInfo(CUfunction f, size_t index, size_t *offset,
			    size_t *size)
{
	const struct fake_func *ff = (const struct fake_func *)f;
	unsigned int sizes[FAKECUDA_PARAMS_MAX], n, i;
	bool ptr[FAKECUDA_PARAMS_MAX];
	size_t off = 0;

	n = sig_sizes(ff->sig, sizes, ptr);
	if (index >= n)
		return CUDA_ERROR_INVALID_VALUE;
	for (i = 0; i <= index; i++) {
		off = (off + sizes[i] - 1) / sizes[i] * sizes[i];
		if (i < index)
			off += sizes[i];
	}
	*offset = off;
	*size = sizes[index];
	return 0;
}

/*
 * With st.run_kernels: the CPU twin of the GL_KERNELS() function @l
 * launched, over its grid, on its parameters (a buffer's length is not
 * known here: the twin is trusted with any). 0, or the fault its error
 * is on a GPU; a function of a FAKEMOD image runs nothing.
 */
static int fake_twin(const struct fakecuda_launch *l)
{
	const struct gl_kernel *k = gl_kernel_find(l->name);
	struct gl_grid g = {
		{ l->grid[0], l->grid[1], l->grid[2] },
		{ l->block[0], l->block[1], l->block[2] },
	};
	struct gl_kctx ctx = { NULL, 0, 0 };
	struct gl_kargs a = { 0 };
	struct gl_ksig sig;
	unsigned int i;

	if (!k)
		return 0;
	if (gl_ksig_parse(k->sig, &sig) || sig.count != l->nparams)
		return CUDA_ERROR_INVALID_VALUE;
	for (i = 0; i < sig.count; i++) {
		struct gl_karg *v = &a.v[i];

		v->type = sig.param[i].type;
		switch (v->type) {
		case GL_KT_BUF:
		case GL_KT_IO:
			v->buf.ptr = (void *)(uintptr_t)l->value[i];
			v->buf.len = UINT64_MAX / 2;
			break;
		default:	/* the bytes as the kernel reads them */
			memcpy(&v->u64, &l->value[i], l->size[i]);
			break;
		}
	}
	a.count = sig.count;
	ctx.block_end = (uint64_t)g.grid.x * g.grid.y * g.grid.z;
	return k->cpu(&a, &g, &ctx) ? CUDA_ERROR_ILLEGAL_ADDRESS : 0;
}

/* The kernel "runs": a misaligned float load, or the fault the test
 * asked for, poisons the context; the launch itself is asynchronous and
 * returns success, as on a GPU. With st.run_kernels it also computes. */
static void fake_run(const struct fakecuda_launch *l, const bool *ptr)
{
	unsigned int i;
	int fault;

	pthread_mutex_lock(&lock);
	st.last = *l;
	pthread_mutex_unlock(&lock);
	st.launches++;
	fault = atomic_exchange(&st.fault_launch, 0);
	for (i = 0; i < l->nparams && !fault; i++)
		if (ptr[i] && l->value[i] % 4)
			fault = CUDA_ERROR_MISALIGNED_ADDRESS;
	if (!strncmp(l->name, "fault_", 6))
		fault = CUDA_ERROR_MISALIGNED_ADDRESS;
	if (!fault && atomic_load(&st.run_kernels))
		fault = fake_twin(l);
	if (fault)
		atomic_store(&st.sticky[cur_dev()], fault);
}

CUresult cuLaunchKernel(CUfunction f, unsigned int gx, unsigned int gy,
			unsigned int gz, unsigned int bx, unsigned int by,
			unsigned int bz, unsigned int shared, CUstream s,
			void **params, void **extra)
{
	const struct fake_func *ff = (const struct fake_func *)f;
	bool ptr[FAKECUDA_PARAMS_MAX];
	struct fakecuda_launch l;
	CUresult rc = need_stream(s);
	unsigned int i;

	if (rc)
		return rc;
	struct fake_stream *fs = (struct fake_stream *)s;

	memset(&l, 0, sizeof(l));
	snprintf(l.name, sizeof(l.name), "%s", ff->name);
	l.grid[0] = gx, l.grid[1] = gy, l.grid[2] = gz;
	l.block[0] = bx, l.block[1] = by, l.block[2] = bz;
	l.shared = shared;
	l.stream = s;
	l.nparams = sig_sizes(ff->sig, l.size, ptr);
	if (l.nparams && !params)
		return CUDA_ERROR_INVALID_VALUE;
	for (i = 0; i < l.nparams; i++)
		memcpy(&l.value[i], params[i], l.size[i]);
	if (fs->capture) {	/* recorded, not run */
		struct fake_node *nd;

		if (fs->capture->n == FAKE_GRAPH_MAX)
			return CUDA_ERROR_OUT_OF_MEMORY;
		nd = &fs->capture->node[fs->capture->n++];
		nd->l = l;
		memcpy(nd->ptr, ptr, sizeof(nd->ptr));
		return 0;
	}
	fake_run(&l, ptr);
	return 0;
}

CUresult cuStreamBeginCapture_v2(CUstream s, int mode)
{
	struct fake_stream *fs = (struct fake_stream *)s;
	CUresult rc = need_stream(s);

	if (rc)
		return rc;
	if (fs->capture || mode != CU_STREAM_CAPTURE_MODE_THREAD_LOCAL)
		return CUDA_ERROR_INVALID_VALUE;
	fs->capture = calloc(1, sizeof(*fs->capture));
	if (!fs->capture)
		return CUDA_ERROR_OUT_OF_MEMORY;
	st.captures++;
	return 0;
}

CUresult cuStreamEndCapture(CUstream s, CUgraph *g)
{
	struct fake_stream *fs = (struct fake_stream *)s;
	CUresult rc = need_stream(s);

	if (rc)
		return rc;
	if (!fs->capture)
		return CUDA_ERROR_INVALID_VALUE;
	*g = (CUgraph)fs->capture;
	fs->capture = NULL;
	st.graphs++;
	return 0;
}

CUresult cuGraphInstantiateWithFlags(CUgraphExec *e, CUgraph g,
				     unsigned long long flags)
{
	struct fake_graph *x;
	CUresult rc = need_ctx();

	if (rc)
		return rc;
	if (!g || flags)
		return CUDA_ERROR_INVALID_VALUE;
	x = malloc(sizeof(*x));
	if (!x)
		return CUDA_ERROR_OUT_OF_MEMORY;
	memcpy(x, g, sizeof(*x));
	*e = (CUgraphExec)x;
	st.graph_execs++;
	return 0;
}

/* Each node runs as its cuLaunchKernel would have, in order. */
CUresult cuGraphLaunch(CUgraphExec e, CUstream s)
{
	struct fake_graph *x = (struct fake_graph *)e;
	CUresult rc = need_stream(s);
	unsigned int i;

	if (rc)
		return rc;
	if (!x)
		return CUDA_ERROR_INVALID_VALUE;
	for (i = 0; i < x->n; i++)
		fake_run(&x->node[i].l, x->node[i].ptr);
	st.graph_launches++;
	return 0;
}

CUresult cuGraphExecDestroy(CUgraphExec e)
{
	if (!e)
		return CUDA_ERROR_INVALID_VALUE;
	free(e);
	st.graph_execs--;
	return 0;
}

CUresult cuGraphDestroy(CUgraph g)
{
	if (!g)
		return CUDA_ERROR_INVALID_VALUE;
	free(g);
	st.graphs--;
	return 0;
}
