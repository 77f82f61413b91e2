#!/bin/sh
# SPDX-License-Identifier: MIT
# deps-check.sh - find dependency cycles between the modules of daemon/
# (daemon/dev/ and daemon/model/ included). A module is X.c and X.h
# together, named by its path without the suffix (daemon/dev/cpu).
#
#   include graph  A -> B when a file of A includes B's header
#                  (#include "daemon/..." or a header beside the file)
#   object graph   A -> B when A's object (BUILD/daemon/**/A.o, made by
#                  make) uses a symbol that B's object defines
#
# Every strongly connected component of more than one module is a cycle:
# each is printed as one "cycle: GRAPH: MODULE..." line, followed by the
# edges inside it ("#   A -> B (why)"). Objects whose source is gone
# (left in BUILD by a rename) are ignored.
#
# Usage: scripts/deps-check.sh [BUILD [SRC]]   (default: build, the tree)
# Exit status: 0 no cycle, 1 a cycle, 2 usage (no objects in BUILD).
# Needs only POSIX sh, awk, find, sort and nm.

SRC=${2:-$(cd "$(dirname "$0")/.." && pwd)}
O=${1:-$SRC/build}
SRC=$(cd "$SRC" 2>/dev/null && pwd) || {
	echo "deps-check: no source tree $2" >&2
	exit 2
}
O=$(cd "$O" 2>/dev/null && pwd) || {
	echo "deps-check: no build dir ${1:-$SRC/build}" >&2
	exit 2
}
TMP=$(mktemp -d /tmp/gl-deps.XXXXXX) || exit 2
trap 'rm -rf "$TMP"' EXIT

# include edges: "A B header" lines
(cd "$SRC" && find daemon -type f \( -name '*.c' -o -name '*.h' \) |
	LC_ALL=C sort) >"$TMP/files"
(cd "$SRC" && awk '
	{ known[$0] = 1; files[++n] = $0 }
	END {
		for (i = 1; i <= n; i++) {
			f = files[i]
			mod = f
			sub(/\.[ch]$/, "", mod)
			dir = f
			sub(/[^\/]*$/, "", dir)
			while ((getline line < f) > 0) {
				if (line !~ /^[ \t]*#[ \t]*include[ \t]*"/)
					continue
				h = line
				sub(/^[^"]*"/, "", h)
				sub(/".*$/, "", h)
				p = h
				if ((dir h) in known)
					p = dir h
				if (!(p in known) || p !~ /\.h$/)
					continue
				to = p
				sub(/\.h$/, "", to)
				if (to != mod)
					print mod, to, p
			}
			close(f)
		}
	}' "$TMP/files") >"$TMP/inc"

# object edges: "A B symbol" lines, from nm over the objects whose
# source still exists
(cd "$O" && find daemon -type f -name "*.o" 2>/dev/null | LC_ALL=C sort) |
while read -r o; do
	[ -f "$SRC/${o%.o}.c" ] && echo "$o"
done >"$TMP/objs"
if [ ! -s "$TMP/objs" ]; then
	echo "deps-check: no daemon objects in $O: run make first" >&2
	exit 2
fi
(cd "$O" && while read -r o; do
	nm -P "$o" | awk -v m="${o%.o}" '
		$2 == "U" { print "U", m, $1; next }
		$2 ~ /^[A-TV-Z]$/ { print "D", m, $1 }'
done <"$TMP/objs") | awk '
	$1 == "D" { def[$3] = $2; next }
	{ use[++n] = $2 " " $3 }
	END {
		for (i = 1; i <= n; i++) {
			split(use[i], f, " ")
			if ((f[2] in def) && def[f[2]] != f[1] &&
			    !((f[1] SUBSEP def[f[2]]) in seen)) {
				seen[f[1], def[f[2]]] = 1
				print f[1], def[f[2]], f[2]
			}
		}
	}' >"$TMP/obj"

# module of each file: "FILE MODULE" lines, then both edge lists mapped
# onto modules (edges inside one module dropped)
awk '
	{ known[$0] = 1; f[++n] = $0 }
	END {
		for (i = 1; i <= n; i++) {
			m = f[i]
			sub(/\.[ch]$/, "", m)
			b = m
			while (!((b ".h") in known) && b ~ /-[^\/-]*$/)
				sub(/-[^\/-]*$/, "", b)
			print m, ((b ".h") in known) ? b : m
		}
	}' "$TMP/files" >"$TMP/mods"
for g in inc obj; do
	awk 'NR == FNR { map[$1] = $2; next }
	{
		a = ($1 in map) ? map[$1] : $1
		b = ($2 in map) ? map[$2] : $2
		if (a != b)
			print a, b, $3
	}' "$TMP/mods" "$TMP/$g" >"$TMP/$g.m" && mv "$TMP/$g.m" "$TMP/$g"
done

# Tarjan over "A B why" edges; prints each component of size > 1
scc() {
	awk -v graph="$1" '
	function strong(v,    i, w) {
		idx[v] = low[v] = ++counter
		stk[++sp] = v
		on[v] = 1
		for (i = 1; i <= deg[v]; i++) {
			w = adj[v, i]
			if (!(w in idx)) {
				strong(w)
				if (low[w] < low[v])
					low[v] = low[w]
			} else if (on[w] && idx[w] < low[v]) {
				low[v] = idx[w]
			}
		}
		if (low[v] != idx[v])
			return
		ncomp++
		do {
			w = stk[sp--]
			on[w] = 0
			comp[w] = ncomp
			size[ncomp]++
		} while (w != v)
	}
	function node(v) {
		if (!(v in seen)) {
			seen[v] = 1
			nodes[++nn] = v
		}
	}
	{
		node($1)
		node($2)
		if (!(($1, $2) in why)) {
			adj[$1, ++deg[$1]] = $2
			why[$1, $2] = $3
			from[++ne] = $1
			to[ne] = $2
		}
	}
	END {
		for (i = 1; i <= nn; i++)
			if (!(nodes[i] in idx))
				strong(nodes[i])
		for (c = 1; c <= ncomp; c++) {
			if (size[c] < 2)
				continue
			line = ""
			for (i = 1; i <= nn; i++)
				if (comp[nodes[i]] == c)
					line = line " " nodes[i]
			print "cycle: " graph ":" line
			for (e = 1; e <= ne; e++)
				if (comp[from[e]] == c && comp[to[e]] == c)
					printf "#   %s -> %s (%s)\n", from[e],
						to[e], why[from[e], to[e]]
			bad++
		}
		exit bad ? 1 : 0
	}'
}

rc=0
LC_ALL=C sort -u "$TMP/inc" | scc include || rc=1
LC_ALL=C sort -u "$TMP/obj" | scc object || rc=1
n=$(wc -l <"$TMP/objs")
if [ "$rc" = 0 ]; then
	echo "deps-check: no cycle among the modules of daemon/ ($n objects)"
fi
exit $rc
