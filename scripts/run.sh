#!/usr/bin/env bash
# Installs what is missing, builds sevemu and its preload shim (release preset) and starts the
# emulator daemon on the default platform: a simulated Milan chip, provisioned into
# $SEVEMU_STATE_DIR (default ~/.local/state/sevemu/default) on first start and reused after,
# listening on $SEVEMU_SOCKET (default $XDG_RUNTIME_DIR/sevemu/sevemu.sock, else
# /tmp/sevemu-UID/sevemu.sock). Arguments go to 'sevemu serve' (try --help). Stop it with
# Ctrl-C or SIGTERM. README.md shows how to run tools against it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release --target sevemu sevemu-preload
echo "sevemu: $PWD/build/release/frontends/cli/sevemu" >&2
echo "preload shim: LD_PRELOAD=$PWD/build/release/frontends/shim/libsevemu-preload.so" >&2
exec build/release/frontends/cli/sevemu serve "$@"
