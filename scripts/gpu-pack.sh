#!/bin/sh
# SPDX-License-Identifier: MIT
# gpu-pack.sh - pack what scripts/gpu-check.sh needs from a build, with
# the shared libraries those programs link that a bare GPU machine lacks
# (libfuse3, liburcu, jansson and theirs) and OpenBLAS, which they open,
# into one archive to carry there; scripts/gpu-lent.sh unpacks and runs
# it.
#
#   scripts/gpu-pack.sh [BUILD_DIR [ARCHIVE]]
#
# BUILD_DIR defaults to build/, ARCHIVE to .gpucheck/pkg.tar.xz (with
# the device tool: echo /.gpucheck/ >>.git/info/exclude, then run(carry=
# [".gpucheck"], command="bash scripts/gpu-lent.sh")). The libraries are
# the ones ldd resolves outside glibc on this machine.

SRC=$(cd "$(dirname "$0")/.." && pwd)
O=$(cd "${1:-$SRC/build}" 2>/dev/null && pwd) ||
	{ echo "gpu-pack: no build directory ${1:-$SRC/build}" >&2; exit 2; }
OUT=${2:-$SRC/.gpucheck/pkg.tar.xz}
BINS="gpuleased selftests/unit/cuda_broker selftests/unit/dev_cuda
selftests/unit/cuda_launch selftests/unit/cuda_fault selftests/kernels/gpu
tools/bench/cuda tools/bench/expiry selftests/fakecuda/libcuda.so.1"
STAGE=$(mktemp -d /tmp/gpu-pack.XXXXXX) || exit 2
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE/b" "$STAGE/lib" "$(dirname "$OUT")" || exit 2
for f in $BINS; do
	[ -e "$O/$f" ] || { echo "gpu-pack: $O/$f missing: make first" >&2
			     exit 2; }
	mkdir -p "$STAGE/b/$(dirname "$f")"
	cp -p "$O/$f" "$STAGE/b/$f" || exit 2
done
# OpenBLAS is opened with dlopen (kernels/blas.c), so ldd lists it for
# no program: add it and what it links
BLAS=$(ldconfig -p | awk '/libopenblas\.so\.0 / { print $NF; exit }')
{
	for f in $BINS; do
		ldd "$O/$f" 2>/dev/null
	done
	if [ -n "$BLAS" ]; then
		echo "libopenblas.so.0 => $BLAS"
		ldd "$BLAS"
	fi
} | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' | sort -u |
while read -r lib; do
	case $(basename "$lib") in
	libc.so* | libm.so* | libpthread.so* | libdl.so* | librt.so* | \
	libgcc_s.so* | \
	ld-linux*) ;;
	*) cp -L "$lib" "$STAGE/lib/" || exit 2 ;;
	esac
done || exit 2
tar -C "$STAGE" -cJf "$OUT" . || exit 2
echo "gpu-pack: $OUT ($(du -h "$OUT" | cut -f1)): $(ls "$STAGE/lib" | tr '\n' ' ')"
