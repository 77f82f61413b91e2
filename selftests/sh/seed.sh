#!/bin/sh
# SPDX-License-Identifier: MIT
# seed.sh - the seed flow from a shell, as Documentation/filesystem.md
# shows it: mkdir, "vram SIZE" into ctl, dd into vram, cat ctl, the bytes
# read back equal, rmdir gives the memory back.

# shellcheck source=selftests/sh/lib.sh
. "$(dirname "$0")/lib.sh"

PLAN=14
why=$(gl_unavailable)
if [ -n "$why" ]; then
	gl_plan "$PLAN"
	gl_skip_all "$PLAN" "$why"
fi
gl_plan "$PLAN"
gl_start --cpu-vram 64M || { gl_not_ok "start gpuleased"; gl_totals; exit 1; }

L=$GL_MNT/leases/m1
DEV=$GL_MNT/devices/0
cap=$(cat "$DEV/vram.capacity")
head -c 1048576 /dev/urandom >"$GL_DIR/weights.bin"
head -c 300000 /dev/urandom >"$GL_DIR/small.bin"
head -c $((1048576 - 300000)) /dev/zero >"$GL_DIR/zero.bin"

gl_check "mkdir leases/m1" mkdir "$L"
gl_check "echo vram 1M > ctl" sh -c "echo 'vram 1M' > '$L/ctl'"
gl_check "cat ctl shows vram 1048576" grep -qx "vram 1048576" "$L/ctl"
gl_check "vram is 1048576 bytes" \
	test "$(stat -c %s "$L/vram")" = 1048576
gl_check "vram.free went down by 1M" \
	test "$(cat "$DEV/vram.free")" = $((cap - 1048576))
gl_check "dd of=vram" dd if="$GL_DIR/weights.bin" of="$L/vram" bs=64K \
	status=none
gl_check "cmp reads back the same bytes" cmp "$GL_DIR/weights.bin" "$L/vram"
sed 's/^/# ctl: /' "$L/ctl"
gl_check "cat small > vram keeps the size" \
	sh -c "cat '$GL_DIR/small.bin' > '$L/vram' &&
	       test \$(stat -c %s '$L/vram') = 1048576"
gl_check "cat small > vram: head equals small" \
	cmp -n 300000 "$GL_DIR/small.bin" "$L/vram"
gl_check "cat small > vram: the rest is zeroes" \
	sh -c "tail -c +300001 '$L/vram' | cmp - '$GL_DIR/zero.bin'"
gl_check "a bad line fails" sh -c "! echo 'vram 12Q' > '$L/ctl' 2>/dev/null"
gl_check "last_error is set" sh -c "! grep -qx 'last_error -' '$L/ctl'"
gl_check "rmdir gives the memory back" \
	sh -c "rmdir '$L' && test \$(cat '$DEV/vram.free') = $cap"
gl_done
