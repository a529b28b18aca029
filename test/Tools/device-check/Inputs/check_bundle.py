#!/usr/bin/env python3
"""Checks a device-check bundle (utils/device-bundle.sh) for device-bundle.test.

usage: check_bundle.py BUNDLE MAX_MIB

Prints one line per check and exits 1 at the first that fails:
  size       every file together is at most MAX_MIB MiB;
  needed     no trainer's NEEDED list (readelf -d) has oneDNN, MPI or a CUDA
             library (the runtime opens those itself, when it needs them);
  rpath      each trainer's run path is $ORIGIN/../lib;
  ldd        with LD_LIBRARY_PATH set to the bundle's folders alone, ldd
             resolves every library of every trainer, each from the bundle
             but glibc's own.
"""
import os
import re
import subprocess
import sys

GLIBC = re.compile(r"^(linux-vdso|ld-linux|libc\.so|libm\.so|libdl\.so|"
                   r"libpthread\.so|librt\.so)")
FORBIDDEN = re.compile(r"libdnnl|libmpi|libopen-|libcuda|libcublas|libnccl|libcudart")


def fail(message):
    print("FAIL:", message)
    sys.exit(1)


def main():
    bundle, max_mib = os.path.abspath(sys.argv[1]), int(sys.argv[2])
    size = sum(os.path.getsize(os.path.join(d, f))
               for d, _, files in os.walk(bundle) for f in files)
    if size > max_mib << 20:
        fail(f"the bundle is {size} bytes, over {max_mib} MiB")
    print(f"size: {size / (1 << 20):.1f} MiB <= {max_mib} MiB")

    bins = sorted(os.path.join(bundle, "bin", f)
                  for f in os.listdir(os.path.join(bundle, "bin")))
    if not bins:
        fail("no trainer in bin/")
    env = dict(os.environ,
               LD_LIBRARY_PATH=":".join(os.path.join(bundle, "lib", d)
                                        for d in (".", "cxx")))
    from_bundle = set()
    for path in bins:
        name = os.path.basename(path)
        dynamic = subprocess.run(["readelf", "-d", path], capture_output=True,
                                 text=True, check=True).stdout
        needed = re.findall(r"\(NEEDED\).*\[(.*)\]", dynamic)
        bad = [n for n in needed if FORBIDDEN.search(n)]
        if bad or not needed:
            fail(f"{name} needs {bad or 'nothing?'}")
        rpath = re.findall(r"\((?:RPATH|RUNPATH)\).*\[(.*)\]", dynamic)
        if rpath != ["$ORIGIN/../lib"]:
            fail(f"{name}: run path {rpath}")
        ldd = subprocess.run(["ldd", path], capture_output=True, text=True,
                             env=env, check=True).stdout
        for line in ldd.splitlines():
            line = line.strip()
            if "not found" in line:
                fail(f"{name}: {line}")
            m = re.match(r"(\S+) => (\S+)", line)
            if not m or GLIBC.match(m.group(1)):
                continue
            real = os.path.realpath(m.group(2))
            if not real.startswith(bundle + os.sep):
                fail(f"{name}: {m.group(1)} resolved outside the bundle: {real}")
            from_bundle.add(m.group(1))
    print(f"needed: {len(bins)} trainers, none needs oneDNN, MPI or CUDA")
    print("rpath: $ORIGIN/../lib")
    print("ldd: all resolved; from the bundle: " + " ".join(sorted(from_bundle)))


if __name__ == "__main__":
    main()
