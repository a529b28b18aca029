#!/usr/bin/env bash
# The main job: set up and build; generate the three example models and
# print a one-line summary of each (parameters, FLOPs per token); prepare a
# small English corpus (the GPL-3 text every Debian system ships in
# base-files); compile the tiny preset into a trainer; train it on CPU with
# the loss falling; print a generated sample.
#
#   LMC_STEPS=N   training steps (default 5000, about half a minute on 2 cores)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${LMC_BUILD_DIR:-$ROOT/build}"
OUT="${LMC_OUT_DIR:-$ROOT/out}"
STEPS="${LMC_STEPS:-5000}"
CORPUS=/usr/share/common-licenses/GPL-3

"$ROOT/utils/setup.sh"
mkdir -p "$OUT"
export PYTHONPATH="$ROOT/python${PYTHONPATH:+:$PYTHONPATH}"

echo "== the example models"
for preset in tiny mini gpt2-124M; do
  python3 -m lmc.models.gpt2 --preset "$preset" -o "$OUT/$preset.mlir"
  "$BUILD/tools/lmc-opt/lmc-opt" "$OUT/$preset.mlir" --verify-each \
    --lmc-model-summary -o /dev/null
done

echo "== corpus: $CORPUS"
python3 -m lmc.data prepare --input "$CORPUS" --out "$OUT/data" --tokenizer byte

echo "== lmc compile $OUT/tiny.mlir -o $OUT/train"
"$BUILD/tools/lmc/lmc" compile "$OUT/tiny.mlir" -o "$OUT/train" --time

echo "== training tiny for $STEPS steps"
"$OUT/train" --data "$OUT/data/train_000000.bin" \
  --val "$OUT/data/val_000000.bin" --eval-every 500 \
  --steps "$STEPS" --batch 8 --seq 64 --lr 3e-3 --warmup 20 \
  --lr-schedule cosine --min-lr 3e-4 --weight-decay 0.1 \
  --ckpt-dir "$OUT/ckpt" --ckpt-every 1000 --log "$OUT/train.jsonl" \
  --sample 300
