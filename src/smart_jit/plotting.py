"""``Report.plot()``: a report drawn with matplotlib (the ``plot`` extra).

Imported only when a report is drawn: ``import smart_jit`` never imports
matplotlib.  Figures are made through ``pyplot``, so that ``plt.show()``
shows them in a script and Jupyter shows them inline.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import log

if TYPE_CHECKING:
    from .report import Report

PANELS = 6  # signatures under a learning policy drawn, the most called first
FUNCTIONS = 20  # functions drawn in the program's picture, the costliest first
WIDTH, PANEL_HEIGHT = 7.5, 2.6  # inches


def draw(report: Report, func: Any, ax: Any = None) -> Any:
    """The figure of *report*: of *func*'s, or (*func* None) the program's."""
    try:
        from matplotlib import pyplot
    except ImportError as exc:
        raise ImportError(
            "Report.plot() needs matplotlib, which is not installed: "
            "pip install 'numba-smartjit[plot]' (or matplotlib itself)"
        ) from exc
    if func is None:
        if ax is None:
            ax = pyplot.figure(figsize=(WIDTH, PANEL_HEIGHT * 1.6)).subplots()
        program_seconds(ax, report)
        return ax.figure
    learned = sorted(
        (a for a in func.accounts() if hasattr(a, "trace")), key=lambda a: -a.interpreted_calls
    )[:PANELS]
    if ax is None:
        panels = len(learned) + 1
        figure = pyplot.figure(figsize=(WIDTH, PANEL_HEIGHT * panels), layout="constrained")
        axes = figure.subplots(panels, 1, squeeze=False)[:, 0]
        for account, each in zip(learned, axes, strict=False):
            break_even(each, func, account)
        ax = axes[-1]
    calls_by_action(ax, report)
    return ax.figure


def break_even(ax: Any, func: Any, account: Any) -> None:
    """One signature under ``adaptive()``: cumulative interpreted seconds over
    its calls, the compile estimate, and the call that switched."""
    trace = account.trace
    calls = [0, *trace.calls]
    seconds = [0.0, *trace.seconds]
    if account.interpreted_calls > calls[-1]:
        calls.append(account.interpreted_calls)
        seconds.append(account.interpreted)
    what = "interpreted seconds, cumulative" + ("" if account.timed else " (predicted)")
    ax.plot(calls, seconds, label=what, color="C0")
    switch = account.switched
    estimate = switch.estimate if switch is not None else account.estimate()
    ax.axhline(estimate.seconds, color="C1", linestyle="--", label="compile estimate")
    factor = switch.factor if switch is not None else account.factor
    if factor != 1.0:  # earlier runs predicted this run's calls
        ax.axhline(estimate.seconds * factor, color="C4", linestyle=(0, (1, 3)),
                   label=f"switch point: {factor:.2g} x estimate (earlier runs)")  # fmt: skip
    done = [c for c in account.compiles() if not c.failed]
    if done:  # what the estimate was for
        ax.axhline(done[-1].seconds, color="C3", linestyle="-.", label="the compile took")
    if switch is not None:
        ax.axvline(switch.call, color="C2", linestyle=":", label=f"switched at call {switch.call}")
        ax.plot(
            [switch.call], [switch.interpreted + switch.predicted], "o", color="C2",
            label="interpreted + that call's prediction",
        )  # fmt: skip
    ax.set_title(f"{log.name_of(func)}{log.signature_of(account.argtypes)}: adaptive()")
    ax.set_xlabel("calls of these types")
    ax.set_ylabel("seconds")
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper left", fontsize="small")


def calls_by_action(ax: Any, report: Report) -> None:
    """Interpreted calls per signature, stacked by reason; compiled
    signatures marked (their calls are not counted)."""
    from matplotlib.ticker import MaxNLocator

    labels: list[str] = []
    for row in report.rows:
        label = log.signature_of(row.signature)
        if label not in labels:
            labels.append(label)
    reasons = list(dict.fromkeys(r.reason for r in report.rows if r.action == "INTERPRETER"))
    left = [0] * len(labels)
    for i, reason in enumerate(reasons):
        widths = [0] * len(labels)
        for row in report.rows:
            if row.action == "INTERPRETER" and row.reason == reason:
                widths[labels.index(log.signature_of(row.signature))] += row.calls or 0
        ax.barh(labels, widths, left=left, height=0.6, color=f"C{i % 10}", label=reason)
        left = [a + b for a, b in zip(left, widths, strict=True)]
    compiled = {log.signature_of(r.signature) for r in report.rows if r.action == "JIT"}
    for y, label in enumerate(labels):
        if label in compiled:
            ax.annotate(
                "JIT", (left[y], y), xytext=(4, 0), textcoords="offset points",
                va="center", fontweight="bold",
            )  # fmt: skip
    ax.set_title(f"{report.title.partition(':')[0]}: calls per argument types")
    ax.set_ylabel("argument types")
    ax.set_xlabel("interpreted calls (JIT: compiled; its calls are not counted)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlim(0, max(left, default=0) * 1.12 or 1)  # room for the "JIT" marks
    ax.invert_yaxis()
    if not reasons:
        return
    legend = {"title": "interpreted because", "fontsize": "small", "title_fontsize": "small"}
    if ax.figure.get_layout_engine() is not None and ax is ax.figure.axes[-1]:
        # Ours: below the figure, where long reasons fit.
        ax.figure.legend(*ax.get_legend_handles_labels(), loc="outside lower left", **legend)
    else:
        ax.legend(loc="best", **legend)


def program_seconds(ax: Any, report: Report) -> None:
    """Compile and interpreted seconds per function, the costliest first."""
    compile_s: dict[str, float] = {}
    interp_s: dict[str, float] = {}
    for row in report.rows:
        into = compile_s if row.action == "JIT" else interp_s
        into[row.function] = into.get(row.function, 0.0) + (row.seconds or 0.0)
    names = sorted(
        set(compile_s) | set(interp_s),
        key=lambda n: -(compile_s.get(n, 0.0) + interp_s.get(n, 0.0)),
    )[:FUNCTIONS]
    compiling = [compile_s.get(n, 0.0) for n in names]
    ax.barh(names, compiling, color="C1", label="compiling")
    ax.barh(names, [interp_s.get(n, 0.0) for n in names], left=compiling, color="C0",
            label="interpreted (timed)")  # fmt: skip
    ax.set_title(report.title)
    ax.set_xlabel("seconds")
    ax.invert_yaxis()
    ax.legend(loc="lower right", fontsize="small")
