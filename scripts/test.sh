#!/usr/bin/env bash
# Installs what is missing, builds everything under AddressSanitizer + UBSan (preset asan),
# runs every test suite, checks formatting, builds the release preset that scripts/run.sh uses,
# then builds the libFuzzer targets (preset fuzz) and runs each for a bounded time so that a
# crash fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZ_SECONDS="${SEVEMU_FUZZ_SECONDS:-20}"

scripts/install-deps.sh

echo "== format check"
git ls-files '*.cpp' '*.h' | xargs clang-format-14 --dry-run --Werror

echo "== build and test (asan + ubsan)"
cmake --preset asan >/dev/null
cmake --build --preset asan
ctest --preset asan

echo "== release build (what scripts/run.sh builds: -O2 finds warnings -O0 does not)"
cmake --preset release >/dev/null
cmake --build --preset release

echo "== fuzz smoke (${FUZZ_SECONDS}s per target)"
cmake --preset fuzz >/dev/null
targets=(state_file_fuzz certificate_fuzz firmware_command_fuzz ovmf_image_fuzz guest_request_fuzz cert_table_fuzz
  protocol_frame_fuzz sev_formats_fuzz kds_fuzz id_block_fuzz owner_formats_fuzz trace_render_fuzz)
cmake --build --preset fuzz --target "${targets[@]}"
for t in "${targets[@]}"; do
  corpus_name="${t%_fuzz}"
  work="$(mktemp -d)"
  cp fuzz/corpus/"$corpus_name"/* "$work"/
  # A sanitizer report aborts the target (-fno-sanitize-recover=all, CMakeLists.txt); one that
  # was printed without stopping it fails the run too.
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    build/fuzz/fuzz/"$t" "$work" -max_total_time="$FUZZ_SECONDS" -print_final_stats=0 \
    -artifact_prefix="$work/" 2>"$work/log" || { tail -40 "$work/log"; exit 1; }
  if grep -Eq 'runtime error:|ERROR: [A-Za-z]+Sanitizer' "$work/log"; then
    grep -E -A20 'runtime error:|ERROR: [A-Za-z]+Sanitizer' "$work/log" | head -40
    exit 1
  fi
  echo "$t: $(grep -o 'Done [0-9]* runs' "$work/log") without a crash"
  rm -rf "$work"
done
echo "== all checks passed"
