#!/bin/bash
# The job of one test VM run (copied into the share by scripts/vm-run.sh).
#
# Runs as root inside the VM, chrooted into the host's root file system,
# with the share (results directory, writable, same path as on the host)
# as $1.  It loads the module, runs the command with the repo as cwd,
# copying its output to the console and to $share/output.log, then
# unloads the module.  Results are files in the share:
#   status        the command's exit status (absent: the job never finished)
#   output.log    the command's stdout and stderr
#   error         why the job itself failed (insmod/rmmod), if it did
#   dmesg.log     the kernel log at the end of the run
# No `set -e`: whatever fails, the job must go on to unload the module and
# write its results; failures are recorded explicitly.
set -u

share=$1
# job.env (written by vm-run.sh) sets REPO, MODULE, MODNAME, CMD_TIMEOUT
# and the array CMD.
# shellcheck source=/dev/null
. "$share/job.env"

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8 TERM=dumb
export TERMITE_KO=$MODULE TERMITE_VM=1

say() { echo "vm-job: $*"; }

# Record why the job failed; vm-run.sh fails the run on it.
job_error() {
	say "FAIL: $*"
	echo "$*" >> "$share/error"
}

finish() {
	dmesg > "$share/dmesg.log" 2>&1
	sync
	exit 0
}

cd "$REPO" || { job_error "cannot cd to $REPO"; finish; }

# Load what the module depends on (from the VM kernel's own modules, which
# the host's /lib/modules holds), then the module itself.
deps=$(modinfo -F depends "$MODULE" 2>/dev/null | tr ',' ' ')
for dep in $deps; do
	modprobe "$dep" || job_error "modprobe $dep (needed by $MODNAME) failed"
done
if ! insmod "$MODULE"; then
	job_error "insmod $MODULE failed"
	finish
fi
say "loaded $MODNAME from $MODULE (kernel up $(cut -d' ' -f1 /proc/uptime) s)"
# devtmpfs creates device nodes asynchronously; give a misc device a moment.
if [ "$MODNAME" = termite ]; then
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		[ -e /dev/termite ] && break
		sleep 0.2
	done
	[ -e /dev/termite ] || say "warning: /dev/termite did not appear"
fi

say "running: ${CMD[*]}"
# The output goes to a file in the share, and tail copies it to the console;
# a pipe into tee would hang if the command left a process holding it.
timeout -k 10 "$CMD_TIMEOUT" "${CMD[@]}" </dev/null >"$share/output.log" 2>&1 &
cmdpid=$!
tail -n +1 -f --pid=$cmdpid "$share/output.log" &
tailpid=$!
status=0
wait $cmdpid || status=$?
wait $tailpid
[ "$status" = 124 ] && say "FAIL: the command timed out after $CMD_TIMEOUT s"
echo "$status" > "$share/status"
say "command exited with status $status"

# Processes the command left behind would pin the module; report and kill
# them (everything in user space but init and this script).
for dir in /proc/[0-9]*; do
	pid=${dir#/proc/}
	[ "$pid" = 1 ] || [ "$pid" = $$ ] || [ "$pid" = "$BASHPID" ] && continue
	[ -e "$dir/exe" ] || continue              # kernel thread
	say "warning: the command left pid $pid running: $(tr '\0' ' ' < "$dir/cmdline" 2>/dev/null)"
	kill -KILL "$pid" 2>/dev/null || true
done

# The module must unload: if it does not, a file, an actor or a reference
# leaked, or something still pins it.  Closing files can be deferred a
# little (io_uring tears rings down from a workqueue), so retry for ~5 s.
unloaded=
for _ in $(seq 1 25); do
	if rmmod "$MODNAME" 2>/dev/null; then
		unloaded=1
		break
	fi
	sleep 0.2
done
if [ -n "$unloaded" ]; then
	say "unloaded $MODNAME"
else
	refcnt=$(cat "/sys/module/$MODNAME/refcnt" 2>/dev/null || echo '?')
	rmmod "$MODNAME" 2>&1 | sed 's/^/vm-job: /'
	job_error "rmmod $MODNAME failed after the command (refcnt $refcnt): something leaked or still pins the module"
	# Show which processes still hold the device open, if any.
	for fd in /proc/[0-9]*/fd/*; do
		case $(readlink "$fd" 2>/dev/null) in
		*termite*)
			pid=${fd#/proc/}
			pid=${pid%%/*}
			say "  pid $pid ($(cat "/proc/$pid/comm" 2>/dev/null)) holds $(readlink "$fd")"
			;;
		esac
	done
fi
finish
