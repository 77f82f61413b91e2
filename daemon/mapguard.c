/* SPDX-License-Identifier: MIT */
/*
 * The SIGBUS guard of file mappings a user can truncate under the daemon
 * (rings' io files, model checkpoints). Every live guarded mapping is on
 * a lock-free list the handler walks (libwayland's
 * wl_shm_buffer_begin_access idea, by address instead of a thread-local
 * marker, so kernels reading io: arguments on worker threads are covered
 * too): a fault inside one maps anonymous pages from the faulting page to
 * its end, flags it and returns, so the access is retried on the new
 * pages. Invariant: a guard is unlinked only under guard_lock, and freed
 * only once no handler walks the list (guard_busy is 0).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "daemon/mapguard.h"

static pthread_once_t guard_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t guard_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mapguard *_Atomic guard_list; /* live mappings; guard_lock
					 * for writers, handler reads
					 * lock-free */
static atomic_int guard_busy;		/* handlers walking the list */
static struct sigaction guard_prev;	/* chained to for other faults */
static uintptr_t guard_page;		/* page size, set before install */
static int guard_err;			/* sigaction's errno, or 0 */

static void mapguard_sigbus(int sig, siginfo_t *si, void *uc)
{
	uintptr_t a = (uintptr_t)si->si_addr, start, end;
	int saved = errno;
	struct mapguard *g;
	void *p;

	atomic_fetch_add(&guard_busy, 1);
	/* only a fault the kernel raised, not a kill -BUS */
	g = si->si_code > 0 ? atomic_load(&guard_list) : NULL;
	for (; g; g = atomic_load(&g->next))
		if (a >= (uintptr_t)g->addr &&
		    a - (uintptr_t)g->addr < g->len)
			break;
	if (g) {
		start = a & ~(guard_page - 1);
		end = (uintptr_t)g->addr + g->len;
		p = mmap((void *)start, end - start, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		if (p == MAP_FAILED) {
			g = NULL;
		} else {
			atomic_store(&g->hit, true);
			if (g->on_fault)
				g->on_fault(g);
		}
	}
	atomic_fetch_sub(&guard_busy, 1);
	errno = saved;
	if (g)
		return;	/* the access is retried on the new pages */
	if (guard_prev.sa_flags & SA_SIGINFO) {
		guard_prev.sa_sigaction(sig, si, uc);
	} else if (guard_prev.sa_handler != SIG_DFL &&
		   guard_prev.sa_handler != SIG_IGN) {
		guard_prev.sa_handler(sig);
	} else {
		/* the fault repeats on return and kills as it would have */
		signal(sig, SIG_DFL);
	}
}

static void mapguard_install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	guard_page = (uintptr_t)sysconf(_SC_PAGESIZE);
	sa.sa_sigaction = mapguard_sigbus;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, &guard_prev))
		guard_err = errno;
}

int mapguard_add(struct mapguard *g)
{
	pthread_once(&guard_once, mapguard_install);
	if (guard_err)
		return -guard_err;
	atomic_store(&g->hit, false);
	pthread_mutex_lock(&guard_lock);
	atomic_store(&g->next, atomic_load(&guard_list));
	atomic_store(&guard_list, g);
	pthread_mutex_unlock(&guard_lock);
	return 0;
}

void mapguard_del(struct mapguard *g)
{
	struct mapguard *_Atomic *pp;

	pthread_mutex_lock(&guard_lock);
	for (pp = &guard_list; atomic_load(pp) != g;
	     pp = &atomic_load(pp)->next)
		;
	atomic_store(pp, atomic_load(&g->next));
	pthread_mutex_unlock(&guard_lock);
	while (atomic_load(&guard_busy))
		sched_yield();
}
