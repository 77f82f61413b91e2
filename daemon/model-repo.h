/* SPDX-License-Identifier: MIT */
/*
 * The model repository (--models DIR): one NAME.conf per model, loaded
 * at start by a thread of its own once the tree serves, each as its
 * file's owner. Documentation/models.md, "The model repository".
 */
#ifndef GL_MODEL_REPO_H
#define GL_MODEL_REPO_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

struct model_set;

#define MODEL_REPO_DEFAULT	"/etc/gpulease/models.d"
#define MODEL_REPO_SUFFIX	".conf"
#define MODEL_REPO_FILE_MAX	4096	/* bytes of one NAME.conf */

struct model_repo {
	int dirfd;			/* the directory, or -1: none */
	char path[PATH_MAX];		/* as given, for the log */
	struct model_set *set;		/* borrowed; while the thread runs */
	pthread_t thread;
	bool running;			/* thread started, not joined */
	atomic_bool stop;		/* no further file once set */
	unsigned int loaded, failed;	/* the thread's, read after join */
};

/*
 * model_repo_open - open repository @path (NULL: MODEL_REPO_DEFAULT)
 * before the daemon forks. A missing default directory is no
 * repository (0, r->dirfd -1); an explicit one that cannot be opened as
 * a directory is -errno (-ENOENT, -ENOTDIR, -EACCES, ...). An empty
 * @path is no repository. Opens one descriptor; model_repo_stop()
 * closes it.
 */
int model_repo_open(struct model_repo *r, const char *path);

/*
 * model_repo_load - load every NAME.conf of @r into @s, in name order,
 * on the calling thread (sleeps: each load reads its files). A bad file
 * fails its model only, logged with the file name and reason. Returns
 * the number of models loaded; r->failed counts the rest.
 */
unsigned int model_repo_load(struct model_repo *r, struct model_set *s);

/*
 * model_repo_start - run model_repo_load(@r, @s) on a thread of its own
 * ("gl-models"); nothing when @r has no directory. 0 or -errno
 * (pthread_create's). The caller blocks the stop signals first.
 */
int model_repo_start(struct model_repo *r, struct model_set *s);

/*
 * model_repo_stop - no file after the one loading now; join the thread
 * and close the directory. Sleeps for at most one model's load. Call it
 * before the broker quiesces. Safe on an unopened or stopped @r.
 */
void model_repo_stop(struct model_repo *r);

#endif
