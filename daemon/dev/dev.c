/* SPDX-License-Identifier: MIT */
/*
 * Devices: what every backend and every user of a device calls (states,
 * the set's event callback, footprints, pinning). It knows no backend:
 * the backends call it, and set.c, which probes them, sits above both.
 */
#include <stdarg.h>
#include <stdio.h>

#include "daemon/dev/dev.h"
#include "daemon/log.h"

const char *dev_state_name(int state)
{
	static const char *const names[DEV_NR_STATES] = {
		[DEV_READY] = "ready",
		[DEV_FAILED] = "failed",
		[DEV_UNUSABLE] = "unusable",
	};

	if (state < 0 || state >= DEV_NR_STATES)
		return "unknown";
	return names[state];
}

void dev_set_unusable(struct dev *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(d->reason, sizeof(d->reason), fmt, ap);
	va_end(ap);
	d->capacity = 0;
	d->priv = NULL;
	atomic_store(&d->state, DEV_UNUSABLE);
	gl_info("error: %s: unusable: %s", d->name, d->reason);
}

struct dev *dev_set_get(struct dev_set *s, unsigned index)
{
	if (index >= (unsigned)s->count)
		return NULL;
	return &s->devs[index];
}

void dev_set_events(struct dev_set *s, dev_event_fn fn, void *ctx)
{
	pthread_mutex_lock(&s->event_lock);
	s->event = fn;
	s->event_ctx = ctx;
	pthread_mutex_unlock(&s->event_lock);
}

void dev_notify(struct dev *d)
{
	struct dev_set *s = d->set;

	if (!s)
		return;
	pthread_mutex_lock(&s->event_lock);
	if (s->event)
		s->event(s->event_ctx, d);
	pthread_mutex_unlock(&s->event_lock);
}

int dev_pin(struct dev *d, void *p, size_t len)
{
	return d->ops->pin ? d->ops->pin(d, p, len) : 0;
}

void dev_unpin(struct dev *d, void *p)
{
	if (d->ops->unpin)
		d->ops->unpin(d, p);
}

uint64_t dev_footprint(struct dev *d, uint64_t bytes)
{
	return d->ops->footprint ? d->ops->footprint(d, bytes) : bytes;
}

void dev_resize_charge(struct dev *d, uint64_t old, uint64_t bytes,
		       uint64_t *charge, uint64_t *refund)
{
	uint64_t fold = dev_footprint(d, old), fnew = dev_footprint(d, bytes);

	if (d->ops->resize_moves && old && bytes && fnew != fold)
		*charge = fnew;		/* both live while it copies */
	else
		*charge = fnew > fold ? fnew - fold : 0;
	/* after: exactly fnew stays charged (fold + charge - fnew >= 0) */
	*refund = fold - (fnew - *charge);
}
