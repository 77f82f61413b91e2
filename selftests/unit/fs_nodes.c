/* SPDX-License-Identifier: MIT */
/*
 * fs_nodes.c - the front end's node table (fusefs/node.c) against a class
 * that counts its references: each node's lookup count is exact over many
 * lookups and batched forgets, the class reference is put exactly once,
 * when the count reaches zero, a node comes back with the same number
 * after it was forgotten, and a forget below zero (or of a node the
 * kernel was never handed) is caught: an assertion in this build, a
 * refused forget counted with NDEBUG.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fusefs/fs.h"
#include "selftests/harness.h"

#define NR_OBJS 64

struct obj {
	long refs;		/* the test's own plus the table's */
	long puts;		/* class puts seen */
};

static struct obj objs[NR_OBJS];

static void obj_get(const struct fs_node *n)
{
	((struct obj *)n->obj)->refs++;
}

static void obj_put(const struct fs_node *n)
{
	struct obj *o = n->obj;

	o->puts++;
	o->refs--;
}

static const struct fs_class test_class = {
	.name = "test",
	.nr = 5,
	.first = FS_LEASE_DIR,
	.last = FS_LEASE_DIR,
	.get = obj_get,
	.put = obj_put,
};

static fuse_ino_t ino_of(int i)
{
	return ((fuse_ino_t)test_class.nr << FS_INO_CLASS_SHIFT) + 1 + i;
}

/* A lookup as fs_child + fs_reply_entry make it: take, then hold. */
static int lookup(struct fs_nodes *t, int i)
{
	struct fs_node n = { .kind = FS_LEASE_DIR, .obj = &objs[i] };

	obj_get(&n);
	return fs_nodes_hold(t, &test_class, ino_of(i), &n);
}

static uint64_t lookups(struct fs_nodes *t, uint64_t *nodes)
{
	struct fs_class_stats st[FS_NR_CLASSES];

	fs_nodes_stats(t, st);
	*nodes = st[test_class.nr].nodes;
	return st[test_class.nr].lookups;
}

TEST(counts_exact_over_batched_forgets)
{
	struct fuse_forget_data batch[NR_OBJS];
	struct fs_nodes t;
	struct fs_node n;
	uint64_t nodes;
	int i, k;

	ASSERT_EQ(fs_nodes_init(&t), 0);
	/* object i is looked up i + 1 times */
	for (i = 0; i < NR_OBJS; i++)
		for (k = 0; k <= i; k++)
			ASSERT_EQ(lookup(&t, i), 0);
	EXPECT_EQ(lookups(&t, &nodes), (uint64_t)NR_OBJS * (NR_OBJS + 1) / 2);
	EXPECT_EQ(nodes, (uint64_t)NR_OBJS);
	for (i = 0; i < NR_OBJS; i++) {
		/* the table keeps one reference, whatever the count */
		EXPECT_EQ(objs[i].refs, 1);
		ASSERT_EQ(fs_nodes_find(&t, ino_of(i), &n), 0);
		EXPECT_EQ(n.obj, &objs[i]);
	}
	/* a FORGET_MULTI: every node forgets all but one of its lookups */
	for (i = 0; i < NR_OBJS; i++) {
		batch[i].ino = ino_of(i);
		batch[i].nlookup = (uint64_t)i;
	}
	for (i = 0; i < NR_OBJS; i++)
		fs_nodes_forget(&t, batch[i].ino, batch[i].nlookup);
	EXPECT_EQ(lookups(&t, &nodes), (uint64_t)NR_OBJS);
	EXPECT_EQ(nodes, (uint64_t)NR_OBJS);
	for (i = 0; i < NR_OBJS; i++)
		EXPECT_EQ(objs[i].puts, (long)i);	/* only the extra refs */
	/* the last one each: freed exactly now, put exactly once more */
	for (i = 0; i < NR_OBJS; i++) {
		fs_nodes_forget(&t, ino_of(i), 1);
		EXPECT_EQ(objs[i].refs, 0);
		EXPECT_EQ(objs[i].puts, (long)i + 1);
		EXPECT_EQ(fs_nodes_find(&t, ino_of(i), &n), -ENOENT);
	}
	EXPECT_EQ(lookups(&t, &nodes), 0u);
	EXPECT_EQ(nodes, 0u);
	/* back, with the same number, and a fresh reference */
	ASSERT_EQ(lookup(&t, 3), 0);
	EXPECT_EQ(fs_nodes_find(&t, ino_of(3), &n), 0);
	EXPECT_EQ(objs[3].refs, 1);
	/* what the kernel never forgot is put back at teardown */
	fs_nodes_destroy(&t);
	EXPECT_EQ(objs[3].refs, 0);
	EXPECT_EQ(objs[3].puts, 5);
}

/* Run @bad in a child: it must die of the assertion, or, with NDEBUG,
 * leave the counts untouched but one refused forget. */
static void expect_caught(void (*bad)(struct fs_nodes *t))
{
	struct fs_nodes t;
	uint64_t nodes;
	int status;
	pid_t pid;

	ASSERT_EQ(fs_nodes_init(&t), 0);
	ASSERT_EQ(lookup(&t, 0), 0);
	ASSERT_EQ(lookup(&t, 0), 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		struct fs_class_stats st[FS_NR_CLASSES];

		close(STDERR_FILENO);	/* the assertion's message */
		bad(&t);
		/* NDEBUG: refused, counted, nothing below zero */
		_exit(fs_nodes_stats(&t, st) == 1 &&
		      st[test_class.nr].lookups <= 2 ? 42 : 1);
	}
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
#ifdef NDEBUG
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 42);
#else
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT)
		TH_LOG("status %#x", status);
#endif
	/* the parent's table is as it was */
	EXPECT_EQ(lookups(&t, &nodes), 2u);
	fs_nodes_destroy(&t);
}

static void forget_three_of_two(struct fs_nodes *t)
{
	fs_nodes_forget(t, ino_of(0), 1);
	fs_nodes_forget(t, ino_of(0), 2);
}

static void forget_unknown(struct fs_nodes *t)
{
	fs_nodes_forget(t, ino_of(NR_OBJS + 1), 1);
}

TEST(forget_below_zero_caught)
{
	expect_caught(forget_three_of_two);
}

TEST(forget_of_unknown_node_caught)
{
	expect_caught(forget_unknown);
}

TEST_HARNESS_MAIN
