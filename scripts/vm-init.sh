#!/bin/busybox sh
# shellcheck shell=dash disable=SC2013
# /init of the test VM's initramfs (built by scripts/vm-run.sh).
#
# Runs as PID 1 under busybox.  It loads the virtio and 9p drivers (modules
# in Debian's kernel, listed in /modules.list in load order), mounts the
# host's root file system (9p tag "host", read-only) under an overlay so
# that it is writable in RAM, mounts the writable results share (9p tag
# "share") at the same path it has on the host, mounts the API file
# systems, then chroots into the host's root and runs the job script that
# vm-run.sh left in the share.  Whatever happens, it powers the VM off.
#
# Parameters come from the kernel command line:
#   termite_share=PATH   host path of the share (also its path in the guest)
#
# No `set -e`: if PID 1 exits the kernel panics; every failure is handled
# explicitly instead, and ends in a power-off.
set -u

/bin/busybox mkdir -p /bin /proc /sys /dev /host /lower /upper
/bin/busybox --install -s /bin
export PATH=/bin

say() { echo "vm-init: $*"; }

# Power off now: QEMU was started with -no-reboot and exits.  A status
# file that was not written tells vm-run.sh that the job did not finish.
poweroff_now() {
	sync
	echo o > /proc/sysrq-trigger
	while :; do sleep 1; done
}

die() {
	say "FATAL: $*"
	poweroff_now
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
# The kernel gave us /dev/console only if the initramfs had the node
# (vm-run.sh makes it when it can); make sure our output goes there.
exec </dev/console >/dev/console 2>&1

share=
for arg in $(cat /proc/cmdline); do
	case $arg in
	termite_share=*) share=${arg#termite_share=} ;;
	esac
done
[ -n "$share" ] || die "no termite_share= on the kernel command line"

for ko in $(cat /modules.list); do
	insmod "/lib/modules/$ko" || die "insmod $ko failed"
done

p9="trans=virtio,version=9p2000.L,msize=262144"

# The host's root: 9p read-only, plus an overlay with its upper layer in
# RAM, so that tests may write anywhere (/tmp, $HOME, the repo) without
# touching the host.  Every write is thrown away at power-off.
mount -t 9p -o "$p9,ro,cache=loose" host /lower || die "cannot mount the host's root (9p)"
mount -t tmpfs -o mode=0755 tmpfs /upper || die "cannot mount tmpfs"
mkdir -p /upper/data /upper/work
mount -t overlay -o lowerdir=/lower,upperdir=/upper/data,workdir=/upper/work \
	overlay /host || die "cannot mount the overlay root"

# API file systems of the chroot.  /tmp stays the overlay's (writable,
# and the repo or module may live under the host's /tmp).
mount -t proc proc /host/proc
mount -t sysfs sysfs /host/sys
mount -t devtmpfs devtmpfs /host/dev
mkdir -p /host/dev/pts /host/dev/shm
ln -sf /proc/self/fd /host/dev/fd
ln -sf /proc/self/fd/0 /host/dev/stdin
ln -sf /proc/self/fd/1 /host/dev/stdout
ln -sf /proc/self/fd/2 /host/dev/stderr
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /host/dev/pts
mount -t tmpfs -o mode=1777 tmpfs /host/dev/shm
mount -t tmpfs -o mode=0755 tmpfs /host/run
mount -t debugfs debugfs /host/sys/kernel/debug 2>/dev/null || true
mount -t tracefs tracefs /host/sys/kernel/tracing 2>/dev/null || true

# The results share: writable, and at the same path as on the host.
mkdir -p "/host$share"
mount -t 9p -o "$p9" share "/host$share" || die "cannot mount the share (9p)"

say "running $share/job.sh"
chroot /host /bin/bash "$share/job.sh" "$share"
say "job script exited with status $?"
poweroff_now
