#!/bin/sh
# SPDX-License-Identifier: MIT
# model-metrics.sh - the per-model series of /gpu/metrics after known
# requests on a seeded fixture model: requests, failures by reason (a
# refused request, EINVAL, and one cut by expiry, EKEYEXPIRED), tokens,
# bytes in and out (and the daemon-wide bytes totals counting them), the
# latency histogram's count and buckets (a request held past 0.5 s by the
# debug knob model_step_hold cannot be in a bucket below 1 s: a lower
# bound, never a timed upper one), the model label on its lease's
# lease-seconds series, the same figures in models/NAME/stats, promtool
# accepting it all, and another uid seeing no model label at all.

# Helpers run through gl_check and gl_wait_for:
# shellcheck disable=SC2317
# shellcheck source=selftests/sh/lib.sh
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
PLAN=13
why=$(gl_unavailable)
[ -n "$why" ] || command -v setpriv >/dev/null || why="no setpriv"
[ -n "$why" ] || $PY -c 'import numpy' 2>/dev/null ||
	why="$PY has no numpy"
gl_plan "$PLAN"
[ -z "$why" ] || gl_skip_all "$PLAN" "$why"

FX=$(mktemp -d /tmp/glfx.XXXXXX)
chmod 755 "$FX"
trap 'gl_stop >/dev/null 2>&1; rm -rf "$FX"' EXIT
if ! $PY "$GL_SRC/selftests/fixtures/write_checkpoints.py" "$FX" \
	--no-ref >/dev/null; then
	gl_not_ok "fixture written"
	gl_totals
	exit 1
fi
chmod -R a+rX "$FX"
gl_start --cpu-vram 64M || { gl_not_ok "start gpuleased"; gl_totals; exit 1; }
M=$GL_MNT

# value SAMPLE: its value in /gpu/metrics (empty when absent)
value() {
	awk -v k="$1" '$1 == k { print $2 }' "$M/metrics"
}
# stat KEY: models/m1/stats' value of KEY
stat() {
	awk -v k="$1" '$1 == k { print $2 }' "$M/models/m1/stats"
}
# is NAME WANT GOT: say which one differs
is() {
	[ "$2" = "$3" ] && return 0
	echo "$1: want '$2', got '$3'"
	return 1
}

echo "load m1 $FX/legacy.bin tokenizer=$FX/tokenizer.bin" \
	>"$M/models/ctl" || { gl_not_ok "load m1"; gl_totals; exit 1; }
in0=$(value gpulease_bytes_in_total)
out0=$(value gpulease_bytes_out_total)

# request REQ: one request on m1's infer, the answer appended to $ANS,
# the request's bytes to $REQS
ANS=$GL_DIR/answers
REQS=$GL_DIR/requests
: >"$ANS"
: >"$REQS"
request() {
	printf '%s' "$1" >>"$REQS"
	exec 3<>"$M/models/m1/infer"
	printf '%s' "$1" >&3 && cat <&3 >>"$ANS"
	st=$?
	exec 3>&-
	return "$st"
}
# three requests of 4 tokens each (output=ids: no stop token)
ok=0
for p in "1 2 3" "4 5" "7"; do
	request "max_tokens=4 output=ids ids $p" || ok=1
done
# refused: an unknown option, EINVAL
request "max_tokens=4 bogus=1 ids 1" 2>/dev/null && ok=1
# held after its first token past 0.5 s, then cut by expiry
echo "model_step_hold 1" >"$M/ctl"
exec 4<>"$M/models/m1/infer"
printf '%s' "max_tokens=4 output=ids ids 9" >&4
printf '%s' "max_tokens=4 output=ids ids 9" >>"$REQS"
held() {
	[ "$(stat tokens)" = 13 ]
}
gl_wait_for 400 held || ok=1
sleep 0.6
echo "clock_offset 7200" >"$M/ctl"
echo "model_step_hold 0" >"$M/ctl"
cat <&4 >>"$ANS" 2>/dev/null && ok=1	# must fail: EKEYEXPIRED
exec 4>&-
gl_check "three requests answer, one is refused, one is cut" [ "$ok" = 0 ]

L='{model="m1"}'
gl_check "requests: 5 received" \
	is requests 5 "$(value "gpulease_inference_requests_total$L")"
gl_check "failures by reason: EINVAL 1 (refused), EKEYEXPIRED 1 (cut)" \
	sh -c "[ '$(value 'gpulease_inference_failures_total{model="m1",reason="EINVAL"}')' = 1 ] &&
	       [ '$(value 'gpulease_inference_failures_total{model="m1",reason="EKEYEXPIRED"}')' = 1 ] &&
	       [ \$(grep -c '^gpulease_inference_failures_total{' '$M/metrics') = 2 ]"
gl_check "tokens: 13 generated (4 + 4 + 4 + 1 before the cut)" \
	is tokens 13 "$(value "gpulease_tokens_generated_total$L")"
bin=$(wc -c <"$REQS")
bout=$(wc -c <"$ANS")
gl_check "bytes in and out: the requests' and the answers' bytes" sh -c "
	[ '$(value "gpulease_inference_bytes_in_total$L")' = $bin ] &&
	[ '$(value "gpulease_inference_bytes_out_total$L")' = $bout ] &&
	[ $bout -gt 0 ]"
gl_check "the daemon-wide bytes totals grew by the same" sh -c "
	[ \$(($(value gpulease_bytes_in_total) - $in0)) = $bin ] &&
	[ \$(($(value gpulease_bytes_out_total) - $out0)) = $bout ]"
# histogram NAME: le=value pairs of m1's buckets, one per line
H=gpulease_inference_latency_seconds
hist() {
	awk -v p="${H}_bucket{model=\"m1\",le=\"" 'index($1, p) == 1 {
		le = substr($1, length(p) + 1); sub(/"}$/, "", le)
		print le, $2 }' "$M/metrics"
}
hist_ok() {
	hist >"$GL_DIR/hist"
	hist_check && return 0
	cat "$GL_DIR/hist"
	value "${H}_sum$L"
	return 1
}
hist_check() {
	is count 4 "$(value "${H}_count$L")" &&
	is buckets 13 "$(wc -l <"$GL_DIR/hist")" &&
	is inf 4 "$(awk '$1 == "+Inf" { print $2 }' "$GL_DIR/hist")" &&
	awk '$1 == "0.5" && $2 > 3 { print "held one <= 0.5 s"; exit 1 }' \
		"$GL_DIR/hist" &&
	awk 'BEGIN { prev = 0 }
	     { if ($2 < prev || $2 > 4) { print "bucket " $0; exit 1 }
	       prev = $2 }' "$GL_DIR/hist" &&
	awk -v s="$(value "${H}_sum$L")" 'BEGIN { exit !(s >= 0.6) }'
}
gl_check "latency: 4 started requests, buckets rising to +Inf, the held one above 0.5 s" \
	hist_ok
stats_same() {
	is requests "$(stat requests)" 5 && is failures "$(stat failures)" 2 &&
	is tokens "$(stat tokens)" 13 && is bytes_in "$(stat bytes_in)" "$bin" &&
	is bytes_out "$(stat bytes_out)" "$bout" &&
	is latency_count "$(stat latency_count)" 4
}
gl_check "models/m1/stats has the same figures" stats_same
gl_check "the model's lease-seconds series carries model=\"m1\"" sh -c "
	grep -q '^gpulease_lease_seconds_total{lease=\"model.m1\",model=\"m1\"} ' \
		'$M/metrics'"
gl_check "promtool check metrics accepts the model series" \
	sh -c "promtool check metrics < '$M/metrics'"
other() {
	setpriv --reuid=65534 --regid=65534 --clear-groups \
		cat "$M/metrics" >"$GL_DIR/other" || return 1
	! grep -q 'model="[^"]' "$GL_DIR/other" &&
		! grep -q 'm1' "$GL_DIR/other" &&
		grep -q "^# TYPE $H histogram" "$GL_DIR/other" &&
		[ "$(grep -v '^#' "$GL_DIR/other" | grep -c inference)" = 0 ]
}
gl_check "another uid sees the families but no model label" other
gl_check "root sees m1's series" sh -c "grep -q 'model=\"m1\"' '$M/metrics'"
gl_done
