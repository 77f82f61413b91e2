#!/bin/bash
# SPDX-License-Identifier: MIT
# gpu-lent.sh - on a lent GPU machine, from the tree's root: unpack the
# archive scripts/gpu-pack.sh made, say what the machine has, run
# scripts/gpu-check.sh against the real driver, then the CUDA bench twice
# more and the expiry bench on the machine's CPUs (the daemon on its CPU
# device). Everything lands in $OUT (the device tool's), else
# /tmp/gpu-lent.
#
#   bash scripts/gpu-lent.sh [--fake] [ARCHIVE]
#
# --fake runs gpu-check.sh against the fake driver and skips the benches:
# a dry run on the build machine.
set -u
FAKE=
[ "${1:-}" = --fake ] && { FAKE=--fake; shift; }
SRC=$(cd "$(dirname "$0")/.." && pwd)
PKG=${1:-$SRC/.gpucheck/pkg.tar.xz}
: "${OUT:=/tmp/gpu-lent}"
mkdir -p "$OUT"
W=$(mktemp -d /tmp/gpu-lent.XXXXXX) || exit 3
tar -C "$W" -xJf "$PKG" || exit 3
{
	date -u; uname -a; head -n 2 /etc/os-release; nproc
	command -v nvidia-smi >/dev/null && nvidia-smi
	ldconfig -p | grep -E 'libcuda\.so|libcublas'
	ls -la /dev/fuse
} >"$OUT/env.txt" 2>&1
CUBLAS=$(ldconfig -p | awk '/libcublas\.so\.1[0-9] / { print $NF; exit }')
[ -n "$CUBLAS" ] || CUBLAS=$(find /usr/local /opt -name 'libcublas.so.1[0-9]' \
	2>/dev/null | head -n 1)
export LD_LIBRARY_PATH=$W/lib${CUBLAS:+:$(dirname "$CUBLAS")}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH" >>"$OUT/env.txt"
timeout 400 "$SRC/scripts/gpu-check.sh" $FAKE -o "$OUT/report.md" "$W/b" \
	>"$OUT/console.txt" 2>&1
rc=$?
if [ -z "$FAKE" ]; then
	for i in 2 3; do
		echo "## bench run $i"
		timeout 120 "$W/b/tools/bench/cuda" 2>&1
	done >"$OUT/bench-more.txt"
	printf '#!/bin/sh\nexec %s/b/gpuleased --cpu "$@"\n' "$W" >"$W/gl-cpu"
	chmod +x "$W/gl-cpu"
	timeout 200 "$W/b/tools/bench/expiry" --daemon "$W/gl-cpu" -r 5 \
		-n 30 >"$OUT/expiry.txt" 2>&1
fi
echo "gpu-check exit $rc" >>"$OUT/console.txt"
cat "$OUT/console.txt"
rm -rf "$W"
exit $rc
