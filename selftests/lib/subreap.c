/* SPDX-License-Identifier: MIT */
/*
 * subreap - run a command that leaves a daemon behind (gpuleased without
 * -f) and be that daemon's parent, so a shell test can learn its pid and
 * its exit status:
 *
 *   subreap PIDFILE CMD [ARG...]
 *
 * As a child subreaper it adopts the daemon once CMD exits 0, writes the
 * daemon's pid to PIDFILE (found as our child whose command line holds
 * CMD's last argument, the mount point), waits for it and exits with its
 * status (128 + N when signal N killed it). When CMD exits non-zero, or
 * leaves no daemon, it exits with that status (or 1) and writes nothing.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "selftests/lib/gltest.h"

/* The exit status that stands for wait status @st. */
static int exit_code(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return WIFSIGNALED(st) ? 128 + WTERMSIG(st) : 1;
}

static int write_pid(const char *file, pid_t pid)
{
	char tmp[4096];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", file);
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	fprintf(f, "%d\n", (int)pid);
	if (fclose(f) || rename(tmp, file))
		return -errno;
	return 0;
}

int main(int argc, char **argv)
{
	pid_t pid, daemon;
	int st;

	if (argc < 3) {
		fprintf(stderr, "usage: subreap PIDFILE CMD [ARG...]\n");
		return 2;
	}
	if (prctl(PR_SET_CHILD_SUBREAPER, 1)) {
		perror("subreap: PR_SET_CHILD_SUBREAPER");
		return 1;
	}
	pid = fork();
	if (pid < 0) {
		perror("subreap: fork");
		return 1;
	}
	if (pid == 0) {
		execvp(argv[2], argv + 2);
		fprintf(stderr, "subreap: exec %s: %s\n", argv[2],
			strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return 1;
	if (exit_code(st))
		return exit_code(st);
	daemon = gl_find_child(getpid(), argv[argc - 1]);
	if (daemon < 0) {
		fprintf(stderr, "subreap: %s exited 0 but left no daemon\n",
			argv[2]);
		return 1;
	}
	if (write_pid(argv[1], daemon))
		perror("subreap: pid file");
	while (waitpid(daemon, &st, 0) < 0)
		if (errno != EINTR)
			return 1;
	return exit_code(st);
}
