/* SPDX-License-Identifier: MIT */
/*
 * strbuf.c - the text buffer behind every ctl and metrics file: appends
 * across growth, formatting that fits and that does not, detach, and the
 * Prometheus label escaping built on it.
 */
#include <string.h>

#include "daemon/metrics.h"
#include "daemon/strbuf.h"
#include "selftests/harness.h"

TEST(appends_across_growth)
{
	struct strbuf sb = STRBUF_INIT;
	char want[5000];
	size_t len;
	char *p;
	int i;

	for (i = 0; i < 1000; i++) {
		ASSERT_EQ(strbuf_printf(&sb, "%04d", i), 0);
		snprintf(want + 4 * i, 5, "%04d", i);
	}
	ASSERT_EQ(strbuf_add(&sb, "xyz", 2), 0);
	strcat(want, "xy");
	EXPECT_EQ(sb.len, strlen(want));
	EXPECT_STREQ(sb.buf, want);
	p = strbuf_detach(&sb, &len);
	ASSERT_NE(p, NULL);
	EXPECT_EQ(len, 4002u);
	EXPECT_EQ(sb.buf, NULL);
	free(p);
}

TEST(long_format_grows_once)
{
	struct strbuf sb = STRBUF_INIT;
	char big[3000];

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ASSERT_EQ(strbuf_printf(&sb, "<%s>", "x"), 0);
	ASSERT_EQ(strbuf_printf(&sb, "%s|", big), 0);
	EXPECT_EQ(sb.len, 3u + sizeof(big) - 1 + 1);
	EXPECT_EQ(sb.buf[sb.len], '\0');
	EXPECT_EQ(strncmp(sb.buf, "<x>aaa", 6), 0);
	strbuf_release(&sb);
}

TEST(empty_detach_is_a_string)
{
	struct strbuf sb = STRBUF_INIT;
	size_t len = 7;
	char *p = strbuf_detach(&sb, &len);

	ASSERT_NE(p, NULL);
	EXPECT_EQ(len, 0u);
	EXPECT_STREQ(p, "");
	free(p);
}

TEST(prometheus_label_escaping)
{
	struct strbuf sb = STRBUF_INIT;

	metrics_escape(&sb, "plain.name-1");
	metrics_escape(&sb, "|a\"b\\c\nd\"");
	EXPECT_STREQ(sb.buf, "plain.name-1|a\\\"b\\\\c\\nd\\\"");
	strbuf_release(&sb);
}

TEST_HARNESS_MAIN
