#!/bin/sh
# SPDX-License-Identifier: MIT
# cli.sh - the gpulease command against a private daemon: acquire, ls
# (human sizes, owner names), renew, resize, run (noop; fill then saxpy,
# read back), drop; the messages and exit codes for ENOSPC, EDQUOT, an
# expired lease, a missing daemon and usage errors; acquire --bind held
# until a signal; --help naming every subcommand; libgpulease exporting
# exactly its map, each function with a man page.
# The command is $GPULEASE, else tools/gpulease/gpulease next to the
# daemon ($GPULEASED, see lib.sh).

# Helpers run through gl_check and gl_wait_for:
# shellcheck disable=SC2317
# shellcheck source=selftests/sh/lib.sh
. "$(dirname "$0")/lib.sh"

: "${GPULEASE:=$(dirname "$GPULEASED")/tools/gpulease/gpulease}"
GL_LIBDIR=$(dirname "$GPULEASE")/../lib
CMDS="ls acquire drop renew resize run top models load unload generate infer"

PLAN=40
why=$(gl_unavailable)
[ -n "$why" ] || [ -x "$GPULEASE" ] || why="no gpulease at $GPULEASE"
if [ -n "$why" ]; then
	gl_plan "$PLAN"
	gl_skip_all "$PLAN" "$why"
fi
gl_plan "$PLAN"
gl_start --cpu-vram 64M || { gl_not_ok "start gpuleased"; gl_totals; exit 1; }

LS=$GL_MNT/leases
DEV=$GL_MNT/devices/0
cap=$(cat "$DEV/vram.capacity")
me=$(id -un)
uid=$(id -u)

g() {
	"$GPULEASE" --mount "$GL_MNT" "$@"
}

# out_has PATTERN CMD...: CMD exits 0 and prints a line matching PATTERN.
out_has() {
	pat=$1
	shift
	"$@" >"$GL_DIR/out" 2>&1 || { cat "$GL_DIR/out"; return 1; }
	grep -q -- "$pat" "$GL_DIR/out" || { cat "$GL_DIR/out"; return 1; }
}

ctl_is() {
	grep -qsx "$2" "$LS/$1/ctl"
}

expires_over() {
	n=$(sed -n 's/^expires_in //p' "$LS/$1/ctl")
	[ -n "$n" ] && [ "$n" -gt "$2" ]
}

help_names_all() {
	out=$("$GPULEASE" --help) || return 1
	for c in $CMDS; do
		printf '%s\n' "$out" | grep -q "^  $c " ||
			{ echo "--help lacks $c"; return 1; }
	done
}

each_help() {
	for c in $CMDS; do
		out=$("$GPULEASE" "$c" --help) || { echo "$c --help"; return 1; }
		printf '%s\n' "$out" | grep -q "^usage: gpulease .*$c" ||
			{ echo "$c --help: no usage line"; return 1; }
	done
}

exports_match_map() {
	nm -D --defined-only "$GL_LIBDIR/libgpulease.so" |
		awk '$2 == "T" { sub(/@.*/, "", $3); print $3 }' |
		sort >"$GL_DIR/exported"
	sed -n 's/^[[:space:]]*\(gl_[a-z0-9_]*\);$/\1/p' \
		"$GL_SRC/tools/lib/libgpulease.map" | sort >"$GL_DIR/listed"
	[ -s "$GL_DIR/listed" ] && diff "$GL_DIR/listed" "$GL_DIR/exported"
}

gone() {
	[ ! -e "$LS/$1" ]
}

every_export_has_page() {
	[ -s "$GL_DIR/listed" ] || return 1
	while read -r f; do
		[ -f "$GL_SRC/Documentation/man/$f.3" ] ||
			{ echo "no Documentation/man/$f.3"; return 1; }
	done <"$GL_DIR/listed"
}

# --- help, version, usage ---------------------------------------------------
gl_check "--help names every subcommand" help_names_all
gl_check "every subcommand has --help" each_help
gl_check "--version" out_has "^gpulease [0-9]" "$GPULEASE" --version
gl_check "no command: exit 2" expect 2 "" g
gl_check "unknown command: exit 2" expect 2 "no command 'frob'" g frob
gl_check "acquire without NAME: exit 2" expect 2 "NAME" g acquire
gl_check "bad size: exit 2" expect 2 "bad size" g acquire x --vram 12Q
gl_check "unknown option: exit 2" expect 2 "unknown option" g ls --frob
gl_check "renew NAME 0: exit 2" expect 2 "" g renew x 0

# --- a lease's life -----------------------------------------------------------
gl_check "acquire m1 --vram 2M --ttl 300" g acquire m1 --vram 2M --ttl 300
gl_check "m1 reserves 2M" ctl_is m1 "vram 2097152"
gl_check "ls shows m1, 2.0M, its owner" \
	out_has "^m1  *active  *2\.0M  *0  *[0-9ms]*  *$me  *0  *0$" g ls
gl_check "ls --json shows m1 in bytes" \
	out_has "\"name\": \"m1\".*\"vram\": 2097152" g ls --json
gl_check "renew m1 900" g renew m1 900
gl_check "expires_in is past the old ttl" expires_over m1 800
gl_check "resize m1 4M" g resize m1 4M
gl_check "ls shows 4.0M" out_has "^m1  *active  *4\.0M " g ls
gl_check "run m1 -- 'noop grid=1'" \
	out_has "^ok .*noop grid=1" g run m1 -- "noop grid=1"
gl_check "run: fill x and y, then saxpy" g run m1 -- \
	"fill grid=1 block=256 u32:4 f32:1.5 buf:0:16" \
	"fill grid=1 block=256 u32:4 f32:2 buf:16:16" \
	"saxpy grid=1 block=256 u32:4 f32:2 buf:0:16 buf:16:16"
gl_check "y = 2 * 1.5 + 2 = 5" sh -c \
	"test \"\$(od -An -tf4 -j16 -N16 '$LS/m1/vram' | tr -s ' ')\" = ' 5 5 5 5'"
gl_check "run from stdin" sh -c \
	"printf '# comment\n\nnoop grid=1\n' | '$GPULEASE' --mount '$GL_MNT' run m1 | grep -q '^ok'"
gl_check "ls counts 5 launches" out_has "^m1 .* 5$" g ls
gl_check "a launch outside the lease: exit 1" \
	expect 1 "argument outside the lease" \
	g run m1 -- "saxpy grid=1 block=256 u32:4 f32:2 buf:0:16 buf:8388608:16"

# --- errors in gpulease terms ------------------------------------------------
gl_check "ENOSPC: not enough device memory" \
	expect 1 "lease big: not enough device memory" \
	g acquire big --vram 1G
echo "quota $uid 8M" >"$GL_MNT/ctl"
gl_check "EDQUOT: over your quota" expect 1 "over your quota" \
	g acquire q1 --vram 6M
echo "quota $uid none" >"$GL_MNT/ctl"
gl_check "EEXIST: already exists" expect 1 "lease m1 already exists" \
	g acquire m1
gl_check "drop m1" g drop m1
gl_check "its memory is back" test "$(cat "$DEV/vram.free")" = "$cap"
gl_check "drop a missing lease: exit 1" expect 1 "no lease m1" g drop m1
gl_check "no daemon: daemon not running" \
	expect 1 "daemon not running (is $GL_DIR mounted?)" \
	"$GPULEASE" --mount "$GL_DIR" ls

# --- acquire --bind holds until a signal --------------------------------------
"$GPULEASE" --mount "$GL_MNT" acquire b1 --vram 1M --bind 2>/dev/null &
holder=$!
gl_wait_for 200 ctl_is b1 "bound 1"
gl_check "acquire --bind holds a bound lease" ctl_is b1 "bound 1"
kill -INT "$holder"
wait "$holder"
st=$?
gl_check "SIGINT: exit 0 and the lease is dropped" \
	sh -c "test $st = 0 && test ! -e '$LS/b1'"
"$GPULEASE" --mount "$GL_MNT" acquire b2 --bind 2>/dev/null &
holder=$!
gl_wait_for 200 ctl_is b2 "bound 1"
kill -KILL "$holder"
wait "$holder" 2>/dev/null
gl_check "SIGKILL of the holder drops it too" gl_wait_for 200 gone b2

# --- expiry (the clock knob, no sleeping) --------------------------------------
g acquire e1 --vram 1M --ttl 60 >/dev/null 2>&1
echo "clock_offset 120" >"$GL_MNT/ctl"
gl_check "EKEYEXPIRED: lease e1 expired" expect 1 "lease e1 expired" \
	g renew e1
gl_check "run on it: lease e1 expired" expect 1 "lease e1 expired" \
	g run e1 -- "noop grid=1"
gl_check "ls shows e1 expired" out_has "^e1  *expired " g ls
gl_check "an expired lease drops" g drop e1
gl_check "libgpulease.so exports exactly its map" exports_match_map
gl_check "every exported function has a man page" every_export_has_page
gl_done
