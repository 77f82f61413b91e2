/* SPDX-License-Identifier: MIT */
/*
 * streams: the generate bench's continuous-batching part (streams.c):
 * aggregate tokens/s of S concurrent greedy streams against one, and the
 * time to first token while they run, on a daemon already mounted.
 */
#ifndef GL_BENCH_STREAMS_H
#define GL_BENCH_STREAMS_H

struct streams_cfg {
	const char *mnt;		/* the daemon's mount point */
	const char *file;		/* the checkpoint to load */
	long streams;			/* S: concurrent streams, max_batch */
	long tokens;			/* per request */
	long threads;			/* the model's threads= */
	long rounds;			/* requests per stream */
};

/* streams_bench - load the checkpoint as model "streams" (max_batch=S),
 * measure, print, unload. 0 or -errno. */
int streams_bench(const struct streams_cfg *c);

#endif
