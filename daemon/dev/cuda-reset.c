/* SPDX-License-Identifier: MIT */
/*
 * The end of a CUDA device after a fault. An illegal or misaligned
 * address (and the other errors cuda_sticky() names) leaves the context
 * unusable; so does a kernel that runs on past its grace period after
 * its launch was cancelled, since only a reset of the context ends it.
 * Either marks the device failed (devices/<n>/state,
 * gpulease_device_state) through cuda_dev_fail() in cuda-ctx.c, which
 * starts a thread that:
 *
 *   1. kills every region on the device: resolve and every op on it
 *      give -EIO from then on, so no new work reaches its memory;
 *   2. runs the device set's event callback: the broker waits for each
 *      of the device's leases' running work to end and tells its owner
 *      why in ctl;
 *   3. calls cuda_reset() here, through the ops table: with every op out
 *      of the gate, bury the regions' memory, tear the context down and
 *      cuDevicePrimaryCtxReset, which frees the device's memory and ends
 *      any kernel still running.
 *
 * The device then stays failed until the daemon restarts, its reason
 * saying so: the driver keeps the fault for the life of the process. On
 * an H200 (driver 580.159.04) cuDevicePrimaryCtxRetain after the reset
 * still returned 716 after a misaligned access and 700 after ending a
 * runaway kernel, as NVIDIA documents for these errors ("the process
 * must be terminated"). Every other device serves on.
 *
 * Invariant: state goes ready -> failed only under fail_lock, and never
 * back; a dead region never becomes live again.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "daemon/dev/cuda-dev.h"
#include "daemon/log.h"

int cuda_reset(struct dev *d)
{
	static const char tail[] = "; its memory is freed; only a restart "
				   "of the daemon brings it back";
	struct cuda_dev *cd = d->priv;
	struct cuda_region *r;
	size_t n;

	if (!cd)
		return -EIO;	/* unusable: there is nothing to reset */
	if (atomic_load(&d->state) == DEV_READY)
		return 0;
	pthread_mutex_lock(&cd->reset_lock);
	if (!cd->ctx)		/* torn down already */
		goto out;
	cuda_kill_regions(cd);
	pthread_rwlock_wrlock(&cd->gate);
	cuda_enter(cd);
	pthread_mutex_lock(&cd->lock);
	for (r = cd->regions; r; r = r->next)
		cuda_region_bury(r);
	pthread_mutex_unlock(&cd->lock);
	cuda_ctx_down(cd);
	cuda_err(cuda.cu.DevicePrimaryCtxReset(cd->cudev),
		 "cuDevicePrimaryCtxReset");
	cuda.cu.CtxSetCurrent(NULL);
	n = strnlen(d->reason, sizeof(d->reason));
	snprintf(d->reason + n, sizeof(d->reason) - n, "%s", tail);
	gl_info("error: cuda: %s stays failed: %s", d->name, d->reason);
	pthread_rwlock_unlock(&cd->gate);
out:
	pthread_mutex_unlock(&cd->reset_lock);
	return -EIO;
}
