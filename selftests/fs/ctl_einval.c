/* SPDX-License-Identifier: MIT */
/*
 * ctl_einval.c - the ctl grammar's failures, table-driven: every malformed
 * line written to a lease's ctl, to leases/ctl or to /ctl fails with EINVAL
 * and changes nothing; a line over 512 bytes fails with EFBIG; bad lease
 * names fail with EINVAL through mkdir and acquire.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "selftests/harness.h"
#include "selftests/lib/gltest.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static const char *const args[] = { "--cpu-vram", "64M", NULL };

FIXTURE(ctl) {
	struct gl_daemon d;
};

FIXTURE_SETUP(ctl)
{
	GL_DAEMON_SETUP(&self->d, args);
}

FIXTURE_TEARDOWN(ctl)
{
	GL_DAEMON_TEARDOWN(&self->d);
}

#define NAME65 "aaaaaaaaaabbbbbbbbbbccccccccccddddddddddeeeeeeeeee" \
	       "ffffffffffggggg"
#define NAME64 "aaaaaaaaaabbbbbbbbbbccccccccccddddddddddeeeeeeeeee" \
	       "ffffffffffgggg"

static const char *const bad_lease_lines[] = {
	"\n",
	"bogus\n",
	"bogus",
	"VRAM 1M\n",
	"vram\n",
	"vram \n",
	"vram 12Q\n",
	"vram -1\n",
	"vram 99999999999G\n",
	"vram 18446744073709551616\n",
	"vram 1M extra\n",
	"vram 1.5M\n",
	"vram 0x10\n",
	"vram 1MB\n",
	"vram M\n",
	"vram 1M\nttl 5\n",
	"ttl\n",
	"ttl 0\n",
	"ttl 86401\n",
	"ttl -5\n",
	"ttl abc\n",
	"ttl 10 20\n",
	"ttl 5\nttl 6\n",
	"renew 0\n",
	"renew 86401\n",
	"renew 1 2\n",
	"renew x\n",
	"bind 1\n",
	"unbind now\n",
	"renew\nrenew\n",
};

TEST_F(ctl, lease_ctl_einval)
{
	struct gl_daemon *d = &self->d;
	char before[GL_TEXT_MAX], s[256];
	long long v;
	size_t i;

	ASSERT_EQ(lease_create(d, "m1"), 0);
	ASSERT_EQ(lease_write(d, "m1", "ctl", "vram 64K\n"), 0);
	ASSERT_EQ(lease_write(d, "m1", "ctl", "ttl 300\n"), 0);
	ASSERT_EQ(lease_read_key_str(d, "m1", "last_error", s, sizeof(s)), 0);
	EXPECT_STREQ(s, "-");
	for (i = 0; i < ARRAY_SIZE(bad_lease_lines); i++) {
		const char *line = bad_lease_lines[i];

		EXPECT_EQ(gl_write_raw(d, "leases/m1/ctl", line, strlen(line)),
			  -EINVAL) TH_LOG("lease ctl line \"%s\"", line);
		ASSERT_EQ(lease_read_key(d, "m1", "vram", &v), 0);
		EXPECT_EQ(v, 65536) TH_LOG("after \"%s\"", line);
		ASSERT_EQ(lease_read_key(d, "m1", "ttl", &v), 0);
		EXPECT_EQ(v, 300) TH_LOG("after \"%s\"", line);
		ASSERT_EQ(lease_read_key(d, "m1", "bound", &v), 0);
		EXPECT_EQ(v, 0) TH_LOG("after \"%s\"", line);
	}
	ASSERT_EQ(lease_read_key_str(d, "m1", "last_error", s, sizeof(s)), 0);
	EXPECT_STRNE(s, "-");
	ASSERT_GT(lease_read(d, "m1", "ctl", before, sizeof(before)), 0);
	ASSERT_EQ(lease_read_key_str(d, "m1", "state", s, sizeof(s)), 0);
	EXPECT_STREQ(s, GL_STATE_ACTIVE);
	EXPECT_EQ(dev_read_u64(d, 0, "vram.used"), 65536);
}

static const char *const bad_acquire_lines[] = {
	"acquire\n",
	"acquire \n",
	"acquire a b\n",
	"acquire x vram=12Q\n",
	"acquire x vram=-1\n",
	"acquire x vram=99999999999G\n",
	"acquire x vram=\n",
	"acquire x vram\n",
	"acquire x ttl=0\n",
	"acquire x ttl=86401\n",
	"acquire x ttl=abc\n",
	"acquire x ttl=\n",
	"acquire x device=abc\n",
	"acquire x device=-1\n",
	"acquire x foo=1\n",
	"acquire x bind extra\n",
	"acquire x bind=1\n",
	"create x\n",
	"bogus\n",
	"\n",
	"acquire x\nacquire y\n",
	"acquire .\n",
	"acquire ..\n",
	"acquire a/b\n",
	"acquire a*b\n",
	"acquire a:b\n",
	"acquire " NAME65 "\n",
	"acquire x vram=1M vram=1M extra\n",
};

TEST_F(ctl, leases_ctl_einval)
{
	struct gl_daemon *d = &self->d;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad_acquire_lines); i++) {
		const char *line = bad_acquire_lines[i];

		EXPECT_EQ(gl_write_raw(d, "leases/ctl", line, strlen(line)),
			  -EINVAL) TH_LOG("leases/ctl line \"%s\"", line);
		EXPECT_EQ(gl_count_leases(d), 0) TH_LOG("after \"%s\"", line);
	}
	EXPECT_EQ(dev_read_u64(d, 0, "vram.used"), 0);
	/* The grammar works at all: the longest name is fine. */
	EXPECT_EQ(gl_ctl_write(d, "leases/ctl", "acquire %s\n", NAME64), 0);
}

static const char *const bad_policy_lines[] = {
	"bogus 1\n",
	"\n",
	"default_vram\n",
	"default_vram 12Q\n",
	"default_vram -1\n",
	"default_vram 99999999999G\n",
	"default_vram 1M 2M\n",
	"default_ttl 0\n",
	"default_ttl 86401\n",
	"default_ttl abc\n",
	"max_ttl 10\n",
	"max_ttl 0\n",
	"max_ttl 31536001\n",
	"quota\n",
	"quota 1000\n",
	"quota abc 1M\n",
	"quota -5 1M\n",
	"quota 1000 -1\n",
	"quota 1000 12Q\n",
	"quota 1000 1M x\n",
	"clock_offset -1\n",
	"clock_offset x\n",
	"clock_offset\n",
	"default_ttl 60\nmax_ttl 100\n",
};

TEST_F(ctl, policy_ctl_einval)
{
	struct gl_daemon *d = &self->d;
	char before[GL_TEXT_MAX], after[GL_TEXT_MAX];
	size_t i;

	ASSERT_GT(gl_read(d, "ctl", before, sizeof(before)), 0);
	for (i = 0; i < ARRAY_SIZE(bad_policy_lines); i++) {
		const char *line = bad_policy_lines[i];

		EXPECT_EQ(gl_write_raw(d, "ctl", line, strlen(line)), -EINVAL)
			TH_LOG("/ctl line \"%s\"", line);
		ASSERT_GT(gl_read(d, "ctl", after, sizeof(after)), 0);
		EXPECT_STREQ(after, before) TH_LOG("after \"%s\"", line);
	}
}

static const char *const bad_names[] = {
	"a b", "a*b", "a:b", "tab\there", NAME65, "caf\xc3\xa9", "a\\b",
};

TEST_F(ctl, mkdir_bad_names_einval)
{
	struct gl_daemon *d = &self->d;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad_names); i++) {
		EXPECT_EQ(lease_create(d, bad_names[i]), -EINVAL)
			TH_LOG("name \"%s\"", bad_names[i]);
	}
	EXPECT_EQ(gl_count_leases(d), 0);
}

TEST_F(ctl, good_names)
{
	static const char *const names[] = {
		NAME64, "a", "...", "a.b_c-D9", "-x", "_", "model.m1",
	};
	struct gl_daemon *d = &self->d;
	char s[128];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(names); i++) {
		EXPECT_EQ(lease_create(d, names[i]), 0)
			TH_LOG("name \"%s\"", names[i]);
		EXPECT_EQ(lease_read_key_str(d, names[i], "name", s,
					     sizeof(s)), 0);
		EXPECT_STREQ(s, names[i]);
		EXPECT_EQ(lease_remove(d, names[i]), 0);
	}
}

/* A line of @len bytes: "renew " padded with digits, then a newline. */
static void long_line(char *buf, size_t len, const char *verb)
{
	size_t n = strlen(verb);

	memcpy(buf, verb, n);
	memset(buf + n, '9', len - n - 1);
	buf[len - 1] = '\n';
}

TEST_F(ctl, line_over_512_efbig)
{
	static const struct {
		const char *rel, *verb;
	} files[] = {
		{ "leases/m1/ctl", "renew " },
		{ "leases/ctl", "acquire x ttl=" },
		{ "ctl", "default_ttl " },
	};
	struct gl_daemon *d = &self->d;
	char line[GL_CTL_LINE_MAX + 64];
	size_t i;

	ASSERT_EQ(lease_create(d, "m1"), 0);
	for (i = 0; i < ARRAY_SIZE(files); i++) {
		long_line(line, GL_CTL_LINE_MAX + 1, files[i].verb);
		EXPECT_EQ(gl_write_raw(d, files[i].rel, line,
				       GL_CTL_LINE_MAX + 1), -EFBIG)
			TH_LOG("513 bytes to %s", files[i].rel);
		long_line(line, GL_CTL_LINE_MAX + 40, files[i].verb);
		EXPECT_EQ(gl_write_raw(d, files[i].rel, line,
				       GL_CTL_LINE_MAX + 40), -EFBIG)
			TH_LOG("552 bytes to %s", files[i].rel);
		/* 512 bytes is within the bound: a plain bad number. */
		long_line(line, GL_CTL_LINE_MAX, files[i].verb);
		EXPECT_EQ(gl_write_raw(d, files[i].rel, line,
				       GL_CTL_LINE_MAX), -EINVAL)
			TH_LOG("512 bytes to %s", files[i].rel);
	}
	EXPECT_EQ(gl_count_leases(d), 1);
}

/* Accepted forms: lower-case suffixes, no newline, plain bytes. */
TEST_F(ctl, lease_ctl_accepts)
{
	struct gl_daemon *d = &self->d;
	long long v;
	int fd;

	ASSERT_EQ(lease_create(d, "m1"), 0);
	EXPECT_EQ(lease_write(d, "m1", "ctl", "vram 64k"), 0);
	ASSERT_EQ(lease_read_key(d, "m1", "vram", &v), 0);
	EXPECT_EQ(v, 65536);
	EXPECT_EQ(lease_write(d, "m1", "ctl", "vram 1m\n"), 0);
	ASSERT_EQ(lease_read_key(d, "m1", "vram", &v), 0);
	EXPECT_EQ(v, 1048576);
	EXPECT_EQ(lease_write(d, "m1", "ctl", "vram 12345\n"), 0);
	ASSERT_EQ(lease_read_key(d, "m1", "vram", &v), 0);
	EXPECT_EQ(v, 12345);
	EXPECT_EQ(lease_write(d, "m1", "ctl", "vram 0\n"), 0);
	ASSERT_EQ(lease_read_key(d, "m1", "vram", &v), 0);
	EXPECT_EQ(v, 0);
	EXPECT_EQ(lease_write(d, "m1", "ctl", "ttl 60\n"), 0);
	EXPECT_EQ(lease_write(d, "m1", "ctl", "renew\n"), 0);
	EXPECT_EQ(lease_write(d, "m1", "ctl", "renew 30\n"), 0);
	fd = lease_open(d, "m1", "ctl", O_RDWR);
	ASSERT_GE(fd, 0);
	EXPECT_EQ(write(fd, "bind\n", 5), 5);
	EXPECT_EQ(write(fd, "unbind\n", 7), 7);
	close(fd);
}

TEST_HARNESS_MAIN
