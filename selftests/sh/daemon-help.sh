#!/bin/sh
# SPDX-License-Identifier: MIT
# daemon-help.sh - gpuleased --help, gpuleased(8) and the admin guide tell
# the same story: every long option of --help is in the man page and the
# guide, and all three say what the default (background) mode does: the
# command returns once the tree serves, and the log goes to syslog.

# Helpers run through gl_check:
# shellcheck disable=SC2317
# shellcheck source=selftests/sh/lib.sh
. "$(dirname "$0")/lib.sh"

MAN=$GL_SRC/Documentation/man/gpuleased.8
GUIDE=$GL_SRC/Documentation/admin-guide.md
PLAN=4
gl_plan "$PLAN"
[ -x "$GPULEASED" ] || gl_skip_all "$PLAN" "no daemon at $GPULEASED"

HELP=$("$GPULEASED" --help)
opts=$(printf '%s\n' "$HELP" | grep -o -- '--[a-z][a-z-]*' | sort -u)

in_man() {
	for o in $opts; do
		# the man page escapes each dash
		grep -qF -- "$(printf '%s' "$o" | sed 's/-/\\-/g')" "$MAN" ||
			{ echo "not in gpuleased.8: $o"; return 1; }
	done
}

in_guide() {
	for o in $opts; do
		grep -qF -- "\`$o" "$GUIDE" ||
			{ echo "not in admin-guide.md: $o"; return 1; }
	done
}

# $1: what; then a pattern each for --help, the man page, the guide
says() {
	if printf '%s\n' "$HELP" | tr '\n' ' ' | grep -qiE -- "$2" &&
		tr '\n' ' ' <"$MAN" | grep -qiE -- "$3" &&
		tr '\n' ' ' <"$GUIDE" | grep -qiE -- "$4"; then
		return 0
	fi
	echo "not said everywhere: $1"
	return 1
}

gl_check "every --help option is in gpuleased(8)" in_man
gl_check "every --help option is in the admin guide" in_guide
gl_check "all say the command returns once the tree serves" says \
	returns "returns once the +tree +serves" \
	"returns once the daemon +serves" "returns once the daemon serves"
gl_check "all say the background log goes to syslog" says syslog \
	"syslog.*background|background.*syslog" "syslog +in the +back" \
	"in the background it writes to syslog"
gl_totals
[ "$GL_FAIL" = 0 ] || exit 1
exit 0
