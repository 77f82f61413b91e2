#!/bin/sh
# SPDX-License-Identifier: MIT
# ring-cli.sh - gpulease run through a lease's ring: saxpy with x and y
# dd'ed into vram and y read back and compared with a*x + y computed here
# (as saxpy.sh does through submit); the io region it makes; --submit on
# the same lease; a line the command parses as the daemon does; a batch
# larger than the SQ; a bad descriptor failing alone; --file; an expired
# and a missing lease.
# The command is $GPULEASE, else tools/gpulease/gpulease next to the
# daemon ($GPULEASED, see lib.sh).

# shellcheck source=selftests/sh/lib.sh
. "$(dirname "$0")/lib.sh"

: "${GPULEASE:=$(dirname "$GPULEASED")/tools/gpulease/gpulease}"

PLAN=14
why=$(gl_unavailable)
[ -n "$why" ] || [ -x "$GPULEASE" ] || why="no gpulease at $GPULEASE"
[ -n "$why" ] || [ -x /usr/bin/python3 ] || why="no python3"
gl_plan "$PLAN"
[ -z "$why" ] || gl_skip_all "$PLAN" "$why"
gl_start --cpu-vram 64M || { gl_not_ok "start gpuleased"; gl_totals; exit 1; }

L=$GL_MNT/leases/r1
PY=/usr/bin/python3
N=1000
SAXPY="saxpy grid=4 block=256 u32:$N f32:3 buf:0:4000 buf:4000:4000"

g() {
	"$GPULEASE" --mount "$GL_MNT" "$@"
}

# x[i] = i / 4, y[i] = 1 - i: exact in f32, so the results are exact too
$PY -c "import struct, sys
n = $N
x = [i / 4 for i in range(n)]
y = [1 - i for i in range(n)]
open('$GL_DIR/xy.bin', 'wb').write(struct.pack('<%df' % (2 * n), *(x + y)))
y1 = [3 * a + b for a, b in zip(x, y)]
open('$GL_DIR/want1.bin', 'wb').write(struct.pack('<%df' % n, *y1))
y2 = [3 * a + b for a, b in zip(x, y1)]
open('$GL_DIR/want2.bin', 'wb').write(struct.pack('<%df' % n, *y2))
"

y_is() {
	dd if="$L/vram" bs=4000 skip=1 count=1 status=none | cmp - "$GL_DIR/$1"
}

# count_ok N CMD...: CMD exits 0 and prints exactly N "ok" lines
count_ok() {
	want=$1
	shift
	"$@" >"$GL_DIR/out" 2>&1 || { cat "$GL_DIR/out"; return 1; }
	got=$(grep -c '^ok ' "$GL_DIR/out")
	[ "$got" = "$want" ] || { echo "$got ok lines, want $want"; return 1; }
}

launches() {
	sed -n 's/^launches //p' "$L/ctl"
}

gl_check "acquire r1, dd x and y into vram" sh -c \
	"'$GPULEASE' --mount '$GL_MNT' acquire r1 --vram 8000 &&
	 dd if='$GL_DIR/xy.bin' of='$L/vram' bs=8000 status=none"
gl_check "run saxpy through the ring" \
	count_ok 1 g run r1 -- "$SAXPY"
gl_check "y read back from vram is 3x + y" y_is want1.bin
gl_check "run made a 64K io region" sh -c \
	"test -L '$L/io' && grep -qx 'used 65536' '$L/ctl'"
gl_check "run --submit: the same saxpy again through submit" \
	count_ok 1 g run r1 --submit -- "$SAXPY"
gl_check "y is 3x + (3x + y)" y_is want2.bin

# the command's parser is the daemon's: a size padded to 41 digits (and
# n = 0, so y stays) is taken through the ring as through submit
PAD="saxpy grid=4 block=256 u32:0 f32:3 buf:$(printf '%041d' 0):4000 buf:4000:4000"
gl_check "a zero-padded size: the same through the ring and submit" sh -c \
	"'$GPULEASE' --mount '$GL_MNT' run r1 -- '$PAD' &&
	 '$GPULEASE' --mount '$GL_MNT' run r1 --submit -- '$PAD'"

before=$(launches)
i=0
: >"$GL_DIR/many"
while [ $i -lt 150 ]; do
	echo "noop grid=1" >>"$GL_DIR/many"
	i=$((i + 1))
done
gl_check "150 launches from --file (more than the SQ holds)" \
	count_ok 150 g run r1 --file "$GL_DIR/many"
gl_check "ctl counts them" test "$(launches)" = "$((before + 150))"

g run r1 -- "noop grid=1" "saxpy grid=1 u32:4 buf:0:16 buf:16:16" \
	"bogus grid=1" "noop grid=1 frob=2" "noop grid=1" \
	>"$GL_DIR/out" 2>"$GL_DIR/err"
st=$?
gl_check "bad descriptors fail alone: exit 1, 2 ok, 3 errors" sh -c \
	"test $st = 1 && test \$(grep -c '^ok ' '$GL_DIR/out') = 2 &&
	 test \$(grep -c 'invalid argument' '$GL_DIR/err') = 3" ||
	cat "$GL_DIR/out" "$GL_DIR/err"
gl_check "outside the lease: EFAULT named" sh -c \
	"'$GPULEASE' --mount '$GL_MNT' run r1 -- \
	 'saxpy grid=1 u32:4 f32:2 buf:0:16 buf:8000:16' 2>&1 |
	 grep -q 'argument outside the lease'"

g acquire e1 --vram 4K --ttl 60 >/dev/null 2>&1
echo "clock_offset 120" >"$GL_MNT/ctl"
gl_check "an expired lease: 'lease e1 expired', exit 1" sh -c \
	"! '$GPULEASE' --mount '$GL_MNT' run e1 -- 'noop grid=1' 2>'$GL_DIR/err' &&
	 grep -q 'lease e1 expired' '$GL_DIR/err'"
gl_check "a missing lease: 'no lease', exit 1" sh -c \
	"! '$GPULEASE' --mount '$GL_MNT' run nosuch -- 'noop grid=1' 2>'$GL_DIR/err' &&
	 grep -q 'no lease nosuch' '$GL_DIR/err'"
gl_done
