/* SPDX-License-Identifier: MIT */
/*
 * The directory of a daemon's io files: <parent>/gpulease.XXXXXX (a
 * unique name), owned by root, mode 0711 (owners open their files by
 * path, nobody lists them), kept open and flock()ed by its daemon for as
 * long as it runs. A daemon that died without cleaning up (SIGKILL, a
 * crash) leaves its directory behind, unlocked; the next daemon sweeps it.
 */
#ifndef GL_IODIR_H
#define GL_IODIR_H

#include <stddef.h>

/*
 * iodir_create - sweep the directories of dead daemons under @parent,
 * then make this daemon's, its path into @out (@size bytes). Returns the
 * directory's fd (O_CLOEXEC, holding the lock that marks the daemon
 * alive) or -errno.
 */
int iodir_create(const char *parent, char *out, size_t size);

/* iodir_remove - remove @dir (open as @fd) and the files left in it, then
 * close @fd. A negative @fd does nothing. */
void iodir_remove(const char *dir, int fd);

#endif
