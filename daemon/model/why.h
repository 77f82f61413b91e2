/* SPDX-License-Identifier: MIT */
/*
 * The model parsers' one way out on bad input: a reason into the caller's
 * buffer and a -errno back. Reasons name fields and numbers the parser
 * derived, never bytes copied from the file.
 */
#ifndef GL_MODEL_WHY_H
#define GL_MODEL_WHY_H

#include <stddef.h>

/*
 * model_why - format a reason into @why (@n bytes, may be NULL or 0) and
 * return @err (a negative errno) so that callers can `return model_why(...)`.
 */
__attribute__((format(printf, 4, 5)))
int model_why(char *why, size_t n, int err, const char *fmt, ...);

#endif
