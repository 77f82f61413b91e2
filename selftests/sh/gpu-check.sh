#!/bin/sh
# SPDX-License-Identifier: MIT
# gpu-check.sh - scripts/gpu-check.sh end to end against the fake CUDA
# driver, so the one-command GPU check cannot rot between the sessions
# that are lent a GPU: every step runs and passes (the kernel comparison
# skips: the fake runs no kernel; the FUSE part skips only where FUSE
# cannot mount) and the report names each step and says it ran on the
# fake. Takes the build of $GPULEASED's directory, as the other tests.

SRC=$(cd "$(dirname "$0")/../.." && pwd)
: "${GPULEASED:=$SRC/build/gpuleased}"
O=$(cd "$(dirname "$GPULEASED")" && pwd)
R=$(mktemp /tmp/gl-gpu-check.XXXXXX)
OUT=$(mktemp /tmp/gl-gpu-check-out.XXXXXX)
trap 'rm -f "$R" "$OUT"' EXIT
N=0
FAIL=0

check() {
	N=$((N + 1))
	if grep -q "$2" "$R"; then
		echo "ok $N $1"
	else
		echo "not ok $N $1"
		FAIL=$((FAIL + 1))
	fi
}

echo "TAP version 13"
echo "1..10"
timeout 480 sh "$SRC/scripts/gpu-check.sh" --fake -o "$R" "$O" >"$OUT" 2>&1
rc=$?
N=1
if [ "$rc" = 0 ]; then
	echo "ok 1 gpu-check.sh --fake exits 0"
else
	echo "not ok 1 gpu-check.sh --fake exits 0 (exit $rc)"
	FAIL=1
	sed 's/^/# /' "$OUT" "$R"
fi
check "the report says it ran on the fake driver" "the FAKE driver"
check "the in-process broker tests passed" '\*\*cuda_broker: pass'
check "the backend's tests passed" '\*\*dev_cuda: pass'
check "the backend's launch tests passed" '\*\*cuda_launch: pass'
check "the backend's fault tests passed" '\*\*cuda_fault: pass'
check "the kernel comparison skipped (no GPU)" \
	'\*\*kernels vs twins: skipped'
check "the FUSE part ran or said why not" \
	'\*\*fuse: \(pass\|skipped\)'
check "the forced fault test ran" 'ok .* cb.forced_misaligned_fault_fails_the_device$'
check "the benchmark ran every comparison" 'matmul  *broker'
echo "# Totals: pass:$((N - FAIL)) fail:$FAIL xfail:0 xpass:0 skip:0 error:0"
[ "$FAIL" = 0 ]
