/* SPDX-License-Identifier: MIT */
/*
 * verbs: the few file-system steps the benchmarks take on a gpulease
 * mount outside their timed loops: write a line, acquire a lease, copy
 * bytes in and out of its vram. Every failure is printed with the
 * program's name, the path and the errno, and returned as -errno.
 */
#ifndef GL_BENCH_VERBS_H
#define GL_BENCH_VERBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* verb_fail() - print "PROG: WHAT PATH: strerror(-ERR)"; returns ERR. */
int verb_fail(const char *what, const char *path, int err);

/*
 * verb_write_file() - open PATH, write LINE in one write, close.
 * Returns 0 or -errno.
 */
int verb_write_file(const char *path, const char *line);

/*
 * verb_create_file() - create or truncate PATH (mode 0644) and write LEN
 * bytes of BUF into it in one write. Returns 0 or -errno.
 */
int verb_create_file(const char *path, const void *buf, size_t len);

/*
 * verb_acquire() - acquire lease NAME with VRAM bytes through MNT's
 * leases/ctl and put its directory, MNT/leases/NAME, into DIR (SIZE
 * bytes). Returns 0 or -errno (ENOSPC, EEXIST, ... as the daemon says).
 */
int verb_acquire(const char *mnt, const char *name, uint64_t vram,
		 char *dir, size_t size);

/*
 * verb_vram_io() - copy LEN bytes between BUF and the vram file of lease
 * directory DIR at byte OFF: into vram with WRITE_IT, else out of it.
 * Short transfers are continued. Returns 0 or -errno (-EIO at EOF).
 */
int verb_vram_io(const char *dir, void *buf, size_t len, off_t off,
		 bool write_it);

#endif /* GL_BENCH_VERBS_H */
