#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1-or-later OR MIT)
# Run the host unit tests (no VM, no kernel) given as arguments, default
# build/tests/host/*_test, show their TAP output, and print as the last
# line "N passed, N failed" (", N skipped" if any).  A test program that
# crashes, times out (30 s) or exits non-zero without reporting a failure
# counts as one failure.  Exit status 1 if anything failed.
set -u

cd "$(dirname "$0")/../.."
if [ $# -eq 0 ]; then
	set -- build/tests/host/*_test
fi

pass=0 fail=0 skip=0
for t in "$@"; do
	if [ ! -x "$t" ]; then
		echo "# $t: missing"
		fail=$((fail + 1))
		continue
	fi
	out=$(timeout 30 "$t" 2>&1)
	rc=$?
	printf '%s\n' "$out"
	p=$(printf '%s\n' "$out" | grep -cE '^ok [0-9]+' || true)
	s=$(printf '%s\n' "$out" | grep -cE '^ok [0-9]+.*# SKIP' || true)
	f=$(printf '%s\n' "$out" | grep -cE '^not ok [0-9]+' || true)
	p=$((p - s))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "# $t: exit status $rc"
		f=1
	fi
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
done

if [ "$skip" -gt 0 ]; then
	echo "$pass passed, $fail failed, $skip skipped"
else
	echo "$pass passed, $fail failed"
fi
[ "$fail" -eq 0 ]
