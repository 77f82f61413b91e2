#!/bin/sh
# SPDX-License-Identifier: MIT
# gateway-openai.sh - OpenAI's own Node client (npm "openai", pinned in
# selftests/npm/package.json, unmodified: new OpenAI({ baseURL, apiKey }))
# against gpulease-gateway on a real daemon with the seeded fixtures (a
# tiny llama2.c model, the five-layer mlp), the checks written in
# selftests/npm/gateway-openai.mjs: models.list() and retrieve(), a
# greedy completion whole (the daemon's text through infer, finish_reason,
# usage as the daemon counts it, the request id) and streamed (chunks,
# usage chunk, the end), the same text both ways, lists of prompts, and
# the client's error classes from the gateway's error objects: 404
# NotFoundError, 400 BadRequestError naming the field, 413 APIError, 429
# RateLimitError with Retry-After (a KV slot held), and with --tokens
# 401 AuthenticationError for an unknown key while a known one works.
# Skipped without node or the npm package (scripts/install-deps.sh).

# Helpers run through gl_check:
# shellcheck disable=SC2317
# shellcheck source=selftests/sh/lib.sh
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
PLAN=14
GW_BIN=$(dirname "$GPULEASED")/tools/gateway/gpulease-gateway
NPM=$GL_SRC/selftests/npm
JS=$NPM/gateway-openai.mjs
why=$(gl_unavailable)
[ -n "$why" ] || [ -x "$GW_BIN" ] || why="no gateway at $GW_BIN"
[ -n "$why" ] || command -v node >/dev/null || why="no node"
[ -n "$why" ] || [ -f "$NPM/node_modules/openai/package.json" ] ||
	why="npm package openai not installed (scripts/install-deps.sh)"
[ -n "$why" ] || $PY -c 'import numpy' 2>/dev/null ||
	why="$PY has no numpy"
gl_plan "$PLAN"
[ -z "$why" ] || gl_skip_all "$PLAN" "$why"

FX=$(mktemp -d /tmp/glfx.XXXXXX)
chmod 755 "$FX"
GWPID=
cleanup() {
	[ -z "$GWPID" ] || kill "$GWPID" 2>/dev/null
	gl_stop >/dev/null 2>&1
	rm -rf "$FX"
}
trap cleanup EXIT
if ! gl_gateway_fixtures "$FX"; then
	gl_not_ok "fixtures written"
	gl_totals
	exit 1
fi
gl_start --cpu-vram 64M || { gl_not_ok "start gpuleased"; gl_totals; exit 1; }
M=$GL_MNT

# m1 (max_ctx 32, one KV slot, no queue) and mlp, each with a request ring
if ! { echo "load m1 $FX/legacy.bin tokenizer=$FX/tokenizer.bin max_queue=0" \
	>"$M/models/ctl" &&
	echo "load mlp $FX/mlp max_batch=7" >"$M/models/ctl" &&
	echo "io 1M" >"$M/models/m1/ctl" && echo "io 1M" >"$M/models/mlp/ctl"; }
then
	gl_not_ok "load the models"
	gl_totals
	exit 1
fi

gl_gateway || { gl_not_ok "start the gateway"; gl_totals; exit 1; }
export GW

# the daemon's own greedy answer, exactly (a file: no newline stripped),
# and its prompt count from the usage=1 trailer
infer() {
	exec 3<>"$M/models/m1/infer"
	printf '%s' "$1" >&3 && cat <&3
	st=$?
	exec 3>&-
	return "$st"
}
WANT=$GL_DIR/want
infer "max_tokens=8 temperature=0 -- Once upon a time" >"$WANT"
PROMPT_TOKENS=$(infer "max_tokens=8 temperature=0 usage=1 -- Once upon a time" |
	tr '\036' '\n' | sed -n 's/^usage \([0-9]*\) 8$/\1/p')
export WANT PROMPT_TOKENS
# run CHECK...: the client's checks, in one node process (loading the
# client is the slow part); their lines in $JS_OUT, stacks in $JS_OUT.err
JS_OUT=$GL_DIR/js.out
run() {
	node "$JS" "$@" >"$JS_OUT" 2>"$JS_OUT.err"
}
# point CHECK DESC: the test point of CHECK's line in $JS_OUT
point() {
	line=$(grep "^$1 " "$JS_OUT")
	case $line in
	"$1 ok"*)
		gl_ok "$2"
		return
		;;
	esac
	gl_not_ok "$2"
	if [ -n "$line" ]; then
		gl_log "$line"
	else
		gl_log "$1: no result from node"
		sed 's/^/# /' "$JS_OUT.err"
	fi
	# where the client went, and what the gateway said (a connection
	# error seen once in CI's sanitizer lane, not reproduced since)
	gl_log "GW=$GW"
	tail -n 5 "$GWLOG" 2>/dev/null | sed 's/^/# gw.log: /'
}

run version models whole stream same prompts notfound badfield toolarge
setup() {
	if [ ! -s "$WANT" ] || [ -z "$PROMPT_TOKENS" ]; then
		echo "infer gave no text or usage"
		return 1
	fi
	grep -q '^version ok ' "$JS_OUT" ||
		{ cat "$JS_OUT" "$JS_OUT.err"; return 1; }
}
gl_check "the daemon's greedy text through infer; the openai package loads" \
	setup
gl_log "openai $(sed -n 's/^version ok //p' "$JS_OUT") on node" \
	"$(node --version), $PROMPT_TOKENS prompt tokens"
point models "models.list() lists m1 and mlp; retrieve('m1')"
point whole "completions.create: the daemon's text, finish_reason length, usage, _request_id"
point stream "stream: chunks make the text, finish_reason last, the usage chunk, the end"
point same "the same greedy request gives the same text streamed and whole"
point prompts "a list of id prompts and of strings: one choice each, usage summed"
point notfound "an unknown model: NotFoundError 404 with code, type, param (whole, stream, retrieve)"
point badfield "bad fields: BadRequestError 400 naming temperature, n, model (an mlp)"
point toolarge "max_tokens over max_ctx: APIError 413 request_too_large"

# EBUSY: a request on infer holds m1's one KV slot
echo "model_step_hold 1" >"$M/ctl"
exec 4<>"$M/models/m1/infer"
printf '%s' "max_tokens=4 output=ids ids 9" >&4
gl_wait_for 400 grep -q '^running 1' "$M/models/m1/ctl"
run busy
echo "model_step_hold 0" >"$M/ctl"
cat <&4 >/dev/null
exec 4>&-
point busy "every slot taken: RateLimitError 429 with retry-after"

# bearer tokens: a second gateway
kill "$GWPID"
wait "$GWPID"
GWPID=
printf '# key tenant\nsecret-a alice\n' >"$GL_DIR/tokens"
gl_gateway --tokens "$GL_DIR/tokens" || gl_log "gateway with --tokens did not start"
KEY=secret-a run unauthorized authorized
point unauthorized "--tokens, an unknown key: AuthenticationError 401 invalid_api_key"
point authorized "--tokens, a known key: models and the completion"
kill -TERM "$GWPID"
wait "$GWPID"
st=$?
GWPID=
gl_check "the gateway exits 0 on SIGTERM" [ "$st" = 0 ]
gl_done
