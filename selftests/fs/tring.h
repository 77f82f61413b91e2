/* SPDX-License-Identifier: MIT */
/*
 * tring.h - a minimal ring client written from the ABI alone (uapi/ring.h,
 * Documentation/ring.md), for the fs tests of the ring: map, push, pop,
 * and the CPU and wake-ups a daemon thread spends, from /proc.
 */
#ifndef GL_SELFTEST_TRING_H
#define GL_SELFTEST_TRING_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "selftests/lib/gltest.h"
#include "uapi/ring.h"

struct tring {
	void *map;
	size_t size;
	struct gl_ring_hdr *h;
	struct gl_sqe *sq;
	struct gl_cqe *cq;
	char *data;
};

static inline int tring_open(const struct gl_daemon *d, const char *name,
		      struct tring *r)
{
	struct stat st;
	int fd = lease_open(d, name, "io", O_RDWR);

	if (fd < 0)
		return fd;
	if (fstat(fd, &st)) {
		close(fd);
		return -errno;
	}
	r->size = (size_t)st.st_size;
	r->map = mmap(NULL, r->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		      0);
	close(fd);
	if (r->map == MAP_FAILED)
		return -errno;
	r->h = r->map;
	if (r->h->magic != GL_RING_MAGIC || r->h->version != GL_RING_VERSION)
		return -EINVAL;
	r->sq = (struct gl_sqe *)((char *)r->map + r->h->sq_off);
	r->cq = (struct gl_cqe *)((char *)r->map + r->h->cq_off);
	r->data = (char *)r->map + r->h->data_off;
	return 0;
}

static inline void tring_close(struct tring *r)
{
	if (r->map && r->map != MAP_FAILED)
		munmap(r->map, r->size);
	r->map = NULL;
}

/* Queue one SQE; -EBUSY when the SQ is full. Wakes a sleeping poller. */
static inline int tring_push(struct tring *r, const struct gl_sqe *sqe)
{
	struct gl_ring_hdr *h = r->h;
	uint32_t tail = h->sq_tail;

	if (tail - __atomic_load_n(&h->sq_head, __ATOMIC_ACQUIRE) ==
	    h->sq_entries)
		return -EBUSY;
	r->sq[tail & (h->sq_entries - 1)] = *sqe;
	__atomic_store_n(&h->sq_tail, tail + 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&h->flags, __ATOMIC_SEQ_CST) &
	    GL_RING_NEED_WAKEUP) {
		__atomic_add_fetch(&h->sq_futex, 1, __ATOMIC_SEQ_CST);
		syscall(SYS_futex, &h->sq_futex, FUTEX_WAKE, 1, NULL, NULL, 0);
	}
	return 0;
}

/* Take one CQE, sleeping on cq_futex up to @ms: 0 or -ETIMEDOUT. */
static inline int tring_pop(struct tring *r, struct gl_cqe *out, int ms)
{
	struct gl_ring_hdr *h = r->h;
	long long end = gl_now_ms() + ms;

	for (;;) {
		uint32_t v = __atomic_load_n(&h->cq_futex, __ATOMIC_SEQ_CST);
		uint32_t head = h->cq_head;
		struct timespec ts = { 0, 10 * 1000000 };

		if (head != __atomic_load_n(&h->cq_tail, __ATOMIC_ACQUIRE)) {
			*out = r->cq[head & (h->cq_entries - 1)];
			__atomic_store_n(&h->cq_head, head + 1,
					 __ATOMIC_SEQ_CST);
			/* a poller waiting for CQ room is woken */
			if (__atomic_load_n(&h->flags, __ATOMIC_SEQ_CST) &
			    GL_RING_CQ_WAIT) {
				__atomic_add_fetch(&h->sq_futex, 1,
						   __ATOMIC_SEQ_CST);
				syscall(SYS_futex, &h->sq_futex, FUTEX_WAKE, 1,
					NULL, NULL, 0);
			}
			return 0;
		}
		if (gl_now_ms() > end ||
		    (__atomic_load_n(&h->flags, __ATOMIC_SEQ_CST) &
		     (GL_RING_DEAD | GL_RING_BROKEN)))
			return -ETIMEDOUT;
		__atomic_add_fetch(&h->cq_waiters, 1, __ATOMIC_SEQ_CST);
		syscall(SYS_futex, &h->cq_futex, FUTEX_WAIT, v, &ts, NULL, 0);
		__atomic_sub_fetch(&h->cq_waiters, 1, __ATOMIC_SEQ_CST);
	}
}

static inline struct gl_sqe sqe_of(uint8_t op, uint64_t off, uint64_t addr,
			    uint32_t len, uint64_t ud)
{
	struct gl_sqe s;

	memset(&s, 0, sizeof(s));
	s.opcode = op;
	s.off = off;
	s.addr = addr;
	s.len = len;
	s.user_data = ud;
	return s;
}

/* utime + stime of @pid's task @tid (NULL: the whole process) in clock
 * ticks, or -1 */
static inline long long cpu_ticks_of(pid_t pid, const char *tid)
{
	char path[96], buf[1024], *p;
	unsigned long long ut, st;
	FILE *f;

	if (tid)
		snprintf(path, sizeof(path), "/proc/%d/task/%.16s/stat",
			 (int)pid, tid);
	else
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	if (!p || !(p = strrchr(buf, ')')))
		return -1;
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu "
			  "%llu", &ut, &st) != 2)
		return -1;
	return (long long)(ut + st);
}

static inline long long cpu_ticks(pid_t pid)
{
	return cpu_ticks_of(pid, NULL);
}

/*
 * CPU ticks (utime + stime) and context switches (voluntary and not),
 * summed over the threads of @pid named @comm: 0, or -ENOENT when there
 * is none.
 */
static inline int thread_usage(pid_t pid, const char *comm, long long *ticks,
			       long long *wakes)
{
	char path[96], buf[256];
	struct dirent *e;
	int found = 0;
	DIR *dir;
	FILE *f;

	*ticks = *wakes = 0;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	dir = opendir(path);
	if (!dir)
		return -errno;
	while ((e = readdir(dir))) {
		long long t, v;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%.16s/comm", (int)pid,
			 e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		buf[0] = '\0';
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = '\0';
		fclose(f);
		buf[strcspn(buf, "\n")] = '\0';
		if (strcmp(buf, comm))
			continue;
		t = cpu_ticks_of(pid, e->d_name);
		snprintf(path, sizeof(path), "/proc/%d/task/%.16s/status",
			 (int)pid, e->d_name);
		f = fopen(path, "r");
		v = 0;
		while (f && fgets(buf, sizeof(buf), f)) {
			long long x;

			/* a sleeper wakes voluntarily, a spinner under load
			 * is preempted: count both */
			if (sscanf(buf, "voluntary_ctxt_switches: %lld", &x) ||
			    sscanf(buf, "nonvoluntary_ctxt_switches: %lld",
				   &x))
				v += x;
		}
		if (f)
			fclose(f);
		if (t < 0)
			continue;
		*ticks += t;
		*wakes += v;
		found++;
	}
	closedir(dir);
	return found ? 0 : -ENOENT;
}

#endif
