#!/usr/bin/env bash
# Builds and runs sevemu-bench (release preset), writing the benchmark's JSON and the
# figure/limit ratios to build/bench/, then draws the plots of docs/performance.md from that
# JSON. Not part of CI. Arguments go to sevemu-bench (e.g. --benchmark_filter=snp_launch,
# --benchmark_repetitions=9). Takes a few minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release --target sevemu-bench
mkdir -p build/bench
build/release/bench/sevemu-bench --benchmark_out=build/bench/bench.json \
  --benchmark_out_format=json --ratios-json=build/bench/ratios.json "$@"
scripts/plot-bench.py build/bench/bench.json docs/plots
