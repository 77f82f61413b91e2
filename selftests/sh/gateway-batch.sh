#!/bin/sh
# SPDX-License-Identifier: MIT
# gateway-batch.sh - concurrent requests of one model through
# gpulease-gateway reach the daemon together (--model-inflight, one ring
# handle with that many slots: gl_model_set_slots()) and are batched:
# four concurrent one-row KServe v2 infers of an mlp with max_batch=4 and
# max_delay_us=10 s run in ONE pass (models/NAME/stats: steps 1,
# batch_rows 4; each is sent once the one before waits in the daemon,
# and the pass starts when its four rows are there, so the count does
# not depend on timing), each with the outputs it gets alone;
# with --model-inflight 2 no pass ever holds more than two of them
# (steps >= 2, the batch-size histogram all at le=2); eight concurrent
# greedy completions of a language model each get the text they get
# alone; --model-inflight's bounds.

# Helpers run through gl_check and gl_wait_for:
# shellcheck disable=SC2317
# shellcheck source=selftests/sh/lib.sh
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
PLAN=7
GW_BIN=$(dirname "$GPULEASED")/tools/gateway/gpulease-gateway
why=$(gl_unavailable)
[ -n "$why" ] || [ -x "$GW_BIN" ] || why="no gateway at $GW_BIN"
[ -n "$why" ] || command -v curl >/dev/null || why="no curl"
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

# solo: the oracle, one request at a time; n: batches four rows, waiting
# 10 s for them; p: waits 0.1 s; m1: a language model with eight KV slots
load() {
	echo "load solo $FX/mlp max_batch=8" >"$M/models/ctl" &&
	echo "load n $FX/mlp max_batch=4 max_delay_us=10000000" \
		>"$M/models/ctl" &&
	echo "load p $FX/mlp max_batch=4 max_delay_us=100000" \
		>"$M/models/ctl" && echo "io 1M" >"$M/models/p/ctl" &&
	echo "load m1 $FX/legacy.bin tokenizer=$FX/tokenizer.bin max_batch=8" \
		>"$M/models/ctl" &&
	echo "io 1M" >"$M/models/solo/ctl" && echo "io 1M" >"$M/models/n/ctl" &&
	echo "io 1M" >"$M/models/m1/ctl"
}
load || { gl_not_ok "load the models"; gl_totals; exit 1; }


bounds() {
	expect 2 "model-inflight" "$GW_BIN" --model-inflight 0 &&
	expect 2 "" "$GW_BIN" --model-inflight 33 &&
	"$GW_BIN" --help | grep -q -- "--model-inflight N"
}
gl_check "--model-inflight: 1..32, in --help" bounds

# row I of the fixture's inputs as a v2 request, in $GL_DIR/rowI.json
$PY - "$FX/mlp" "$GL_DIR" <<'EOF'
import json, sys
import numpy as np
x = np.fromfile(sys.argv[1] + "/input.bin", dtype="<f4").reshape(-1, 13)
for i in range(4):
    with open("%s/row%d.json" % (sys.argv[2], i), "w") as f:
        json.dump({"inputs": [{"name": "input", "datatype": "FP32",
                               "shape": [1, 13], "data": x[i].tolist()}]}, f)
EOF

# infer MODEL I: row I's outputs (the data list) from MODEL, to stdout
outputs() {
	$PY -c "import json,sys; print(json.load(open(sys.argv[1]))['outputs'][0]['data'])" "$1"
}
solo() {
	for i in 0 1 2 3; do
		curl -sS -f -o "$GL_DIR/solo$i" -d @"$GL_DIR/row$i.json" \
			"$GW/v2/models/solo/infer" || return 1
		outputs "$GL_DIR/solo$i" >"$GL_DIR/want$i" || return 1
	done
}
# stat MODEL KEY: from models/MODEL/stats
stat() {
	sed -n "s/^$2 //p" "$M/models/$1/stats"
}
# requests_in MODEL N: models/MODEL/stats counts N requests
requests_in() {
	[ "$(stat "$1" requests)" -ge "$2" ]
}
# four at once to model $1 (with $2: each sent once the one before is
# in the daemon, so that each reaches its own server thread: a thread
# that accepted two connections at once serves them in turn); each
# answer its own
together() {
	pids=
	base=$(stat "$1" requests)
	for i in 0 1 2 3; do
		curl -sS -f -o "$GL_DIR/got$i" -d @"$GL_DIR/row$i.json" \
			"$GW/v2/models/$1/infer" &
		pids="$pids $!"
		[ -z "$2" ] || gl_wait_for 200 requests_in "$1" \
			$((base + i + 1)) || return 1
	done
	for p in $pids; do
		wait "$p" || return 1
	done
	for i in 0 1 2 3; do
		outputs "$GL_DIR/got$i" | cmp -s - "$GL_DIR/want$i" ||
			{ echo "row $i differs"; return 1; }
	done
}
one_pass() {
	together n staged || return 1
	[ "$(stat n steps)" = 1 ] && [ "$(stat n batch_rows)" = 4 ] && return 0
	cat "$M/models/n/stats"
	return 1
}
gl_gateway --model-inflight 4 || { gl_not_ok "start the gateway"; gl_totals; exit 1; }
gl_check "each row alone, through model solo" solo
gl_check "four concurrent v2 infers: one pass of four rows, each its own" \
	one_pass

# --model-inflight 2: never more than two rows in a pass, whatever the
# timing (the pass waits 0.1 s for company that cannot come)
# hist SERIES LABEL: model p's batch-size SERIES (bucket, count) whose
# labels end in LABEL
hist() {
	grep "^gpulease_inference_batch_size_$1{.*model=\"p\"" "$M/metrics" |
		sed -n "s/.*$2} //p"
}
bounded() {
	together p || return 1
	n=$(hist count "")
	[ "$(stat p batch_rows)" = 4 ] && [ "$(stat p steps)" -ge 2 ] &&
		[ -n "$n" ] && [ "$(hist bucket ',le="2"')" = "$n" ] && return 0
	cat "$M/models/p/stats"
	grep "^gpulease_inference_batch_size.*model=\"p\"" "$M/metrics"
	return 1
}
gl_gateway --model-inflight 2 || { gl_not_ok "restart the gateway"; gl_totals; exit 1; }
gl_check "--model-inflight 2: at most two rows a pass, each its own" bounded

# eight greedy completions at once on m1, each as alone
completion() {
	curl -sS -f -o "$2" -H 'Content-Type: application/json' -d \
		"{\"model\":\"m1\",\"prompt\":\"$1\",\"max_tokens\":12,\"temperature\":0}" \
		"$GW/v1/completions" &&
	$PY -c "import json,sys; print(json.load(open(sys.argv[1]))['choices'][0]['text'])" "$2" >"$2.text"
}
words="Once upon a time there was a little girl named Lily she liked to"
lm() {
	i=0
	for w in $words; do
		i=$((i + 1))
		[ "$i" -le 8 ] || break
		completion "$w" "$GL_DIR/lmw$i" || return 1
	done
	pids=
	i=0
	for w in $words; do
		i=$((i + 1))
		[ "$i" -le 8 ] || break
		completion "$w" "$GL_DIR/lmg$i" &
		pids="$pids $!"
	done
	for p in $pids; do
		wait "$p" || return 1
	done
	for i in 1 2 3 4 5 6 7 8; do
		cmp -s "$GL_DIR/lmw$i.text" "$GL_DIR/lmg$i.text" ||
			{ echo "completion $i differs"; return 1; }
	done
}
gl_gateway --model-inflight 8 || { gl_not_ok "restart the gateway"; gl_totals; exit 1; }
gl_check "eight concurrent greedy completions: each as alone" lm

kill "$GWPID" && wait "$GWPID"
st=$?
GWPID=
gl_check "the gateway stops on SIGTERM" test "$st" = 0
gl_done
