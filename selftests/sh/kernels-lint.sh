#!/bin/sh
# SPDX-License-Identifier: MIT
# kernels-lint.sh - source checks of the CUDA kernels that no test without
# a GPU could make: every loop that steps by a block or grid dimension
# goes through the 64-bit stride macros of kernels/cuda.cuh
# (GL_GRID_STRIDE, GL_ROW_STRIDE, GL_COL_STRIDE). A 32-bit index stepping
# by blockDim.x wraps when a dimension passes 2^32 - blockDim.x and the
# kernel loops for ever (issue 9); the C twins use 64-bit indices.
# Needs no daemon, no GPU and no nvcc.

SRC=$(cd "$(dirname "$0")/../.." && pwd)
N=0
FAIL=0

ok() {
	N=$((N + 1))
	echo "ok $N $*"
}

not_ok() {
	N=$((N + 1))
	FAIL=$((FAIL + 1))
	echo "not ok $N $*"
}

set -- "$SRC"/kernels/*.cu
echo "TAP version 13"
echo "1..$(($# + 1))"
for f in "$@"; do
	name=kernels/$(basename "$f")
	bad=$(grep -nE '(\+=|=[^=]*\+)[[:space:]]*\(?(unsigned[a-z ]*\))?[[:space:]]*(blockDim|gridDim)' \
	      "$f")
	if [ -n "$bad" ]; then
		echo "$bad" | sed "s|^|# $name:|"
		not_ok "$name: steps by blockDim/gridDim outside the 64-bit" \
		       "stride macros"
	else
		ok "$name: every block/grid stride is a 64-bit macro"
	fi
done
macros=$(grep -cE '^#define GL_(GRID|ROW|COL)_STRIDE' "$SRC/kernels/cuda.cuh")
wide=$(grep -A1 -E '^#define GL_(GRID|ROW|COL)_STRIDE' \
       "$SRC/kernels/cuda.cuh" | grep -c 'for (unsigned long long')
if [ "$macros" = 3 ] && [ "$wide" = 3 ]; then
	ok "kernels/cuda.cuh: the three stride macros use 64-bit indices"
else
	not_ok "kernels/cuda.cuh: $macros stride macros, $wide of them 64-bit"
fi
echo "# Totals: pass:$((N - FAIL)) fail:$FAIL xfail:0 xpass:0 skip:0 error:0"
[ "$FAIL" = 0 ]
