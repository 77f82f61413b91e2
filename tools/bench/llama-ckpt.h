/* SPDX-License-Identifier: MIT */
/*
 * llama-ckpt: a seeded llama2.c checkpoint (legacy header, f32, tied
 * classifier) and a tokenizer.bin for it, written in C (llama-ckpt.c):
 * the generate bench's model, and a test's where /usr/bin/python3 has no
 * numpy (the lent GPU machine).
 */
#ifndef GL_BENCH_LLAMA_CKPT_H
#define GL_BENCH_LLAMA_CKPT_H

#include <stddef.h>
#include <stdint.h>

/* A shape, in the legacy header's order. */
struct llama_ckpt {
	uint32_t dim, hidden, layers, heads, kv_heads, vocab, seq;
};

/*
 * llama_ckpt_make() - the checkpoint's bytes into *@buf (*@len; the
 * caller frees it): the header, then every weight from xorshift32 seed
 * 1, uniform in +-0.1, the RMSNorm weights 1 and the legacy freq_cis 0.
 * Same shape, same bytes. Returns 0, -EINVAL (heads that do not divide
 * dim or kv_heads that do not divide heads, a zero) or -ENOMEM.
 */
int llama_ckpt_make(const struct llama_ckpt *c, void **buf, size_t *len);

/*
 * llama_ckpt_tokenizer() - a tokenizer.bin of @vocab (>= 3 + 26)
 * tokens into @path: <unk>, "\n<s>\n", "\n</s>\n", then "a".."z", then
 * "t3", "t4"... with scores -id. Returns 0, -EINVAL or -errno.
 */
int llama_ckpt_tokenizer(uint32_t vocab, const char *path);

#endif /* GL_BENCH_LLAMA_CKPT_H */
