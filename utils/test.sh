#!/usr/bin/env bash
# Sets up and builds (utils/setup.sh), then runs every lit test and every
# Python test, and ends with one summary line.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${LMC_BUILD_DIR:-$ROOT/build}"

"$ROOT/utils/setup.sh" || exit 1

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
start=$(date +%s)
ninja -C "$BUILD" check-lmc 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

count() { grep -Eo "$1" "$log" | grep -Eo '[0-9]+' | awk '{s += $1} END {print s + 0}'; }
lit_passed=$(count '^ *Passed *: *[0-9]+')
lit_failed=$(count '^ *(Failed|Unresolved|Timed Out|Unexpectedly Passed) *: *[0-9]+')
py_passed=$(count '[0-9]+ passed')
py_failed=$(count '[0-9]+ (failed|error|errors)')
passed=$((lit_passed + py_passed))
failed=$((lit_failed + py_failed))
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
echo "lit: $lit_passed passed, $lit_failed failed; pytest: $py_passed passed, $py_failed failed; $(( $(date +%s) - start )) s"
echo "check-lmc: $passed passed, $failed failed"
exit "$status"
