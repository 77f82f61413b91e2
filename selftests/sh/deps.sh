#!/bin/sh
# SPDX-License-Identifier: MIT
# deps.sh - the layering of daemon/ (Documentation/architecture.md),
# checked by scripts/deps-check.sh over the sources and the objects of
# the build in $GPULEASED's directory: no include or object cycle at
# all; none through daemon/dev/ or the log in particular; nothing in
# daemon/dev/ includes a daemon header above it. And the checker itself
# bites: planted include and object cycles in a scratch tree are found,
# and a tree without one passes. Needs no daemon; cc for the plants.

SRC=$(cd "$(dirname "$0")/../.." && pwd)
: "${GPULEASED:=$SRC/build/gpuleased}"
O=$(cd "$(dirname "$GPULEASED")" && pwd)
T=$(mktemp -d /tmp/gl-deps-test.XXXXXX)
trap 'rm -rf "$T"' EXIT
CHECK=$SRC/scripts/deps-check.sh
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

echo "TAP version 13"
echo "1..6"

sh "$CHECK" "$O" >"$T/out" 2>&1
rc=$?
if [ "$rc" = 0 ]; then
	ok "deps-check: no cycle among the modules of daemon/"
else
	sed 's/^/# /' "$T/out"
	not_ok "deps-check: no cycle among the modules of daemon/ (exit $rc)"
fi

if [ "$rc" -le 1 ] &&
   ! grep -E '^cycle: .* daemon/(dev/[^ ]*|log)( |$)' "$T/out" >/dev/null
then
	ok "daemon/dev/ and daemon/log are in no cycle"
else
	grep '^cycle' "$T/out" | sed 's/^/# /'
	not_ok "daemon/dev/ and daemon/log are in no cycle"
fi

# daemon/dev/ includes from daemon/ only itself, the log and the
# registry's limits (registry.h includes no daemon header)
bad=$(grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"daemon/' \
	"$SRC"/daemon/dev/*.[ch] "$SRC/daemon/registry.h" |
	grep -v -e '"daemon/dev/' -e '"daemon/log\.h"' \
		-e 'daemon/dev/[^:]*:[0-9]*:.*"daemon/registry\.h"')
if [ -z "$bad" ]; then
	ok "daemon/dev/ includes no daemon header above it"
else
	echo "$bad" | sed "s|$SRC/||; s/^/# /"
	not_ok "daemon/dev/ includes no daemon header above it"
fi

# plant: a scratch tree whose a and b include each other (b through a
# header beside it) and whose objects call each other; c is a leaf
mkdir -p "$T/src/daemon" "$T/o/daemon"
printf '#include "daemon/b.h"\nint b_f(void);\nint a_f(void) { return b_f(); }\n' \
	>"$T/src/daemon/a.c"
printf '#include "a.h"\nint a_f(void);\nint b_f(void) { return a_f() + c_f(); }\n' \
	>"$T/src/daemon/b.c"
printf '#include "daemon/c.h"\nint c_f(void);\n' >"$T/src/daemon/b.h"
printf 'int c_f(void);\n' >"$T/src/daemon/a.h"
printf 'int c_f(void) { return 1; }\n' >"$T/src/daemon/c.c"
: >"$T/src/daemon/c.h"
for m in a b c; do
	${CC:-cc} -w -c -o "$T/o/daemon/$m.o" -x c "$T/src/daemon/$m.c" \
		-I"$T/src" || echo "# cc $m.c failed"
done
sh "$CHECK" "$T/o" "$T/src" >"$T/plant" 2>&1
rc=$?
sed 's/^/# /' "$T/plant"
if [ "$rc" = 1 ] &&
   grep -qx 'cycle: include: daemon/a daemon/b' "$T/plant"; then
	ok "a planted include cycle is found"
else
	not_ok "a planted include cycle is found (exit $rc)"
fi
if [ "$rc" = 1 ] &&
   grep -qx 'cycle: object: daemon/a daemon/b' "$T/plant" &&
   grep -q 'daemon/b -> daemon/a (a_f)' "$T/plant"; then
	ok "a planted object cycle is found, with the symbol"
else
	not_ok "a planted object cycle is found, with the symbol"
fi

# unplant: b no longer includes a.h nor calls a_f
printf 'int c_f(void);\nint b_f(void) { return c_f(); }\n' \
	>"$T/src/daemon/b.c"
${CC:-cc} -w -c -o "$T/o/daemon/b.o" -x c "$T/src/daemon/b.c"
sh "$CHECK" "$T/o" "$T/src" >"$T/clean" 2>&1
rc=$?
if [ "$rc" = 0 ]; then
	ok "a tree without a cycle passes"
else
	sed 's/^/# /' "$T/clean"
	not_ok "a tree without a cycle passes (exit $rc)"
fi
echo "# Totals: pass:$((N - FAIL)) fail:$FAIL xfail:0 xpass:0 skip:0 error:0"
[ "$FAIL" = 0 ]
