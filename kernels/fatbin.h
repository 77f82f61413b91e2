/* SPDX-License-Identifier: MIT */
/*
 * The embedded kernel fatbin (kernels/fatbin.S): sm_80 and sm_90 SASS
 * plus compute_90 PTX of every kernel in GL_KERNELS(), each an
 * extern "C" entry of that name, ready for cuModuleLoadData().
 *
 * Invariant: read-only; lives for the program.
 */
#ifndef GL_KERNELS_FATBIN_H
#define GL_KERNELS_FATBIN_H

#include <stddef.h>

extern const unsigned char gl_fatbin[];
extern const size_t gl_fatbin_len;
/* The CUDA version of the toolkit that built it, as CUDA_VERSION and
 * cuDriverGetVersion() write it (13000 for 13.0); 0 when unknown. A
 * driver older than that cannot load it. */
extern const int gl_fatbin_cuda_version;

#endif /* GL_KERNELS_FATBIN_H */
