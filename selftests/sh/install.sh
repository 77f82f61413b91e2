#!/bin/sh
# SPDX-License-Identifier: MIT
# install.sh - make install and make uninstall, with a PREFIX, into a temp
# DESTDIR, from the build dir the other tests use (that of $GPULEASED):
# install builds nothing; every file is in place (daemon, command, shared
# library with its soname and links, headers, libgpulease.pc, every man
# page, the unit naming the installed daemon); the library exports exactly
# the map's symbols, each in its version node; the installed header
# compiles alone in C and C++ with only pkg-config's cflags; a client built
# with nothing but "pkg-config --cflags --libs libgpulease" (and an rpath
# into DESTDIR) links the shared library and works against the installed
# daemon; and make uninstall leaves no file in DESTDIR. Nothing is written
# outside temp directories. Needs cc, c++, pkg-config, readelf and make.

# Helpers run through gl_check:
# shellcheck disable=SC2317
# shellcheck source=selftests/sh/lib.sh
. "$(dirname "$0")/lib.sh"

gl_plan 14

BUILD=$(cd "$(dirname "$GPULEASED")" && pwd)
PREFIX=/opt/gpulease-selftest
DEST=$(mktemp -d /tmp/glinst.XXXXXX) || exit 1
ROOT=$DEST$PREFIX
WORK=$(mktemp -d /tmp/glinst-work.XXXXXX) || exit 1
trap 'gl_stop >/dev/null 2>&1; rm -rf "$DEST" "$WORK"' EXIT
LIBVER=$(sed -n 's/^GL_LIB_VERSION := //p' "$GL_SRC/tools/tools.mk")

# make with this test's variables only, not those of a make check above us
mk() {
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$GL_SRC" \
		O="$BUILD" PREFIX="$PREFIX" DESTDIR="$DEST" "$@"
}

# install only copies: no compile, link or archive line
install_builds_nothing() {
	mk install >"$WORK/install.log" 2>&1 || { cat "$WORK/install.log"; return 1; }
	! grep -E '^  (CC|LD|AR|HDRCHK) ' "$WORK/install.log"
}

files_in_place() {
	for f in sbin/gpuleased bin/gpulease lib/libgpulease.a \
		 "lib/libgpulease.so.$LIBVER" include/gpulease/gpulease.h \
		 lib/pkgconfig/libgpulease.pc \
		 lib/systemd/system/gpuleased.service bin/gpulease-gateway \
		 lib/systemd/system/gpulease-gateway.service; do
		[ -f "$ROOT/$f" ] || { echo "no $f"; return 1; }
	done
	if [ ! -x "$ROOT/sbin/gpuleased" ] || [ ! -x "$ROOT/bin/gpulease" ] ||
	   [ ! -x "$ROOT/bin/gpulease-gateway" ]
	then
		echo "programs not executable"
		return 1
	fi
	for f in "$GL_SRC"/uapi/*.h; do
		cmp "$f" "$ROOT/include/gpulease/uapi/${f##*/}" || return 1
	done
}

man_pages_in_place() {
	n=0
	for f in "$GL_SRC"/Documentation/man/*.[138]; do
		cmp "$f" "$ROOT/share/man/man${f##*.}/${f##*/}" || return 1
		n=$((n + 1))
	done
	[ "$n" -gt 3 ]
}

unit_names_installed_daemon() {
	u=$ROOT/lib/systemd/system/gpuleased.service
	g=$ROOT/lib/systemd/system/gpulease-gateway.service
	grep -q "^ExecStart=$PREFIX/sbin/gpuleased -f " "$u" &&
		! grep -q /usr/local/ "$u" &&
		grep -q "^ExecStart=$PREFIX/bin/gpulease-gateway " "$g" &&
		! grep -q /usr/local/ "$g"
}

soname_and_links() {
	so=$ROOT/lib/libgpulease.so.$LIBVER
	readelf -d "$so" | grep -q 'SONAME.*\[libgpulease\.so\.0\]' ||
		{ readelf -d "$so"; return 1; }
	[ "$(readlink "$ROOT/lib/libgpulease.so.0")" = "${so##*/}" ] &&
		[ "$(readlink "$ROOT/lib/libgpulease.so")" = "${so##*/}" ]
}

# "symbol@@NODE" for every defined dynamic symbol, and for every global of
# the version script (the node is the one the symbol is listed under).
exports_match_version_script() {
	readelf -W --dyn-syms "$ROOT/lib/libgpulease.so.$LIBVER" |
		awk '$7 != "UND" && $7 != "ABS" && $5 == "GLOBAL" &&
		     $8 ~ /@@/ { print $8 }' | sort >"$WORK/exported"
	awk '/^[A-Z0-9_.]+ *\{/ { node = $1 }
	     /^[[:space:]]*local:/ { node = "" }
	     node != "" && /^[[:space:]]*gl_[a-z0-9_]*;/ {
		sub(/^[[:space:]]*/, ""); sub(/;.*/, "");
		print $0 "@@" node }' \
		"$GL_SRC/tools/lib/libgpulease.map" | sort >"$WORK/listed"
	[ -s "$WORK/listed" ] && diff "$WORK/listed" "$WORK/exported"
}

pc() {
	PKG_CONFIG_SYSROOT_DIR=$DEST \
	PKG_CONFIG_PATH=$ROOT/lib/pkgconfig pkg-config "$@" libgpulease
}

pc_version() {
	[ "$(pc --modversion)" = "$LIBVER" ]
}

# shellcheck disable=SC2046 # pkg-config's words are the flags
header_alone() {
	echo '#include <gpulease/gpulease.h>' >"$WORK/h.c"
	cc -std=c11 -Wall -Wextra -Werror -pedantic $(pc --cflags) \
		-fsyntax-only "$WORK/h.c" &&
	c++ -std=c++11 -Wall -Wextra -Werror $(pc --cflags) \
		-fsyntax-only -x c++ "$WORK/h.c"
}

# A client that acquires a bound lease, writes, reads back and launches.
cat >"$WORK/client.c" <<'EOF'
#include <errno.h>
#include <gpulease/gpulease.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	char out[8] = "";
	struct gl *g;
	int err;

	if (argc != 2 || gl_open(argv[1], &g))
		return 2;
	err = gl_lease_acquire(g, "installed", 4096, 60, -1, GL_ACQUIRE_BIND);
	if (!err && gl_vram_pwrite(g, "installed", "hello", 6, 0) != 6)
		err = -EIO;
	if (!err && gl_vram_pread(g, "installed", out, 6, 0) != 6)
		err = -EIO;
	if (!err && strcmp(out, "hello"))
		err = -EIO;
	if (!err)
		err = gl_submit_text(g, "installed",
				     "fill grid=1 u32:16 f32:2 buf:0:64");
	if (!err)
		err = gl_lease_drop(g, "installed");
	gl_close(g);
	if (err) {
		fprintf(stderr, "client: %s\n", gl_strerror(err));
		return 1;
	}
	puts("client ok");
	return 0;
}
EOF

# (a sanitizer build's library needs the sanitizer runtime in the client)
# shellcheck disable=SC2046,SC2086
build_client() {
	san=
	readelf -d "$ROOT/lib/libgpulease.so.$LIBVER" |
		grep -q 'NEEDED.*libasan' && san=-fsanitize=address,undefined
	cc -Wall -Wextra -Werror $san -o "$WORK/client" "$WORK/client.c" \
		$(pc --cflags --libs) -Wl,-rpath,"$ROOT/lib" &&
	readelf -d "$WORK/client" | grep -q 'NEEDED.*\[libgpulease\.so\.0\]'
}

client_runs() {
	ldd "$WORK/client" | grep -q "libgpulease\.so\.0 => $ROOT/lib/" ||
		{ ldd "$WORK/client"; return 1; }
	[ "$("$WORK/client" "$GL_MNT")" = "client ok" ] &&
		[ "$(cat "$GL_MNT/devices/0/vram.used")" = 0 ]
}

nothing_left() {
	mk uninstall >"$WORK/uninstall.log" 2>&1 ||
		{ cat "$WORK/uninstall.log"; return 1; }
	left=$(find "$DEST" ! -type d
	       find "$ROOT" -path "$ROOT/include/gpulease*")
	[ -z "$left" ] || { echo "left: $left"; return 1; }
}

gl_check "make install builds nothing" install_builds_nothing
gl_check "daemon, command, library, headers, .pc and unit in place" \
	files_in_place
gl_check "every man page in place" man_pages_in_place
gl_check "the unit runs $PREFIX/sbin/gpuleased" unit_names_installed_daemon
gl_check "soname libgpulease.so.0, .so.0 and .so links" soname_and_links
gl_check "exports are the version script's, node by node" \
	exports_match_version_script
gl_check "pkg-config finds libgpulease $LIBVER" pc_version
gl_check "<gpulease/gpulease.h> compiles alone with pkg-config's cflags" \
	header_alone
gl_check "a client builds with pkg-config only, against the .so" \
	build_client

why=$(gl_unavailable)
if [ -n "$why" ]; then
	gl_skip "the installed daemon mounts" "$why"
	gl_skip "the client runs against it" "$why"
	gl_skip "the installed command lists a lease" "$why"
else
	GPULEASED=$ROOT/sbin/gpuleased
	if gl_start --cpu-vram 64M; then
		gl_ok "the installed daemon mounts"
	else
		gl_not_ok "the installed daemon mounts"
	fi
	gl_check "the client runs against it" client_runs
	gl_check "the installed command lists a lease" sh -c \
		"mkdir '$GL_MNT/leases/listed' &&
		 '$ROOT/bin/gpulease' --mount '$GL_MNT' ls | grep -qw listed &&
		 rmdir '$GL_MNT/leases/listed'"
fi
gl_check "make uninstall leaves no file in DESTDIR" nothing_left
gl_done
