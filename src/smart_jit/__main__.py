"""``python -m smart_jit run [OPTIONS] SCRIPT [ARGS...] | -m MODULE [ARGS...]``
and ``python -m smart_jit report TARGET:FUNCTION [-- ARGS...]``

``run`` makes every ``numba.jit`` smart_jit's (``install``), then runs the
program as ``python SCRIPT ARGS...`` or ``python -m MODULE ARGS...`` would;
``--report`` prints the program-wide report on stderr at exit.  ``report``
runs TARGET, then prints why calls of FUNCTION ran in the interpreter.  A
script path runs exactly as ``python SCRIPT ARGS...`` would run it: as
``__main__``, with ``sys.argv == [SCRIPT, *ARGS]`` and the script's folder first
on ``sys.path``; the report is printed even if the script exits through
``SystemExit``.  A module name is imported instead.

Every mistake in the command line is one line on stderr and exit status 2.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import runpy
import sys
import traceback
import types
from typing import Any

from . import log
from .report import report
from .stances import STANCES

USAGE = f"""\
usage: python -m smart_jit run [--stance NAME] [--log-level LEVEL] [--report] [--eager]
                               SCRIPT.py [ARGS...] | -m MODULE [ARGS...]
       python -m smart_jit report SCRIPT.py:FUNCTION [-- ARGS...]
       python -m smart_jit report MODULE:FUNCTION

run: make every numba.jit and numba.njit smart_jit's, then run SCRIPT.py as
`python SCRIPT.py ARGS...` would (or MODULE as `python -m MODULE ARGS...`).
  --stance NAME  one of {", ".join(STANCES)} (default: default)
  --log-level LEVEL
                 print smart_jit's log records of LEVEL and above on stderr
                 ({", ".join(log.LEVELS)}), here and in the processes it starts
  --report       print every smart-jitted function's report on stderr at exit
  --eager        compile explicit signatures at decoration, as Numba does
                 (by default they compile when first needed)

report: run SCRIPT.py as `python SCRIPT.py ARGS...` would (or import MODULE),
then print why calls of the smart-jitted FUNCTION ran in the interpreter."""


class UsageError(Exception):
    """A mistake in the command line: reported in one line, exit status 2."""


def main(argv: list[str]) -> int:
    if argv[:1] == ["run"]:
        try:
            return _run_program(argv[1:])
        except UsageError as exc:
            print(f"python -m smart_jit: error: {exc}", file=sys.stderr)
            return 2
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
        raise UsageError("the commands are `run` and `report` (see --help)")
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


def _run_program(argv: list[str]) -> int:
    """``run``: our options up to the program; install; run it."""
    stance, wants_report, lazy = None, False, True
    while argv and argv[0].startswith("-") and argv[0] != "-m":
        option = argv.pop(0)
        if option in ("-h", "--help"):
            print(USAGE)
            return 0
        if option == "--report":
            wants_report = True
        elif option == "--eager":
            lazy = False
        elif option == "--stance" or option.startswith("--stance="):
            stance = _value(option, argv)
            if stance not in STANCES:
                raise UsageError(f"unknown stance {stance!r}: the stances are {', '.join(STANCES)}")
        elif option == "--log-level" or option.startswith("--log-level="):
            level = _value(option, argv)
            try:
                log.configure(level)
            except ValueError as exc:
                raise UsageError(f"--log-level: {exc}") from None
            os.environ[log.ENVIRONMENT] = level  # the program's own Python processes too
        else:
            raise UsageError(f"run: unknown option {option!r} (see --help)")
    if not argv or argv == ["-m"]:
        raise UsageError("run needs a SCRIPT.py or -m MODULE to run")
    from .install import install

    install(stance, lazy=lazy)
    try:
        if argv[0] == "-m":
            status = _run_module(argv[1], argv[2:])
        else:
            status = _run(argv[0], argv[1:])[1]
    finally:
        if wants_report:
            sys.stdout.flush()
            print(report(), file=sys.stderr)
    return status


def _value(option: str, argv: list[str]) -> str:
    """The value of ``--option=VALUE`` or ``--option VALUE``."""
    return option.partition("=")[2] if "=" in option else (argv.pop(0) if argv else "")


def _run_module(name: str, args: list[str]) -> int:
    """Run module *name* as ``python -m NAME ARGS...`` would."""
    sys.argv = [name, *args]
    sys.path[0] = os.getcwd()
    try:
        found = importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise UsageError(f"no module named {name!r}")
    try:
        runpy.run_module(name, run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        return _exit_status(exc)
    except BaseException:
        traceback.print_exc()
        return 1
    return 0


def console_main() -> int:
    """The ``smart-jit`` command."""
    return main(sys.argv[1:])


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
