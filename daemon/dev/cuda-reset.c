/* SPDX-License-Identifier: MIT */
/*
 * Recovery of the CUDA device from a sticky fault. An illegal or
 * misaligned address (and the other errors cuda_sticky() names) leaves
 * the whole context unusable until it is reset; so does a kernel that
 * runs on past its grace period after its launch was cancelled, since
 * a reset is the only way to end it. Either marks the device failed
 * (devices/<n>/state, gpulease_device_state) through cuda_dev_fail()
 * in cuda-ctx.c, which starts a recovery thread:
 *
 *   1. every region on the device dies: resolve and every op on it give
 *      -EIO from then on, so no new work reaches its memory;
 *   2. the device set's event callback runs: the broker waits for each
 *      of the device's leases' running work to end and tells its owner
 *      why in ctl;
 *   3. cuda_reset() here, reached through the ops table: with every op
 *      out of the gate, bury the regions' memory, tear the context down,
 *      cuDevicePrimaryCtxReset, and make it again with its fatbin and
 *      registered modules; ready.
 *
 * Other devices never stop. Invariant: state goes ready -> failed only
 * under fail_lock, failed -> ready only in cuda_reset() with the gate's
 * write side held; a dead region never becomes live again.
 */
#include <errno.h>
#include <stdio.h>

#include "daemon/dev/cuda-dev.h"
#include "daemon/log.h"

int cuda_reset(struct dev *d)
{
	struct cuda_dev *cd = d->priv;
	struct cuda_region *r;
	int err;

	if (!cd)
		return -EIO;	/* unusable: there is nothing to reset */
	pthread_mutex_lock(&cd->reset_lock);
	if (atomic_load(&d->state) == DEV_READY) {
		pthread_mutex_unlock(&cd->reset_lock);
		return 0;
	}
	cuda_kill_regions(cd);
	pthread_rwlock_wrlock(&cd->gate);
	if (cd->ctx)
		cuda_enter(cd);
	pthread_mutex_lock(&cd->lock);
	for (r = cd->regions; r; r = r->next)
		cuda_region_bury(r);
	pthread_mutex_unlock(&cd->lock);
	cuda_ctx_down(cd);
	err = cuda_err(cuda.cu.DevicePrimaryCtxReset(cd->cudev),
		       "cuDevicePrimaryCtxReset");
	if (!err)
		err = cuda_ctx_up(cd, d);
	if (err) {
		cuda_ctx_down(cd);
		snprintf(d->reason, sizeof(d->reason),
			 "the reset after a fault failed: restart the daemon");
		gl_info("error: cuda: %s: %s", d->name, d->reason);
	} else {
		d->reason[0] = '\0';
		atomic_store(&d->state, DEV_READY);
		gl_info("cuda: %s recovered: context and kernels reloaded",
			d->name);
	}
	cuda.cu.CtxSetCurrent(NULL);
	pthread_rwlock_unlock(&cd->gate);
	pthread_mutex_unlock(&cd->reset_lock);
	return err ? -EIO : 0;
}
