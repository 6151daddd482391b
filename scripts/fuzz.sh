#!/usr/bin/env bash
# Fuzzes the codec's streaming decoder (fuzz/fuzz_targets/decode.rs) for a bounded time.
#
# Usage: scripts/fuzz.sh [SECONDS]   (default 60)
#
# Needs a nightly toolchain; installs cargo-fuzz if it is missing. The corpus grows in
# fuzz/corpus/decode and crashing inputs land in fuzz/artifacts/decode (both git-ignored).
# Exits non-zero when the fuzzer finds a crash.
set -euo pipefail

seconds="${1:-60}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -eq 0 ]; then
    echo "usage: $0 [SECONDS]  (a positive whole number of seconds, default 60)" >&2
    exit 2
fi

cd "$(dirname "$0")/.."

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "cargo-fuzz not found; installing it" >&2
    cargo install cargo-fuzz --locked
fi

exec cargo +nightly fuzz run decode -- -max_total_time="$seconds"
