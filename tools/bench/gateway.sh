#!/bin/sh
# SPDX-License-Identifier: MIT
# gateway.sh - gpulease-gateway's benchmarks against a private daemon
# (as root, as the shell tests: selftests/sh/lib.sh): the seeded fixture
# mlp loaded twice (mlp for the gateway, mlpd for the ring: one producer
# per ring) and the tiny Llama m1, then
#  1. tools/bench/gateway: p50 and p99 of one-row mlp requests through
#     the ring and through the gateway, in alternating rounds of the same
#     run, and the overhead at p50;
#  2. a load test with wrk (127.0.0.1, 64 connections, as many in flight
#     (--max-inflight 64), GW_LOAD_SECS each,
#     default 30): KServe infer on mlp, then completions on m1 (8 KV
#     slots); requests/s, p50/p99 latency, and the count of failed
#     (non-2xx or socket error) requests, which must be 0; GW_ROUNDS
#     rounds (default 2), each with a gateway of --model-inflight 1 (a
#     model's requests take turns, as before the option) and one of
#     --model-inflight GW_INFLIGHT (default 8: batched by the daemon),
#     alternating in the same run (one gateway at a time: one producer
#     per ring).
# The daemon is $GPULEASED (default build/gpuleased); exit 1 on a failure.

# shellcheck source=selftests/sh/lib.sh
. "$(dirname "$0")/../../selftests/sh/lib.sh"
GW_BIN=$(dirname "$GPULEASED")/tools/gateway/gpulease-gateway
BENCH=$(dirname "$GPULEASED")/tools/bench/gateway
SECS=${GW_LOAD_SECS:-30}
why=$(gl_unavailable)
[ -n "$why" ] || [ -x "$GW_BIN" ] || why="no $GW_BIN"
[ -n "$why" ] || command -v wrk >/dev/null || why="no wrk"
if [ -n "$why" ]; then
	echo "gateway bench skipped: $why"
	exit 0
fi
FX=$(mktemp -d /tmp/glfx.XXXXXX)
chmod 755 "$FX"
GWPID=
trap '[ -z "$GWPID" ] || kill "$GWPID"; gl_stop >/dev/null 2>&1; rm -rf "$FX"' EXIT
/usr/bin/python3 "$GL_SRC/selftests/fixtures/write_mlp.py" "$FX/mlp" \
	>/dev/null &&
/usr/bin/python3 "$GL_SRC/selftests/fixtures/write_checkpoints.py" "$FX" \
	--no-ref >/dev/null || exit 1
chmod -R a+rX "$FX"
gl_start --cpu-vram 256M || exit 1
M=$GL_MNT
for m in mlp mlpd; do
	echo "load $m $FX/mlp max_batch=7" >"$M/models/ctl" &&
	echo "io 1M" >"$M/models/$m/ctl" || exit 1
done
echo "load m1 $FX/legacy.bin tokenizer=$FX/tokenizer.bin max_batch=8" \
	>"$M/models/ctl" &&
	echo "io 1M" >"$M/models/m1/ctl" || exit 1
# gateway ARGS...: start one (the last one stopped first); $PORT
gateway() {
	stop_gateway
	rm -f "$FX/gw.log"	# the child truncates it only once it runs
	"$GW_BIN" --mount "$M" --listen 127.0.0.1:0 "$@" 2>"$FX/gw.log" &
	GWPID=$!
	gl_wait_for 200 grep -q "listening on" "$FX/gw.log" || exit 1
	PORT=$(sed -n 's/.*listening on 127.0.0.1://p' "$FX/gw.log")
}
stop_gateway() {
	[ -n "$GWPID" ] || return 0
	kill "$GWPID"
	wait "$GWPID"
	GWPID=
}

gateway
"$BENCH" "$M" mlpd "$PORT" mlp 13 10 || exit 1

# idle: the gateway's in-flight gauge reads 0 (the requests of the last
# run's connections, which wrk closed mid-request, have ended: they
# would count against --max-inflight and make the next run's first
# requests 429s)
idle() {
	curl -sS "http://127.0.0.1:$PORT/metrics" 2>/dev/null |
		grep -q '^gpulease_gateway_requests_in_flight 0$'
}

# load: wrk_run NAME PATH BODY
fail=0
wrk_run() {
	gl_wait_for 400 idle || { echo "the gateway stayed busy"; return 1; }
	cat >"$FX/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '$3'
wrk.headers["Content-Type"] = "application/json"
LUA
	wrk -t 4 -c "$CONNS" -d "${SECS}s" --timeout 30s --latency -s "$FX/post.lua" \
		"http://127.0.0.1:$PORT$2" >"$FX/wrk.out" 2>&1 || return 1
	rps=$(awk '/^Requests\/sec/ { print $2 }' "$FX/wrk.out")
	p50=$(awk '$1 == "50%" { print $2 }' "$FX/wrk.out")
	p99=$(awk '$1 == "99%" { print $2 }' "$FX/wrk.out")
	bad=$(awk '/Non-2xx/ { n += $NF } /Socket errors/ { gsub(",", "");
		n += $4 + $6 + $8 + $10 } END { print n + 0 }' "$FX/wrk.out")
	total=$(awk '/requests in/ { print $1 }' "$FX/wrk.out")
	echo "load $1: $CONNS connections, ${SECS} s: $total requests," \
		"$rps/s, p50 $p50, p99 $p99, failed $bad"
	[ "$bad" = 0 ] || { cat "$FX/wrk.out"; fail=1; }
}
# every connection has a thread of its own in the gateway: let all of
# them be in flight (--max-inflight, else the rest are 429s at once)
CONNS=64
round=0
while [ "$round" -lt "${GW_ROUNDS:-2}" ]; do
	round=$((round + 1))
	for n in 1 "${GW_INFLIGHT:-8}"; do
		gateway --model-inflight "$n" --max-inflight "$CONNS"
		echo "round $round, --model-inflight $n, load average" \
			"$(cut -d' ' -f1-3 /proc/loadavg)"
		wrk_run "mlp (KServe infer)" /v2/models/mlp/infer \
			'{"inputs":[{"name":"input","datatype":"FP32","shape":[1,13],"data":[0,1,2,3,4,5,6,7,8,9,10,11,12]}]}'
		wrk_run "m1 (completions, 8 tokens)" /v1/completions \
			'{"model":"m1","prompt":"Once upon a time","max_tokens":8,"temperature":0}'
	done
done
stop_gateway
exit "$fail"
