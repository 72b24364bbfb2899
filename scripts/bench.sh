#!/bin/bash
# The benchmarks of `make bench`: termite (ioctls, io_uring commands and
# the library) against pipes, Unix seqpacket sockets, POSIX message queues
# and Android binder between two OS processes, and the
# Termite paper's concurrency benchmarks against Erlang, all in one run
# of the test VM.
#
#   scripts/bench.sh               on the host (what `make bench` runs): one
#                                  VM run of `scripts/bench.sh --vm`, then
#                                  the results go to bench/results/
#   scripts/bench.sh --vm DIR      inside the VM: run everything, write
#                                  DIR/results.csv and DIR/meta.env, then
#                                  DIR/RESULTS.md and DIR/*.png
#   scripts/bench.sh --report DIR  remake DIR/RESULTS.md and the PNGs from
#                                  DIR/results.csv (bench/report.py)
#
# Expects the programs of `make bench-build` (build/bench/) and the module.
# Environment: BENCH_REPS (repetitions, default 5), BENCH_QUICK=1 (tiny
# sizes, to try the harness in a minute; results go to build/bench/quick
# instead of bench/results), BENCH_TIMEOUT (VM seconds, default 1500).
#
# results.csv has one line per measurement: TABLE,SYSTEM,PARAM,REP,VALUE,N
# (N: messages, round trips or processes behind VALUE).
set -u

repo=$(cd "$(dirname "$0")/.." && pwd)
reps=${BENCH_REPS:-5}
quick=${BENCH_QUICK:-0}

# ---- on the host ----------------------------------------------------------

host_main() {
	local out=$repo/build/vm/share/bench dest=$repo/bench/results
	local cpu tree rc=0 f

	[ "$quick" = 1 ] && dest=$repo/build/bench/quick
	cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
	tree=$(git -C "$repo" describe --always --dirty 2>/dev/null || echo unknown)
	# The share (build/vm/share) is emptied at boot: the guest makes $out.
	"$repo/scripts/vm-run.sh" --timeout "${BENCH_TIMEOUT:-1500}" \
		--save "$repo/build/bench/last-run" -- \
		env BENCH_REPS="$reps" BENCH_QUICK="$quick" HOST_CPU="$cpu" TREE="$tree" \
		"$repo/scripts/bench.sh" --vm "$out" || rc=$?
	if [ ! -s "$out/results.csv" ]; then
		echo "bench: no results (VM run status $rc); logs in build/bench/last-run/" >&2
		exit 1
	fi
	mkdir -p "$dest"
	rm -f "$dest"/*.png
	for f in "$out"/results.csv "$out"/meta.env "$out"/RESULTS.md "$out"/*.png; do
		[ -f "$f" ] && cp "$f" "$dest/"
	done
	# An interrupted run leaves a CSV but maybe no report: make it here.
	if [ $rc != 0 ] || [ ! -s "$dest/RESULTS.md" ]; then
		echo "bench: the VM run ended with status $rc; reporting what ran"
		report "$dest"
	fi
	rm -f "$dest"/*.gp "$dest"/*.dat
	echo "bench: results in ${dest#"$repo"/}/RESULTS.md"
	exit $rc
}

report() {
	python3 "$repo/bench/report.py" "$1"
}

# ---- in the VM ----------------------------------------------------------------

B=$repo/build/bench
ERL="erl +S 1 +P 2000000"
fails=0

say() {
	printf 'bench: [%4ds] %s\n' "$SECONDS" "$*"
}

# run SECONDS CMD...: run one benchmark program; its CSV lines go to the
# results, everything else to the console.
run() {
	local limit=$1 rc=0
	shift
	timeout -k 5 "$limit" "$@" > "$out/run.tmp" 2>&1 || rc=$?
	grep -E '^[a-z0-9_]+,[a-z-]+,[0-9]+,[0-9]+,[-0-9.]+,[0-9]+$' "$out/run.tmp" >> "$csv"
	grep -vE '^[a-z0-9_]+,[a-z-]+,[0-9]+,[0-9]+,[-0-9.]+,[0-9]+$' "$out/run.tmp"
	if [ $rc != 0 ]; then
		say "FAILED (status $rc): $*"
		fails=$((fails + 1))
	fi
}

erl_run() {
	local limit=$1
	shift
	# shellcheck disable=SC2086 # $ERL holds the emulator flags
	run "$limit" $ERL -noshell -pa "$B/erl" -s paper_bench main "$@" -s init stop
}

vm_main() {
	out=$1
	csv=$out/results.csv
	local sizes="16 64 1024 65536" mechs="termite termite-uring pipe seqpacket mqueue"
	local spawn_n=100000 send_n=100000 send_erl=1000000
	local ring_n=250000 ring_k=1000000 mem_n=1000000 lat_n=2000
	local r s m len n binder=0 notes=
	# List length, then round trips for termite and for Erlang (about
	# 5x faster: more round trips, so that each run lasts long enough).
	local pingpong="0:10000:40000 10:8000:32000 20:6000:24000 50:4000:16000
		100:3000:12000 200:2000:8000 500:1000:4000 1000:1000:4000"

	if [ "$quick" = 1 ]; then
		spawn_n=2000 send_n=2000 send_erl=2000 ring_n=2000 ring_k=10000
		mem_n=10000 lat_n=100 pingpong="0:500:500 1000:50:50"
		notes="- QUICK RUN (BENCH_QUICK=1): tiny sizes, for trying the harness only."
	fi
	mkdir -p "$out" || exit 1
	echo "table,system,param,rep,value,n" > "$csv"
	say "results in $out; $reps repetitions"

	# Large POSIX mqueue messages (64 KiB) need a higher msgsize_max.
	echo 65536 > /proc/sys/fs/mqueue/msgsize_max
	# termite through io_uring: ipc_bench has it when built with liburing.
	if ! "$B/ipc_bench" 2>&1 | grep -q 'termite-uring'; then
		mechs=${mechs/termite-uring /}
		say "ipc_bench was built without liburing: termite-uring left out"
		notes="$notes${notes:+ }- termite (io_uring): not measured (ipc_bench built without liburing)."
	fi
	# Android binder: the Debian kernel has it as a module.
	if modprobe binder_linux devices=binder && [ -c /dev/binder ]; then
		binder=1
	else
		say "no /dev/binder: binder left out"
		notes="$notes${notes:+ }- binder: not measured (modprobe binder_linux failed)."
	fi

	{
		echo "DATE=$(date -u '+%Y-%m-%d %H:%M UTC')"
		echo "KERNEL=$(uname -r)"
		echo "VCPUS=$(nproc)"
		echo "MEM=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
		echo "HOST_CPU=${HOST_CPU:-unknown}"
		echo "TREE=${TREE:-unknown}"
		echo "OTP=$(erl -noshell -eval 'io:format("~s", [erlang:system_info(otp_release)]), halt().')"
		echo "ERTS=$(erl -noshell -eval 'io:format("~s", [erlang:system_info(version)]), halt().')"
		echo "ERL_FLAGS=${ERL#erl } -noshell"
		echo "REPS=$reps"
		echo "LAT_ITERS=$lat_n"
		echo "RING_K=$ring_k"
		echo "NOTES=$notes"
	} > "$out/meta.env"

	# 1. Two OS processes.  Repetitions outermost, so that a slow spell of
	# the VM spreads over every mechanism instead of spoiling one.
	for r in $(seq 1 "$reps"); do
		say "cross-process, repetition $r of $reps"
		for s in $sizes; do
			for m in $mechs; do
				run 60 "$B/ipc_bench" -p -r "$r" -n "$lat_n" "$m" lat "$s"
				run 60 "$B/ipc_bench" -r "$r" -n "$lat_n" "$m" lat "$s"
				run 60 "$B/ipc_bench" -r "$r" "$m" thr "$s"
			done
			if [ $binder = 1 ]; then
				run 60 "$B/binder_bench" -p -r "$r" -n "$lat_n" lat "$s"
				run 60 "$B/binder_bench" -r "$r" -n "$lat_n" lat "$s"
				run 60 "$B/binder_bench" -r "$r" thr "$s"
			fi
			run 60 "$B/lib_ipc_bench" -p -r "$r" -n "$lat_n" lat "$s"
			run 60 "$B/lib_ipc_bench" -r "$r" -n "$lat_n" lat "$s"
			run 60 "$B/lib_ipc_bench" -r "$r" thr "$s"
		done
	done

	# 2. The Termite paper's benchmarks (each program repeats internally).
	# The library twice: io_uring rounds (the default) and one ioctl
	# per operation (TERMITE_URING=0, reported as termite-ioctl).
	say "paper: spawn, send"
	run 300 "$B/paper_bench" spawn "$spawn_n" "$reps"
	run 300 env TERMITE_URING=0 "$B/paper_bench" spawn "$spawn_n" "$reps"
	erl_run 300 spawn "$spawn_n" "$reps"
	run 300 "$B/paper_bench" send "$send_n" "$reps"
	run 300 env TERMITE_URING=0 "$B/paper_bench" send "$send_n" "$reps"
	erl_run 300 send "$send_erl" "$reps"
	say "paper: ring of $ring_n, K = 0"
	run 400 "$B/paper_bench" ring "$ring_n" 0 "$reps"
	run 400 env TERMITE_URING=0 "$B/paper_bench" ring "$ring_n" 0 "$reps"
	erl_run 400 ring "$ring_n" 0 "$reps"
	say "paper: ring of $ring_n, K = $ring_k"
	run 400 "$B/paper_bench" ring "$ring_n" "$ring_k" "$reps"
	run 400 env TERMITE_URING=0 "$B/paper_bench" ring "$ring_n" "$ring_k" "$reps"
	erl_run 400 ring "$ring_n" "$ring_k" "$reps"
	say "paper: ping-pong"
	for s in $pingpong; do
		IFS=: read -r len n m <<< "$s"
		run 300 "$B/paper_bench" pingpong "$len" "$n" "$reps"
		run 300 env TERMITE_URING=0 "$B/paper_bench" pingpong "$len" "$n" "$reps"
		erl_run 300 pingpong "$len" "$m" "$reps"
	done

	# 3. Memory of live processes.
	say "memory: $mem_n live processes"
	run 300 "$B/paper_bench" mem "$mem_n"
	erl_run 300 mem "$mem_n"

	rm -f "$out/run.tmp"
	say "report"
	report "$out" || fails=$((fails + 1))
	say "done; $fails failed"
	[ $fails = 0 ]
}

case ${1:-} in
--vm)
	[ $# = 2 ] || { echo "usage: $0 --vm DIR" >&2; exit 2; }
	vm_main "$2"
	;;
--report)
	[ $# = 2 ] || { echo "usage: $0 --report DIR" >&2; exit 2; }
	report "$2"
	;;
'')
	host_main
	;;
*)
	sed -n '2,/^set -u/{/^set -u/d;s/^# \{0,1\}//;p}' "$0" >&2
	exit 2
	;;
esac
