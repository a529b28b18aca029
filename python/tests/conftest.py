"""Make the lmc package importable and offer a CLI runner to the tests."""

import os
import subprocess
import sys

import pytest

PYTHON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if PYTHON_DIR not in sys.path:
    sys.path.insert(0, PYTHON_DIR)


@pytest.fixture
def run_cli():
    """Run `python3 -m MODULE ARGS...`; return the CompletedProcess."""
    def run(module, *args):
        env = dict(os.environ, PYTHONPATH=PYTHON_DIR)
        return subprocess.run([sys.executable, "-m", module, *map(str, args)],
                              capture_output=True, text=True, env=env, timeout=60)
    return run
