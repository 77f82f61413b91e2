// SPDX-License-Identifier: MIT
/*
 * gpulease-gateway: options, the token file, the server's start and its
 * stop on SIGINT or SIGTERM. Documentation/gateway.md,
 * gpulease-gateway(8).
 * Invariant: the options and the token table are written before the
 * server starts and only read afterwards.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "tools/gateway/gateway.h"
#include "tools/lib/gpulease.h"

struct gw_opts gw_opts = {
	.max_inflight = 32,
	.model_inflight = 8,
	.max_body = 1 << 20,
	.retry_after = 1,
};

struct token {
	char *key, *tenant;
};
static struct token *tokens;
static size_t n_tokens;
static bool tokens_on;

bool gw_tokens_loaded(void)
{
	return tokens_on;
}

/* gw_tokens_find - @key's tenant, or NULL; compares every key whole. */
const char *gw_tokens_find(const char *key)
{
	const char *found = NULL;
	size_t i, j, n = strlen(key);
	unsigned char d;

	for (i = 0; i < n_tokens; i++) {
		if (strlen(tokens[i].key) != n)
			continue;
		for (d = 0, j = 0; j < n; j++)
			d |= (unsigned char)(tokens[i].key[j] ^ key[j]);
		if (!d)
			found = tokens[i].tenant;
	}
	return found;
}

/* "KEY TENANT" lines; # comments and blank lines skipped. */
static int tokens_load(const char *path)
{
	char line[512], key[256], tenant[64];
	struct token *nt;
	FILE *f;
	int ln = 0;

	f = fopen(path, "re");
	if (!f) {
		fprintf(stderr, "gpulease-gateway: %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	tokens_on = true;
	while (fgets(line, sizeof(line), f)) {
		ln++;
		if (line[0] == '#' || line[strspn(line, " \t\n")] == '\0')
			continue;
		if (sscanf(line, "%255s %63s", key, tenant) != 2) {
			fprintf(stderr, "gpulease-gateway: %s:%d: want KEY "
				"TENANT\n", path, ln);
			fclose(f);
			return -1;
		}
		nt = realloc(tokens, (n_tokens + 1) * sizeof(*tokens));
		if (!nt || !(nt[n_tokens].key = strdup(key)) ||
		    !(nt[n_tokens].tenant = strdup(tenant))) {
			fclose(f);
			return -1;
		}
		tokens = nt;
		n_tokens++;
	}
	fclose(f);
	return 0;
}

static int parse_listen(const char *s, struct sockaddr_in *sa)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	unsigned long port;
	char *end;

	if (!colon || (size_t)(colon - s) >= sizeof(host))
		return -1;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	port = strtoul(colon + 1, &end, 10);
	if (!colon[1] || *end || port > 65535)
		return -1;
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -1;
}

static void usage(FILE *f)
{
	fputs("usage: gpulease-gateway [OPTION]...\n"
	      "Serve the models of a running gpuleased over HTTP: OpenAI\n"
	      "completions (/v1), KServe v2 tensors (/v2), /metrics.\n"
	      "\n"
	      "  --listen ADDR:PORT  IPv4 address and port (default "
	      "127.0.0.1:8080)\n"
	      "  --mount DIR         the daemon's mount (default "
	      "$GPULEASE_MOUNT or /gpu)\n"
	      "  --tokens FILE       bearer tokens, 'KEY TENANT' per line; "
	      "unknown key: 401\n"
	      "  --max-conns N       connections at once, a thread each "
	      "(default 256,\n"
	      "                      at most 16384)\n"
	      "  --max-inflight N    completion and infer requests at once "
	      "(default 32;\n"
	      "                      more: 429)\n"
	      "  --model-inflight N  requests of one model on its ring at "
	      "once, batched by\n"
	      "                      the daemon (default 8, at most 32; "
	      "more wait)\n"
	      "  --max-body BYTES    request body bound (default 1048576; "
	      "more: 413)\n"
	      "  --timeout SECS      idle connection timeout (default 30)\n"
	      "  --help              this text\n"
	      "One log line per request goes to stderr. "
	      "Documentation/gateway.md,\ngpulease-gateway(8).\n", f);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "mount", required_argument, NULL, 'm' },
		{ "tokens", required_argument, NULL, 'k' },
		{ "max-conns", required_argument, NULL, 'c' },
		{ "max-inflight", required_argument, NULL, 'i' },
		{ "model-inflight", required_argument, NULL, 'n' },
		{ "max-body", required_argument, NULL, 'b' },
		{ "timeout", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	unsigned long conns = 256, timeout = 30, v;
	const char *listen_at = "127.0.0.1:8080";
	const union MHD_DaemonInfo *info;
	struct MHD_Daemon *d;
	struct sockaddr_in sa;
	sigset_t set;
	char *end;
	int opt, sig;

	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (opt == 'h') {
			usage(stdout);
			return 0;
		}
		if (opt == 'l' || opt == 'm' || opt == 'k') {
			if (opt == 'l')
				listen_at = optarg;
			else if (opt == 'm')
				gw_opts.mount = optarg;
			else if (tokens_load(optarg))
				return 2;
			continue;
		}
		if (opt == '?')
			goto bad;
		v = strtoul(optarg, &end, 10);
		if (!*optarg || *end || !v || v > (1ul << 30))
			goto bad;
		if (opt == 'c')
			conns = v;
		else if (opt == 'i')
			gw_opts.max_inflight = (unsigned int)v;
		else if (opt == 'n' && v <= GL_MODEL_SLOTS_MAX)
			gw_opts.model_inflight = (unsigned int)v;
		else if (opt == 'n')
			goto bad;
		else if (opt == 'b')
			gw_opts.max_body = v;
		else
			timeout = v;
	}
	if (optind != argc || parse_listen(listen_at, &sa) || conns > 16384)
		goto bad;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	gw_backend_init(gw_opts.mount);
	d = gw_http_start((const struct sockaddr *)&sa, (unsigned int)conns,
			  (unsigned int)timeout);
	if (!d) {
		fprintf(stderr, "gpulease-gateway: cannot listen on %s\n",
			listen_at);
		gw_backend_exit();
		return 1;
	}
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	/* port 0: the kernel's choice, said here for whoever started it */
	gw_log("gw: listening on %.*s:%u", (int)(strrchr(listen_at, ':') -
					       listen_at), listen_at,
	       info ? info->port : ntohs(sa.sin_port));
	sigwait(&set, &sig);
	gw_log("gw: stopping (signal %d)", sig);
	MHD_stop_daemon(d);
	gw_backend_exit();
	return 0;
bad:
	usage(stderr);
	return 2;
}
