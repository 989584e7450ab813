"""What smart_jit decided, as standard ``logging`` records.

The library logs as Python's logging HOWTO says a library should: to loggers
under ``smart_jit``, with a ``NullHandler`` and nothing else configured, so
nothing is printed until the program (or ``SMART_JIT_LOG``, or ``python -m
smart_jit run --log-level``) asks for it.  Three children, one per kind of
record:

- ``smart_jit.decisions`` (DEBUG): the first decision per function, argument
  types and reason: the action and why.
- ``smart_jit.compiles`` (INFO): each compile of a smart-jitted function,
  with its seconds and where it ran; (WARNING) a failed compile whose calls
  the interpreter serves.
- ``smart_jit.adaptive`` (INFO): each switch of ``policies.adaptive()`` to
  compiling, with its numbers.

Every record carries its facts as attributes (``extra``): ``function``,
``signature``, ``action``, ``reason``, ``seconds``, ``where`` and, for a
switch, ``call``, ``interpreted``, ``predicted``, ``estimate`` and ``basis``,
so that a JSON handler can keep them as fields.

A matched call never reaches this module (it never leaves Numba's C
dispatcher), and an interpreted call only on the first call per signature
and reason, the branch that already counts it.  Compiles are seen through
Numba's ``numba:compile`` event.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from typing import Any

from numba.core import event

from . import compile_costs

logger = logging.getLogger("smart_jit")
logger.addHandler(logging.NullHandler())
decisions = logging.getLogger("smart_jit.decisions")
compiles = logging.getLogger("smart_jit.compiles")
switches = logging.getLogger("smart_jit.adaptive")

#: The name of the thread that runs background compiles (``background``).
BACKGROUND_THREAD = "smart_jit-background-compiler"
FOREGROUND, THREAD, COMPILE_PROCESS = "foreground", "thread", "compile process"
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
ENVIRONMENT = "SMART_JIT_LOG"
_FORMAT = "%(name)s %(levelname)s: %(message)s"


def name_of(func: Any) -> str:
    """``module.qualname`` of a smart-jitted function (just the qualified
    name in ``__main__``): how reports and records name it."""
    py_func = getattr(func, "py_func", func)
    qualname = getattr(py_func, "__qualname__", repr(func))
    module = getattr(py_func, "__module__", None)
    return f"{module}.{qualname}" if module and module != "__main__" else qualname


def signature_of(argtypes: Any) -> str:
    """``(int64, float64)``: argument types as records and warnings show them."""
    return "(" + ", ".join(map(str, argtypes or ())) + ")"


def decided(func: Any, argtypes: Any, action: str, reason: str) -> None:
    """DEBUG: calls of *func* with *argtypes* get *action* (an ``Action``
    name), because *reason*.  Callers call it once per signature and reason."""
    if decisions.isEnabledFor(logging.DEBUG):
        name, signature = name_of(func), signature_of(argtypes)
        decisions.debug(
            "%s%s: %s: %s",
            name, signature, action, reason,
            extra=_fields(name, signature, action=action, reason=reason),
        )  # fmt: skip


def interpreted_after_failure(func: Any, argtypes: Any, reason: str) -> None:
    """WARNING: compiling *func* for *argtypes* failed and its calls run in
    the interpreter (``on_compile_error=Action.INTERPRETER``, or a background
    compile); *reason* is ``compile failed: ...``."""
    if compiles.isEnabledFor(logging.WARNING):
        name, signature = name_of(func), signature_of(argtypes)
        compiles.warning(
            "%s%s runs in the interpreter: %s",
            name, signature, reason,
            extra=_fields(name, signature, action="INTERPRETER", reason=reason),
        )  # fmt: skip


def switched(func: Any, argtypes: Any, switch: Any) -> None:
    """INFO: ``adaptive()`` switched *func*'s calls of *argtypes* to
    compiling; *switch* is its ``adaptive.Switch``."""
    if switches.isEnabledFor(logging.INFO):
        name, signature = name_of(func), signature_of(argtypes)
        estimate = switch.estimate
        factor = "" if switch.factor == 1.0 else f" x {switch.factor:.2g}, earlier runs' prediction"
        switches.info(
            "%s%s switched to JIT at call %d: %.3g s interpreted + %.3g s predicted "
            "for the call >= %.3g s compile estimate (%s%s)",
            name, signature, switch.call, switch.interpreted, switch.predicted,
            estimate.seconds * switch.factor, estimate.basis, factor,
            extra=_fields(
                name, signature, action="JIT", reason="adaptive() break-even",
                seconds=switch.interpreted, call=switch.call,
                interpreted=switch.interpreted, predicted=switch.predicted,
                estimate=estimate.seconds, basis=estimate.basis, factor=switch.factor,
            ),
        )  # fmt: skip


def _fields(name: str, signature: str, **more: Any) -> dict[str, Any]:
    fields = {"function": name, "signature": signature, "action": None, "reason": None}
    fields.update(seconds=None, where=None)
    fields.update(more)
    return fields


# -- compiles ------------------------------------------------------------------

_open = threading.local()  # per thread: (start, dispatcher) of each compile under way


class _CompileLog(event.Listener):  # type: ignore[misc]
    """Logs each compile of a smart-jitted function when it ends (a nested
    one too: a callee typed inside its caller's compile)."""

    def on_start(self, ev: Any) -> None:
        stack = getattr(_open, "stack", None)
        if stack is None:
            stack = _open.stack = []
        stack.append(time.perf_counter())

    def on_end(self, ev: Any) -> None:
        stack = getattr(_open, "stack", None)
        if not stack:  # it started before this listener was installed
            return
        seconds = time.perf_counter() - stack.pop()
        if compiles.isEnabledFor(logging.INFO):
            try:
                _log_compile(ev, seconds, inside=bool(stack))
            except Exception:  # the record must never break the user's compile
                pass


def _log_compile(ev: Any, seconds: float, inside: bool) -> None:
    data = ev.data or {}
    dispatcher = data.get("dispatcher")
    if not callable(getattr(dispatcher, "fallbacks", None)):
        return  # Numba's own dispatcher: not ours to report
    if data.get("compile_process"):
        where = COMPILE_PROCESS
    elif threading.current_thread().name == BACKGROUND_THREAD:
        where = THREAD
    else:
        where = FOREGROUND
    failed = compile_costs.failed(ev)
    name, signature = name_of(dispatcher), signature_of(data.get("args"))
    within = ", inside another compile" if inside else ""
    what = (
        "compiling %s%s failed after %.3f s (%s%s)" if failed else "compiled %s%s in %.3f s (%s%s)"
    )
    compiles.info(
        what, name, signature, seconds, where, within,
        extra=_fields(
            name, signature, action="JIT", reason="compile failed" if failed else None,
            seconds=seconds, where=where, nested=inside, failed=failed,
        ),
    )  # fmt: skip


# -- turning it on for a whole program ------------------------------------------


class _Handler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler ``configure`` adds; there is at most one."""


def configure(level: str) -> None:
    """Print smart_jit's records of *level* and above on stderr: what
    ``SMART_JIT_LOG`` and ``run --log-level`` do.  A program that configures
    logging itself does not need it."""
    name = level.strip().upper()
    if name not in LEVELS:
        raise ValueError(f"unknown log level {level!r}: the levels are {', '.join(LEVELS)}")
    if not any(isinstance(h, _Handler) for h in logger.handlers):
        handler = _Handler(sys.stderr)
        handler.setFormatter(logging.Formatter(_FORMAT))
        logger.addHandler(handler)
    logger.setLevel(name)


def from_environment() -> None:
    """``SMART_JIT_LOG``, read once when the package is imported."""
    level = os.environ.get(ENVIRONMENT, "").strip()
    if level:
        try:
            configure(level)
        except ValueError as exc:
            raise ValueError(f"{ENVIRONMENT}: {exc}") from None


event.register("numba:compile", _CompileLog())
