#!/usr/bin/env bash
# The GPU device check (docs/Gpu.md). On a machine with one NVIDIA GPU:
#   1. builds lmc (utils/setup.sh; --no-build skips it) and makes the bundle
#      (utils/device-bundle.sh: the `--target cuda` trainers, the libraries a
#      bare machine may lack, a generated shard, the initial checkpoints and
#      the CPU's 20-step losses from them),
#   2. runs the runtime's GPU tests (the bundle's tests/lmcrt-gpu-tests:
#      every kernel and library call against a CPU reference), then
#      trains tiny for 20 steps on the GPU from the bundle's checkpoint and
#      data in fp32, bf16, bf16 with bfloat16 storage (--bf16-storage) and
#      fp32 with attention decomposed, and a model with grouped- and
#      multi-query attention in fp32, and compares the losses with the CPU's
#      (fp32 within 1e-4 relative, bf16 within 2e-2), and
#      tiny fp32 again with LMCRT_CUDA_GRAPH=0: the steps captured as one
#      CUDA graph and replayed (the default) must log bit-identical losses
#      and gradient norms, and the trainer must say it captured the step,
#   3. runs compute-sanitizer --tool memcheck over two tiny GPU steps,
#   4. times gpt2-124M bf16 at T 1024 (CUDA graphs on, the default; the
#      table says whether the step was captured) with the largest batch that fits (from
#      --max-batch, halving after an out-of-memory error, or a timeout,
#      reported as such; a missing library, a data error or another failure
#      stops the search and is reported as such), then one run with
#      LMCRT_PROFILE=1 for the step's time by kernel class, and one with
#      --bf16-storage at that batch (time permitting),
#   5. prints one table last: the GPU tests, each comparison, tokens/s and MFU, where
#      MFU = (6*N + 12*L*C*T) * tokens / (step time * dense bf16 peak), the
#      time by kernel class (n/a when the trainer prints none) and memcheck.
# Exits 0 when every check passes, 1 when one fails, 2 when there is no GPU
# (one line), 127 when the trainers cannot start (a missing library).
#
#   utils/device-check.sh [--no-build] [--max-batch N] [--steps N] [--out DIR]
#                         [--compile-only | --prebuilt DIR]
# --compile-only stops after making the bundle in --out. --prebuilt DIR runs
# the check on a bundle made elsewhere (utils/device-bundle.sh DIR), without
# building: a GPU machine needs only DIR (which has a copy of this script:
# DIR/device-check.sh --prebuilt DIR) and python3; the logs go to --out
# (default: a new folder under /tmp). The whole check is sized for 8 minutes
# on one H100.
set -uo pipefail

# HERE: utils/ of a checkout, or a bundle's root (device-bundle.sh copies
# this script and device-check-report.py there).
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
BUILD="${LMC_BUILD_DIR:-$ROOT/build}"
OUT=""
BUNDLE=""
BUILD_FIRST=1
COMPILE_ONLY=0
MAX_BATCH=32
TIME_STEPS=10
# Seconds: the whole check's budget and each gpt2 run's limit.
BUDGET=${LMC_DEVICE_CHECK_BUDGET:-470}
TRY_LIMIT=${LMC_DEVICE_CHECK_TRY_LIMIT:-150}
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) BUILD_FIRST=0 ;;
    --max-batch) MAX_BATCH="$2"; shift ;;
    --steps) TIME_STEPS="$2"; shift ;;
    --out) OUT="$2"; shift ;;
    --compile-only) COMPILE_ONLY=1 ;;
    --prebuilt) BUNDLE="${2:-}"; BUILD_FIRST=0; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "device-check: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done
start=$(date +%s)
elapsed() { echo $(( $(date +%s) - start )); }
stage() { echo "== [$(elapsed) s] $*"; }

if [ -z "$BUNDLE" ]; then
  [ -x "$ROOT/utils/device-bundle.sh" ] ||
    { echo "device-check: no checkout here; use --prebuilt DIR" >&2; exit 2; }
  OUT="${OUT:-$(mktemp -d /tmp/lmc-device-check.XXXXXX)}"
  if [ "$BUILD_FIRST" = 1 ]; then
    stage "building"
    "$ROOT/utils/setup.sh" || exit 1
  fi
  stage "making the bundle in $OUT/bundle"
  LMC_BUILD_DIR="$BUILD" "$ROOT/utils/device-bundle.sh" "$OUT/bundle" || exit 1
  BUNDLE="$OUT/bundle"
  if [ "$COMPILE_ONLY" = 1 ]; then
    echo "device-check: bundle in $BUNDLE (run it with --prebuilt $BUNDLE)"
    exit 0
  fi
fi
[ -n "$BUNDLE" ] && [ -f "$BUNDLE/check.env" ] || {
  echo "device-check: '$BUNDLE' is not a bundle (make one with utils/device-bundle.sh DIR)" >&2
  exit 1
}
BUNDLE="$(cd "$BUNDLE" && pwd)"
# shellcheck disable=SC1091
. "$BUNDLE/check.env"
OUT="${OUT:-$(mktemp -d /tmp/lmc-device-check.XXXXXX)}"
mkdir -p "$OUT" || exit 1
DATA="$BUNDLE/data/train_000000.bin"
for f in bin/tiny-cuda-fp32 bin/tiny-cuda-bf16 bin/tiny-cuda-decomposed \
         bin/gqa-cuda-fp32 data/train_000000.bin init/tiny.safetensors \
         init/gqa.safetensors expected/tiny-fp32.jsonl; do
  [ -e "$BUNDLE/$f" ] || { echo "device-check: $BUNDLE/$f is missing" >&2; exit 1; }
done

# The trainers' own OpenMP default set here, so that none executes itself
# again (Trainer/Threads.h): /proc/self/exe would be the loader in the glibc
# mode below, and compute-sanitizer need not follow an exec.
[ -n "${OMP_WAIT_POLICY:-}${GOMP_SPINCOUNT:-}" ] || export GOMP_SPINCOUNT=1000

# How the trainers start: as they are (their run path has the bundle's
# libgomp), else with the bundle's C++ runtime, else through the bundle's
# glibc loader (a machine whose glibc is older than the one they need).
LAUNCH=()
launch_mode=""
for mode in system cxx glibc; do
  case "$mode" in
    system) try=(env) ;;
    cxx) try=(env "LD_LIBRARY_PATH=$BUNDLE/lib/cxx${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}") ;;
    glibc) try=("$BUNDLE/lib/glibc/ld-linux-x86-64.so.2" --library-path
                "$BUNDLE/lib/glibc:$BUNDLE/lib/cxx:$BUNDLE/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}") ;;
  esac
  if "${try[@]}" "$BUNDLE/bin/tiny-cuda-fp32" --help > /dev/null 2> "$OUT/launch-$mode.err"; then
    LAUNCH=("${try[@]}")
    launch_mode=$mode
    break
  fi
done
if [ -z "$launch_mode" ]; then
  cat "$OUT"/launch-*.err >&2
  echo "device-check: the trainers cannot start here (missing libraries above; the bundle needs glibc >= $GLIBC_NEEDED with its own libraries, this machine has $(getconf GNU_LIBC_VERSION 2>/dev/null))" >&2
  exit 127
fi
# trainer NAME ARGS...: runs bin/NAME the way that starts here.
trainer() { local name=$1; shift; "${LAUNCH[@]}" "$BUNDLE/bin/$name" "$@"; }

# No GPU: one line (the trainer's own reason) and exit 2.
trainer tiny-cuda-fp32 --data "$DATA" --steps 1 --batch 1 --seq 8 \
  > "$OUT/probe.txt" 2> "$OUT/probe.err"
probe=$?
if [ "$probe" -eq 2 ] && grep -q 'no GPU found' "$OUT/probe.err"; then
  echo "device-check: no GPU here, nothing ran: $(grep -m1 'no GPU found' "$OUT/probe.err")" >&2
  exit 2
fi
echo "$probe" > "$OUT/probe.rc"
if [ "$probe" -eq 127 ]; then
  cat "$OUT/probe.txt" "$OUT/probe.err" >&2
  echo "device-check: a library the GPU trainer needs is missing (above)" >&2
  exit 127
fi
if [ "$probe" -ne 0 ]; then
  # Go on: the other runs (memcheck above all) may tell why.
  tail -5 "$OUT/probe.err" >&2
  echo "device-check: the GPU trainer failed its first step (exit $probe); going on" >&2
fi
card="$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)"
# Without nvidia-smi: the trainer's own "device: NAME, ..." line.
[ -n "$card" ] || card="$(sed -n 's/^device: \([^,(]*\).*/\1/p' "$OUT/probe.txt" | head -1)"
stage "GPU: ${card:-unknown}; bundle $BUNDLE_COMMIT; trainers start '$launch_mode'; logs in $OUT"

# run_limited SECONDS NAME LOG ARGS...: one trainer run with a time limit;
# its exit status, stdout and stderr in $OUT/LOG.{rc,txt}.
run_limited() {
  local limit=$1 name=$2 log=$3; shift 3
  timeout --kill-after=10 "$limit" "${LAUNCH[@]}" "$BUNDLE/bin/$name" "$@" \
    > "$OUT/$log.txt" 2>&1
  echo $? > "$OUT/$log.rc"
}
# fits_budget SECONDS: whether a stage of at most SECONDS ends in the budget.
fits_budget() { [ $(( $(elapsed) + $1 )) -le "$BUDGET" ]; }

# The runtime's own GPU tests first: each kernel and library call against a
# CPU reference (GoogleTest; test/Runtime/GpuRuntimeTest.cpp), so that a
# wrong kernel is named before the trainings that would only show it as a
# loss off.
if [ ! -x "$BUNDLE/tests/lmcrt-gpu-tests" ]; then
  echo "not in the bundle" > "$OUT/gpu-tests.txt"
  echo 127 > "$OUT/gpu-tests.rc"
else
  stage "the runtime's GPU tests (tests/lmcrt-gpu-tests, limit 120 s)"
  timeout --kill-after=10 120 "${LAUNCH[@]}" "$BUNDLE/tests/lmcrt-gpu-tests" \
    --gtest_color=no > "$OUT/gpu-tests.txt" 2>&1
  echo $? > "$OUT/gpu-tests.rc"
  grep -E '^\[  (PASSED|SKIPPED|FAILED) ' "$OUT/gpu-tests.txt" | head -20
fi

stage "tiny and gqa: 20 steps on the GPU from the CPU's checkpoints and data"
read -r -a FLAGS <<< "$CHECK_FLAGS"
for run in tiny-fp32:tiny-cuda-fp32:tiny tiny-bf16:tiny-cuda-bf16:tiny \
           tiny-bf16-storage:tiny-cuda-bf16-storage:tiny \
           tiny-decomposed:tiny-cuda-decomposed:tiny gqa-fp32:gqa-cuda-fp32:gqa; do
  IFS=: read -r name bin init <<< "$run"
  run_limited 90 "$bin" "$name" --data "$DATA" "${FLAGS[@]}" \
    --init-from "$BUNDLE/init/$init.safetensors" --ckpt-dir "$OUT/ckpt-$name" \
    --log "$OUT/$name.jsonl"
  echo "$name: exit $(cat "$OUT/$name.rc")"
done
# The same tiny fp32 run without CUDA graphs: its losses and norms must be
# the graph run's, bit for bit (the report compares the logs' text).
LAUNCH=(env LMCRT_CUDA_GRAPH=0 "${LAUNCH[@]}")
run_limited 90 tiny-cuda-fp32 tiny-fp32-nograph --data "$DATA" "${FLAGS[@]}" \
  --init-from "$BUNDLE/init/tiny.safetensors" --ckpt-dir "$OUT/ckpt-tiny-fp32-nograph" \
  --log "$OUT/tiny-fp32-nograph.jsonl"
LAUNCH=("${LAUNCH[@]:2}")
echo "tiny-fp32-nograph (LMCRT_CUDA_GRAPH=0): exit $(cat "$OUT/tiny-fp32-nograph.rc")"

SANITIZER="$(command -v compute-sanitizer 2>/dev/null ||
  ls -d /usr/local/cuda/bin/compute-sanitizer /usr/local/cuda*/bin/compute-sanitizer \
        /usr/local/cuda*/compute-sanitizer/compute-sanitizer 2>/dev/null | head -1)"
if [ -z "$SANITIZER" ]; then
  echo "compute-sanitizer not found (PATH, /usr/local/cuda*)" > "$OUT/memcheck.txt"
  echo 127 > "$OUT/memcheck.rc"
elif ! fits_budget 60; then
  echo "not run (time budget)" > "$OUT/memcheck.txt"
  echo 124 > "$OUT/memcheck.rc"
else
  # At most 150 s, so that the gpt2 timing keeps most of the budget.
  limit=$(( BUDGET - $(elapsed) ))
  [ "$limit" -gt 150 ] && limit=150
  stage "compute-sanitizer --tool memcheck over two tiny GPU steps (limit $limit s)"
  timeout --kill-after=10 "$limit" "$SANITIZER" --tool memcheck \
    --error-exitcode 99 "${LAUNCH[@]}" "$BUNDLE/bin/tiny-cuda-fp32" \
    --data "$DATA" --steps 2 --batch 8 --seq 64 \
    --init-from "$BUNDLE/init/tiny.safetensors" > "$OUT/memcheck.txt" 2>&1
  echo $? > "$OUT/memcheck.rc"
  grep -m1 'ERROR SUMMARY' "$OUT/memcheck.txt"
fi


gpt2_batch=0
: > "$OUT/batch-search.txt"
if [ ! -e "$BUNDLE/bin/gpt2-cuda-bf16" ]; then
  echo "not in the bundle (made with --tiny-only)" >> "$OUT/batch-search.txt"
else
  stage "gpt2-124M bf16, T 1024: the largest batch that fits, from $MAX_BATCH"
  batch=$MAX_BATCH
  while [ "$batch" -ge 1 ]; do
    if ! fits_budget "$TRY_LIMIT"; then
      echo "B $batch: not tried (time budget)" >> "$OUT/batch-search.txt"
      break
    fi
    run_limited "$TRY_LIMIT" gpt2-cuda-bf16 "gpt2-b$batch" --data "$DATA" \
      --steps "$TIME_STEPS" --batch "$batch" --seq 1024 --lr 3e-4 \
      --log "$OUT/gpt2-b$batch.jsonl"
    rc=$(cat "$OUT/gpt2-b$batch.rc")
    last="$(grep -v '^\s*$' "$OUT/gpt2-b$batch.txt" | tail -1 | cut -c1-160)"
    if [ "$rc" -eq 0 ]; then
      echo "B $batch: fits" >> "$OUT/batch-search.txt"
      gpt2_batch=$batch
      break
    elif grep -qiE 'out of memory|OUT_OF_MEMORY|CUBLAS_STATUS_ALLOC_FAILED' "$OUT/gpt2-b$batch.txt"; then
      echo "B $batch: out of memory" >> "$OUT/batch-search.txt"
      batch=$((batch / 2))
      continue
    elif [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
      # Not "does not fit" either, but a smaller batch may still give a
      # timing (a step that pages memory in and out).
      echo "B $batch: timed out after $TRY_LIMIT s" >> "$OUT/batch-search.txt"
      batch=$((batch / 2))
      continue
    elif [ "$rc" -eq 127 ]; then
      echo "B $batch: missing library (stopped): $last" >> "$OUT/batch-search.txt"
    elif grep -q -- '--data' "$OUT/gpt2-b$batch.txt"; then
      echo "B $batch: data error (stopped): $last" >> "$OUT/batch-search.txt"
    else
      echo "B $batch: failed, exit $rc (stopped): $last" >> "$OUT/batch-search.txt"
    fi
    break
  done
  cat "$OUT/batch-search.txt"
  if [ "$gpt2_batch" -gt 0 ] && fits_budget 90; then
    stage "gpt2-124M bf16, B $gpt2_batch: one run with LMCRT_PROFILE=1"
    LAUNCH=(env LMCRT_PROFILE=1 "${LAUNCH[@]}")
    run_limited 90 gpt2-cuda-bf16 gpt2-profile --data "$DATA" --steps 6 \
      --batch "$gpt2_batch" --seq 1024 --lr 3e-4
    LAUNCH=("${LAUNCH[@]:2}")
  fi
  # The same batch with bfloat16 storage, for the step time against it.
  : > "$OUT/gpt2-storage.txt"
  if [ "$gpt2_batch" -gt 0 ] && [ -e "$BUNDLE/bin/gpt2-cuda-bf16-storage" ]; then
    if fits_budget "$TRY_LIMIT"; then
      stage "gpt2-124M bf16 --bf16-storage, B $gpt2_batch"
      run_limited "$TRY_LIMIT" gpt2-cuda-bf16-storage "gpt2-storage-b$gpt2_batch" \
        --data "$DATA" --steps "$TIME_STEPS" --batch "$gpt2_batch" --seq 1024 \
        --lr 3e-4 --log "$OUT/gpt2-storage-b$gpt2_batch.jsonl"
    else
      echo "not run (time budget)" > "$OUT/gpt2-storage.txt"
    fi
  fi
fi

stage "done"
python3 "$HERE/device-check-report.py" --bundle "$BUNDLE" --out "$OUT" \
  --card "$card" --batch "$gpt2_batch" --launch "$launch_mode"
