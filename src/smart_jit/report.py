"""Why calls were interpreted, as a table: ``report(func)`` for one function,
``report()`` for every smart-jitted function of the program."""

from __future__ import annotations

from typing import Any

from . import compile_costs, stances, table

SHOWN = 40  # rows of the program-wide report; the rest are counted in one line


def report(func: Any = None) -> str:
    """Why calls ran in the interpreter, as a table.

    Parameters
    ----------
    func : SmartDispatcher, optional
        A smart-jitted function.  Without it, the program-wide report.

    Returns
    -------
    str
        For *func*: ``func.fallbacks()`` per argument types and reason, the
        calls that ran in the interpreter, most frequent first; then what
        its policy learned, if it reports (``policies.adaptive``).  Without
        *func*: one row per smart-jitted function of the program (compile
        seconds and count, compiled signatures, interpreted calls and
        seconds, why it is never interpreted), sorted by time, the first
        40, then totals.
    """
    if func is None:
        return program_report()
    name = getattr(getattr(func, "py_func", func), "__qualname__", repr(func))
    policy_report = getattr(getattr(func, "use_jit", None), "report", None)
    learned = f"\n{policy_report()}" if callable(policy_report) else ""
    records = sorted(func.fallbacks(), key=lambda r: -r.calls)
    if not records:
        return f"{name}: every call ran compiled{learned}"
    rows = [("calls", "argument types", "why interpreted")]
    rows += [(str(r.calls), ", ".join(map(str, r.signature)), r.reason) for r in records]
    widths = [max(len(row[i]) for row in rows) for i in range(2)]
    lines = [f"{name}: calls that ran in the interpreter"]
    for calls, argtypes, reason in rows:
        lines.append(f"  {calls.rjust(widths[0])}  {argtypes.ljust(widths[1])}  {reason}")
    return "\n".join(lines) + learned


class _Row:
    __slots__ = ("name", "compiles", "compile_s", "signatures", "calls", "interp_s", "why")

    def __init__(self, func: Any) -> None:
        self.name = _name(func)
        compiles = compile_costs.compiles_of(func)
        self.compiles = len(compiles)
        self.compile_s = sum(c.seconds for c in compiles)
        self.signatures = len(func.signatures)
        fallbacks = func.fallbacks()
        self.calls = sum(f.calls for f in fallbacks)
        self.interp_s = func.interpreted_seconds()
        reasons = sorted({f.reason for f in fallbacks}, key=len)
        never = func.why_compiled()
        self.why = "; ".join(reasons) or (f"never interpreted: {never}" if never else "")

    def cost(self) -> float:
        return self.compile_s + (self.interp_s or 0.0)


def program_report() -> str:
    """Every live smart-jitted function: compiles and their seconds, compiled
    signatures, interpreted calls and their seconds (timed under a learning
    policy), and why; sorted by time, the first ``SHOWN`` of them, then
    totals.  Calls that ran compiled are not counted: they never leave
    Numba's C dispatcher."""
    rows = sorted((_Row(f) for f in table.owners()), key=lambda r: (-r.cost(), -r.calls, r.name))
    count = f"{len(rows)} smart-jitted function{'' if len(rows) == 1 else 's'}"
    head = f"smart_jit: {count}, stance {stances.current_name()}"
    if not rows:
        return head
    cells = [("compile s", "compiles", "compiled", "interp calls", "interp s", "function", "why")]
    for r in rows[:SHOWN]:
        interp_s = "-" if r.interp_s is None else f"{r.interp_s:.3f}"
        cells.append(
            (f"{r.compile_s:.3f}", str(r.compiles), str(r.signatures), str(r.calls), interp_s,
             r.name, r.why)
        )  # fmt: skip
    widths = [max(len(c[i]) for c in cells) for i in range(6)]
    lines = [head]
    for c in cells:
        numbers = "  ".join(c[i].rjust(widths[i]) for i in range(5))
        lines.append(f"  {numbers}  {c[5].ljust(widths[5])}  {c[6]}".rstrip())
    if len(rows) > SHOWN:
        lines.append(f"  ... and {len(rows) - SHOWN} more, costing less")
    compile_s = sum(r.compile_s for r in rows)
    timed = [r.interp_s for r in rows if r.interp_s is not None]
    lines.append(
        f"total: {compile_s:.3f} s compiling ({sum(r.compiles for r in rows)} compiles); "
        f"{sum(r.calls for r in rows)} calls interpreted"
        + (f" ({sum(timed):.3f} s timed)" if timed else "")
    )
    return "\n".join(lines)


def _name(func: Any) -> str:
    py_func = getattr(func, "py_func", func)
    qualname = getattr(py_func, "__qualname__", repr(func))
    module = getattr(py_func, "__module__", None)
    return f"{module}.{qualname}" if module and module != "__main__" else qualname
