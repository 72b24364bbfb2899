#!/bin/bash
# The test part of `make check`: run the host tests of libtermite-user
# (tests/host/run.sh), then selftests/run.sh in the VM, and print as the
# very last line the total "N passed, N failed" (", N skipped").
#
# The counts are both runners', summed over all suites.  A failed VM run (kernel
# warning/BUG on the console, module that would not unload, timeout, crash)
# adds one failure, so the closing line never reads "0 failed" for a run
# that failed.  Exit status: 0 only if nothing failed.
#
# Environment: SUITES, SUITE_TIMEOUT (passed on to run.sh), VM_TIMEOUT
# (seconds for the whole VM run, default 600, which keeps a hung run plus
# a first-time package install well under 20 minutes).
set -eu

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
# This run's results (vm-run.sh --save), so that nothing stale is read.
results=build/check
rm -rf "$results" build/check-summary
mkdir -p build

# The host tests of libtermite-user first: they need no VM.
host_line=
if ls build/tests/host/*_test >/dev/null 2>&1; then
	tests/host/run.sh > build/host-check.log 2>&1 || true
	cat build/host-check.log
	host_line=$(grep -aE '^[0-9]+ passed, [0-9]+ failed' build/host-check.log | tail -n 1 || true)
	[ -n "$host_line" ] || host_line="0 passed, 1 failed"
fi

rc=0
scripts/vm-run.sh --timeout "${VM_TIMEOUT:-600}" --save "$results" -- \
	env SUITES="${SUITES:-}" SUITE_TIMEOUT="${SUITE_TIMEOUT:-300}" \
	selftests/run.sh || rc=$?

# run.sh's own closing line, from the command's output kept in the share.
line=$(grep -aE '^[0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?$' \
	"$results/output.log" 2>/dev/null | tail -n 1 || true)
passed=0 failed=0 skipped=0
if [ -n "$line" ]; then
	passed=$(echo "$line" | sed -E 's/^([0-9]+) passed.*/\1/')
	failed=$(echo "$line" | sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/')
	case $line in
	*skipped) skipped=$(echo "$line" | sed -E 's/.*, ([0-9]+) skipped$/\1/') ;;
	esac
fi

if [ -s "$results/vm-error" ]; then
	echo "check: the VM run failed (counted as 1 failure):"
	sed 's/^/check:   /' "$results/vm-error"
	failed=$((failed + 1))
elif [ -z "$line" ]; then
	echo "check: selftests/run.sh printed no summary (exit status $rc); counted as 1 failure"
	failed=$((failed + 1))
elif [ "$rc" != 0 ] && [ "$failed" = 0 ]; then
	echo "check: the VM run exited with status $rc; counted as 1 failure"
	failed=$((failed + 1))
fi

# Add the host tests' counts.
if [ -n "$host_line" ]; then
	hp=$(echo "$host_line" | sed -E 's/^([0-9]+) passed.*/\1/')
	hf=$(echo "$host_line" | sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/')
	hs=0
	case $host_line in
	*skipped) hs=$(echo "$host_line" | sed -E 's/.*, ([0-9]+) skipped$/\1/') ;;
	esac
	passed=$((passed + hp)) failed=$((failed + hf)) skipped=$((skipped + hs))
fi

summary="$passed passed, $failed failed"
[ "$skipped" = 0 ] || summary="$summary, $skipped skipped"
# Kept for .ci/run, which repeats it after make's own error line.
echo "$summary" > build/check-summary
echo "$summary"
[ "$failed" = 0 ]
