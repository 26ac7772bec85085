#!/usr/bin/env bash
# Installs what is missing, builds sevemu (release preset) and starts the emulator on the
# default platform: a simulated Milan chip, provisioned into $SEVEMU_STATE_DIR (default
# ~/.local/state/sevemu/default) on first start and reused after. Arguments go to
# 'sevemu serve' (try --help). Stop it with Ctrl-C or SIGTERM.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release --target sevemu
exec build/release/frontends/cli/sevemu serve "$@"
