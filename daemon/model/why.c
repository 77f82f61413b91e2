/* SPDX-License-Identifier: MIT */
/*
 * Reasons for the model parsers' failures. Invariant: a reason is always
 * NUL-terminated inside the caller's buffer, whatever was formatted.
 */
#include <stdarg.h>
#include <stdio.h>

#include "daemon/model/why.h"

int model_why(char *why, size_t n, int err, const char *fmt, ...)
{
	va_list ap;

	if (!why || !n)
		return err;
	va_start(ap, fmt);
	vsnprintf(why, n, fmt, ap);
	va_end(ap);
	return err;
}
