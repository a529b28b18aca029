"""Checks what the step's CUDA graph assumes of a GPU program's host code
(lib/Runtime/Cuda/StepGraph.h, "Host-shared memory"): in `lmc_train_step`,
with the calls of the module's own host functions followed into their
bodies, in program order, until its first blocking wait (`gpu.wait [...]`
without `async`), the host stores into no buffer (`memref.store`,
`memref.copy`) and loads none (`memref.load`), and every `gpu.memcpy`
copies between buffers of the GPU's allocations (`gpu.alloc`,
`memref.alloc`, which the runtime places in device memory, or a function's
arguments), never from or to host memory of the stack or a global
(`memref.alloca`, `memref.get_global`), whose value a later statement could
change before a replayed graph's copy runs.

Prints one line per count and each offending line; exits 1 when one is
found.

  host_shared_hazards.py MODULE.mlir [ENTRY]
"""

import re
import sys

FUNC = re.compile(r"^  func\.func (private )?@([\w.]+)\(")
CALL = re.compile(r"\bcall @([\w.]+)\(")
DEF = re.compile(r"^\s*(%[\w.#]+)(?::\d+)? = ([\w.]+)")
WAIT = re.compile(r"\bgpu\.wait \[")
MEMCPY = re.compile(r"\bgpu\.memcpy\s+(?:async\s*\[[^\]]*\]\s*)?(%[\w.#]+),\s*(%[\w.#]+)")
HOST_MEMORY = ("memref.alloca", "memref.get_global")


def parse(path):
    bodies, current = {}, None
    with open(path) as f:
        for line in f:
            match = FUNC.match(line)
            if match and line.rstrip().endswith("{"):
                current = match.group(2)
                bodies[current] = []
                continue
            if current is None:
                continue
            if line.rstrip() == "  }":
                current = None
                continue
            bodies[current].append(line)
    return bodies


def walk(name, bodies, out, depth=0):
    """(function, line) in program order, calls followed; stops after the
    first blocking wait (returns True then)."""
    if depth > 32:
        sys.exit(f"host_shared_hazards: calls nested too deep at @{name}")
    for line in bodies[name]:
        out.append((name, line))
        if WAIT.search(line):
            return True
        call = CALL.search(line)
        if call and call.group(1) in bodies:
            if walk(call.group(1), bodies, out, depth + 1):
                return True
    return False


def main():
    path = sys.argv[1]
    entry = sys.argv[2] if len(sys.argv) > 2 else "lmc_train_step"
    bodies = parse(path)
    if entry not in bodies:
        sys.exit(f"host_shared_hazards: no @{entry} in {path}")
    # What defines each SSA value, per function.
    defined = {fn: {} for fn in bodies}
    for fn, lines in bodies.items():
        for line in lines:
            m = DEF.match(line)
            if m:
                defined[fn][m.group(1)] = m.group(2)
    lines = []
    waited = walk(entry, bodies, lines)
    stores, loads, host_copies, memcpys = [], [], [], 0
    for fn, line in lines:
        text = line.strip()
        if re.search(r"\bmemref\.(store|copy)\b", text):
            stores.append(f"@{fn}: {text}")
        if re.search(r"\bmemref\.load\b", text):
            loads.append(f"@{fn}: {text}")
        m = MEMCPY.search(text)
        if m:
            memcpys += 1
            for value in m.groups():
                if defined[fn].get(value) in HOST_MEMORY:
                    host_copies.append(f"@{fn}: {text}")
    print(f"blocking wait reached: {'yes' if waited else 'no'}")
    print(f"host stores before the wait: {len(stores)}")
    print(f"host loads before the wait: {len(loads)}")
    print(f"gpu.memcpy before the wait: {memcpys}, "
          f"with host memory: {len(host_copies)}")
    for line in stores + loads + host_copies:
        print("  " + line)
    return 1 if stores or loads or host_copies or not waited else 0


if __name__ == "__main__":
    sys.exit(main())
