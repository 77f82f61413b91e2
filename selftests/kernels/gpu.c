/* SPDX-License-Identifier: MIT */
/*
 * gpu.c - every kernels/NAME.cu against its C twin on a real GPU: the
 * generic launch of each kernel (kscalar() values, random buffers of
 * exactly the checked lengths) runs through the CUDA driver API on the
 * embedded fatbin and on the CPU, under the default block and a short
 * grid-stride grid, and every buffer must agree afterwards within
 * 1e-5 + 1e-4 |cpu| (argmax and embedding come out exact). Then the
 * cases where the numerics matter (rows.c's): softmax of logits above 88,
 * norms of rows whose mean square is near eps, eps = 1. SKIPs when
 * libcuda.so.1 cannot be loaded or has no device.
 *
 * The few driver API types and prototypes are declared here, so the
 * test builds without cuda.h.
 */
#include <dlfcn.h>
#include <errno.h>

#include "kernels/fatbin.h"
#include "selftests/harness.h"
#include "selftests/kernels/ktest.h"

typedef int cu_result;
typedef int cu_device;
typedef struct cu_ctx_st *cu_context;
typedef struct cu_mod_st *cu_module;
typedef struct cu_func_st *cu_function;
typedef unsigned long long cu_deviceptr;

struct cu_api {
	void *lib;
	cu_result (*init)(unsigned int flags);
	cu_result (*device_get)(cu_device *dev, int ordinal);
	cu_result (*primary_retain)(cu_context *ctx, cu_device dev);
	cu_result (*primary_release)(cu_device dev);
	cu_result (*ctx_set_current)(cu_context ctx);
	cu_result (*module_load_data)(cu_module *mod, const void *image);
	cu_result (*module_unload)(cu_module mod);
	cu_result (*module_get_function)(cu_function *f, cu_module mod,
					 const char *name);
	cu_result (*mem_alloc)(cu_deviceptr *p, size_t bytes);
	cu_result (*mem_free)(cu_deviceptr p);
	cu_result (*memcpy_htod)(cu_deviceptr dst, const void *src,
				 size_t bytes);
	cu_result (*memcpy_dtoh)(void *dst, cu_deviceptr src, size_t bytes);
	cu_result (*launch)(cu_function f, unsigned int gx, unsigned int gy,
			    unsigned int gz, unsigned int bx, unsigned int by,
			    unsigned int bz, unsigned int shared, void *stream,
			    void **params, void **extra);
	cu_result (*ctx_synchronize)(void);
	cu_device dev;
	cu_context ctx;
	cu_module mod;
};

/* cu_load - 0, or a reason to skip in @why. */
static int cu_load(struct cu_api *cu, const char **why)
{
	static const struct {
		const char *name;
		size_t off;
	} syms[] = {
#define SYM(field, name) { name, offsetof(struct cu_api, field) }
		SYM(init, "cuInit"),
		SYM(device_get, "cuDeviceGet"),
		SYM(primary_retain, "cuDevicePrimaryCtxRetain"),
		SYM(primary_release, "cuDevicePrimaryCtxRelease_v2"),
		SYM(ctx_set_current, "cuCtxSetCurrent"),
		SYM(module_load_data, "cuModuleLoadData"),
		SYM(module_unload, "cuModuleUnload"),
		SYM(module_get_function, "cuModuleGetFunction"),
		SYM(mem_alloc, "cuMemAlloc_v2"),
		SYM(mem_free, "cuMemFree_v2"),
		SYM(memcpy_htod, "cuMemcpyHtoD_v2"),
		SYM(memcpy_dtoh, "cuMemcpyDtoH_v2"),
		SYM(launch, "cuLaunchKernel"),
		SYM(ctx_synchronize, "cuCtxSynchronize"),
#undef SYM
	};
	unsigned int i;
	void *f;

	memset(cu, 0, sizeof(*cu));
	cu->lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
	if (!cu->lib) {
		*why = "no CUDA driver (libcuda.so.1)";
		return -ENOENT;
	}
	for (i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
		f = dlsym(cu->lib, syms[i].name);
		if (!f) {
			*why = "libcuda.so.1 lacks a driver API symbol";
			return -ENOENT;
		}
		memcpy((char *)cu + syms[i].off, &f, sizeof(f));
	}
	if (cu->init(0) || cu->device_get(&cu->dev, 0)) {
		*why = "cuInit or cuDeviceGet failed: no usable GPU";
		return -ENODEV;
	}
	if (cu->primary_retain(&cu->ctx, cu->dev) ||
	    cu->ctx_set_current(cu->ctx)) {
		*why = "no CUDA context";
		return -ENODEV;
	}
	return 0;
}

/*
 * gpu_launch - run @l on the GPU: copy every buffer in, launch, copy
 * every buffer out into @out[i] (same lengths). Returns the first CUDA
 * error, or 0.
 */
static int gpu_launch(struct cu_api *cu, const struct klaunch *l,
		      void **out)
{
	cu_deviceptr dp[GL_KPARAMS_MAX] = { 0 };
	void *params[GL_KPARAMS_MAX];
	struct gl_karg vals[GL_KPARAMS_MAX];
	cu_function f;
	unsigned int i;
	int err;

	err = cu->module_get_function(&f, cu->mod, l->k->name);
	if (err)
		return err;
	for (i = 0; i < l->sig.count; i++) {
		vals[i] = l->args.v[i];
		params[i] = &vals[i].u32;
		switch (l->sig.param[i].type) {
		case GL_KT_U64:
			params[i] = &vals[i].u64;
			break;
		case GL_KT_F32:
			params[i] = &vals[i].f32;
			break;
		case GL_KT_BUF:
			err = cu->mem_alloc(&dp[i], vals[i].buf.len + 4);
			if (!err && vals[i].buf.len)
				err = cu->memcpy_htod(dp[i], vals[i].buf.ptr,
						      vals[i].buf.len);
			if (err)
				goto out;
			params[i] = &dp[i];
			break;
		default:
			break;
		}
	}
	err = cu->launch(f, l->grid.grid.x, 1, 1, l->grid.block.x, 1, 1, 0,
			 NULL, params, NULL);
	if (!err)
		err = cu->ctx_synchronize();
	for (i = 0; !err && i < l->sig.count; i++)
		if (dp[i] && l->args.v[i].buf.len)
			err = cu->memcpy_dtoh(out[i], dp[i],
					      l->args.v[i].buf.len);
out:
	for (i = 0; i < l->sig.count; i++)
		if (dp[i])
			cu->mem_free(dp[i]);
	return err;
}

/*
 * twin_compare - run @l on the GPU and on the CPU; every buffer must
 * agree afterwards (argmax and token ids exactly). @tag names the case.
 */
static void twin_compare(struct cu_api *cu, struct klaunch *l,
			 const char *tag)
{
	void *out[GL_KPARAMS_MAX] = { 0 };
	const struct gl_kernel *k = l->k;
	const struct gl_grid *g = &l->grid;
	char what[128];
	unsigned int i;
	uint64_t j;

	for (i = 0; i < l->sig.count; i++)
		if (l->buf[i])
			out[i] = malloc(l->args.v[i].buf.len + 4);
	EXPECT_EQ(gpu_launch(cu, l, out), 0)
		TH_LOG("kernel %s on the GPU (%s)", k->name, tag);
	EXPECT_EQ(gl_kernel_run_cpu(k, &l->args, g, NULL), 0);
	for (i = 0; i < l->sig.count; i++) {
		uint64_t n = l->args.v[i].buf.len / 4;
		double *want;

		if (!out[i])
			continue;
		want = malloc(n * sizeof(double) + 8);
		ASSERT_TRUE(want != NULL);
		for (j = 0; j < n; j++)
			want[j] = ((float *)l->buf[i])[j];
		snprintf(what, sizeof(what), "%s.%s grid=%u %s GPU vs CPU",
			 k->name, l->sig.param[i].name, g->grid.x, tag);
		if (!strcmp(k->name, "argmax") ||
		    !strcmp(l->sig.param[i].name, "ids"))
			EXPECT_EQ(memcmp(out[i], l->buf[i], n * 4), 0)
				TH_LOG("%s", what);
		else
			EXPECT_EQ(kcompare(what, out[i], want, n, 1e-5, 1e-4),
				  0u);
		free(want);
		free(out[i]);
	}
}

TEST(twins_agree)
{
	struct krand r = { 71 };
	const char *why = NULL;
	struct klaunch l;
	struct cu_api cu;
	unsigned int id, gi;

	if (cu_load(&cu, &why))
		SKIP(return, "%s", why);
	ASSERT_EQ(cu.module_load_data(&cu.mod, gl_fatbin), 0);
	for (id = 0; id < GL_K_COUNT; id++) {
		const struct gl_kernel *k = gl_kernel_get(id);

		for (gi = 0; gi < 2; gi++) {
			struct gl_grid g = gi ? kgrid(3, k->block) :
						kgrid(64, k->block);

			ASSERT_EQ(klaunch_init(&l, k, &g, &r), 0);
			twin_compare(&cu, &l, "generic");
			klaunch_free(&l);
		}
	}
	cu.module_unload(cu.mod);
	cu.primary_release(cu.dev);
}

/* The index of parameter @name of @l, or -1. */
static int param_of(const struct klaunch *l, const char *name)
{
	unsigned int i;

	for (i = 0; i < l->sig.count; i++)
		if (!strcmp(l->sig.param[i].name, name))
			return (int)i;
	return -1;
}

/*
 * The cases of selftests/kernels/rows.c where the numerics matter, GPU
 * against CPU: softmax of logits above 88, norms of rows whose mean
 * square is near eps or far below it, and eps = 1.
 */
TEST(numerics_agree)
{
	static const struct {
		const char *kernel;
		float eps;		/* < 0: no eps parameter */
		float lo, hi;		/* x uniform in [lo, hi) */
	} cases[] = {
		{ "softmax", -1, 88.5f, 89.5f },
		{ "softmax", -1, 80.0f, 200.0f },
		{ "softmax", -1, -100.0f, 100.0f },
		{ "rmsnorm", 1e-5f, -5.477e-3f, 5.477e-3f },
		{ "rmsnorm", 1e-5f, -5.477e-4f, 5.477e-4f },
		{ "rmsnorm", 1.0f, -4.0f, 4.0f },
		{ "layernorm", 1e-5f, -5.477e-3f, 5.477e-3f },
		{ "layernorm", 1e-5f, -5.477e-4f, 5.477e-4f },
		{ "layernorm", 1.0f, -4.0f, 4.0f },
	};
	struct krand r = { 72 };
	const char *why = NULL;
	struct klaunch l;
	struct cu_api cu;
	unsigned int c, id, gi;
	char tag[64];
	int x, e;

	if (cu_load(&cu, &why))
		SKIP(return, "%s", why);
	ASSERT_EQ(cu.module_load_data(&cu.mod, gl_fatbin), 0);
	for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		const struct gl_kernel *k = NULL;

		for (id = 0; id < GL_K_COUNT; id++)
			if (!strcmp(gl_kernel_get(id)->name, cases[c].kernel))
				k = gl_kernel_get(id);
		ASSERT_TRUE(k != NULL) TH_LOG("%s", cases[c].kernel);
		for (gi = 0; gi < 2; gi++) {
			struct gl_grid g = gi ? kgrid(3, k->block) :
						kgrid(64, k->block);

			ASSERT_EQ(klaunch_init(&l, k, &g, &r), 0);
			x = param_of(&l, "x");
			e = param_of(&l, "eps");
			ASSERT_GE(x, 0);
			krand_fill(&r, l.buf[x], l.args.v[x].buf.len / 4,
				   cases[c].lo, cases[c].hi);
			if (cases[c].eps >= 0) {
				ASSERT_GE(e, 0);
				l.args.v[e].f32 = cases[c].eps;
			}
			snprintf(tag, sizeof(tag), "x in [%g, %g) eps %g",
				 cases[c].lo, cases[c].hi, cases[c].eps);
			twin_compare(&cu, &l, tag);
			klaunch_free(&l);
		}
	}
	cu.module_unload(cu.mod);
	cu.primary_release(cu.dev);
}

TEST_HARNESS_MAIN
