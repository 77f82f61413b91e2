#!/bin/bash
# SPDX-License-Identifier: MIT
# Mount gpuleased in the foreground with the CPU backend: the target of
# `make run`. Ctrl-C (SIGINT) makes the daemon unmount and exit.
#
#   scripts/run.sh BINARY
#   GL_MOUNT=/mnt/gpu GL_ARGS="--cpu-vram 4G -d" scripts/run.sh BINARY
set -eu

usage()
{
	echo "usage: [GL_MOUNT=DIR] [GL_ARGS='OPTIONS'] $0 GPULEASED" >&2
	exit 2
}

[ $# -eq 1 ] || usage
bin=$1
mnt=${GL_MOUNT:-/gpu}
args=${GL_ARGS:---cpu-vram 1G}

[ -x "$bin" ] || { echo "run.sh: $bin is not an executable (make it first)" >&2; exit 1; }

# findmnt reads the mount table, so a stale FUSE mount (ENOTCONN) counts too.
if findmnt -rn --mountpoint "$mnt" >/dev/null 2>&1 ||
   mountpoint -q "$mnt" 2>/dev/null; then
	echo "run.sh: something is already mounted on $mnt; unmount it first (fusermount3 -u $mnt) or set GL_MOUNT" >&2
	exit 1
fi
if [ ! -d "$mnt" ]; then
	mkdir -p "$mnt" || { echo "run.sh: cannot create $mnt (try as root, or set GL_MOUNT)" >&2; exit 1; }
fi

echo "run.sh: mounting gpuleased on $mnt ($args); Ctrl-C unmounts"
# shellcheck disable=SC2086 # GL_ARGS is a list of options
exec "$bin" -f $args "$mnt"
