/* SPDX-License-Identifier: MIT */
/*
 * gateway_text.c - gpulease-gateway's translations (tools/gateway/xlate.c,
 * text.c) on their own: an OpenAI prompt with newlines becomes a
 * text-form request whose text runs to its end, and its stop strings
 * percent-encoded stop= words; a fallback's answer loses its first line
 * "served_by NAME" (never text, never searched for stop strings) into
 * the serving model's name, fed whole or a byte at a time, and an answer
 * without that line is given out as it is.
 */
#include <string.h>

#include "daemon/stopstr.h"
#include "selftests/harness.h"
#include "tools/gateway/gateway.h"

TEST(newline_prompt_and_stop_words)
{
	static const char body[] = "{\"model\":\"m1\",\"prompt\":\"a\\nb\\n\","
				   "\"stop\":[\"\\n\\n\",\"x y%\"],"
				   "\"max_tokens\":4,\"seed\":1}";
	char req[512];
	struct gw_cmpl c;
	struct gw_err e;
	int n;

	ASSERT_EQ(gw_cmpl_parse(body, strlen(body), &c, &e), 0) TH_LOG("%s",
								     e.msg);
	n = gw_cmpl_request(&c, 0, 1, req, sizeof(req));
	ASSERT_GT(n, 0);
	EXPECT_STREQ(req, "max_tokens=4 temperature=1 top_p=1 seed=1 usage=1 "
		     "stop=%0A%0A stop=x%20y%25 -- a\nb\n\n");
	EXPECT_EQ(gw_cmpl_request(&c, 0, 1, req, 60), -EFBIG);
	gw_cmpl_free(&c);
}

/* Feed @ans in pieces of @step bytes, taking text as it goes: all of it
 * into @out (NUL-terminated). */
static void run(struct gw_text *t, const char *ans, size_t len, size_t step,
		char *out)
{
	size_t at = 0, n, o = 0;

	while (at < len) {
		n = len - at < step ? len - at : step;
		gw_text_feed(t, ans + at, n);
		at += n;
		o += gw_text_take(t, out + o, 64);
	}
	gw_text_end(t);
	while ((n = gw_text_take(t, out + o, 64)))
		o += n;
	out[o] = '\0';
}

TEST(served_by_line_is_stripped)
{
	static const char fb[] = "served_by m2\nHello.\x1eusage 3 2\n";
	static const char plain[] = "served_by is not a line";
	static const char bad[] = "served_by a/b\nx";
	struct gw_cmpl c = { .n_stop = 1 };
	char out[256];
	size_t step;

	strcpy(c.stop[0], "m2");	/* in the line only: no stop */
	for (step = 1; step <= sizeof(fb); step++) {
		struct gw_text t = { .c = &c };

		run(&t, fb, strlen(fb), step, out);
		EXPECT_STREQ(out, "Hello.") TH_LOG("step %zu", step);
		EXPECT_STREQ(t.served_by, "m2");
		EXPECT_FALSE(t.stopped);
		EXPECT_EQ(t.completion_tokens, 2u);
		gw_text_free(&t);
	}
	for (step = 1; step <= sizeof(plain); step += 3) {
		struct gw_text t = { .c = &c };

		run(&t, plain, strlen(plain), step, out);
		EXPECT_STREQ(out, plain);
		EXPECT_STREQ(t.served_by, "");
		gw_text_free(&t);
	}
	{
		struct gw_text t = { .c = &c };

		run(&t, bad, strlen(bad), 1, out);
		EXPECT_STREQ(out, bad);
		EXPECT_STREQ(t.served_by, "");
		gw_text_free(&t);
	}
}

/* The daemon's answer to stop=: it ends with the stop string, which the
 * gateway cuts, once, and says stop. */
TEST(stop_string_at_the_end_is_cut)
{
	static const char ans[] = "served_by m2\nab.\x1eusage 3 3\n";
	struct gw_cmpl c = { .n_stop = 2 };
	struct gw_text t = { .c = &c };
	char out[256];

	strcpy(c.stop[0], ".");
	strcpy(c.stop[1], "zz");
	run(&t, ans, strlen(ans), 2, out);
	EXPECT_STREQ(out, "ab");
	EXPECT_TRUE(t.stopped);
	EXPECT_STREQ(t.served_by, "m2");
	gw_text_free(&t);
}

TEST_HARNESS_MAIN
