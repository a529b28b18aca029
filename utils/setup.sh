#!/usr/bin/env bash
# Installs what the lmc build needs on Debian 12 (only what is missing),
# configures and builds. Idempotent: a second run only rebuilds what changed.
#
#   utils/setup.sh            build into ./build
#   LMC_BUILD_DIR=dir utils/setup.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${LMC_BUILD_DIR:-$ROOT/build}"

APT_PACKAGES=(
  cmake ninja-build g++ ccache python3 libgtest-dev libdnnl-dev time
  libopenmpi-dev openmpi-bin
  llvm-22-dev llvm-22-tools libmlir-22-dev mlir-22-tools
)

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "== installing: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    --no-install-recommends "${missing[@]}"
fi

# NumPy (the reference) and pytest, for the interpreter that `python3` is.
if ! python3 -c 'import numpy, pytest' >/dev/null 2>&1; then
  echo "== installing numpy and pytest for $(command -v python3)"
  if ! python3 -m pip install -q numpy pytest 2>/dev/null; then
    # Debian's own python3 refuses pip installs (PEP 668): use its packages.
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      python3-numpy python3-pytest
  fi
fi

# pip, for the packages below that Debian does not ship (a pyenv python3
# has it; Debian's own needs python3-pip).
if ! python3 -m pip --version >/dev/null 2>&1; then
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    python3-pip
fi

# Tokenizers of `python3 -m lmc.data prepare`: Hugging Face tokenizers
# (--tokenizer bpe) and tiktoken (--tokenizer gpt2); PyPI only (Debian has
# no package of either).
if ! python3 -c 'import tokenizers, tiktoken' >/dev/null 2>&1; then
  echo "== installing tokenizers and tiktoken for $(command -v python3)"
  python3 -m pip install -q tokenizers tiktoken ||
    python3 -m pip install -q --break-system-packages tokenizers tiktoken
fi

# matplotlib, for the loss curves of `python3 -m lmc.plot` (Agg backend: no
# display needed).
if ! python3 -c 'import matplotlib' >/dev/null 2>&1; then
  echo "== installing matplotlib for $(command -v python3)"
  if ! python3 -m pip install -q matplotlib 2>/dev/null; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      python3-matplotlib
  fi
fi

# setuptools and wheel: `pip install ./python` builds the package with them,
# offline too (--no-build-isolation; test/Tools/python-package.test).
if ! python3 -c 'import setuptools, wheel' >/dev/null 2>&1; then
  echo "== installing setuptools and wheel for $(command -v python3)"
  if ! python3 -m pip install -q setuptools wheel 2>/dev/null; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      python3-setuptools python3-wheel
  fi
fi

echo "== configuring and building in $BUILD"
cmake -G Ninja -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -C "$BUILD" lmc lmc-opt lmcrt lmc-doc
