#!/usr/bin/env bash
# Runs every Rust test of the workspace and ends with one total line over all test binaries
# ("rust: N passed, M failed"), so the run's last line is a real summary.
set -uo pipefail
cd "$(dirname "$0")/.."
CARGO=${CARGO:-cargo}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
$CARGO test --workspace --all-features 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
awk '/^test result:/ { passed += $4; failed += $6 } END { printf "rust: %d passed, %d failed\n", passed, failed }' "$log"
exit "$status"
