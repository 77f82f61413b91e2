#!/bin/sh
# SPDX-License-Identifier: MIT
# saxpy.sh - a launch from a shell: dd two float vectors into vram, echo a
# saxpy into submit, read y back from vram and compare with y = a*x + y
# computed here; then the errors a shell user sees for bad launches
# (through bash: dash's echo says "I/O error" whatever the errno).

# shellcheck source=selftests/sh/lib.sh
. "$(dirname "$0")/lib.sh"

PLAN=8
gl_plan "$PLAN"
why=$(gl_unavailable)
[ -z "$why" ] || gl_skip_all "$PLAN" "$why"
gl_start --cpu-vram 64M || { gl_not_ok "start gpuleased"; gl_totals; exit 1; }

L=$GL_MNT/leases/s
PY=/usr/bin/python3
N=1000
# x[i] = i / 4, y[i] = 1 - i: exact in f32, so the result is exact too
$PY -c "import struct, sys
n = $N
sys.stdout.buffer.write(struct.pack('<%df' % n, *[i / 4 for i in range(n)]))
sys.stdout.buffer.write(struct.pack('<%df' % n, *[1 - i for i in range(n)]))
" >"$GL_DIR/xy.bin"
$PY -c "import struct, sys
n = $N
sys.stdout.buffer.write(struct.pack('<%df' % n,
	*[3 * (i / 4) + (1 - i) for i in range(n)]))
" >"$GL_DIR/want.bin"

gl_check "mkdir and size the lease" \
	sh -c "mkdir '$L' && echo 'vram 8000' > '$L/ctl'"
gl_check "dd x and y into vram" \
	dd if="$GL_DIR/xy.bin" of="$L/vram" bs=8000 status=none
gl_check "echo saxpy > submit" sh -c \
	"echo 'saxpy grid=4 block=256 u32:$N f32:3 buf:0:4000 buf:4000:4000' \
	 > '$L/submit'"
gl_check "y read back from vram is 3x + y" sh -c \
	"dd if='$L/vram' bs=4000 skip=1 count=1 status=none |
	 cmp - '$GL_DIR/want.bin'"
gl_check "ctl counts the launch" grep -qx "launches 1" "$L/ctl"
out=$(bash -c "echo 'saxpy grid=4 u32:$N f32:3 buf:0:4000 buf:4000:4001' \
	> '$L/submit'" 2>&1)
case $out in
*"Bad address"*) gl_ok "a range past the lease: EFAULT (Bad address)" ;;
*) gl_not_ok "a range past the lease: EFAULT (Bad address)"
   gl_log "got: $out" ;;
esac
out=$(bash -c "echo 'saxpy grid=4 u32:$N buf:0:4000 buf:4000:4000' \
	> '$L/submit'" 2>&1)
case $out in
*"Invalid argument"*) gl_ok "a missing argument: EINVAL" ;;
*) gl_not_ok "a missing argument: EINVAL"; gl_log "got: $out" ;;
esac
gl_done
