/* SPDX-License-Identifier: MIT */
/*
 * The gpulease command's shared pieces: the subcommand table, the context
 * every subcommand gets, and the formatting and message helpers.
 *
 * Invariant: a subcommand returns its exit status: 0 done, 1 failed (a
 * message was printed), 2 usage error (a message and a hint were printed).
 */
#ifndef GPULEASE_CLI_H
#define GPULEASE_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tools/lib/gpulease.h"

#define GPULEASE_VERSION	"0.1.0"

#define EXIT_OK			0
#define EXIT_FAIL		1
#define EXIT_USAGE		2

struct cli {
	const char *mount;	/* --mount DIR, or NULL for the default */
	struct gl *g;		/* opened by cli_open(), closed by main() */
};

struct cli_cmd {
	const char *name;
	const char *args;	/* the synopsis after the name */
	const char *summary;	/* one line for gpulease --help */
	const char *help;	/* the rest of "gpulease NAME --help" */
	int (*run)(struct cli *c, const struct cli_cmd *cmd, int argc,
		   char **argv);
};

extern const struct cli_cmd cli_cmd_acquire;
extern const struct cli_cmd cli_cmd_drop;
extern const struct cli_cmd cli_cmd_generate;
extern const struct cli_cmd cli_cmd_infer;
extern const struct cli_cmd cli_cmd_load;
extern const struct cli_cmd cli_cmd_ls;
extern const struct cli_cmd cli_cmd_models;
extern const struct cli_cmd cli_cmd_renew;
extern const struct cli_cmd cli_cmd_resize;
extern const struct cli_cmd cli_cmd_run;
extern const struct cli_cmd cli_cmd_top;
extern const struct cli_cmd cli_cmd_unload;

/* A model as models lists it and top shows it (models.c). */
struct cli_model {
	char name[64];
	char state[16];
	char arch[16];		/* "-" when its ctl could not be read */
	uint64_t vram;
	uint64_t requests, failures, tokens;
	uint32_t running;
	uint64_t lat_count, lat_sum_us;	/* finished requests' latency */
	int stats;		/* its stats were read */
};

/* main.c */
int cli_open(struct cli *c);
int cli_usage(const struct cli_cmd *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int cli_help(const struct cli_cmd *cmd);
int cli_bad_opt(const struct cli_cmd *cmd, int opt, char **argv);
void cli_err(struct cli *c, const char *lease, int err);

/* models.c */
int cli_model_list(struct cli *c, struct cli_model **out);
void cli_fmt_latency(char *buf, size_t size, const struct cli_model *m);
int cli_model_path(struct cli *c, char *buf, size_t size, const char *name,
		   const char *file);
int cli_read_small(const char *path, char *buf, size_t size);
void cli_text_value(const char *text, const char *key, char *out,
		    size_t size);
int cli_help_only(const struct cli_cmd *cmd, int argc, char **argv);

/* fmt.c */
int cli_parse_size(const char *s, uint64_t *out);
int cli_parse_secs(const char *s, uint32_t *out);
int cli_parse_uint(const char *s, uint32_t max, uint32_t *out);
void cli_fmt_size(char *buf, size_t size, uint64_t bytes);
void cli_fmt_secs(char *buf, size_t size, uint64_t secs);
void cli_fmt_owner(char *buf, size_t size, uid_t uid);
const char *cli_state_name(uint32_t state);

#endif /* GPULEASE_CLI_H */
