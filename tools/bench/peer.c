/* SPDX-License-Identifier: MIT */
/*
 * peer: the daemon-less contenders of tools/bench/ring.c. The ping-pong
 * partner spins on a shared page for requests while the client keeps it
 * active and sleeps on a futex otherwise, so it takes no CPU from the
 * other contenders' rounds; for a scale request it does what the daemon
 * does for copy-in + scale + copy-out (memcpy into private memory, scale
 * in place, memcpy back). The TCP server accepts one connection on
 * 127.0.0.1 and echoes length-prefixed messages of at most PEER_DATA_MAX
 * bytes.
 *
 * Invariant: every child exits when its parent dies or its channel
 * closes; stop functions reap it within PEER_STOP_MS or kill it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/futex.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "peer.h"
#include "spawn.h"
#include "uapi/barrier.h"

#define PEER_STOP_MS		5000
#define PEER_ACCEPT_MS		10000

static void peer_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/* In the child: die with the parent, run on @cpus. */
static void peer_child_init(pid_t parent, const cpu_set_t *cpus)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(1);
	signal(SIGINT, SIG_IGN);	/* the parent decides when to stop */
	if (cpus)
		sched_setaffinity(0, sizeof(*cpus), cpus);
}

/* Reap @pid: wait up to PEER_STOP_MS, then SIGKILL. 0 or -EIO. */
static int peer_reap(pid_t pid)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	int status, ms;

	for (ms = 0; ms < PEER_STOP_MS; ms += 10) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return WIFEXITED(status) && !WEXITSTATUS(status) ?
			       0 : -EIO;
		if (r < 0 && errno != EINTR)
			return -errno;
		nanosleep(&ts, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -ETIMEDOUT;
}

static void pp_serve(struct peer_shm *s)
{
	static char vram[PEER_DATA_MAX] __attribute__((aligned(4096)));
	struct timespec ts = { 0, 100 * 1000 * 1000 };
	uint32_t done = 0, seq, i;
	float *v = (float *)vram;

	for (;;) {
		if (gl_smp_load_acquire(&s->quit))
			_exit(0);
		if (!gl_smp_load_acquire(&s->active)) {
			syscall(SYS_futex, &s->active, FUTEX_WAIT, 0, &ts,
				NULL, 0);
			continue;
		}
		seq = gl_smp_load_acquire(&s->req);
		if (seq == done) {
			peer_relax();
			continue;
		}
		if (s->op == PEER_SCALE && s->len <= PEER_DATA_MAX) {
			memcpy(vram, s->data, s->len);
			for (i = 0; i < s->len / 4; i++)
				v[i] *= s->a;
			memcpy(s->data, vram, s->len);
		}
		done = seq;
		gl_smp_store_release(&s->resp, seq);
	}
}

int peer_pp_start(struct peer_pp *p, const cpu_set_t *cpus)
{
	pid_t parent = getpid();

	p->shm = mmap(NULL, sizeof(*p->shm), PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p->shm == MAP_FAILED) {
		p->shm = NULL;
		return -errno;
	}
	memset(p->shm, 0, sizeof(*p->shm));	/* fault it in now */
	p->seq = 0;
	fflush(NULL);
	p->pid = fork();
	if (p->pid < 0) {
		p->pid = 0;
		return -errno;
	}
	if (!p->pid) {
		peer_child_init(parent, cpus);
		pp_serve(p->shm);
	}
	return 0;
}

void peer_pp_active(struct peer_pp *p, int on)
{
	gl_atomic_store(&p->shm->active, on ? 1u : 0u);
	if (on)
		syscall(SYS_futex, &p->shm->active, FUTEX_WAKE, 1, NULL, NULL,
			0);
}

int peer_pp_call(struct peer_pp *p, enum peer_op op, uint32_t len, float a)
{
	struct peer_shm *s = p->shm;
	unsigned int i = 0;

	s->op = op;
	s->len = len;
	s->a = a;
	gl_smp_store_release(&s->req, ++p->seq);
	while (gl_smp_load_acquire(&s->resp) != p->seq) {
		if (!(++i & 0xfffff) && spawn_stop)
			return -EINTR;
		peer_relax();
	}
	return 0;
}

int peer_pp_stop(struct peer_pp *p)
{
	int err = 0;

	if (p->pid) {
		gl_atomic_store(&p->shm->quit, 1u);
		peer_pp_active(p, 1);
		err = peer_reap(p->pid);
		p->pid = 0;
	}
	if (p->shm)
		munmap(p->shm, sizeof(*p->shm));
	p->shm = NULL;
	return err;
}

/* Whole-buffer send and receive; 0, or -errno (-EPIPE at EOF). */
static int io_all(int fd, void *buf, size_t len, int out)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		if (out)
			n = send(fd, (char *)buf + done, len - done,
				 MSG_NOSIGNAL);
		else
			n = recv(fd, (char *)buf + done, len - done, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (!n)
			return -EPIPE;
		done += (size_t)n;
	}
	return 0;
}

static void tcp_serve(int lfd)
{
	static char buf[PEER_DATA_MAX];
	struct pollfd pfd = { .fd = lfd, .events = POLLIN };
	uint32_t len;
	int fd, one = 1;

	if (poll(&pfd, 1, PEER_ACCEPT_MS) != 1)
		_exit(1);
	fd = accept(lfd, NULL, NULL);
	close(lfd);
	if (fd < 0)
		_exit(1);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	for (;;) {
		if (io_all(fd, &len, sizeof(len), 0))
			_exit(0);	/* the client closed: done */
		if (len > PEER_DATA_MAX || io_all(fd, buf, len, 0) ||
		    io_all(fd, buf, len, 1))
			_exit(1);
	}
}

int peer_tcp_start(struct peer_tcp *t, const cpu_set_t *cpus)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	pid_t parent = getpid();
	int lfd, one = 1, err;

	t->fd = -1;
	t->msg = malloc(sizeof(uint32_t) + PEER_DATA_MAX);
	if (!t->msg)
		return -ENOMEM;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);	/* 127.0.0.1 only */
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		return -errno;
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, 1) ||
	    getsockname(lfd, (struct sockaddr *)&sa, &sl)) {
		err = -errno;
		close(lfd);
		return err;
	}
	fflush(NULL);
	t->pid = fork();
	if (t->pid < 0) {
		err = -errno;
		t->pid = 0;
		close(lfd);
		return err;
	}
	if (!t->pid) {
		peer_child_init(parent, cpus);
		tcp_serve(lfd);
	}
	close(lfd);
	t->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (t->fd < 0)
		return -errno;
	if (connect(t->fd, (struct sockaddr *)&sa, sizeof(sa)))
		return -errno;
	setsockopt(t->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return 0;
}

int peer_tcp_call(struct peer_tcp *t, const void *out, void *in,
		  uint32_t len)
{
	int err;

	if (len > PEER_DATA_MAX)
		return -EINVAL;
	/* one send, as the ring client writes its payload once */
	memcpy(t->msg, &len, sizeof(len));
	memcpy(t->msg + sizeof(len), out, len);
	err = io_all(t->fd, t->msg, sizeof(len) + len, 1);
	if (!err)
		err = io_all(t->fd, in, len, 0);
	return err;
}

int peer_tcp_stop(struct peer_tcp *t)
{
	int err = 0;

	if (t->fd >= 0)
		close(t->fd);	/* the server sees EOF and exits 0 */
	t->fd = -1;
	if (t->pid)
		err = peer_reap(t->pid);
	t->pid = 0;
	free(t->msg);
	t->msg = NULL;
	return err;
}
