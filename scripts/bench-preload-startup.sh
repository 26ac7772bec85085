#!/usr/bin/env bash
# The preload library's start-up cost per process (docs/performance.md): ROUNDS rounds, each
# EXECS execs of /bin/true plain and then with LD_PRELOAD of each library given (default: the
# release preset's shim), interleaved so that all see the same load. Prints per exec the median
# over rounds of the wall time and of the child's CPU time (user + system, from wait4), and the
# extra over plain; then one callgrind instruction count of each (exact, load-independent) if
# valgrind is installed. Not part of CI.
#
#   scripts/bench-preload-startup.sh [-r ROUNDS] [-n EXECS] [LIBRARY.so ...]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=9
execs=200
while getopts "r:n:" opt; do
  case $opt in
    r) rounds=$OPTARG ;;
    n) execs=$OPTARG ;;
    *) exit 2 ;;
  esac
done
shift $((OPTIND - 1))
if [ $# -eq 0 ]; then
  cmake --preset release >/dev/null
  cmake --build --preset release --target sevemu-preload >/dev/null
  set -- build/release/frontends/shim/libsevemu-preload.so
fi
for lib in "$@"; do
  [ -f "$lib" ] || { echo "no such library: $lib" >&2; exit 1; }
done

python3 - "$rounds" "$execs" "$@" <<'EOF'
import os, statistics, sys, time
rounds, execs, libs = int(sys.argv[1]), int(sys.argv[2]), [os.path.abspath(p) for p in sys.argv[3:]]
configs = [("plain", None)] + [(p, p) for p in libs]
base = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
wall = {name: [] for name, _ in configs}
cpu = {name: [] for name, _ in configs}
for _ in range(rounds):
    for name, lib in configs:
        env = dict(base)
        if lib:
            env["LD_PRELOAD"] = lib
        w = c = 0.0
        for _ in range(execs):
            t0 = time.perf_counter()
            pid = os.posix_spawn("/bin/true", ["/bin/true"], env)
            _, status, ru = os.wait4(pid, 0)
            w += time.perf_counter() - t0
            c += ru.ru_utime + ru.ru_stime
            if status != 0:
                sys.exit(f"/bin/true failed under {name}")
        wall[name].append(w / execs * 1e3)
        cpu[name].append(c / execs * 1e3)
print(f"{rounds} rounds x {execs} execs of /bin/true; medians per exec, ms")
print(f"{'library':<60} {'wall':>7} {'extra':>7} {'cpu':>7} {'extra':>7}")
pw, pc = statistics.median(wall["plain"]), statistics.median(cpu["plain"])
for name, _ in configs:
    mw, mc = statistics.median(wall[name]), statistics.median(cpu[name])
    print(f"{name:<60} {mw:7.3f} {mw - pw:+7.3f} {mc:7.3f} {mc - pc:+7.3f}")
EOF

if command -v valgrind >/dev/null; then
  echo "callgrind, instructions of one exec of /bin/true:"
  count() {
    env ${1:+LD_PRELOAD=$1} valgrind --tool=callgrind --callgrind-out-file=/dev/null /bin/true 2>&1 |
      sed -n 's/.*Collected : //p'
  }
  echo "  plain $(count "")"
  for lib in "$@"; do echo "  $lib $(count "$lib")"; done
fi
