"""The environment the benchmarks run PyTorch in, tuned as a careful user
would: passive OpenMP waits, tcmalloc when libtcmalloc_minimal.so.4 is
installed, and OpenBLAS's AVX-512 kernel named where the CPU has AVX-512.

Debian's PyTorch runs its GEMMs on OpenBLAS, which picks its kernel from the
CPU model: a virtual machine's unnamed model gets its oldest (Prescott, SSE3:
62 GFLOP/s where the AVX-512 kernel does 250), so the kernel is named unless
OPENBLAS_CORETYPE is already set.
"""

import os

TCMALLOC = "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4"


def torch_env() -> dict:
    """os.environ plus the tuning above."""
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")
    if os.path.exists(TCMALLOC):
        env["LD_PRELOAD"] = TCMALLOC
    cpuinfo = ""
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as f:
            cpuinfo = f.read()
    if "OPENBLAS_CORETYPE" not in os.environ and " avx512f" in cpuinfo:
        env["OPENBLAS_CORETYPE"] = ("Cooperlake" if " avx512_bf16" in cpuinfo
                                    else "SkylakeX")
    return env


def describe(env: dict) -> str:
    """One line: what torch_env set."""
    return ("OMP_WAIT_POLICY=PASSIVE" +
            (", tcmalloc" if "LD_PRELOAD" in env else
             ", glibc malloc (no libtcmalloc_minimal.so.4)") +
            (", OPENBLAS_CORETYPE=" + env["OPENBLAS_CORETYPE"]
             if "OPENBLAS_CORETYPE" in env else ""))
