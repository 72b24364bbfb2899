#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The libtermite-user suites (paper_test, runtime_test, behaviour_test,
# local_test) again, with TERMITE_URING=0: schedulers then use the ioctl
# interface (READY, poll(), one ioctl per send and receive) instead of
# io_uring, the path taken on kernels or modules without io_uring
# commands.  Their TAP results are renumbered into one plan.
set -u
cd "$(dirname "$0")/../.."
export TERMITE_URING=0
n=0
for t in paper_test runtime_test behaviour_test local_test; do
	prog=build/selftests/$t
	if [ ! -x "$prog" ]; then
		n=$((n + 1))
		echo "not ok $n $t (ioctl): not built"
		continue
	fi
	out=$("$prog" 2>&1)
	rc=$?
	plan=$(printf '%s\n' "$out" | sed -n 's/^1\.\.\([0-9]*\).*/\1/p' | head -n 1)
	got=0
	while IFS= read -r line; do
		case $line in
		"ok "*|"not ok "*)
			n=$((n + 1))
			got=$((got + 1))
			status=${line%% [0-9]*}
			rest=${line#"$status "}
			echo "$status $n $t (ioctl): ${rest#* }"
			;;
		"#"*) echo "$line" ;;
		esac
	done <<<"$out"
	# A crash or a short run counts once as a failure.
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 4 ] || [ "$got" -lt "${plan:-0}" ]; then
		n=$((n + 1))
		echo "not ok $n $t (ioctl): exit status $rc, $got of ${plan:-?} results"
	fi
done
echo "1..$n"
