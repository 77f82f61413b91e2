/* SPDX-License-Identifier: MIT */
/*
 * loop.h: the worker settings of libfuse's multi-threaded loop, shared by
 * gpuleased (fusefs/main.c) and the lease-ops bench's baseline
 * filesystem (tools/bench/nullfs.c), so the baseline serves as the
 * daemon does. Include after fuse_lowlevel.h (FUSE_USE_VERSION 312).
 */
#ifndef GL_FUSEFS_LOOP_H
#define GL_FUSEFS_LOOP_H

/*
 * FS_MAX_THREADS - the most worker threads the loop may start. A read
 * of a model's infer file waits on its worker until the answer has
 * bytes (fs_infer_read), so every client waiting for an answer holds
 * one: with libfuse's default of 10, ten of them left every other
 * request to the mount, any tenant's, queued in the kernel until a pass
 * ended (16 mlp clients then got about 5.5 rows a pass, not 16;
 * Documentation/performance.md, "mlp"). A model holds at most
 * max_batch + max_queue requests (65 by default), so 1024 workers serve
 * a dozen busy models; past 1024 waiting readers the stall comes back,
 * which only a read that replies later, holding no worker, would remove.
 */
#define FS_MAX_THREADS	1024

/* FS_IDLE_THREADS - the workers kept waiting; those beyond end when
 * their request does. */
#define FS_IDLE_THREADS	16

/* fs_loop_cfg_new - a loop configuration with the settings above, or
 * NULL (no memory); fuse_loop_cfg_destroy() frees it. */
static inline struct fuse_loop_config *fs_loop_cfg_new(void)
{
	struct fuse_loop_config *loop = fuse_loop_cfg_create();

	if (!loop)
		return NULL;
	fuse_loop_cfg_set_clone_fd(loop, 0);
	fuse_loop_cfg_set_idle_threads(loop, FS_IDLE_THREADS);
	fuse_loop_cfg_set_max_threads(loop, FS_MAX_THREADS);
	return loop;
}

#endif
