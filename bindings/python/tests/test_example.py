# SPDX-License-Identifier: MIT
"""The README's example is examples/loopback.py, verbatim, and it runs."""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")


def test_readme_shows_the_example():
    example = open(os.path.join(ROOT, "examples", "loopback.py")).read()
    readme = open(os.path.join(ROOT, "README.md")).read()
    assert "```python\n" + example + "```" in readme
    assert len(example.splitlines()) <= 35


def test_example_runs():
    env = dict(os.environ, PYTHONPATH=ROOT)
    out = subprocess.run([sys.executable, os.path.join(ROOT, "examples", "loopback.py")],
                         env=env, check=True, capture_output=True, text=True, timeout=30).stdout
    assert "delivered 37 bytes: b'hello bob'" in out
    assert "bob's drop counters: {}" in out
