#!/usr/bin/env bash
# The offline fuzz campaign (not CI: CI runs each target 20 s, scripts/test.sh). Builds the
# libFuzzer targets (preset fuzz) and runs each for MINUTES CPU-minutes (one job per target,
# JOBS targets at once), starting from fuzz/corpus/<name>/ and keeping what it finds in
# build/fuzz-campaign/<name>/corpus (never in the repository). Prints one row per target for
# docs/fuzzing.md: executions, coverage (libFuzzer's cov/ft), corpus size, crashes.
#   scripts/fuzz-campaign.sh [MINUTES=60] [TARGET...]      e.g. SEVEMU_FUZZ_JOBS=2
set -euo pipefail
cd "$(dirname "$0")/.."
minutes="${1:-60}"
shift || true
jobs="${SEVEMU_FUZZ_JOBS:-1}"
all=(state_file_fuzz certificate_fuzz firmware_command_fuzz ovmf_image_fuzz guest_request_fuzz
  cert_table_fuzz protocol_frame_fuzz sev_formats_fuzz kds_fuzz id_block_fuzz owner_formats_fuzz
  trace_render_fuzz)
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${all[@]}")

cmake --preset fuzz >/dev/null
cmake --build --preset fuzz --target "${targets[@]}" -j2

out=build/fuzz-campaign
mkdir -p "$out"
run_one() {
  local t="$1" name="${1%_fuzz}" dir="$out/${1%_fuzz}"
  mkdir -p "$dir/corpus" "$dir/crashes"
  cp -n fuzz/corpus/"$name"/* "$dir/corpus/" 2>/dev/null || true
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    build/fuzz/fuzz/"$t" "$dir/corpus" -max_total_time=$((minutes * 60)) -print_final_stats=1 \
    -artifact_prefix="$dir/crashes/" -close_fd_mask=3 >"$dir/log" 2>&1 || true
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

printf '| target | minutes | executions | exec/s | coverage (cov / ft) | corpus | crashes |\n'
printf '|---|---|---|---|---|---|---|\n'
for t in "${targets[@]}"; do
  d="$out/${t%_fuzz}"
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$d/log" | grep -o '[0-9]*$' || echo "?")
  speed=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$d/log" | grep -o '[0-9]*$' || echo "?")
  last=$(grep -E '^#[0-9]+' "$d/log" | tail -1)
  cov=$(echo "$last" | grep -o 'cov: [0-9]*' | grep -o '[0-9]*' || echo "?")
  ft=$(echo "$last" | grep -o 'ft: [0-9]*' | grep -o '[0-9]*' || echo "?")
  corpus=$(ls "$d/corpus" | wc -l)
  crashes=$(ls "$d/crashes" | wc -l)
  printf '| `%s` | %s | %s | %s | %s / %s | %s | %s |\n' "$t" "$minutes" "$runs" "$speed" "$cov" "$ft" \
    "$corpus" "$crashes"
done
