#!/bin/sh
# SPDX-License-Identifier: MIT
# metrics.sh - /gpu/metrics with the real tools: promtool accepts the
# exposition; counters follow what the test does and never go back; and
# Prometheus, scraping node_exporter's textfile collector pointed at
# /gpu/metrics on loopback, answers gpulease_leases as the test set it.
# "Never go back" is checked on every sample of every counter family,
# before and after a drop and an expiry of leases that moved bytes.

# shellcheck source=selftests/sh/lib.sh
. "$(dirname "$0")/lib.sh"

PLAN=11
gl_plan "$PLAN"
why=$(gl_unavailable)
[ -z "$why" ] || gl_skip_all "$PLAN" "$why"
gl_start --cpu-vram 64M || { gl_not_ok "start gpuleased"; gl_totals; exit 1; }

M=$GL_MNT
# value NAME_WITH_LABELS: the sample's value in /gpu/metrics
value() {
	awk -v k="$1" '$1 == k { print $2 }' "$M/metrics"
}

gl_check "promtool check metrics accepts an idle daemon" \
	sh -c "promtool check metrics < '$M/metrics'"

mkdir "$M/leases/m1" "$M/leases/m3"
echo "vram 1M" >"$M/leases/m1/ctl"
head -c 12345 /dev/zero | dd of="$M/leases/m1/vram" bs=12345 \
	conv=notrunc 2>/dev/null
dd if="$M/leases/m1/vram" of=/dev/null bs=1000 count=1 2>/dev/null
echo "noop grid=1" >"$M/leases/m1/submit"
echo "acquire gone ttl=1" >"$M/leases/ctl"
rmdir "$M/leases/m3"

gl_check "promtool check metrics accepts a busy daemon" \
	sh -c "promtool check metrics < '$M/metrics'"
gl_check "leases by state, bytes, launches and drops add up" sh -c "
	[ '$(value 'gpulease_leases_acquired_total')' = 3 ] &&
	[ '$(value 'gpulease_leases_dropped_total')' = 1 ] &&
	[ '$(value 'gpulease_bytes_in_total')' = 12345 ] &&
	[ '$(value 'gpulease_bytes_out_total')' -ge 1000 ] &&
	[ '$(value 'gpulease_kernel_launch_total{kernel=\"noop\"}')' = 1 ] &&
	[ '$(value 'gpulease_vram_bytes{device=\"0\",state=\"used\"}')' = \
		1048576 ]"
expired_1() {
	[ "$(value 'gpulease_leases{state="expired"}')" = 1 ]
}
gl_check "an expired lease moves to state expired" gl_wait_for 400 expired_1
# counters FILE: "sample value" of every sample of a "# TYPE ... counter"
counters() {
	awk '$1 == "#" && $2 == "TYPE" { c[$3] = $4 == "counter"; next }
	     /^#/ { next }
	     { n = $1; sub(/\{.*/, "", n); if (c[n]) print $1, $2 }' \
		"$M/metrics" >"$1"
}
# went_back A B: fails naming each sample present in both that decreased
went_back() {
	awk 'NR == FNR { a[$1] = $2; next }
	     $1 in a { n++; if ($2 + 0 < a[$1] + 0) {
		print "went back: " $1 " " a[$1] " -> " $2; bad = 1 } }
	     END { if (n < 10) { print "only " n " counters"; bad = 1 }
		   exit bad }' "$1" "$2"
}
C=$(mktemp -d /tmp/glcnt.XXXXXX)
counters "$C/a"
before=$(value gpulease_leases_acquired_total)
rmdir "$M/leases/m1" "$M/leases/gone"
counters "$C/b"
gl_check "no counter goes back across a drop" went_back "$C/a" "$C/b"
gl_check "counters keep the totals of dropped leases" sh -c "
	[ '$(value gpulease_leases_acquired_total)' = '$before' ] &&
	[ '$(value gpulease_bytes_in_total)' = 12345 ] &&
	[ '$(value gpulease_leases_dropped_total)' = 3 ]"
mkdir "$M/leases/m4"
echo "vram 64K" >"$M/leases/m4/ctl"
head -c 4096 /dev/zero | dd of="$M/leases/m4/vram" conv=notrunc 2>/dev/null
dd if="$M/leases/m4/vram" of=/dev/null bs=4096 count=1 2>/dev/null
counters "$C/c"
echo "clock_offset 7200" >"$M/ctl"
counters "$C/d"
# m4 expired (its ctl fails) and nothing went back meanwhile
expiry_kept() {
	! cat "$M/leases/m4/ctl" >/dev/null 2>&1 && went_back "$C/c" "$C/d"
}
gl_check "no counter goes back across an expiry" expiry_kept
rmdir "$M/leases/m4"
rm -rf "$C"

# --- Prometheus and node_exporter on loopback ---------------------------
if ! command -v prometheus >/dev/null ||
	! command -v prometheus-node-exporter >/dev/null; then
	gl_skip "node_exporter serves /gpu/metrics" "prometheus not installed"
	gl_skip "prometheus scrapes it" "prometheus not installed"
	gl_skip "prometheus sees gpulease_leases" "prometheus not installed"
	gl_done
fi
W=$(mktemp -d /tmp/glprom.XXXXXX)
mkdir "$W/text"
ln -s "$M/metrics" "$W/text/gpulease.prom"
# free loopback ports, chosen by the kernel
port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket();
s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
NE=$(port)
PR=$(port)
prometheus-node-exporter --web.listen-address="127.0.0.1:$NE" \
	--collector.disable-defaults --collector.textfile \
	--collector.textfile.directory="$W/text" >"$W/ne.log" 2>&1 &
ne_pid=$!
cat >"$W/prometheus.yml" <<EOC
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: node
    static_configs:
      - targets: ['127.0.0.1:$NE']
EOC
prometheus --config.file="$W/prometheus.yml" \
	--storage.tsdb.path="$W/data" --web.listen-address="127.0.0.1:$PR" \
	>"$W/prom.log" 2>&1 &
pr_pid=$!
trap 'kill $ne_pid $pr_pid 2>/dev/null; wait $ne_pid $pr_pid 2>/dev/null;
	rm -rf "$W"; gl_stop >/dev/null 2>&1' EXIT

for i in 1 2 3 4 5; do mkdir "$M/leases/p$i"; done
echo "ttl 1" >"$M/leases/p5/ctl"
gl_wait_for 400 sh -c "grep -q 'state=\"expired\"} 1' '$M/metrics'"

ne_has() {
	curl -sf "http://127.0.0.1:$NE/metrics" |
		grep -q '^gpulease_leases{state="active"} 4'
}
gl_check "node_exporter serves /gpu/metrics" gl_wait_for 400 ne_has
# query NAME: the value Prometheus has for it, via its HTTP API
query() {
	curl -sf "http://127.0.0.1:$PR/api/v1/query" \
		--data-urlencode "query=$1" |
		/usr/bin/python3 -c 'import json, sys
r = json.load(sys.stdin)["data"]["result"]
print(r[0]["value"][1] if r else "none")'
}
prom_up() {
	[ "$(query 'up{job="node"}')" = 1 ]
}
gl_check "prometheus scrapes node_exporter" gl_wait_for 600 prom_up
prom_leases() {
	[ "$(query 'gpulease_leases{state="active"}')" = 4 ] &&
		[ "$(query 'gpulease_leases{state="expired"}')" = 1 ]
}
if gl_wait_for 600 prom_leases; then
	gl_ok "prometheus sees the leases this test made"
else
	gl_not_ok "prometheus sees the leases this test made"
	gl_log "active=$(query 'gpulease_leases{state="active"}')"
	sed 's/^/# prom: /' "$W/prom.log" | tail -20
	sed 's/^/# ne: /' "$W/ne.log" | tail -20
fi
gl_done
