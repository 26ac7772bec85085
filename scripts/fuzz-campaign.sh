#!/usr/bin/env bash
# The offline fuzz campaign (not CI: CI runs each target 20 s, scripts/test.sh), resumable
# across sessions. Builds the libFuzzer targets (preset fuzz) and gives each target one slice
# of at most SLICE seconds, until its accumulated CPU time reaches the goal
# (SEVEMU_FUZZ_GOAL_CPU seconds, default 3600: the issue's CPU-hour). Run it again, in this or a
# later session, and every target continues from its corpus where it stopped; a target at its
# goal is skipped. docs/fuzzing.md.
#   scripts/fuzz-campaign.sh [SLICE=600] [TARGET...]
#   SEVEMU_FUZZ_DIR=DIR        where corpora, crashes, logs and totals live (default
#                              build/fuzz-campaign, gitignored; a directory outside the repo
#                              survives a clean build)
#   SEVEMU_FUZZ_GOAL_CPU=S     CPU seconds per target (default 3600)
#   SEVEMU_FUZZ_JOBS=N         targets at once (default 1)
# Per target, DIR/<name>/: corpus/ (seeded from fuzz/corpus/<name>/), crashes/, log (the last
# slice's), totals (cpu_seconds executions slices, accumulated). DIR/results.md is the table
# printed at the end: CPU seconds (user + system of the fuzzer, not wall), executions, coverage,
# corpus size and crash files per target. A slice interrupted before the fuzzer prints its
# final stats is not counted (what it added to the corpus is kept).
set -euo pipefail
cd "$(dirname "$0")/.."
slice="${1:-600}"
shift || true
goal="${SEVEMU_FUZZ_GOAL_CPU:-3600}"
jobs="${SEVEMU_FUZZ_JOBS:-1}"
out="${SEVEMU_FUZZ_DIR:-build/fuzz-campaign}"
case "$slice$goal$jobs" in *[!0-9]*)
  echo "fuzz-campaign: SLICE, SEVEMU_FUZZ_GOAL_CPU and SEVEMU_FUZZ_JOBS must be whole numbers" >&2
  exit 2 ;;
esac
all=(state_file_fuzz certificate_fuzz firmware_command_fuzz ovmf_image_fuzz guest_request_fuzz
  cert_table_fuzz protocol_frame_fuzz sev_formats_fuzz kds_fuzz id_block_fuzz owner_formats_fuzz
  trace_render_fuzz)
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${all[@]}")

cmake --preset fuzz >/dev/null
cmake --build --preset fuzz --target "${targets[@]}" -j2
mkdir -p "$out"
repo="$PWD"

# totals DIR -> "cpu_seconds executions slices" (zeros before the first slice).
totals() {
  if [ -f "$1/totals" ]; then cat "$1/totals"; else echo "0 0 0"; fi
}

run_one() {
  local t="$1" name="${1%_fuzz}" dir="$out/${1%_fuzz}"
  mkdir -p "$dir/corpus" "$dir/crashes"
  cp -n "$repo"/fuzz/corpus/"$name"/* "$dir/corpus/" 2>/dev/null || true
  local cpu runs slices
  read -r cpu runs slices < <(totals "$dir")
  local left=$((goal - ${cpu%.*}))
  if [ "$left" -le 0 ]; then
    echo "$t: at its goal (${cpu} CPU s of ${goal})"
    return 0
  fi
  # The fuzzer runs one thread, so its CPU time never exceeds its wall time: a slice of at most
  # `left` wall seconds cannot overshoot the goal.
  local this=$((left < slice ? left : slice))
  echo "$t: slice of ${this} s (${cpu} of ${goal} CPU s so far)"
  local TIMEFORMAT='%3U %3S'
  { time UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
      "$repo"/build/fuzz/fuzz/"$t" "$dir/corpus" -max_total_time="$this" -print_final_stats=1 \
      -artifact_prefix="$dir/crashes/" -close_fd_mask=3 >"$dir/log" 2>&1 || true; } 2>"$dir/cpu"
  local executed
  executed=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$dir/log" | grep -o '[0-9]*$' || true)
  if [ -z "$executed" ]; then
    echo "$t: no final stats in $dir/log (interrupted or crashed): slice not counted" >&2
    return 0
  fi
  local used
  used=$(awk '{ printf "%.3f", $1 + $2 }' "$dir/cpu")
  awk -v c="$cpu" -v u="$used" -v r="$runs" -v e="$executed" -v s="$slices" \
    'BEGIN { printf "%.3f %d %d\n", c + u, r + e, s + 1 }' >"$dir/totals.new"
  mv "$dir/totals.new" "$dir/totals"
  echo "$t: ${used} CPU s, ${executed} executions this slice"
}

running=0
for t in "${targets[@]}"; do
  run_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then
    wait -n
    running=$((running - 1))
  fi
done
wait

{
  printf '| target | CPU s (goal %s) | slices | executions | executions per CPU s | coverage (cov / ft) | corpus | crashes |\n' "$goal"
  printf '|---|---|---|---|---|---|---|---|\n'
  for t in "${targets[@]}"; do
    d="$out/${t%_fuzz}"
    read -r cpu runs slices < <(totals "$d")
    rate=$(awk -v c="$cpu" -v r="$runs" 'BEGIN { if (c > 0) printf "%d", r / c; else print "-" }')
    last=$(grep -E '^#[0-9]+' "$d/log" 2>/dev/null | tail -1 || true)
    cov=$(echo "$last" | grep -o 'cov: [0-9]*' | grep -o '[0-9]*' || echo "?")
    ft=$(echo "$last" | grep -o 'ft: [0-9]*' | grep -o '[0-9]*' || echo "?")
    corpus=$(find "$d/corpus" -type f 2>/dev/null | wc -l)
    crashes=$(find "$d/crashes" -type f 2>/dev/null | wc -l)
    printf '| `%s` | %.0f | %s | %s | %s | %s / %s | %s | %s |\n' "$t" "$cpu" "$slices" "$runs" \
      "$rate" "${cov:-?}" "${ft:-?}" "$corpus" "$crashes"
  done
} | tee "$out/results.md"
