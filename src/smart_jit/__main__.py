"""``python -m smart_jit report TARGET:FUNCTION [-- ARGS...]``

Runs TARGET, then prints why calls of FUNCTION ran in the interpreter.  A
script path runs exactly as ``python SCRIPT ARGS...`` would run it: as
``__main__``, with ``sys.argv == [SCRIPT, *ARGS]`` and the script's folder first
on ``sys.path``; the report is printed even if the script exits through
``SystemExit``.  A module name is imported instead.

Every mistake in the command line is one line on stderr and exit status 2.
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback
import types
from typing import Any

from .report import report

USAGE = """\
usage: python -m smart_jit report SCRIPT.py:FUNCTION [-- ARGS...]
       python -m smart_jit report MODULE:FUNCTION

Run SCRIPT.py as `python SCRIPT.py ARGS...` would (or import MODULE), then
print why calls of the smart-jitted FUNCTION ran in the interpreter."""


class UsageError(Exception):
    """A mistake in the command line: reported in one line, exit status 2."""


def main(argv: list[str]) -> int:
    own, script_args = _split(argv)
    if "-h" in own or "--help" in own:
        print(USAGE)
        return 0
    try:
        target, name = _parse(own, script_args)
        namespace, status = _run(target, script_args)
        func = namespace.get(name)
        if func is None:
            raise UsageError(f"{target} has no function {name!r}")
        if not callable(getattr(func, "fallbacks", None)):
            raise UsageError(f"{target}:{name} is not smart-jitted (decorate it with jit)")
    except UsageError as exc:
        print(f"python -m smart_jit: error: {exc}", file=sys.stderr)
        return 2
    sys.stdout.flush()
    print(report(func))
    return status


def _split(argv: list[str]) -> tuple[list[str], list[str]]:
    """Our arguments, and the script's (those after ``--``)."""
    if "--" not in argv:
        return argv, []
    cut = argv.index("--")
    return argv[:cut], argv[cut + 1 :]


def _parse(own: list[str], script_args: list[str]) -> tuple[str, str]:
    if not own or own[0] != "report":
        raise UsageError("the only command is `report` (see --help)")
    if len(own) != 2:
        raise UsageError("report takes one TARGET:FUNCTION (script arguments go after --)")
    target, _, name = own[1].rpartition(":")
    if not target or not name.isidentifier():
        raise UsageError(f"{own[1]!r} is not SCRIPT.py:FUNCTION or MODULE:FUNCTION")
    if script_args and not target.endswith(".py"):
        raise UsageError("arguments after -- are for a script, not a module")
    return target, name


def _run(target: str, script_args: list[str]) -> tuple[dict[str, Any], int]:
    """Run or import *target*; its namespace and the exit status it asked for."""
    if not target.endswith(".py"):
        try:
            return vars(importlib.import_module(target)), 0
        except ModuleNotFoundError as exc:
            if exc.name is not None and target.startswith(exc.name):
                raise UsageError(f"no module named {target!r}") from None
            raise
    try:
        with open(target, "rb") as file:
            source = file.read()
    except OSError as exc:
        raise UsageError(f"cannot open script {target!r}: {exc.strerror}") from None
    main = types.ModuleType("__main__")
    main.__file__ = target
    main.__builtins__ = __builtins__  # type: ignore[attr-defined]
    sys.modules["__main__"] = main
    sys.argv = [target, *script_args]
    sys.path[0] = os.path.dirname(os.path.abspath(target))
    try:
        exec(compile(source, target, "exec"), vars(main))
    except SystemExit as exc:  # sys.exit(main()): the report still follows
        return vars(main), _exit_status(exc)
    except BaseException:
        traceback.print_exc()
        return vars(main), 1
    return vars(main), 0


def _exit_status(exc: SystemExit) -> int:
    """What the interpreter would exit with for this SystemExit."""
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code
    print(exc.code, file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
