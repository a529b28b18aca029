"""Kill one rank of a running mpirun job and check that the whole job ends.

Usage: python3 -m lmc.testing.kill_rank --rank R --after-lines N --log FILE
           [--timeout 60] [--signal KILL|STOP] [--stderr FILE]
           -- mpirun ... ./train ...
       python3 -m lmc.testing.kill_rank --after-lines N --log FILE -- ./train ...

Starts the command, waits until FILE (the trainer's JSONL log) has N lines,
sends SIGKILL to the process whose OMPI_COMM_WORLD_RANK is R and that is a
descendant of the command (without --rank: to the command itself, a trainer
run without mpirun), then waits for the command to end. Passes (exit 0) when
it ends within --timeout seconds of the kill with a non-zero status; prints
the status, the time it took and the command's last stderr lines.

--signal STOP stops the rank instead (SIGSTOP: a hung rank, which the others'
collective timeout must detect); the stopped process is killed once the job
has ended. --stderr FILE keeps the command's whole standard error.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time


def descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(entry))
        except OSError:
            continue
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        for child in children.get(pid, []):
            found.append(child)
            todo.append(child)
    return found


def rank_of(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            for item in f.read().split(b"\0"):
                if item.startswith(b"OMPI_COMM_WORLD_RANK="):
                    return int(item.split(b"=", 1)[1])
    except OSError:
        return None
    return None


def count_lines(path: str) -> int:
    try:
        with open(path) as f:
            return sum(1 for _ in f)
    except OSError:
        return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rank", type=int,
                        help="the rank to kill (default: the command itself)")
    parser.add_argument("--after-lines", type=int, required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--signal", choices=["KILL", "STOP"], default="KILL")
    parser.add_argument("--stderr", help="write the command's stderr here")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command")

    job = subprocess.Popen(command, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while count_lines(args.log) < args.after_lines:
        if job.poll() is not None or time.monotonic() > deadline:
            job.kill()
            print(f"FAIL: the job ended or stalled before {args.after_lines} "
                  f"log lines (status {job.poll()})")
            return 1
        time.sleep(0.05)
    if args.rank is None:
        victims = [job.pid]
    else:
        victims = [p for p in descendants(job.pid)
                   if rank_of(p) == args.rank]
    if not victims:
        job.kill()
        print(f"FAIL: no process of rank {args.rank} under the job")
        return 1
    who = "the job" if args.rank is None else f"rank {args.rank}"
    verb = "killed" if args.signal == "KILL" else "stopped"
    os.kill(victims[0], getattr(signal, "SIG" + args.signal))
    killed = time.monotonic()

    def reap_stopped() -> None:
        if args.signal == "STOP":
            try:
                os.kill(victims[0], signal.SIGKILL)
            except OSError:
                pass

    try:
        _, err = job.communicate(timeout=args.timeout)
    except subprocess.TimeoutExpired:
        reap_stopped()
        job.kill()
        job.communicate()
        print(f"FAIL: the job still ran {args.timeout:.0f} s after "
              f"{who} was {verb}")
        return 1
    took = time.monotonic() - killed
    reap_stopped()
    if args.stderr:
        with open(args.stderr, "w") as f:
            f.write(err)
    tail = [line for line in err.splitlines() if line.strip()][-3:]
    print(f"job ended with status {job.returncode} {took:.1f} s after "
          f"{who} was {verb}")
    for line in tail:
        print(f"stderr: {line}")
    if job.returncode == 0:
        print("FAIL: the job reported success")
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
