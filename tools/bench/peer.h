/* SPDX-License-Identifier: MIT */
/*
 * peer: the ring benchmark's two daemon-less contenders, each a child
 * process: a shared-memory ping-pong partner (the floor: the ring's
 * handshake and work with no daemon) and a loopback TCP echo server.
 *
 * Invariant: a peer with pid != 0 is a child of ours not yet reaped;
 * peer_*_stop() reaps it on every path, and a peer dies with its parent
 * (PR_SET_PDEATHSIG) so none outlives the benchmark.
 */
#ifndef GL_BENCH_PEER_H
#define GL_BENCH_PEER_H

#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PEER_DATA_MAX		(1u << 20)	/* largest payload */

enum peer_op { PEER_NOP = 0, PEER_SCALE = 1 };

/* The ping-pong page: one writer per word (client or partner). */
struct peer_shm {
	uint32_t req __attribute__((aligned(64)));	/* client: seq */
	uint32_t op;		/* client: enum peer_op */
	uint32_t len;		/* client: payload bytes */
	float a;		/* client: scale factor */
	uint32_t active;	/* client: 1 spin, 0 sleep (futex) */
	uint32_t quit;		/* client: 1 exit */
	uint32_t resp __attribute__((aligned(64)));	/* partner: seq */
	char data[PEER_DATA_MAX] __attribute__((aligned(4096)));
};

struct peer_pp {
	pid_t pid;
	struct peer_shm *shm;	/* MAP_SHARED, ours to unmap */
	uint32_t seq;
};

struct peer_tcp {
	pid_t pid;
	int fd;			/* connected socket, -1 when none */
	char *msg;		/* length word + payload, one send */
};

int peer_pp_start(struct peer_pp *p, const cpu_set_t *cpus);
void peer_pp_active(struct peer_pp *p, int on);
/* One request: the payload is in shm->data already. 0 or -EINTR. */
int peer_pp_call(struct peer_pp *p, enum peer_op op, uint32_t len, float a);
int peer_pp_stop(struct peer_pp *p);

int peer_tcp_start(struct peer_tcp *t, const cpu_set_t *cpus);
/* Send @len bytes of @out, receive them back into @in. 0 or -errno. */
int peer_tcp_call(struct peer_tcp *t, const void *out, void *in,
		  uint32_t len);
int peer_tcp_stop(struct peer_tcp *t);

#endif /* GL_BENCH_PEER_H */
