#!/bin/sh
# SPDX-License-Identifier: MIT
# probes.sh - the USDT probes of provider gpulease: readelf lists all five
# stapsdt notes in the built daemon, and perf records each of them while
# a small workload runs (skipped where perf cannot use uprobes here).

# shellcheck source=selftests/sh/lib.sh
. "$(dirname "$0")/lib.sh"

PROBES="lease_acquire lease_drop lease_expire launch_start launch_end"
PLAN=4
gl_plan "$PLAN"
why=$(gl_unavailable)
[ -z "$why" ] || gl_skip_all "$PLAN" "$why"

notes=$(readelf -n "$GPULEASED" 2>/dev/null)
missing=
for p in $PROBES; do
	printf '%s\n' "$notes" | grep -q "Name: $p\$" || missing="$missing $p"
done
if [ -z "$missing" ] && printf '%s\n' "$notes" | grep -q "Provider: gpulease"
then
	gl_ok "readelf -n lists the five gpulease probes"
else
	gl_not_ok "readelf -n lists the five gpulease probes"
	gl_log "missing:$missing"
fi

gl_start --cpu-vram 64M || { gl_not_ok "start gpuleased"; gl_totals; exit 1; }
W=$(mktemp -d /tmp/glperf.XXXXXX)
trap 'perf probe -q -d "sdt_gpulease:*" >/dev/null 2>&1; rm -rf "$W";
	gl_stop >/dev/null 2>&1' EXIT
# perf keeps its build-id cache under $HOME: keep it in the temp dir
export HOME="$W"
if ! command -v perf >/dev/null 2>&1 ||
	! perf buildid-cache --add "$GPULEASED" >"$W/log" 2>&1 ||
	! perf probe -q -x "$GPULEASED" --add "sdt_gpulease:*" >>"$W/log" 2>&1
then
	gl_skip "perf records every probe" "perf cannot add uprobes here"
	gl_skip "probe arguments" "perf cannot add uprobes here"
	gl_done
fi
M=$GL_MNT
perf record -q -o "$W/perf.data" -e "sdt_gpulease:*" -p "$GL_PID" \
	>>"$W/log" 2>&1 &
rec=$!
sleep 1	# perf attaches its uprobes
mkdir "$M/leases/t1"
echo "vram 4K" >"$M/leases/t1/ctl"
echo "noop grid=1" >"$M/leases/t1/submit"
rmdir "$M/leases/t1"
echo "acquire t2 ttl=1" >"$M/leases/ctl"
echo "clock_offset 10" >"$M/ctl"
sleep 0.5
kill -INT "$rec"
wait "$rec"
perf script -i "$W/perf.data" >"$W/script" 2>>"$W/log"
missing=
for p in $PROBES; do
	grep -q "sdt_gpulease:$p:" "$W/script" || missing="$missing $p"
done
if [ -z "$missing" ]; then
	gl_ok "perf records every probe"
else
	gl_not_ok "perf records every probe"
	gl_log "not seen:$missing"
	sed 's/^/# /' "$W/log" "$W/script" | tail -20
fi
# lease_drop(name, bytes, age): t1 held 4096 bytes when dropped
gl_check "probe arguments" grep -q "sdt_gpulease:lease_drop:.* arg2=4096 " \
	"$W/script"
gl_done
