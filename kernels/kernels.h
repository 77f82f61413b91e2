/* SPDX-License-Identifier: MIT */
/*
 * Kernels: the one signature list of every kernel, shared by the CUDA
 * fatbin and the CPU twins, and the C types a launch is resolved into.
 *
 * Invariant: GL_KERNELS() is the only place a kernel's name, parameter
 * list and default block size are written. kernels/all.cuh checks at
 * build time that every name is an extern "C" __global__ in the fatbin;
 * kernels/run.c builds the CPU table from it, and the prototypes below
 * come from it, so neither backend can declare a kernel of its own.
 *
 * This header is included by nvcc too: only GL_KERNELS() and the
 * parameter type names are visible there.
 */
#ifndef GL_KERNELS_H
#define GL_KERNELS_H

/*
 * X(name, "signature", default block.x). Parameter types: u32 i32 u64
 * f32 f64 (values) and buf io (a byte range of the lease's memory or of
 * its io region). Counts are u32, byte strides and offsets u64, float
 * data f32. Semantics: Documentation/kernels.md. Sorted by name.
 */
#define GL_KERNELS(X)							\
	X(activate, "u32 n, u32 act, buf x, buf y", 256)		\
	X(add, "u32 n, buf a, buf b, buf y", 256)			\
	X(argmax, "u32 rows, u32 cols, buf x, buf out", 256)		\
	X(attn_scores, "u32 seq_q, u32 seq_k, u32 n_heads, "		\
	  "u32 n_kv_heads, u32 head_dim, u32 pos0, u32 causal, "	\
	  "f32 scale, buf q, buf k, buf s", 256)			\
	X(attn_values, "u32 seq_q, u32 seq_k, u32 n_heads, "		\
	  "u32 n_kv_heads, u32 head_dim, buf p, buf v, buf out", 256)	\
	X(bias_add, "u32 rows, u32 cols, buf bias, buf x", 256)		\
	X(copy, "u32 n, buf x, buf y", 256)				\
	X(embedding, "u32 n_tokens, u32 dim, u32 vocab, buf ids, "	\
	  "buf table, buf out", 256)					\
	X(fill, "u32 n, f32 value, buf y", 256)				\
	X(gelu, "u32 n, buf x, buf y", 256)				\
	X(layernorm, "u32 rows, u32 cols, f32 eps, buf x, buf gamma, "	\
	  "buf beta, buf y", 256)					\
	X(matmul, "u32 m, u32 n, u32 k, u32 trans_a, u32 trans_b, "	\
	  "u32 batch, u32 lda, u32 ldb, u32 ldc, u64 stride_a, "	\
	  "u64 stride_b, u64 stride_c, f32 alpha, f32 beta, buf a, "	\
	  "buf b, buf c", 256)						\
	X(mul, "u32 n, buf a, buf b, buf y", 256)			\
	X(noop, "", 1)							\
	X(relu, "u32 n, buf x, buf y", 256)				\
	X(rmsnorm, "u32 rows, u32 cols, f32 eps, buf x, buf w, buf y",	\
	  256)								\
	X(rope, "u32 seq, u32 n_heads, u32 head_dim, u32 pos0, "	\
	  "f32 theta, buf x", 256)					\
	X(rope_half, "u32 seq, u32 n_heads, u32 head_dim, u32 pos0, "	\
	  "f32 theta, buf x", 256)					\
	X(saxpy, "u32 n, f32 a, buf x, buf y", 256)			\
	X(scale, "u32 n, f32 a, buf x, buf y", 256)			\
	X(silu, "u32 n, buf x, buf y", 256)				\
	X(softmax, "u32 rows, u32 cols, buf x, buf y", 256)

/* Limits every kernel is held to, on both backends (CUDA's own). */
#define GL_BLOCK_THREADS_MAX	1024u		/* block.x*y*z */
#define GL_GRID_X_MAX		2147483647u
#define GL_GRID_YZ_MAX		65535u
#define GL_BLOCK_YZ_MAX		1024u		/* block.y; block.z is 64 */
#define GL_BLOCK_Z_MAX		64u
/* A buffer's alignment: its element's size (4 for every built-in), and
 * 16, the widest vector load (float4, double2), for registered kernels
 * whose element types the daemon cannot know. */
#define GL_BUF_ALIGN_MAX	16u
#define GL_KPARAMS_MAX		24		/* per kernel */
#define GL_KPARAM_NAME_MAX	24		/* with its NUL */

/* activate's act: what y = act(x) computes. */
#define GL_ACT_NONE		0u	/* y = x */
#define GL_ACT_RELU		1u	/* max(x, 0) */
#define GL_ACT_GELU_ERF		2u	/* 0.5 x (1 + erf(x / sqrt 2)) */
#define GL_ACT_TANH		3u
#define GL_ACT_SIGMOID		4u	/* 1 / (1 + exp(-x)) */
#define GL_ACT_COUNT		5u

/* matmul's CUDA fallback computes one 16x16 tile of C per block. */
#define GL_MATMUL_TILE		16u

#ifndef __CUDACC__

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

enum gl_ktype {
	GL_KT_U32,
	GL_KT_I32,
	GL_KT_U64,
	GL_KT_F32,
	GL_KT_F64,
	GL_KT_BUF,
	GL_KT_IO,
	GL_KT_COUNT,
};

/* One parameter of a parsed signature. */
struct gl_kparam {
	enum gl_ktype type;
	char name[GL_KPARAM_NAME_MAX];
};

/* A parsed signature: the daemon validates a launch's args against it. */
struct gl_ksig {
	uint32_t count;
	struct gl_kparam param[GL_KPARAMS_MAX];
};

/*
 * A memory argument resolved by the daemon: buf:OFFSET:LEN or
 * io:OFFSET:LEN after its bounds check against the lease. On the CPU
 * backend @ptr is a host pointer to @len bytes; the CUDA backend passes
 * the device address of the same range as the kernel's pointer param.
 */
struct gl_kbuf {
	void *ptr;
	uint64_t len;		/* bytes */
};

/* One resolved argument; @type must equal the signature's. */
struct gl_karg {
	enum gl_ktype type;
	union {
		uint32_t u32;
		int32_t i32;
		uint64_t u64;
		float f32;
		double f64;
		struct gl_kbuf buf;	/* GL_KT_BUF and GL_KT_IO */
	};
};

/* gl_kargs.flags: every row of the result must have the bits it has
 * computed alone, whatever the other rows (a model's batch): a backend
 * may not pick its algorithm by shape, so the CUDA device runs the
 * fatbin's matmul, whose sum order is fixed by k, instead of cuBLAS. */
#define GL_KARGS_ROWS_ALONE	0x1u
/* gl_kargs.flags: queue the launch only: it runs after the work queued
 * before it on the same memory, and the device's wait op (dev_ops, or
 * its next copy of that memory) sees its end and any fault. A device
 * whose launches run to completion ignores it. Never a client's. */
#define GL_KARGS_NO_WAIT	0x2u

struct gl_kargs {
	uint32_t count;
	struct gl_karg v[GL_KPARAMS_MAX];
	uint32_t flags;		/* GL_KARGS_*; 0 for a client's launch */
};

struct gl_dim3 {
	uint32_t x, y, z;
};

/* The launch shape, exactly as the client wrote grid= and block=. */
struct gl_grid {
	struct gl_dim3 grid;
	struct gl_dim3 block;
};

/* gl_grid_elems - the threads of @g (grid x block), UINT64_MAX when the
 * product does not fit. */
static inline uint64_t gl_grid_elems(const struct gl_grid *g)
{
	uint64_t n = 1;

	if (__builtin_mul_overflow(n, g->grid.x, &n) ||
	    __builtin_mul_overflow(n, g->grid.y, &n) ||
	    __builtin_mul_overflow(n, g->grid.z, &n) ||
	    __builtin_mul_overflow(n, g->block.x, &n) ||
	    __builtin_mul_overflow(n, g->block.y, &n) ||
	    __builtin_mul_overflow(n, g->block.z, &n))
		return UINT64_MAX;
	return n;
}

/*
 * Per-worker run state. @cancel is shared by every worker of a launch
 * (may be NULL): 0 while running; a watchdog or a drop stores a positive
 * errno (ETIMEDOUT, ECANCELED, EKEYEXPIRED) and each worker returns its
 * negation at its next check: before each block, and inside long loops
 * (kernels/cpu.h) so that one block cannot run on. A worker runs the
 * linear blocks [@block_begin, @block_end) of the grid (block_end is
 * clamped to the grid); disjoint ranges that cover the grid compute the
 * whole launch.
 */
struct gl_kctx {
	atomic_int *cancel;
	uint64_t block_begin;
	uint64_t block_end;
};

/*
 * A CPU twin. Checks the launch first (see gl_kcheck_fn), then runs its
 * block range. Returns 0, -EINVAL, -EFAULT, or -(*ctx->cancel).
 * @args must already match the kernel's signature (gl_ksig_match()).
 */
typedef int (*gl_kcpu_fn)(const struct gl_kargs *args,
			  const struct gl_grid *grid, struct gl_kctx *ctx);

/*
 * A launch check, run on the host before either backend launches:
 * -EINVAL for a grid or block this kernel cannot run or an invalid
 * argument value, -EFAULT when a buffer is shorter than the element
 * counts need. Pure: reads nothing behind the buffers.
 */
typedef int (*gl_kcheck_fn)(const struct gl_kargs *args,
			    const struct gl_grid *grid);

enum gl_kernel_id {
#define GL_KERNEL_ID(name, sig, block) GL_K_##name,
	GL_KERNELS(GL_KERNEL_ID)
#undef GL_KERNEL_ID
	GL_K_COUNT,
};

/* One row of the built-in table; read-only, lives for the program. */
struct gl_kernel {
	enum gl_kernel_id id;
	const char *name;	/* the extern "C" symbol in the fatbin */
	const char *sig;	/* e.g. "u32 n, f32 a, buf x, buf y" */
	uint32_t block;		/* default block.x */
	gl_kcheck_fn check;
	gl_kcpu_fn cpu;
};

#define GL_KERNEL_PROTOS(name, sig, block)				\
	int gl_##name##_check(const struct gl_kargs *args,		\
			      const struct gl_grid *grid);		\
	int gl_##name##_cpu(const struct gl_kargs *args,		\
			    const struct gl_grid *grid,			\
			    struct gl_kctx *ctx);
GL_KERNELS(GL_KERNEL_PROTOS)
#undef GL_KERNEL_PROTOS

/* kernels/sig.c */

/*
 * gl_ksig_parse - parse "TYPE NAME, TYPE NAME, ..." (or "") into @sig.
 * Returns 0, or -EINVAL for an unknown type, a bad or duplicate name,
 * or more than GL_KPARAMS_MAX parameters. Pure; any thread.
 */
int gl_ksig_parse(const char *text, struct gl_ksig *sig);

/*
 * gl_ksig_match - whether @args fit @sig: same count, same types.
 * Returns 0 or -EINVAL.
 */
int gl_ksig_match(const struct gl_ksig *sig, const struct gl_kargs *args);

/* gl_ktype_name - "u32" ... "io", or NULL for an invalid type. */
const char *gl_ktype_name(enum gl_ktype type);

/*
 * gl_ktype_parse - the type named by the @len bytes at @word.
 * Returns the type or -EINVAL.
 */
int gl_ktype_parse(const char *word, size_t len);

/* kernels/run.c */

/* gl_kernel_get - row @id, or NULL when out of range. */
const struct gl_kernel *gl_kernel_get(unsigned int id);

/* gl_kernel_find - the kernel named @name, or NULL. */
const struct gl_kernel *gl_kernel_find(const char *name);

/*
 * gl_kernel_cpu_init - open OpenBLAS (kernels/blas.c) and set its thread
 * count, once at start-up before any launch (OpenBLAS keeps it
 * process-wide). Pass 1 when a worker pool splits launches by blocks
 * (each worker's sgemm then runs on its own thread and the pool owns the
 * parallelism); pass the core count when launches run one at a time on
 * one thread. 0, or -ELIBACC when OpenBLAS cannot be opened
 * (gl_blas_why() says why); matmul then fails with -EIO.
 */
int gl_kernel_cpu_init(unsigned int blas_threads);

/*
 * gl_kernel_grid_check_1d - the rules of a 1-D kernel: every dim >= 1,
 * grid and block y = z = 1, block.x <= GL_BLOCK_THREADS_MAX,
 * grid.x <= GL_GRID_X_MAX. Returns 0 or -EINVAL.
 */
int gl_kernel_grid_check_1d(const struct gl_grid *grid);

/*
 * gl_kernel_run_cpu - check @args against @k's signature, then run its
 * CPU twin over every block of @grid on the calling thread. @cancel may
 * be NULL. Returns what the twin returns, or -EINVAL for mismatched
 * args.
 */
int gl_kernel_run_cpu(const struct gl_kernel *k, const struct gl_kargs *args,
		      const struct gl_grid *grid, atomic_int *cancel);

/* gl_kernel_run_cpu_name - as gl_kernel_run_cpu; -ENOENT for no kernel. */
int gl_kernel_run_cpu_name(const char *name, const struct gl_kargs *args,
			   const struct gl_grid *grid, atomic_int *cancel);

#endif /* __CUDACC__ */

#endif /* GL_KERNELS_H */
