/* SPDX-License-Identifier: MIT */
/*
 * The device set: probes the backends once at start. Invariant: devices
 * are indexed 0..count-1 and never change after dev_set_probe().
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "daemon/dev.h"
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

/* Whether any of the first @n devices of @s serves. */
static bool dev_set_ready(const struct dev_set *s, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (atomic_load(&s->devs[i].state) == DEV_READY)
			return true;
	return false;
}

/* In order; the CPU backend comes last and only where nothing else is. */
static const struct dev_ops *const backends[] = {
	&dev_cuda_ops,
	&dev_cpu_ops,
};

int dev_set_probe(struct dev_set *s, uint64_t cpu_vram, bool cpu_only)
{
	size_t i;
	int n;

	memset(s, 0, sizeof(*s));
	s->event_lock = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
	for (i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
		const struct dev_ops *ops = backends[i];
		int j;

		if (ops == &dev_cpu_ops && dev_set_ready(s, s->count))
			break;
		if (ops != &dev_cpu_ops && cpu_only)
			continue;
		n = ops->probe(s->devs + s->count, GL_MAX_DEVICES - s->count,
			       cpu_vram);
		if (n < 0)
			continue;
		for (j = s->count; j < s->count + n; j++) {
			s->devs[j].index = j;
			s->devs[j].ops = ops;
			s->devs[j].set = s;
		}
		s->count += n;
	}
	return s->count ? 0 : -ENODEV;
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

void dev_set_teardown(struct dev_set *s)
{
	int i;

	for (i = 0; i < s->count; i++)
		s->devs[i].ops->teardown(&s->devs[i]);
	s->count = 0;
}
