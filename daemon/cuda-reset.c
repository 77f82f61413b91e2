/* SPDX-License-Identifier: MIT */
/*
 * Sticky faults on the CUDA device and its recovery. An illegal or
 * misaligned address (and the other errors cuda_sticky() names) leaves
 * the whole context unusable until it is reset; so does a kernel that
 * runs on past its grace period after its launch was cancelled, since
 * a reset is the only way to end it. Either marks the device failed
 * (devices/<n>/state, gpulease_device_state) and starts a recovery
 * thread:
 *
 *   1. every region on the device dies: resolve and every op on it give
 *      -EIO from then on, so no new work reaches its memory;
 *   2. the device set's event callback runs: the broker waits for each
 *      of the device's leases' running work to end and tells its owner
 *      why in ctl;
 *   3. cuda_reset(): with every op out of the gate, bury the regions'
 *      memory, tear the context down, cuDevicePrimaryCtxReset, and make
 *      it again with its fatbin and registered modules; ready.
 *
 * Other devices never stop. Invariant: state goes ready -> failed only
 * under fail_lock, failed -> ready only in cuda_reset() with the gate's
 * write side held; a dead region never becomes live again.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "daemon/cuda-dev.h"
#include "daemon/log.h"

bool cuda_sticky(CUresult rc)
{
	switch (rc) {
	case CUDA_ERROR_ILLEGAL_ADDRESS:
	case CUDA_ERROR_LAUNCH_TIMEOUT:
	case CUDA_ERROR_HARDWARE_STACK_ERROR:
	case CUDA_ERROR_ILLEGAL_INSTRUCTION:
	case CUDA_ERROR_MISALIGNED_ADDRESS:
	case CUDA_ERROR_INVALID_ADDRESS_SPACE:
	case CUDA_ERROR_INVALID_PC:
	case CUDA_ERROR_LAUNCH_FAILED:
		return true;
	default:
		return false;
	}
}

/* Step 1: every region's memory is lost to the device's owners. */
static void cuda_kill_regions(struct cuda_dev *cd)
{
	struct cuda_region *r;

	pthread_mutex_lock(&cd->lock);
	for (r = cd->regions; r; r = r->next)
		atomic_store(&r->dead, true);
	pthread_mutex_unlock(&cd->lock);
}

static void *cuda_recover_main(void *arg)
{
	struct cuda_dev *cd = arg;

	cuda_kill_regions(cd);
	dev_notify(cd->dev);
	cuda_reset(cd->dev);
	return NULL;
}

void cuda_dev_fail(struct cuda_dev *cd, const char *fmt, ...)
{
	struct dev *d = cd->dev;
	va_list ap;
	int err;

	if (!d || d->priv != cd)
		return;		/* still probing: not a device yet */
	/* failed already: the recovery's own calls end here, lock-free */
	if (atomic_load(&d->state) != DEV_READY)
		return;
	pthread_mutex_lock(&cd->fail_lock);
	if (atomic_load(&d->state) != DEV_READY)
		goto out;
	va_start(ap, fmt);
	vsnprintf(d->reason, sizeof(d->reason), fmt, ap);
	va_end(ap);
	atomic_store(&d->state, DEV_FAILED);
	gl_info("error: cuda: %s failed: %s; its leases' memory is lost, "
		"the device is being reset", d->name, d->reason);
	/* a previous recovery is past its reset: it ended or ends soon */
	if (cd->recovery_started)
		pthread_join(cd->recovery, NULL);
	err = pthread_create(&cd->recovery, NULL, cuda_recover_main, cd);
	cd->recovery_started = !err;
	if (err)
		gl_info("error: cuda: %s: no thread to recover it (%s)",
			d->name, gl_errno_name(err));
out:
	pthread_mutex_unlock(&cd->fail_lock);
}

void cuda_recovery_join(struct cuda_dev *cd)
{
	pthread_mutex_lock(&cd->fail_lock);
	if (cd->recovery_started)
		pthread_join(cd->recovery, NULL);
	cd->recovery_started = false;
	pthread_mutex_unlock(&cd->fail_lock);
}

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
