"""What every benchmark here shares: timing side by side, fresh processes,
one table format, and results saved as JSON outside the tracked tree.

Figures are medians of interleaved repeats, so that the machine's drift
affects both sides of a comparison alike; a benchmark never asserts a time,
it prints a row with its target and says whether the row met it.  Each run
writes ``<name>.json`` to ``$SMART_JIT_BENCH_DIR`` (default ``.bench/`` at the
repository's top, which git ignores): the rows, the raw figures, and the
machine they were measured on.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import timeit
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPEATS = int(os.environ.get("SMART_JIT_BENCH_REPEATS", "7"))
TOP = Path(__file__).resolve().parent.parent


def paired(a: Callable[[], Any], b: Callable[[], Any], number: int) -> tuple[float, float]:
    """Median seconds per call of *a* and of *b*, their repeats interleaved."""
    ta, tb = [], []
    for _ in range(REPEATS):
        ta.append(timeit.timeit(a, number=number) / number)
        tb.append(timeit.timeit(b, number=number) / number)
    return statistics.median(ta), statistics.median(tb)


def median_time(call: Callable[[], Any], repeats: int = REPEATS) -> float:
    """Median seconds of one call of *call* over *repeats* calls."""
    times = []
    for _ in range(repeats):
        start = timeit.default_timer()
        call()
        times.append(timeit.default_timer() - start)
    return statistics.median(times)


def in_fresh_process(code: str, *args: str, env: Mapping[str, str] | None = None) -> Any:
    """Run *code* with ``python -c`` in a new interpreter; the JSON on the
    last line it prints."""
    out = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        check=True,
        env=dict(os.environ, **(env or {})),
    )
    return json.loads(out.stdout.splitlines()[-1])


def interleaved(
    runs: Mapping[str, Callable[[], Any]], rounds: int = REPEATS
) -> dict[str, list[Any]]:
    """What each of *runs* returned in each of *rounds* rounds, every round
    running each once, in order."""
    results: dict[str, list[Any]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            results[name].append(run())
    return results


def medians(results: Iterable[Mapping[str, float]]) -> dict[str, float]:
    """Per key, the median of the figures in *results*."""
    results = list(results)
    return {key: statistics.median(r[key] for r in results) for key in results[0]}


@dataclass
class Row:
    """One line of a table: a figure, its cells as shown, and whether it met
    its target (None: a row with no target)."""

    figure: str
    cells: list[str]
    ok: bool | None = None
    values: dict[str, float] = field(default_factory=dict)  # the raw figures, for the JSON


class Table:
    """Rows under one header, printed as Markdown with a mark per row."""

    def __init__(self, header: list[str]) -> None:
        self.header = header
        self.rows: list[Row] = []

    def add(self, figure: str, *cells: str, ok: bool | None = None, **values: float) -> Row:
        row = Row(figure, list(cells), ok, values)
        self.rows.append(row)
        return row

    def extra(
        self, figure: str, ours: float, base: float, base_name: str, limit_us: float, note: str = ""
    ) -> Row:
        """A row for a cost over a baseline, in microseconds, at most *limit_us*."""
        extra = (ours - base) * 1e6
        shown = (
            f"{ours * 1e6:.2f} us",
            f"{base_name} {base * 1e6:.2f} us{note}",
            f"+{extra:.2f} us",
        )
        return self.add(
            figure, *shown, f"<= +{limit_us:.3g} us", ok=extra <= limit_us, ours=ours, base=base
        )

    def ratio(self, figure: str, ours: float, base: float, base_name: str, limit: float) -> Row:
        """A row for a ratio to a baseline, at most *limit*."""
        ratio = ours / base
        shown = (f"{ours * 1e9:.0f} ns", f"{base_name} {base * 1e9:.0f} ns", f"{ratio:.3f}x")
        return self.add(figure, *shown, f"<= {limit:g}x", ok=ratio <= limit, ours=ours, base=base)

    def print(self) -> None:
        cells = [[row.figure, *row.cells] for row in self.rows]
        widths = [max(len(c) for c in column) for column in zip(self.header, *cells, strict=False)]

        def line(values: list[str]) -> str:
            return (
                "| " + " | ".join(v.ljust(w) for v, w in zip(values, widths, strict=False)) + " |"
            )

        print(line(self.header))
        print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
        for row, values in zip(self.rows, cells, strict=True):
            mark = "" if row.ok is None else (" ok" if row.ok else " MISSED")
            print(line(values) + mark)

    def missed(self) -> list[str]:
        return [row.figure for row in self.rows if row.ok is False]


def machine() -> dict[str, Any]:
    """Where and when the figures were measured."""
    import numba

    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=TOP,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = None
    return {
        "when": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "commit": commit,
        "python": platform.python_version(),
        "numba": numba.__version__,
        "cores": os.cpu_count(),
        "load_average": os.getloadavg(),
        "repeats": REPEATS,
    }


def describe_machine() -> str:
    m = machine()
    load = ", ".join(f"{x:.2f}" for x in m["load_average"])
    return (
        f"numba {m['numba']}, Python {m['python']}, {m['cores']} cores, "
        f"load average {load}; medians of {m['repeats']} repeats"
    )


def save(name: str, tables: Mapping[str, Table] | None = None, **data: Any) -> Path:
    """Write the results of the benchmark *name* as JSON; returns the path."""
    folder = Path(os.environ.get("SMART_JIT_BENCH_DIR", TOP / ".bench"))
    folder.mkdir(parents=True, exist_ok=True)
    document = {
        "benchmark": name,
        "machine": machine(),
        "tables": {
            title: {"header": t.header, "rows": [asdict(r) for r in t.rows]}
            for title, t in (tables or {}).items()
        },
        **data,
    }
    path = folder / f"{name}.json"
    path.write_text(json.dumps(document, indent=1, default=str) + "\n")
    print(f"\nresults: {path}")
    return path


def verdict(missed: list[str]) -> int:
    """The exit status of a benchmark: 1 if a row missed its target."""
    if missed:
        print(f"\nmissed: {', '.join(missed)}")
        return 1
    return 0
