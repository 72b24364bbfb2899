#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# termite selftest: loading and unloading termite.ko (TAP output).
#
# Run as root, with the module loaded, and TERMITE_KO set to the absolute
# path of termite.ko (scripts/vm-run.sh exports it).  Checks that:
#   - the module cannot be removed while /dev/termite is open, by this
#     shell or by another process, and can be once it is closed;
#   - removing it removes /dev/termite and /sys/module/termite;
#   - out-of-bound parameters make insmod fail (and leave nothing loaded);
#   - in-bound parameters are taken, the defaults are the documented ones;
#   - after a reload /dev/termite is there again (mode 0666) and opens.
# The module is left loaded at the end.

set -u

MOD=termite
DEV=/dev/termite
SYS=/sys/module/$MOD
KO=${TERMITE_KO:-}

PLAN=25
n=0
failed=0

ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
# check DESCRIPTION COMMAND...: one test point from a command's status
check() {
	local desc=$1
	shift
	if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}
diag() { echo "# $*"; }

# wait_for CONDITION...: poll a condition for up to ~5 s
wait_for() {
	for _ in $(seq 1 50); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

loaded() { [ -d "$SYS" ]; }
unloaded() { [ ! -e "$SYS" ]; }
dev_present() { [ -c "$DEV" ]; }
dev_absent() { [ ! -e "$DEV" ]; }
can_open() { (exec 5<>"$DEV") 2>/dev/null; }
# holds_dev PID FD: process PID has /dev/termite open as FD
holds_dev() { [ "$(readlink "/proc/$1/fd/$2" 2>/dev/null)" = "$DEV" ]; }

param_is() { [ "$(cat "$SYS/parameters/$1" 2>/dev/null)" = "$2" ]; }

# insmod_refused PARAM=VALUE: insmod fails and leaves no module behind
insmod_refused() {
	if insmod "$KO" "$1" 2>/dev/null; then
		diag "insmod $1 was accepted"
		rmmod "$MOD" 2>/dev/null
		return 1
	fi
	unloaded
}

echo "TAP version 13"
if [ "$(id -u)" != 0 ]; then
	echo "1..0 # SKIP must run as root"
	exit 4
fi
if [ -z "$KO" ] || [ ! -f "$KO" ]; then
	echo "1..0 # SKIP TERMITE_KO (absolute path of termite.ko) not set or missing"
	exit 4
fi
echo "1..$PLAN"

# 1-3: the starting state
if ! loaded; then
	diag "module not loaded at start; loading $KO"
	insmod "$KO"
fi
check "module is loaded" loaded
check "$DEV is a character device" wait_for dev_present
check "$DEV has mode 0666" test "$(stat -c %a "$DEV" 2>/dev/null)" = 666

# 4-6: this shell holds the device open
if exec 3<>"$DEV"; then
	ok "open $DEV"
else
	not_ok "open $DEV"
fi
if rmmod "$MOD" 2>/dev/null; then
	not_ok "rmmod refused while this shell holds $DEV open"
	insmod "$KO"
else
	ok "rmmod refused while this shell holds $DEV open"
fi
exec 3>&-
check "module still loaded and usable after the refused rmmod" \
	eval 'loaded && can_open'

# 7-9: another process holds the device open
sleep 60 4<>"$DEV" &
holder=$!
check "a background process holds $DEV open" wait_for holds_dev "$holder" 4
if rmmod "$MOD" 2>/dev/null; then
	not_ok "rmmod refused while another process holds $DEV open"
	insmod "$KO"
else
	ok "rmmod refused while another process holds $DEV open"
fi
kill "$holder" 2>/dev/null
wait "$holder" 2>/dev/null
check "module still loaded after the holder exited" loaded

# 10-12: nothing holds it: it goes, with its device
check "rmmod succeeds once $DEV is closed" rmmod "$MOD"
check "$SYS is gone" wait_for unloaded
check "$DEV is gone" wait_for dev_absent

# 13-18: out-of-bound parameters are refused
check "insmod max_msg_size=1 fails" insmod_refused max_msg_size=1
check "insmod max_msg_size=67108865 fails" insmod_refused max_msg_size=67108865
check "insmod max_queue_len=15 fails" insmod_refused max_queue_len=15
check "insmod port_quota=65535 fails" insmod_refused port_quota=65535
check "insmod max_actors=0 fails" insmod_refused max_actors=0
check "insmod max_links=16777217 fails" insmod_refused max_links=16777217

# 19: in-bound parameters are taken
if insmod "$KO" max_queue_len=32 max_links=16 2>/dev/null; then
	check "insmod max_queue_len=32 max_links=16 takes the values" \
		eval 'param_is max_queue_len 32 && param_is max_links 16'
	rmmod "$MOD" || diag "rmmod after the parameter test failed"
	wait_for unloaded
else
	not_ok "insmod max_queue_len=32 max_links=16 takes the values"
fi

# 20-25: a plain reload works, with the documented defaults
check "insmod $KO succeeds again" insmod "$KO"
check "$DEV is back" wait_for dev_present
check "$DEV has mode 0666 after the reload" \
	test "$(stat -c %a "$DEV" 2>/dev/null)" = 666
check "$DEV opens after the reload" can_open
check "default max_msg_size, max_queue_len, max_actors are 1048576, 65536, 1048576" \
	eval 'param_is max_msg_size 1048576 && param_is max_queue_len 65536 && param_is max_actors 1048576'
check "default port_quota, max_links are 268435456, 65536" \
	eval 'param_is port_quota 268435456 && param_is max_links 65536'

# Leave the module loaded for the runner, whatever happened.
if ! loaded; then
	diag "module not loaded at the end; loading it again"
	insmod "$KO" || diag "insmod failed"
fi

if [ "$n" != "$PLAN" ]; then
	diag "ran $n tests, planned $PLAN"
	failed=$((failed + 1))
fi
diag "$((n - failed)) passed, $failed failed"
[ "$failed" = 0 ]
