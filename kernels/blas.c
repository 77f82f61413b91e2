/* SPDX-License-Identifier: MIT */
/*
 * OpenBLAS, opened with dlopen on first use instead of linked. A library
 * linked into a process gets its static TLS block in every thread the
 * process creates, and OpenBLAS's is 60 KiB (Debian's 0.3.21), zeroed,
 * so touched, at each thread's start: every FUSE worker, ring poller and
 * model thread of the daemon paid it without ever calling BLAS (69 KiB
 * of RssAnon per idle thread linked, 8 KiB not). Opened, its TLS is
 * dynamic: only a thread that calls into it allocates it.
 *
 * Invariant: the table is written once, inside pthread_once(), and read
 * only after it; the library is never closed (its threads live with the
 * process, as when linked).
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "kernels/blas.h"

#define BLAS_SONAME "libopenblas.so.0"

/* Process-wide as the library itself: its thread count, its pool. */
static struct {
	pthread_once_t once;
	bool ok;
	struct gl_blas fn;
	char why[256];
} blas = { .once = PTHREAD_ONCE_INIT };

/* The symbol @name of @h, or NULL with blas.why saying so. */
static void *blas_sym(void *h, const char *name)
{
	void *p = dlsym(h, name);

	if (!p)
		snprintf(blas.why, sizeof(blas.why), "no symbol %s", name);
	return p;
}

/* $GL_LIBBLAS (a test hook, as GL_LIBCUDA), else the soname. */
static void blas_open(void)
{
	const char *path = getenv("GL_LIBBLAS");
	const char *e;
	void *h;

	if (!path || !*path)
		path = BLAS_SONAME;
	h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		e = dlerror();
		snprintf(blas.why, sizeof(blas.why), "%s",
			 e ? e : "cannot be opened");
		return;
	}
	blas.fn.sgemm = blas_sym(h, "cblas_sgemm");
	blas.fn.sgemv = blas_sym(h, "cblas_sgemv");
	blas.fn.set_num_threads = blas_sym(h, "openblas_set_num_threads");
	blas.ok = blas.fn.sgemm && blas.fn.sgemv && blas.fn.set_num_threads;
}

const struct gl_blas *gl_blas(void)
{
	pthread_once(&blas.once, blas_open);
	return blas.ok ? &blas.fn : NULL;
}

const char *gl_blas_why(void)
{
	pthread_once(&blas.once, blas_open);
	return blas.why;
}
