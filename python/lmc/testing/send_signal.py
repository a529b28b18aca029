"""Send a signal to a running trainer (or to one rank of an mpirun job).

Usage: python3 -m lmc.testing.send_signal --signal TERM|INT [--times 2]
           (--after-lines N --log FILE | --after-stderr TEXT)
           [--rank R] [--timeout 60] -- COMMAND...

Starts COMMAND (its standard output passes through), waits until FILE (the
trainer's JSONL log) has N lines or its standard error has a line containing
TEXT, and sends the signal to COMMAND itself or, with --rank, to the process
under it whose OMPI_COMM_WORLD_RANK is R. With --times 2, a second signal
follows once the first is acknowledged (the trainer's "received" line on
stderr). Then waits for COMMAND and prints, after its output, its stderr
lines prefixed with "stderr: " and "status S" (the exit status; -N when a
signal N ended it). Exits 1 when COMMAND ends before the signal or outlives
--timeout seconds after it; 0 otherwise, whatever its status (the test
checks it).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time

from lmc.testing.kill_rank import count_lines, descendants, rank_of


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signal", choices=["TERM", "INT"], required=True)
    parser.add_argument("--times", type=int, choices=[1, 2], default=1)
    parser.add_argument("--after-lines", type=int)
    parser.add_argument("--log")
    parser.add_argument("--after-stderr")
    parser.add_argument("--rank", type=int)
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command")
    if (args.after_lines is None) == (args.after_stderr is None):
        parser.error("give one of --after-lines (with --log), --after-stderr")
    if args.after_lines is not None and not args.log:
        parser.error("--after-lines needs --log")
    sig = getattr(signal, "SIG" + args.signal)

    job = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    err: list[str] = []

    def read_stderr() -> None:
        for line in job.stderr:
            err.append(line.rstrip("\n"))

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()

    def wait_for(ready, what: str) -> bool:
        deadline = time.monotonic() + 120
        while not ready():
            if job.poll() is not None or time.monotonic() > deadline:
                if job.poll() is None:
                    job.kill()
                job.wait()
                reader.join(5)
                for line in err:
                    print(f"stderr: {line}")
                print(f"FAIL: the job ended or stalled before {what} "
                      f"(status {job.returncode})")
                return False
            time.sleep(0.02)
        return True

    if args.after_lines is not None:
        ok = wait_for(lambda: count_lines(args.log) >= args.after_lines,
                      f"{args.after_lines} log lines")
    else:
        ok = wait_for(lambda: any(args.after_stderr in l for l in list(err)),
                      f"'{args.after_stderr}' on stderr")
    if not ok:
        return 1
    if args.rank is None:
        victim = job.pid
    else:
        victims = [p for p in descendants(job.pid) if rank_of(p) == args.rank]
        if not victims:
            job.kill()
            print(f"FAIL: no process of rank {args.rank} under the job")
            return 1
        victim = victims[0]

    os.kill(victim, sig)
    if args.times == 2:
        if not wait_for(lambda: any(f"SIG{args.signal} received" in l
                                    for l in list(err)),
                        "the first signal's acknowledgement"):
            return 1
        os.kill(victim, sig)
    try:
        job.wait(timeout=args.timeout)
    except subprocess.TimeoutExpired:
        job.kill()
        job.wait()
        print(f"FAIL: the job still ran {args.timeout:.0f} s after the signal")
        return 1
    reader.join(5)
    sys.stdout.flush()
    for line in err:
        print(f"stderr: {line}")
    print(f"status {job.returncode}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
