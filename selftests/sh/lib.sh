# SPDX-License-Identifier: MIT
# lib.sh - TAP output and a private gpuleased for shell tests.
#
# Source it, call gl_plan N, gl_start [daemon args], run checks with
# gl_ok/gl_check, and end with gl_done (stops the daemon, expects exit 0,
# prints "# Totals:", exits 0, 1 or 4 like the C harness).
# The daemon is $GPULEASED, else build/gpuleased next to the source tree.
# With GL_BACKGROUND=1 it starts in its default mode (no -f, --log stderr)
# under the subreap helper built next to it, which adopts the daemon:
# GL_PID is the daemon's pid either way, and gl_stop returns its status.

GL_N=0
GL_PASS=0
GL_FAIL=0
GL_SKIP=0
GL_PID=
GL_REAP=
GL_DIR=
GL_MNT=

GL_SRC=$(cd "$(dirname "$0")/../.." && pwd)
: "${GPULEASED:=$GL_SRC/build/gpuleased}"
: "${GL_SUBREAP:=$(dirname "$GPULEASED")/selftests/lib/subreap}"

gl_plan() {
	echo "TAP version 13"
	echo "1..$1"
}

gl_ok() {
	GL_N=$((GL_N + 1))
	GL_PASS=$((GL_PASS + 1))
	echo "ok $GL_N $*"
}

gl_not_ok() {
	GL_N=$((GL_N + 1))
	GL_FAIL=$((GL_FAIL + 1))
	echo "not ok $GL_N $*"
}

gl_skip() {
	GL_N=$((GL_N + 1))
	GL_SKIP=$((GL_SKIP + 1))
	echo "ok $GL_N $1 # SKIP $2"
}

gl_log() {
	echo "# $*"
}

# gl_check DESC CMD...: one test point from a command's status.
gl_check() {
	desc=$1
	shift
	if out=$("$@" 2>&1); then
		gl_ok "$desc"
	else
		gl_not_ok "$desc"
		gl_log "failed: $*"
		[ -z "$out" ] || printf '%s\n' "$out" | sed 's/^/# /'
	fi
}

# Poll (bounded, in 50 ms steps) until CMD... succeeds.
gl_wait_for() {
	tries=$1
	shift
	while [ "$tries" -gt 0 ]; do
		"$@" && return 0
		sleep 0.05
		tries=$((tries - 1))
	done
	return 1
}

gl_dump_log() {
	[ -f "$GL_DIR/daemon.log" ] || return 0
	sed 's/^/# | /' "$GL_DIR/daemon.log"
}

gl_mounted() {
	[ -e "$GL_MNT/ctl" ]
}

# Why the daemon cannot run here, or nothing.
gl_unavailable() {
	if [ "$(id -u)" != 0 ]; then
		echo "needs root"
	elif [ ! -c /dev/fuse ]; then
		echo "no /dev/fuse"
	elif [ ! -x "$GPULEASED" ]; then
		echo "no daemon at $GPULEASED"
	fi
}

# Skip every planned test point and exit 4.
gl_skip_all() {
	n=$1
	shift
	i=0
	while [ "$i" -lt "$n" ]; do
		gl_skip "test $((i + 1))" "$*"
		i=$((i + 1))
	done
	gl_totals
	exit 4
}

# Background start: subreap runs gpuleased and writes the daemon's pid
# once the command returned 0; it exits at once when the start failed.
gl_start_bg() {
	# shellcheck disable=SC2086
	"$GL_SUBREAP" "$GL_DIR/pid" $GL_DAEMON_WRAPPER "$GPULEASED" \
		--log stderr --cpu "$@" "$GL_MNT" \
		>"$GL_DIR/daemon.log" 2>&1 </dev/null &
	GL_REAP=$!
	tries=400
	while [ ! -s "$GL_DIR/pid" ]; do
		if ! kill -0 "$GL_REAP" 2>/dev/null || [ "$tries" = 0 ]; then
			gl_log "gpuleased did not start in the background"
			kill "$GL_REAP" 2>/dev/null
			GL_REAP=
			return 1
		fi
		sleep 0.05
		tries=$((tries - 1))
	done
	GL_PID=$(cat "$GL_DIR/pid")
}

gl_start() {
	GL_DIR=$(mktemp -d /tmp/glsh.XXXXXX) || return 1
	chmod 755 "$GL_DIR"
	GL_MNT=$GL_DIR/mnt
	mkdir "$GL_MNT"
	if [ "$GL_BACKGROUND" = 1 ]; then
		gl_start_bg "$@" || { gl_dump_log; return 1; }
	else
		# shellcheck disable=SC2086
		# the tests are written against the CPU device, GPU or not
		$GL_DAEMON_WRAPPER "$GPULEASED" -f --cpu "$@" "$GL_MNT" \
			>"$GL_DIR/daemon.log" 2>&1 </dev/null &
		GL_PID=$!
	fi
	if ! gl_wait_for 400 gl_mounted; then
		gl_log "gpuleased did not mount $GL_MNT"
		gl_dump_log
		return 1
	fi
}

# gl_gateway_fixtures DIR: the seeded fixtures the gateway tests serve
# (write_checkpoints.py's, write_mlp.py's in DIR/mlp), readable by all;
# 1 when a writer failed.
gl_gateway_fixtures() {
	/usr/bin/python3 "$GL_SRC/selftests/fixtures/write_checkpoints.py" \
		"$1" --no-ref >/dev/null &&
		/usr/bin/python3 "$GL_SRC/selftests/fixtures/write_mlp.py" \
			"$1/mlp" >/dev/null &&
		chmod -R a+rX "$1"
}

# gl_gateway ARGS...: start gpulease-gateway ($GW_BIN) on $GL_MNT on a
# port of the kernel's choice, with ARGS, once the one started before
# ($GWPID, if any) has exited; sets GWPID, GWLOG (its stderr) and GW
# (its base URL). 1 when it did not say it listens.
gl_gateway() {
	if [ -n "${GWPID:-}" ]; then
		kill "$GWPID" 2>/dev/null
		wait "$GWPID" 2>/dev/null
	fi
	GWLOG=$GL_DIR/gw.log
	# the child truncates the log when it runs, maybe after the wait
	# below looked: a previous gateway's "listening on" must be gone
	rm -f "$GWLOG"
	"$GW_BIN" --mount "$GL_MNT" --listen 127.0.0.1:0 "$@" 2>"$GWLOG" &
	GWPID=$!
	gl_wait_for 200 grep -q "listening on" "$GWLOG" || return 1
	# shellcheck disable=SC2034 # the caller's
	GW=http://$(sed -n 's/.*listening on //p' "$GWLOG")
}

# Stop the daemon; returns its exit status.
gl_stop() {
	st=0
	if [ -n "$GL_PID" ]; then
		kill -TERM "$GL_PID" 2>/dev/null
		if ! gl_wait_for 200 gl_gone_pid; then
			gl_log "gpuleased ignored SIGTERM, killing it"
			kill -KILL "$GL_PID" 2>/dev/null
		fi
		# in the background, subreap has the daemon's status
		wait "${GL_REAP:-$GL_PID}"
		st=$?
		GL_PID=
		GL_REAP=
	fi
	if [ -n "$GL_DIR" ]; then
		umount -l "$GL_MNT" 2>/dev/null
		[ "$st" = 0 ] || gl_dump_log
		rm -rf "$GL_DIR"
		GL_DIR=
	fi
	return "$st"
}

gl_gone_pid() {
	! kill -0 "$GL_PID" 2>/dev/null
}

gl_totals() {
	echo "# Totals: pass:$GL_PASS fail:$GL_FAIL xfail:0 xpass:0" \
		"skip:$GL_SKIP error:0"
}

# Last test point: the daemon exits 0; then totals and the exit status.
gl_done() {
	if gl_stop; then
		gl_ok "gpuleased exits 0 on SIGTERM"
	else
		gl_not_ok "gpuleased exits 0 on SIGTERM"
	fi
	gl_totals
	[ "$GL_FAIL" = 0 ] || exit 1
	[ "$GL_PASS" = 0 ] && [ "$GL_SKIP" != 0 ] && exit 4
	exit 0
}

trap 'gl_stop >/dev/null 2>&1' EXIT

# expect STATUS PATTERN CMD...: CMD exits STATUS and says PATTERN on
# stderr (PATTERN "" checks the status only); $GL_DIR/out and
# $GL_DIR/err keep what it printed.
expect() {
	want=$1
	pat=$2
	shift 2
	"$@" >"$GL_DIR/out" 2>"$GL_DIR/err"
	st=$?
	if [ "$st" != "$want" ]; then
		echo "exit $st, want $want"
		cat "$GL_DIR/out" "$GL_DIR/err"
		return 1
	fi
	[ -z "$pat" ] && return 0
	if ! grep -q -- "$pat" "$GL_DIR/err"; then
		echo "stderr lacks '$pat':"
		cat "$GL_DIR/err"
		return 1
	fi
}
