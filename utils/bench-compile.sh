#!/usr/bin/env bash
# Compile time against depth: gpt2-124M's shape with 12, 24 and 48 layers
# compiled to a trainer for the CPU and for --target cuda, back to back, and
# for --target cuda with every host function inlined
# (--gpu-stream-functions=false, the host code before
# lmc-gpu-stream-functions). Prints a table of seconds and the CUDA/CPU
# ratios. Options are passed on: --layers 12,24,48, --repeat N (the best
# of N), --no-inlined.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${LMC_BUILD_DIR:-$ROOT/build}"
"$ROOT/utils/setup.sh" > /dev/null
PYTHONPATH="$ROOT/python${PYTHONPATH:+:$PYTHONPATH}" \
  exec python3 "$ROOT/utils/bench_compile.py" --build "$BUILD" "$@"
