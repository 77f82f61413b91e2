/* SPDX-License-Identifier: MIT */
/*
 * The directory of a daemon's io files: <parent>/gpulease.<pid>, mode
 * 0711 (owners open their files by path, nobody lists them). A daemon
 * that died without cleaning up (SIGKILL, a crash) leaves its directory
 * behind; the next daemon sweeps every such directory whose pid is gone.
 */
#ifndef GL_IODIR_H
#define GL_IODIR_H

#include <stddef.h>

/*
 * iodir_create - sweep the directories of dead daemons under @parent,
 * then make this daemon's, its path into @out (@size bytes). Returns 0
 * or -errno.
 */
int iodir_create(const char *parent, char *out, size_t size);

/* iodir_remove - remove @dir and whatever is left in it. */
void iodir_remove(const char *dir);

#endif
