"""The performance page's tables, made from the benchmarks' JSON results.

Each ``docs/results/<benchmark>.json`` is what a benchmark's ``save`` wrote
(``benchmarks/harness.py``): where and when it ran, and its tables (a header,
then rows of a figure, its cells and whether it met its target).  Nothing is
typed in by hand: a figure on the page is a figure a run measured.
"""

from __future__ import annotations

from typing import Any

TITLES = {
    "dispatch": "Dispatch: what a call costs (`benchmarks/dispatch.py`)",
    "sum_fast": "The seed's workload (`benchmarks/sum_fast.py`)",
    "background": "Background compilation (`benchmarks/background.py`)",
    "pickling": "Compiled code in pickles (`benchmarks/pickling.py`)",
    "compile_costs": "Compile-cost predictions (`benchmarks/compile_costs.py`)",
    "policies": "Policies on eleven workloads (`benchmarks/policies.py`)",
    "downstream_coverage": "Coverage of jitted code (`benchmarks/downstream.py --coverage`)",
}


def title(name: str) -> str:
    if name.startswith("downstream-"):
        library = name.removeprefix("downstream-")
        return f"{library}'s own tests (`benchmarks/downstream.py {library}`)"
    return TITLES.get(name, f"`{name}`")


def machine(m: dict[str, Any]) -> str:
    load = ", ".join(f"{x:.2f}" for x in m.get("load_average", ()))
    return (
        f"Measured {m.get('when', '?')} at commit `{m.get('commit')}`: Numba {m.get('numba')}, "
        f"Python {m.get('python')}, {m.get('cores')} cores, load average {load} at the start, "
        f"medians of {m.get('repeats')} repeats where a figure repeats."
    )


def cell(text: str) -> str:
    return str(text).replace("|", "\\|")


def table(header: list[str], rows: list[dict[str, Any]]) -> list[str]:
    lines = ["| " + " | ".join(map(cell, header)) + " | target met |"]
    lines.append("|" + "---|" * (len(header) + 1))
    for row in rows:
        mark = {None: "", True: "yes", False: "**missed**"}[row.get("ok")]
        lines.append("| " + " | ".join(map(cell, [row["figure"], *row["cells"]])) + f" | {mark} |")
    return lines


def render(results: dict[str, dict[str, Any]]) -> str:
    """Markdown for every result, in a stable order: the named benchmarks
    first, then the libraries' suites."""
    order = [n for n in TITLES if n in results] + sorted(n for n in results if n not in TITLES)
    out: list[str] = []
    if not results:
        return "No benchmark results are stored in `docs/results/`: run `make bench`.\n"
    for name in order:
        document = results[name]
        out += [f"### {title(name)}", "", machine(document.get("machine", {})), ""]
        for caption, content in document.get("tables", {}).items():
            if len(document["tables"]) > 1:
                out += [f"**{caption}**", ""]
            out += table(content["header"], content["rows"]) + [""]
    return "\n".join(out)
