#!/bin/sh
# SPDX-License-Identifier: MIT
# top.sh - gpulease top on a real terminal: run it in a detached tmux
# session of fixed size, make leases from the test, read the screen with
# capture-pane until it shows them (bounded waits), then quit with q (and,
# in a second session, Ctrl-C) and check that top exited 0 and gave the
# terminal back: primary screen, cursor shown, termios as before.
# Needs tmux (installed with apt-get when missing and root, else SKIP).

# Helpers run through gl_check and gl_wait_for:
# shellcheck disable=SC2317
# shellcheck source=selftests/sh/lib.sh
. "$(dirname "$0")/lib.sh"

: "${GPULEASE:=$(dirname "$GPULEASED")/tools/gpulease/gpulease}"

PLAN=14
why=$(gl_unavailable)
[ -n "$why" ] || [ -x "$GPULEASE" ] || why="no gpulease at $GPULEASE"
if [ -z "$why" ] && ! command -v tmux >/dev/null 2>&1; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tmux \
			>/dev/null 2>&1
	fi
	command -v tmux >/dev/null 2>&1 || why="no tmux"
fi
if [ -n "$why" ]; then
	gl_plan "$PLAN"
	gl_skip_all "$PLAN" "$why"
fi
gl_plan "$PLAN"
gl_start --cpu-vram 64M || { gl_not_ok "start gpuleased"; gl_totals; exit 1; }

LS=$GL_MNT/leases
SOCK=$GL_DIR/tmux.sock
trap 'tmux -S "$SOCK" kill-server >/dev/null 2>&1; gl_stop >/dev/null 2>&1' \
	EXIT

t() {
	tmux -S "$SOCK" "$@"
}

# Start top in session $1; after it exits the pane prints its status and
# whether stty settings are what they were before it ran.
start_top() {
	t new-session -d -s "$1" -x 120 -y 30 \
		"before=\$(stty -g); '$GPULEASE' --mount '$GL_MNT' top; \
		 st=\$?; [ \"\$(stty -g)\" = \"\$before\" ] && r=same || r=changed; \
		 echo top-exit=\$st stty-\$r; exec sleep 600"
}

screen() {
	t capture-pane -p -t "$1"
}

# shows SESSION PATTERN: the pane has a line matching PATTERN (grep -E).
shows() {
	screen "$1" | grep -Eq -- "$2"
}

pane_flag() {
	test "$(t display-message -p -t "$1" "#{$2}")" = "$3"
}

# 'a' is listed above 'b' on the screen of session $1.
above() {
	screen "$1" | awk -v a="$2" -v b="$3" '
		$1 == a { ia = NR } $1 == b { ib = NR }
		END { exit !(ia && ib && ia < ib) }'
}

dump() {
	gl_log "screen of $1:"
	screen "$1" | sed 's/^/#   /'
}

burst() {
	i=0
	while [ "$i" -lt 300 ]; do
		echo "noop grid=1"
		i=$((i + 1))
	done | "$GPULEASE" --mount "$GL_MNT" run t1 >/dev/null
}

start_top s1
gl_check "top draws its header" gl_wait_for 200 shows s1 "^gpulease top - "
gl_check "top is on the alternate screen" pane_flag s1 alternate_on 1
gl_check "top hides the cursor" pane_flag s1 cursor_flag 0
gl_check "the device row shows cpu0 and a bar" \
	gl_wait_for 200 shows s1 "^0 +cpu0 +cpu +\[\.+\] +0/64M"

echo "acquire t1 vram=3M ttl=600" >"$LS/ctl"
echo "acquire t0 vram=1M ttl=600" >"$LS/ctl"
if ! gl_check "t1 shows with 3.0M" gl_wait_for 200 shows s1 "^t1 +active +3\.0M "
then
	dump s1
fi
gl_check "t0 shows with 1.0M" gl_wait_for 200 shows s1 "^t0 +active +1\.0M "
gl_check "the bar counts 4.0M used" gl_wait_for 200 shows s1 "4\.0M/64M"
gl_check "biggest lease first: t1 above t0" above s1 t1 t0
burst
gl_check "launches/s of t1 goes up after a burst" \
	gl_wait_for 100 shows s1 "^t1 .* 300 +[1-9][0-9.]*$"

t send-keys -t s1 q
gl_check "q: top exits 0, termios as before" \
	gl_wait_for 200 shows s1 "^top-exit=0 stty-same$"
gl_check "the primary screen is back, top's frame gone" \
	sh -c "test \"\$(tmux -S '$SOCK' display-message -p -t s1 \
		'#{alternate_on}')\" = 0 && \
	       ! tmux -S '$SOCK' capture-pane -p -t s1 | grep -q '^gpulease top'"
gl_check "the cursor is shown again" pane_flag s1 cursor_flag 1

start_top s2
gl_wait_for 200 shows s2 "^t1 +active"
t send-keys -t s2 C-c
gl_check "Ctrl-C: top exits 0, termios as before" \
	gl_wait_for 200 shows s2 "^top-exit=0 stty-same$"
t kill-server >/dev/null 2>&1
gl_done
