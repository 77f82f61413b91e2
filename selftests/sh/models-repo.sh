#!/bin/sh
# SPDX-License-Identifier: MIT
# models-repo.sh - the model repository (gpuleased --models DIR): a
# given directory that is missing or no directory stops the start with
# a message and a non-zero status; each DIR/NAME.conf (PATH and load
# options over lines, comments, io= for the ring) is loaded once the
# tree serves, in the foreground and in the background, as its file's
# owner (a file of nobody's makes a model of nobody's, and one naming a
# file nobody cannot read fails with EACCES); a bad file fails its own
# model only, logged with its name and reason (no such PATH, a bad
# option, no PATH, a file others may write, a symbolic link, a bad
# NAME), other files are no models; and a restart serves the same
# models, answering as before.

# Helpers run through gl_check and gl_wait_for:
# shellcheck disable=SC2317
# shellcheck source=selftests/sh/lib.sh
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
FIXTURES=$GL_SRC/selftests/fixtures
REQ='max_tokens=8 output=ids ids 1 2 3'

PLAN=26
why=$(gl_unavailable)
[ -n "$why" ] || command -v setpriv >/dev/null || why="no setpriv"
[ -n "$why" ] || $PY -c 'import numpy' 2>/dev/null ||
	why="$PY has no numpy"
gl_plan "$PLAN"
[ -z "$why" ] || gl_skip_all "$PLAN" "$why"

FX=$(mktemp -d /tmp/glfx.XXXXXX)
chmod 755 "$FX"
trap 'gl_stop >/dev/null 2>&1; rm -rf "$FX"' EXIT
if ! $PY "$FIXTURES/write_checkpoints.py" "$FX" --no-ref >/dev/null; then
	gl_not_ok "fixtures written"
	gl_totals
	exit 1
fi
chmod -R a+rX "$FX"
cp "$FX/legacy.bin" "$FX/secret.bin"
chmod 600 "$FX/secret.bin"

R=$FX/repo
mkdir "$R"
cat >"$R/m1.conf" <<EOF
# the tiny Llama, two requests at once, and its ring
$FX/legacy.bin
  tokenizer=$FX/tokenizer.bin max_batch=2

io=256K
EOF
echo "$FX/nothing.bin" >"$R/nopath.conf"
echo "$FX/legacy.bin bogus=1" >"$R/badopt.conf"
echo "# nothing but a comment" >"$R/empty.conf"
echo "$FX/legacy.bin" >"$R/wide.conf"
echo "$FX/legacy.bin" >"$R/bad,name.conf"
echo "$FX/legacy.bin" >"$R/README"
echo "$FX/legacy.bin" >"$R/m1.conf~"
echo "$FX/legacy.bin" >"$R/user.conf"
echo "$FX/secret.bin" >"$R/secret.conf"
ln -s m1.conf "$R/link.conf"
chmod 644 "$R"/*.conf
chmod 666 "$R/wide.conf"
chown 65534:65534 "$R/user.conf" "$R/secret.conf"

# --- start-up errors ----------------------------------------------------
# fails CMD...: exits non-zero with a message naming the repository
fails() {
	out=$("$GPULEASED" "$@" 2>&1) && { echo "exit 0"; return 1; }
	echo "$out" | grep -q "cannot open the model repository" ||
		{ echo "$out"; return 1; }
}
mkdir "$FX/mnt0"
gl_check "a missing --models DIR stops the start" \
	fails -f --cpu --models "$FX/none" "$FX/mnt0"
gl_check "a --models that is no directory stops it in the background" \
	fails --cpu --models "$FX/legacy.bin" "$FX/mnt0"
gl_check "and nothing stays mounted" sh -c "! mountpoint -q '$FX/mnt0'"

# --- the foreground start -----------------------------------------------
loaded() {
	grep -q "model repository $R: [0-9]* loaded, [0-9]* failed" \
		"$GL_DIR/daemon.log"
}
gl_start --cpu-vram 64M --models "$R" ||
	{ gl_not_ok "start gpuleased"; gl_totals; exit 1; }
M=$GL_MNT
gl_check "the repository is loaded once the tree serves" \
	gl_wait_for 1200 loaded
gl_check "2 loaded, 7 failed" grep -q \
	"model repository $R: 2 loaded, 7 failed" "$GL_DIR/daemon.log"

warm() {
	grep -q '^state warm' "$M/models/$1/ctl"
}
gl_check "m1.conf: m1 warm" warm m1
gl_check "its options: max_batch=2" grep -q '^max_batch 2$' "$M/models/m1/ctl"
gl_check "io=: its ring" test -e "$M/models/m1/io"

answer() {
	exec 3<>"$M/models/$1/infer"
	printf '%s' "$REQ" >&3
	cat <&3
	exec 3>&-
}
answer m1 >"$FX/want"
gl_check "m1 answers" test -s "$FX/want"

owned_by() {
	[ "$(stat -c %u "$M/models/$1")" = "$2" ] &&
		grep -q "^$1 warm " "$M/models/ctl"
}
gl_check "user.conf of nobody's: a model of nobody's" owned_by user 65534
gl_check "m1.conf of root's: a model of root's" owned_by m1 0

logs() {
	grep -q "lease $1: $2: model repository $R: $3" "$GL_DIR/daemon.log" ||
		{ echo "no line '$1: $2: ... $3'"; return 1; }
	[ ! -e "$M/models/${1%.conf}" ]
}
gl_check "no such PATH: logged with the file, no model" \
	logs nopath.conf ENOENT "the load of model nopath"
gl_check "a bad option: logged, no model" \
	logs badopt.conf EINVAL "the load of model badopt"
gl_check "and the reason on the line before" \
	grep -q "lease badopt: EINVAL: load: bad option 'bogus=1'" \
	"$GL_DIR/daemon.log"
gl_check "no PATH: logged, no model" logs empty.conf EINVAL "no PATH in it"
gl_check "a file others may write: refused" \
	logs wide.conf EPERM "writable by group or others"
gl_check "a symbolic link: refused" logs link.conf EINVAL "a symbolic link"
gl_check "a bad NAME: refused" logs bad,name.conf EINVAL "NAME must be"
gl_check "nobody may not load root's file: EACCES" \
	logs secret.conf EACCES "the load of model secret as uid 65534"
gl_check "other files are no models" \
	sh -c "! grep -q 'README\|m1.conf~' '$GL_DIR/daemon.log' &&
		[ \$(grep -c warm '$M/models/ctl') = 2 ]"

# --- a restart, and the background start -------------------------------
# not in gl_check's subshell: the daemon is this shell's child
if gl_stop; then
	gl_ok "gpuleased stops, exit 0"
else
	gl_not_ok "gpuleased stops, exit 0"
fi
GL_BACKGROUND=1
gl_start --cpu-vram 64M --models "$R" ||
	{ gl_not_ok "start gpuleased in the background"; gl_totals; exit 1; }
M=$GL_MNT
gl_check "in the background too, the repository is loaded" \
	gl_wait_for 1200 loaded
gl_check "the restarted daemon serves m1 again" warm m1
same_answer() {
	answer m1 >"$FX/got" && cmp "$FX/got" "$FX/want"
}
gl_check "with the same answer" same_answer
gl_check "and user again, nobody's" owned_by user 65534
gl_done
