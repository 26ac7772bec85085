#!/usr/bin/env bash
# The `sevemu run` benchmark of docs/performance.md (not run in CI): the cost of the seccomp
# filter for a program that touches no device (stat + open + read + close of 10,000 small
# files, plain vs under `sevemu run` in its namespace mode and in its notify mode), and
# attestation reports per second under `sevemu run` (both modes) vs the preload shim. Each
# configuration runs ROUNDS times, interleaved; medians are printed.
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
: >"$T/shim_r"; : >"$T/notify_r"; : >"$T/ns_r"
for k in plain ns notify; do : >"$T/$k"; : >"$T/$k.cpu"; done
# The workload's line: wall seconds to $1, CPU seconds to $1.cpu.
files() {
  local line
  line=$("${@:2}" files "$T/files" "$FILES")
  field seconds <<<"$line" >>"$T/$1"
  field cpu_seconds <<<"$line" >>"$T/$1.cpu"
}
for _ in $(seq "$ROUNDS"); do
  files plain "$BENCH"
  files ns "$SEVEMU" run --mode namespace -- "$BENCH"
  files notify "$SEVEMU" run --mode notify -- "$BENCH"
  SEVEMU_GUEST=bench LD_PRELOAD=$SHIM "$BENCH" reports "$REPORTS" | field per_second >>"$T/shim_r"
  # An SNP guest: the default mode there is notify (configfs-tsm).
  "$SEVEMU" run --guest bench -- "$BENCH" reports "$REPORTS" | field per_second >>"$T/notify_r"
  "$SEVEMU" run --guest bench --mode namespace -- "$BENCH" reports "$REPORTS" |
    field per_second >>"$T/ns_r"
done
m() { median <"$T/$1"; }
all() { tr '\n' ' ' <"$T/$1"; }
echo "files ($FILES x stat+open+read+close), median of $ROUNDS, seconds (wall; CPU of the program):"
echo "  plain                 $(m plain) ; $(m plain.cpu)   (all: $(all plain))"
echo "  run (namespace mode)  $(m ns) ; $(m ns.cpu)   (all: $(all ns))"
echo "  run (notify mode)     $(m notify) ; $(m notify.cpu)   (all: $(all notify))"
awk -v a="$(m plain.cpu)" -v b="$(m ns.cpu)" 'BEGIN {printf "  namespace CPU         %+.1f%%\n", (b/a-1)*100}'
awk -v a="$(m plain)" -v b="$(m ns)" 'BEGIN {printf "  namespace overhead    %+.1f%%  (no notification per file)\n", (b/a-1)*100}'
awk -v a="$(m plain)" -v b="$(m notify)" 'BEGIN {printf "  notify overhead       %+.1f%%  (%.1f us per notified call, 2 per file)\n", (b/a-1)*100, (b-a)/(2*'"$FILES"')*1e6}'
echo "reports ($REPORTS x SNP_GET_REPORT on one descriptor), median of $ROUNDS, per second:"
echo "  shim                  $(m shim_r)   (all: $(all shim_r))"
echo "  run (notify mode)     $(m notify_r)   (all: $(all notify_r))"
echo "  run (namespace mode)  $(m ns_r)   (all: $(all ns_r))"
awk -v a="$(m shim_r)" -v b="$(m notify_r)" -v c="$(m ns_r)" 'BEGIN {printf "  run / shim            %.1f%% (notify), %.1f%% (namespace)\n", b/a*100, c/a*100}'
