#!/bin/sh
# SPDX-License-Identifier: MIT
# bind.sh - bind from a shell: "exec 3<>ctl; echo bind >&3" holds the
# lease; closing fd 3, or killing the shell that holds it, drops it;
# "acquire ... bind" on leases/ctl does the same for a new lease.

# shellcheck source=selftests/sh/lib.sh
. "$(dirname "$0")/lib.sh"

PLAN=9
why=$(gl_unavailable)
if [ -n "$why" ]; then
	gl_plan "$PLAN"
	gl_skip_all "$PLAN" "$why"
fi
gl_plan "$PLAN"
gl_start --cpu-vram 64M || { gl_not_ok "start gpuleased"; gl_totals; exit 1; }

LS=$GL_MNT/leases
DEV=$GL_MNT/devices/0

# shellcheck disable=SC2317 # called through gl_wait_for
gone() {
	[ ! -e "$LS/$1" ]
}

mkdir "$LS/b1" && echo "vram 4M" >"$LS/b1/ctl"
exec 3<>"$LS/b1/ctl"
echo bind >&3
gl_check "bind through fd 3: bound 1" grep -qx "bound 1" "$LS/b1/ctl"
gl_check "lease lives while fd 3 is open" test -d "$LS/b1"
exec 3>&-
gl_check "exec 3>&- drops the lease" gl_wait_for 200 gone b1
gl_check "its memory is back" \
	gl_wait_for 200 sh -c "test \$(cat '$DEV/vram.used') = 0"

mkdir "$LS/b2" && echo "vram 2M" >"$LS/b2/ctl"
sh -c "exec 3<>'$LS/b2/ctl'; echo bind >&3; exec sleep 1000" &
holder=$!
gl_wait_for 200 grep -qx "bound 1" "$LS/b2/ctl"
gl_check "a holding shell keeps it" test -d "$LS/b2"
kill -KILL "$holder"
wait "$holder" 2>/dev/null
gl_check "kill -9 of the holder drops it" gl_wait_for 200 gone b2

exec 4<>"$LS/ctl"
echo "acquire b3 vram=1M bind" >&4
gl_check "acquire ... bind creates the lease" test -d "$LS/b3"
exec 4>&-
gl_check "closing leases/ctl drops it" gl_wait_for 200 gone b3
gl_done
