"""What smart_jit decided, as a ``Report``: ``report(func)`` for one
function, ``report()`` for every smart-jitted function of the program.

A report is text (``str``), typed rows (``.rows``), JSON-ready data
(``to_dict()``), a table in Jupyter (``_repr_html_``) and a picture
(``plot()``, with matplotlib).  It is a snapshot, taken when ``report`` is
called; the HTML and the picture are made only when asked for.
"""

from __future__ import annotations

import html
from typing import Any, NamedTuple

from numba.core import types

from . import compile_costs, log, stances, table
from .interpreted import REASON_POLICY

SHOWN = 40  # rows of the program-wide report's text; the rest are counted in one line
COMPILED = "compiled: its calls run in Numba's C dispatcher, uncounted"
# The reasons under which a learning policy's account times interpreted calls.
_TIMED = frozenset({REASON_POLICY, stances.REASON_ADAPTIVE})


class Row(NamedTuple):
    """One function's calls of one argument-type signature, by action."""

    #: ``module.qualname`` of the function (its qualified name in ``__main__``).
    function: str
    #: The argument types, as the policy sees the values.
    signature: tuple[types.Type, ...]
    #: ``"INTERPRETER"``: these calls ran in the interpreter; ``"JIT"``: a
    #: compiled overload serves these types.
    action: str
    #: Interpreted calls; None for ``"JIT"`` (compiled calls are not counted).
    calls: int | None
    #: ``"INTERPRETER"``: seconds timed by a learning policy (None if it did
    #: not time them); ``"JIT"``: seconds its compiles took in this process
    #: (None if none ran here: loaded from disk, or travelled in a pickle).
    seconds: float | None
    #: Why, as ``fallbacks()`` says it; for ``"JIT"``, ``COMPILED``.
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the signature as a list of type names."""
        return {**self._asdict(), "signature": [str(t) for t in self.signature]}


class Report:
    """What ``report`` returns.

    ``str(r)`` (and ``print(r)``) is the text table; ``r.rows`` the typed
    rows; ``r.to_dict()`` both, JSON-ready; in Jupyter or IPython it shows as
    an HTML table or as the text.  ``r.plot()`` draws it (matplotlib).
    """

    __slots__ = ("title", "rows", "_text", "_func")

    def __init__(self, title: str, text: str, rows: list[Row], func: Any = None) -> None:
        #: The text's first line, which names the function (or counts the program's).
        self.title = title
        #: One ``Row`` per function, signature and reason (see ``Row``).
        self.rows = rows
        self._text = text
        self._func = func

    def __str__(self) -> str:
        return self._text

    __repr__ = __str__  # at a prompt, the table itself

    def to_dict(self) -> dict[str, Any]:
        """``{"title", "text", "rows"}``, each row a dict (``Row.to_dict``)."""
        return {"title": self.title, "text": self._text, "rows": [r.to_dict() for r in self.rows]}

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self._text)

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{name}</th>" for name in Row._fields)
        body = "".join(
            "<tr>" + "".join(f"<td{_ALIGN.get(name, '')}>{html.escape(_cell(value))}</td>"
                             for name, value in zip(Row._fields, row, strict=True)) + "</tr>"
            for row in self.rows
        )  # fmt: skip
        return (
            f"<div class='smart-jit-report'>{_STYLE}"
            f"<table><caption>{html.escape(self.title)}</caption>"
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
            f"<details><summary>as text</summary><pre>{html.escape(self._text)}</pre></details>"
            "</div>"
        )

    def plot(self, ax: Any = None) -> Any:
        """Draw this report with matplotlib (the ``plot`` extra).

        For one function: per signature under a learning policy
        (``policies.adaptive()``, the adaptive stance), the cumulative
        interpreted seconds over its calls, the compile estimate and the call
        that switched; then the calls per signature by action.  For the
        program: compile and interpreted seconds per function.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Draw only the calls per signature (the program's seconds per
            function) on it.

        Returns
        -------
        matplotlib.figure.Figure
        """
        from . import plotting  # matplotlib only now

        return plotting.draw(self, self._func, ax)


_ALIGN = {"calls": " class='n'", "seconds": " class='n'"}
_STYLE = (
    "<style>.smart-jit-report table{border-collapse:collapse}"
    ".smart-jit-report caption{text-align:left;font-weight:bold}"
    ".smart-jit-report th{text-align:left;border-bottom:1px solid;padding:2px 8px}"
    ".smart-jit-report td{padding:2px 8px}.smart-jit-report td.n{text-align:right}"
    ".smart-jit-report tbody tr:nth-child(odd){background:rgba(127,127,127,.1)}</style>"
)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, tuple):
        return log.signature_of(value)
    return str(value)


def report(func: Any = None) -> Report:
    """What smart_jit decided, as a report.

    Parameters
    ----------
    func : SmartDispatcher, optional
        A smart-jitted function.  Without it, the program-wide report.

    Returns
    -------
    Report
        ``str()`` of it for *func*: ``func.fallbacks()`` per argument types
        and reason, the calls that ran in the interpreter, most frequent
        first; then what its policy learned, if it reports
        (``policies.adaptive``).  Without *func*: one line per smart-jitted
        function of the program (compile seconds and count, compiled
        signatures, interpreted calls and seconds, why it is never
        interpreted), sorted by time, the first 40, then totals.  Its
        ``rows`` list every function's signatures, interpreted and compiled.
    """
    if func is None:
        return program_report()
    text = _function_text(func)
    return Report(text.partition("\n")[0], text, rows_of(func), func)


def _function_text(func: Any) -> str:
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


def rows_of(func: Any) -> list[Row]:
    """*func*'s rows: interpreted calls per signature and reason, most
    first; then its compiled signatures, the costliest compile first."""
    name = log.name_of(func)
    timed = {a.argtypes: a.interpreted for a in func.accounts() if getattr(a, "timed", False)}
    interpreted = [
        Row(name, f.signature, "INTERPRETER", f.calls,
            timed.get(f.signature) if f.reason in _TIMED else None, f.reason)
        for f in func.fallbacks()
    ]  # fmt: skip
    spent: dict[tuple[Any, ...], float] = {}
    for c in compile_costs.compiles_of(func):
        spent[c.argtypes] = spent.get(c.argtypes, 0.0) + c.seconds
    compiled = [Row(name, sig, "JIT", None, spent.get(sig), COMPILED) for sig in func.signatures]
    interpreted.sort(key=lambda r: -(r.calls or 0))
    compiled.sort(key=lambda r: -(r.seconds or 0.0))
    return interpreted + compiled


class _Line:
    """One function's line of the program-wide report."""

    __slots__ = ("name", "compiles", "compile_s", "signatures", "calls", "interp_s", "why")

    def __init__(self, func: Any) -> None:
        self.name = log.name_of(func)
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


def program_report() -> Report:
    """Every live smart-jitted function: compiles and their seconds, compiled
    signatures, interpreted calls and their seconds (timed under a learning
    policy), and why; sorted by time, the first ``SHOWN`` of them, then
    totals.  Calls that ran compiled are not counted: they never leave
    Numba's C dispatcher."""
    funcs = table.owners()
    lines = sorted((_Line(f) for f in funcs), key=lambda r: (-r.cost(), -r.calls, r.name))
    text = _program_text(lines)
    order = {line.name: i for i, line in enumerate(lines)}
    rows = [row for f in funcs for row in rows_of(f)]
    rows.sort(key=lambda r: order.get(r.function, len(order)))  # stable: each function's order
    return Report(text.partition("\n")[0], text, rows)


def _program_text(rows: list[_Line]) -> str:
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
