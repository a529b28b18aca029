#!/usr/bin/env bash
# The Llama family's figures: parameters and FLOPs per token of each preset
# against the analytic count, compile times, activation bytes per recompute
# policy (smollm-135m, B 4, T 256), and mini's CPU training step (B 8, T 256)
# against PyTorch (Debian's python3-torch, when installed), alternating.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${LMC_BUILD_DIR:-$ROOT/build}"
"$ROOT/utils/setup.sh" > /dev/null
PYTHONPATH="$ROOT/python${PYTHONPATH:+:$PYTHONPATH}" \
  exec python3 "$ROOT/utils/bench_llama.py" "$BUILD"
