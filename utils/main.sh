#!/usr/bin/env bash
# The main job: set up and build; generate the example models (GPT-2 tiny,
# mini, gpt2-124M; Llama tiny, mini, smollm-135m) and print a one-line
# summary of each (parameters, FLOPs per token); build an English corpus
# from the licence texts every Debian system ships (utils/debian_corpus.py,
# about 200 KB, byte tokens); compile the GPT-2 tiny preset into a trainer,
# train it on CPU with a validation loss that falls to (nearly) the end,
# and print a generated sample; then the same for the Llama tiny preset. Each run ends
# with its validation loss (lowest, final) and fails if the final one is more
# than 5% above the lowest; the loss curves of both go to one PNG.
#
#   LMC_STEPS=N         GPT-2 training steps (default 8000, under a minute
#                       on 2 quiet cores)
#   LMC_LLAMA_STEPS=N   Llama training steps (default 6000)
#   LMC_OUT_DIR=DIR     where everything goes (default ./out)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${LMC_BUILD_DIR:-$ROOT/build}"
OUT="${LMC_OUT_DIR:-$ROOT/out}"
STEPS="${LMC_STEPS:-8000}"
LLAMA_STEPS="${LMC_LLAMA_STEPS:-6000}"

"$ROOT/utils/setup.sh"
mkdir -p "$OUT"
export PYTHONPATH="$ROOT/python${PYTHONPATH:+:$PYTHONPATH}"
START=$SECONDS

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

echo "== corpus: the licence texts of /usr/share/common-licenses"
python3 "$ROOT/utils/debian_corpus.py" -o "$OUT/corpus.txt"
python3 -m lmc.data prepare --input "$OUT/corpus.txt" --out "$OUT/data" \
  --tokenizer byte

# The training flags of both runs: batches of 8 x 64 bytes, AdamW at 3e-3
# after a short warm-up, cosine decay to 1e-4, weight decay 0.1 on the
# matrices, validation every 500 steps and at the end, a sample of 400
# bytes at temperature 0.8.
TRAIN_FLAGS=(--data "$OUT/data/train_000000.bin"
  --val "$OUT/data/val_000000.bin" --eval-every 500
  --batch 8 --seq 64 --lr 3e-3 --warmup 50 --lr-schedule cosine
  --min-lr 1e-4 --weight-decay 0.1 --sample 400 --temperature 0.8)

# Prints the lowest and the final validation loss of a JSONL log; fails
# when the final one is more than 5% above the lowest.
val_summary() {
  python3 - "$1" "$2" <<'EOF'
import json, sys
name, path = sys.argv[1], sys.argv[2]
vals = [(r["step"], r["val_loss"]) for r in map(json.loads, open(path))
        if r.get("val_loss") is not None]
best_step, best = min(vals, key=lambda v: v[1])
last_step, last = vals[-1]
excess = 100 * (last / best - 1)
print(f"{name}: val loss lowest {best:.4f} (step {best_step}), "
      f"final {last:.4f} (step {last_step}, {excess:+.1f}%)")
if excess > 5:
    sys.exit(f"{name}: the final val loss is more than 5% above the lowest")
EOF
}

echo "== lmc compile $OUT/tiny.mlir -o $OUT/train"
"$BUILD/tools/lmc/lmc" compile "$OUT/tiny.mlir" -o "$OUT/train" --time

echo "== training GPT-2 tiny for $STEPS steps"
T0=$SECONDS
"$OUT/train" "${TRAIN_FLAGS[@]}" --steps "$STEPS" \
  --ckpt-dir "$OUT/ckpt" --ckpt-every 2000 --log "$OUT/train.jsonl"
GPT2_SECONDS=$((SECONDS - T0))

echo "== lmc compile $OUT/llama-tiny.mlir -o $OUT/train-llama"
"$BUILD/tools/lmc/lmc" compile "$OUT/llama-tiny.mlir" -o "$OUT/train-llama" \
  --time

echo "== training Llama tiny for $LLAMA_STEPS steps"
T0=$SECONDS
"$OUT/train-llama" "${TRAIN_FLAGS[@]}" --steps "$LLAMA_STEPS" \
  --ckpt-dir "$OUT/ckpt-llama" --ckpt-every 2000 \
  --log "$OUT/train-llama.jsonl"
LLAMA_SECONDS=$((SECONDS - T0))

echo "== the loss curves"
python3 -m lmc.plot "$OUT/train.jsonl" "$OUT/train-llama.jsonl" \
  --label "GPT-2 tiny" --label "Llama tiny" \
  --title "lmc main job: byte-level models on the Debian licence texts" \
  -o "$OUT/loss.png"

echo "== summary"
val_summary "GPT-2 tiny" "$OUT/train.jsonl"
val_summary "Llama tiny" "$OUT/train-llama.jsonl"
echo "training: GPT-2 tiny ${GPT2_SECONDS} s, Llama tiny ${LLAMA_SECONDS} s;" \
  "the whole job $((SECONDS - START)) s after setup"
echo "loss plot: $OUT/loss.png"
echo "logs: $OUT/train.jsonl $OUT/train-llama.jsonl;" \
  "checkpoints: $OUT/ckpt $OUT/ckpt-llama"
