"""Type checkers see a smart-jitted function's own signature, in both forms."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import smart_jit

SNIPPET = textwrap.dedent(
    """
    from smart_jit import Action, jit

    @jit
    def bare(a: int, b: float) -> float:
        return a + b

    @jit(use_jit=lambda a: Action.JIT, cache=False)
    def called(a: int) -> int:
        return a

    @jit("float64(float64)")
    def with_signature(a: float) -> float:
        return a

    x: float = bare(1, 2.0)
    y: int = called(3)
    z: float = with_signature(1.0)
    bare("no", 2.0)
    called()
    w: str = called(3)
    sigs: list[object] = called.signatures
    ok: bool = called.wait_compiled(1.0)
    """
)


def test_mypy_sees_the_decorated_signature(tmp_path):
    path = tmp_path / "snippet.py"
    path.write_text(SNIPPET)
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(path)],
        capture_output=True,
        text=True,
        env={"MYPYPATH": str(Path(smart_jit.__file__).parents[1])},
    )
    errors = [line for line in result.stdout.splitlines() if ": error:" in line]
    lines = sorted(int(line.split(":")[1]) for line in errors)
    assert lines == [19, 20, 21], result.stdout


def test_package_is_typed():
    assert (Path(smart_jit.__file__).parent / "py.typed").exists()
