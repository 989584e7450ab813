"""``python -m smart_jit report TARGET:FUNCTION``

Runs TARGET (a script path, as ``__main__``, or an importable module name),
then prints why calls of FUNCTION ran in the interpreter.
"""

from __future__ import annotations

import importlib
import runpy
import sys

from .report import report

USAGE = "usage: python -m smart_jit report SCRIPT.py:FUNCTION | MODULE:FUNCTION"


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "report" or ":" not in argv[1]:
        print(USAGE, file=sys.stderr)
        return 2
    target, _, name = argv[1].rpartition(":")
    if target.endswith(".py"):
        namespace = runpy.run_path(target, run_name="__main__")
    else:
        namespace = vars(importlib.import_module(target))
    func = namespace.get(name)
    if func is None or not hasattr(func, "fallbacks"):
        print(f"{target} has no smart-jitted function {name!r}", file=sys.stderr)
        return 2
    print(report(func))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
