"""Every Python block of the README runs, as a script of its own, and prints
what the README says it prints.

Conventions in the blocks: ``print(x)  # TEXT`` and ``# out: TEXT`` are the
expected stdout lines, in order (a TEXT ending in ``...`` is a prefix);
``# warns: TEXT`` must appear in stderr.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def expectations(code):
    stdout, stderr = [], []
    for line in code.splitlines():
        if match := re.match(r"\s*# out: (.*)$", line):
            stdout.append(match.group(1))
        elif match := re.match(r"\s*# warns: (.*)$", line):
            stderr.append(match.group(1))
        elif match := re.match(r"\s*print\(.*\)  # (.*)$", line):
            stdout.append(match.group(1))
    return stdout, stderr


def matches(expected, got):
    if expected.endswith("..."):
        return got.startswith(expected[:-3])
    return got == expected


def test_readme_has_the_seed_examples():
    assert len(BLOCKS) >= 7
    assert all(expectations(code)[0] for code in BLOCKS), "every block states its output"


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_block(code, tmp_path):
    script = tmp_path / "block.py"
    script.write_text(code)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"), PYTHONWARNINGS="always")
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path, env=env
    )
    assert result.returncode == 0, result.stderr
    want_out, want_err = expectations(code)
    got = result.stdout.splitlines()
    assert len(got) == len(want_out), result.stdout
    for expected, line in zip(want_out, got, strict=True):
        assert matches(expected, line), (expected, line)
    for text in want_err:
        assert text in result.stderr
