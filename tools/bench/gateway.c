/* SPDX-License-Identifier: MIT */
/*
 * gateway: what gpulease-gateway adds to one mlp request. Against a
 * running daemon with two copies of the same mlp model (the gateway
 * serves one; this process opens the other's ring: one producer per
 * ring) and a gateway on 127.0.0.1, in alternating rounds: a one-row
 * request through gl_model_infer() on the ring, and the same row as a
 * KServe v2 infer over one keep-alive HTTP connection. Prints the p50
 * and p99 of each and the p50's difference (the gateway's overhead:
 * parsing, JSON both ways, the server's threads, loopback TCP).
 * tools/bench/gateway.sh sets up the daemon, models and gateway.
 *
 * usage: gateway MOUNT DIRECT_MODEL PORT GATEWAY_MODEL INPUTS [ROUNDS]
 *
 * The HTTP client here is a bench's: it writes one fixed request and
 * reads the reply by its Content-Length, nothing more.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tools/bench/stats.h"
#include "tools/lib/gpulease.h"
#include "uapi/model.h"

#define PER_ROUND	200
#define ROUNDS_MAX	50

static int http_once(int fd, const char *req, size_t len, char *buf,
		     size_t size)
{
	size_t got = 0, body = 0, want;
	char *end, *cl;
	ssize_t n;

	if (write(fd, req, len) != (ssize_t)len)
		return -EIO;
	for (;;) {
		n = read(fd, buf + got, size - 1 - got);
		if (n <= 0)
			return -EIO;
		got += (size_t)n;
		buf[got] = '\0';
		end = strstr(buf, "\r\n\r\n");
		if (!end)
			continue;
		cl = strcasestr(buf, "Content-Length:");
		if (!cl)
			return -EPROTO;
		want = strtoul(cl + 15, NULL, 10);
		body = got - (size_t)(end + 4 - buf);
		if (body >= want)
			break;
	}
	return strncmp(buf, "HTTP/1.1 200", 12) ? -EPROTO : 0;
}

int main(int argc, char **argv)
{
	uint64_t ring_ns[ROUNDS_MAX * PER_ROUND], http_ns[ROUNDS_MAX *
							   PER_ROUND];
	static char req[65536], body[32768], ans[65536], hreq[65536 + 512];
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct gl_infer_tensor *h = (void *)req;
	size_t n = 0, k, inputs, rlen, hlen;
	long rounds = argc > 6 ? atol(argv[6]) : 10;
	struct gl_model *m;
	struct gl *g;
	int fd, one = 1, bl, r, i;
	uint64_t t;
	ssize_t got;

	if (argc < 6 || rounds < 1 || rounds > ROUNDS_MAX) {
		fprintf(stderr, "usage: gateway MOUNT DIRECT_MODEL PORT "
			"GATEWAY_MODEL INPUTS [ROUNDS <= %d]\n", ROUNDS_MAX);
		return 2;
	}
	inputs = strtoul(argv[5], NULL, 10);
	if (!inputs || inputs > 1024 || gl_open(argv[1], &g) ||
	    gl_model_open(g, argv[2], &m)) {
		fprintf(stderr, "gateway: cannot open model %s\n", argv[2]);
		return 1;
	}
	*h = (struct gl_infer_tensor){ .magic = GL_INFER_MAGIC,
				       .dtype = GL_INFER_F32, .rows = 1,
				       .cols = (uint32_t)inputs };
	bl = snprintf(body, sizeof(body), "{\"inputs\":[{\"name\":\"input\","
		      "\"datatype\":\"FP32\",\"shape\":[1,%zu],\"data\":[",
		      inputs);
	for (k = 0; k < inputs; k++) {
		((float *)(h + 1))[k] = 0.25f * (float)k;
		bl += snprintf(body + bl, sizeof(body) - (size_t)bl, "%s%g",
			       k ? "," : "", 0.25 * (double)k);
	}
	bl += snprintf(body + bl, sizeof(body) - (size_t)bl, "]}]}");
	rlen = sizeof(*h) + inputs * sizeof(float);
	hlen = (size_t)snprintf(hreq, sizeof(hreq), "POST /v2/models/%s/infer "
				"HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
				"application/json\r\nContent-Length: %d\r\n"
				"\r\n%s", argv[4], bl, body);
	sa.sin_port = htons((uint16_t)atoi(argv[3]));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		perror("gateway: connect");
		return 1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* warm both ways */
	for (i = 0; i < 20; i++)
		if (gl_model_infer(m, req, rlen, ans, sizeof(ans)) < 0 ||
		    http_once(fd, hreq, hlen, ans, sizeof(ans))) {
			fprintf(stderr, "gateway: a warm-up request failed\n");
			return 1;
		}
	for (r = 0; r < rounds; r++) {
		for (i = 0; i < PER_ROUND; i++) {
			t = stats_now_ns();
			got = gl_model_infer(m, req, rlen, ans, sizeof(ans));
			ring_ns[n + (size_t)i] = stats_now_ns() - t;
			if (got < 0)
				return 1;
		}
		for (i = 0; i < PER_ROUND; i++) {
			t = stats_now_ns();
			if (http_once(fd, hreq, hlen, ans, sizeof(ans)))
				return 1;
			http_ns[n + (size_t)i] = stats_now_ns() - t;
		}
		n += PER_ROUND;
	}
	stats_sort(ring_ns, n);
	stats_sort(http_ns, n);
	printf("gateway: %zu mlp requests of 1 row x %zu each way, "
	       "alternating rounds of %d\n", n, inputs, PER_ROUND);
	printf("  ring (gl_model_infer)   p50 %8.1f us  p99 %8.1f us\n",
	       stats_percentile(ring_ns, n, 50) / 1e3,
	       stats_percentile(ring_ns, n, 99) / 1e3);
	printf("  gateway (HTTP, KServe)  p50 %8.1f us  p99 %8.1f us\n",
	       stats_percentile(http_ns, n, 50) / 1e3,
	       stats_percentile(http_ns, n, 99) / 1e3);
	printf("  overhead at p50: %.1f us (%.2fx the ring)\n",
	       ((double)stats_percentile(http_ns, n, 50) -
		(double)stats_percentile(ring_ns, n, 50)) / 1e3,
	       (double)stats_percentile(http_ns, n, 50) /
	       (double)stats_percentile(ring_ns, n, 50));
	close(fd);
	gl_model_close(m);
	gl_close(g);
	return 0;
}
