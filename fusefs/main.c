/* SPDX-License-Identifier: MIT */
/*
 * gpuleased: parse the command line, set the policy, open the model
 * repository, mount the tree, fork to the background (unless -f), and
 * only then start the broker (devices, io directory, threads) and serve
 * (the repository's models loading beside) until SIGINT/SIGTERM or an
 * unmount, then tear down in reverse. Invariant: no thread runs and no
 * device is open before the fork; the command's exit status is the
 * daemon's.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/log.h"
#include "daemon/model-repo.h"
#include "daemon/parse.h"
#include "fusefs/fs.h"
#include "fusefs/loop.h"
#include "uapi/gpulease.h"

#define GPULEASED_VERSION "0.1.0"

static const char usage[] =
"usage: gpuleased [options] MOUNTPOINT\n"
"\n"
"Serve the machine's GPU memory as leases on a FUSE tree at MOUNTPOINT\n"
"(normally /gpu). Runs as root. Without a GPU the CPU device serves.\n"
"Without -f it mounts, goes to the background and returns once the tree\n"
"serves: its exit status is 0 then, non-zero with a message when the\n"
"daemon could not start.\n"
"\n"
"options:\n"
"  -f, --foreground         stay in the foreground (log to stderr)\n"
"  -d, --debug              FUSE debug output (implies -f)\n"
"      --log TARGET         where lines go: stderr, or syslog (facility\n"
"                           daemon, ident gpuleased); default stderr with\n"
"                           -f, syslog in the background\n"
"      --cpu                serve the CPU device even where a GPU exists\n"
"      --cpu-vram SIZE      memory the CPU device offers (default 1G)\n"
"      --default-vram SIZE  vram of a plain mkdir (default 0)\n"
"      --default-ttl SECS   TTL of a plain mkdir (default 3600)\n"
"      --max-ttl SECS       the longest TTL anyone may ask for (default 86400)\n"
"      --quota UID:SIZE     most vram UID may hold; repeatable\n"
"      --models DIR         the model repository: each DIR/NAME.conf is\n"
"                           loaded once the tree serves, as its file's\n"
"                           owner (default /etc/gpulease/models.d, if it\n"
"                           exists; \"\" for none)\n"
"  -h, --help               show this help and exit\n"
"  -V, --version            show the version and exit\n"
"\n"
"SIZE takes K, M, G suffixes (powers of 1024). SIGINT or SIGTERM unmounts\n"
"and exits 0; so does an unmount (fusermount3 -u). io files live in\n"
"/dev/shm/gpulease.XXXXXX; at start the directories of dead daemons there\n"
"are removed. See gpuleased(8) and Documentation/admin-guide.md.\n";

enum {
	OPT_CPU = 256,
	OPT_CPU_VRAM,
	OPT_DEFAULT_VRAM,
	OPT_DEFAULT_TTL,
	OPT_MAX_TTL,
	OPT_QUOTA,
	OPT_LOG,
	OPT_MODELS,
};

struct quota_arg {
	uid_t uid;
	uint64_t bytes;
};

struct options {
	struct broker_config cfg;
	const char *mountpoint;
	bool foreground;
	bool debug;
	bool log_set;			/* --log given */
	enum gl_log_target log;
	const char *models;		/* --models DIR, or NULL: the default */
	struct quota_arg quotas[64];
	int nr_quotas;
};

static int opt_fail(const char *opt, const char *arg)
{
	fprintf(stderr, "gpuleased: invalid %s '%s' (see --help)\n", opt,
		arg);
	return -EINVAL;
}

static int parse_quota_arg(struct options *o, const char *arg)
{
	char buf[64], *colon;
	uint32_t uid;

	if (o->nr_quotas == (int)(sizeof(o->quotas) / sizeof(o->quotas[0])))
		return opt_fail("--quota (too many)", arg);
	snprintf(buf, sizeof(buf), "%s", arg);
	colon = strchr(buf, ':');
	if (!colon)
		return opt_fail("--quota", arg);
	*colon = '\0';
	if (parse_u32(buf, &uid) || parse_size(colon + 1,
					       &o->quotas[o->nr_quotas].bytes))
		return opt_fail("--quota", arg);
	o->quotas[o->nr_quotas++].uid = (uid_t)uid;
	return 0;
}

/* Returns 0 to run, 1 to exit 0 (help, version), -EINVAL to exit 2. */
static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "foreground", no_argument, NULL, 'f' },
		{ "debug", no_argument, NULL, 'd' },
		{ "cpu", no_argument, NULL, OPT_CPU },
		{ "cpu-vram", required_argument, NULL, OPT_CPU_VRAM },
		{ "default-vram", required_argument, NULL, OPT_DEFAULT_VRAM },
		{ "default-ttl", required_argument, NULL, OPT_DEFAULT_TTL },
		{ "max-ttl", required_argument, NULL, OPT_MAX_TTL },
		{ "quota", required_argument, NULL, OPT_QUOTA },
		{ "log", required_argument, NULL, OPT_LOG },
		{ "models", required_argument, NULL, OPT_MODELS },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	o->cfg.cpu_vram = 1ull << 30;
	o->cfg.default_ttl = 3600;
	o->cfg.max_ttl = 86400;
	while ((c = getopt_long(argc, argv, "fdhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			o->foreground = true;
			break;
		case 'd':
			o->debug = o->foreground = true;
			break;
		case OPT_CPU:
			o->cfg.cpu_only = true;
			break;
		case OPT_CPU_VRAM:
			if (parse_size(optarg, &o->cfg.cpu_vram))
				return opt_fail("--cpu-vram", optarg);
			break;
		case OPT_DEFAULT_VRAM:
			if (parse_size(optarg, &o->cfg.default_vram))
				return opt_fail("--default-vram", optarg);
			break;
		case OPT_DEFAULT_TTL:
			if (parse_u32(optarg, &o->cfg.default_ttl))
				return opt_fail("--default-ttl", optarg);
			break;
		case OPT_MAX_TTL:
			if (parse_u32(optarg, &o->cfg.max_ttl))
				return opt_fail("--max-ttl", optarg);
			break;
		case OPT_QUOTA:
			if (parse_quota_arg(o, optarg))
				return -EINVAL;
			break;
		case OPT_LOG:
			if (!strcmp(optarg, "stderr"))
				o->log = GL_LOG_STDERR;
			else if (!strcmp(optarg, "syslog"))
				o->log = GL_LOG_SYSLOG;
			else
				return opt_fail("--log", optarg);
			o->log_set = true;
			break;
		case OPT_MODELS:
			o->models = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			return 1;
		case 'V':
			printf("gpuleased %s (ABI %d)\n", GPULEASED_VERSION,
			       GL_ABI_VERSION);
			return 1;
		default:
			fputs(usage, stderr);
			return -EINVAL;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "gpuleased: expected one MOUNTPOINT\n%s", usage);
		return -EINVAL;
	}
	o->mountpoint = argv[optind];
	if (!o->log_set)
		o->log = o->foreground ? GL_LOG_STDERR : GL_LOG_SYSLOG;
	if (o->cfg.max_ttl < GL_TTL_MIN || o->cfg.max_ttl > GL_TTL_LIMIT ||
	    o->cfg.default_ttl < GL_TTL_MIN ||
	    o->cfg.default_ttl > o->cfg.max_ttl) {
		fprintf(stderr, "gpuleased: need 1 <= --default-ttl <= "
				"--max-ttl <= %u\n", GL_TTL_LIMIT);
		return -EINVAL;
	}
	return 0;
}

/*
 * The signals that stop the daemon. libfuse blocks them in its workers,
 * and the main thread waits for them in fuse_session_loop_mt(); every
 * other thread (broker, notifier, urcu) must block them too, or a signal
 * delivered there would set the exit flag without waking anyone.
 */
static sigset_t *stop_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGQUIT);
	return set;
}

/*
 * Background start-up. The parent waits on a pipe until the child serves
 * (fs_init writes one byte to fs->ready_fd) or dies (end of file), and
 * exits with the child's verdict.
 */
static void fs_init(void *userdata, struct fuse_conn_info *conn)
{
	struct fs *fs = userdata;
	int fd;

	/* vram is write-through: a write returns once the lease has it */
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
	if (conn->capable & FUSE_CAP_SPLICE_READ)
		conn->want &= ~FUSE_CAP_SPLICE_READ;
	if (fs->ready_fd < 0)
		return;
	/* the tree serves: let go of the terminal, then of the parent */
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		if (!fs->ready_keep_stderr)
			dup2(fd, STDERR_FILENO);
		close(fd);
	}
	if (write(fs->ready_fd, "", 1) != 1)
		gl_info("start-up: the parent is gone");
	close(fs->ready_fd);
	fs->ready_fd = -1;
}

static const struct fuse_lowlevel_ops fs_ops = {
	.init = fs_init,
	.lookup = fs_lookup,
	.forget = fs_forget,
	.forget_multi = fs_forget_multi,
	.getattr = fs_getattr,
	.setattr = fs_setattr,
	.mkdir = fs_mkdir,
	.rmdir = fs_rmdir,
	.opendir = fs_opendir,
	.readdir = fs_readdir,
	.releasedir = fs_releasedir,
	.readlink = fs_readlink,
	.mknod = fs_mknod,
	.create = fs_create,
	.symlink = fs_symlink,
	.link = fs_link,
	.unlink = fs_unlink,
	.rename = fs_rename,
	.open = fs_open,
	.read = fs_read,
	.write = fs_write,
	.release = fs_release,
	.fsync = fs_fsync,
};

/* A start-up failure: to the log, and to the terminal if that is not it. */
static void start_fail(const struct options *o, const char *what, int err)
{
	gl_err("%s: %s", what, strerror(-err));
	if (o->log != GL_LOG_STDERR)
		fprintf(stderr, "gpuleased: %s: %s\n", what, strerror(-err));
}

/* Create the session, take the signals and mount: 0 or -errno. */
static int fs_mount(struct fs *fs, const struct options *o)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	int err = -ENOMEM;

	if (fuse_opt_add_arg(&args, "gpuleased") ||
	    fuse_opt_add_arg(&args, "-o") ||
	    fuse_opt_add_arg(&args, "allow_other,default_permissions,"
				    "fsname=gpulease,subtype=gpulease") ||
	    (o->debug && fuse_opt_add_arg(&args, "-d")))
		goto out_args;
	fs->se = fuse_session_new(&args, &fs_ops, sizeof(fs_ops), fs);
	if (!fs->se) {
		err = -EINVAL;
		goto out_args;
	}
	/*
	 * libfuse installs its handlers only over SIG_DFL: a daemon started
	 * with "&" from a script inherits SIGINT ignored, and would ignore
	 * Ctrl-C's twin from a supervisor. Take the defaults back first.
	 */
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	err = -EIO;
	if (fuse_set_signal_handlers(fs->se))
		goto out_session;
	if (fuse_session_mount(fs->se, o->mountpoint)) {
		fprintf(stderr, "gpuleased: cannot mount on %s\n",
			o->mountpoint);
		goto out_signals;
	}
	fuse_opt_free_args(&args);
	return 0;

out_signals:
	fuse_remove_signal_handlers(fs->se);
out_session:
	fuse_session_destroy(fs->se);
	fs->se = NULL;
out_args:
	fuse_opt_free_args(&args);
	return err;
}

/* Undo fs_mount; @unmount false when fs_serve has unmounted already. */
static void fs_unmount(struct fs *fs, bool unmount)
{
	if (unmount)
		fuse_session_unmount(fs->se);
	fuse_remove_signal_handlers(fs->se);
	fuse_session_destroy(fs->se);
	fs->se = NULL;
}

/* Serve until a stop signal or an unmount, loading @repo's models
 * meanwhile; 0 or -errno. */
static int fs_serve(struct fs *fs, const struct options *o,
		    struct model_repo *repo)
{
	struct fuse_loop_config *loop;
	sigset_t set;
	int err;

	loop = fs_loop_cfg_new();
	if (!loop) {
		start_fail(o, "cannot configure the FUSE loop", -ENOMEM);
		return -ENOMEM;
	}
	err = fs_notify_start(fs);
	if (err) {
		start_fail(o, "cannot start the notifier", err);
		fuse_loop_cfg_destroy(loop);
		return err;
	}
	gl_info("serving %s: device 0 %s, %llu bytes", o->mountpoint,
		fs->broker.devs.devs[0].name,
		(unsigned long long)fs->broker.devs.devs[0].capacity);
	/* the models load beside the loop: the tree serves meanwhile */
	err = model_repo_start(repo, &fs->broker.models);
	if (err)
		start_fail(o, "cannot start the model repository's thread",
			   err);
	/* only this thread may take SIGINT/SIGTERM: it ends the loop */
	pthread_sigmask(SIG_UNBLOCK, stop_signals(&set), NULL);
	err = fuse_session_loop_mt(fs->se, loop);
	fuse_loop_cfg_destroy(loop);
	if (err > 0)	/* ended by a signal: a clean stop */
		err = 0;
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	fuse_session_unmount(fs->se);
	/* the load in progress ends before the broker quiesces */
	model_repo_stop(repo);
	/* no event may race the notifier's teardown: stop their sources */
	broker_quiesce(&fs->broker);
	fs_notify_stop(fs);
	fs_handle_free_all(fs);
	fs_nodes_destroy(&fs->nodes);	/* what the kernel did not forget */
	if (err)
		gl_err("stopped: %s", strerror(-err));
	else
		gl_info("stopped");
	return err;
}

/*
 * The parent of a background start: wait for the child's byte or its
 * end. Returns the command's exit status; a child that died before it
 * served may have left the mount behind: unmount it (@fs).
 */
static int daemonize_wait(struct fs *fs, int fd, pid_t child)
{
	int status;
	ssize_t n;
	char c;

	do
		n = read(fd, &c, 1);
	while (n < 0 && errno == EINTR);
	close(fd);
	if (n == 1)
		return 0;
	while (waitpid(child, &status, 0) < 0)
		if (errno != EINTR)
			return 1;
	if (WIFEXITED(status) && WEXITSTATUS(status))
		return WEXITSTATUS(status);	/* it said why */
	if (WIFSIGNALED(status)) {
		fprintf(stderr, "gpuleased: the daemon died while starting: "
				"%s\n", strsignal(WTERMSIG(status)));
		fuse_session_unmount(fs->se);
	} else {
		fprintf(stderr, "gpuleased: the daemon stopped before it "
				"served\n");
	}
	return 1;
}

/*
 * Fork; the parent waits (see daemonize_wait) and returns its exit status
 * (>= 0), the child returns -1 in a session of its own, detached from the
 * terminal once it serves. -errno when fork fails.
 */
static int daemonize(struct fs *fs, const struct options *o)
{
	int fds[2];
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC))
		return -errno;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		pid = -errno;
		close(fds[0]);
		close(fds[1]);
		return pid;
	}
	if (pid > 0) {
		close(fds[1]);
		return daemonize_wait(fs, fds[0], pid);
	}
	close(fds[0]);
	fs->ready_fd = fds[1];
	fs->ready_keep_stderr = o->log == GL_LOG_STDERR;
	setsid();
	/* a daemon keeps no directory busy ("/" cannot fail) */
	if (chdir("/"))
		_exit(1);
	return -1;
}

int main(int argc, char **argv)
{
	struct model_repo repo;
	struct options o;
	sigset_t set;
	struct fs *fs;
	int err, i, status = 1;

	err = parse_options(argc, argv, &o);
	if (err)
		return err > 0 ? 0 : 2;
	/* before any thread exists: they all inherit the blocked set */
	pthread_sigmask(SIG_BLOCK, stop_signals(&set), NULL);
	fs = calloc(1, sizeof(*fs));
	if (!fs)
		return 1;
	clock_gettime(CLOCK_REALTIME, &fs->started);
	fs->ready_fd = -1;
	CDS_INIT_LIST_HEAD(&fs->handles);
	pthread_mutex_init(&fs->handles_lock, NULL);
	/*
	 * Nothing before the fork may start a thread, open a device or name
	 * a file after the pid: the child would not have them (cuInit must
	 * never run in a process that forks afterwards).
	 */
	err = broker_setup(&fs->broker, &o.cfg);
	if (err) {
		fprintf(stderr, "gpuleased: cannot set the policy: %s\n",
			strerror(-err));
		goto out_fs;
	}
	for (i = 0; i < o.nr_quotas && !err; i++)
		err = account_set_quota(&fs->broker.acct, o.quotas[i].uid,
					o.quotas[i].bytes);
	if (err) {
		fprintf(stderr, "gpuleased: cannot set the quotas: %s\n",
			strerror(-err));
		goto out_broker;
	}
	/* before the fork: a repository that cannot be read stops the start */
	err = model_repo_open(&repo, o.models);
	if (err) {
		fprintf(stderr, "gpuleased: cannot open the model repository "
			"%s: %s\n", o.models ? o.models : MODEL_REPO_DEFAULT,
			strerror(-err));
		goto out_broker;
	}
	if (fs_mount(fs, &o))
		goto out_repo;
	if (!o.foreground) {
		err = daemonize(fs, &o);
		if (err >= 0) {
			/*
			 * The parent, done. The mount is the child's, and
			 * libfuse cannot drop a session without unmounting
			 * (or leaking): leave as the child would be left.
			 */
			fflush(stdout);
			fflush(stderr);
			_exit(err);
		}
		if (err != -1) {
			fprintf(stderr, "gpuleased: cannot fork: %s\n",
				strerror(-err));
			goto out_unmount;
		}
	}
	gl_log_open(o.log);
	/* after the fork: the table's first use starts liburcu's worker */
	err = fs_nodes_init(&fs->nodes);
	if (!err)
		err = fs_nodes_hold_root(fs);
	if (err)
		start_fail(&o, "cannot make the node table", err);
	else if ((err = broker_start(&fs->broker, &o.cfg)))
		start_fail(&o, "cannot start the broker", err);
	if (err) {
		fs_unmount(fs, true);
	} else {
		if (!fs_serve(fs, &o, &repo))
			status = 0;
		fs_unmount(fs, false);	/* fs_serve unmounted */
	}
	model_repo_stop(&repo);
	broker_destroy(&fs->broker);
	gl_log_close();		/* after the broker's last lines */
	goto out_fs;

out_unmount:
	fs_unmount(fs, true);
out_repo:
	model_repo_stop(&repo);
out_broker:
	broker_destroy(&fs->broker);
out_fs:
	fs_nodes_destroy(&fs->nodes);
	pthread_mutex_destroy(&fs->handles_lock);
	free(fs);
	return status;
}
