/* SPDX-License-Identifier: MIT */
/*
 * Launches through leases/<name>/submit, in the text form or as a
 * struct gl_launch_desc, and helpers that fill the struct.
 *
 * Invariant: a descriptor is one write(2); the write returns when the
 * launch finished, so the call's result is the launch's.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "tools/lib/internal.h"

static int submit_write(struct gl *g, const char *name, const void *buf,
			size_t len)
{
	int fd, err;

	fd = gl_lease_openat(g, name, "submit", O_WRONLY);
	if (fd < 0)
		return fd;
	err = __gl_write_fd(fd, buf, len);
	close(fd);
	return err;
}

/*
 * gl_submit_text - run one text descriptor ("noop grid=1", see
 * Documentation/kernels.md) on lease @name and wait for it. Returns 0, or
 * the launch's -errno: -EINVAL (malformed, unknown kernel), -EFAULT
 * (buffer outside the lease), -EFBIG (line over GL_LAUNCH_TEXT_MAX),
 * -ETIMEDOUT, -EIO, -EKEYEXPIRED, -ENOENT, -EACCES, -ENOTCONN.
 */
GL_EXPORT int gl_submit_text(struct gl *g, const char *name,
			     const char *line)
{
	size_t len = strlen(line);

	if (len > GL_LAUNCH_TEXT_MAX)
		return -EFBIG;
	return submit_write(g, name, line, len);
}

/*
 * gl_submit - run @desc, the binary form, on lease @name and wait for it.
 * Returns 0 or -errno as gl_submit_text(); -EINVAL when desc->nargs is
 * over GL_LAUNCH_ARGS_MAX.
 */
GL_EXPORT int gl_submit(struct gl *g, const char *name,
			const struct gl_launch_desc *desc)
{
	if (desc->nargs > GL_LAUNCH_ARGS_MAX)
		return -EINVAL;
	return submit_write(g, name, desc, GL_LAUNCH_DESC_SIZE(desc->nargs));
}

/*
 * gl_launch_init - start @desc for @kernel on a 1-D grid of @grid blocks
 * of @block threads, with no arguments. Returns 0, or -EINVAL for an
 * empty name, one of GL_KERNEL_NAME_MAX bytes or more, or a zero size.
 */
GL_EXPORT int gl_launch_init(struct gl_launch_desc *desc, const char *kernel,
			     uint32_t grid, uint32_t block)
{
	size_t len = strlen(kernel);

	if (!len || len >= GL_KERNEL_NAME_MAX || !grid || !block)
		return -EINVAL;
	memset(desc, 0, sizeof(*desc));
	desc->magic = GL_LAUNCH_MAGIC;
	desc->version = GL_LAUNCH_VERSION;
	memcpy(desc->kernel, kernel, len);
	desc->grid[0] = grid;
	desc->grid[1] = desc->grid[2] = 1;
	desc->block[0] = block;
	desc->block[1] = desc->block[2] = 1;
	return 0;
}

/*
 * gl_launch_arg - append an argument: a value (@len 0) for the number
 * types, the bytes [@value, @value + @len) of vram or io for GL_ARG_BUF and
 * GL_ARG_IO. A GL_ARG_I32 value is the int32_t sign-extended. Returns 0,
 * -E2BIG when @desc holds GL_LAUNCH_ARGS_MAX already, -EINVAL for an
 * unknown type or a length on a number.
 */
GL_EXPORT int gl_launch_arg(struct gl_launch_desc *desc,
			    enum gl_arg_type type, uint64_t value,
			    uint64_t len)
{
	struct gl_launch_arg *a;

	if (desc->nargs >= GL_LAUNCH_ARGS_MAX)
		return -E2BIG;
	switch (type) {
	case GL_ARG_U32:
	case GL_ARG_I32:
	case GL_ARG_U64:
	case GL_ARG_F32:
	case GL_ARG_F64:
		if (len)
			return -EINVAL;
		break;
	case GL_ARG_BUF:
	case GL_ARG_IO:
		break;
	default:
		return -EINVAL;
	}
	a = &desc->args[desc->nargs++];
	a->type = (uint32_t)type;
	a->reserved = 0;
	a->value = value;
	a->len = len;
	return 0;
}

/* gl_launch_arg_f32 - append an f32 argument. 0 or -E2BIG. */
GL_EXPORT int gl_launch_arg_f32(struct gl_launch_desc *desc, float value)
{
	uint32_t bits;

	memcpy(&bits, &value, sizeof(bits));
	return gl_launch_arg(desc, GL_ARG_F32, bits, 0);
}

/* gl_launch_arg_f64 - append an f64 argument. 0 or -E2BIG. */
GL_EXPORT int gl_launch_arg_f64(struct gl_launch_desc *desc, double value)
{
	uint64_t bits;

	memcpy(&bits, &value, sizeof(bits));
	return gl_launch_arg(desc, GL_ARG_F64, bits, 0);
}
