/* SPDX-License-Identifier: MIT */
/*
 * The exported copies of the ring helpers gpulease.h defines static inline
 * (gl_ring_get_sqe, gl_ring_prep_*): liburing's ffi.c idea. With
 * GL_RING_INLINE set to "exported" before the header, its bodies compile
 * here once more as the LIBGPULEASE_0.2 symbols programs linked against
 * the older header call. Invariant: no code of its own; the header is the
 * one definition of each helper.
 */
#define GL_RING_INLINE __attribute__((visibility("default")))

/* the header is their prototype and their definition at once */
#pragma GCC diagnostic ignored "-Wmissing-prototypes"

#include "tools/lib/internal.h"
