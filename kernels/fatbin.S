/* SPDX-License-Identifier: MIT */
/*
 * The fatbin of every kernels/NAME.cu, embedded read-only into a C
 * object: gl_fatbin (bytes) and gl_fatbin_len (a size_t), declared in
 * kernels/fatbin.h. GL_FATBIN_PATH is the quoted path nvcc wrote,
 * GL_FATBIN_CUDA_VERSION its toolkit's version (gl_fatbin_cuda_version).
 *
 * Invariant: gl_fatbin is 64-byte aligned (the driver wants at least 8
 * for cuModuleLoadData) and gl_fatbin_len is exactly the file's size.
 */
	.section .rodata.gl_fatbin, "a"
	.balign 64
	.globl gl_fatbin
	.type gl_fatbin, @object
gl_fatbin:
	.incbin GL_FATBIN_PATH
gl_fatbin_end:
	.size gl_fatbin, gl_fatbin_end - gl_fatbin

	.balign 8
	.globl gl_fatbin_len
	.type gl_fatbin_len, @object
gl_fatbin_len:
	.quad gl_fatbin_end - gl_fatbin
	.size gl_fatbin_len, 8

	.balign 4
	.globl gl_fatbin_cuda_version
	.type gl_fatbin_cuda_version, @object
gl_fatbin_cuda_version:
	.long GL_FATBIN_CUDA_VERSION
	.size gl_fatbin_cuda_version, 4

	.section .note.GNU-stack, "", @progbits
