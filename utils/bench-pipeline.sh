#!/usr/bin/env bash
# Pipeline parallelism's figures on this machine: mini (B 8, T 256) trained
# on one rank and on pp=2 with M = 1, 2, 4 and 8 micro-batches (one thread
# per rank), its ms/step, and the bubble measured against (P-1)/(M+P-1).
# Options are passed on: --steps N, --models DIR.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${LMC_BUILD_DIR:-$ROOT/build}"
"$ROOT/utils/setup.sh" > /dev/null
PYTHONPATH="$ROOT/python${PYTHONPATH:+:$PYTHONPATH}" \
  exec python3 "$ROOT/utils/bench_pipeline.py" --build "$BUILD" "$@"
