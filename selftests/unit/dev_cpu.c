/* SPDX-License-Identifier: MIT */
/*
 * dev_cpu.c - the CPU backend through the device layer alone: the set
 * probes it, regions hold bytes across copies, zeroing and resizes, a
 * region of 2 MiB or more is aligned for huge pages and resident from
 * its reserve on, and a size no host has is ENOSPC, the region kept; a
 * twin runs on the worker pool and refuses bad buffers and cancelled
 * launches, and the set's event callback and accounting helpers work;
 * without OpenBLAS (GL_LIBBLAS naming no file) the device is listed
 * unusable with the reason, and a matmul fails with EIO.
 * It links $(dev-y), the log and kernels/ only (Kbuild: unit-dev_cpu-y):
 * that the link succeeds is the proof that no backend needs a lease or
 * the broker (Documentation/architecture.md).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "daemon/dev/dev.h"
#include "kernels/blas.h"
#include "selftests/harness.h"
#include "uapi/gpulease.h"

#define KIB 1024ull
#define MIB (1024 * KIB)

static struct dev *cpu_only(struct dev_set *s)
{
	if (dev_set_probe(s, 64 * MIB, true) || s->count != 1)
		return NULL;
	return dev_set_get(s, 0);
}

TEST(probe_cpu_only)
{
	struct dev_set s;
	struct dev *d;

	d = cpu_only(&s);
	ASSERT_NE(d, NULL);
	EXPECT_TRUE(d->ops == &dev_cpu_ops);
	EXPECT_STREQ(d->ops->kind, GL_KIND_CPU);
	EXPECT_STREQ(d->name, "cpu0");
	EXPECT_EQ(d->index, 0);
	EXPECT_TRUE(d->set == &s);
	EXPECT_EQ(d->capacity, 64 * MIB);
	EXPECT_STREQ(dev_state_name(atomic_load(&d->state)), "ready");
	EXPECT_STREQ(dev_state_name(DEV_NR_STATES), "unknown");
	EXPECT_TRUE(dev_set_get(&s, 1) == NULL);
	dev_set_teardown(&s);
	EXPECT_EQ(s.count, 0);
}

TEST(region_bytes_survive_copies_zero_and_resize)
{
	unsigned char in[8192], out[16384];
	struct dev_region *r;
	struct dev_set s;
	struct dev *d;
	size_t i;

	d = cpu_only(&s);
	ASSERT_NE(d, NULL);
	ASSERT_EQ(d->ops->reserve(d, sizeof(in), &r), 0);
	EXPECT_EQ(r->bytes, sizeof(in));
	EXPECT_TRUE(r->dev == d);
	for (i = 0; i < sizeof(in); i++)
		in[i] = (unsigned char)(i * 7 + 1);
	ASSERT_EQ(d->ops->copy_in(r, 0, in, sizeof(in)), 0);
	ASSERT_EQ(d->ops->copy_out(r, 0, out, sizeof(in)), 0);
	EXPECT_EQ(memcmp(in, out, sizeof(in)), 0);

	ASSERT_EQ(d->ops->zero(r, 100, 50), 0);
	ASSERT_EQ(d->ops->copy_out(r, 90, out, 70), 0);
	EXPECT_EQ(out[9], in[99]);
	for (i = 10; i < 60; i++)
		EXPECT_EQ(out[i], 0);
	EXPECT_EQ(out[60], in[150]);

	/* grow: the prefix stays, the rest reads zero */
	ASSERT_EQ(d->ops->resize(r, sizeof(out)), 0);
	EXPECT_EQ(r->bytes, sizeof(out));
	ASSERT_EQ(d->ops->copy_out(r, 0, out, sizeof(out)), 0);
	EXPECT_EQ(memcmp(out + 200, in + 200, sizeof(in) - 200), 0);
	for (i = sizeof(in); i < sizeof(out); i++)
		EXPECT_EQ(out[i], 0);
	/* shrink: the common prefix stays */
	ASSERT_EQ(d->ops->resize(r, 4 * KIB), 0);
	EXPECT_EQ(r->bytes, 4 * KIB);
	ASSERT_EQ(d->ops->copy_out(r, 4 * KIB - 16, out, 16), 0);
	EXPECT_EQ(memcmp(out, in + 4 * KIB - 16, 16), 0);
	d->ops->release(r);
	dev_set_teardown(&s);
}

/* every page of [p, p + len) resident: populated, not promised */
static bool all_resident(void *p, uint64_t len)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t n = (size_t)((len + (uint64_t)page - 1) / (uint64_t)page), i;
	unsigned char *vec = calloc(n, 1);
	bool all = vec && !mincore(p, len, vec);

	for (i = 0; all && i < n; i++)
		all = vec[i] & 1;
	free(vec);
	return all;
}

/* /proc/sys/vm/overcommit_memory, or -1 */
static int overcommit_mode(void)
{
	FILE *f = fopen("/proc/sys/vm/overcommit_memory", "r");
	int mode = -1;

	if (f && fscanf(f, "%d", &mode) != 1)
		mode = -1;
	if (f)
		fclose(f);
	return mode;
}

/*
 * A region of 2 MiB or more starts on a 2 MiB boundary (where the kernel
 * can give it huge pages) and is resident from the reserve on; a grow
 * keeps both and the prefix, a shrink keeps the prefix; a size no host
 * could supply is ENOSPC at reserve and at resize, the region unchanged.
 */
TEST(large_region_aligned_resident_and_refused_whole)
{
	const uint64_t huge = 2 * MIB, big = 6 * MIB + 4 * KIB;
	const uint64_t too_big = 1ull << 46;	/* 64 TiB */
	unsigned char buf[4096];
	struct dev_region *r, *no = NULL;
	struct dev_set s;
	struct dev *d;
	void *p, *q;
	size_t i;

	d = cpu_only(&s);
	ASSERT_NE(d, NULL);
	ASSERT_EQ(d->ops->reserve(d, big, &r), 0);
	ASSERT_EQ(d->ops->resolve(r, 0, big, &p), 0);
	EXPECT_EQ((uintptr_t)p % huge, 0);
	EXPECT_TRUE(all_resident(p, big));
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)(i * 13 + 5);
	ASSERT_EQ(d->ops->copy_in(r, big - sizeof(buf), buf, sizeof(buf)), 0);

	ASSERT_EQ(d->ops->resize(r, 10 * MIB), 0);
	ASSERT_EQ(d->ops->resolve(r, 0, 10 * MIB, &q), 0);
	EXPECT_EQ((uintptr_t)q % huge, 0);
	EXPECT_TRUE(all_resident(q, 10 * MIB));
	EXPECT_EQ(memcmp((char *)q + big - sizeof(buf), buf, sizeof(buf)), 0);
	EXPECT_EQ(((char *)q)[10 * MIB - 1], 0);

	/* refused whole: the region is as it was; a host that always
	 * overcommits would map 64 TiB and populate until its OOM killer */
	if (overcommit_mode() == 1)
		SKIP(goto out, "vm.overcommit_memory is 1: nothing is refused");
	EXPECT_EQ(d->ops->reserve(d, too_big, &no), -ENOSPC);
	EXPECT_TRUE(no == NULL);
	EXPECT_EQ(d->ops->resize(r, too_big), -ENOSPC);
	EXPECT_EQ(r->bytes, 10 * MIB);
	ASSERT_EQ(d->ops->resolve(r, 0, 10 * MIB, &p), 0);
	EXPECT_TRUE(p == q);
	EXPECT_EQ(memcmp((char *)p + big - sizeof(buf), buf, sizeof(buf)), 0);

	ASSERT_EQ(d->ops->resize(r, 3 * MIB), 0);
	EXPECT_EQ(r->bytes, 3 * MIB);
	ASSERT_EQ(d->ops->resolve(r, 0, 3 * MIB, &p), 0);
	EXPECT_TRUE(p == q);
out:
	d->ops->release(r);
	dev_set_teardown(&s);
}

static void karg(struct gl_kargs *a, enum gl_ktype t, uint32_t u, float f,
		 void *p, uint64_t len)
{
	struct gl_karg *v = &a->v[a->count++];

	v->type = t;
	if (t == GL_KT_U32)
		v->u32 = u;
	else if (t == GL_KT_F32)
		v->f32 = f;
	else
		v->buf = (struct gl_kbuf){ .ptr = p, .len = len };
}

TEST(saxpy_runs_on_the_pool)
{
	const struct gl_kernel *k = gl_kernel_find("saxpy");
	struct gl_grid g = { { 4, 1, 1 }, { 256, 1, 1 } };
	float x[1000], y[1000], got[1000];
	struct gl_kargs a = { 0 };
	atomic_int cancel = 0;
	struct dev_region *r;
	struct dev_set s;
	struct dev *d;
	void *px, *py;
	int i;

	ASSERT_NE(k, NULL);
	d = cpu_only(&s);
	ASSERT_NE(d, NULL);
	ASSERT_EQ(d->ops->reserve(d, 8 * KIB, &r), 0);
	for (i = 0; i < 1000; i++) {
		x[i] = (float)i;
		y[i] = 1.0f;
	}
	ASSERT_EQ(d->ops->copy_in(r, 0, x, sizeof(x)), 0);
	ASSERT_EQ(d->ops->copy_in(r, 4 * KIB, y, sizeof(y)), 0);
	ASSERT_EQ(d->ops->resolve(r, 0, sizeof(x), &px), 0);
	ASSERT_EQ(d->ops->resolve(r, 4 * KIB, sizeof(y), &py), 0);
	karg(&a, GL_KT_U32, 1000, 0, NULL, 0);
	karg(&a, GL_KT_F32, 0, 2.0f, NULL, 0);
	karg(&a, GL_KT_BUF, 0, 0, px, sizeof(x));
	karg(&a, GL_KT_BUF, 0, 0, py, sizeof(y));
	ASSERT_EQ(d->ops->launch(d, k, &a, &g, &cancel), 0);
	ASSERT_EQ(d->ops->copy_out(r, 4 * KIB, got, sizeof(got)), 0);
	for (i = 0; i < 1000; i++)
		EXPECT_EQ(got[i], 2.0f * (float)i + 1.0f);

	/* y one float short: refused before anything runs */
	a.v[3].buf.len = sizeof(y) - 4;
	EXPECT_EQ(d->ops->launch(d, k, &a, &g, &cancel), -EFAULT);
	a.v[3].buf.len = sizeof(y);
	/* cancelled before its first block */
	atomic_store(&cancel, ECANCELED);
	EXPECT_EQ(d->ops->launch(d, k, &a, &g, &cancel), -ECANCELED);
	d->ops->release(r);
	dev_set_teardown(&s);
}

/* The harness runs each test in a child of its own: the first gl_blas()
 * of this one opens what GL_LIBBLAS names. */
TEST(no_openblas_is_unusable)
{
	const struct gl_kernel *k = gl_kernel_find("matmul");
	struct gl_grid g = { { 1, 1, 1 }, { 256, 1, 1 } };
	float x = 2.0f, w = 3.0f, y = 0.0f;
	struct gl_kargs a = { 0 };
	struct gl_kctx ctx = { NULL, 0, 1 };
	struct dev_set s;
	struct dev *d;
	int i;

	ASSERT_EQ(setenv("GL_LIBBLAS", "/nonexistent/libopenblas.so.0", 1),
		  0);
	d = cpu_only(&s);
	ASSERT_NE(d, NULL);
	EXPECT_STREQ(dev_state_name(atomic_load(&d->state)), "unusable");
	EXPECT_EQ(d->capacity, 0u);
	EXPECT_TRUE(strstr(d->reason, "OpenBLAS") &&
		    strstr(d->reason, "/nonexistent/libopenblas.so.0"))
		TH_LOG("reason: %s", d->reason);
	EXPECT_TRUE(gl_blas() == NULL);
	EXPECT_EQ(gl_kernel_cpu_init(1), -ELIBACC);
	/* y = x w, 1 x 1 x 1, B not transposed: OpenBLAS's product */
	for (i = 0; i < 3; i++)
		karg(&a, GL_KT_U32, 1, 0, NULL, 0);	/* m, n, k */
	for (i = 0; i < 6; i++)		/* trans, batch, lds */
		karg(&a, GL_KT_U32, i == 2, 0, NULL, 0);
	for (i = 0; i < 3; i++) {	/* strides */
		a.v[a.count].type = GL_KT_U64;
		a.v[a.count++].u64 = 0;
	}
	karg(&a, GL_KT_F32, 0, 1.0f, NULL, 0);
	karg(&a, GL_KT_F32, 0, 0.0f, NULL, 0);
	karg(&a, GL_KT_BUF, 0, 0, &x, sizeof(x));
	karg(&a, GL_KT_BUF, 0, 0, &w, sizeof(w));
	karg(&a, GL_KT_BUF, 0, 0, &y, sizeof(y));
	ASSERT_NE(k, NULL);
	EXPECT_EQ(k->check(&a, &g), 0);
	EXPECT_EQ(k->cpu(&a, &g, &ctx), -EIO);
	dev_set_teardown(&s);
}

static void on_event(void *ctx, struct dev *d)
{
	struct dev **seen = ctx;

	*seen = d;
}

TEST(events_and_accounting_helpers)
{
	struct dev *seen = NULL;
	uint64_t charge, refund;
	struct dev_set s;
	struct dev *d;

	d = cpu_only(&s);
	ASSERT_NE(d, NULL);
	dev_set_events(&s, on_event, &seen);
	dev_notify(d);
	EXPECT_TRUE(seen == d);
	seen = NULL;
	dev_set_events(&s, NULL, NULL);
	dev_notify(d);
	EXPECT_TRUE(seen == NULL);

	/* no footprint op: a region takes exactly its bytes */
	EXPECT_EQ(dev_footprint(d, 4097), 4097ull);
	dev_resize_charge(d, 100, 300, &charge, &refund);
	EXPECT_EQ(charge, 200ull);
	EXPECT_EQ(refund, 0ull);
	dev_resize_charge(d, 300, 100, &charge, &refund);
	EXPECT_EQ(charge, 0ull);
	EXPECT_EQ(refund, 200ull);
	/* no pin op: pinning is a no-op that succeeds */
	EXPECT_EQ(dev_pin(d, &charge, sizeof(charge)), 0);
	dev_unpin(d, &charge);
	dev_set_teardown(&s);
}

TEST_HARNESS_MAIN
