#!/bin/sh
# Install the Debian 12 packages that building and testing termite needs,
# or, given package names as arguments, those instead (scripts/bench-deps.sh).
#
# Idempotent and quiet: when every package is already installed it prints
# nothing and exits 0.  Otherwise it runs `apt-get update` once and then
# `apt-get install -y` of the missing packages (needs root).
#
#   build-essential        gcc, make, libc headers
#   linux-image-amd64      the kernel the test VM boots (/boot/vmlinuz-*)
#   linux-headers-amd64    its kbuild tree (/lib/modules/*/build)
#   linux-source-6.1       kselftest.h and kselftest_harness.h
#   qemu-system-x86        the test VM (TCG; 9p host sharing is built in)
#   busybox-static, cpio   the VM's tiny initramfs
#   kmod                   modinfo/insmod/rmmod (host and guest)
#   util-linux             flock, chroot, ... ; procps: ps, pgrep, sysctl
#   xz-utils, zstd, gzip   unpack linux-source and compressed .ko files
#   liburing-dev           io_uring for the selftests and examples
#   sparse                 `make module C=1` static checking
set -eu

PACKAGES="build-essential linux-image-amd64 linux-headers-amd64 linux-source-6.1
qemu-system-x86 busybox-static cpio kmod util-linux procps xz-utils zstd gzip
liburing-dev sparse"
[ $# -eq 0 ] || PACKAGES="$*"

missing=
for pkg in $PACKAGES; do
	status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
	case $status in
	*" installed") ;;
	*) missing="$missing $pkg" ;;
	esac
done

[ -n "$missing" ] || exit 0

echo "deps: installing:$missing"
if [ "$(id -u)" != 0 ]; then
	echo "deps: need root to install packages; run as root:" >&2
	echo "  apt-get update && apt-get install -y$missing" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086 # word splitting of the package list is wanted
apt-get install -y -q --no-install-recommends \
	-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
	$missing </dev/null
echo "deps: done"
