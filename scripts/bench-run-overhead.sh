#!/usr/bin/env bash
# The `sevemu run` benchmark of docs/performance.md (not run in CI): the cost of the seccomp
# filter for a program that touches no device (stat + open + read + close of 10,000 small
# files, plain vs under `sevemu run`), and attestation reports per second under `sevemu run`
# vs the preload shim. Each configuration runs ROUNDS times, interleaved; medians are printed.
#
#   scripts/bench-run-overhead.sh [ROUNDS]        (default 9)
#
# Environment: FILES (10000), REPORTS (300).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-9}
FILES=${FILES:-10000}
REPORTS=${REPORTS:-300}
cmake --preset release >/dev/null
cmake --build --preset release --target sevemu sevemu-preload bench_syscall
SEVEMU=$PWD/build/release/frontends/cli/sevemu
SHIM=$PWD/build/release/frontends/shim/libsevemu-preload.so
BENCH=$PWD/build/release/bench/bench_syscall

T=$(mktemp -d)
SERVE=
cleanup() { [[ -n $SERVE ]] && kill "$SERVE" 2>/dev/null; wait 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
export SEVEMU_SOCKET=$T/s.sock
"$SEVEMU" serve --state "$T/state" --socket "$SEVEMU_SOCKET" --seed 01 2>"$T/serve.log" &
SERVE=$!
for _ in $(seq 100); do [[ -S $SEVEMU_SOCKET ]] && break; sleep 0.1; done
"$SEVEMU" guest launch bench >/dev/null

# The value of KEY= in the one line the workload prints.
field() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p"; }
median() { sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }

"$BENCH" files "$T/files" "$FILES" >/dev/null  # make the files, warm the cache
: >"$T/plain"; : >"$T/run"; : >"$T/shim_r"; : >"$T/run_r"
for _ in $(seq "$ROUNDS"); do
  "$BENCH" files "$T/files" "$FILES" | field seconds >>"$T/plain"
  "$SEVEMU" run -- "$BENCH" files "$T/files" "$FILES" | field seconds >>"$T/run"
  SEVEMU_GUEST=bench LD_PRELOAD=$SHIM "$BENCH" reports "$REPORTS" | field per_second >>"$T/shim_r"
  "$SEVEMU" run --guest bench -- "$BENCH" reports "$REPORTS" | field per_second >>"$T/run_r"
done
plain=$(median <"$T/plain"); run=$(median <"$T/run")
shim_r=$(median <"$T/shim_r"); run_r=$(median <"$T/run_r")
echo "files ($FILES x stat+open+read+close), median of $ROUNDS, seconds:"
echo "  plain        $plain   (all: $(tr '\n' ' ' <"$T/plain"))"
echo "  sevemu run   $run   (all: $(tr '\n' ' ' <"$T/run"))"
awk -v a="$plain" -v b="$run" 'BEGIN {printf "  overhead     %+.1f%%  (%.1f us per notified call, 2 per file)\n", (b/a-1)*100, (b-a)/(2*'"$FILES"')*1e6}'
echo "reports ($REPORTS x SNP_GET_REPORT on one descriptor), median of $ROUNDS, per second:"
echo "  shim         $shim_r   (all: $(tr '\n' ' ' <"$T/shim_r"))"
echo "  sevemu run   $run_r   (all: $(tr '\n' ' ' <"$T/run_r"))"
awk -v a="$shim_r" -v b="$run_r" 'BEGIN {printf "  run / shim   %.1f%%\n", b/a*100}'
