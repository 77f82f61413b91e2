#!/bin/sh
# SPDX-License-Identifier: MIT
# service.sh - tools/systemd/gpuleased.service: it has the settings the
# admin guide promises and none that would give it a mount namespace of
# its own; systemd-analyze verify accepts it (on a temp copy whose
# ExecStart points at a temp install of gpuleased, with MANPATH at a copy
# of Documentation/man so its Documentation= pages must exist) and rejects
# a copy whose binary is missing; and its own command lines, run as
# systemd would run them on a temp mount point, create the mount point,
# mount the tree with the options of the environment file, return from
# ExecStartPost only once the tree is served, stop on KillSignal with
# status 0, the mount gone and no process left, and clean up after a
# crash. Nothing is written outside temp directories.
# Needs systemd-analyze (Debian package systemd; installed with apt-get
# when missing and root, else those checks SKIP).

# Helpers run through gl_check and gl_wait_for:
# shellcheck disable=SC2317
# shellcheck source=selftests/sh/lib.sh
. "$(dirname "$0")/lib.sh"

UNIT=$GL_SRC/tools/systemd/gpuleased.service
PLAN=15
gl_plan "$PLAN"

key_is() {
	grep -qx -- "$1" "$UNIT"
}

gl_check "Type=simple" key_is "Type=simple"
gl_check "ExecStartPre creates /gpu" key_is "ExecStartPre=/bin/mkdir -p /gpu"
# shellcheck disable=SC2016 # the unit's line, $GPULEASED_OPTS and all
gl_check "ExecStart runs /usr/local/sbin/gpuleased -f ... /gpu" \
	key_is 'ExecStart=/usr/local/sbin/gpuleased -f $GPULEASED_OPTS /gpu'
# shellcheck disable=SC2016 # the unit's line, quotes and all
gl_check "ExecStartPost waits until the tree is served" \
	key_is "ExecStartPost=/bin/sh -c 'until test -e /gpu/ctl; do sleep 0.1; done'"
gl_check "options from EnvironmentFile=-/etc/default/gpuleased" \
	key_is "EnvironmentFile=-/etc/default/gpuleased"
gl_check "ExecStopPost unmounts, failure ignored" \
	key_is "ExecStopPost=-/bin/fusermount3 -u /gpu"
gl_check "KillSignal=SIGTERM, Restart=on-failure" \
	sh -c "grep -qx KillSignal=SIGTERM '$UNIT' &&
	       grep -qx Restart=on-failure '$UNIT'"
# a namespace of its own would hide the mount from every other process
NS_KEYS='PrivateMounts|PrivateTmp|ProtectSystem|ProtectHome|MountFlags'
NS_KEYS="$NS_KEYS|TemporaryFileSystem|ReadOnlyPaths|InaccessiblePaths"
gl_check "no private mount namespace" \
	sh -c "! grep -Eq '^($NS_KEYS)=' '$UNIT'"

GL_DIR=$(mktemp -d /tmp/glsvc.XXXXXX) || exit 1
chmod 755 "$GL_DIR"
GL_MNT=$GL_DIR/gpu
BIN=$GL_DIR/sbin/gpuleased

# The unit with the binary and the mount point moved under $GL_DIR.
mkdir "$GL_DIR/sbin" "$GL_DIR/unit"
sed -E -e "s#/usr/local/sbin/gpuleased#$BIN#" \
	-e "s#([ =])/gpu([ /]|\$)#\\1$GL_MNT\\2#g" "$UNIT" \
	>"$GL_DIR/unit/gpuleased.service"
sed "s#^ExecStart=[^ ]*#ExecStart=$GL_DIR/sbin/missing#" \
	"$GL_DIR/unit/gpuleased.service" >"$GL_DIR/gpuleased.service"
[ -x "$GPULEASED" ] && install -m755 "$GPULEASED" "$BIN"
# Documentation/man as a man tree, for the unit's Documentation= lines.
for sec in 1 3 8; do
	mkdir -p "$GL_DIR/man/man$sec"
	for f in "$GL_SRC"/Documentation/man/*."$sec"; do
		[ -f "$f" ] && cp "$f" "$GL_DIR/man/man$sec/"
	done
done

if ! command -v systemd-analyze >/dev/null 2>&1 && [ "$(id -u)" = 0 ] &&
   command -v apt-get >/dev/null 2>&1; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq systemd \
		>/dev/null 2>&1
fi
if ! command -v systemd-analyze >/dev/null 2>&1; then
	gl_skip "systemd-analyze verify accepts the unit" "no systemd-analyze"
	gl_skip "verify rejects a missing binary" "no systemd-analyze"
elif [ ! -x "$BIN" ]; then
	gl_skip "systemd-analyze verify accepts the unit" "no $GPULEASED"
	gl_skip "verify rejects a missing binary" "no $GPULEASED"
else
	gl_check "systemd-analyze verify accepts the unit" \
		env MANPATH="$GL_DIR/man" \
		systemd-analyze verify "$GL_DIR/unit/gpuleased.service"
	gl_check "verify rejects a missing binary" sh -c \
		"! systemd-analyze verify --man=no '$GL_DIR/gpuleased.service' \
		   >/dev/null 2>&1"
fi

# Run the unit's command lines as systemd would.
cmd() {
	sed -n "s/^$1=-\{0,1\}//p" "$GL_DIR/unit/gpuleased.service"
}

why=$(gl_unavailable)
if [ -n "$why" ]; then
	for d in "ExecStartPre creates the mount point" \
		 "ExecStartPost returns once the tree is served" \
		 "ExecStart mounts with GPULEASED_OPTS" \
		 "KillSignal: exits 0, unmounted, no process left" \
		 "ExecStopPost unmounts after a SIGKILL"; do
		gl_skip "$d" "$why"
	done
	gl_totals
	[ "$GL_FAIL" = 0 ] || exit 1
	[ "$GL_PASS" = 0 ] && exit 4
	exit 0
fi

gl_check "ExecStartPre creates the mount point" \
	sh -c "$(cmd ExecStartPre) && test -d '$GL_MNT'"
# EnvironmentFile=/etc/default/gpuleased would set GPULEASED_OPTS; an
# unquoted $VAR in ExecStart= splits into words, as in sh.
GPULEASED_OPTS="--cpu-vram 32M --default-ttl 600"
export GPULEASED_OPTS
start() {
	eval "$(cmd ExecStart) >'$GL_DIR/daemon.log' 2>&1 </dev/null &"
	GL_PID=$!
}

# ExecStartPost as systemd runs it, bounded here by timeout(1) as by
# TimeoutStartSec= there.
start_post() {
	eval "timeout 60 $(cmd ExecStartPost)" && gl_mounted
}

# Exit status 0, the mount gone, and nothing running on the mount point
# (pgrep matches this test's own temp path only).
stopped_clean() {
	[ "$1" = 0 ] && ! mountpoint -q "$GL_MNT" && ! pgrep -f -- "$GL_MNT"
}

start
gl_check "ExecStartPost returns once the tree is served" start_post
gl_check "ExecStart mounts with GPULEASED_OPTS" sh -c \
	"test \$(cat '$GL_MNT/devices/0/vram.capacity') = 33554432 &&
	 grep -qx 'default_ttl 600' '$GL_MNT/ctl'"
sig=$(sed -n 's/^KillSignal=SIG//p' "$UNIT")
kill -s "${sig:-TERM}" "$GL_PID"
wait "$GL_PID"
st=$?
GL_PID=
gl_check "KillSignal: exits 0, unmounted, no process left" \
	stopped_clean "$st"
[ "$st" = 0 ] || gl_dump_log

# A crash leaves a dead FUSE mount (ENOTCONN); ExecStopPost clears it.
start
gl_wait_for 400 gl_mounted
kill -KILL "$GL_PID"
wait "$GL_PID" 2>/dev/null
GL_PID=
gl_check "ExecStopPost unmounts after a SIGKILL" \
	sh -c "mountpoint -q '$GL_MNT' && $(cmd ExecStopPost) &&
	       ! mountpoint -q '$GL_MNT'"
gl_totals
[ "$GL_FAIL" = 0 ] || exit 1
exit 0
