/* SPDX-License-Identifier: MIT */
/*
 * How the gpulease command reads and prints sizes, durations and owners:
 * "2G" in, "2.0G" out, like ls -h (powers of 1024); "5m" in, "4m59s" out.
 *
 * Invariant: parsers are total (any string gives a value or -EINVAL) and
 * formatters always leave a NUL-terminated string in the buffer. Digits
 * and the K/M/G units are the daemon's own lexer (daemon/parse.c, linked
 * here alone): the command only adds what a person types on top of the
 * daemon's grammar (T, "iB", "B"; s/m/h/d).
 */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/parse.h"	/* the one lexer; a leaf, see its top */
#include "tools/gpulease/cli.h"

/*
 * "4096", "64K", "2G", "1T" (also "2GiB", "2GB", "512B"; powers of 1024,
 * any case) into bytes. 0 or -EINVAL (malformed, overflow).
 */
int cli_parse_size(const char *s, uint64_t *out)
{
	uint64_t v;
	unsigned int shift;

	if (parse_digits(&s, &v))
		return -EINVAL;
	shift = *s == 't' || *s == 'T' ? 40 : parse_unit(*s);
	if (shift) {
		s++;
		if (*s == 'i' || *s == 'I')
			s++;
	}
	if (*s == 'b' || *s == 'B')
		s++;
	if (*s || (shift && v > UINT64_MAX >> shift))
		return -EINVAL;
	*out = v << shift;
	return 0;
}

/* "300", "300s", "5m", "2h", "1d" into seconds. 0 or -EINVAL. */
int cli_parse_secs(const char *s, uint32_t *out)
{
	uint64_t v, mul = 1;

	if (parse_digits(&s, &v))
		return -EINVAL;
	switch (*s) {
	case 's':
		s++;
		break;
	case 'm':
		mul = 60;
		s++;
		break;
	case 'h':
		mul = 3600;
		s++;
		break;
	case 'd':
		mul = 86400;
		s++;
		break;
	}
	if (*s || v > UINT32_MAX / mul)
		return -EINVAL;
	*out = (uint32_t)(v * mul);
	return 0;
}

/* A decimal number <= @max. 0 or -EINVAL. */
int cli_parse_uint(const char *s, uint32_t max, uint32_t *out)
{
	uint64_t v;

	if (parse_u64(s, &v) || v > max)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

/* Bytes as ls -h prints them: "0", "512", "4.0K", "64M", "2.0G". */
void cli_fmt_size(char *buf, size_t size, uint64_t bytes)
{
	static const char units[] = "KMGTPE";
	double v = (double)bytes;
	int u = -1;

	if (bytes < 1024) {
		snprintf(buf, size, "%llu", (unsigned long long)bytes);
		return;
	}
	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	if (v < 9.95)
		snprintf(buf, size, "%.1f%c", v, units[u]);
	else
		snprintf(buf, size, "%.0f%c", v, units[u]);
}

/* A duration, two units at most: "42s", "4m59s", "2h05m", "3d04h". */
void cli_fmt_secs(char *buf, size_t size, uint64_t s)
{
	unsigned long long v = s;

	if (v < 60)
		snprintf(buf, size, "%llus", v);
	else if (v < 3600)
		snprintf(buf, size, "%llum%02llus", v / 60, v % 60);
	else if (v < 86400)
		snprintf(buf, size, "%lluh%02llum", v / 3600, v % 3600 / 60);
	else
		snprintf(buf, size, "%llud%02lluh", v / 86400,
			 v % 86400 / 3600);
}

/* The user name of @uid, or the number when it has none. */
void cli_fmt_owner(char *buf, size_t size, uid_t uid)
{
	struct passwd pw, *res = NULL;
	char tmp[1024];

	if (!getpwuid_r(uid, &pw, tmp, sizeof(tmp), &res) && res)
		snprintf(buf, size, "%s", res->pw_name);
	else
		snprintf(buf, size, "%u", (unsigned int)uid);
}

const char *cli_state_name(uint32_t state)
{
	switch (state) {
	case GL_LEASE_ACTIVE:
		return GL_STATE_ACTIVE;
	case GL_LEASE_EXPIRED:
		return GL_STATE_EXPIRED;
	default:
		return "hidden";
	}
}
