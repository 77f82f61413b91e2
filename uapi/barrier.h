/* SPDX-License-Identifier: MIT */
/*
 * gpulease ring ABI: the memory-ordering helpers both sides of a shared
 * ring use on its header words (uapi/ring.h, Documentation/ring.md), named
 * as the kernel's: the consumer reads the producer's index with
 * gl_smp_load_acquire(), the producer publishes its own with
 * gl_smp_store_release(), and the wake-up handshakes (a flag set, then an
 * index re-read; an index stored, then the flag read) use the sequentially
 * consistent gl_atomic_*() and gl_smp_mb().
 *
 * Invariant: macros over the GCC/Clang __atomic builtins on plain integer
 * lvalues, nothing else: no types, no functions, the same code in C and
 * C++, in the daemon and in every client.
 */
#ifndef GPULEASE_UAPI_BARRIER_H
#define GPULEASE_UAPI_BARRIER_H

/* Read the other side's index, then the entries it published. */
#define gl_smp_load_acquire(p)	__atomic_load_n((p), __ATOMIC_ACQUIRE)
/* Publish entries written before, then the index that covers them. */
#define gl_smp_store_release(p, v)	\
	__atomic_store_n((p), (v), __ATOMIC_RELEASE)
/* A word only this side writes, or one read again after a barrier. */
#define gl_read_once(p)		__atomic_load_n((p), __ATOMIC_RELAXED)
/* Full barrier: a store before it is seen before a load after it. */
#define gl_smp_mb()		__atomic_thread_fence(__ATOMIC_SEQ_CST)

/* Sequentially consistent accesses for flags, waiters and futex words. */
#define gl_atomic_load(p)	__atomic_load_n((p), __ATOMIC_SEQ_CST)
#define gl_atomic_store(p, v)		\
	__atomic_store_n((p), (v), __ATOMIC_SEQ_CST)
#define gl_atomic_add(p, v)		\
	__atomic_add_fetch((p), (v), __ATOMIC_SEQ_CST)
#define gl_atomic_sub(p, v)		\
	__atomic_sub_fetch((p), (v), __ATOMIC_SEQ_CST)
#define gl_atomic_or(p, v)		\
	__atomic_or_fetch((p), (v), __ATOMIC_SEQ_CST)
#define gl_atomic_and(p, v)		\
	__atomic_and_fetch((p), (v), __ATOMIC_SEQ_CST)

#endif /* GPULEASE_UAPI_BARRIER_H */
