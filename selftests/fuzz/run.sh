#!/bin/sh
# SPDX-License-Identifier: MIT
# run.sh O [SECONDS] - run every libFuzzer target in $O/fuzz for SECONDS
# (default $FUZZ_SECONDS or 10) from the seeds in selftests/fuzz/corpus,
# as TAP: a target passes when libFuzzer found no crash, leak or abort.
O=$1
SECS=${2:-${FUZZ_SECONDS:-10}}
SRC=$(cd "$(dirname "$0")" && pwd)
targets=$(ls "$O"/fuzz 2>/dev/null)
echo "TAP version 13"
if [ -z "$targets" ]; then
	echo "1..0 # SKIP no fuzz targets built (make fuzz needs clang)"
	echo "# Totals: pass:0 fail:0 xfail:0 xpass:0 skip:1 error:0"
	exit 4
fi
set -- $targets
echo "1..$#"
n=0 pass=0 fail=0
for t in "$@"; do
	n=$((n + 1))
	work=$(mktemp -d /tmp/gl-fuzz.XXXXXX)
	cp "$SRC/corpus/$t"/* "$work/" 2>/dev/null
	if (cd "$work" && "$O/fuzz/$t" -max_total_time="$SECS" -seed=1 \
		-print_final_stats=1 "$work" >"$work/log" 2>&1); then
		echo "ok $n fuzz.$t # $(grep -o 'Done [0-9]* runs' \
			"$work/log")"
		pass=$((pass + 1))
	else
		echo "not ok $n fuzz.$t"
		sed 's/^/# /' "$work/log" | tail -40
		fail=$((fail + 1))
	fi
	rm -rf "$work"
done
echo "# Totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:0 error:0"
[ $fail -eq 0 ]
