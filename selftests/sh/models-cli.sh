#!/bin/sh
# SPDX-License-Identifier: MIT
# models-cli.sh - the gpulease command's model verbs against a private
# daemon and the seeded fixtures of selftests/fixtures/: load (relative
# paths made absolute), models, generate (its answer is the infer file's
# own, and it streams: the first token is out while the request is held
# by the debug knob model_step_hold), infer (text, and an mlp's binary
# request whose answer matches numpy), unload (memory back), top's
# models section (none, then one); and every error's message and exit
# status: unknown model, bad path, malformed file, taken name, bad names
# and options, another uid (load of a file it cannot read, generate,
# unload), an expired model, a request cut by expiry after its first
# token, no daemon.

# Helpers run through gl_check and gl_wait_for:
# shellcheck disable=SC2317
# shellcheck source=selftests/sh/lib.sh
. "$(dirname "$0")/lib.sh"

: "${GPULEASE:=$(dirname "$GPULEASED")/tools/gpulease/gpulease}"
PY=/usr/bin/python3
FIXTURES=$GL_SRC/selftests/fixtures

PLAN=34
why=$(gl_unavailable)
[ -n "$why" ] || [ -x "$GPULEASE" ] || why="no gpulease at $GPULEASE"
[ -n "$why" ] || command -v setpriv >/dev/null || why="no setpriv"
[ -n "$why" ] || $PY -c 'import numpy' 2>/dev/null ||
	why="$PY has no numpy"
gl_plan "$PLAN"
[ -z "$why" ] || gl_skip_all "$PLAN" "$why"

FX=$(mktemp -d /tmp/glfx.XXXXXX)
chmod 755 "$FX"
trap 'gl_stop >/dev/null 2>&1; rm -rf "$FX"' EXIT
mkdir "$FX/mlp"
if ! $PY "$FIXTURES/write_checkpoints.py" "$FX" --no-ref >/dev/null ||
	! $PY "$FIXTURES/write_mlp.py" "$FX/mlp" >/dev/null; then
	gl_not_ok "fixtures written"
	gl_totals
	exit 1
fi
chmod -R a+rX "$FX"
gl_start --cpu-vram 64M || { gl_not_ok "start gpuleased"; gl_totals; exit 1; }
M=$GL_MNT

g() {
	"$GPULEASE" --mount "$M" "$@"
}

nobody() {
	setpriv --reuid=65534 --regid=65534 --clear-groups "$@"
}

# direct NAME REQUEST: the answer of the infer file itself, no command
direct() {
	exec 3<>"$M/models/$1/infer"
	printf '%s' "$2" >&3
	cat <&3
	exec 3>&-
}

# --- load, models -------------------------------------------------------
top_none() {
	g top --iterations 1 >"$GL_DIR/top" &&
		grep -q '^MODEL *STATE' "$GL_DIR/top" &&
		[ "$(sed -n '/^MODEL/,$p' "$GL_DIR/top" | grep -c .)" = 1 ]
}
gl_check "top with no model: an empty models section" top_none
load_rel() {
	(cd "$FX" && g load m1 legacy.bin tokenizer=tokenizer.bin) &&
		[ -d "$M/models/m1" ] &&
		grep -q '^state warm' "$M/models/m1/ctl"
}
gl_check "load with relative PATH and tokenizer= loads" load_rel
models_lists() {
	g models >"$GL_DIR/ls" &&
		head -1 "$GL_DIR/ls" | grep -q '^NAME *STATE *ARCH *VRAM' &&
		grep -q '^m1 *warm *llama2c ' "$GL_DIR/ls"
}
gl_check "models lists m1 warm llama2c" models_lists

# --- generate, infer ----------------------------------------------------
# same A B: A is B and not empty, else say both
same() {
	[ -n "$1" ] && [ "$1" = "$2" ] && return 0
	echo "got '$1' want '$2'"
	return 1
}
gen_same() {
	want=$(direct m1 'max_tokens=8 seed=3 temperature=0.9 -- hello') &&
		got=$(g generate m1 hello max_tokens=8 seed=3 \
			temperature=0.9) &&
		same "$got" "$want"
}
gl_check "generate answers what infer does, then a newline" gen_same
gen_dash() {
	want=$(direct m1 'max_tokens=4 output=ids -- -x=1') &&
		got=$(g generate m1 -x=1 max_tokens=4 output=ids) &&
		same "$got" "$want"
}
gl_check "generate sends a prompt that looks like an option as text" \
	gen_dash
gen_lines() {
	$PY "$FIXTURES/write_nl_tokenizer.py" "$FX/nl.bin" &&
		chmod a+r "$FX/nl.bin" &&
		g load m2 "$FX/legacy.bin" tokenizer="$FX/nl.bin" &&
		want=$(direct m2 "$(printf 'max_tokens=4 -- Once\nupon')") &&
		got=$(g generate m2 "$(printf 'Once\nupon')" max_tokens=4) &&
		g unload m2 && same "$got" "$want"
}
gl_check "generate sends a prompt of two lines whole" gen_lines
infer_same() {
	req='max_tokens=6 output=ids ids 1 5 9'
	direct m1 "$req" >"$GL_DIR/want" &&
		printf '%s' "$req" | g infer m1 >"$GL_DIR/got" &&
		[ -s "$GL_DIR/got" ] && cmp "$GL_DIR/got" "$GL_DIR/want"
}
gl_check "infer copies the answer byte for byte" infer_same
mlp_infer() {
	g load mlp "$FX/mlp" max_batch=7 || return 1
	$PY -c 'import struct, sys
x = open(sys.argv[1], "rb").read()
sys.stdout.buffer.write(struct.pack("<4I2Q", 0x31544c47, 1, 7, 13, 0, 0) + x)
' "$FX/mlp/input.bin" >"$GL_DIR/req" || return 1
	g infer mlp <"$GL_DIR/req" >"$GL_DIR/ans" || return 1
	$PY -c 'import struct, sys
a = open(sys.argv[1], "rb").read()
r = open(sys.argv[2], "rb").read()
h = struct.unpack("<4I2Q", a[:32])
assert h == (0x31544c47, 1, 7, 3, 0, 0), h
got = struct.unpack("<21f", a[32:])
want = struct.unpack("<21f", r)
bad = [(g, w) for g, w in zip(got, want) if abs(g - w) > 1e-5 + 1e-5 * abs(w)]
assert not bad, bad
' "$GL_DIR/ans" "$FX/mlp/ref.bin"
}
gl_check "infer sends an mlp's binary request, answer as numpy's" mlp_infer

# streaming: the knob holds the request after its first token
first_token() {
	[ -s "$GL_DIR/stream" ]
}
stream() {
	echo "model_step_hold 1" >"$M/ctl" || return 1
	rm -f "$GL_DIR/stream"	# the child truncates it only once it runs
	g generate m1 hello max_tokens=5 >"$GL_DIR/stream" 2>&1 &
	pid=$!
	ok=0
	gl_wait_for 400 first_token &&
		grep -q '^running 1' "$M/models/m1/stats" || ok=1
	echo "model_step_hold 0" >"$M/ctl"
	wait "$pid" || ok=1
	[ "$ok" = 0 ] || cat "$GL_DIR/stream"
	return "$ok"
}
gl_check "generate prints the first token while the request runs" stream

# --- errors -------------------------------------------------------------
gl_check "generate on an unknown model: 'no model', exit 1" \
	expect 1 "gpulease: no model nope" g generate nope hi
gl_check "infer on an unknown model: 'no model', exit 1" \
	sh -c "echo hi | '$GPULEASE' --mount '$M' infer nope 2>&1 |
		grep -q 'gpulease: no model nope'"
gl_check "unload of an unknown model: 'no model', exit 1" \
	expect 1 "gpulease: no model nope" g unload nope
gl_check "load of a missing path: 'cannot read', exit 1" \
	expect 1 "model m2: cannot read /nonexistent/x" \
	g load m2 /nonexistent/x
head -c 4096 /dev/urandom >"$FX/junk.bin"
chmod 644 "$FX/junk.bin"
gl_check "load of a malformed file: EINVAL with the reason, exit 1" \
	expect 1 "model m2: invalid argument (EINVAL: load: " \
	g load m2 "$FX/junk.bin"
gl_check "a failed load leaves no model behind" \
	sh -c "[ ! -e '$M/models/m2' ] && ! grep -q '^m2 ' '$M/models/ctl'"
gl_check "load of a taken name: 'already exists', exit 1" \
	expect 1 "model m1 already exists" g load m1 "$FX/legacy.bin"
gl_check "load with a bad name: usage error, exit 2" \
	expect 2 "is not a model name" g load 'a/b' "$FX/legacy.bin"
gl_check "load with a bad option: EINVAL naming it, exit 1" \
	expect 1 "bad option 'bogus=1'" g load m2 "$FX/legacy.bin" bogus=1
gl_check "generate with a bad option: EINVAL with the reason, exit 1" \
	expect 1 "model m1: invalid argument (EINVAL: request refused" \
	g generate m1 hi bogus=1
gl_check "generate without a prompt: usage error, exit 2" \
	expect 2 "expected a model NAME and a PROMPT" g generate m1
cmd_help() {
	for c in models load unload generate infer; do
		g "$c" --help | grep -q "^usage: gpulease .* $c" || return 1
		g --help | grep -q "^  $c " || return 1
	done
}
gl_check "each verb has --help, and gpulease --help names it" cmd_help

# --- another uid --------------------------------------------------------
cp "$FX/legacy.bin" "$FX/private.bin"
chmod 600 "$FX/private.bin"
gl_check "another uid cannot load a file it cannot read: exit 1" \
	expect 1 "cannot read $FX/private.bin" \
	nobody "$GPULEASE" --mount "$M" load n1 "$FX/private.bin"
gl_check "another uid cannot generate on m1: 'permission denied'" \
	expect 1 "model m1: permission denied" \
	nobody "$GPULEASE" --mount "$M" generate m1 hi
gl_check "another uid cannot unload m1: 'permission denied'" \
	expect 1 "model m1: permission denied" \
	nobody "$GPULEASE" --mount "$M" unload m1
nobody_list() {
	nobody "$GPULEASE" --mount "$M" models >"$GL_DIR/ls" &&
		[ "$(wc -l <"$GL_DIR/ls")" = 1 ] && [ -d "$M/models/m1" ]
}
gl_check "another uid lists no model of root's" nobody_list
nobody_own() {
	nobody "$GPULEASE" --mount "$M" load n1 "$FX/legacy.bin" \
		tokenizer="$FX/tokenizer.bin" &&
		nobody "$GPULEASE" --mount "$M" models | grep -q '^n1 ' &&
		nobody "$GPULEASE" --mount "$M" unload n1
}
gl_check "another uid loads, lists and unloads its own model" nobody_own

# --- top, unload ---------------------------------------------------------
top_models() {
	g top --iterations 1 >"$GL_DIR/top" &&
		grep -q '^MODEL *STATE *ARCH *VRAM *REQUESTS *RUNNING *TOKENS/S' \
			"$GL_DIR/top" &&
		grep -q '^m1 *warm *llama2c ' "$GL_DIR/top"
}
gl_check "top shows the models" top_models
unload_frees() {
	g unload mlp &&
		[ ! -e "$M/models/mlp" ] && ! g models | grep -q '^mlp '
}
gl_check "unload takes the model away" unload_frees

# --- expiry: mid-request, then every request ----------------------------
cut() {
	echo "model_step_hold 1" >"$M/ctl" || return 1
	rm -f "$GL_DIR/stream"	# as in stream() above
	g generate m1 hello max_tokens=5 >"$GL_DIR/stream" 2>"$GL_DIR/err" &
	pid=$!
	gl_wait_for 400 first_token || { echo "no first token"; return 1; }
	echo "clock_offset 7200" >"$M/ctl"
	echo "model_step_hold 0" >"$M/ctl"
	wait "$pid"
	st=$?
	[ "$st" = 1 ] && grep -q "model m1 expired" "$GL_DIR/err" && return 0
	echo "exit $st"
	cat "$GL_DIR/err"
	return 1
}
gl_check "a request cut by expiry prints its part, then 'expired', exit 1" \
	cut
gl_check "generate on an expired model: 'expired', exit 1" \
	expect 1 "model m1 expired" g generate m1 hi
gl_check "models shows m1 expired" sh -c "
	'$GPULEASE' --mount '$M' models | grep -q '^m1 *expired '"
unload_all() {
	g unload m1 && [ "$(cat "$M/devices/0/vram.used")" = 0 ]
}
gl_check "unload of the expired model gives every byte back" unload_all
gl_check "no daemon: 'daemon not running', exit 1" \
	expect 1 "daemon not running" \
	"$GPULEASE" --mount "$GL_DIR/nothing" models
gl_done
