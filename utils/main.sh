#!/usr/bin/env bash
# The main job: set up and build; generate the example models (GPT-2 tiny,
# mini, gpt2-124M; Llama tiny, mini, smollm-135m) and print a one-line
# summary of each (parameters, FLOPs per token); prepare a small English
# corpus (the GPL-3 text every Debian system ships in base-files); compile
# the GPT-2 tiny preset into a trainer, train it on CPU with the loss falling
# and print a generated sample; then the same for the Llama tiny preset.
#
#   LMC_STEPS=N         GPT-2 training steps (default 5000, about half a
#                       minute on 2 cores)
#   LMC_LLAMA_STEPS=N   Llama training steps (default 2000)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${LMC_BUILD_DIR:-$ROOT/build}"
OUT="${LMC_OUT_DIR:-$ROOT/out}"
STEPS="${LMC_STEPS:-5000}"
LLAMA_STEPS="${LMC_LLAMA_STEPS:-2000}"
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
for preset in tiny mini smollm-135m; do
  python3 -m lmc.models.llama --preset "$preset" -o "$OUT/llama-$preset.mlir"
  "$BUILD/tools/lmc-opt/lmc-opt" "$OUT/llama-$preset.mlir" --verify-each \
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

echo "== lmc compile $OUT/llama-tiny.mlir -o $OUT/train-llama"
"$BUILD/tools/lmc/lmc" compile "$OUT/llama-tiny.mlir" -o "$OUT/train-llama" --time

echo "== training Llama tiny for $LLAMA_STEPS steps"
"$OUT/train-llama" --data "$OUT/data/train_000000.bin" \
  --val "$OUT/data/val_000000.bin" --eval-every 500 \
  --steps "$LLAMA_STEPS" --batch 8 --seq 64 --lr 3e-3 --warmup 20 \
  --lr-schedule cosine --min-lr 3e-4 --weight-decay 0.1 \
  --ckpt-dir "$OUT/ckpt-llama" --ckpt-every 1000 \
  --log "$OUT/train-llama.jsonl" --sample 300
