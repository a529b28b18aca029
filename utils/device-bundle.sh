#!/usr/bin/env bash
# Makes the GPU device check's bundle (docs/Gpu.md, "A bundle for a bare GPU
# machine"): everything `utils/device-check.sh --prebuilt DIR` needs on a GPU
# machine that cannot build (no LLVM, no oneDNN, no OpenMPI), at most 60 MiB:
#
#   DIR/bin/       the `--target cuda` trainers: tiny (fp32, bf16, fp32 with
#                  attention decomposed), a grouped-/multi-query model (fp32)
#                  and gpt2-124M (bf16), linked with the run path
#                  $ORIGIN/../lib
#   DIR/tests/     lmcrt-gpu-tests, the runtime's GPU tests (GoogleTest:
#                  each kernel and library call against a CPU reference),
#                  with the same run path
#   DIR/lib/       the shared libraries they load that a bare machine may
#                  lack: GCC's OpenMP runtime on their run path, its C++
#                  runtime (lib/cxx) and glibc (lib/glibc) for machines whose
#                  own are older; never the driver, cuBLASLt or NCCL (the
#                  trainer finds those there itself)
#   DIR/data/      a generated token shard (byte tokenizer, ~1M tokens: B 32
#                  at T 1024 fits 30 times over)
#   DIR/init/      the initial checkpoints of the comparisons
#   DIR/expected/  the CPU's 20-step logs from those checkpoints (the values
#                  the GPU's losses are compared with)
#   DIR/check.env  the flags of those runs and the glibc the bundle needs,
#                  read by device-check.sh
#   DIR/MANIFEST   what is in it, from which commit, each file's size
#   DIR/device-check.sh, device-check-report.py: the check itself, to run
#                  there as DIR/device-check.sh --prebuilt DIR
#
#   utils/device-bundle.sh [--tiny-only] DIR
#
# --tiny-only leaves out gpt2-124M (CI's check of the bundle; the device
# check then reports its timing as not run). Needs a built lmc with the CUDA
# runtime (LMC_BUILD_DIR, default ./build); exits 1 on any failure, 2 on
# bad arguments.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${LMC_BUILD_DIR:-$ROOT/build}"
LMC="$BUILD/tools/lmc/lmc"
MAX_MIB=60
TINY_ONLY=0
DIR=""
while [ $# -gt 0 ]; do
  case "$1" in
    --tiny-only) TINY_ONLY=1 ;;
    -h|--help) awk 'NR > 1 && /^#/ { print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    -*) echo "device-bundle: unknown argument '$1'" >&2; exit 2 ;;
    *) [ -z "$DIR" ] || { echo "device-bundle: one DIR only" >&2; exit 2; }
       DIR="$1" ;;
  esac
  shift
done
[ -n "$DIR" ] || { echo "usage: utils/device-bundle.sh [--tiny-only] DIR" >&2; exit 2; }
[ -x "$LMC" ] || { echo "device-bundle: $LMC not found (build lmc first)" >&2; exit 1; }

die() { echo "device-bundle: $*" >&2; exit 1; }
start=$(date +%s)
stage() { echo "== [$(( $(date +%s) - start )) s] $*"; }

# DIR is replaced: only when it is empty, missing or an earlier bundle.
if [ -d "$DIR" ] && [ -n "$(ls -A "$DIR")" ] && [ ! -f "$DIR/MANIFEST" ]; then
  die "$DIR exists and is not a bundle (no MANIFEST): refusing to replace it"
fi
rm -rf "$DIR" && mkdir -p "$DIR"/{bin,tests,lib,data,init,expected} || die "cannot create $DIR"
DIR="$(cd "$DIR" && pwd)"
WORK="$(mktemp -d /tmp/lmc-device-bundle.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
export PYTHONPATH="$ROOT/python${PYTHONPATH:+:$PYTHONPATH}"

# The link adds the run path: lmc links with the `c++` first on PATH, here
# one that passes -Wl,-rpath,$ORIGIN/../lib on to the real one (DT_RPATH,
# which also covers the bundled libraries' own dependencies).
REAL_CXX="$(command -v c++)" || die "no c++ on PATH"
mkdir -p "$WORK/linker"
cat > "$WORK/linker/c++" <<EOF
#!/bin/sh
exec "$REAL_CXX" "\$@" '-Wl,-rpath,\$ORIGIN/../lib' -Wl,--disable-new-dtags
EOF
chmod +x "$WORK/linker/c++"
compile() { PATH="$WORK/linker:$PATH" "$LMC" compile "$@"; }

stage "models"
python3 -m lmc.models.gpt2 --preset tiny -o "$WORK/tiny.mlir" || die "tiny model"
python3 "$ROOT/test/e2e/Inputs/gqa_model.py" --kv-heads 2,1 \
  -o "$WORK/gqa.mlir" || die "gqa model"

stage "GPU trainers (tiny fp32, bf16, bf16 storage, decomposed; gqa fp32)"
for p in fp32 bf16; do
  compile "$WORK/tiny.mlir" --target cuda --precision "$p" \
    -o "$DIR/bin/tiny-cuda-$p" || die "compiling tiny-cuda-$p"
done
compile "$WORK/tiny.mlir" --target cuda --precision bf16 --bf16-storage \
  -o "$DIR/bin/tiny-cuda-bf16-storage" || die "compiling tiny-cuda-bf16-storage"
compile "$WORK/tiny.mlir" --target cuda --attention decomposed \
  -o "$DIR/bin/tiny-cuda-decomposed" || die "compiling tiny-cuda-decomposed"
compile "$WORK/gqa.mlir" --target cuda -o "$DIR/bin/gqa-cuda-fp32" \
  || die "compiling gqa-cuda-fp32"
if [ "$TINY_ONLY" = 0 ]; then
  stage "GPU trainer gpt2-124M bf16"
  # The vocabulary padded to 50,304 (a multiple of 64, as llm.c does): the
  # logits' rows 16-byte aligned for cuBLASLt; the padded columns are masked
  # out of the loss.
  python3 -m lmc.models.gpt2 --preset gpt2-124M --pad-vocab 64 \
    -o "$WORK/gpt2.mlir" || die "gpt2 model"
  compile "$WORK/gpt2.mlir" --target cuda --precision bf16 --time \
    -o "$DIR/bin/gpt2-cuda-bf16" || die "compiling gpt2-cuda-bf16"
  # The same with the GEMMs' operands stored as bfloat16 (timed against it).
  compile "$WORK/gpt2.mlir" --target cuda --precision bf16 --bf16-storage \
    -o "$DIR/bin/gpt2-cuda-bf16-storage" || die "compiling gpt2-cuda-bf16-storage"
fi

stage "the runtime's GPU tests"
# Built by CMake with the run path $ORIGIN/../lib for this copy
# (lib/Runtime/Cuda/CMakeLists.txt).
GPU_TESTS="$BUILD/lib/Runtime/Cuda/lmcrt-gpu-tests"
[ -x "$GPU_TESTS" ] || die "$GPU_TESTS not found (build lmc with the CUDA runtime)"
cp "$GPU_TESTS" "$DIR/tests/" || die "copying lmcrt-gpu-tests"

stage "data: a generated shard (the repository's text, byte tokenizer)"
# The repository's own prose, repeated to ~1M bytes = ~1M tokens.
: > "$WORK/corpus.txt"
while [ "$(stat -c %s "$WORK/corpus.txt")" -lt 1048576 ]; do
  cat "$ROOT/README.md" "$ROOT"/docs/*.md >> "$WORK/corpus.txt"
done
python3 -m lmc.data prepare --input "$WORK/corpus.txt" --out "$WORK/data" \
  --tokenizer byte > /dev/null || die "preparing the shard"
cp "$WORK/data/train_000000.bin" "$DIR/data/" || die "no shard written"

stage "CPU reference runs (20 steps from the bundled checkpoints)"
CHECK_FLAGS="--steps 20 --batch 8 --seq 64 --lr 1e-3 --warmup 5 --grad-clip 1"
DATA="$DIR/data/train_000000.bin"
compile "$WORK/tiny.mlir" -o "$WORK/tiny-cpu-fp32" || die "compiling tiny-cpu-fp32"
compile "$WORK/tiny.mlir" --precision bf16 -o "$WORK/tiny-cpu-bf16" \
  || die "compiling tiny-cpu-bf16"
compile "$WORK/tiny.mlir" --precision bf16 --bf16-storage \
  -o "$WORK/tiny-cpu-bf16-storage" || die "compiling tiny-cpu-bf16-storage"
compile "$WORK/gqa.mlir" -o "$WORK/gqa-cpu-fp32" || die "compiling gqa-cpu-fp32"
"$WORK/tiny-cpu-fp32" --data "$DATA" --init-only --seed 1 \
  --ckpt-dir "$WORK/tiny-init" > /dev/null || die "tiny initial checkpoint"
cp "$WORK/tiny-init/ckpt_00000000.safetensors" "$DIR/init/tiny.safetensors"
"$WORK/gqa-cpu-fp32" --data "$DATA" --init-only --seed 1 \
  --ckpt-dir "$WORK/gqa-init" > /dev/null || die "gqa initial checkpoint"
cp "$WORK/gqa-init/ckpt_00000000.safetensors" "$DIR/init/gqa.safetensors"
# run NAME CPU-TRAINER INIT: the CPU side of comparison NAME.
run() {
  # shellcheck disable=SC2086
  "$WORK/$2" --data "$DATA" $CHECK_FLAGS --init-from "$DIR/init/$3.safetensors" \
    --ckpt-dir "$WORK/ckpt-$1" --log "$DIR/expected/$1.jsonl" \
    > "$WORK/$1.txt" 2>&1 || { cat "$WORK/$1.txt" >&2; die "CPU run $1"; }
}
run tiny-fp32 tiny-cpu-fp32 tiny
run tiny-bf16 tiny-cpu-bf16 tiny
run tiny-bf16-storage tiny-cpu-bf16-storage tiny
# The GPU's decomposed attention against the CPU's flash kernels.
cp "$DIR/expected/tiny-fp32.jsonl" "$DIR/expected/tiny-decomposed.jsonl"
run gqa-fp32 gqa-cpu-fp32 gqa

stage "libraries"
# What the trainers load, from this machine, in three folders:
#   lib/        on the trainers' run path: everything but the C++ runtime
#               and glibc (libgomp);
#   lib/cxx/    GCC's C++ runtime (libstdc++, libgcc_s), for a machine whose
#               own is older than the trainers need (device-check.sh tries
#               without it first: it may need a newer glibc than theirs);
#   lib/glibc/  this machine's glibc (the loader, libc, libm, libdl,
#               libpthread, librt), run through its loader on a machine whose
#               glibc is older than GLIBC_NEEDED.
# Never the driver, cuBLASLt or NCCL: the runtime finds them there itself.
mkdir -p "$DIR/lib/cxx" "$DIR/lib/glibc"
for t in "$DIR"/bin/* "$DIR"/tests/*; do
  ldd "$t" | awk '/=> \// { print $1, $3 } /^\t\/.*ld-linux/ { print "ld-linux-x86-64.so.2", $1 }'
done | sort -u | while read -r name path; do
  case "$name" in
    linux-vdso*) continue ;;
    ld-linux*|libc.so.*|libm.so.*|libdl.so.*|libpthread.so.*|librt.so.*) sub=glibc ;;
    libstdc++.so.*|libgcc_s.so.*) sub=cxx ;;
    *) sub=. ;;
  esac
  cp -L "$path" "$DIR/lib/$sub/$name" || die "copying $path"
done
# The stubs a dlopen'd library may need next to the bundled libc.
for name in libdl.so.2 libpthread.so.0 librt.so.1; do
  [ -e "$DIR/lib/glibc/$name" ] && continue
  path="$(ldconfig -p | awk -v n="$name" '$1 == n && /x86-64/ { print $NF; exit }')"
  [ -n "$path" ] && cp -L "$path" "$DIR/lib/glibc/$name"
done
for f in libgomp.so.1 cxx/libstdc++.so.6 glibc/libc.so.6 glibc/ld-linux-x86-64.so.2; do
  [ -e "$DIR/lib/$f" ] || die "lib/$f was not found by ldd"
done
cp "$ROOT/utils/device-check.sh" "$ROOT/utils/device-check-report.py" "$DIR/" \
  || die "copying the check's scripts"

# The newest glibc symbol version the trainers and lib/ need.
glibc_needed=$(for f in "$DIR"/bin/* "$DIR"/tests/* "$DIR"/lib/*.so*; do
    objdump -T "$f" 2>/dev/null | grep -o 'GLIBC_[0-9][0-9.]*' ; done |
  sed 's/GLIBC_//' | sort -t. -k1,1n -k2,2n -k3,3n -u | tail -1)

commit="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
dirty="$(git -C "$ROOT" status --porcelain 2>/dev/null | grep -q . && echo ' (uncommitted changes)')"
cat > "$DIR/check.env" <<EOF
# Written by utils/device-bundle.sh; read by utils/device-check.sh --prebuilt.
CHECK_FLAGS="$CHECK_FLAGS"
GLIBC_NEEDED="$glibc_needed"
BUNDLE_COMMIT="$commit$dirty"
BUNDLE_TINY_ONLY=$TINY_ONLY
EOF
{
  echo "lmc device-check bundle, commit $commit$dirty, made $(date -u +%FT%TZ) on $(uname -n)"
  echo "needs glibc >= $glibc_needed, an NVIDIA driver, cuBLASLt (13 or 12)"
  echo "CPU side: $CHECK_FLAGS"
  (cd "$DIR" && find . -type f ! -name MANIFEST -printf '%s\t%P\n' | sort -k2)
} > "$DIR/MANIFEST"

bytes=$(du -sb "$DIR" | cut -f1)
mib=$(( (bytes + 1048575) / 1048576 ))
stage "bundle: $DIR, $mib MiB ($bytes bytes), needs glibc >= $glibc_needed"
if [ "$bytes" -gt $(( MAX_MIB * 1048576 )) ]; then
  du -b "$DIR"/bin/* "$DIR"/lib/* >&2
  die "the bundle is $mib MiB, over the $MAX_MIB MiB limit"
fi
exit 0
