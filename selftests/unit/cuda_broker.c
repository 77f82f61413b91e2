/* SPDX-License-Identifier: MIT */
/*
 * cuda_broker.c - the broker in process on the CUDA device, no FUSE
 * mount: leases acquired, resized and dropped through daemon/lease*.c
 * with the backend loaded against the fake driver
 * (selftests/fakecuda/), so accounting is checked against what the
 * "device" really holds. With GL_REAL_CUDA=1 (scripts/gpu-check.sh on
 * a GPU machine) the tests that need no fake knob run on the real
 * driver; the others SKIP.
 *
 * Invariant: each test starts its own broker after setting the fake's
 * knobs, and its teardown destroys it: every handle is released.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "daemon/broker.h"
#include "daemon/lease-ctl.h"
#include "daemon/lease.h"
#include "daemon/metrics.h"
#include "daemon/registry.h"
#include "daemon/ring.h"
#include "daemon/strbuf.h"
#include "kernels/fatbin.h"
#include "selftests/fakecuda/fakecuda.h"
#include "selftests/harness.h"
#include "uapi/gpulease.h"


#define MIB (1ull << 20)

FIXTURE(cb) {
	char path[PATH_MAX];
	void *lib;
	struct fakecuda *fc;
	struct broker b;
	bool up;
};

FIXTURE_SETUP(cb)
{
	ASSERT_EQ(fakecuda_path(self->path, sizeof(self->path)), 0);
	self->fc = fakecuda_load(self->path, &self->lib);
	if (!self->fc && !fakecuda_real())
		SKIP(return, "fake driver not built: %s", self->path);
}

FIXTURE_TEARDOWN(cb)
{
	if (self->up)
		broker_destroy(&self->b);
	if (self->lib)
		dlclose(self->lib);
}

/* Start the broker; the CUDA device must be device 0. */
static int start(FIXTURE_DATA(cb) *self)
{
	struct broker_config cfg = {
		.cpu_vram = 64 * MIB,
		.default_ttl = 600,
		.max_ttl = 3600,
		.launch_timeout_ms = 10000,
		.executors = 2,
	};
	int err = broker_init(&self->b, &cfg);

	if (err)
		return err;
	self->up = true;
	if (strcmp(self->b.devs.devs[0].ops->kind, GL_KIND_CUDA))
		return -ENODEV;
	return 0;
}

static int acquire(FIXTURE_DATA(cb) *self, const char *name, uint64_t vram,
		   struct lease **l)
{
	struct lease_req req = {
		.name = name, .vram = vram, .ttl = 600, .dev = 0,
	};

	return lease_acquire(&self->b.leases, &req, l);
}

static void drop(FIXTURE_DATA(cb) *self, struct lease *l)
{
	lease_drop(l, 0, false);
	lease_put(l);
}

static uint64_t used(FIXTURE_DATA(cb) *self)
{
	return atomic_load(&self->b.devs.devs[0].used);
}

/*
 * A lease takes whole 2 MiB granules on the device: that is what is
 * accounted (vram.used, quotas, ENOSPC), not its byte count, which the
 * lease keeps. 264 MiB total less 256 MiB headroom: 8 MiB, 4 granules.
 */
TEST_F(cb, accounting_rounds_to_granules)
{
	struct lease *l[5];
	char name[8];
	int i;

	if (!self->fc)
		SKIP(return, "needs the fake driver's knobs");
	self->fc->total = 264 * MIB;
	ASSERT_EQ(start(self), 0);
	ASSERT_EQ(self->b.devs.devs[0].capacity, 8 * MIB);
	ASSERT_EQ(acquire(self, "a", 1, &l[0]), 0);
	EXPECT_EQ(used(self), 2 * MIB) TH_LOG("1 byte takes one granule");
	EXPECT_EQ(atomic_load(&l[0]->vram), 1u) TH_LOG("its size stays");
	drop(self, l[0]);
	EXPECT_EQ(used(self), 0u);
	ASSERT_EQ(acquire(self, "b", 2 * MIB + 1, &l[0]), 0);
	EXPECT_EQ(used(self), 4 * MIB);
	drop(self, l[0]);

	/* four one-byte leases fill the device; a fifth does not fit */
	for (i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "l%d", i);
		ASSERT_EQ(acquire(self, name, 1, &l[i]), 0) TH_LOG("%s", name);
	}
	EXPECT_EQ(used(self), 8 * MIB);
	EXPECT_EQ(acquire(self, "l4", 1, &l[4]), -ENOSPC)
		TH_LOG("accounted 4 bytes, the device holds 8 MiB");
	EXPECT_LE(self->fc->handle_bytes, self->b.devs.devs[0].capacity);
	for (i = 0; i < 4; i++)
		drop(self, l[i]);
	EXPECT_EQ(used(self), 0u);
	EXPECT_EQ(self->fc->handles, 0);
}

/*
 * A resize on CUDA maps the new size before it frees the old: for that
 * moment both are taken, and accounting must cover them, so the device
 * never holds more than its capacity, not even briefly.
 */
TEST_F(cb, resize_never_exceeds_accounting)
{
	uint64_t cap;
	struct lease *a, *b;

	if (!self->fc)
		SKIP(return, "needs the fake driver's knobs");
	self->fc->total = 264 * MIB;
	ASSERT_EQ(start(self), 0);
	cap = self->b.devs.devs[0].capacity;
	ASSERT_EQ(acquire(self, "a", 2 * MIB, &a), 0);
	ASSERT_EQ(acquire(self, "b", 2 * MIB, &b), 0);
	/* within one granule: nothing moves, nothing more is charged */
	EXPECT_EQ(lease_resize(a, MIB), 0);
	EXPECT_EQ(lease_resize(a, 2 * MIB), 0);
	EXPECT_EQ(used(self), 4 * MIB);
	/* 2 -> 4 MiB: b 2 + old 2 + new 4 = 8 MiB at the peak: fits */
	EXPECT_EQ(lease_resize(a, 4 * MIB), 0);
	EXPECT_EQ(used(self), 6 * MIB);
	/* 4 -> 6 MiB: b 2 + old 4 + new 6 = 12 MiB at the peak: no */
	EXPECT_EQ(lease_resize(a, 6 * MIB), -ENOSPC);
	EXPECT_EQ(atomic_load(&a->vram), 4 * MIB) TH_LOG("unchanged");
	EXPECT_EQ(used(self), 6 * MIB);
	/* shrinking moves too: b 2 + old 4 + new 2 = 8 MiB */
	EXPECT_EQ(lease_resize(a, 2 * MIB), 0);
	EXPECT_EQ(used(self), 4 * MIB);
	EXPECT_LE(self->fc->handle_peak, cap)
		TH_LOG("the device held %llu bytes, %llu were accounted",
		       (unsigned long long)self->fc->handle_peak,
		       (unsigned long long)cap);
	drop(self, a);
	drop(self, b);
	EXPECT_EQ(used(self), 0u);
}

/*
 * A driver older than the toolkit that built the kernels cannot load
 * them: the device is listed as unusable with the reason (and an error
 * line in the log), never silently replaced by the CPU device; the CPU
 * device still serves after it, for device=1.
 */
TEST_F(cb, old_driver_is_loud)
{
	char drv[32], built[32];
	struct dev *d;
	struct lease *l;
	int err;

	if (!self->fc)
		SKIP(return, "needs the fake driver's knobs");
	ASSERT_GT(gl_fatbin_cuda_version, 10000) TH_LOG("built by nvcc");
	/* one minor release older than the toolkit that built the fatbin */
	self->fc->driver_version = gl_fatbin_cuda_version - 10;
	snprintf(drv, sizeof(drv), "CUDA %d.%d,",
		 self->fc->driver_version / 1000,
		 self->fc->driver_version % 1000 / 10);
	snprintf(built, sizeof(built), "CUDA %d.%d that",
		 gl_fatbin_cuda_version / 1000,
		 gl_fatbin_cuda_version % 1000 / 10);
	err = start(self);
	ASSERT_EQ(err, 0) TH_LOG("the cuda device is not device 0");
	d = &self->b.devs.devs[0];
	EXPECT_EQ(atomic_load(&d->state), DEV_UNUSABLE);
	EXPECT_STREQ(dev_state_name(atomic_load(&d->state)), "unusable");
	EXPECT_TRUE(strstr(d->reason, drv) && strstr(d->reason, built))
		TH_LOG("reason: %s", d->reason);
	EXPECT_EQ(d->capacity, 0u);
	EXPECT_STREQ(d->name, "cuda0");
	EXPECT_EQ(self->fc->contexts, 0) TH_LOG("the device was opened");
	ASSERT_EQ(self->b.devs.count, 2);
	EXPECT_STREQ(self->b.devs.devs[1].ops->kind, GL_KIND_CPU);
	EXPECT_EQ(acquire(self, "x", 1, &l), -ENOSPC);
	/* the toolkit's own version and newer load it */
	broker_destroy(&self->b);
	self->up = false;
	self->fc->driver_version = gl_fatbin_cuda_version;
	ASSERT_EQ(start(self), 0);
	EXPECT_EQ(atomic_load(&self->b.devs.devs[0].state), DEV_READY);
	EXPECT_EQ(self->b.devs.count, 1) TH_LOG("no CPU beside a GPU");
}

/* What the context, kernels and cuBLAS take before any lease is measured
 * at probe: devices/N/vram.reserved, kept out of capacity. */
TEST_F(cb, reserved_is_measured)
{
	struct dev *d;

	if (!self->fc)
		SKIP(return, "needs the fake driver's knobs");
	self->fc->ctx_bytes = 48 * MIB;
	ASSERT_EQ(start(self), 0);
	d = &self->b.devs.devs[0];
	EXPECT_EQ(d->reserved, 48 * MIB);
	/* 1 GiB less 48 MiB reserved and 256 MiB headroom */
	EXPECT_EQ(d->capacity, 720 * MIB);
}

/* A lease's io region on CUDA is pinned and registered with the driver
 * (copies from it are DMA from the client's very pages), and
 * unregistered before it is unmapped: when removed, and when dropped. */
TEST_F(cb, ring_region_is_pinned)
{
	struct fakecuda *fc = self->fc;
	char in[16] = "from the ring!!", out[16];
	struct lease *l;

	if (!fc)
		SKIP(return, "needs the fake driver's knobs");
	ASSERT_EQ(start(self), 0);
	ASSERT_EQ(acquire(self, "io", MIB, &l), 0);
	ASSERT_EQ(lease_set_io(l, 64 << 10), 0);
	EXPECT_EQ(fc->host_registered, 1);
	EXPECT_TRUE(fc->host_reg_ptr == l->io->map);
	EXPECT_EQ(fc->host_reg_len, (size_t)(64 << 10));
	memcpy(l->io->data, in, sizeof(in));
	EXPECT_EQ(lease_pwrite(l, l->io->data, sizeof(in), 0),
		  (ssize_t)sizeof(in));
	EXPECT_EQ(lease_pread(l, out, sizeof(out), 0), (ssize_t)sizeof(out));
	EXPECT_EQ(memcmp(in, out, sizeof(in)), 0);
	ASSERT_EQ(lease_set_io(l, 0), 0);		/* removed */
	EXPECT_EQ(fc->host_registered, 0);
	ASSERT_EQ(lease_set_io(l, 128 << 10), 0);
	EXPECT_EQ(fc->host_registered, 1);
	EXPECT_TRUE(fc->host_reg_ptr == l->io->map);
	drop(self, l);					/* dropped */
	EXPECT_EQ(fc->host_registered, 0);
}

/* What the driver reads at cuInit is set before it, and the context
 * waits by blocking, not by spinning a core. */
TEST_F(cb, init_environment_and_blocking_sync)
{
	if (!self->fc)
		SKIP(return, "needs the fake driver's knobs");
	unsetenv("CUDA_MODULE_LOADING");
	setenv("CUDA_DEVICE_MAX_CONNECTIONS", "8", 1);	/* the admin's */
	ASSERT_EQ(start(self), 0);
	EXPECT_STREQ(self->fc->init_loading, "EAGER");
	EXPECT_STREQ(self->fc->init_connections, "8") TH_LOG("overridden");
	EXPECT_EQ(self->fc->ctx_flags, 0x4u) TH_LOG("blocking sync");
	broker_destroy(&self->b);
	self->up = false;
	unsetenv("CUDA_DEVICE_MAX_CONNECTIONS");
	ASSERT_EQ(start(self), 0);
	EXPECT_STREQ(self->fc->init_connections, "32");
}

/* Wait until lease @l's ctl names the failure of its device. */
static bool ctl_says(struct lease *l, const char *what)
{
	struct strbuf sb = STRBUF_INIT;
	bool found;
	int i;

	/* the recovery thread writes it: poll (never a timed assertion:
	 * the cap only ends a test that would otherwise hang) */
	for (i = 0; i < 30000; i++) {
		lease_show(l, &sb);
		found = sb.buf && strstr(sb.buf, what);
		strbuf_release(&sb);
		if (found)
			return true;
		usleep(1000);
	}
	return false;
}

static bool metrics_say(struct broker *b, const char *line)
{
	struct strbuf sb = STRBUF_INIT;
	bool found;

	metrics_show(&b->metrics, 0, &sb);
	found = sb.buf && strstr(sb.buf, line);
	strbuf_release(&sb);
	return found;
}

/*
 * A sticky fault (an illegal address in a kernel) on device 0: the
 * device turns failed (state, metrics), its lease fails with EIO and
 * says why in ctl, device 1 keeps serving, and device 0 recovers:
 * context and kernels made again, new leases work there, the old
 * lease's memory is gone for good (EIO until it is dropped).
 */
TEST_F(cb, sticky_fault_fails_one_device_and_recovers)
{
	struct lease_req req_b = {
		.name = "b", .vram = MIB, .ttl = 600, .dev = 1,
	};
	struct fakecuda *fc = self->fc;
	struct lease *a, *b, *c;
	struct gl_kargs args = { 0 };
	struct gl_grid g = { { 1, 1, 1 }, { 256, 1, 1 } };
	char in[16] = "0123456789abcde", out[16];
	struct dev *d0;
	void *x;

	if (!fc)
		SKIP(return, "needs the fake driver's knobs");
	fc->ndev = 2;
	ASSERT_EQ(start(self), 0);
	ASSERT_EQ(self->b.devs.count, 2);
	d0 = &self->b.devs.devs[0];
	ASSERT_EQ(acquire(self, "a", MIB, &a), 0);
	ASSERT_EQ(lease_acquire(&self->b.leases, &req_b, &b), 0);
	EXPECT_TRUE(metrics_say(&self->b, "gpulease_device_state{device=\"0\","
				"state=\"ready\"} 1"));

	/* the kernel faults; the reset is held so the failure shows */
	atomic_store(&fc->hold_reset, 1);
	atomic_store(&fc->fault_launch, 700);
	ASSERT_EQ(d0->ops->resolve(a->region, 0, 64, &x), 0);
	args.count = 3;
	args.v[0].type = GL_KT_U32;
	args.v[0].u32 = 16;
	args.v[1].type = GL_KT_F32;
	args.v[1].f32 = 1.0f;
	args.v[2].type = GL_KT_BUF;
	args.v[2].buf.ptr = x;
	args.v[2].buf.len = 64;
	EXPECT_EQ(d0->ops->launch(d0, gl_kernel_find("fill"), &args, &g,
				  NULL), -EIO);
	EXPECT_EQ(atomic_load(&d0->state), DEV_FAILED);
	EXPECT_TRUE(strstr(d0->reason, "CUDA_ERROR") ||
		    strstr(d0->reason, "(700)")) TH_LOG("%s", d0->reason);
	EXPECT_TRUE(metrics_say(&self->b, "gpulease_device_state{device=\"0\","
				"state=\"failed\"} 1"));
	EXPECT_TRUE(ctl_says(a, "last_error EIO: device 0 (cuda0) failed"))
		TH_LOG("the owner is told why");
	EXPECT_EQ(lease_pread(a, out, sizeof(out), 0), -EIO);
	EXPECT_EQ(lease_pwrite(a, in, sizeof(in), 0), -EIO);
	/* the other device serves on */
	EXPECT_EQ(atomic_load(&self->b.devs.devs[1].state), DEV_READY);
	EXPECT_EQ(lease_pwrite(b, in, sizeof(in), 0), (ssize_t)sizeof(in));
	EXPECT_EQ(lease_pread(b, out, sizeof(out), 0), (ssize_t)sizeof(out));
	EXPECT_EQ(memcmp(in, out, sizeof(in)), 0);

	/* recovery */
	atomic_store(&fc->hold_reset, 0);
	EXPECT_EQ(d0->ops->reset(d0), 0);
	EXPECT_EQ(atomic_load(&d0->state), DEV_READY);
	EXPECT_EQ(fc->resets, 1);
	EXPECT_EQ(fc->sticky[0], 0);
	EXPECT_EQ(fc->modules, 2) TH_LOG("a fatbin on each device");
	EXPECT_EQ(lease_pread(a, out, sizeof(out), 0), -EIO)
		TH_LOG("its memory died with the fault");
	ASSERT_EQ(acquire(self, "c", MIB, &c), 0);
	EXPECT_EQ(lease_pwrite(c, in, sizeof(in), 0), (ssize_t)sizeof(in));
	memset(out, 0, sizeof(out));
	EXPECT_EQ(lease_pread(c, out, sizeof(out), 0), (ssize_t)sizeof(out));
	EXPECT_EQ(memcmp(in, out, sizeof(in)), 0);
	drop(self, a);
	drop(self, b);
	drop(self, c);
	EXPECT_EQ(used(self), 0u);
	EXPECT_EQ(fc->handles, 0);
}

/* The tests below run on the real driver too (scripts/gpu-check.sh):
 * skip there when device 0 is not a GPU. */
#define START_ANY(self)							\
	do {								\
		int _e = start(self);					\
		if (_e == -ENODEV && !(self)->fc)			\
			SKIP(return, "no CUDA device 0 on this machine"); \
		ASSERT_EQ(_e, 0);					\
	} while (0)

static void fill_args(struct gl_kargs *a, uint32_t n, float v, void *y)
{
	memset(a, 0, sizeof(*a));
	a->count = 3;
	a->v[0].type = GL_KT_U32;
	a->v[0].u32 = n;
	a->v[1].type = GL_KT_F32;
	a->v[1].f32 = v;
	a->v[2].type = GL_KT_BUF;
	a->v[2].buf.ptr = y;
	a->v[2].buf.len = (uint64_t)n * 4;
}

/* fill(n, v) into @l at byte @off, and (on a real GPU, where kernels
 * run) that every float reads back as v. */
static int fill_and_check(FIXTURE_DATA(cb) *self, struct lease *l,
			  uint64_t off, uint32_t n, float v)
{
	struct dev *d = l->dev;
	struct gl_grid g = { { (n + 255) / 256, 1, 1 }, { 256, 1, 1 } };
	struct gl_kargs a;
	float *out;
	uint32_t i;
	void *y;
	int err;

	err = d->ops->resolve(l->region, off, (uint64_t)n * 4, &y);
	if (err)
		return err;
	fill_args(&a, n, v, y);
	err = d->ops->launch(d, gl_kernel_find("fill"), &a, &g, NULL);
	if (err || self->fc)
		return err;	/* the fake runs no kernel */
	out = malloc((size_t)n * 4);
	if (!out)
		return -ENOMEM;
	if (lease_pread(l, out, (size_t)n * 4, off) != (ssize_t)n * 4)
		err = -EIO;
	for (i = 0; !err && i < n; i++)
		if (out[i] != v)
			err = -EBADMSG;
	free(out);
	return err;
}

/*
 * A lease's memory on the CUDA device, through the broker: accounted in
 * granules, bytes written read back at both ends, a grow keeps the
 * prefix and zeroes the tail, a shrink keeps the prefix, a kernel writes
 * it, and the drop gives every byte back.
 */
TEST_F(cb, lease_memory_roundtrip)
{
	const uint64_t size = 64 * MIB + 1, chunk = MIB;
	unsigned char *in, *out;
	struct lease *l;
	struct dev *d;
	uint64_t i;

	START_ANY(self);
	d = &self->b.devs.devs[0];
	in = malloc(chunk);
	out = malloc(chunk);
	ASSERT_TRUE(in && out);
	for (i = 0; i < chunk; i++)
		in[i] = (unsigned char)(i * 7 + 1);
	ASSERT_EQ(acquire(self, "rt", size, &l), 0);
	EXPECT_EQ(used(self), dev_footprint(d, size));
	EXPECT_EQ(lease_pwrite(l, in, chunk, 0), (ssize_t)chunk);
	EXPECT_EQ(lease_pwrite(l, in, chunk, size - chunk), (ssize_t)chunk);
	EXPECT_EQ(lease_pread(l, out, chunk, size - chunk), (ssize_t)chunk);
	EXPECT_EQ(memcmp(in, out, chunk), 0);
	/* grow: the prefix stays, the new tail is zero */
	ASSERT_EQ(lease_resize(l, 96 * MIB), 0);
	EXPECT_EQ(lease_pread(l, out, chunk, 0), (ssize_t)chunk);
	EXPECT_EQ(memcmp(in, out, chunk), 0);
	EXPECT_EQ(lease_pread(l, out, chunk, 95 * MIB), (ssize_t)chunk);
	for (i = 0; i < chunk && !out[i]; i++)
		;
	EXPECT_EQ(i, chunk) TH_LOG("byte %llu of the grown tail is not 0",
				   (unsigned long long)i);
	/* shrink: the prefix stays */
	ASSERT_EQ(lease_resize(l, 2 * MIB), 0);
	EXPECT_EQ(lease_pread(l, out, chunk, 0), (ssize_t)chunk);
	EXPECT_EQ(memcmp(in, out, chunk), 0);
	EXPECT_EQ(used(self), dev_footprint(d, 2 * MIB));
	EXPECT_EQ(fill_and_check(self, l, 4096, 1024, 2.5f), 0);
	drop(self, l);
	EXPECT_EQ(used(self), 0u);
	free(in);
	free(out);
}

/* A registered kernel that loads a float one byte past a buffer's start:
 * the PTX for a GPU, the fake's module format for the fake (whose
 * fault_* functions fault the same way). */
static const char fault_ptx[] =
	".version 7.0\n.target sm_80\n.address_size 64\n"
	".visible .entry fault_misalign(.param .u64 p)\n{\n"
	"\t.reg .b64 %rd<3>;\n\t.reg .f32 %f<2>;\n"
	"\tld.param.u64 %rd1, [p];\n\tcvta.to.global.u64 %rd2, %rd1;\n"
	"\tadd.s64 %rd2, %rd2, 1;\n\tld.global.f32 %f1, [%rd2];\n"
	"\tadd.f32 %f1, %f1, 0f3F800000;\n\tst.global.f32 [%rd2], %f1;\n"
	"\tret;\n}\n";
static const char fault_fake[] = "FAKEMOD\nfault_misalign buf p\n";

/*
 * A forced misaligned access marks the device failed and it recovers:
 * every lease it had fails with EIO from then on, a new lease works,
 * and so do the kernels (the fatbin and the registered module are
 * loaded again).
 */
TEST_F(cb, forced_misaligned_fault_recovers)
{
	struct gl_grid g = { { 1, 1, 1 }, { 1, 1, 1 } };
	char path[] = "/tmp/gl-fault-XXXXXX", line[128];
	const struct kernel_entry *e;
	struct gl_kargs a = { 0 };
	struct lease *l1, *l2, *l3;
	char in[16] = "misaligned fault", out[16];
	const char *mod;
	struct dev *d;
	void *x;
	int fd;

	START_ANY(self);
	d = &self->b.devs.devs[0];
	mod = self->fc ? fault_fake : fault_ptx;
	fd = mkstemp(path);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(write(fd, mod, strlen(mod)), (ssize_t)strlen(mod));
	close(fd);
	snprintf(line, sizeof(line), "add fault_misalign %s buf p", path);
	ASSERT_EQ(registry_add(&self->b.reg, &self->b.devs, 0, line,
			       strlen(line)), 0);
	unlink(path);
	e = registry_find(&self->b.reg, "fault_misalign");
	ASSERT_TRUE(e != NULL);
	ASSERT_EQ(acquire(self, "f1", MIB, &l1), 0);
	ASSERT_EQ(acquire(self, "f2", MIB, &l2), 0);
	EXPECT_EQ(lease_pwrite(l2, in, sizeof(in), 0), (ssize_t)sizeof(in));
	ASSERT_EQ(d->ops->resolve(l1->region, 0, 64, &x), 0);
	a.count = 1;
	a.v[0].type = GL_KT_BUF;
	a.v[0].buf.ptr = x;
	a.v[0].buf.len = 64;
	EXPECT_EQ(d->ops->launch(d, e->k, &a, &g, NULL), -EIO);
	EXPECT_EQ(atomic_load(&d->state), DEV_FAILED);
	TH_LOG("device 0 failed: %s", d->reason);
	EXPECT_EQ(d->ops->reset(d), 0);
	EXPECT_EQ(atomic_load(&d->state), DEV_READY);
	/* both old leases lost their memory with the context */
	EXPECT_EQ(lease_pread(l1, out, sizeof(out), 0), -EIO);
	EXPECT_EQ(lease_pread(l2, out, sizeof(out), 0), -EIO);
	ASSERT_EQ(acquire(self, "f3", MIB, &l3), 0);
	EXPECT_EQ(lease_pwrite(l3, in, sizeof(in), 0), (ssize_t)sizeof(in));
	EXPECT_EQ(lease_pread(l3, out, sizeof(out), 0), (ssize_t)sizeof(out));
	EXPECT_EQ(memcmp(in, out, sizeof(in)), 0);
	EXPECT_EQ(fill_and_check(self, l3, 4096, 256, -1.5f), 0);
	if (self->fc)
		EXPECT_EQ(self->fc->modules, 2) TH_LOG("fatbin and module");
	drop(self, l1);
	drop(self, l2);
	drop(self, l3);
	EXPECT_EQ(used(self), 0u);
}

/*
 * Models run on the CPU device only for now: a load on a CUDA device is
 * EOPNOTSUPP, says why, and leaves no model, lease or memory behind.
 */
TEST_F(cb, model_load_refused_on_cuda)
{
	static const char line[] = "load m /nonexistent/model.bin device=0\n";
	struct model_cred c = { 0, 0, NULL, 0 };
	struct strbuf sb = STRBUF_INIT;

	START_ANY(self);
	EXPECT_EQ(model_ctl_write(&self->b.models, &c, line,
				  sizeof(line) - 1), -EOPNOTSUPP);
	EXPECT_EQ(used(self), 0);
	EXPECT_EQ(atomic_load(&self->b.leases.totals.acquired), 0);
	ASSERT_EQ(model_ctl_render(&self->b.models, 0, &sb), 0);
	EXPECT_TRUE(strstr(sb.buf, "EOPNOTSUPP") &&
		    strstr(sb.buf, "CPU device only")) TH_LOG("%s", sb.buf);
	EXPECT_EQ(strncmp(sb.buf, "last_error", 10), 0);
	strbuf_release(&sb);
}

TEST_HARNESS_MAIN
