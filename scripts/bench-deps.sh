#!/bin/sh
# Install the Debian 12 packages that only `make bench` needs.
#
# Idempotent and quiet: when every package is already installed it prints
# nothing and exits 0.  Otherwise it runs `apt-get update` once and then
# `apt-get install -y` of the missing packages (needs root).
#
#   erlang-base    Erlang/OTP (erl, erlc): the side-by-side programs bench/erl/
#   gnuplot-nox    the PNG charts of bench/results/
set -eu

PACKAGES="erlang-base gnuplot-nox"

missing=
for pkg in $PACKAGES; do
	status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
	case $status in
	*" installed") ;;
	*) missing="$missing $pkg" ;;
	esac
done

[ -n "$missing" ] || exit 0

echo "bench-deps: installing:$missing"
if [ "$(id -u)" != 0 ]; then
	echo "bench-deps: need root to install packages; run as root:" >&2
	echo "  apt-get update && apt-get install -y$missing" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086 # word splitting of the package list is wanted
apt-get install -y -q --no-install-recommends \
	-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
	$missing </dev/null
echo "bench-deps: done"
