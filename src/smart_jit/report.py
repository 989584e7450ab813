"""Why calls were interpreted, as a table: ``report(func)``."""

from __future__ import annotations

from typing import Any


def report(func: Any) -> str:
    """A table of ``func.fallbacks()``: per argument types and reason, the calls
    that ran in the interpreter, most frequent first; then what the policy
    learned, if it reports (``policies.adaptive``)."""
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
