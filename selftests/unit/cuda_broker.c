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
#include <pthread.h>
#include <math.h>
#include <stdlib.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon/broker.h"
#include "daemon/dev/cuda-dev.h"
#include "daemon/lease-ctl.h"
#include "daemon/lease.h"
#include "daemon/metrics.h"
#include "daemon/model.h"
#include "daemon/model/llama.h"
#include "daemon/model/llama2c.h"
#include "daemon/model/mlp.h"
#include "daemon/registry.h"
#include "daemon/ring.h"
#include "daemon/strbuf.h"
#include "kernels/fatbin.h"
#include "selftests/fakecuda/fakecuda.h"
#include "selftests/harness.h"
#define MODEL_FIXTURE_MLP
#include "selftests/unit/model_fixture.h"
#include "tools/bench/llama-ckpt.h"
#include "tools/bench/mlp-ckpt.h"
#include "tools/bench/verbs.h"
#include "uapi/model.h"
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

	/* the thread ending the device writes it: poll (never a timed
	 * assertion: the cap only ends a test that would otherwise hang) */
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
 * says why in ctl, device 1 keeps serving. No reset clears the fault
 * (the driver keeps it for the life of the process, as a real GPU did:
 * Documentation/gpu-verification.md): device 0 stays failed, its reason
 * says to restart the daemon, a new lease there is EIO with that reason,
 * and every lease still drops cleanly.
 */
TEST_F(cb, sticky_fault_fails_one_device_for_good)
{
	struct lease_req req_b = {
		.name = "b", .vram = MIB, .ttl = 600, .dev = 1,
	};
	struct fakecuda *fc = self->fc;
	struct lease *a, *b, *c = NULL;
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

	/* the reset runs and cannot clear it */
	atomic_store(&fc->hold_reset, 0);
	EXPECT_EQ(d0->ops->reset(d0), -EIO);
	EXPECT_EQ(atomic_load(&d0->state), DEV_FAILED);
	EXPECT_GE(fc->resets, 1);
	EXPECT_TRUE(strstr(d0->reason, "(700)") &&
		    strstr(d0->reason, "restart of the daemon"))
		TH_LOG("%s", d0->reason);
	EXPECT_TRUE(metrics_say(&self->b, "gpulease_device_state{device=\"0\","
				"state=\"failed\"} 1"));
	EXPECT_EQ(acquire(self, "c", MIB, &c), -EIO);
	EXPECT_EQ(lease_pread(a, out, sizeof(out), 0), -EIO);
	/* device 1 still serves, a new lease there too */
	EXPECT_EQ(lease_pread(b, out, sizeof(out), 0), (ssize_t)sizeof(out));
	req_b.name = "c";
	ASSERT_EQ(lease_acquire(&self->b.leases, &req_b, &c), 0);
	EXPECT_EQ(lease_pwrite(c, in, sizeof(in), 0), (ssize_t)sizeof(in));
	drop(self, a);
	drop(self, b);
	drop(self, c);
	EXPECT_EQ(used(self), 0u);
	EXPECT_EQ(atomic_load(&self->b.devs.devs[1].used), 0u);
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
 * A forced misaligned access marks the device failed for good: every
 * lease it had fails with EIO from then on, the reset cannot clear the
 * fault (on an H200 with driver 580, cuDevicePrimaryCtxRetain still
 * returned 716 after it), the reason says to restart the daemon, and a
 * new lease there is EIO with that reason.
 */
TEST_F(cb, forced_misaligned_fault_fails_the_device)
{
	struct gl_grid g = { { 1, 1, 1 }, { 1, 1, 1 } };
	char path[] = "/tmp/gl-fault-XXXXXX", line[128];
	const struct kernel_entry *e;
	struct gl_kargs a = { 0 };
	struct lease *l1, *l2, *l3 = NULL;
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
	EXPECT_EQ(d->ops->reset(d), -EIO);
	EXPECT_EQ(atomic_load(&d->state), DEV_FAILED);
	EXPECT_TRUE(strstr(d->reason, "(716)") &&
		    strstr(d->reason, "restart of the daemon"))
		TH_LOG("%s", d->reason);
	EXPECT_EQ(lease_pread(l1, out, sizeof(out), 0), -EIO);
	EXPECT_EQ(lease_pread(l2, out, sizeof(out), 0), -EIO);
	EXPECT_EQ(acquire(self, "f3", MIB, &l3), -EIO);
	drop(self, l1);
	drop(self, l2);
	EXPECT_EQ(used(self), 0u);
}

/* A kernel that spins until its buffer holds 12345, which it never does
 * (a lease starts zeroed): the PTX for a GPU; the fake's module format
 * for the fake, whose streams stay busy while its hold knob is set. */
static const char spin_ptx[] =
	".version 7.0\n.target sm_80\n.address_size 64\n"
	".visible .entry spin_forever(.param .u64 p)\n{\n"
	"\t.reg .b64 %rd<3>;\n\t.reg .b32 %r<2>;\n\t.reg .pred %p<2>;\n"
	"\tld.param.u64 %rd1, [p];\n\tcvta.to.global.u64 %rd2, %rd1;\n"
	"LOOP:\n\tld.volatile.global.u32 %r1, [%rd2];\n"
	"\tsetp.ne.u32 %p1, %r1, 12345;\n\t@%p1 bra LOOP;\n"
	"\tret;\n}\n";
static const char spin_fake[] = "FAKEMOD\nspin_forever buf p\n";

struct spin {
	struct dev *d;
	const struct gl_kernel *k;
	struct gl_kargs a;
	atomic_int cancel;
	int err;
};

static void *spin_main(void *arg)
{
	struct gl_grid g = { { 1, 1, 1 }, { 1, 1, 1 } };
	struct spin *sp = arg;

	sp->err = sp->d->ops->launch(sp->d, sp->k, &sp->a, &g, &sp->cancel);
	return NULL;
}

/*
 * A kernel that never ends: once its launch is cancelled and the grace
 * period (0 here) passes, the device fails and is reset, which ends the
 * kernel and frees every lease's memory there; it stays failed (on an
 * H200 cuDevicePrimaryCtxRetain returned 700 after such a reset), says
 * why, and refuses new leases with EIO. On a GPU this is the real
 * driver's cuDevicePrimaryCtxReset under a running kernel.
 */
TEST_F_TIMEOUT(cb, runaway_kernel_fails_the_device, 60)
{
	char path[] = "/tmp/gl-spin-XXXXXX", line[128];
	const struct kernel_entry *e;
	struct spin sp = { 0 };
	struct lease *l1, *l2;
	const char *mod;
	pthread_t t;
	int fd, i;
	void *x;

	setenv("GL_CUDA_GRACE_MS", "0", 1);
	START_ANY(self);
	sp.d = &self->b.devs.devs[0];
	mod = self->fc ? spin_fake : spin_ptx;
	fd = mkstemp(path);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(write(fd, mod, strlen(mod)), (ssize_t)strlen(mod));
	close(fd);
	snprintf(line, sizeof(line), "add spin_forever %s buf p", path);
	ASSERT_EQ(registry_add(&self->b.reg, &self->b.devs, 0, line,
			       strlen(line)), 0);
	unlink(path);
	e = registry_find(&self->b.reg, "spin_forever");
	ASSERT_TRUE(e != NULL);
	sp.k = e->k;
	ASSERT_EQ(acquire(self, "s1", MIB, &l1), 0);
	ASSERT_EQ(sp.d->ops->resolve(l1->region, 0, 64, &x), 0);
	sp.a.count = 1;
	sp.a.v[0].type = GL_KT_BUF;
	sp.a.v[0].buf.ptr = x;
	sp.a.v[0].buf.len = 64;
	if (self->fc)
		atomic_store(&self->fc->hold, 1);
	ASSERT_EQ(pthread_create(&t, NULL, spin_main, &sp), 0);
	usleep(200 * 1000);
	atomic_store(&sp.cancel, ETIMEDOUT);
	pthread_join(t, NULL);
	EXPECT_EQ(sp.err, -ETIMEDOUT);
	EXPECT_EQ(atomic_load(&sp.d->state), DEV_FAILED);
	/* its thread resets it; wait for that, at most 20 s */
	for (i = 0; i < 2000 && !strstr(sp.d->reason, "restart"); i++)
		usleep(10 * 1000);
	TH_LOG("reset after %d ms: \"%s\"", i * 10, sp.d->reason);
	EXPECT_EQ(sp.d->ops->reset(sp.d), -EIO);
	EXPECT_EQ(atomic_load(&sp.d->state), DEV_FAILED);
	EXPECT_TRUE(strstr(sp.d->reason, "spin_forever still ran") &&
		    strstr(sp.d->reason, "restart of the daemon"))
		TH_LOG("%s", sp.d->reason);
	if (self->fc)
		EXPECT_EQ(self->fc->resets, 1);
	EXPECT_EQ(lease_pread(l1, line, 16, 0), -EIO)
		TH_LOG("its memory died with the reset");
	EXPECT_EQ(acquire(self, "s2", MIB, &l2), -EIO);
	drop(self, l1);
	EXPECT_EQ(used(self), 0u);
	if (self->fc)
		EXPECT_EQ(self->fc->handles, 0);
}

/* One product: C = op(A) op(B), @batch of them packed, ld 0. */
struct mm_case {
	uint32_t m, n, k, ta, tb, batch;
	bool real_only;		/* too slow for the fake's host GEMM */
};

static void mm_args(struct gl_kargs *x, const struct mm_case *c,
		    void *const p[3], const uint64_t len[3])
{
	uint64_t stride[3] = {
		c->batch > 1 ? (uint64_t)c->m * c->k : 0,
		c->batch > 1 ? (uint64_t)c->k * c->n : 0,
		c->batch > 1 ? (uint64_t)c->m * c->n : 0,
	};
	uint32_t u[9] = { c->m, c->n, c->k, c->ta, c->tb, c->batch, 0, 0, 0 };
	int i;

	memset(x, 0, sizeof(*x));
	for (i = 0; i < 9; i++) {
		x->v[x->count].type = GL_KT_U32;
		x->v[x->count++].u32 = u[i];
	}
	for (i = 0; i < 3; i++) {
		x->v[x->count].type = GL_KT_U64;
		x->v[x->count++].u64 = stride[i];
	}
	x->v[x->count].type = GL_KT_F32;
	x->v[x->count++].f32 = 1.0f;
	x->v[x->count].type = GL_KT_F32;
	x->v[x->count++].f32 = 0.0f;
	for (i = 0; i < 3; i++) {
		x->v[x->count].type = GL_KT_BUF;
		x->v[x->count].buf.ptr = p[i];
		x->v[x->count++].buf.len = len[i];
	}
}

/*
 * Run @c through the device on lease @l (A, B, C from offset 0, 256-byte
 * aligned) and through the CPU twin on the host; 0 when every element of
 * C agrees within 1e-4 (1 + |want|) + 1e-6 k, else -EBADMSG (logged).
 */
static int mm_check(struct lease *l, const struct mm_case *c,
		    unsigned int *seed)
{
	const struct gl_kernel *k = gl_kernel_find("matmul");
	struct gl_grid g = { { 64, 1, 1 }, { 256, 1, 1 } };
	struct gl_kctx ctx = { NULL, 0, 1 };
	struct dev *d = l->dev;
	uint64_t len[3], off[3], i, bad = 0;
	void *dp[3], *hp[3] = { 0 };
	struct gl_kargs x;
	float *want, *got;
	int err = 0, j;

	len[0] = (uint64_t)c->batch * c->m * c->k * 4;
	len[1] = (uint64_t)c->batch * c->k * c->n * 4;
	len[2] = (uint64_t)c->batch * c->m * c->n * 4;
	off[0] = 0;
	off[1] = (len[0] + 255) & ~255ull;
	off[2] = off[1] + ((len[1] + 255) & ~255ull);
	for (j = 0; j < 3 && !err; j++) {
		hp[j] = malloc(len[j]);
		if (!hp[j])
			err = -ENOMEM;
	}
	for (j = 0; j < 2 && !err; j++) {
		float *f = hp[j];

		for (i = 0; i < len[j] / 4; i++)
			f[i] = (float)rand_r(seed) / RAND_MAX * 2.0f - 1.0f;
		if (lease_pwrite(l, f, len[j], off[j]) != (ssize_t)len[j])
			err = -EIO;
	}
	for (j = 0; j < 3 && !err; j++)
		err = d->ops->resolve(l->region, off[j], len[j], &dp[j]);
	if (!err) {
		mm_args(&x, c, dp, len);
		err = d->ops->launch(d, k, &x, &g, NULL);
	}
	if (!err) {
		mm_args(&x, c, hp, len);
		err = k->cpu(&x, &(struct gl_grid){ { 1, 1, 1 },
						    { 256, 1, 1 } }, &ctx);
	}
	got = malloc(len[2]);
	if (!err && !got)
		err = -ENOMEM;
	if (!err && lease_pread(l, got, len[2], off[2]) != (ssize_t)len[2])
		err = -EIO;
	want = hp[2];
	for (i = 0; !err && i < len[2] / 4; i++) {
		float tol = 1e-4f * (1 + fabsf(want[i])) + 1e-6f * c->k;

		if (!(fabsf(got[i] - want[i]) <= tol) && !bad++)
			TH_LOG("m=%u n=%u k=%u ta=%u tb=%u batch=%u: C[%llu] "
			       "is %g, the twin's %g", c->m, c->n, c->k,
			       c->ta, c->tb, c->batch, (unsigned long long)i,
			       got[i], want[i]);
	}
	if (!err && bad)
		err = -EBADMSG;
	free(got);
	for (j = 0; j < 3; j++)
		free(hp[j]);
	return err;
}

/* Whether row 0 of x W^T (n 300, k 288: a small model's projection) has
 * the same bits computed alone as among @m rows on the device: 1 yes,
 * 0 no, negative an errno. Reported, not required: models run on the
 * CPU only, whose twin keeps rows invariant (selftests/kernels). */
static int mm_row_invariant(struct lease *l, uint32_t m, unsigned int *seed)
{
	const struct mm_case one = { 1, 300, 288, 0, 1, 1, false };
	struct mm_case many = one;
	struct gl_grid g = { { 64, 1, 1 }, { 256, 1, 1 } };
	const struct gl_kernel *k = gl_kernel_find("matmul");
	uint64_t len[3], base = 8 * MIB;
	float *x, r1[300], rm[300];
	struct dev *d = l->dev;
	struct gl_kargs a;
	void *p[3];
	uint32_t i;
	int err;

	many.m = m;
	x = malloc((size_t)m * 288 * 4 + 300 * 288 * 4);
	if (!x)
		return -ENOMEM;
	for (i = 0; i < m * 288 + 300 * 288; i++)
		x[i] = (float)rand_r(seed) / RAND_MAX * 2.0f - 1.0f;
	/* A at base, W at base + 1 MiB, C at base + 2 MiB */
	err = lease_pwrite(l, x, (size_t)m * 288 * 4, base) < 0 ||
	      lease_pwrite(l, x + m * 288, 300 * 288 * 4, base + MIB) < 0 ?
	      -EIO : 0;
	free(x);
	for (i = 0; !err && i < 2; i++) {
		const struct mm_case *c = i ? &many : &one;

		len[0] = (uint64_t)c->m * 288 * 4;
		len[1] = 300 * 288 * 4;
		len[2] = (uint64_t)c->m * 300 * 4;
		err = d->ops->resolve(l->region, base, len[0], &p[0]);
		if (!err)
			err = d->ops->resolve(l->region, base + MIB, len[1],
					      &p[1]);
		if (!err)
			err = d->ops->resolve(l->region, base + 2 * MIB,
					      len[2], &p[2]);
		if (!err) {
			mm_args(&a, c, p, len);
			err = d->ops->launch(d, k, &a, &g, NULL);
		}
		if (!err && lease_pread(l, i ? rm : r1, sizeof(r1),
					base + 2 * MIB) != sizeof(r1))
			err = -EIO;
	}
	if (err)
		return err;
	return !memcmp(r1, rm, sizeof(r1));
}

/* Free device memory, as the driver sees it; 0 where it cannot say. */
static size_t dev_free(struct dev *d)
{
	size_t fr = 0, total = 0;

	if (cuda_enter(d->priv) || cuda.cu.MemGetInfo(&fr, &total))
		return 0;
	return fr;
}

/*
 * matmul through the device (cuBLAS where it loaded, else the fatbin's
 * tiled kernel) agrees with the CPU twin for every transpose pair, odd
 * sizes, batches, the split-K shape (64 x 64, k = 65536) and a batched
 * one (64 x 128^3): the row-major mapping onto column-major cuBLAS is
 * right. And no GEMM takes device memory beyond the leases: a second
 * lease's stream running the same shapes leaves free memory as it was
 * less that lease's footprint (cuBLAS runs with no workspace, not its
 * default pool per stream). The fake runs no kernel, so without its
 * cuBLAS there is nothing to compare.
 */
TEST_F(cb, matmul_matches_the_twin_and_takes_no_workspace)
{
	static const struct mm_case cases[] = {
		{ 7, 33, 65, 0, 0, 1, false },	{ 5, 17, 40, 0, 1, 1, false },
		{ 33, 7, 9, 1, 0, 1, false },	{ 6, 10, 12, 1, 1, 1, false },
		{ 9, 11, 13, 0, 1, 3, false },	{ 1, 300, 288, 0, 1, 1, false },
		{ 64, 64, 65536, 0, 0, 1, true },
		{ 64, 64, 65536, 0, 1, 1, true },
		{ 128, 128, 128, 0, 0, 64, true },
		{ 512, 512, 512, 0, 0, 1, true },
	};
	size_t free0, free1 = 0, free2;
	struct lease *l1, *l2 = NULL;
	unsigned int seed = 11;
	uint64_t size;
	struct dev *d;
	long growth;
	size_t i;
	int round;

	START_ANY(self);
	d = &self->b.devs.devs[0];
	if (self->fc && !cuda.blas_lib)
		SKIP(return, "the fake runs no kernel and has no cuBLAS here");
	TH_LOG("matmul runs on %s", cuda.blas_lib ? "cuBLAS" :
	       "the fatbin's tiled kernel");
	size = self->fc ? 2 * MIB : 40 * MIB;	/* the fake has 8 MiB */
	ASSERT_EQ(acquire(self, "mm1", size, &l1), 0);
	free0 = dev_free(d);
	for (round = 0; round < 2; round++) {
		if (round == 1) {
			free1 = dev_free(d);
			ASSERT_EQ(acquire(self, "mm2", size, &l2), 0);
		}
		for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			if (cases[i].real_only && self->fc)
				continue;
			EXPECT_EQ(mm_check(round ? l2 : l1, &cases[i], &seed),
				  0);
		}
	}
	free2 = dev_free(d);
	if (!self->fc) {
		uint32_t rows[] = { 2, 8, 16, 64 };

		for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
			TH_LOG("x W^T row 0 alone and among %u rows: %s",
			       rows[i], mm_row_invariant(l1, rows[i], &seed) == 1
			       ? "the same bits" : "different bits");
	}
	growth = (long)free1 - (long)free2 - (long)dev_footprint(d, size);
	TH_LOG("device free: %zu MiB with lease 1, %zu after its GEMMs, "
	       "%zu after lease 2's; lease 2's GEMMs took %ld KiB beyond "
	       "its footprint", free0 >> 20, free1 >> 20, free2 >> 20,
	       growth >> 10);
	if (!self->fc)
		EXPECT_LE(growth, (long)((struct cuda_dev *)d->priv)->gran)
			TH_LOG("cuBLAS took a workspace for lease 2's stream");
	else
		EXPECT_EQ(atomic_load(&self->fc->blas_ws_allocs), 0);
	drop(self, l1);
	drop(self, l2);
	EXPECT_EQ(used(self), 0u);
}

/* models/ctl as root */
static int model_ctl(FIXTURE_DATA(cb) *self, const char *line)
{
	struct model_cred c = { 0, 0, NULL, 0 };

	return model_ctl_write(&self->b.models, &c, line, strlen(line));
}

/* Greedy ids from @prompt (@np ids) through model @m's binary form, at
 * most @max into @out; how many, or -errno. */
static int lm_ids(struct model *m, const uint32_t *prompt, uint32_t np,
		  uint32_t max, uint32_t *out)
{
	char buf[sizeof(struct gl_infer_ids) + 64 * 4];
	struct gl_infer_ids h = {
		.magic = GL_INFER_IDS_MAGIC, .n_ids = np, .max_tokens = max,
		.temperature = 0.0f, .top_p = 1.0f,
	};
	struct model_req *rq;
	size_t got = 0;
	ssize_t n;
	int err;

	if (np > 64 || max > 64)
		return -EINVAL;
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), prompt, (size_t)np * 4);
	err = model_req_start(m, buf, sizeof(h) + (size_t)np * 4, &rq);
	if (err)
		return err;
	while ((n = model_req_read(rq, (char *)out + got, (size_t)max * 4 - got,
				   false)) > 0)
		got += (size_t)n;
	model_req_put(rq);
	return n < 0 ? (int)n : (int)(got / 4);
}

/* The same greedy ids computed on the host: @dir/legacy.bin through
 * llama_step() on the CPU twins. How many, or -errno. */
static int lm_ids_host(const char *dir, const uint32_t *prompt, uint32_t np,
		       uint32_t max, uint32_t *out)
{
	struct llama_config c;
	struct llama_plan p;
	struct l2c_file f;
	struct blob b;
	uint32_t t, slot = 0, pos, tok, best, i;
	void *base = NULL;
	char why[160];
	float *lg;
	int err;

	err = slurp(dir, "legacy.bin", &b);
	if (err)
		return err;
	err = l2c_parse(b.p, b.len, &f, why, sizeof(why));
	if (!err) {
		llama_config_l2c(&f.cfg, &c);
		err = llama_plan(&c, 1, c.seq_len, &p);
	}
	if (!err) {
		base = aligned_alloc(LLAMA_ALIGN, p.total_bytes);
		err = base ? 0 : -ENOMEM;
	}
	if (!err)
		err = llama_load_l2c(&p, &f, b.p, b.len, base);
	for (pos = 0, t = 0; !err && t < max; pos++) {
		tok = pos < np ? prompt[pos] : out[t - 1];
		err = llama_step(&p, base, 1, &tok, &slot, &pos, NULL);
		if (err || pos + 1 < np)
			continue;
		lg = llama_logits(&p, base, 0);
		for (best = 0, i = 1; i < c.vocab_size; i++)
			if (lg[i] > lg[best])
				best = i;
		out[t++] = best;
	}
	free(base);
	free(b.p);
	return err ? err : (int)max;
}

/* A llama2.c model of shape @c into @dir/@name, written here: no numpy
 * needed, so the test runs on a GPU machine too. 0 or -errno. */
static int lm_write_ckpt(const char *dir, const char *name,
			 const struct llama_ckpt *c)
{
	char path[PATH_MAX];
	size_t len;
	void *buf;
	int err;

	err = llama_ckpt_make(c, &buf, &len);
	if (err)
		return err;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	err = verb_create_file(path, buf, len);
	free(buf);
	return err;
}

/* A small grouped-query model and its tokenizer into @dir (legacy.bin,
 * tokenizer.bin). 0 or -errno. */
static int lm_write(const char *dir)
{
	const struct llama_ckpt c = { 64, 176, 2, 4, 2, 96, 32 };
	char path[PATH_MAX];
	int err;

	err = lm_write_ckpt(dir, "legacy.bin", &c);
	snprintf(path, sizeof(path), "%s/tokenizer.bin", dir);
	return err ? err : llama_ckpt_tokenizer(c.vocab, path);
}

/*
 * Log what greedy generation on the GPU makes of a stories15M-shape
 * model (@dir/stories.bin, written here): load time, and tokens per
 * second of 5 requests of 64 tokens from token 1 (median). A
 * measurement for Documentation/gpu-verification.md, not a check.
 */
static void lm_time(FIXTURE_DATA(cb) *self, const char *dir)
{
	const struct llama_ckpt c = { 288, 768, 6, 6, 6, 32000, 256 };
	static const uint32_t one = 1;
	double t[5], v, load;
	uint32_t ids[64];
	struct timespec a, b;
	char line[PATH_MAX + 64];
	struct model *m;
	int i, j;

	if (lm_write_ckpt(dir, "stories.bin", &c))
		return;
	snprintf(line, sizeof(line), "load s %s/stories.bin device=0\n", dir);
	clock_gettime(CLOCK_MONOTONIC, &a);
	if (model_ctl(self, line))
		return;
	clock_gettime(CLOCK_MONOTONIC, &b);
	load = (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6;
	m = model_find(&self->b.models, "s");
	for (i = 0; m && i < 5; i++) {
		clock_gettime(CLOCK_MONOTONIC, &a);
		if (lm_ids(m, &one, 1, 64, ids) != 64)
			break;
		clock_gettime(CLOCK_MONOTONIC, &b);
		v = 64 / ((b.tv_sec - a.tv_sec) +
			  (b.tv_nsec - a.tv_nsec) / 1e9);
		for (j = i; j > 0 && t[j - 1] > v; j--)
			t[j] = t[j - 1];
		t[j] = v;
	}
	if (i == 5)
		TH_LOG("stories15M shape on the GPU: load %.0f ms, %.0f "
		       "tokens/s greedy (median of 5 requests of 64)", load,
		       t[2]);
	model_put(m);
	model_ctl(self, "unload s\n");
}

/*
 * A language model on the CUDA device (lm_write()'s llama2.c file with
 * its tokenizer): its weights in the lease, its tokenizer tables,
 * sampling scratch and logits in its host mapping; every kernel of a
 * step a launch (GL_KARGS_ROWS_ALONE). Greedy ids through the binary
 * form are the host's llama_step() ids (on the fake, whose launches run
 * the CPU twins, bit for bit the same computation; on a GPU the same
 * ids), alone, with a second request beside and after a cold start
 * (memory back, weights copied in again); a text request answers
 * through the host tokenizer. threads= is refused there (EINVAL); the
 * unload gives every byte back.
 */
TEST_F(cb, language_model_runs_on_the_device)
{
	static const uint32_t prompt[] = { 1, 5, 7 }, other[] = { 2, 9 };
	enum { MAX = 24 };
	char dir[] = "/tmp/cb-llama-XXXXXX", cmd[64], line[256];
	uint32_t want[MAX], got[MAX];
	int queries = 0, launches = 0;
	struct model *m;
	char text[256];
	size_t len = 0;
	ssize_t n;

	START_ANY(self);
	ASSERT_NE(mkdtemp(dir), NULL);
	ASSERT_EQ(lm_write(dir), 0);
	ASSERT_EQ(lm_ids_host(dir, prompt, 3, MAX, want), MAX);
	snprintf(line, sizeof(line), "load m %s/legacy.bin device=0 "
		 "threads=2\n", dir);
	EXPECT_EQ(model_ctl(self, line), -EINVAL);
	EXPECT_EQ(used(self), 0u);
	snprintf(line, sizeof(line), "load m %s/legacy.bin device=0 "
		 "max_batch=2 tokenizer=%s/tokenizer.bin\n", dir, dir);
	ASSERT_EQ(model_ctl(self, line), 0);
	m = model_find(&self->b.models, "m");
	ASSERT_NE(m, NULL);
	EXPECT_NE(m->host, NULL) TH_LOG("no host mapping for a device model");
	EXPECT_EQ(m->lease->dev, &self->b.devs.devs[0]);
	if (self->fc) {	/* the fake computes through the CPU twins */
		atomic_store(&self->fc->run_kernels, 1);
		queries = atomic_load(&self->fc->queries);
		launches = atomic_load(&self->fc->launches);
	}
	EXPECT_EQ(lm_ids(m, prompt, 3, MAX, got), MAX);
	if (self->fc) {	/* a step's launches queued, waited for once */
		queries = atomic_load(&self->fc->queries) - queries;
		launches = atomic_load(&self->fc->launches) - launches;
		EXPECT_LT(queries * 4, launches)
			TH_LOG("%d stream polls for %d launches", queries,
			       launches);
	}
	EXPECT_EQ(memcmp(got, want, sizeof(want)), 0)
		TH_LOG("first ids: device %u %u %u, host %u %u %u", got[0],
		       got[1], got[2], want[0], want[1], want[2]);
	/* a second request in the other slot changes nothing of the first */
	{
		struct model_req *rq;
		char buf[sizeof(struct gl_infer_ids) + 8];
		struct gl_infer_ids h = {
			.magic = GL_INFER_IDS_MAGIC, .n_ids = 2,
			.max_tokens = MAX, .top_p = 1.0f,
		};

		memcpy(buf, &h, sizeof(h));
		memcpy(buf + sizeof(h), other, sizeof(other));
		ASSERT_EQ(model_req_start(m, buf, sizeof(buf), &rq), 0);
		memset(got, 0, sizeof(got));
		EXPECT_EQ(lm_ids(m, prompt, 3, MAX, got), MAX);
		EXPECT_EQ(memcmp(got, want, sizeof(want)), 0);
		model_req_put(rq);
	}
	{
		static const char ask[] = "max_tokens=8 temperature=0 ab";
		struct model_req *rq;

		ASSERT_EQ(model_req_start(m, ask, sizeof(ask) - 1, &rq), 0);
		while ((n = model_req_read(rq, text + len,
					   sizeof(text) - 1 - len, false)) > 0)
			len += (size_t)n;
		EXPECT_GE(n, 0);
		model_req_put(rq);
		text[len] = '\0';
		EXPECT_GT(len, 0u) TH_LOG("no text");
	}
	/* a cold start builds it again: its memory back, the same ids */
	EXPECT_EQ(model_write_ctl(m, 0, "cold\n", 5), 0);
	EXPECT_EQ(used(self), 0u);
	EXPECT_EQ(model_write_ctl(m, 0, "warm\n", 5), 0);
	memset(got, 0, sizeof(got));
	EXPECT_EQ(lm_ids(m, prompt, 3, MAX, got), MAX);
	EXPECT_EQ(memcmp(got, want, sizeof(want)), 0)
		TH_LOG("after a cold start: device %u %u %u, host %u %u %u",
		       got[0], got[1], got[2], want[0], want[1], want[2]);
	if (self->fc) {
		EXPECT_GT(self->fc->launches, 0);
		atomic_store(&self->fc->run_kernels, 0);
	}
	model_put(m);
	EXPECT_EQ(model_ctl(self, "unload m\n"), 0);
	EXPECT_EQ(used(self), 0u);
	if (!self->fc) {
		lm_time(self, dir);
		EXPECT_EQ(used(self), 0u);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd))
		TH_LOG("%s failed", cmd);
}

/* One mlp request of @rows rows of @x through model @m; its answer's
 * values into @y. 0 or -errno. */
static int mlp_ask(struct model *m, const float *x, uint32_t rows,
		   uint32_t in, float *y, uint32_t out)
{
	size_t len = sizeof(struct gl_infer_tensor) + (size_t)rows * in * 4;
	size_t want = sizeof(struct gl_infer_tensor) + (size_t)rows * out * 4;
	struct gl_infer_tensor h = {
		.magic = GL_INFER_MAGIC, .dtype = GL_INFER_F32,
		.rows = rows, .cols = in,
	};
	struct model_req *rq;
	char *buf = malloc(len > want ? len : want);
	size_t got = 0;
	ssize_t n;
	int err;

	if (!buf)
		return -ENOMEM;
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), x, (size_t)rows * in * 4);
	err = model_req_start(m, buf, len, &rq);
	if (err)
		goto out;
	while ((n = model_req_read(rq, buf + got, want - got, false)) > 0)
		got += (size_t)n;
	err = n < 0 ? (int)n : got != want ? -EBADMSG : 0;
	model_req_put(rq);
	if (!err)
		memcpy(y, buf + sizeof(h), (size_t)rows * out * 4);
out:
	free(buf);
	return err;
}

/* Log what 1-row and 4-row requests take on the GPU (medians of 200):
 * a measurement for Documentation/gpu-verification.md, not a check. */
static void mlp_time(struct model *m, const float *x, uint32_t in, float *y,
		     uint32_t out)
{
	static int64_t t[200];
	struct timespec a, b;
	uint32_t rows;
	int i, j, k;

	for (rows = 1; rows <= 4; rows += 3) {
		for (i = 0; i < 200; i++) {
			clock_gettime(CLOCK_MONOTONIC, &a);
			if (mlp_ask(m, x, rows, in, y, out))
				return;
			clock_gettime(CLOCK_MONOTONIC, &b);
			t[i] = (b.tv_sec - a.tv_sec) * 1000000000ll +
			       b.tv_nsec - a.tv_nsec;
		}
		for (i = 1; i < 200; i++)	/* insertion sort */
			for (j = i; j > 0 && t[j - 1] > t[j]; j--) {
				int64_t v = t[j];

				t[j] = t[j - 1];
				t[j - 1] = v;
			}
		k = 100;
		TH_LOG("a %u-row request on the GPU: %.1f us (median of 200)",
		       rows, t[k] / 1000.0);
	}
}

/*
 * An mlp loaded onto the CUDA device (a gpulease-mlp directory: 3
 * layers of 64, relu, 10 outputs): its weights are in the lease,
 * converted on the host and copied in (read back through the lease, byte
 * for byte what the host plan holds); every answer agrees with the CPU
 * twins' within 1e-4 (1 + |want|), and a row's bits are the same alone
 * and in a request of 4 rows (the fatbin's matmul, not cuBLAS:
 * GL_KARGS_ROWS_ALONE): on a GPU, and on the fake, whose launches run
 * the twins (run_kernels), which checks what the backend hands the
 * kernels. The unload gives every byte back.
 */
TEST_F(cb, mlp_runs_on_the_device)
{
	enum { W = 64, OUTS = 10, ROWS = 4 };
	struct mlp_ckpt ck = { .width = W, .layers = 2, .outs = OUTS };
	char dir[] = "/tmp/cb-mlp-XXXXXX", cmd[64], cfg[8192];
	float x[ROWS * W], y1[ROWS * OUTS], y4[ROWS * OUTS], *want;
	struct mlp_model ref;
	char *st_buf = NULL;
	size_t st_len = 0, i;
	int queries = 0;
	uint32_t seed = 7;
	struct model *m;
	void *dbase;

	START_ANY(self);
	ASSERT_NE(mkdtemp(dir), NULL);
	ck.dir = dir;
	ASSERT_EQ(mlp_ckpt_write(&ck, &st_buf, &st_len, cfg, sizeof(cfg)), 0);
	free(st_buf);
	/* the host's plan and pass over the same files: the reference */
	ASSERT_EQ(mlp_model_load(dir, "model.safetensors", &ref, ROWS, false),
		  0);
	for (i = 0; i < ROWS * W; i++)
		x[i] = mlp_ckpt_rnd(&seed);
	memcpy(mlp_input(&ref.p, ref.base), x, sizeof(x));
	ASSERT_EQ(mlp_forward(&ref.p, ref.base, ROWS, NULL, NULL), 0);
	want = mlp_output(&ref.p, ref.base);

	snprintf(cmd, sizeof(cmd), "load mm %s max_batch=4 device=0\n", dir);
	ASSERT_EQ(model_ctl(self, cmd), 0);
	m = model_find(&self->b.models, "mm");
	ASSERT_NE(m, NULL);
	ASSERT_NE(m->stage, NULL) TH_LOG("no host rows for a device mlp");
	/* the weights in the lease are the plan's, byte for byte */
	{
		char *back = malloc(ref.p.weight_bytes);

		ASSERT_NE(back, NULL);
		EXPECT_EQ(lease_pread(m->lease, back, ref.p.weight_bytes, 0),
			  (ssize_t)ref.p.weight_bytes);
		EXPECT_EQ(memcmp(back, ref.base, ref.p.weight_bytes), 0);
		free(back);
		EXPECT_EQ(m->lease->dev, &self->b.devs.devs[0]);
		EXPECT_EQ(m->lease->dev->ops->resolve(m->lease->region, 0, 64,
						      &dbase), 0);
	}
	if (self->fc) {	/* the fake computes through the CPU twins */
		atomic_store(&self->fc->run_kernels, 1);
		queries = atomic_load(&self->fc->queries);
	}
	for (i = 0; i < ROWS; i++)
		EXPECT_EQ(mlp_ask(m, x + i * W, 1, W, y1 + i * OUTS, OUTS), 0);
	EXPECT_EQ(mlp_ask(m, x, ROWS, W, y4, OUTS), 0);
	for (i = 0; i < ROWS * OUTS; i++)
		EXPECT_TRUE(fabsf(y4[i] - want[i]) <=
			    1e-4f * (1 + fabsf(want[i])))
			TH_LOG("output %zu: %g on the device, %g on the CPU", i,
			       y4[i], want[i]);
	EXPECT_EQ(memcmp(y1, y4, sizeof(y1)), 0)
		TH_LOG("a row's bits changed with its batch");
	if (!self->fc) {
		mlp_time(m, x, W, y1, OUTS);
	} else {
		/* matmul, bias_add, relu on two layers, no relu on the
		 * last: 8 launches a pass, one pass a request */
		EXPECT_EQ(self->fc->launches, 8 * (ROWS + 1));
		/* queued, not waited for one by one: a pass polls its
		 * stream three times (the copy in, the one wait for the
		 * launches, the copy out), where a wait per launch made 11 */
		EXPECT_EQ(atomic_load(&self->fc->queries) - queries,
			  3 * (ROWS + 1));
		atomic_store(&self->fc->run_kernels, 0);
	}
	model_put(m);
	EXPECT_EQ(model_ctl(self, "unload mm\n"), 0);
	EXPECT_EQ(used(self), 0u);
	free(ref.base);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd))
		TH_LOG("%s failed", cmd);
}

TEST_HARNESS_MAIN
