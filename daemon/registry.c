/* SPDX-License-Identifier: MIT */
/*
 * Kernel registry. Invariant: ents[i] is set, complete and never changes
 * (but for its counters) before count > i is published with release
 * ordering, so readers that load count with acquire see whole entries;
 * entries are freed only by registry_destroy.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/dev/dev.h"
#include "daemon/log.h"
#include "daemon/parse.h"
#include "daemon/registry.h"
#include "daemon/strbuf.h"

int registry_init(struct registry *r)
{
	unsigned i;
	int err;

	memset(r, 0, sizeof(*r));
	for (i = 0; i < GL_K_COUNT; i++) {
		struct kernel_entry *e = &r->builtin[i];

		e->k = gl_kernel_get(i);
		e->idx = i;
		err = gl_ksig_parse(e->k->sig, &e->sig);
		if (err) {
			gl_info("kernel %s: bad built-in signature",
				e->k->name);
			return err;
		}
		r->ents[i] = e;
	}
	atomic_store(&r->count, GL_K_COUNT);
	return -pthread_mutex_init(&r->add_lock, NULL);
}

void registry_destroy(struct registry *r)
{
	unsigned i, n = atomic_load(&r->count);

	for (i = GL_K_COUNT; i < n; i++)
		free(r->ents[i]);
	atomic_store(&r->count, 0);
	pthread_mutex_destroy(&r->add_lock);
}

const struct kernel_entry *registry_get(const struct registry *r, unsigned i)
{
	unsigned n = atomic_load_explicit(&r->count, memory_order_acquire);

	return i < n ? r->ents[i] : NULL;
}

const struct kernel_entry *registry_find(const struct registry *r,
					 const char *name)
{
	const struct kernel_entry *e;
	unsigned i;

	for (i = 0; (e = registry_get(r, i)); i++)
		if (!strcmp(e->k->name, name))
			return e;
	return NULL;
}

void registry_show(const struct kernel_entry *e, struct strbuf *sb)
{
	strbuf_printf(sb, "%s(%s) block=%u\nlaunches %llu\nfailures %llu\n"
			  "time_ns %llu\n",
		      e->k->name, e->k->sig, e->k->block,
		      (unsigned long long)atomic_load(&e->launches),
		      (unsigned long long)atomic_load(&e->failures),
		      (unsigned long long)atomic_load(&e->ns));
}

/* The rules of a registered kernel: CUDA's own limits, nothing more is
 * known of it (its buffers are checked against the lease only, and
 * aligned to GL_BUF_ALIGN_MAX since their element types are unknown). */
static int registered_check(const struct gl_kargs *args,
			    const struct gl_grid *g)
{
	const struct gl_dim3 *gr = &g->grid, *b = &g->block;
	uint32_t i;

	if (!gr->x || !gr->y || !gr->z || !b->x || !b->y || !b->z)
		return -EINVAL;
	if (gr->x > GL_GRID_X_MAX || gr->y > GL_GRID_YZ_MAX ||
	    gr->z > GL_GRID_YZ_MAX)
		return -EINVAL;
	if (b->y > GL_BLOCK_YZ_MAX || b->z > GL_BLOCK_Z_MAX)
		return -EINVAL;
	if ((uint64_t)b->x * b->y * b->z > GL_BLOCK_THREADS_MAX)
		return -EINVAL;
	for (i = 0; i < args->count; i++)
		if ((args->v[i].type == GL_KT_BUF ||
		     args->v[i].type == GL_KT_IO) &&
		    (uintptr_t)args->v[i].buf.ptr % GL_BUF_ALIGN_MAX)
			return -EINVAL;
	return 0;
}

/* Read the whole module file. 0 and *image (malloc'd, NUL-terminated
 * for PTX) or -errno. */
static int read_module(const char *path, void **image, size_t *len)
{
	struct stat st;
	ssize_t n;
	char *buf;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		err = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode) || !st.st_size) {
		err = -EINVAL;
		goto out;
	}
	if ((uint64_t)st.st_size > REGISTRY_MODULE_MAX) {
		err = -EFBIG;
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		err = -ENOMEM;
		goto out;
	}
	n = pread(fd, buf, (size_t)st.st_size, 0);
	if (n != st.st_size) {
		free(buf);
		err = n < 0 ? -errno : -EIO;
		goto out;
	}
	buf[n] = '\0';
	*image = buf;
	*len = (size_t)n;
out:
	close(fd);
	return err;
}

/* Parse "add NAME PATH SIGNATURE..." into @e (name, signature) and
 * @path. 0, -EINVAL or -EFBIG (a line over GL_CTL_LINE_MAX). */
static int parse_add(const char *data, size_t len, struct kernel_entry *e,
		     char *path, size_t path_size)
{
	char line[GL_CTL_LINE_MAX + 1], *save = NULL, *verb, *name, *file;
	char *sig;
	int err;

	err = parse_line(line, GL_CTL_LINE_MAX, data, len);
	if (err < 0)
		return err;
	verb = strtok_r(line, " \t", &save);
	name = strtok_r(NULL, " \t", &save);
	file = strtok_r(NULL, " \t", &save);
	sig = save;
	if (!verb || strcmp(verb, "add") || !name || !file || !sig)
		return -EINVAL;
	sig += strspn(sig, " \t");
	if (parse_name(name) || strlen(name) >= sizeof(e->name) ||
	    strchr(name, '.') || strchr(name, '-') ||
	    strlen(sig) >= sizeof(e->sigtext) ||
	    strlen(file) >= path_size || file[0] != '/')
		return -EINVAL;
	if (gl_ksig_parse(sig, &e->sig))
		return -EINVAL;
	strcpy(e->name, name);
	strcpy(e->sigtext, sig);
	strcpy(path, file);
	return 0;
}

int registry_add(struct registry *r, struct dev_set *devs, uid_t uid,
		 const char *data, size_t len)
{
	struct kernel_entry *e;
	char path[256];
	void *image = NULL;
	size_t size = 0;
	unsigned n;
	int i, loaded = 0, err;

	if (uid != 0)
		return gl_fail_name("kernels/ctl", -EPERM,
				    "uid %u may not register kernels",
				    (unsigned)uid);
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	err = parse_add(data, len, e, path, sizeof(path));
	if (err) {
		free(e);
		return gl_fail_name("kernels/ctl", err,
				    "want: add NAME /PATH SIGNATURE");
	}
	for (i = 0; i < devs->count; i++)
		loaded += devs->devs[i].ops->load_kernel != NULL;
	pthread_mutex_lock(&r->add_lock);
	n = atomic_load(&r->count);
	err = !loaded ? -EOPNOTSUPP : registry_find(r, e->name) ? -EEXIST :
	      n == REGISTRY_MAX ? -EFBIG : 0;
	if (!err)
		err = read_module(path, &image, &size);
	if (err)
		goto out;
	e->own.id = (enum gl_kernel_id)n;
	e->own.name = e->name;
	e->own.sig = e->sigtext;
	e->own.block = 256;
	e->own.check = registered_check;
	e->own.cpu = NULL;	/* no twin: CPU leases cannot run it */
	e->k = &e->own;
	e->idx = n;
	loaded = 0;
	for (i = 0; i < devs->count && !err; i++) {
		struct dev *d = &devs->devs[i];

		if (!d->ops->load_kernel)
			continue;
		err = d->ops->load_kernel(d, e->k, image, size);
		loaded += !err;
	}
	if (!err && !loaded)
		err = -EOPNOTSUPP;
	if (err)
		goto out;
	r->ents[n] = e;
	atomic_store_explicit(&r->count, n + 1, memory_order_release);
	e = NULL;
out:
	pthread_mutex_unlock(&r->add_lock);
	free(image);
	if (e) {
		free(e);
		return gl_fail_name("kernels/ctl", err, err == -EOPNOTSUPP ?
				    "no device here loads modules (the cpu "
				    "device runs only its built-in twins)" :
				    "cannot register the kernel");
	}
	return 0;
}

void registry_account(const struct kernel_entry *e, int status, uint64_t ns)
{
	registry_account_n(e, 1, status != 0, ns);
}

void registry_account_n(const struct kernel_entry *e, uint64_t n,
			uint64_t failures, uint64_t ns)
{
	struct kernel_entry *m = (struct kernel_entry *)e;

	atomic_fetch_add(&m->launches, n);
	if (failures)
		atomic_fetch_add(&m->failures, failures);
	atomic_fetch_add(&m->ns, ns);
}
