/* SPDX-License-Identifier: MIT */
/*
 * nodes.c - the daemon counts the kernel's lookups exactly: every entry
 * reply is one (a first lookup and every revalidation of an uncached
 * lease entry alike), every forget takes back what the kernel says, and
 * a node leaves the table, putting its lease back, exactly when its count
 * reaches zero. Read through /gpu/metrics (gpulease_fs_nodes and
 * gpulease_fs_lookups by class); forgets are forced with drop_caches, so
 * the kernel sends them, batched (FORGET_MULTI) when several are queued.
 * A miscount either way fails: too few and the daemon's assertion aborts
 * it at the forget, too many and the counts never come back to zero.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "selftests/harness.h"
#include "selftests/lib/gltest.h"

static const char *const args[] = { "--cpu-vram", "64M", NULL };

#define NR_LEASES	8
#define NR_OPENS	5	/* per file per lease */
static const char *const files[] = { "ctl", "vram", "stats" };
#define NR_FILES	3

FIXTURE(nodes) {
	struct gl_daemon d;
};

FIXTURE_SETUP(nodes)
{
	if (access("/proc/sys/vm/drop_caches", W_OK))
		SKIP(return, "cannot write /proc/sys/vm/drop_caches");
	GL_DAEMON_SETUP(&self->d, args);
}

FIXTURE_TEARDOWN(nodes)
{
	GL_DAEMON_TEARDOWN(&self->d);
}

/* The value of metrics line KEY: >= 0 or -errno. */
static long long metric(const struct gl_daemon *d, const char *key)
{
	static char text[1 << 16];
	char pat[128];
	const char *p;
	ssize_t n;
	size_t len = 0;
	int fd;

	fd = open(gl_path(d, "metrics"), O_RDONLY);
	if (fd < 0)
		return -errno;
	while ((n = read(fd, text + len, sizeof(text) - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	if (n < 0)
		return -EIO;
	text[len] = '\0';
	snprintf(pat, sizeof(pat), "\n%s ", key);
	p = strstr(text, pat);
	return p ? strtoll(p + strlen(pat), NULL, 10) : -ENOKEY;
}

/* gpulease_fs_WHAT{class="lease"} */
static long long lease_metric(const struct gl_daemon *d, const char *what)
{
	char key[96];

	snprintf(key, sizeof(key), "gpulease_fs_%s{class=\"lease\"}", what);
	return metric(d, key);
}

static long long refused(const struct gl_daemon *d)
{
	return metric(d, "gpulease_fs_forgets_refused_total");
}

/* Have the kernel evict every dentry and inode nobody uses: forgets. */
static int drop_caches(void)
{
	int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, "2", 1) != 1)
		ret = -errno;
	close(fd);
	return ret;
}

struct want {
	const struct gl_daemon *d;
	long long nodes, lookups;
};

static int counts_are(void *arg)
{
	struct want *w = arg;

	return lease_metric(w->d, "nodes") == w->nodes &&
	       lease_metric(w->d, "lookups") == w->lookups;
}

/* Force forgets, then wait for the counts they must bring. */
static int settle(const struct gl_daemon *d, long long nodes,
		  long long lookups)
{
	struct want w = { d, nodes, lookups };
	int ret = drop_caches();

	if (ret)
		return ret;
	return gl_wait_until(counts_are, &w, gl_scale_ms(d, 10000));
}

/*
 * Leases made through leases/ctl (no entry reply): the kernel holds none
 * of their nodes until a path names them. Each open of an uncached lease
 * entry is one more lookup, of the directory when the walk passes it and
 * of the file. openat() from a held directory passes no directory.
 */
TEST_F(nodes, lookups_counted_exactly)
{
	struct gl_daemon *d = &self->d;
	int dirs[NR_LEASES], fds[NR_LEASES][NR_FILES][NR_OPENS];
	char name[16];
	int i, f, k;

	ASSERT_EQ(lease_metric(d, "nodes"), 0);
	ASSERT_EQ(lease_metric(d, "lookups"), 0);
	for (i = 0; i < NR_LEASES; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		ASSERT_EQ(gl_ctl_write(d, "leases/ctl",
				       "acquire %s vram=4K ttl=600\n", name), 0);
	}
	EXPECT_EQ(lease_metric(d, "nodes"), 0);
	for (i = 0; i < NR_LEASES; i++) {
		dirs[i] = open(gl_path(d, "leases/n%d", i),
			       O_RDONLY | O_DIRECTORY);
		ASSERT_GE(dirs[i], 0);
	}
	EXPECT_EQ(lease_metric(d, "nodes"), NR_LEASES);
	EXPECT_EQ(lease_metric(d, "lookups"), NR_LEASES);
	for (i = 0; i < NR_LEASES; i++)
		for (f = 0; f < NR_FILES; f++)
			for (k = 0; k < NR_OPENS; k++) {
				fds[i][f][k] = openat(dirs[i], files[f],
						      O_RDONLY);
				ASSERT_GE(fds[i][f][k], 0);
			}
	/* every open was one lookup of its file: a count per node */
	EXPECT_EQ(lease_metric(d, "nodes"), NR_LEASES * (1 + NR_FILES));
	EXPECT_EQ(lease_metric(d, "lookups"),
		  NR_LEASES * (1 + NR_FILES * NR_OPENS));

	/* files closed: forgotten, each with its whole count */
	for (i = 0; i < NR_LEASES; i++)
		for (f = 0; f < NR_FILES; f++)
			for (k = 0; k < NR_OPENS; k++)
				close(fds[i][f][k]);
	EXPECT_EQ(settle(d, NR_LEASES, NR_LEASES), 0)
		TH_LOG("nodes %lld lookups %lld", lease_metric(d, "nodes"),
		       lease_metric(d, "lookups"));

	/* the directories go too; their leases outlive rmdir until then */
	for (i = 0; i < NR_LEASES; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		EXPECT_EQ(lease_remove(d, name), 0);
		close(dirs[i]);
	}
	EXPECT_EQ(settle(d, 0, 0), 0)
		TH_LOG("nodes %lld lookups %lld", lease_metric(d, "nodes"),
		       lease_metric(d, "lookups"));
	EXPECT_EQ(refused(d), 0);
}

/* mkdir's entry reply is a lookup; each walk through the uncached
 * entry revalidates it with one more; rmdir leaves the node to forget. */
TEST_F(nodes, mkdir_and_revalidation_count)
{
	struct gl_daemon *d = &self->d;
	struct stat st;
	int dfd, i;

	ASSERT_EQ(lease_create(d, "m"), 0);
	EXPECT_EQ(lease_metric(d, "nodes"), 1);
	EXPECT_EQ(lease_metric(d, "lookups"), 1);
	dfd = open(gl_path(d, "leases/m"), O_RDONLY | O_DIRECTORY);
	ASSERT_GE(dfd, 0);
	for (i = 0; i < 10; i++)
		ASSERT_EQ(stat(gl_path(d, "leases/m"), &st), 0);
	EXPECT_EQ(lease_metric(d, "nodes"), 1);
	EXPECT_EQ(lease_metric(d, "lookups"), 12);
	/* in use: nothing to forget */
	EXPECT_EQ(settle(d, 1, 12), 0)
		TH_LOG("lookups %lld", lease_metric(d, "lookups"));
	EXPECT_EQ(lease_remove(d, "m"), 0);
	EXPECT_EQ(lease_metric(d, "nodes"), 1);
	close(dfd);
	EXPECT_EQ(settle(d, 0, 0), 0)
		TH_LOG("nodes %lld lookups %lld", lease_metric(d, "nodes"),
		       lease_metric(d, "lookups"));
	EXPECT_EQ(refused(d), 0);
}

TEST_HARNESS_MAIN
