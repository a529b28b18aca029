"""Runs a command and succeeds only if it exits with the given status.

usage: expect-status.py STATUS COMMAND [ARG...]
The command's output passes through; a different status (or a signal) is
reported on stderr and makes this script exit with 1.
"""
import subprocess
import sys

expected = int(sys.argv[1])
status = subprocess.run(sys.argv[2:]).returncode
if status != expected:
    sys.stderr.write("expected exit status %d, got %d\n" % (expected, status))
    sys.exit(1)
