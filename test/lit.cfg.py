# -*- Python -*-
# lit configuration of the lmc test suite (`ninja check-lmc`).

import os
import shutil
import subprocess
import sys

import lit.formats
from lit.llvm import llvm_config
from lit.llvm.subst import ToolSubst

config.name = "LMC"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
config.excludes = ["lit.cfg.py", "lit.site.cfg.py", "Inputs", "CMakeLists.txt"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.lmc_obj_root, "test")

llvm_config.use_default_substitutions()
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)

# The Python package (model builder, NumPy reference) runs from the source
# tree with the interpreter the build was configured with (the one
# utils/setup.sh gave NumPy; LMC_PYTHON overrides it). lit's default
# substitutions already define %python as the interpreter running lit
# (/usr/bin/python3 for Debian's lit), and the first definition of a
# substitution wins: replace it rather than add a second one.
python = os.environ.get("LMC_PYTHON") or config.lmc_python or sys.executable
config.environment["PYTHONPATH"] = os.path.join(config.lmc_src_root, "python")
config.substitutions = [s for s in config.substitutions if s[0] != "%python"]
config.substitutions.append(("%python", python))
config.substitutions.append(("%lmc_python", python))
config.substitutions.append(("%lmc_src_root", config.lmc_src_root))
config.substitutions.append(("%lmc_obj_root", config.lmc_obj_root))
# The CMake that configured the build, for `cmake --install` (test/Tools/lmc).
config.substitutions.append(("%cmake", config.cmake))
config.substitutions.append(
    ("%mlir_c_runner_utils",
     os.path.join(config.mlir_lib_dir, "libmlir_c_runner_utils.so")))

tool_dirs = [os.path.join(config.lmc_tools_dir, "lmc-opt"),
             os.path.join(config.lmc_tools_dir, "lmc"),
             config.llvm_tools_dir]
tools = [
    "lmc-opt",
    "lmc",
    ToolSubst("mlir-opt", unresolved="fatal"),
    ToolSubst("llvm-nm", unresolved="fatal"),
    ToolSubst("mlir-runner", unresolved="fatal"),
    ToolSubst("mlir-translate", unresolved="fatal"),
    ToolSubst("llc", unresolved="fatal"),
]
llvm_config.add_tool_substitutions(tools, tool_dirs)

# An English text that every Debian system has (package base-files), used as
# a small training corpus by the trainer tests and the README's main job.
corpus = "/usr/share/common-licenses/GPL-3"
if os.path.exists(corpus):
    config.available_features.add("corpus")
    config.substitutions.append(("%corpus", corpus))

# setuptools and wheel, which `pip install --no-build-isolation ./python`
# builds the package with offline (utils/setup.sh installs both).
if subprocess.run([python, "-c", "import setuptools, wheel"],
                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0:
    config.available_features.add("python-build")

# OpenMPI's launcher, for the runtime's collectives (test/Runtime). Tests run
# as root in containers, which mpirun refuses without --allow-run-as-root, and
# start more ranks than the machine may have cores (--oversubscribe).
mpirun = shutil.which("mpirun")
if mpirun:
    config.available_features.add("mpirun")
    config.substitutions.append(
        ("%mpirun", mpirun + " --allow-run-as-root --oversubscribe"))

# A CPU with AVX512-BF16 (Intel since Cooper Lake, AMD since Zen 4): the CPU's
# bfloat16 GEMMs run on oneDNN's matmul primitive, not on the emulation
# (tests with `REQUIRES: cpu-bf16`).
try:
    with open("/proc/cpuinfo") as f:
        if "avx512_bf16" in f.read().split():
            config.available_features.add("cpu-bf16")
except OSError:
    pass

# The CUDA toolkit, when CMake found one: its ptxas assembles the generated
# PTX (tests with `REQUIRES: ptxas`; without it they are reported
# UNSUPPORTED), and its libdevice is linked into the kernels.
if config.ptxas and os.path.exists(config.ptxas):
    config.available_features.add("ptxas")
    config.substitutions.append(("%ptxas", config.ptxas))
    config.substitutions.append(("%cuda_toolkit", config.cuda_toolkit))

# The host runtime of cuda programs (liblmcrt_cuda.a), built when CMake found
# the toolkit's headers. Its tests run without a GPU: they check the no-GPU
# path, and the GPU tests report that they skip. %cuda_driver_stub is the
# toolkit's stub libcuda (cuInit fails with CUDA_ERROR_STUB_LIBRARY).
if config.cuda_runtime.upper() in ("ON", "1", "TRUE", "YES"):
    config.available_features.add("cuda-runtime")
    stub = os.path.join(config.cuda_toolkit or "/usr/local/cuda", "lib64",
                        "stubs", "libcuda.so")
    if os.path.exists(stub):
        config.available_features.add("cuda-driver-stub")
        config.substitutions.append(("%cuda_driver_stub", stub))
