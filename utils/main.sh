#!/usr/bin/env bash
# The main job: set up and build, generate the three example models with the
# Python builder, verify each with lmc-opt and print a one-line summary
# (parameters, forward FLOPs per token).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${LMC_BUILD_DIR:-$ROOT/build}"
OUT="${LMC_OUT_DIR:-$ROOT/out}"

"$ROOT/utils/setup.sh"
mkdir -p "$OUT"
export PYTHONPATH="$ROOT/python${PYTHONPATH:+:$PYTHONPATH}"

for preset in tiny mini gpt2-124M; do
  python3 -m lmc.models.gpt2 --preset "$preset" -o "$OUT/$preset.mlir"
  "$BUILD/tools/lmc-opt/lmc-opt" "$OUT/$preset.mlir" --verify-each \
    --lmc-model-summary -o /dev/null
done
echo "models written to $OUT"
