#!/bin/sh
# Print the version of the kernel that the test VM boots: the newest
# /lib/modules/*-amd64/build (installed headers) that also has a matching
# /boot/vmlinuz-*.  Prints nothing (and exits 1) when there is none yet,
# e.g. before scripts/deps.sh has installed linux-image/linux-headers-amd64.
#
# This is deliberately NOT `uname -r`: the machine we build on may run a
# different kernel (a container host) that cannot load our module.
set -eu

found=
for build in /lib/modules/*-amd64/build; do
	[ -d "$build" ] || continue
	ver=${build#/lib/modules/}
	ver=${ver%/build}
	[ -f "/boot/vmlinuz-$ver" ] || continue
	found="$found$ver
"
done

[ -n "$found" ] || exit 1
printf '%s' "$found" | sort -V | tail -n 1
