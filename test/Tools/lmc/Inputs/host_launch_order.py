"""Prints what each entry point of a GPU program's host code (the module
`lmc compile --target cuda --emit mlir` writes) queues, in program order:
its kernel launches and its calls of the runtime, with the calls of the
module's own host functions flattened (followed into their bodies), one
line each. Two host codes that launch the same kernels in the same order
with the same runtime calls between them print the same text, however
their host functions are inlined."""

import re
import sys

FUNC = re.compile(r"^  func\.func (private )?@([\w.]+)\(")
LAUNCH = re.compile(r"gpu\.launch_func\b.*?@\w+::@(\w+)")
CALL = re.compile(r"\bcall @([\w.]+)\(")


def parse(path):
    bodies, public, current = {}, [], None
    with open(path) as f:
        for line in f:
            match = FUNC.match(line)
            if match and line.rstrip().endswith("{"):
                current = match.group(2)
                bodies[current] = []
                if not match.group(1):
                    public.append(current)
                continue
            if current is None:
                continue
            if line.rstrip() == "  }":
                current = None
                continue
            bodies[current].append(line)
    return bodies, public


def events(name, bodies, depth=0):
    if depth > 32:
        sys.exit(f"host_launch_order: calls nested too deep at @{name}")
    for line in bodies[name]:
        launch = LAUNCH.search(line)
        if launch:
            yield f"launch {launch.group(1)}"
            continue
        call = CALL.search(line)
        if call:
            callee = call.group(1)
            if callee in bodies:
                yield from events(callee, bodies, depth + 1)
            else:
                yield f"call {callee}"


def main():
    bodies, public = parse(sys.argv[1])
    if not public:
        sys.exit(f"host_launch_order: no entry point in {sys.argv[1]}")
    for name in public:
        print(name)
        for event in events(name, bodies):
            print(f"  {event}")


if __name__ == "__main__":
    main()
