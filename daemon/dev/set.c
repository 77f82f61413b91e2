/* SPDX-License-Identifier: MIT */
/*
 * The device set: probes the backends once at start and tears them
 * down at the end; the only file that names every backend's ops table.
 * Invariant: devices are indexed 0..count-1 and never change after
 * dev_set_probe().
 */
#include <errno.h>
#include <string.h>

#include "daemon/dev/dev.h"

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

void dev_set_teardown(struct dev_set *s)
{
	int i;

	for (i = 0; i < s->count; i++)
		s->devs[i].ops->teardown(&s->devs[i]);
	s->count = 0;
}
