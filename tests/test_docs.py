"""Every Python block of the README and of the documentation pages runs, as a
script of its own, and prints what the page says it prints.

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

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
PAGES = [page for page in PAGES if "_build" not in page.parts and "_generated" not in page.parts]


def blocks(page):
    return re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.S)


EXAMPLES = [
    pytest.param(code, id=f"{page.relative_to(ROOT)}:block{i}")
    for page in PAGES
    for i, code in enumerate(blocks(page))
]


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


def test_every_block_states_its_output():
    assert len(EXAMPLES) >= 12
    assert all(expectations(example.values[0])[0] for example in EXAMPLES)


def test_the_seed_examples_are_all_on_the_pages():
    text = "\n".join(code for example in EXAMPLES for code in example.values)
    for example in ("def sum_fast(A)", "def add(a, b)", "def double(a)", "def incr(a)"):
        assert example in text, example


def test_the_readme_and_the_front_page_start_with_a_running_example():
    assert blocks(ROOT / "README.md") and blocks(ROOT / "docs" / "index.md")


@pytest.mark.parametrize("code", EXAMPLES)
def test_block(code, tmp_path):
    script = tmp_path / "block.py"
    script.write_text(code)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"), PYTHONWARNINGS="always")
    env.pop("SMART_JIT_STANCE", None)
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


# The API reference shows these docstrings: their examples run too.
DOCTESTED = ["smart_jit.decorators", "smart_jit.policies", "smart_jit.stances"]


@pytest.mark.parametrize("name", DOCTESTED)
def test_docstring_examples(name):
    import doctest
    import importlib

    from smart_jit import set_stance

    try:
        failed, tried = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    finally:
        set_stance("default")
    assert tried > 0 and failed == 0


def test_help_of_jit_says_what_the_policy_gets_and_returns():
    import pydoc

    import smart_jit

    text = pydoc.render_doc(smart_jit.jit, renderer=pydoc.plaintext)
    for needed in (
        "use_jit(*values)",
        "Action.BACKGROUND_JIT",
        "on_compile_error : Action or None",
        "Action.RAISE_EXCEPTION`` is accepted",
        "lazy : bool, default False",
    ):
        assert needed in text, needed


FIGURES = sorted((ROOT / "docs" / "figures").glob("*.py"))


@pytest.mark.parametrize("script", FIGURES, ids=lambda p: p.stem)
def test_each_picture_of_the_docs_is_drawn_from_a_real_run(script, tmp_path):
    # make docs runs them the same way; the pages show what they draw.
    picture = tmp_path / f"{script.stem}.png"
    result = subprocess.run(
        [sys.executable, str(script), str(picture)], capture_output=True, text=True, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "switched to JIT at call" in result.stdout  # the run it draws did switch
    page = (ROOT / "docs" / "guide" / "logging.md").read_text()
    assert f"../_generated/{script.stem}.png" in page and f"figures/{script.stem}.py" in page
