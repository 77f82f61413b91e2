/* SPDX-License-Identifier: MIT */
/*
 * policy_ctl.c - every ctl file reads back what it accepts: /ctl shows
 * each accepted policy value (sizes as plain bytes) and its lines can be
 * written back; leases/ctl lines recreate the lease they describe; the
 * command-line flags show in /ctl the same way.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "selftests/harness.h"
#include "selftests/lib/gltest.h"

static const char *const args[] = { "--cpu-vram", "64M", NULL };

FIXTURE(policy) {
	struct gl_daemon d;
};

FIXTURE_SETUP(policy)
{
	GL_DAEMON_SETUP(&self->d, args);
}

FIXTURE_TEARDOWN(policy)
{
	GL_DAEMON_TEARDOWN(&self->d);
}

static int has_line(const struct gl_daemon *d, const char *rel,
		    const char *line)
{
	char text[GL_TEXT_MAX], want[256];

	if (gl_read(d, rel, text, sizeof(text)) < 0)
		return 0;
	snprintf(want, sizeof(want), "%s\n", line);
	/* At the start or after a newline. */
	return !strncmp(text, want, strlen(want)) ||
	       (strstr(text, want) && strstr(text, want)[-1] == '\n');
}

TEST_F(policy, defaults)
{
	struct gl_daemon *d = &self->d;
	char text[GL_TEXT_MAX];

	ASSERT_GT(gl_read(d, "ctl", text, sizeof(text)), 0);
	EXPECT_TRUE(has_line(d, "ctl", "default_vram 0")) TH_LOG("%s", text);
	EXPECT_TRUE(has_line(d, "ctl", "default_ttl 3600"));
	EXPECT_TRUE(has_line(d, "ctl", "max_ttl 86400"));
	EXPECT_TRUE(has_line(d, "ctl", "clock_offset 0"));
	EXPECT_FALSE(strstr(text, "quota "));
}

TEST_F(policy, reads_back_accepted)
{
	static const struct {
		const char *cmd, *line;
	} cases[] = {
		{ "default_vram 64K\n", "default_vram 65536" },
		{ "default_vram 2m", "default_vram 2097152" },
		{ "default_vram 1G\n", "default_vram 1073741824" },
		{ "default_vram 12345\n", "default_vram 12345" },
		{ "default_ttl 120\n", "default_ttl 120" },
		{ "max_ttl 7200\n", "max_ttl 7200" },
		{ "quota 1000 2M\n", "quota 1000 2097152" },
		{ "quota 1001 1g\n", "quota 1001 1073741824" },
		{ "quota 1000 3M\n", "quota 1000 3145728" },
		{ "clock_offset 5\n", "clock_offset 5" },
	};
	struct gl_daemon *d = &self->d;
	char text[GL_TEXT_MAX];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ASSERT_EQ(gl_ctl_write(d, "ctl", "%s", cases[i].cmd), 0)
			TH_LOG("/ctl \"%s\"", cases[i].cmd);
		gl_read(d, "ctl", text, sizeof(text));
		EXPECT_TRUE(has_line(d, "ctl", cases[i].line))
			TH_LOG("want \"%s\" in /ctl:\n%s", cases[i].line,
			       text);
	}
	/* One line per uid: the later quota replaced the earlier. */
	EXPECT_FALSE(has_line(d, "ctl", "quota 1000 2097152"));
	ASSERT_EQ(gl_ctl_write(d, "ctl", "quota 1000 none\n"), 0);
	ASSERT_GT(gl_read(d, "ctl", text, sizeof(text)), 0);
	EXPECT_FALSE(strstr(text, "quota 1000 ")) TH_LOG("%s", text);
	EXPECT_TRUE(has_line(d, "ctl", "quota 1001 1073741824"));
}

/* Each line /ctl prints is a command /ctl accepts, to the same state. */
TEST_F(policy, round_trip)
{
	struct gl_daemon *d = &self->d;
	char before[GL_TEXT_MAX], after[GL_TEXT_MAX];
	char *line, *save = NULL;

	ASSERT_EQ(gl_ctl_write(d, "ctl", "quota 1000 5M\n"), 0);
	ASSERT_EQ(gl_ctl_write(d, "ctl", "default_vram 4K\n"), 0);
	ASSERT_GT(gl_read(d, "ctl", before, sizeof(before)), 0);
	memcpy(after, before, sizeof(after));
	for (line = strtok_r(after, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save))
		EXPECT_EQ(gl_ctl_write(d, "ctl", "%s\n", line), 0)
			TH_LOG("writing back \"%s\"", line);
	ASSERT_GT(gl_read(d, "ctl", after, sizeof(after)), 0);
	EXPECT_STREQ(after, before);
}

TEST_F(policy, lease_ctl_round_trip)
{
	struct gl_daemon *d = &self->d;
	char s[64];
	long long v;

	ASSERT_EQ(lease_create(d, "m1"), 0);
	ASSERT_EQ(lease_write(d, "m1", "ctl", "vram 8k\n"), 0);
	ASSERT_EQ(lease_write(d, "m1", "ctl", "ttl 90\n"), 0);
	ASSERT_EQ(lease_read_key_str(d, "m1", "vram", s, sizeof(s)), 0);
	EXPECT_STREQ(s, "8192");
	EXPECT_EQ(lease_write(d, "m1", "ctl", "vram %s\n", s), 0);
	ASSERT_EQ(lease_read_key_str(d, "m1", "ttl", s, sizeof(s)), 0);
	EXPECT_STREQ(s, "90");
	EXPECT_EQ(lease_write(d, "m1", "ctl", "ttl %s\n", s), 0);
	ASSERT_EQ(lease_read_key(d, "m1", "vram", &v), 0);
	EXPECT_EQ(v, 8192);
}

TEST_F(policy, acquire_line_round_trip)
{
	struct gl_daemon *d = &self->d;
	char text[GL_TEXT_MAX];
	long long v;

	ASSERT_EQ(gl_ctl_write(d, "leases/ctl", "acquire a1 vram=3K ttl=77\n"),
		  0);
	ASSERT_GT(gl_read(d, "leases/ctl", text, sizeof(text)), 0);
	EXPECT_STREQ(text, "acquire a1 vram=3072 ttl=77 device=0\n");
	ASSERT_EQ(lease_remove(d, "a1"), 0);
	ASSERT_EQ(gl_read(d, "leases/ctl", text, sizeof(text)), 0);
	ASSERT_EQ(gl_ctl_write(d, "leases/ctl",
			       "acquire a1 vram=3072 ttl=77 device=0\n"), 0);
	ASSERT_EQ(lease_read_key(d, "a1", "vram", &v), 0);
	EXPECT_EQ(v, 3072);
	ASSERT_EQ(lease_read_key(d, "a1", "ttl", &v), 0);
	EXPECT_EQ(v, 77);
}

static const char *const quota_args[] = {
	"--cpu-vram", "64M", "--quota", "1000:2M", "--quota", "1001:1G",
	"--default-vram", "4K", NULL
};

FIXTURE(flags) {
	struct gl_daemon d;
};

FIXTURE_SETUP(flags)
{
	GL_DAEMON_SETUP(&self->d, quota_args);
}

FIXTURE_TEARDOWN(flags)
{
	GL_DAEMON_TEARDOWN(&self->d);
}

TEST_F(flags, quota_flags_read_back)
{
	struct gl_daemon *d = &self->d;
	char text[GL_TEXT_MAX];

	ASSERT_GT(gl_read(d, "ctl", text, sizeof(text)), 0);
	EXPECT_TRUE(has_line(d, "ctl", "quota 1000 2097152"))
		TH_LOG("/ctl:\n%s", text);
	EXPECT_TRUE(has_line(d, "ctl", "quota 1001 1073741824"));
	EXPECT_TRUE(has_line(d, "ctl", "default_vram 4096"));
}

TEST_HARNESS_MAIN
