#!/usr/bin/env bash
# The GPU device check (docs/Gpu.md): on a machine with one NVIDIA GPU,
#   1. builds lmc (utils/setup.sh; --no-build skips it),
#   2. trains `tiny` for 20 steps on the GPU and on the CPU from the same
#      initial checkpoint and data, in fp32 and in bf16 (flash attention),
#      and in fp32 with attention decomposed on the GPU, and a model with
#      grouped-query and multi-query attention (test/e2e/Inputs/gqa_model.py)
#      in fp32, and compares the losses (fp32 within 1e-4 relative, bf16
#      within 2e-2),
#   3. times gpt2-124M in bf16 at T 1024 with the largest batch that fits
#      (tried from --max-batch down, halving),
#   4. prints a table last: the card, tokens/s and MFU, where
#      MFU = (6*N*tokens + 12*L*C*T*tokens) / (step time * dense bf16 peak).
# Exits 0 when the comparisons pass, 1 when one fails, 2 when there is no GPU
# (after compiling everything, so that the compile path is still checked).
#
#   utils/device-check.sh [--no-build] [--max-batch N] [--steps N] [--out DIR]
#                         [--compile-only | --prebuilt DIR]
# --compile-only stops after step 1 and the compiles, leaving the trainers
# and the data in --out; --prebuilt DIR runs the trainers found there
# without building or compiling (for a GPU machine that cannot build:
# carry DIR and python/ to it; the trainers need the same shared libraries,
# oneDNN, OpenMPI and libgomp, as where they were compiled).
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${LMC_BUILD_DIR:-$ROOT/build}"
OUT="$(mktemp -d /tmp/lmc-device-check.XXXXXX)"
BUILD_FIRST=1
COMPILE=1
COMPILE_ONLY=0
MAX_BATCH=32
TIME_STEPS=10
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) BUILD_FIRST=0 ;;
    --max-batch) MAX_BATCH="$2"; shift ;;
    --steps) TIME_STEPS="$2"; shift ;;
    --out) OUT="$2"; shift ;;
    --compile-only) COMPILE_ONLY=1 ;;
    --prebuilt) OUT="$2"; BUILD_FIRST=0; COMPILE=0; shift ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "device-check: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done
mkdir -p "$OUT"
export PYTHONPATH="$ROOT/python${PYTHONPATH:+:$PYTHONPATH}"
LMC="$BUILD/tools/lmc/lmc"
start=$(date +%s)
stage() { echo "== [$(( $(date +%s) - start )) s] $*"; }

if [ "$BUILD_FIRST" = 1 ]; then
  stage "building"
  "$ROOT/utils/setup.sh" || exit 1
fi

if [ "$COMPILE" = 1 ]; then
stage "compiling tiny (cpu, cuda; fp32, bf16) and gpt2-124M (cuda, bf16) in $OUT"
python3 -m lmc.models.gpt2 --preset tiny -o "$OUT/tiny.mlir" || exit 1
python3 -m lmc.models.gpt2 --preset gpt2-124M -o "$OUT/gpt2.mlir" || exit 1
for p in fp32 bf16; do
  "$LMC" compile "$OUT/tiny.mlir" --precision "$p" -o "$OUT/tiny-cpu-$p" || exit 1
  "$LMC" compile "$OUT/tiny.mlir" --target cuda --precision "$p" \
    -o "$OUT/tiny-cuda-$p" || exit 1
done
# Attention decomposed on the GPU (softmax and mask kernels) against the
# CPU's flash kernels: the other attention path, same numbers.
"$LMC" compile "$OUT/tiny.mlir" --target cuda --attention decomposed \
  -o "$OUT/tiny-cuda-decomposed" || exit 1
cp "$OUT/tiny-cpu-fp32" "$OUT/tiny-cpu-decomposed"
# Grouped-query and multi-query attention (kv_heads 2, then 1; D = 16): the
# GPU's flash kernels with key/value heads against the CPU's.
python3 "$ROOT/test/e2e/Inputs/gqa_model.py" --kv-heads 2,1 \
  -o "$OUT/gqa.mlir" || exit 1
"$LMC" compile "$OUT/gqa.mlir" -o "$OUT/gqa-cpu-fp32" || exit 1
"$LMC" compile "$OUT/gqa.mlir" --target cuda -o "$OUT/gqa-cuda-fp32" || exit 1
"$LMC" compile "$OUT/gpt2.mlir" --target cuda --precision bf16 --time \
  -o "$OUT/gpt2-cuda-bf16" || exit 1
python3 -m lmc.data prepare --input "$ROOT/README.md" --out "$OUT/data" \
  --tokenizer byte > /dev/null || exit 1
fi
DATA="$OUT/data/train_000000.bin"
if [ "$COMPILE_ONLY" = 1 ]; then
  echo "device-check: compiled into $OUT (run it with --prebuilt $OUT)"
  exit 0
fi
for f in tiny-cpu-fp32 tiny-cuda-fp32 gqa-cpu-fp32 gqa-cuda-fp32 \
         gpt2-cuda-bf16 data/train_000000.bin; do
  [ -e "$OUT/$f" ] || { echo "device-check: $OUT/$f is missing" >&2; exit 1; }
done

# No GPU: say why (the trainer's own one-line message) and stop here.
"$OUT/tiny-cuda-fp32" --data "$DATA" --steps 1 --batch 1 --seq 8 \
  > "$OUT/probe.txt" 2> "$OUT/probe.err"
probe=$?
if [ "$probe" -eq 2 ] && grep -q 'no GPU found' "$OUT/probe.err"; then
  cat "$OUT/probe.err" >&2
  echo "device-check: no GPU here; everything compiled, nothing ran on a GPU"
  exit 2
fi
if [ "$probe" -ne 0 ]; then
  cat "$OUT/probe.txt" "$OUT/probe.err" >&2
  echo "device-check: the GPU trainer failed its first step" >&2
  exit 1
fi

stage "tiny: 20 steps on the CPU and on the GPU"
"$OUT/tiny-cpu-fp32" --data "$DATA" --init-only --seed 1 \
  --ckpt-dir "$OUT/init" > /dev/null || exit 1
FLAGS=(--data "$DATA" --steps 20 --batch 8 --seq 64 --lr 1e-3 --warmup 5
       --grad-clip 1 --init-from "$OUT/init/ckpt_00000000.safetensors")
status=0
for p in fp32 bf16 decomposed; do
  for d in cpu cuda; do
    "$OUT/tiny-$d-$p" "${FLAGS[@]}" --ckpt-dir "$OUT/ckpt-$d-$p" \
      --log "$OUT/tiny-$d-$p.jsonl" > "$OUT/tiny-$d-$p.txt" || status=1
  done
  rtol=1e-4
  [ "$p" = bf16 ] && rtol=2e-2
  python3 -m lmc.testing.compare_runs --log "$OUT/tiny-cpu-$p.jsonl" \
    --log "$OUT/tiny-cuda-$p.jsonl" --rtol "$rtol" --fields loss \
    > "$OUT/compare-$p.txt" 2>&1 || status=1
  echo "tiny $p: GPU vs CPU losses, rtol $rtol: $(tail -1 "$OUT/compare-$p.txt")"
done

stage "gqa (kv_heads 2, 1): 20 steps on the CPU and on the GPU"
"$OUT/gqa-cpu-fp32" --data "$DATA" --init-only --seed 1 \
  --ckpt-dir "$OUT/gqa-init" > /dev/null || status=1
GQA_FLAGS=(--data "$DATA" --steps 20 --batch 8 --seq 64 --lr 1e-3 --warmup 5
           --grad-clip 1 --init-from "$OUT/gqa-init/ckpt_00000000.safetensors")
for d in cpu cuda; do
  "$OUT/gqa-$d-fp32" "${GQA_FLAGS[@]}" --log "$OUT/gqa-$d.jsonl" \
    > "$OUT/gqa-$d.txt" || status=1
done
python3 -m lmc.testing.compare_runs --log "$OUT/gqa-cpu.jsonl" \
  --log "$OUT/gqa-cuda.jsonl" --rtol 1e-4 --fields loss \
  > "$OUT/compare-gqa.txt" 2>&1 || status=1
echo "gqa fp32: GPU vs CPU losses, rtol 1e-4: $(tail -1 "$OUT/compare-gqa.txt")"

stage "gpt2-124M bf16, T 1024: the largest batch that fits, from $MAX_BATCH"
batch=$MAX_BATCH
fits=0
while [ "$batch" -ge 1 ]; do
  if timeout 300 "$OUT/gpt2-cuda-bf16" --data "$DATA" --steps "$TIME_STEPS" \
       --batch "$batch" --seq 1024 --lr 3e-4 --log "$OUT/gpt2-b$batch.jsonl" \
       > "$OUT/gpt2-b$batch.txt" 2>&1; then
    fits=1
    break
  fi
  tail -2 "$OUT/gpt2-b$batch.txt"
  batch=$((batch / 2))
done

card="$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)"
stage "done"
python3 - "$OUT" "$batch" "$fits" "$card" "$status" <<'EOF'
import json, sys
out, batch, fits, card, status = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1", sys.argv[4], int(sys.argv[5])
# Dense bf16 tensor-core peaks (FLOP/s) of the cards the check runs on.
peaks = {"H100": 989e12, "H200": 989e12, "A100": 312e12}
peak = next((v for k, v in peaks.items() if k in card), None)
n, layers, channels, t = 124_439_808, 12, 768, 1024   # gpt2-124M, V = 50257
print()
print("| card | run | batch | T | ms/step (median) | tokens/s | MFU |")
print("|---|---|---|---|---|---|---|")
for p in ("fp32", "bf16", "decomposed"):
    try:
        rows = [json.loads(l) for l in open(f"{out}/tiny-cuda-{p}.jsonl")]
        ms = sorted(r["ms"] for r in rows[2:])[len(rows[2:]) // 2]
        print(f"| {card} | tiny {p}, 20 steps vs CPU | 8 | 64 | {ms:.2f} | {8*64/ms*1e3:,.0f} | - |")
    except (OSError, ValueError, IndexError):
        print(f"| {card} | tiny {p} | - | - | failed | - | - |")
if fits:
    rows = [json.loads(l) for l in open(f"{out}/gpt2-b{batch}.jsonl")]
    steady = rows[2:] or rows
    ms = sorted(r["ms"] for r in steady)[len(steady) // 2]
    tokens = batch * t
    flops = 6 * n * tokens + 12 * layers * channels * t * tokens
    mfu = flops / (ms * 1e-3) / peak if peak else None
    print(f"| {card} | gpt2-124M bf16 | {batch} | {t} | {ms:.1f} | {tokens/ms*1e3:,.0f} | "
          + (f"{100*mfu:.1f}% of {peak/1e12:.0f} TFLOP/s" if mfu else "unknown peak") + " |")
    # The trainer's own MFU (its step line and the log's `mfu`), which should
    # agree with the one above on a card of the peak table.
    own = sorted(r["mfu"] for r in steady if r.get("mfu") is not None)
    print("trainer's MFU field (median):",
          f"{own[len(own) // 2]:.1f}%" if own else "n/a (or missing)")
else:
    print(f"| {card} | gpt2-124M bf16 | none fits | {t} | - | - | - |")
print("comparisons:", "PASS" if status == 0 else "FAIL")
EOF
exit "$status"
