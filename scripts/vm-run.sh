#!/bin/bash
# Run a command as root inside a throw-away QEMU VM that boots the Debian
# kernel whose headers we build against, with our module loaded.
#
#   scripts/vm-run.sh [--smp N] [--mem SIZE] [--timeout SEC] [--module PATH] \
#                     [--save DIR] -- COMMAND [ARG...]
#
# The guest sees the host's whole root file system (9p, read-only, with a
# RAM overlay on top so it is writable inside the VM) and runs COMMAND
# chrooted into it, with the repo as cwd, so every host program and every
# build product works unchanged.  Steps:
#   1. build (or reuse) build/vm/initramfs-KVER.cpio.gz: busybox, the
#      virtio/9p/overlay modules of the VM kernel and scripts/vm-init.sh;
#   2. fill the share build/vm/share/ (a second, writable 9p export, at the
#      same path in the guest): a copy of the module, the job script
#      (scripts/vm-job.sh) and job.env describing the command;
#   3. boot; the guest insmods the module, runs COMMAND (output to the
#      console and to share/output.log), rmmods the module, powers off;
#   4. check: the command's exit status (share/status, never QEMU's exit
#      code), the rmmod, and the serial console (build/vm/console.log) and
#      dmesg for kernel warnings, BUGs, oopses, lockups...
# Exit status: COMMAND's status if the VM run itself was clean; otherwise
# non-zero (COMMAND's status if it failed, 124 on timeout, else 1), with
# the reason printed and also written to build/vm/vm-error.
# --save DIR copies the results of this run (output.log, status, dmesg.log,
# console.log, vm-error) into DIR, which is safe from the next run.
#
# Environment: KVER (VM kernel version; default: scripts/kver.sh),
# VM_ACCEL (tcg (default) or kvm).
# TERMITE_KO is exported to COMMAND: the module's path inside the VM.
set -eu

usage() {
	sed -n '2,/^set -eu/{/^set -eu/d;s/^# \{0,1\}//;p}' "$0" >&2
	exit "${1:-2}"
}

die() {
	echo "vm-run: error: $*" >&2
	exit 1
}

repo=$(cd "$(dirname "$0")/.." && pwd)
smp=2
mem=4G
timeout=900
module=$repo/kmod/termite.ko
save=

while [ $# -gt 0 ]; do
	case $1 in
	--smp) smp=${2:?}; shift 2 ;;
	--mem) mem=${2:?}; shift 2 ;;
	--timeout) timeout=${2:?}; shift 2 ;;
	--module) module=${2:?}; shift 2 ;;
	--save) save=${2:?}; shift 2 ;;
	--) shift; break ;;
	-h|--help) usage 0 ;;
	*) echo "vm-run: unknown option: $1" >&2; usage ;;
	esac
done
[ $# -gt 0 ] || usage
case $timeout in ''|*[!0-9]*) die "--timeout wants seconds, got '$timeout'" ;; esac

KVER=${KVER:-$("$repo/scripts/kver.sh" || true)}
[ -n "$KVER" ] || die "no VM kernel: install linux-image-amd64 and linux-headers-amd64 (scripts/deps.sh)"
kernel=/boot/vmlinuz-$KVER
[ -r "$kernel" ] || die "cannot read $kernel"

vmdir=$repo/build/vm
share=$vmdir/share
console=$vmdir/console.log
case "$repo" in *[[:space:]]*) die "the repo path must not contain spaces: $repo" ;; esac

[ -f "$module" ] || die "no module at $module (build it first: make module)"
module=$(realpath "$module")
modname=$(modinfo -F name "$module" 2>/dev/null || true)
[ -n "$modname" ] || modname=$(basename "$module" .ko)
vermagic=$(modinfo -F vermagic "$module" 2>/dev/null | cut -d' ' -f1)
[ "$vermagic" = "$KVER" ] ||
	die "$module was built for kernel '$vermagic' but the VM boots $KVER (make module KVER=$KVER)"

mkdir -p "$vmdir"
# One VM run at a time per checkout: they share build/vm/share.
exec 9>"$vmdir/lock"
if ! flock -n 9; then
	echo "vm-run: another VM run holds $vmdir/lock; waiting"
	flock 9
fi

# --- 1. the initramfs ---------------------------------------------------

# Print the .ko files that NAME... need, dependencies first (modinfo -k
# reads the VM kernel's modules.dep, not the running kernel's).
seen=" "
module_order() {
	local name file dep
	for name in "$@"; do
		case $seen in *" $name "*) continue ;; esac
		seen="$seen$name "
		for dep in $(modinfo -k "$KVER" -F depends "$name" | tr ',' ' '); do
			module_order "$dep"
		done
		file=$(modinfo -k "$KVER" -F filename "$name")
		case $file in
		/*) echo "$file" ;;     # a module file
		*) ;;                   # "(builtin)": nothing to load
		esac
	done
}

build_initramfs() {
	local initrd=$1 stage=$vmdir/initramfs-stage
	local busybox=/bin/busybox mods sum f base
	[ -x "$busybox" ] || die "no $busybox (apt-get install busybox-static)"
	# virtio_pci: the PCI transport; 9pnet_virtio + 9p: the file system;
	# overlay: the writable layer over the read-only host root.
	mods=$(module_order virtio_pci 9pnet_virtio 9p overlay) ||
		die "cannot find the virtio/9p modules of $KVER"

	# Rebuild only when an input changed.
	sum=$({
		echo "$KVER"
		cat "$repo/scripts/vm-init.sh" "$0"
		# shellcheck disable=SC2086
		stat -L -c '%n %s %Y' "$busybox" $mods
	} | sha256sum | cut -d' ' -f1)
	if [ -f "$initrd" ] && [ "$(cat "$initrd.stamp" 2>/dev/null)" = "$sum" ]; then
		return
	fi

	echo "vm-run: building $(basename "$initrd")"
	rm -rf "$stage"
	mkdir -p "$stage/bin" "$stage/dev" "$stage/lib/modules"
	cp "$busybox" "$stage/bin/busybox"
	install -m 0755 "$repo/scripts/vm-init.sh" "$stage/init"
	: > "$stage/modules.list"
	for f in $mods; do
		base=$(basename "$f")
		case $f in
		*.ko.xz) base=${base%.xz}; xz -dc "$f" > "$stage/lib/modules/$base" ;;
		*.ko.zst) base=${base%.zst}; zstd -qdc "$f" > "$stage/lib/modules/$base" ;;
		*.ko.gz) base=${base%.gz}; gzip -dc "$f" > "$stage/lib/modules/$base" ;;
		*) cp "$f" "$stage/lib/modules/$base" ;;
		esac
		echo "$base" >> "$stage/modules.list"
	done
	# The kernel opens /dev/console for init before devtmpfs is mounted.
	mknod "$stage/dev/console" c 5 1 2>/dev/null || true
	(cd "$stage" && find . -print0 | cpio --null -o -H newc -R 0:0 --quiet) |
		gzip -1 > "$initrd.tmp"
	mv "$initrd.tmp" "$initrd"
	echo "$sum" > "$initrd.stamp"
	rm -rf "$stage"
}

initrd=$vmdir/initramfs-$KVER.cpio.gz
build_initramfs "$initrd"

# --- 2. the share ---------------------------------------------------------

rm -rf "$share" "$vmdir/vm-error"
mkdir -p "$share"
# A copy of the module in the share: visible in the guest whatever the
# module's own path is.
cp "$module" "$share/"
cp "$repo/scripts/vm-job.sh" "$share/job.sh"
# The command gets a little less time than the VM, so that on a hang the
# guest still unloads the module and reports.
cmd_timeout=$((timeout > 120 ? timeout - 60 : timeout * 3 / 4))
{
	printf 'REPO=%q\n' "$repo"
	printf 'MODULE=%q\n' "$share/$(basename "$module")"
	printf 'MODNAME=%q\n' "$modname"
	printf 'CMD_TIMEOUT=%q\n' "$cmd_timeout"
	printf 'CMD=('
	printf ' %q' "$@"
	printf ' )\n'
} > "$share/job.env"

# --- 3. boot ----------------------------------------------------------------

accel=${VM_ACCEL:-tcg}
case $accel in
tcg) accel_args="-accel tcg -cpu max" ;;
kvm) accel_args="-accel kvm -cpu host" ;;
*) die "VM_ACCEL must be tcg or kvm" ;;
esac

p9opts="security_model=none,multidevs=remap"
: > "$console"
echo "vm-run: booting $KVER ($accel, $smp CPUs, $mem) to run: $*"
start=$(date +%s.%N)
# shellcheck disable=SC2086
timeout -k 10 "$timeout" qemu-system-x86_64 \
	$accel_args -smp "$smp" -m "$mem" \
	-nodefaults -display none -no-reboot \
	-serial "file:$console" \
	-kernel "$kernel" -initrd "$initrd" \
	-append "console=ttyS0 panic=-1 loglevel=5 printk.time=1 termite_share=$share" \
	-virtfs "local,path=/,mount_tag=host,readonly=on,$p9opts" \
	-virtfs "local,path=$share,mount_tag=share,$p9opts" \
	</dev/null >"$vmdir/qemu.log" 2>&1 &
qpid=$!
# timeout(1) runs QEMU in its own process group, out of reach of a Ctrl-C
# or a kill of ours: stop it ourselves if we are interrupted.
trap 'kill $qpid 2>/dev/null; exit 130' INT TERM HUP
trap 'kill $qpid 2>/dev/null || true' EXIT

# Show the console as it grows (it is also kept in build/vm/console.log).
tail -n +1 -F --pid=$qpid "$console" 2>/dev/null | tr -d '\r' &
tailpid=$!

rc=0
wait $qpid || rc=$?
wait $tailpid 2>/dev/null || true
end=$(date +%s.%N)
elapsed=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')

# --- 4. verdict -------------------------------------------------------------

problems=
problem() {
	echo "vm-run: FAIL: $*" >&2
	problems="$problems$*
"
}

if [ $rc = 124 ] || [ $rc = 137 ]; then
	problem "the VM did not finish within $timeout s and was killed"
elif [ $rc != 0 ]; then
	problem "qemu failed (exit status $rc): $(tail -n 5 "$vmdir/qemu.log")"
fi

# Kernel trouble: only kernel lines (they carry a [ seconds.micros ]
# timestamp), so that the command's own output cannot trigger this.
bad='WARNING:|BUG:|Oops|lockdep|KASAN|UBSAN:|general protection|kernel BUG|refcount_t:|list_add corruption|list_del corruption|hung_task|blocked for more than|soft lockup|detected stall|Kernel panic'
kernel_lines=$(cat "$console" "$share/dmesg.log" 2>/dev/null | tr -d '\r' |
	grep -aE "\[ *[0-9]+\.[0-9]+\].*($bad)" | awk '!seen[$0]++' || true)
if [ -n "$kernel_lines" ]; then
	echo "vm-run: kernel problems on the console:" >&2
	printf '%s\n' "$kernel_lines" | sed 's/^/vm-run:   /' >&2
	problem "the kernel logged warnings/bugs (see $console)"
fi

if [ -s "$share/error" ]; then
	problem "$(cat "$share/error")"
fi

status=
if [ -f "$share/status" ]; then
	status=$(cat "$share/status")
elif [ $rc = 0 ]; then
	problem "the job did not finish (no status in the share); see $console"
fi

echo "vm-run: VM ran for $elapsed s; console log: $console"
[ -n "$status" ] && echo "vm-run: command exit status: $status"

[ -z "$problems" ] || printf '%s' "$problems" > "$vmdir/vm-error"
if [ -n "$save" ]; then
	mkdir -p "$save"
	for f in "$share/output.log" "$share/status" "$share/dmesg.log" \
		"$console" "$vmdir/vm-error"; do
		[ ! -f "$f" ] || cp "$f" "$save/"
	done
fi

if [ -n "$problems" ]; then
	if [ -n "$status" ] && [ "$status" != 0 ]; then
		exit "$status"
	fi
	[ $rc = 124 ] || [ $rc = 137 ] && exit 124
	exit 1
fi
exit "$status"
