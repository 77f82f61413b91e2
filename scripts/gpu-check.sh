#!/bin/sh
# SPDX-License-Identifier: MIT
# gpu-check.sh - the whole GPU check of a prebuilt tree, in one command.
#
#   scripts/gpu-check.sh [--fake] [-o REPORT] [BUILD_DIR]
#
# On a machine with an NVIDIA GPU and driver, it builds nothing: it runs
# what BUILD_DIR (default: build/ beside this script's tree) holds and
# writes a Markdown report to REPORT (default gpu-check-report.md):
#
#   1. the CUDA unit tests on the real libcuda.so.1: the in-process broker
#      on the GPU with no FUSE mount (selftests/unit/cuda_broker with
#      GL_REAL_CUDA=1: lease memory through the broker, a fill kernel
#      checked, a forced misaligned access that fails the device for
#      good, an mlp and a language model served on the device, the
#      latter timed at the stories15M shape), and the backend's own
#      tests (dev_cuda, cuda_launch, cuda_fault, on the fake);
#   2. every kernel against its CPU twin (selftests/kernels/gpu);
#   3. the daemon mounted on the GPU, if FUSE can mount here (else the
#      part is skipped with the reason): devices/0, a lease's bytes
#      through vram, a kernel through submit, rmdir;
#   4. tools/bench/cuda: acquire/drop of a 1 GiB lease against
#      cuMemAlloc/cuMemFree, vram and ring copies against cuMemcpyHtoD
#      from pinned memory, launch overhead against cuLaunchKernel, matmul
#      against cuBLAS, all as ratios measured in the same run.
#
# Each step has its own time limit; the whole stays under 8 minutes.
# Exit 0 when every step passed or was skipped for a stated reason, 1
# when one failed. --fake runs the same steps against the fake driver
# (selftests/fakecuda/) with small sizes: make check does that, through
# selftests/sh/gpu-check.sh, so this script cannot rot; its numbers then
# mean nothing, and the kernel comparison skips (the fake runs no .cu
# kernel, only, where a test asks, their CPU twins).
# Documentation/gpu-verification.md says how to run it.

FAKE=0
REPORT=gpu-check-report.md
while [ $# -gt 0 ]; do
	case $1 in
	--fake) FAKE=1 ;;
	-o) shift; REPORT=$1 ;;
	-h | --help)
		sed -n '3,34p' "$0" | sed 's/^# \{0,1\}//'
		exit 0 ;;
	-*) echo "gpu-check: unknown option $1" >&2; exit 2 ;;
	*) break ;;
	esac
	shift
done
SRC=$(cd "$(dirname "$0")/.." && pwd)
O=$(cd "${1:-$SRC/build}" 2>/dev/null && pwd) ||
	{ echo "gpu-check: no build directory ${1:-$SRC/build}" >&2; exit 2; }
for f in gpuleased selftests/unit/cuda_broker selftests/unit/dev_cuda \
	 selftests/unit/cuda_launch selftests/unit/cuda_fault \
	 selftests/kernels/gpu tools/bench/cuda; do
	[ -x "$O/$f" ] || { echo "gpu-check: $O/$f missing: build the" \
		"tree first (make)" >&2; exit 2; }
done
TMP=$(mktemp -d /tmp/gpu-check.XXXXXX) || exit 2
FAILED=0
PID=

cleanup() {
	if [ -n "$PID" ]; then
		kill "$PID" 2>/dev/null
		wait "$PID" 2>/dev/null
	fi
	if [ -d "$TMP/mnt" ] && grep -q " $TMP/mnt " /proc/mounts; then
		fusermount3 -u "$TMP/mnt" 2>/dev/null || umount -l "$TMP/mnt"
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

: >"$REPORT" || exit 2
say() { printf '%s\n' "$*" >>"$REPORT"; }
# block CMD...: the command's output as a fenced block of the report
block() {
	say '```'
	"$@" >>"$REPORT" 2>&1
	rc=$?
	say '```'
	return $rc
}
# verdict NAME RC: the step's line; 4 is a skip
verdict() {
	case $2 in
	0) say "**$1: pass**" ;;
	4) say "**$1: skipped** (reason above)" ;;
	124) say "**$1: FAILED: over its time limit**"; FAILED=1 ;;
	*) say "**$1: FAILED (exit $2)**"; FAILED=1 ;;
	esac
	say ""
	echo "gpu-check: $1: $(tail -n 2 "$REPORT" | head -n 1)"
}

if [ "$FAKE" = 1 ]; then
	FAKELIB=$O/selftests/fakecuda/libcuda.so.1
	[ -f "$FAKELIB" ] || { echo "gpu-check: no $FAKELIB" >&2; exit 2; }
	DRV="env GL_LIBCUDA=$FAKELIB GL_LIBCUBLAS=$FAKELIB"
	REAL=
	BENCH_ARGS="--size 2M --copy 2M --iters 3 --launches 100 --mm 32"
	MODE="the FAKE driver (selftests/fakecuda): nothing here ran on a GPU"
else
	DRV=env
	REAL="GL_REAL_CUDA=1"
	BENCH_ARGS=
	MODE="the real driver (libcuda.so.1)"
	unset GL_LIBCUDA GL_LIBCUBLAS GL_FAKECUDA
fi

say "# gpulease GPU check"
say ""
say "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
say "- tree: $SRC, commit $(git -C "$SRC" rev-parse HEAD 2>/dev/null ||
	echo unknown)$(git -C "$SRC" diff --quiet HEAD 2>/dev/null ||
	echo ' (with local changes)')"
say "- build: $O"
say "- host: $(uname -srm), $(nproc) CPUs"
say "- run against $MODE"
if [ "$FAKE" = 0 ] && command -v nvidia-smi >/dev/null; then
	say "- GPU: $(nvidia-smi --query-gpu=name,driver_version,memory.total \
		--format=csv,noheader 2>&1 | head -n 4 | tr '\n' ';')"
fi
say ""

say "## 1. CUDA unit tests"
say ""
say "In-process broker on device 0, no FUSE mount (${REAL:-fake driver}):"
# shellcheck disable=SC2086
block timeout 90 env $REAL $O/selftests/unit/cuda_broker
verdict "cuda_broker" $?
say "The backend's own tests (they always load the fake driver):"
for t in dev_cuda cuda_launch cuda_fault; do
	block timeout 90 "$O/selftests/unit/$t"
	verdict "$t" $?
done

say "## 2. Every kernel against its CPU twin"
say ""
block timeout 150 "$O/selftests/kernels/gpu"
verdict "kernels vs twins" $?

say "## 3. The daemon through FUSE"
say ""
mkdir -p "$TMP/mnt"
$DRV "$O/gpuleased" -f "$TMP/mnt" >"$TMP/daemon.log" 2>&1 &
PID=$!
i=0
while [ $i -lt 100 ] && ! [ -f "$TMP/mnt/devices/0/kind" ]; do
	kill -0 "$PID" 2>/dev/null || break
	sleep 0.1
	i=$((i + 1))
done
if ! [ -f "$TMP/mnt/devices/0/kind" ]; then
	say "FUSE could not mount here (a sandbox without /dev/fuse or" \
	    "mount rights is common on lent machines); these parts are" \
	    "skipped. The daemon said:"
	block tail -n 5 "$TMP/daemon.log"
	verdict "fuse" 4
else
	M=$TMP/mnt
	L=$M/leases/check
	rc=0
	{
		echo "devices/0: $(cat $M/devices/0/name) $(cat $M/devices/0/kind)" \
		     "state=$(cat $M/devices/0/state)" \
		     "capacity=$(cat $M/devices/0/vram.capacity)"
		[ "$(cat $M/devices/0/kind)" = cuda ] ||
			{ echo "device 0 is not the GPU"; exit 1; }
		mkdir "$L" && echo "vram 1M" >"$L/ctl" || exit 1
		head -c 65536 /dev/urandom >"$TMP/bytes"
		dd if="$TMP/bytes" of="$L/vram" bs=65536 conv=notrunc \
			status=none || exit 1
		dd if="$L/vram" of="$TMP/back" bs=65536 count=1 status=none
		cmp "$TMP/bytes" "$TMP/back" || exit 1
		echo "64 KiB through vram: identical"
		echo "fill grid=4 block=256 u32:1024 f32:0 buf:0:4096" \
			>"$L/submit" || exit 1
		echo "fill through submit: done"
		if [ "$FAKE" = 0 ]; then
			dd if="$L/vram" of="$TMP/zero" bs=4096 count=1 \
				status=none
			head -c 4096 /dev/zero | cmp - "$TMP/zero" || exit 1
			echo "the kernel's zeros read back"
		fi
		echo "saxpy grid=1 u32:4 f32:2 buf:1:16 buf:32:16" \
			>"$L/submit" 2>/dev/null &&
			{ echo "a misaligned buf was accepted"; exit 1; }
		echo "a misaligned buf: refused"
		rmdir "$L" || exit 1
		echo "rmdir: used=$(cat $M/devices/0/vram.used)"
	} >"$TMP/fuse.out" 2>&1 || rc=1
	block cat "$TMP/fuse.out"
	verdict "fuse" $rc
	kill "$PID"
	wait "$PID"
	PID=
fi

say "## 4. Benchmarks (ratio: time through the broker / time direct)"
say ""
# shellcheck disable=SC2086
block timeout 150 $DRV "$O/tools/bench/cuda" $BENCH_ARGS
verdict "bench" $?

if [ "$FAILED" = 0 ]; then
	say "All steps passed or were skipped for the reasons given."
else
	say "Some step FAILED: see above."
fi
echo "gpu-check: report in $REPORT"
exit "$FAILED"
