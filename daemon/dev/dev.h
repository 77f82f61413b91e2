/* SPDX-License-Identifier: MIT */
/*
 * Devices: one ops table per backend and the set of probed devices. A
 * backend sees regions and bytes, never leases or the lease table:
 * nothing in daemon/dev/ includes a header outside it but log.h,
 * registry.h (REGISTRY_MAX) and kernels/ (Documentation/architecture.md).
 * dev.c holds what backends and users share; set.c (dev_set_probe,
 * dev_set_teardown) is the only file that names the backends.
 */
#ifndef GL_DEV_H
#define GL_DEV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/kernels.h"

#define GL_MAX_DEVICES 16

struct dev;

/* One lease's memory on a device. Backends extend it (first member). */
struct dev_region {
	struct dev *dev;
	uint64_t bytes;		/* exact size, fixed between resizes */
};

/* One launch of a graph (graph_build): what launch takes. */
struct dev_step {
	const struct gl_kernel *k;
	const struct gl_kargs *args;
	const struct gl_grid *grid;
};

/*
 * The backend contract. All ops return 0 or -errno. A region is used by
 * one thread at a time for resize/release (the lease's mem_lock write
 * side) and by many for copies (its read side). Grown at the end only.
 */
struct dev_ops {
	const char *kind;	/* GL_KIND_CPU, GL_KIND_CUDA */
	/* probe - fill in devices; returns how many were added, or -errno */
	int (*probe)(struct dev *devs, int max, uint64_t cpu_vram);
	/* reserve - commit @bytes (> 0) of real memory: -ENOSPC, -ENOMEM */
	int (*reserve)(struct dev *d, uint64_t bytes, struct dev_region **out);
	/* resize - to @bytes (> 0), keeping the common prefix; on error the
	 * region is unchanged */
	int (*resize)(struct dev_region *r, uint64_t bytes);
	/* release - free at once; never fails */
	void (*release)(struct dev_region *r);
	/* copy_in/copy_out - bounds were checked by the caller */
	int (*copy_in)(struct dev_region *r, uint64_t off, const void *src,
		       size_t len);
	int (*copy_out)(struct dev_region *r, uint64_t off, void *dst,
			size_t len);
	/* zero - clear [off, off + len) */
	int (*zero)(struct dev_region *r, uint64_t off, uint64_t len);
	/* teardown - release the device itself */
	void (*teardown)(struct dev *d);
	/* resolve - the kernel-visible address of [off, off + len) of @r;
	 * bounds were checked by the caller */
	int (*resolve)(struct dev_region *r, uint64_t off, uint64_t len,
		       void **ptr);
	/* launch - run @k to completion or cancellation; the caller holds
	 * the regions the args point into. 0, -EINVAL, -EFAULT, -EIO,
	 * -(*cancel) */
	int (*launch)(struct dev *d, const struct gl_kernel *k,
		      const struct gl_kargs *args, const struct gl_grid *grid,
		      atomic_int *cancel);
	/* wait - until the launches queued on @r's memory with
	 * GL_KARGS_NO_WAIT have ended, seeing @cancel as launch does.
	 * 0, -EIO (a fault), -(*cancel). NULL: launch ignores the flag. */
	int (*wait)(struct dev_region *r, atomic_int *cancel);
	/* load_kernel - load @image (a cubin, fatbin or PTX) and find @k's
	 * function in it, for launches of k->id (>= GL_K_COUNT) later.
	 * NULL where the device runs only built-ins. 0, -EINVAL, -EIO */
	int (*load_kernel)(struct dev *d, const struct gl_kernel *k,
			   const void *image, size_t len);
	/* footprint - the device bytes a region of @bytes really takes
	 * (rounded up to the allocation granularity), UINT64_MAX when that
	 * overflows; NULL: exactly @bytes. What accounting charges. */
	uint64_t (*footprint)(struct dev *d, uint64_t bytes);
	/* resize_moves - resize maps the new size before it frees the old,
	 * so while it runs the region takes both footprints */
	bool resize_moves;
	/* reset - end a failed device: free its memory and end its running
	 * work; the regions it had keep failing with -EIO until released,
	 * and it stays failed (-EIO) until the daemon restarts (a GPU's
	 * driver keeps the fault for the life of the process). 0 for a
	 * ready device. Blocks until its running ops end. NULL: no device
	 * faults. */
	int (*reset)(struct dev *d);
	/* pin - page-lock and register @len bytes of host memory at @p
	 * (page-aligned: an io region) for DMA; unpin undoes it, also on a
	 * failed device. NULL: the device copies from any memory. 0,
	 * -ENOMEM, -EIO */
	int (*pin)(struct dev *d, void *p, size_t len);
	void (*unpin)(struct dev *d, void *p);
	/* graph_build - record the @n launches of @steps (checked,
	 * arguments resolved, all in one region) into one device graph,
	 * *graph, that graph_launch runs whole and graph_free frees.
	 * NULL: the device has none and a chain replays its steps.
	 * 0, -EOPNOTSUPP (some step cannot be recorded: replay), -EINVAL,
	 * -EFAULT (a step's check), -EIO */
	int (*graph_build)(struct dev *d, const struct dev_step *steps,
			   unsigned n, void **graph);
	/* graph_launch - as launch, for the whole graph */
	int (*graph_launch)(struct dev *d, void *graph, atomic_int *cancel);
	void (*graph_free)(struct dev *d, void *graph);
};

struct dev_set;

/* A device's state: devices/<n>/state and gpulease_device_state. */
enum dev_state {
	DEV_READY,		/* serving */
	DEV_FAILED,		/* a sticky fault: its work fails with EIO */
	DEV_UNUSABLE,		/* never usable in this process: capacity 0 */
	DEV_NR_STATES,
};

struct dev {
	int index;
	const struct dev_ops *ops;
	char name[32];
	uint64_t capacity;		/* bytes offered to leases, fixed */
	_Atomic uint64_t used;		/* bytes reserved; written under
					 * the account lock */
	_Atomic uint32_t leases;	/* active leases on it; lease.c */
	void *priv;			/* backend state; NULL when unusable */
	_Atomic int state;		/* enum dev_state; the backend's */
	char reason[160];		/* why not ready: set before state */
	struct dev_set *set;		/* the set it is in, or NULL */
	uint64_t reserved;		/* bytes held outside leases at probe
					 * (context, kernels, cuBLAS, local
					 * memory, other users); fixed */
};

/* dev_state_name - "ready", "failed", "unusable". */
const char *dev_state_name(int state);

/*
 * dev_set_unusable - mark @d, which the backend found but cannot use
 * (e.g. a driver older than the toolkit that built the kernels), with
 * @fmt as its reason: listed in devices/ with capacity 0. Logs the
 * reason as an error. Probe time only.
 */
void dev_set_unusable(struct dev *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * dev_event_fn - device @d failed: @d->state is DEV_FAILED and
 * @d->reason says why; its regions already fail with -EIO. Called on
 * the backend's thread that ends the device, before its reset, with the
 * set's event lock held and no other; the callee may block (it waits
 * for work on the device's regions to end).
 */
typedef void (*dev_event_fn)(void *ctx, struct dev *d);

struct dev_set {
	struct dev devs[GL_MAX_DEVICES];
	int count;
	pthread_mutex_t event_lock;	/* guards event, event_ctx, calls */
	dev_event_fn event;		/* may be NULL */
	void *event_ctx;
};

/*
 * dev_set_events - call @fn(@ctx, d) when a device of @s fails; NULL
 * stops it: once this returns no call is running or will start.
 */
void dev_set_events(struct dev_set *s, dev_event_fn fn, void *ctx);

/* dev_notify - run @d's set's event callback, if any. Backends only. */
void dev_notify(struct dev *d);

/*
 * dev_set_probe - probe the backends; the CPU backend (with @cpu_vram
 * bytes) is added when no other device is ready (unusable ones stay
 * listed before it), or alone with @cpu_only. Returns 0 or -errno.
 */
int dev_set_probe(struct dev_set *s, uint64_t cpu_vram, bool cpu_only);

/* dev_set_get - device @index or NULL. */
struct dev *dev_set_get(struct dev_set *s, unsigned index);

/*
 * dev_footprint - the bytes a region of @bytes takes on @d: what every
 * reservation, resize and release is charged and uncharged (see
 * dev_ops.footprint). Pure; any thread.
 */
uint64_t dev_footprint(struct dev *d, uint64_t bytes);

/*
 * dev_resize_charge - the accounting of a resize of a region of @d from
 * @old to @bytes (exact sizes): *@charge to take before it (covering the
 * old and new footprints at once where the backend moves the region),
 * and *@refund to give back after it succeeds. Pure.
 */
void dev_resize_charge(struct dev *d, uint64_t old, uint64_t bytes,
		       uint64_t *charge, uint64_t *refund);

/* dev_pin, dev_unpin - dev_ops.pin and unpin, no-ops where NULL. */
int dev_pin(struct dev *d, void *p, size_t len);
void dev_unpin(struct dev *d, void *p);

/* dev_set_teardown - release every device. Regions must be gone. */
void dev_set_teardown(struct dev_set *s);

extern const struct dev_ops dev_cpu_ops;
extern const struct dev_ops dev_cuda_ops;

#endif
