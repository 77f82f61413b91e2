/* SPDX-License-Identifier: MIT */
/*
 * gpulease ls: every lease the caller can see as a table (or JSON), one
 * gl_lease_list() snapshot; another user's lease shows as hidden.
 *
 * Invariant: the table's columns are as wide as their widest cell, so a
 * row is one line whatever the names; JSON strings are escaped.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/gpulease/cli.h"

enum { COL_NAME, COL_STATE, COL_VRAM, COL_USED, COL_TTL, COL_OWNER,
       COL_DEVICE, COL_LAUNCHES, NCOLS };

static const char *const ls_heads[NCOLS] = {
	"NAME", "STATE", "VRAM", "USED", "TTL", "OWNER", "DEVICE", "LAUNCHES",
};

/* Right-aligned columns: the numbers. */
static const int ls_right[NCOLS] = {
	[COL_VRAM] = 1, [COL_USED] = 1, [COL_TTL] = 1, [COL_LAUNCHES] = 1,
};

#define CELL_MAX	(GL_NAME_MAX + 1)

struct ls_row {
	char cell[NCOLS][CELL_MAX];
};

static void ls_cells(const struct gl_lease_info *in, struct ls_row *r)
{
	int known = in->state == GL_LEASE_ACTIVE;

	snprintf(r->cell[COL_NAME], CELL_MAX, "%s", in->name);
	snprintf(r->cell[COL_STATE], CELL_MAX, "%s",
		 cli_state_name(in->state));
	cli_fmt_owner(r->cell[COL_OWNER], CELL_MAX, in->owner);
	if (!known) {
		strcpy(r->cell[COL_VRAM], "-");
		strcpy(r->cell[COL_USED], "-");
		strcpy(r->cell[COL_TTL], "-");
		strcpy(r->cell[COL_DEVICE], "-");
		strcpy(r->cell[COL_LAUNCHES], "-");
		return;
	}
	cli_fmt_size(r->cell[COL_VRAM], CELL_MAX, in->vram);
	cli_fmt_size(r->cell[COL_USED], CELL_MAX, in->used);
	cli_fmt_secs(r->cell[COL_TTL], CELL_MAX, in->expires_in);
	snprintf(r->cell[COL_DEVICE], CELL_MAX, "%d", in->device);
	snprintf(r->cell[COL_LAUNCHES], CELL_MAX, "%llu",
		 (unsigned long long)in->launches);
}

static void ls_line(const char *const cell[NCOLS], const int width[NCOLS])
{
	int i;

	for (i = 0; i < NCOLS; i++) {
		const char *sep = i == NCOLS - 1 ? "\n" : "  ";

		if (ls_right[i])
			printf("%*s%s", width[i], cell[i], sep);
		else if (i == NCOLS - 1)
			printf("%s%s", cell[i], sep);
		else
			printf("%-*s%s", width[i], cell[i], sep);
	}
}

static int ls_table(const struct gl_lease_info *list, int n)
{
	struct ls_row *rows;
	const char *cell[NCOLS];
	int width[NCOLS];
	int i, j;

	rows = calloc(n ? (size_t)n : 1, sizeof(*rows));
	if (!rows)
		return -ENOMEM;
	for (j = 0; j < NCOLS; j++)
		width[j] = (int)strlen(ls_heads[j]);
	for (i = 0; i < n; i++) {
		ls_cells(&list[i], &rows[i]);
		for (j = 0; j < NCOLS; j++) {
			int w = (int)strlen(rows[i].cell[j]);

			if (w > width[j])
				width[j] = w;
		}
	}
	ls_line(ls_heads, width);
	for (i = 0; i < n; i++) {
		for (j = 0; j < NCOLS; j++)
			cell[j] = rows[i].cell[j];
		ls_line(cell, width);
	}
	free(rows);
	return 0;
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20)
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
	putchar('"');
}

static void ls_json(const struct gl_lease_info *list, int n)
{
	char owner[CELL_MAX];
	int i;

	putchar('[');
	for (i = 0; i < n; i++) {
		const struct gl_lease_info *in = &list[i];

		printf("%s\n  {\"name\": ", i ? "," : "");
		json_str(in->name);
		printf(", \"state\": \"%s\", \"owner\": %u, \"user\": ",
		       cli_state_name(in->state), in->owner);
		cli_fmt_owner(owner, sizeof(owner), in->owner);
		json_str(owner);
		if (in->state == GL_LEASE_ACTIVE) {
			printf(", \"device\": %d, \"vram\": %llu, "
			       "\"used\": %llu, \"ttl\": %u, "
			       "\"expires_in\": %llu, \"bound\": %s, "
			       "\"launches\": %llu, \"last_error\": ",
			       in->device, (unsigned long long)in->vram,
			       (unsigned long long)in->used, in->ttl,
			       (unsigned long long)in->expires_in,
			       in->bound ? "true" : "false",
			       (unsigned long long)in->launches);
			json_str(in->last_error);
		}
		putchar('}');
	}
	printf("%s]\n", n ? "\n" : "");
}

static int ls_run(struct cli *c, const struct cli_cmd *cmd, int argc,
		  char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct gl_lease_info *list;
	int json = 0, o, n, err;

	while ((o = getopt_long(argc, argv, ":jh", opts, NULL)) != -1) {
		switch (o) {
		case 'j':
			json = 1;
			break;
		case 'h':
			return cli_help(cmd);
		default:
			return cli_bad_opt(cmd, o, argv);
		}
	}
	if (optind != argc)
		return cli_usage(cmd, "unexpected argument '%s'",
				 argv[optind]);
	if (cli_open(c))
		return EXIT_FAIL;
	n = gl_lease_list(c->g, &list);
	if (n < 0) {
		cli_err(c, NULL, n);
		return EXIT_FAIL;
	}
	err = 0;
	if (json)
		ls_json(list, n);
	else
		err = ls_table(list, n);
	free(list);
	if (err) {
		cli_err(c, NULL, err);
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

const struct cli_cmd cli_cmd_ls = {
	.name = "ls",
	.args = "[--json]",
	.summary = "list leases: state, memory, time left, owner",
	.run = ls_run,
	.help =
	"List every lease, sorted by name, one per line:\n"
	"\n"
	"  NAME      the lease's name\n"
	"  STATE     active, expired, or hidden (another user's lease:\n"
	"            only its name and owner are shown)\n"
	"  VRAM      memory reserved (K, M, G: powers of 1024)\n"
	"  USED      of that, handed to rings and models\n"
	"  TTL       time left until it expires\n"
	"  OWNER     user name of its owner\n"
	"  DEVICE    device index\n"
	"  LAUNCHES  kernel launches it has run\n"
	"\n"
	"  -j, --json   print a JSON array instead, sizes in bytes and\n"
	"               times in seconds\n"
	"  -h, --help   show this help\n",
};
