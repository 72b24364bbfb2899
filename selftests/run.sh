#!/bin/bash
# Run every termite selftest suite and print one summary line.
#
# Meant to run inside the test VM, with the module loaded:
#   scripts/vm-run.sh -- selftests/run.sh      (what `make check` does)
#
# Suites: every executable in build/selftests/ (built by `make selftests`
# from selftests/termite/*.c), then every selftests/termite/*.sh, in sorted
# order, each under `timeout $SUITE_TIMEOUT` (default 300 s).  Their TAP
# output is shown as it comes.  Counting, per suite:
#   "ok N ..."                      passed ("# SKIP" in it: skipped)
#   "not ok N ..."                  failed ("# SKIP" in it: skipped)
#   fewer results than the plan     each missing result is a failure
#   no plan, killed or crashed      one failure
#   no TAP at all                   one result from the exit status
#                                   (0 passed, 4 = KSFT_SKIP skipped)
# The last line is "N passed, N failed" (", N skipped" if any).  Exit
# status 1 if anything failed (a SUITES entry that does not exist fails).
#
# Environment: SUITE_TIMEOUT (seconds per suite), SUITES (space-separated
# names or paths to run instead of all, e.g. SUITES="actor_test").
set -eu

cd "$(dirname "$0")/.."
export LC_ALL=C
suite_timeout=${SUITE_TIMEOUT:-300}

suites=()
if [ -n "${SUITES:-}" ]; then
	for s in $SUITES; do
		case $s in
		*/*) suites+=("$s") ;;
		*.sh) suites+=("selftests/termite/$s") ;;
		*) suites+=("build/selftests/$s") ;;
		esac
	done
else
	for s in build/selftests/*; do
		[ -f "$s" ] && [ -x "$s" ] && suites+=("$s")
	done
	for s in selftests/termite/*.sh; do
		[ -f "$s" ] && suites+=("$s")
	done
fi

[ -e /dev/termite ] || echo "# warning: /dev/termite does not exist (module not loaded?)"

logdir=$(mktemp -d)
trap 'rm -rf "$logdir"' EXIT

total_pass=0
total_fail=0
total_skip=0

# count LOG RC: print "pass fail skip" for one suite's output and status.
count() {
	awk -v rc="$2" '
	/^1\.\.[0-9]+/ {
		if (plan == "") { plan = substr($1, 4) + 0; if (plan == 0) planskip = 1 }
		next
	}
	/^(not )?ok [0-9]+/ {
		results++
		if ($0 ~ /#[ \t]*[Ss][Kk][Ii][Pp]/) skip++
		else if ($1 == "ok") pass++
		else fail++
		next
	}
	END {
		crashed = (rc != 0 && rc != 4)
		if (plan == "") {
			if (results == 0) {
				if (rc == 0) pass++
				else if (rc == 4) skip++
				else fail++
			} else if (crashed) {
				fail++
			}
		} else {
			if (planskip && results == 0 && !crashed) skip++
			if (results < plan) fail += plan - results
			if (crashed && fail == 0) fail++
		}
		printf "%d %d %d\n", pass, fail, skip
	}' "$1"
}

for suite in "${suites[@]}"; do
	name=$(basename "$suite")
	log=$logdir/$name.log
	echo "# ===== $suite"
	if [ ! -e "$suite" ]; then
		echo "# no such suite: $suite"
		total_fail=$((total_fail + 1))
		continue
	fi
	case $suite in
	*.sh) cmd=(bash "$suite") ;;
	*) cmd=("$suite") ;;
	esac

	# Output to a file, shown by tail: a pipe would hang if the suite
	# left a process behind holding it.
	timeout -k 10 "$suite_timeout" "${cmd[@]}" </dev/null >"$log" 2>&1 &
	pid=$!
	tail -n +1 -f --pid=$pid "$log" &
	tailpid=$!
	rc=0
	wait $pid || rc=$?
	wait $tailpid || true

	if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
		echo "# $name: timed out after $suite_timeout s"
	elif [ "$rc" -gt 128 ]; then
		echo "# $name: killed by signal $((rc - 128))"
	fi

	read -r p f s <<<"$(count "$log" "$rc")"
	echo "# $name: $p passed, $f failed, $s skipped (exit status $rc)"
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
	total_skip=$((total_skip + s))
done

[ ${#suites[@]} -gt 0 ] || echo "# no test suites found (build/selftests/ is empty; run make selftests)"

summary="$total_pass passed, $total_fail failed"
[ "$total_skip" = 0 ] || summary="$summary, $total_skip skipped"
echo "$summary"
[ "$total_fail" = 0 ]
