// SPDX-License-Identifier: MIT
/*
 * The model repository: a directory of NAME.conf files, each holding
 * what follows "load NAME" on a models/ctl line (PATH [key=value ...],
 * spread over lines if one likes, '#' lines are comments) plus io=SIZE,
 * the model's request ring. At start, once the tree serves, a thread
 * loads them one by one in name order through model_ctl_write(), as the
 * file's owner would by writing the line: the owner's uid, primary gid
 * and groups open the model's files, own the model and pay its lease.
 * Invariant: a file fails its own model only; the thread touches the
 * set only through model.h's calls and is joined before the broker
 * quiesces, so no load runs during teardown.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/log.h"
#include "daemon/model-repo.h"
#include "daemon/model.h"
#include "daemon/parse.h"
#include "daemon/strbuf.h"

#define REPO_GROUPS_MAX	256

int model_repo_open(struct model_repo *r, const char *path)
{
	bool given = path != NULL;

	memset(r, 0, sizeof(*r));
	r->dirfd = -1;
	atomic_init(&r->stop, false);
	if (!path)
		path = MODEL_REPO_DEFAULT;
	if (!*path)
		return 0;
	if (strlen(path) >= sizeof(r->path))
		return -ENAMETOOLONG;
	strcpy(r->path, path);
	r->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (r->dirfd >= 0)
		return 0;
	if (!given && errno == ENOENT)
		return 0;
	return -errno;
}

/* The owner's credentials: its passwd entry's gid and groups, or the
 * file's gid alone for a uid without one. */
static void repo_cred(const struct stat *st, struct model_cred *c,
		      gid_t *groups, int max)
{
	struct passwd pw, *res = NULL;
	char buf[2048];
	int n = max;

	c->uid = st->st_uid;
	c->gid = st->st_gid;
	c->groups = NULL;
	c->ngroups = 0;
	if (getpwuid_r(st->st_uid, &pw, buf, sizeof(buf), &res) || !res)
		return;
	c->gid = pw.pw_gid;
	if (getgrouplist(pw.pw_name, pw.pw_gid, groups, &n) < 0)
		return;		/* more than max: the primary gid alone */
	c->groups = groups;
	c->ngroups = n;
}

/* Read the file @name of the repository, a regular file nobody but its
 * owner may write, into @buf (NUL-terminated). 0 or -errno, *@why. */
static int repo_read(struct model_repo *r, const char *name, char *buf,
		     size_t size, struct stat *st, const char **why)
{
	size_t got = 0;
	ssize_t n;
	int fd, err = 0;

	fd = openat(r->dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
		    O_NOCTTY | O_CLOEXEC);
	if (fd < 0 && errno == ELOOP) {
		*why = "a symbolic link";	/* its target is not ours */
		return -EINVAL;
	}
	if (fd < 0) {
		*why = "cannot open it";
		return -errno;
	}
	if (fstat(fd, st)) {
		err = -errno;
		*why = "cannot stat it";
	} else if (!S_ISREG(st->st_mode)) {
		err = -EINVAL;
		*why = "not a regular file";
	} else if (st->st_mode & (S_IWGRP | S_IWOTH)) {
		/* others' words would load as its owner */
		err = -EPERM;
		*why = "writable by group or others";
	}
	while (!err && got < size) {
		n = read(fd, buf + got, size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			*why = "cannot read it";
		} else if (!n) {
			break;
		}
		got += n > 0 ? (size_t)n : 0;
	}
	close(fd);
	if (err)
		return err;
	if (got == size) {
		*why = "longer than MODEL_REPO_FILE_MAX (4096) bytes";
		return -EFBIG;
	}
	buf[got] = '\0';
	if (strlen(buf) != got) {
		*why = "a NUL byte in it";
		return -EINVAL;
	}
	return 0;
}

/*
 * The load line of model @model from the file's text @text (cut in
 * place): "load MODEL WORD ..." into @sb, the io= word apart into
 * *@io ("" when none). 0 or -EINVAL with *@why.
 */
static int repo_line(const char *model, char *text, struct strbuf *sb,
		     const char **io, const char **why)
{
	char *line, *word, *lsave = NULL, *wsave = NULL;
	const char *v;
	int words = 0;

	*io = "";
	strbuf_printf(sb, "load %s", model);
	for (line = strtok_r(text, "\n", &lsave); line;
	     line = strtok_r(NULL, "\n", &lsave)) {
		line += strspn(line, " \t\r");
		if (*line == '#')
			continue;
		for (word = strtok_r(line, " \t\r", &wsave); word;
		     word = strtok_r(NULL, " \t\r", &wsave)) {
			if (parse_key(word, "io", &v)) {
				*io = v;
				continue;
			}
			strbuf_printf(sb, " %s", word);
			words++;
		}
	}
	if (!words) {
		*why = "no PATH in it";
		return -EINVAL;
	}
	if (sb->err)
		*why = "no memory";
	return sb->err;
}

/* Make the model's request ring, or unload it again. 0 or -errno. */
static int repo_io(struct model_set *s, const struct model_cred *c,
		   const char *model, const char *io)
{
	char line[GL_NAME_MAX + 16];
	struct model *m;
	int err;

	m = model_find(s, model);
	if (!m)
		return -ENOENT;		/* unloaded meanwhile */
	snprintf(line, sizeof(line), "io %s", io);
	err = model_write_ctl(m, c->uid, line, strlen(line));
	model_put(m);
	if (err) {
		snprintf(line, sizeof(line), "unload %s", model);
		model_ctl_write(s, c, line, strlen(line));
	}
	return err;
}

/* Load the model of file @name. 0 or -errno, logged with @name. */
static int repo_file(struct model_repo *r, struct model_set *s,
		     const char *name)
{
	size_t len = strlen(name) - strlen(MODEL_REPO_SUFFIX);
	char model[GL_NAME_MAX + 1], *text;
	gid_t groups[REPO_GROUPS_MAX];
	const char *why = "", *io;
	struct strbuf sb = STRBUF_INIT;
	struct model_cred c;
	struct stat st;
	int err;

	if (len >= sizeof(model))
		return gl_fail_name(name, -EINVAL, "model repository %s: "
				    "the name is too long", r->path);
	memcpy(model, name, len);
	model[len] = '\0';
	if (parse_name(model))
		return gl_fail_name(name, -EINVAL, "model repository %s: "
				    "NAME must be of [A-Za-z0-9._-]",
				    r->path);
	text = malloc(MODEL_REPO_FILE_MAX + 1);
	if (!text)
		return gl_fail_name(name, -ENOMEM, "model repository %s: "
				    "no memory", r->path);
	err = repo_read(r, name, text, MODEL_REPO_FILE_MAX + 1, &st, &why);
	if (!err)
		err = repo_line(model, text, &sb, &io, &why);
	if (err) {
		gl_fail_name(name, err, "model repository %s: %s", r->path,
			     why);
		goto out;
	}
	repo_cred(&st, &c, groups, REPO_GROUPS_MAX);
	/* the reason is logged by the set, with the model's name */
	err = model_ctl_write(s, &c, sb.buf, sb.len);
	if (err) {
		gl_fail_name(name, err, "model repository %s: the load of "
			     "model %s as uid %u failed (the line before says "
			     "why)", r->path, model, (unsigned)c.uid);
		goto out;
	}
	if (*io) {
		err = repo_io(s, &c, model, io);
		if (err) {
			gl_fail_name(name, err, "model repository %s: io=%s "
				     "failed; model %s unloaded", r->path,
				     io, model);
			goto out;
		}
	}
	gl_info("model repository %s: %s loaded model %s as uid %u",
		r->path, name, model, (unsigned)c.uid);
out:
	strbuf_release(&sb);
	free(text);
	return err;
}

static int repo_wanted(const struct dirent *de)
{
	size_t len = strlen(de->d_name), sl = strlen(MODEL_REPO_SUFFIX);

	/* hidden files and others (README, NAME.conf~) are not models */
	return de->d_name[0] != '.' && len > sl &&
	       !strcmp(de->d_name + len - sl, MODEL_REPO_SUFFIX);
}

unsigned int model_repo_load(struct model_repo *r, struct model_set *s)
{
	struct dirent **list = NULL;
	int n, i;

	r->loaded = r->failed = 0;
	if (r->dirfd < 0)
		return 0;
	n = scandirat(r->dirfd, ".", &list, repo_wanted, alphasort);
	if (n < 0) {
		gl_fail_name(r->path, -errno, "model repository: cannot "
			     "read the directory");
		return 0;
	}
	for (i = 0; i < n; i++) {
		if (!atomic_load(&r->stop)) {
			if (repo_file(r, s, list[i]->d_name))
				r->failed++;
			else
				r->loaded++;
		}
		free(list[i]);
	}
	free(list);
	gl_info("model repository %s: %u loaded, %u failed", r->path,
		r->loaded, r->failed);
	return r->loaded;
}

static void *repo_main(void *arg)
{
	struct model_repo *r = arg;

	model_repo_load(r, r->set);
	return NULL;
}

int model_repo_start(struct model_repo *r, struct model_set *s)
{
	int err;

	if (r->dirfd < 0)
		return 0;
	r->set = s;
	err = pthread_create(&r->thread, NULL, repo_main, r);
	if (err)
		return -err;
	pthread_setname_np(r->thread, "gl-models");
	r->running = true;
	return 0;
}

void model_repo_stop(struct model_repo *r)
{
	atomic_store(&r->stop, true);
	if (r->running)
		pthread_join(r->thread, NULL);
	r->running = false;
	if (r->dirfd >= 0)
		close(r->dirfd);
	r->dirfd = -1;
}
