#!/bin/sh
# SPDX-License-Identifier: MIT
# run_tests.sh - run every selftest program against the build in $1 and
# sum their TAP: unit tests, kernel tests (if built), fs tests, shell tests,
# the fs tests and the shell tests that start a daemon once more against
# a daemon in its default, background mode (as bg/fs/..., bg/sh/...:
# GL_BACKGROUND=1), and with VALGRIND=1 the fs tests once more with the
# daemon under valgrind (beside the rest, on a machine of two CPUs or
# more; without it, the fs tests in the second lane).  Each program's
# output is shown indented as "# " lines, then "# NAME: N s", its wall
# time; the last line is "N passed, N failed, N skipped" over all test cases.
# A program fails when it exits other than 0 (or 4, all skipped), prints
# no "# Totals:" line, or runs other than the N test points of its "1..N".
# Exit status: 0 when nothing failed, 1 otherwise.
#
# Environment: VALGRIND=1, GL_VALGRIND (the valgrind command line),
# BACKGROUND=0 to leave out the background pass, FUZZ=0 to leave out the
# fuzz targets,
# TESTS="glob ..." to run only matching programs (e.g. "fs/bind* sh/*").

O=${1:-$(dirname "$0")/../build}
O=$(cd "$O" 2>/dev/null && pwd) || { echo "no build dir $1" >&2; exit 1; }
SRC=$(cd "$(dirname "$0")" && pwd)
GPULEASED=${GPULEASED:-$O/gpuleased}
export GPULEASED

: "${GL_VALGRIND:=valgrind --error-exitcode=99 --leak-check=full \
--errors-for-leak-kinds=definite --fair-sched=yes -q \
--num-callers=24 --suppressions=$SRC/valgrind.supp}"
# (--fair-sched: valgrind runs one thread at a time; without it a kernel
# running on a worker starves the FUSE threads for seconds. valgrind.supp
# says what it suppresses and why; its entries need the callers deeper
# than valgrind's default 12.)

PASS=0
FAIL=0
SKIP=0
LIST=$(mktemp /tmp/gl-run-tests.XXXXXX)
OUT=$(mktemp /tmp/gl-run-tests-out.XXXXXX)
trap 'rm -f "$LIST" "$LIST".* "$OUT" "$OUT".*' EXIT

selected() {
	[ -z "$TESTS" ] && return 0
	# the patterns are for case, not for the shell to glob in the cwd
	set -f
	for pat in $TESTS; do
		# shellcheck disable=SC2254
		case $1 in
		$pat) set +f; return 0 ;;
		esac
	done
	set +f
	return 1
}

# marked PROG MARK: PROG's source (fs/PROG.c) has "run_tests: ... MARK".
marked() {
	grep -q "run_tests:.* $2" "$SRC/fs/$(basename "$1").c" 2>/dev/null
}

# add KIND NAME CMD: queue one program ("env VAR=x prog" allowed).
add() {
	selected "$2" && printf '%s\t%s\n' "$2" "$3" >>"$LIST"
}

for f in "$O"/selftests/unit/* "$O"/selftests/kernels/* "$O"/selftests/fs/*
do
	{ [ -f "$f" ] && [ -x "$f" ]; } || continue
	case $f in
	*.o | *.d) continue ;;
	esac
	rel=${f#"$O"/selftests/}
	add prog "$rel" "$f"
done
for f in "$SRC"/sh/*.sh; do
	case $f in
	*/lib.sh) continue ;;
	esac
	add sh "sh/$(basename "$f")" "sh $f"
done
# Without -f the daemon forks before it starts its threads: the whole
# contract once more that way (the shell tests that start one through
# lib.sh, but metrics and probes, whose subjects are elsewhere). A test
# whose source says "run_tests: no-background" is left out (the soak, the
# tests that start their own background daemons, the stories15M-shape
# proof, whose subject is the arithmetic), and one saying "run_tests:
# no-valgrind" is left out of the valgrind pass (minutes there); each
# says why beside the mark.
if [ "${BACKGROUND:-1}" = 1 ]; then
	for f in "$O"/selftests/fs/*; do
		{ [ -f "$f" ] && [ -x "$f" ]; } || continue
		case $f in
		*.o | *.d) continue ;;
		esac
		marked "$f" no-background && continue
		add prog "bg/${f#"$O"/selftests/}" "env GL_BACKGROUND=1 $f"
	done
	for t in bind cli ring-cli saxpy seed top; do
		[ -f "$SRC/sh/$t.sh" ] &&
			add sh "bg/sh/$t.sh" "env GL_BACKGROUND=1 sh $SRC/sh/$t.sh"
	done
fi
# the fuzz targets, for FUZZ_SECONDS each (libFuzzer, built by make fuzz)
[ "${FUZZ:-1}" = 1 ] && add fuzz "fuzz/run.sh" "sh $SRC/fuzz/run.sh $O"
if [ "$VALGRIND" = 1 ]; then
	if command -v valgrind >/dev/null; then
		for f in "$O"/selftests/fs/*; do
			{ [ -f "$f" ] && [ -x "$f" ]; } || continue
			case $f in
			*.o | *.d) continue ;;
			esac
			marked "$f" no-valgrind && continue
			rel=valgrind/${f#"$O"/selftests/}
			add prog "$rel" "env TH_TIMEOUT_MULT=10 $f"
		done
	else
		echo "# VALGRIND=1 but no valgrind installed: not run"
		FAIL=$((FAIL + 1))
	fi
fi

# run_one N NAME CMD: run one program, print its output as "# " lines,
# its time and its TAP line, and add "PASS FAIL SKIP" to $COUNTS.
run_one() {
	n=$1
	name=$2
	cmd=$3
	out=$COUNTS.out
	echo "# selftests: $name"
	case $name in
	valgrind/*)
		GL_DAEMON_WRAPPER=$GL_VALGRIND
		export GL_DAEMON_WRAPPER
		;;
	*)
		unset GL_DAEMON_WRAPPER
		;;
	esac
	t0=$(date +%s)
	# shellcheck disable=SC2086
	$cmd >"$out" 2>&1 </dev/null
	rc=$?
	sed 's/^/# /' "$out"
	echo "# $name: $(($(date +%s) - t0)) s"
	totals=$(grep '^# Totals:' "$out" | tail -n 1)
	p=$(echo "$totals" | sed -n 's/.* pass:\([0-9]*\).*/\1/p')
	f=$(echo "$totals" | sed -n 's/.* fail:\([0-9]*\).*/\1/p')
	s=$(echo "$totals" | sed -n 's/.* skip:\([0-9]*\).*/\1/p')
	if [ -z "$totals" ]; then
		echo "# $name: no '# Totals:' line (exit $rc)"
		p=0
		f=1
		s=0
	elif [ "$rc" != 0 ] && [ "$rc" != 4 ] && [ "${f:-0}" = 0 ]; then
		echo "# $name: exit $rc with no failed test case"
		f=1
	fi
	# a plan that is not what ran hides a test lost or one unplanned
	plan=$(sed -n 's/^1\.\.\([0-9]*\)$/\1/p' "$out" | head -n 1)
	ran=$(grep -c -E '^(not )?ok [0-9]+' "$out")
	if [ -n "$plan" ] && [ "$plan" != "$ran" ]; then
		echo "# $name: planned $plan test points, ran $ran"
		f=$((${f:-0} + 1))
		rc=1
	fi
	echo "${p:-0} ${f:-0} ${s:-0}" >>"$COUNTS"
	case $rc in
	0) echo "ok $n selftests: $name" ;;
	4) echo "ok $n selftests: $name # SKIP" ;;
	*) echo "not ok $n selftests: $name # exit=$rc" ;;
	esac
}

# run_lane LIST COUNTS: run_one for every "N<tab>NAME<tab>CMD" line.
run_lane() {
	COUNTS=$2
	: >>"$COUNTS"
	while IFS='	' read -r n name cmd; do
		run_one "$n" "$name" "$cmd"
	done <"$1"
	rm -f "$COUNTS.out"
}

# claim: the next line of the shared queue $LIST.b, or nothing once it
# is empty (each line goes to one lane: flock on $LIST.lock).
claim() {
	exec 9>>"$LIST.lock"
	flock 9
	i=$(cat "$LIST.next")
	echo $((i + 1)) >"$LIST.next"
	flock -u 9
	exec 9>&-
	sed -n "${i}p" "$LIST.b"
}

# run_queue COUNTS: run_one for every line claimed from $LIST.b, each
# one's output kept in $OUT.q.N to be shown in order at the end.
run_queue() {
	COUNTS=$1
	: >>"$COUNTS"
	while line=$(claim) && [ -n "$line" ]; do
		n=${line%%	*}
		printf '%s\n' "$line" | while IFS='	' read -r n name cmd; do
			run_one "$n" "$name" "$cmd" >"$OUT.q.$n" 2>&1
		done
	done
	rm -f "$COUNTS.out"
}

total=$(wc -l <"$LIST")
echo "TAP version 13"
echo "1..$total"
# Two lanes on a machine of two CPUs or more: the valgrind pass (valgrind
# runs a daemon's threads one at a time, so it keeps one CPU busy) in one,
# everything else in the other, which then takes valgrind runs too until
# none is left. Without a valgrind pass (the sanitizer build's) the fs
# tests are that queue: each starts a daemon of its own on a mount of its
# own, as they do beside the valgrind runs. The queue's output follows
# the rest's, each in its own order.
awk '{ print NR "\t" $0 }' "$LIST" >"$LIST.n"
QUEUE=valgrind/
grep -q "^[0-9]*	$QUEUE" "$LIST.n" || QUEUE=fs/
grep -v "^[0-9]*	$QUEUE" "$LIST.n" >"$LIST.a"
grep "^[0-9]*	$QUEUE" "$LIST.n" >"$LIST.b"
echo 1 >"$LIST.next"
if [ -s "$LIST.b" ] && [ "$(nproc)" -ge 2 ]; then
	(run_queue "$LIST.cb") &
	lane_b=$!
	run_lane "$LIST.a" "$LIST.ca"
	run_queue "$LIST.ca"
	wait "$lane_b"
else
	run_lane "$LIST.a" "$LIST.ca"
	run_queue "$LIST.cb"
fi
cut -f1 "$LIST.b" | while read -r n; do
	cat "$OUT.q.$n"
done
while read -r p f s; do
	[ -n "$p" ] || continue
	PASS=$((PASS + p))
	FAIL=$((FAIL + f))
	SKIP=$((SKIP + s))
done <<EOF
$(cat "$LIST.ca" "$LIST.cb" 2>/dev/null)
EOF

echo "# Totals: pass:$PASS fail:$FAIL xfail:0 xpass:0 skip:$SKIP error:0"
echo "$PASS passed, $FAIL failed, $SKIP skipped"
[ "$FAIL" = 0 ]
