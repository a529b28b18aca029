#!/usr/bin/env bash
# The benchmark: sets up and builds, then compiles and times the training
# step of tiny (B 8, T 64), mini (B 8, T 256) and gpt2-124M (B 4, T 64) and
# prints ms/step, tokens/s, GFLOP/s, peak memory and compile time.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${LMC_BUILD_DIR:-$ROOT/build}"
"$ROOT/utils/setup.sh" > /dev/null
PYTHONPATH="$ROOT/python${PYTHONPATH:+:$PYTHONPATH}" \
  exec python3 "$ROOT/utils/bench.py" "$BUILD"
